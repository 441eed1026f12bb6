//! Reading the `Cookie` request header. Values are returned as sent; each caller parses and
//! checks its own cookie (a session token, a language code).

use axum::http::{HeaderMap, header};

/// The value of cookie `name`, from any of the request's `Cookie` headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
