//! Kura's pure model: validated customer fields, prefectures, yen and consumption tax, carts,
//! fees and the order state machine, card-number detection.
//!
//! Every type here is built through a `parse` constructor that normalises input (NFKC, trimmed)
//! and refuses what a real Japanese address form would refuse, naming the reason with a stable
//! snake_case code that the web layer translates. Nothing here does I/O.

pub mod calendar;
pub mod card;
pub mod coupon;
pub mod customer;
pub mod date;
pub mod food;
pub mod gift;
pub mod invoice;
pub mod money;
pub mod order;
pub mod postal;
pub mod prefecture;
pub mod search;

pub use card::contains_card_number;
pub use coupon::{CodeError, Coupon, CouponCode, Discount, Refusal};
pub use customer::{
    AddressLine, BirthDate, CustomerProfile, Email, FieldError, Gender, Kana, Person, PersonName,
    Phone, PostalCode,
};
pub use date::{Date, delivery_window};
pub use food::{Allergen, AllergenStatement};
pub use gift::{Gift, GiftError, NoshiPurpose};
pub use invoice::{Addressee, RegistrationError, RegistrationNumber};
pub use money::{TaxBreakdown, TaxRate, Yen};
pub use order::{
    DeliverySlot, KONBINI_DAYS, KONBINI_MAX, OrderStatus, PaymentMethod, PricedLine, Quantity,
    QuantityError, Totals, cod_fee, shipping_fee,
};
pub use postal::{PostalArea, lookup as postal_lookup};
pub use prefecture::Prefecture;
pub use search::{SEARCH_FORM_VERSION, SynonymLineError, Synonyms, search_form};
