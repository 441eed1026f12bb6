//! The one mapping from failures to what a person sees.
//!
//! Handlers and layers return [`WebError`]; it becomes a bare response marked with its
//! [`ErrorKind`], and [`render_errors`] (a layer outside every other) turns any marked or
//! framework-made error response into a full page in the visitor's language, or JSON under
//! `/api/`, with the request's operation id. The cause goes to the log under the same id and
//! nowhere else: no stack trace, SQL or echoed input reaches a page.

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use crate::i18n::{Lang, Tr};
use crate::security::request_id::RequestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    NotFound,
    /// Signed in, but this role may not do this.
    Forbidden,
    MethodNotAllowed,
    CsrfFailed,
    CrossSite,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    CardNumberRefused,
    TooManyRequests,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::CsrfFailed | Self::CrossSite => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable | Self::CardNumberRefused => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable snake_case code, shared by pages, the JSON API and translations.
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::CsrfFailed => "csrf_failed",
            Self::CrossSite => "cross_site_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unprocessable => "unprocessable",
            Self::CardNumberRefused => "card_number_refused",
            Self::TooManyRequests => "too_many_requests",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal_error",
        }
    }

    fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            422 => Self::Unprocessable,
            429 => Self::TooManyRequests,
            503 => Self::Unavailable,
            400..=499 => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

/// A failure on its way to becoming an error page.
#[derive(Debug)]
pub struct WebError {
    pub kind: ErrorKind,
    cause: Option<String>,
}

impl WebError {
    pub fn new(kind: ErrorKind) -> Self {
        Self { kind, cause: None }
    }

    /// An internal failure; `cause` is logged with the operation id, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            kind: ErrorKind::Internal,
            cause: Some(cause.to_string()),
        }
    }
}

impl From<kura_app::AppError> for WebError {
    fn from(e: kura_app::AppError) -> Self {
        match e {
            kura_app::AppError::Store(kura_app::StoreError::Unavailable(m)) => Self {
                kind: ErrorKind::Unavailable,
                cause: Some(m),
            },
            // An erased person's order or account: gone, as if it never was.
            kura_app::AppError::Erased => Self {
                kind: ErrorKind::NotFound,
                cause: None,
            },
            other => Self::internal(other),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        Self::internal(e)
    }
}

/// Marks a response as an error for [`render_errors`] to dress.
#[derive(Debug, Clone, Copy)]
pub struct ErrorMark(pub ErrorKind);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause {
            // Inside the request span, so the log line carries the operation id.
            tracing::error!(target: "kura::web", code = self.kind.code(), cause = %cause, "request failed");
        }
        let mut res = self.kind.status().into_response();
        res.extensions_mut().insert(ErrorMark(self.kind));
        res
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorView<'a> {
    tr: Tr,
    shop_name: &'a str,
    title: &'a str,
    message: &'a str,
    operation_id: &'a str,
    code: &'a str,
}

fn is_plain(res: &Response) -> bool {
    match res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => true,
        Some(ct) => ct.starts_with("text/plain"),
    }
}

/// Dresses every error response: marked ones and the framework's own (404, 405, rejected forms).
pub async fn render_errors(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let lang = Lang::from_headers(req.headers());
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.run(req).await;
    let status = res.status();
    let mark = res.extensions().get::<ErrorMark>().map(|m| m.0);
    let kind = match mark {
        Some(k) => k,
        None if (status.is_client_error() || status.is_server_error()) && is_plain(&res) => {
            ErrorKind::from_status(status)
        }
        None => return res,
    };
    let tr = Tr(lang);
    let title_key = format!("error.{}.title", kind.code());
    let message_key = format!("error.{}.message", kind.code());
    let (parts, _) = res.into_parts();
    let mut out = if api {
        let body = serde_json::json!({
            "error": { "code": kind.code(), "message": tr.t(&message_key), "operation_id": request_id }
        });
        (kind.status(), axum::Json(body)).into_response()
    } else {
        let view = ErrorView {
            tr,
            shop_name: &state.config.shop_name,
            title: tr.t(&title_key),
            message: tr.t(&message_key),
            operation_id: &request_id,
            code: kind.code(),
        };
        match view.render() {
            Ok(html) => (kind.status(), Html(html)).into_response(),
            Err(e) => {
                tracing::error!(target: "kura::web", error = %e, "error page failed to render");
                (kind.status(), "error").into_response()
            }
        }
    };
    // Keep headers that matter to the client (Retry-After, Allow, Set-Cookie).
    for name in [header::RETRY_AFTER, header::ALLOW, header::SET_COOKIE] {
        for v in parts.headers.get_all(&name) {
            out.headers_mut().append(name.clone(), v.clone());
        }
    }
    out.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    out
}
