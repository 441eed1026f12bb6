//! What every HTML form shares: the form as typed with a message next to each refused field,
//! the person fields (read and checked with `kura_app::checkout`'s rules, written back for
//! editing), the optional birth date and gender, posted bodies with their secrets kept apart,
//! and the new-password check.
//!
//! Guarantees: what was typed comes back on a refused form (never a password); every message
//! is in the visitor's language; a body that cannot be read, or that holds a field the form
//! does not have, is refused as a whole with a general message.

use std::collections::BTreeMap;

use kura_app::checkout::TypedPerson;
use kura_domain::{BirthDate, CustomerProfile, FieldError, Gender, Person, Prefecture};
use secrecy::SecretString;

use crate::form::FormFields;
use crate::i18n::{Lang, Tr};
use crate::pages::password;

/// A person's fields, as every form names them (a recipient's carry a `ship_` prefix).
pub(crate) const PERSON_FIELDS: [&str; 9] = [
    "family_name",
    "given_name",
    "family_name_kana",
    "given_name_kana",
    "postal_code",
    "prefecture",
    "address1",
    "address2",
    "phone",
];

/// Longest text kept from any one field (longer input is refused by the field's own rule).
pub(crate) const FIELD_CHARS: usize = 300;

/// The form as typed, and what is wrong with it, field by field.
#[derive(Default)]
pub struct FormState {
    pub values: BTreeMap<String, String>,
    pub errors: BTreeMap<String, String>,
    pub general: Option<String>,
    /// Information, not a problem (e.g. the details of an earlier order were filled in).
    pub notice: Option<String>,
}

impl FormState {
    pub fn v(&self, name: &str) -> &str {
        self.values.get(name).map_or("", String::as_str)
    }
    pub fn e(&self, name: &str) -> &str {
        self.errors.get(name).map_or("", String::as_str)
    }
    pub fn has(&self, name: &str) -> bool {
        self.errors.contains_key(name)
    }
    pub fn is(&self, name: &str, value: &str) -> bool {
        self.v(name) == value
    }
}

/// One option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
}

/// A field error in the visitor's language.
pub(crate) fn field_message(tr: Tr, e: FieldError) -> String {
    let key = format!("field_error.{}", e.code());
    let text = tr.t(&key).to_string();
    match e {
        FieldError::TooLong { max } => text.replace("{max}", &max.to_string()),
        _ => text,
    }
}

/// The message for a refused value, naming the character that was refused when there is one
/// to name (an emoji in a name: 「😀」(U+1F600) cannot be used).
pub(crate) fn field_message_typed(tr: Tr, e: FieldError, typed: &str) -> String {
    if e == FieldError::InvalidCharacters
        && let Some(c) = kura_domain::customer::odd_character(typed)
    {
        let shown = if c.is_control() || c.is_whitespace() || is_invisible(c) {
            format!("U+{:04X}", u32::from(c))
        } else if tr.0 == Lang::En {
            format!("“{c}” (U+{:04X})", u32::from(c))
        } else {
            format!("「{c}」(U+{:04X})", u32::from(c))
        };
        return tr
            .t("field_error.invalid_character_named")
            .replace("{char}", &shown);
    }
    field_message(tr, e)
}

fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// The person fields of a form as typed (`prefix` is `""` or `"ship_"`).
pub(crate) fn typed_person<'a>(form: &'a FormState, prefix: &str) -> TypedPerson<'a> {
    TypedPerson::read(|f| form.v(&format!("{prefix}{f}")))
}

/// The person fields of a form (`prefix` is `""` or `"ship_"`), each checked with a message.
pub(crate) fn person_from(
    form: &FormState,
    prefix: &str,
    tr: Tr,
    errors: &mut BTreeMap<String, String>,
) -> Option<Person> {
    match typed_person(form, prefix).parse() {
        Ok(person) => Some(person),
        Err(problems) => {
            for (field, e) in problems {
                let name = format!("{prefix}{}", field.name());
                let message = field_message_typed(tr, e, form.v(&name));
                errors.insert(name, message);
            }
            None
        }
    }
}

