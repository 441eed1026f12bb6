//! Cross-site request forgery defence (OWASP CSRF Prevention Cheat Sheet).
//!
//! Every unsafe method (POST, PUT, PATCH, DELETE) from a browser must pass three checks:
//! 1. `Sec-Fetch-Site`, when sent, is `same-origin` or `none` (a user-typed navigation);
//! 2. `Origin`, when sent, is the shop's own origin;
//! 3. a token bound to the session (HMAC of the session secret) arrives in the `csrf_token`
//!    form field or the `x-csrf-token` header. In a `multipart/form-data` body (an upload) the
//!    field must be the first part: it is read from the first few kilobytes, before the file,
//!    and the body goes on to the handler whole, so an upload is checked without being held.
//!
//! The JSON API under `/api/` authenticates with bearer tokens and never reads the session
//! cookie, and `/webhooks/` carry their own signatures; only those, and the browser's CSP
//! reports (which carry no authority), are exempt.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

fn exempt(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/webhooks/") || path == "/csp-report"
}

fn expected_origin(state: &AppState, req: &Request) -> Option<String> {
    if let Some(o) = &state.config.public_origin {
        return Some(o.trim_end_matches('/').to_string());
    }
    let host = req.headers().get(header::HOST)?.to_str().ok()?;
    let scheme = if state.config.tls { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

fn refuse(state: &AppState, req: &Request, kind: SecurityEventKind, error: ErrorKind) -> Response {
    let mut event = SecurityEvent::new(kind);
    if let Some(ip) = req.extensions().get::<ClientIp>() {
        event = event.ip(ip.0);
    }
    if let Some(id) = req.extensions().get::<RequestId>() {
        event = event.request(&id.0);
    }
    state.event(event);
    WebError::new(error).into_response()
}

/// Finds `csrf_token` in an urlencoded form body.
fn form_token(body: &[u8]) -> Option<String> {
    let form = crate::form::FormFields::parse(body);
    let token = form.get("csrf_token");
    (!token.is_empty()).then(|| token.to_string())
}

/// Whether `path` is under the back office's prefix (which checks its own tokens, bound to
/// the staff session).
pub fn in_admin(state: &AppState, path: &str) -> bool {
    let prefix = state.config.admin_path.as_str();
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The checks every unsafe request passes before its token is compared: `Sec-Fetch-Site` and
/// `Origin` must not name another site. Then the token is read from the `x-csrf-token` header
/// or the form's `csrf_token` field; the request comes back whole, with its body.
pub(crate) async fn cross_site_and_token(
    state: &AppState,
    req: Request,
) -> Result<(Request, Option<String>), Response> {
    let fetch_site = req
        .headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok());
    if fetch_site.is_some_and(|s| s != "same-origin" && s != "none") {
        return Err(refuse(
            state,
            &req,
            SecurityEventKind::CrossSiteRejected,
            ErrorKind::CrossSite,
        ));
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .zip(expected_origin(state, &req))
            .is_some_and(|(o, e)| o == e);
        if !ok {
            return Err(refuse(
                state,
                &req,
                SecurityEventKind::CrossSiteRejected,
                ErrorKind::CrossSite,
            ));
        }
    }
    let header_token = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let boundary = multipart_boundary(&content_type);
    let (parts, body) = req.into_parts();
    let (token, body) = match (header_token, boundary) {
        (Some(t), _) => (Some(t), body),
        (None, _) if is_form => match axum::body::to_bytes(body, state.config.body_limit).await {
            Ok(bytes) => (form_token(&bytes), Body::from(bytes)),
            Err(_) => return Err(WebError::new(ErrorKind::PayloadTooLarge).into_response()),
        },
        (None, Some(boundary)) => multipart_token(&boundary, body).await?,
        (None, None) => (None, body),
    };
    Ok((Request::from_parts(parts, body), token))
}

/// How far into a multipart body the `csrf_token` part must have ended.
const MULTIPART_TOKEN_WINDOW: usize = 8 * 1024;

/// The boundary of a `multipart/form-data` content type (RFC 7578, RFC 2046 §5.1.1).
fn multipart_boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (name, value) = p.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("boundary") && (1..=70).contains(&value.len()))
            .then(|| value.to_string())
    })
}

