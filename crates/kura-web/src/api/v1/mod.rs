//! Version 1 of the store API: what every handler shares (reading JSON bodies strictly,
//! bearer tokens, query parameters).

pub mod carts;
pub mod checkout;
pub mod error;
pub mod json;
pub mod orders;
pub mod products;

use axum::http::{HeaderMap, header};
use kura_seal::SessionToken;

use crate::AppState;
use crate::form::FormFields;
use crate::i18n::Lang;
use error::ApiError;

/// The bearer token of `Authorization: Bearer <token>`, if well formed.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The cart id of the path, if the bearer token opens that cart. A malformed id, an unknown
/// cart and a wrong token all get the same `unauthorized` answer.
pub async fn opened_cart(
    state: &AppState,
    headers: &HeaderMap,
    cart_id: &str,
) -> Result<i64, ApiError> {
    let Some(token) = bearer(headers).and_then(SessionToken::parse) else {
        return Err(ApiError::unauthorized());
    };
    let Ok(id) = cart_id.parse::<i64>() else {
        return Err(ApiError::unauthorized());
    };
    if state.carts.token_opens(id, &token).await? {
        Ok(id)
    } else {
        Err(ApiError::unauthorized())
    }
}

/// Query parameters, with unknown names refused.
pub struct Query(FormFields);

impl Query {
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Self, ApiError> {
        let fields = FormFields::parse(query.unwrap_or("").as_bytes());
        if fields.malformed {
            return Err(ApiError::bad_request("invalid_parameter"));
        }
        if let Some(name) = fields.unknown(known).first() {
            return Err(ApiError::bad_request("unknown_parameter").field(name));
        }
        Ok(Self(fields))
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.get(name)
    }

    /// `?lang=ja|en` for product names, Japanese by default.
    pub fn lang(&self) -> Result<Lang, ApiError> {
        match self.get("lang") {
            "" => Ok(Lang::Ja),
            l => Lang::parse(l)
                .ok_or_else(|| ApiError::bad_request("invalid_parameter").field("lang")),
        }
    }

    /// A whole number in `1..=max`, or `default` when absent.
    pub fn number(&self, name: &str, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.get(name) {
            "" => Ok(default),
            s => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| ApiError::bad_request("invalid_parameter").field(name)),
        }
    }
}