/// Birth date and gender: optional, each refused only when something unreadable was sent.
/// `now` is the clock's Unix time (a birth date cannot be later than today in Japan).
pub(crate) fn optional_from(
    form: &FormState,
    tr: Tr,
    now: i64,
    errors: &mut BTreeMap<String, String>,
) -> Option<(Option<BirthDate>, Option<Gender>)> {
    let birth = kura_app::checkout::birth_date(form.v("birth_date"), now)
        .map_err(|e| errors.insert("birth_date".into(), field_message(tr, e)))
        .ok();
    let gender = Gender::parse_optional(form.v("gender"))
        .map_err(|e| errors.insert("gender".into(), field_message(tr, e)))
        .ok();
    Some((birth?, gender?))
}

/// Puts a person's fields into form values under `prefix` ("" for the buyer, "ship_"), to
/// edit them again.
pub(crate) fn put_person(v: &mut BTreeMap<String, String>, prefix: &str, p: &Person) {
    let mut put = |name: &str, value: String| {
        v.insert(format!("{prefix}{name}"), value);
    };
    put("family_name", p.family_name.as_str().to_string());
    put("given_name", p.given_name.as_str().to_string());
    put("family_name_kana", p.family_name_kana.as_str().to_string());
    put("given_name_kana", p.given_name_kana.as_str().to_string());
    put("postal_code", p.postal_code.display());
    put("prefecture", p.prefecture.code().to_string());
    put("address1", p.address1.as_str().to_string());
    put(
        "address2",
        p.address2
            .as_ref()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
    );
    put("phone", p.phone.as_str().to_string());
}

/// The prefectures as select options, in the visitor's language.
pub(crate) fn prefectures(tr: Tr) -> Vec<Choice> {
    let en = tr.0 == Lang::En;
    Prefecture::all()
        .map(|p| Choice {
            value: p.code().to_string(),
            label: if en { p.name_en() } else { p.name_ja() }.to_string(),
        })
        .collect()
}

/// A posted form: text fields kept for showing again, secrets (passwords) kept apart.
pub(crate) struct Posted {
    pub form: FormState,
    fields: FormFields,
}

impl Posted {
    /// Reads the body; an unreadable body or an unknown field sets the general message.
    pub fn read(body: &[u8], text: &[&str], secret: &[&str], tr: Tr) -> Self {
        let fields = FormFields::parse(body);
        let mut form = FormState::default();
        for name in text {
            let value: String = fields.get(name).chars().take(FIELD_CHARS).collect();
            form.values.insert((*name).to_string(), value);
        }
        let known: Vec<&str> = text.iter().chain(secret).copied().collect();
        if fields.malformed || !fields.unknown(&known).is_empty() {
            form.general = Some(tr.t("account.error.unreadable").to_string());
        }
        Self { form, fields }
    }

    pub fn readable(&self) -> bool {
        self.form.general.is_none()
    }

    pub fn secret(&self, name: &str) -> &str {
        self.fields.get(name)
    }
}

/// The values a password must not be made of: the customer's names, kana and email.
pub(crate) fn personal_values(profile: &CustomerProfile) -> Vec<String> {
    let p = &profile.person;
    vec![
        p.family_name.as_str().to_string(),
        p.given_name.as_str().to_string(),
        p.family_name_kana.as_str().to_string(),
        p.given_name_kana.as_str().to_string(),
        profile.email.as_str().to_string(),
    ]
}

/// Checks a new password; on refusal the `password` field carries why.
pub(crate) fn check_new_password(
    posted: &mut Posted,
    tr: Tr,
    personal: &[String],
) -> Option<SecretString> {
    let refs: Vec<&str> = personal.iter().map(String::as_str).collect();
    let pw = posted.secret("password").to_string();
    let confirm = posted.secret("password_confirm").to_string();
    match password::check(&pw, &confirm, &refs) {
        Ok(()) => Some(SecretString::from(pw)),
        Err(password::PasswordProblem::Mismatch) => {
            posted.form.errors.insert(
                "password_confirm".into(),
                password::message(tr, &password::PasswordProblem::Mismatch),
            );
            None
        }
        Err(problem) => {
            posted
                .form
                .errors
                .insert("password".into(), password::message(tr, &problem));
            None
        }
    }
}
