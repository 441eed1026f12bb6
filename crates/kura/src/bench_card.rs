//! `kura bench-card`: how many real addresses and phone numbers the card-number guard refuses.
//!
//! The guard refuses any Luhn-valid run of 13–19 digits, also inside a longer run of digits and
//! separators (a card typed after a room number). The price of that rule is paid by customers
//! whose real address or phone number happens to hold such a run. This command types the
//! synthetic customers' addresses, phone numbers and postal codes in the many ways people type
//! them ([`synth::typed_fields`]) and counts the ones the guard, or the address field's own
//! check, would refuse. The goal is zero. Run with
//! `cargo run --release -p kura -- bench-card` (270,589 customers by default).

use kura_domain::{AddressLine, FieldError, contains_card_number};

use crate::synth;

/// Counts for one kind of field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldCount {
    pub typed: u64,
    pub refused: u64,
    /// A few refused values (synthetic, never a real customer's), to see what went wrong.
    pub examples: Vec<String>,
}

impl FieldCount {
    fn record(&mut self, value: &str, refused: bool) {
        self.typed += 1;
        if refused {
            self.refused += 1;
            if self.examples.len() < 5 {
                self.examples.push(value.to_string());
            }
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CardCheck {
    pub customers: u64,
    pub addresses: FieldCount,
    pub phones: FieldCount,
    pub postal_codes: FieldCount,
    /// Address and phone typed in one field: not a real field, reported apart.
    pub address_and_phone: FieldCount,
}

impl CardCheck {
    pub fn refused(&self) -> u64 {
        self.addresses.refused + self.phones.refused + self.postal_codes.refused
    }
}

/// Types `customers` synthetic customers' fields (seeded, so every run sees the same values)
/// and counts what would be refused as a card number.
pub fn measure(customers: u64) -> anyhow::Result<CardCheck> {
    let mut rng = synth::Rng::new(42);
    let mut check = CardCheck {
        customers,
        ..CardCheck::default()
    };
    for n in 0..customers {
        let profile = synth::profile(&mut rng, n)?;
        let typed = synth::typed_fields(&mut rng, &profile);
        for a in &typed.addresses {
            let refused = contains_card_number(a)
                || matches!(AddressLine::parse(a), Err(FieldError::CardNumber));
            check.addresses.record(a, refused);
        }
        for p in &typed.phones {
            check.phones.record(p, contains_card_number(p));
        }
        for p in &typed.postal_codes {
            check.postal_codes.record(p, contains_card_number(p));
        }
        for p in &typed.address_and_phone {
            check.address_and_phone.record(p, contains_card_number(p));
        }
    }
    Ok(check)
}

pub fn run(customers: u64) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let check = measure(customers)?;
    println!(
        "card-number guard over {} synthetic customers (seed 42), values as people type them:",
        check.customers
    );
    for (name, count) in [
        ("addresses", &check.addresses),
        ("phone numbers", &check.phones),
        ("postal codes", &check.postal_codes),
    ] {
        println!(
            "  {name:<14} {:>10} typed {:>6} refused",
            count.typed, count.refused
        );
        for e in &count.examples {
            println!("      e.g. {e}");
        }
    }
    println!(
        "refused in all: {} ({:.1} s)",
        check.refused(),
        started.elapsed().as_secs_f64()
    );
    let both = &check.address_and_phone;
    println!(
        "not a real field, the hardest case: an address ending in a room number and a phone \
         number typed into one field: {} typed, {} refused",
        both.typed, both.refused
    );
    Ok(())
}
