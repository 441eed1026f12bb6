//! Checkout's rules, written once for every front end (the HTML checkout and the JSON API).
//!
//! Guarantees: a checkout becomes a [`CheckoutInput`] only through [`validate`], which checks
//! every field with the domain's parsers, keeps the delivery date inside the delivery window,
//! and refuses card payment when the shop takes no cards. Every problem is named with the field
//! it belongs to, in the order of the form, so a page can show them all and an API the first.
//! The total a customer confirmed is the total they pay: [`CheckoutInput::totals`] is the one
//! computation of it, and `Orders::place` refuses a checkout whose shown total differs.

use kura_domain::{
    AddressLine, BirthDate, CustomerProfile, Date, DeliverySlot, Email, FieldError, Gender, Kana,
    PaymentMethod, Person, PersonName, Phone, PostalCode, Prefecture, Totals, Yen, delivery_window,
};
use serde::{Deserialize, Serialize};

use crate::carts::CartView;

/// What the customer chose at checkout, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutInput {
    pub buyer: CustomerProfile,
    /// `None`: deliver to the buyer.
    pub recipient: Option<Person>,
    pub delivery_date: Option<Date>,
    pub delivery_slot: Option<DeliverySlot>,
    pub payment: PaymentMethod,
    /// "ja" or "en": the language of mails about this order.
    pub lang: String,
    /// のし and wrapping, when asked for.
    #[serde(default)]
    pub gift: Option<kura_domain::Gift>,
    /// The order note (ご要望), when given.
    #[serde(default)]
    pub note: Option<String>,
    /// The coupon code typed (normalised); whether it applies is decided with the cart and
    /// the buyer (`Orders::quote`).
    #[serde(default)]
    pub coupon: Option<kura_domain::CouponCode>,
}

impl CheckoutInput {
    /// Where the parcel goes: the recipient's prefecture, else the buyer's.
    pub fn destination(&self) -> Prefecture {
        self.recipient
            .as_ref()
            .unwrap_or(&self.buyer.person)
            .prefecture
    }

    /// What `cart` costs with this checkout: goods, shipping to the destination, the payment
    /// method's fee and the tax, at the cart's current prices.
    pub fn totals(&self, cart: &CartView) -> Totals {
        self.totals_with_discount(cart, Yen::ZERO)
    }

    /// As [`Self::totals`], with a coupon's `discount` off the goods (see
    /// [`Totals::compute_with_discount`]).
    pub fn totals_with_discount(&self, cart: &CartView, discount: Yen) -> Totals {
        let priced: Vec<_> = cart.lines.iter().map(|l| l.priced()).collect();
        Totals::compute_with_discount(&priced, self.destination(), self.payment, discount)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutError {
    EmptyCart,
    SoldOut {
        sku: String,
    },
    PriceChanged {
        sku: String,
    },
    /// The total shown to the customer is not the cart's total now (a price, the cart or the
    /// shipping moved meanwhile); `total` is the total now.
    TotalChanged {
        total: Yen,
    },
    Unavailable {
        sku: String,
    },
    DeliveryDateOutOfRange,
    CardUnavailable,
    /// Convenience stores take at most [`kura_domain::KONBINI_MAX`] in one payment.
    KonbiniLimit,
    /// The coupon does not apply (unknown, not yet valid, expired, below its minimum, used
    /// already by this email or account, disabled); nothing was placed.
    Coupon(kura_domain::Refusal),
}

impl CheckoutError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::EmptyCart => "cart_empty",
            Self::SoldOut { .. } => "sold_out",
            Self::PriceChanged { .. } | Self::TotalChanged { .. } => "price_changed",
            Self::Unavailable { .. } => "unknown_sku",
            Self::DeliveryDateOutOfRange => "delivery_date_out_of_range",
            Self::CardUnavailable => "card_payment_unavailable",
            Self::KonbiniLimit => "konbini_limit",
            Self::Coupon(r) => r.code(),
        }
    }
}

/// A field of a person (buyer, recipient, account holder, saved address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonField {
    FamilyName,
    GivenName,
    FamilyNameKana,
    GivenNameKana,
    PostalCode,
    Prefecture,
    Address1,
    Address2,
    Phone,
}

