//! No card number ever reaches Kura (PCI DSS SAQ A; Japan's card security guideline 6.0,
//! 非保持化).
//!
//! Card payments happen on the provider's page. Any request whose query string or form/JSON
//! body holds a Luhn-valid run of 13–19 digits, alone or inside a longer run of digits and
//! separators (a card typed after a room number; see `kura_domain::card`), is refused before a
//! handler sees it, with a page
//! (or JSON error `card_number_refused`) saying the shop never asks for card numbers there, and
//! the guard hears of it. Nothing of the request is kept, echoed or logged. Provider webhooks
//! (signed, server to server) are exempt.
//!
//! On the HTML checkout form (a long form a person fills in by hand) the request is not thrown
//! away: the field that holds the number is emptied before anything else sees the body, the
//! guard still hears of it, and the page comes back with everything else kept and the emptied
//! field named ([`CardFieldsEmptied`]). A card number in a field name or in the query string is
//! refused as everywhere else. Only handlers listed in [`FORMS_NAMING_THE_FIELD`] get this; any
//! other handler would take an emptied field for a field left blank.
//!
//! An upload (`multipart/form-data` to a back-office route that takes large bodies, see
//! `admin::body_limit_for`) is not held here: its body streams on to the staff guard and the
//! handler, which reads its text fields through [`value_has_card`] and refuses as here. Its
//! file is never stored as sent (images are re-encoded), so nothing in it can be kept.
//!
//! Kura's own tokens (CSRF, checkout attempts, mailed links, provider session ids) are long
//! hex or alphanumeric strings, and about one in a hundred holds a Luhn-valid digit run between
//! two letters. A value that is one such machine token is not a card number anyone typed, so it
//! is not refused: without this, a customer would now and then be turned away at random.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};
use kura_domain::contains_card_number;

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::form::{FormFields, percent_decode};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;

/// Form pages whose handler reads [`CardFieldsEmptied`] and names the emptied fields.
pub const FORMS_NAMING_THE_FIELD: &[&str] = &["/checkout"];

/// The form fields whose values held a card number and were emptied by the guard, in the order
/// they came. Put in the request's extensions for [`FORMS_NAMING_THE_FIELD`] only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardFieldsEmptied(pub Vec<String>);

/// Shortest value taken for a machine token; a card number has at most 19 digits and a person
/// who pastes one with separators or words around it does not make a 24-character run of
/// letters and digits without a space.
const MACHINE_TOKEN_MIN: usize = 24;

/// One unbroken token of ASCII letters, digits, `.`, `_` or `-`, at least
/// [`MACHINE_TOKEN_MIN`] long, with at least one letter.
fn is_machine_token(value: &str) -> bool {
    value.len() >= MACHINE_TOKEN_MIN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && value.bytes().any(|b| b.is_ascii_alphabetic())
}

/// Whether a field's value holds a card number a person could have typed.
pub(crate) fn value_has_card(value: &str) -> bool {
    !is_machine_token(value) && contains_card_number(value)
}

fn query_has_card(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(_, v)| v).or(Some(pair)))
        .any(|v| percent_decode(v.as_bytes()).is_some_and(|text| value_has_card(&text)))
}

fn is_form(content_type: &str) -> bool {
    content_type.starts_with("application/x-www-form-urlencoded")
}

fn body_has_card(content_type: &str, body: &[u8]) -> bool {
    if is_form(content_type) {
        let form = FormFields::parse(body);
        form.values().any(value_has_card) || form.names().any(value_has_card)
    } else if content_type.starts_with("application/json") {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(v) => json_has_card(&v),
            // Not JSON after all: look at it as text.
            Err(_) => std::str::from_utf8(body).is_ok_and(contains_card_number),
        }
    } else {
        std::str::from_utf8(body).is_ok_and(contains_card_number)
    }
}