/// Reads ahead until the first part of a multipart body is complete (at most
/// [`MULTIPART_TOKEN_WINDOW`] bytes and one chunk more), takes the token if that part is the
/// `csrf_token` field, and gives back the body whole: what was read, then the rest unread.
async fn multipart_token(boundary: &str, body: Body) -> Result<(Option<String>, Body), Response> {
    use futures_util::StreamExt;
    let mut rest = body.into_data_stream();
    let mut head: Vec<u8> = Vec::new();
    let token = loop {
        if let Some(found) = first_part_token(&head, boundary) {
            break found;
        }
        if head.len() > MULTIPART_TOKEN_WINDOW {
            break None;
        }
        match rest.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            Some(Err(_)) => return Err(WebError::new(ErrorKind::BadRequest).into_response()),
            None => break None,
        }
    };
    let read = futures_util::stream::iter([Ok::<_, axum::Error>(axum::body::Bytes::from(head))]);
    Ok((token, Body::from_stream(read.chain(rest))))
}

/// The first part of a multipart body held in `head`: `Some(Some(token))` when it is the
/// `csrf_token` field, `Some(None)` when it is anything else, `None` while it is incomplete.
fn first_part_token(head: &[u8], boundary: &str) -> Option<Option<String>> {
    let opening = format!("--{boundary}\r\n");
    let opening = opening.as_bytes();
    if head.len() < opening.len() {
        return (!opening.starts_with(head)).then_some(None);
    }
    if !head.starts_with(opening) {
        return Some(None);
    }
    let after = head.get(opening.len()..)?;
    let headers_end = find(after, b"\r\n\r\n")?;
    let headers = std::str::from_utf8(after.get(..headers_end)?).ok();
    let is_token = headers.is_some_and(|h| {
        h.split("\r\n").any(|line| {
            let Some((name, value)) = line.split_once(':') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("content-disposition")
                && value
                    .split(';')
                    .map(str::trim)
                    .any(|p| p == "name=\"csrf_token\"")
                && !value.contains("filename")
        })
    });
    if !is_token {
        return Some(None);
    }
    let value_start = headers_end + 4;
    let closing = format!("\r\n--{boundary}");
    let value = after.get(value_start..)?;
    let value_end = find(value, closing.as_bytes())?;
    let token = std::str::from_utf8(value.get(..value_end)?).ok();
    Some(
        token
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 512)
            .map(str::to_string),
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Refuses a request whose CSRF token did not verify, and tells the guard.
pub(crate) fn refuse_token(state: &AppState, req: &Request) -> Response {
    refuse(
        state,
        req,
        SecurityEventKind::CsrfRejected,
        ErrorKind::CsrfFailed,
    )
}

pub async fn csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !unsafe_method || exempt(req.uri().path()) || in_admin(&state, req.uri().path()) {
        return next.run(req).await;
    }
    let Some(session) = req.extensions().get::<Session>().cloned() else {
        return WebError::internal("session layer missing").into_response();
    };
    let (req, token) = match cross_site_and_token(&state, req).await {
        Ok(v) => v,
        Err(refused) => return refused,
    };
    let valid = match &token {
        Some(t) => session.verify_csrf(t).await,
        None => false,
    };
    if !valid {
        return refuse_token(&state, &req);
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_token_among_fields() {
        assert_eq!(
            form_token(b"email=a%40b.jp&csrf_token=1.ab%2Bc&x=y").as_deref(),
            Some("1.ab+c")
        );
        assert_eq!(form_token(b"email=a"), None);
        assert_eq!(form_token(b"csrf_token="), None);
    }

    #[test]
    fn finds_the_token_in_the_first_multipart_part_only() {
        let ct = "multipart/form-data; boundary=----kura42";
        let b = multipart_boundary(ct).unwrap();
        assert_eq!(b, "----kura42");
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"x y\"").as_deref(),
            Some("x y")
        );
        assert_eq!(multipart_boundary("text/plain; boundary=x"), None);
        let body = "------kura42\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n1.abc\r\n------kura42\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nPNG";
        assert_eq!(
            first_part_token(body.as_bytes(), &b),
            Some(Some("1.abc".to_string()))
        );
        // Incomplete: more is needed.
        assert_eq!(first_part_token(&body.as_bytes()[..60], &b), None);
        assert_eq!(first_part_token(b"--", &b), None);
        // The file first: no token, whatever comes later.
        let file_first = "------kura42\r\nContent-Disposition: form-data; name=\"image\"; filename=\"csrf_token\"\r\n\r\nx\r\n------kura42\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n1.abc\r\n------kura42--";
        assert_eq!(first_part_token(file_first.as_bytes(), &b), Some(None));
        assert_eq!(
            first_part_token(b"garbage that is long enough", &b),
            Some(None)
        );
    }
}