impl PersonField {
    /// Every field, in the order of the forms.
    pub const ALL: [PersonField; 9] = [
        Self::FamilyName,
        Self::GivenName,
        Self::FamilyNameKana,
        Self::GivenNameKana,
        Self::PostalCode,
        Self::Prefecture,
        Self::Address1,
        Self::Address2,
        Self::Phone,
    ];

    /// The field's name in forms and JSON bodies.
    pub fn name(self) -> &'static str {
        match self {
            Self::FamilyName => "family_name",
            Self::GivenName => "given_name",
            Self::FamilyNameKana => "family_name_kana",
            Self::GivenNameKana => "given_name_kana",
            Self::PostalCode => "postal_code",
            Self::Prefecture => "prefecture",
            Self::Address1 => "address1",
            Self::Address2 => "address2",
            Self::Phone => "phone",
        }
    }
}

/// A person's fields as typed (a form's or a JSON body's text), before any rule. An empty
/// `address2` means none.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypedPerson<'a> {
    pub family_name: &'a str,
    pub given_name: &'a str,
    pub family_name_kana: &'a str,
    pub given_name_kana: &'a str,
    pub postal_code: &'a str,
    pub prefecture: &'a str,
    pub address1: &'a str,
    pub address2: &'a str,
    pub phone: &'a str,
    /// Typed on an English page: a reading may be in Latin letters, and an empty one is the
    /// name itself when that is in Latin letters (a name without a Japanese reading).
    pub latin_reading: bool,
}

impl<'a> TypedPerson<'a> {
    /// The fields read by name (`get("family_name")`, ...).
    pub fn read(get: impl Fn(&str) -> &'a str) -> Self {
        Self {
            family_name: get(PersonField::FamilyName.name()),
            given_name: get(PersonField::GivenName.name()),
            family_name_kana: get(PersonField::FamilyNameKana.name()),
            given_name_kana: get(PersonField::GivenNameKana.name()),
            postal_code: get(PersonField::PostalCode.name()),
            prefecture: get(PersonField::Prefecture.name()),
            address1: get(PersonField::Address1.name()),
            address2: get(PersonField::Address2.name()),
            phone: get(PersonField::Phone.name()),
            latin_reading: false,
        }
    }

    /// The same, typed on an English page (see [`Self::latin_reading`]).
    pub fn latin(mut self) -> Self {
        self.latin_reading = true;
        self
    }

    fn reading(&self, typed: &str, name: &str) -> Result<Kana, FieldError> {
        if !self.latin_reading {
            return Kana::parse(typed);
        }
        if typed.trim().is_empty() && !name.trim().is_empty() {
            return Kana::parse_latin_allowed(name).map_err(|_| FieldError::Required);
        }
        Kana::parse_latin_allowed(typed)
    }

    /// The person, or what is wrong with each field, in form order.
    pub fn parse(&self) -> Result<Person, Vec<(PersonField, FieldError)>> {
        let mut errors = Vec::new();
        let mut check = |field: PersonField, r: Result<(), FieldError>| {
            if let Err(e) = r {
                errors.push((field, e));
            }
        };
        let family_name = PersonName::parse(self.family_name);
        let given_name = PersonName::parse(self.given_name);
        let family_name_kana = self.reading(self.family_name_kana, self.family_name);
        let given_name_kana = self.reading(self.given_name_kana, self.given_name);
        let postal_code = PostalCode::parse(self.postal_code);
        let prefecture = Prefecture::parse(self.prefecture);
        let address1 = AddressLine::parse(self.address1);
        let address2 = AddressLine::parse_optional(self.address2);
        let phone = Phone::parse(self.phone);
        check(PersonField::FamilyName, outcome(&family_name));
        check(PersonField::GivenName, outcome(&given_name));
        check(PersonField::FamilyNameKana, outcome(&family_name_kana));
        check(PersonField::GivenNameKana, outcome(&given_name_kana));
        check(PersonField::PostalCode, outcome(&postal_code));
        check(PersonField::Prefecture, outcome(&prefecture));
        check(PersonField::Address1, outcome(&address1));
        check(PersonField::Address2, outcome(&address2));
        check(PersonField::Phone, outcome(&phone));
        match (
            family_name,
            given_name,
            family_name_kana,
            given_name_kana,
            postal_code,
            prefecture,
            address1,
            address2,
            phone,
        ) {
            (
                Ok(family_name),
                Ok(given_name),
                Ok(family_name_kana),
                Ok(given_name_kana),
                Ok(postal_code),
                Ok(prefecture),
                Ok(address1),
                Ok(address2),
                Ok(phone),
            ) if errors.is_empty() => Ok(Person {
                family_name,
                given_name,
                family_name_kana,
                given_name_kana,
                postal_code,
                prefecture,
                address1,
                address2,
                phone,
            }),
            _ => Err(errors),
        }
    }
}