/// The urlencoded `body` with every value that holds a card number emptied (`name=`), each
/// other pair kept byte for byte, and the names of the emptied fields. `None` when the number
/// cannot be cut out on its own: it sits in a field name, or in a pair whose name cannot be
/// read.
fn empty_card_fields(body: &[u8]) -> Option<(Vec<u8>, Vec<String>)> {
    let mut out = Vec::with_capacity(body.len());
    let mut emptied = Vec::new();
    for (i, pair) in body.split(|b| *b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        let mut it = pair.splitn(2, |b| *b == b'=');
        let raw_name = it.next().unwrap_or_default();
        let name = percent_decode(raw_name);
        if name.as_deref().is_some_and(value_has_card) {
            return None;
        }
        let holds_card = it
            .next()
            .and_then(percent_decode)
            .is_some_and(|v| value_has_card(&v));
        if holds_card {
            emptied.push(name?);
            out.extend_from_slice(raw_name);
            out.push(b'=');
        } else {
            out.extend_from_slice(pair);
        }
    }
    Some((out, emptied))
}

fn json_has_card(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => value_has_card(s),
        serde_json::Value::Number(n) => contains_card_number(&n.to_string()),
        serde_json::Value::Array(a) => a.iter().any(json_has_card),
        serde_json::Value::Object(o) => {
            o.iter().any(|(k, v)| value_has_card(k) || json_has_card(v))
        }
        _ => false,
    }
}

/// The guard hears of every card number, refused or cut out of a form.
fn record(state: &AppState, req_ip: Option<ClientIp>, request_id: Option<RequestId>) {
    let mut event = SecurityEvent::new(SecurityEventKind::CardNumberRefused);
    if let Some(ip) = req_ip {
        event = event.ip(ip.0);
    }
    if let Some(id) = request_id {
        event = event.request(&id.0);
    }
    state.event(event);
}

pub(crate) fn refuse(
    state: &AppState,
    req_ip: Option<ClientIp>,
    request_id: Option<RequestId>,
) -> Response {
    record(state, req_ip, request_id);
    WebError::new(ErrorKind::CardNumberRefused).into_response()
}

