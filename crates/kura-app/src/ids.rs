//! Row ids made by the application, so a value can be sealed against its row before the row
//! is written. Time-ordered (milliseconds in the high bits) to keep B-tree inserts local, with
//! 20 random bits so ids are not guessable in sequence.
//!
//! Ids travel in links and forms (`/checkout?ship=…`, an address's delete button), where the
//! card guard refuses any Luhn-valid run of 13–19 digits. A 19-digit id passes Luhn one time in
//! ten, so such ids are never handed out: the next one up is taken instead.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::SystemTime;

static LAST: AtomicI64 = AtomicI64::new(0);

pub fn new_id() -> i64 {
    let millis = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(0))
        .unwrap_or(0);
    let random = kura_seal::random_bytes::<4>()
        .map(|b| i64::from(u32::from_be_bytes(b) & 0x000f_ffff))
        .unwrap_or(0);
    let candidate = (millis << 20) | random;
    // Strictly increasing within the process even when the clock stalls.
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let mut next = if candidate > prev {
            candidate
        } else {
            prev + 1
        };
        while kura_domain::contains_card_number(&next.to_string()) {
            next += 1;
        }
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(actual) => prev = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_increase_and_are_positive() {
        let a = super::new_id();
        let b = super::new_id();
        assert!(a > 0 && b > a);
    }

    #[test]
    fn no_id_looks_like_a_card_number() {
        let mut last = 0;
        for _ in 0..100_000 {
            let id = super::new_id();
            assert!(id > last);
            last = id;
            assert!(
                !kura_domain::contains_card_number(&id.to_string()),
                "{id} would be refused by the card guard"
            );
        }
    }
}