fn outcome<T>(r: &Result<T, FieldError>) -> Result<(), FieldError> {
    r.as_ref().map(|_| ()).map_err(|e| *e)
}

/// An optional birth date as typed (empty: not given), never in the future as of `now`
/// (Unix seconds) in Japan.
pub fn birth_date(typed: &str, now: i64) -> Result<Option<BirthDate>, FieldError> {
    let today = Date::today_in_japan(now);
    let today = (
        u16::try_from(today.year).unwrap_or(9999),
        u8::try_from(today.month).unwrap_or(12),
        u8::try_from(today.day).unwrap_or(31),
    );
    BirthDate::parse_optional(typed, today)
}

/// A checkout as typed, before any rule. Empty text means "not given" for the optional fields
/// (birth date, gender, delivery date and time slot); front ends pass what they received,
/// trimmed or not as their format defines.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypedCheckout<'a> {
    pub buyer: TypedPerson<'a>,
    pub email: &'a str,
    pub birth_date: &'a str,
    pub gender: &'a str,
    /// `None`: deliver to the buyer.
    pub recipient: Option<TypedPerson<'a>>,
    pub delivery_date: &'a str,
    pub delivery_slot: &'a str,
    pub payment: &'a str,
    /// The language of mails about the order ("en"; anything else is Japanese).
    pub lang: &'a str,
    /// のし purpose code (empty: none), the name on it, wrapping ("1"/"on"), the note.
    pub noshi: &'a str,
    pub noshi_name: &'a str,
    pub wrapping: &'a str,
    pub note: &'a str,
    /// The coupon code as typed (empty: none).
    pub coupon: &'a str,
}

/// Which field of a checkout a problem belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutField {
    Buyer(PersonField),
    Email,
    BirthDate,
    Gender,
    Recipient(PersonField),
    DeliveryDate,
    DeliverySlot,
    Payment,
    Noshi,
    NoshiName,
    Note,
    Coupon,
}

