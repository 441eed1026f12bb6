//! The public 「メールの確認」 page. Anyone who received a mail in the shop's name pastes its
//! verification code, or the whole mail as their mail program shows its source, and learns
//! whether the shop sent it, to whom (masked) and when; for a whole mail, also whether the
//! shop's DKIM signature still holds. A mail that is not the shop's is a security event
//! (`phishing_forged_mail_reported`): a forgery going round in the shop's name alerts the owner.
//!
//! Guarantees: the page states only what the records say (the shop *wrote* the mail at that
//! time, to that masked address); it never shows an address in full, never echoes a pasted mail
//! back, and says the same "not ours" for a code that was never issued and one that cannot be.

use askama::Template;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use kura_app::mail::{MailCheck, SignatureVerdict, normalize_check_code};
use kura_app::{SecurityEvent, SecurityEventKind};

use crate::AppState;
use crate::error::WebError;
use crate::form::FormFields;
use crate::pages::PageContext;
use crate::security::client_ip::ClientIp;
use crate::security::request_id::RequestId;
use crate::security::session::Session;

/// What the page concluded, in the visitor's language.
struct Verdict {
    genuine: bool,
    headline: String,
    lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "mail_check.html")]
struct MailCheckPage {
    ctx: PageContext,
    /// The code as typed, shown again (a pasted mail is never echoed).
    code: String,
    message: Option<String>,
    verdict: Option<Verdict>,
}

async fn page(
    mut ctx: PageContext,
    session: &Session,
    code: String,
    message: Option<String>,
    verdict: Option<Verdict>,
    status: StatusCode,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let body = MailCheckPage {
        ctx,
        code,
        message,
        verdict,
    }
    .render()?;
    Ok((status, Html(body)).into_response())
}

pub async fn get(ctx: PageContext, session: Session) -> Result<Response, WebError> {
    page(ctx, &session, String::new(), None, None, StatusCode::OK).await
}

fn found_lines(ctx: &PageContext, found: &MailCheck) -> Vec<String> {
    let tr = ctx.tr;
    let kind_key = format!("mail_kind.{}", found.kind);
    let kind = match tr.t(&kind_key) {
        k if k == kind_key => tr.t("mail_kind.mail").to_string(),
        k => k.to_string(),
    };
    vec![
        tr.t("mail_check.genuine_detail")
            .replace("{when}", &crate::pages::moment(tr, found.created_at))
            .replace("{to}", &found.recipient)
            .replace("{kind}", &kind),
        tr.t("mail_check.not_yours").to_string(),
    ]
}

pub async fn post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    Extension(ip): Extension<ClientIp>,
    Extension(request_id): Extension<RequestId>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = FormFields::parse(&body);
    let input = form.get("mail").trim().to_string();
    let tr = ctx.tr;
    if input.is_empty() {
        let message = Some(tr.t("mail_check.empty").to_string());
        return page(
            ctx,
            &session,
            String::new(),
            message,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let forged = |lines: Vec<String>| Verdict {
        genuine: false,
        headline: tr.t("mail_check.forged").to_string(),
        lines: lines
            .into_iter()
            .chain([tr.t("mail_check.never_card").to_string()])
            .collect(),
    };
    let (code, verdict) = if input.chars().count() <= 24 {
        // A code on its own.
        let Some(code) = normalize_check_code(&input) else {
            let message = Some(tr.t("mail_check.not_a_code").to_string());
            let shown: String = input.chars().take(24).collect();
            return page(
                ctx,
                &session,
                shown,
                message,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        };
        let verdict = match state.outbox.check_code(&code).await? {
            Some(found) => Verdict {
                genuine: true,
                headline: tr.t("mail_check.genuine").to_string(),
                lines: found_lines(&ctx, &found),
            },
            None => forged(vec![tr.t("mail_check.unknown_code").to_string()]),
        };
        (code, verdict)
    } else {
        // A whole mail: its signature and the code written in it.
        let seen = state.mail_inspector.inspect(input.as_bytes()).await;
        let found = match &seen.code {
            Some(code) => state.outbox.check_code(code).await?,
            None => None,
        };
        let verdict = match (seen.signature, found) {
            (SignatureVerdict::Fail, _) => {
                forged(vec![tr.t("mail_check.signature_fail").to_string()])
            }
            (_, None) if seen.code.is_none() => {
                forged(vec![tr.t("mail_check.no_code").to_string()])
            }
            (_, None) => forged(vec![tr.t("mail_check.unknown_code").to_string()]),
            (SignatureVerdict::Pass, Some(found)) => {
                let mut lines = found_lines(&ctx, &found);
                lines.insert(1, tr.t("mail_check.signature_pass").to_string());
                Verdict {
                    genuine: true,
                    headline: tr.t("mail_check.genuine").to_string(),
                    lines,
                }
            }
            // A real code in a mail without the shop's signature: copied into a forgery.
            (_, Some(_)) => forged(vec![tr.t("mail_check.copied").to_string()]),
        };
        (String::new(), verdict)
    };
    if !verdict.genuine {
        state.event(
            SecurityEvent::new(SecurityEventKind::ForgedMailReported)
                .ip(ip.0)
                .request(&request_id.0),
        );
    }
    page(ctx, &session, code, None, Some(verdict), StatusCode::OK).await
}
