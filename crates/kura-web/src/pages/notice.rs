//! A page that says one thing: check your mail, done, the link is dead, the account is gone.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::error::WebError;
use crate::pages::PageContext;

#[derive(Template)]
#[template(path = "account/notice.html")]
pub(crate) struct NoticeView {
    pub ctx: PageContext,
    pub title: String,
    pub lines: Vec<String>,
    pub link: Option<(String, String)>,
}

/// The notice with its title, lines and link label given as translation keys.
pub(crate) fn notice(
    ctx: PageContext,
    status: StatusCode,
    title: &str,
    lines: &[&str],
    link: Option<(&str, &str)>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let page = NoticeView {
        title: tr.t(title).to_string(),
        lines: lines.iter().map(|k| tr.t(k).to_string()).collect(),
        link: link.map(|(href, label)| (href.to_string(), tr.t(label).to_string())),
        ctx,
    }
    .render()?;
    Ok((status, Html(page)).into_response())
}