/// What is wrong with a field: unreadable (a [`FieldError`]), or readable but refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Invalid(FieldError),
    Refused(CheckoutError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutProblem {
    pub field: CheckoutField,
    pub problem: Problem,
}

/// Validates a typed checkout at `now` (Unix seconds): the input, or every problem in the
/// order of the form (never an empty list). Payment by card is refused unless
/// `card_available`.
pub fn validate(
    typed: &TypedCheckout<'_>,
    now: i64,
    card_available: bool,
) -> Result<CheckoutInput, Vec<CheckoutProblem>> {
    let mut problems = Vec::new();
    let mut invalid = |field: CheckoutField, e: FieldError| {
        problems.push(CheckoutProblem {
            field,
            problem: Problem::Invalid(e),
        });
    };
    let person = typed.buyer.parse().map_err(|errors| {
        for (f, e) in errors {
            invalid(CheckoutField::Buyer(f), e);
        }
    });
    let email = Email::parse(typed.email).map_err(|e| invalid(CheckoutField::Email, e));
    let birth = birth_date(typed.birth_date, now).map_err(|e| invalid(CheckoutField::BirthDate, e));
    let gender =
        Gender::parse_optional(typed.gender).map_err(|e| invalid(CheckoutField::Gender, e));
    let recipient = match &typed.recipient {
        None => Ok(None),
        Some(r) => r.parse().map(Some).map_err(|errors| {
            for (f, e) in errors {
                invalid(CheckoutField::Recipient(f), e);
            }
        }),
    };
    let (first, last) = delivery_window(now);
    let delivery_date = match typed.delivery_date {
        "" => Ok(None),
        s => match Date::parse(s) {
            Some(d) if d >= first && d <= last => Ok(Some(d)),
            Some(_) => Err(Problem::Refused(CheckoutError::DeliveryDateOutOfRange)),
            None => Err(Problem::Invalid(FieldError::InvalidDate)),
        },
    };
    let delivery_slot = match typed.delivery_slot {
        "" => Ok(None),
        s => DeliverySlot::parse(s)
            .map(Some)
            .ok_or(Problem::Invalid(FieldError::UnknownChoice)),
    };
    let payment = match PaymentMethod::parse(typed.payment) {
        Some(PaymentMethod::Card | PaymentMethod::Konbini) if !card_available => {
            Err(Problem::Refused(CheckoutError::CardUnavailable))
        }
        Some(p) => Ok(p),
        None => Err(Problem::Invalid(FieldError::UnknownChoice)),
    };
    let gift = kura_domain::Gift::parse(typed.noshi, typed.noshi_name, typed.wrapping);
    match &gift {
        Err(kura_domain::GiftError::Noshi(e)) => problems.push(CheckoutProblem {
            field: CheckoutField::Noshi,
            problem: Problem::Invalid(*e),
        }),
        Err(kura_domain::GiftError::Name(e)) => problems.push(CheckoutProblem {
            field: CheckoutField::NoshiName,
            problem: Problem::Invalid(*e),
        }),
        Ok(_) => {}
    }
    let note = kura_domain::gift::parse_note(typed.note);
    if let Err(e) = &note {
        problems.push(CheckoutProblem {
            field: CheckoutField::Note,
            problem: Problem::Invalid(*e),
        });
    }
    let (gift, note) = (gift.ok().flatten(), note.ok().flatten());
    // What cannot be a code is no coupon's: refused as unknown, next to the field.
    let coupon = match typed.coupon.trim() {
        "" => Ok(None),
        t => kura_domain::CouponCode::parse(t)
            .map(Some)
            .map_err(|_| Problem::Refused(CheckoutError::Coupon(kura_domain::Refusal::Unknown))),
    };
    for (field, r) in [
        (CheckoutField::DeliveryDate, delivery_date.as_ref().err()),
        (CheckoutField::DeliverySlot, delivery_slot.as_ref().err()),
        (CheckoutField::Payment, payment.as_ref().err()),
        (CheckoutField::Coupon, coupon.as_ref().err()),
    ] {
        if let Some(problem) = r {
            problems.push(CheckoutProblem {
                field,
                problem: problem.clone(),
            });
        }
    }
    match (
        person,
        email,
        birth,
        gender,
        recipient,
        delivery_date,
        delivery_slot,
        payment,
    ) {
        (
            Ok(person),
            Ok(email),
            Ok(birth_date),
            Ok(gender),
            Ok(recipient),
            Ok(delivery_date),
            Ok(delivery_slot),
            Ok(payment),
        ) if problems.is_empty()
            && arrives_in_time(delivery_date, recipient.as_ref().unwrap_or(&person), now) =>
        {
            Ok(CheckoutInput {
                buyer: CustomerProfile {
                    person,
                    email,
                    birth_date,
                    gender,
                },
                recipient,
                delivery_date,
                delivery_slot,
                payment,
                lang: if typed.lang == "en" { "en" } else { "ja" }.to_string(),
                gift,
                note,
                coupon: coupon.ok().flatten(),
            })
        }
        (_, _, _, _, _, Ok(Some(_)), _, _) if problems.is_empty() => {
            // Everything else was fine: the date is too early for the destination.
            Err(vec![CheckoutProblem {
                field: CheckoutField::DeliveryDate,
                problem: Problem::Refused(CheckoutError::DeliveryDateOutOfRange),
            }])
        }
        _ => Err(problems),
    }
}

/// Whether a chosen date can be kept for the destination (Hokkaido and Okinawa need a day
/// more than the earliest date the form offers).
fn arrives_in_time(date: Option<Date>, to: &Person, now: i64) -> bool {
    date.is_none_or(|d| {
        d >= kura_domain::calendar::earliest_delivery_to(Date::today_in_japan(now), to.prefecture)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-02 03:00 in Japan.
    const NOW: i64 = 1_772_388_000;

    fn buyer<'a>() -> TypedPerson<'a> {
        TypedPerson {
            family_name: "鏑木",
            given_name: "瑞穂",
            family_name_kana: "カブラギ",
            given_name_kana: "ミズホ",
            postal_code: "100-0001",
            prefecture: "13",
            address1: "千代田区千代田1-1",
            address2: "",
            phone: "090-1234-5678",
            latin_reading: false,
        }
    }

    fn typed<'a>() -> TypedCheckout<'a> {
        TypedCheckout {
            buyer: buyer(),
            email: "mizuho@example.jp",
            payment: "cod",
            lang: "en",
            ..TypedCheckout::default()
        }
    }

    fn fields(problems: &[CheckoutProblem]) -> Vec<CheckoutField> {
        problems.iter().map(|p| p.field).collect()
    }

    #[test]
    fn a_complete_checkout_becomes_the_input() {
        let input = validate(&typed(), NOW, false).unwrap();
        assert_eq!(input.buyer.email.as_str(), "mizuho@example.jp");
        assert_eq!(input.payment, PaymentMethod::Cod);
        assert_eq!(input.recipient, None);
        assert_eq!(input.delivery_date, None);
        assert_eq!(input.lang, "en");
        assert_eq!(input.destination(), Prefecture::parse("13").unwrap());
        let mut other = typed();
        other.lang = "fr";
        assert_eq!(validate(&other, NOW, false).unwrap().lang, "ja");
    }

    #[test]
    fn every_problem_is_named_in_form_order() {
        let mut t = typed();
        t.buyer.family_name = "";
        t.buyer.phone = "12";
        t.email = "not an address";
        t.recipient = Some(TypedPerson {
            postal_code: "1",
            ..buyer()
        });
        t.delivery_slot = "midnight";
        t.payment = "";
        let problems = validate(&t, NOW, true).unwrap_err();
        assert_eq!(
            fields(&problems),
            [
                CheckoutField::Buyer(PersonField::FamilyName),
                CheckoutField::Buyer(PersonField::Phone),
                CheckoutField::Email,
                CheckoutField::Recipient(PersonField::PostalCode),
                CheckoutField::DeliverySlot,
                CheckoutField::Payment,
            ]
        );
        assert_eq!(
            problems.last().map(|p| &p.problem),
            Some(&Problem::Invalid(FieldError::UnknownChoice))
        );
    }

    #[test]
    fn delivery_dates_outside_the_window_and_cards_without_a_provider_are_refused() {
        let (first, last) = delivery_window(NOW);
        let inside = first.iso();
        let after = last.add_days(1).iso();
        let mut t = typed();
        t.delivery_date = &inside;
        assert_eq!(validate(&t, NOW, false).unwrap().delivery_date, Some(first));
        t.delivery_date = &after;
        t.payment = "card";
        let problems = validate(&t, NOW, false).unwrap_err();
        assert_eq!(
            problems,
            [
                CheckoutProblem {
                    field: CheckoutField::DeliveryDate,
                    problem: Problem::Refused(CheckoutError::DeliveryDateOutOfRange),
                },
                CheckoutProblem {
                    field: CheckoutField::Payment,
                    problem: Problem::Refused(CheckoutError::CardUnavailable),
                },
            ]
        );
        t.delivery_date = "2026-02-30";
        t.payment = "card";
        let problems = validate(&t, NOW, true).unwrap_err();
        assert_eq!(
            problems,
            [CheckoutProblem {
                field: CheckoutField::DeliveryDate,
                problem: Problem::Invalid(FieldError::InvalidDate),
            }]
        );
    }

    #[test]
    fn a_coupon_code_is_normalised_and_one_that_cannot_exist_is_refused_next_to_its_field() {
        let mut t = typed();
        t.coupon = " ｓｐｒｉｎｇ-１０ ";
        let input = validate(&t, NOW, false).unwrap();
        assert_eq!(input.coupon.map(String::from).as_deref(), Some("SPRING-10"));
        t.coupon = "春";
        assert_eq!(
            validate(&t, NOW, false).unwrap_err(),
            [CheckoutProblem {
                field: CheckoutField::Coupon,
                problem: Problem::Refused(CheckoutError::Coupon(kura_domain::Refusal::Unknown)),
            }]
        );
        t.coupon = "";
        assert_eq!(validate(&t, NOW, false).unwrap().coupon, None);
    }

    #[test]
    fn a_birth_date_after_today_in_japan_is_refused() {
        assert_eq!(birth_date("", NOW), Ok(None));
        assert!(birth_date("1990-01-31", NOW).unwrap().is_some());
        assert!(birth_date("2026-03-03", NOW).is_err());
    }
}
