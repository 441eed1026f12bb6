//! Kura's pure model: validated customer fields, prefectures, card-number detection.
//!
//! Every type here is built through a `parse` constructor that normalises input (NFKC, trimmed)
//! and refuses what a real Japanese address form would refuse, naming the reason with a stable
//! snake_case code that the web layer translates. Nothing here does I/O.

pub mod card;
pub mod customer;
pub mod prefecture;

pub use card::contains_card_number;
pub use customer::{
    AddressLine, BirthDate, CustomerProfile, Email, FieldError, Gender, Kana, Person, PersonName,
    Phone, PostalCode,
};
pub use prefecture::Prefecture;