pub async fn card_guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/webhooks/") {
        return next.run(req).await;
    }
    let ip = req.extensions().get::<ClientIp>().copied();
    let request_id = req.extensions().get::<RequestId>().cloned();
    if req.uri().query().is_some_and(query_has_card) {
        return refuse(&state, ip, request_id);
    }
    // Every method that may carry a body is inspected, whatever its headers claim.
    if matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    ) {
        return next.run(req).await;
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data")
        && crate::admin::body_limit_for(&state, req.method(), req.uri().path()).is_some()
    {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.body_limit).await {
        Ok(b) => b,
        Err(_) => return WebError::new(ErrorKind::PayloadTooLarge).into_response(),
    };
    if !body_has_card(&content_type, &bytes) {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    let names_the_field = parts.method == axum::http::Method::POST
        && is_form(&content_type)
        && FORMS_NAMING_THE_FIELD.contains(&parts.uri.path());
    let Some((body, emptied)) = names_the_field
        .then(|| empty_card_fields(&bytes))
        .flatten()
        .filter(|(_, emptied)| !emptied.is_empty())
    else {
        return refuse(&state, ip, request_id);
    };
    record(&state, ip, request_id);
    let mut parts = parts;
    parts.headers.insert(
        header::CONTENT_LENGTH,
        header::HeaderValue::from(body.len()),
    );
    parts.extensions.insert(CardFieldsEmptied(emptied));
    next.run(Request::from_parts(parts, Body::from(body))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cards_in_queries_forms_and_json() {
        assert!(query_has_card("q=4242%204242%204242%204242"));
        assert!(!query_has_card("q=rice+cooker&page=2"));
        assert!(body_has_card(
            "application/x-www-form-urlencoded",
            b"address1=4242424242424242"
        ));
        assert!(body_has_card(
            "application/json",
            br#"{"customer":{"phone":"4242-4242-4242-4242"}}"#
        ));
        assert!(body_has_card(
            "application/json",
            br#"{"n":4242424242424242}"#
        ));
        assert!(!body_has_card(
            "application/json",
            br#"{"quantity":2,"sku":"RC-10-WH"}"#
        ));
    }

    #[test]
    fn tokens_holding_a_luhn_run_pass_but_typed_numbers_do_not() {
        // A CSRF token whose hex happens to hold a Luhn-valid 16-digit run between letters.
        let csrf = "1.ab4242424242424242cd0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b";
        assert!(contains_card_number(csrf), "the run is there");
        assert!(!body_has_card(
            "application/x-www-form-urlencoded",
            format!("csrf_token={csrf}&quantity=1").as_bytes()
        ));
        assert!(!query_has_card(
            "session_id=cs_test_4242424242424242abcdef01"
        ));
        assert!(!body_has_card(
            "application/json",
            br#"{"token":"ef4242424242424242ab99887766554433"}"#
        ));
        // What a person pastes is still refused, however it is dressed.
        for typed in [
            "4242424242424242",
            "4242-4242-4242-4242",
            "card 4242424242424242 exp 12/29",
            "カード4242424242424242",
            "4242424242424242abc",
        ] {
            assert!(value_has_card(typed), "{typed}");
        }
        assert!(body_has_card(
            "application/x-www-form-urlencoded",
            b"address2=card+4242424242424242+exp+12%2F29"
        ));
    }

    #[test]
    fn a_card_after_other_digits_in_one_field_is_refused() {
        for body in [
            "address2=1-2-3+4242424242424242",
            "address2=101+4242+4242+4242+4242",
            "address1=%E6%9C%AC%E7%94%BA%EF%BC%91%EF%BC%8D%EF%BC%92%EF%BC%8D%EF%BC%93%E3%80%80%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92%EF%BC%94%EF%BC%92",
        ] {
            assert!(
                body_has_card("application/x-www-form-urlencoded", body.as_bytes()),
                "{body}"
            );
        }
        assert!(body_has_card(
            "application/json",
            r#"{"recipient":{"address2":"コーポ101 4242-4242-4242-4242"}}"#.as_bytes()
        ));
        assert!(query_has_card("q=1-2-3+4242424242424242"));
        // Real addresses and phones, and the ids Kura puts in forms, still pass.
        assert!(!body_has_card(
            "application/x-www-form-urlencoded",
            "address1=%E6%9C%AC%E7%94%BA1-2-3-1203&address2=101&phone=090-1234-5678&ship=1014242424242424242"
                .as_bytes()
        ));
    }

    #[test]
    fn only_the_field_holding_a_card_is_emptied() {
        let body = b"csrf_token=1.ab4242424242424242cd0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b&family_name=%E5%B1%B1%E7%94%B0&address2=101+4242+4242+4242+4242&ship_phone=4242424242424242&payment=cod&flag";
        let (out, emptied) = empty_card_fields(body).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "csrf_token=1.ab4242424242424242cd0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b&family_name=%E5%B1%B1%E7%94%B0&address2=&ship_phone=&payment=cod&flag"
        );
        assert_eq!(
            emptied,
            vec!["address2".to_string(), "ship_phone".to_string()]
        );
        // A card number in a field name cannot be cut out: refused.
        assert!(empty_card_fields(b"4242424242424242=1&a=b").is_none());
        assert!(body_has_card(
            "application/x-www-form-urlencoded",
            b"4242424242424242=1"
        ));
    }

    #[test]
    fn random_tokens_are_never_taken_for_cards() {
        // Each of these hex tokens has about a 1 % chance of holding a Luhn-valid run; before
        // the exemption, a few of 2,000 would have been refused.
        for _ in 0..2000 {
            let token = format!(
                "1.{}",
                hex::encode(kura_seal::random_bytes::<32>().unwrap())
            );
            assert!(!value_has_card(&token), "{token}");
            assert!(!query_has_card(&format!("token={token}")), "{token}");
        }
    }
}
