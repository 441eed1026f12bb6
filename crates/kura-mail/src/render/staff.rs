//! Notices to staff members about their own account and the shop's safety: a sign-in from a
//! new device, a colleague stopped at the read budget. They say what happened and when, and
//! what to do if it was not expected; they carry no customer's data.

use kura_app::mail::OutgoingMail;

use super::{check_recipient, twin_templates};
use crate::Lang;
use crate::error::RenderError;

/// What a staff notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffNoticeKind {
    /// The staff member signed in on a device the shop had not seen for them.
    NewDevice,
    /// A staff member reached the hourly unmask budget (sent to owners).
    BudgetReached,
}

#[derive(Debug, Clone)]
pub struct StaffNotice {
    pub lang: Lang,
    pub shop_name: String,
    pub kind: StaffNoticeKind,
    /// The staff member the notice is about (login name).
    pub login: String,
    /// When it happened, preformatted in Japan time.
    pub at: String,
    /// The budget, for [`StaffNoticeKind::BudgetReached`].
    pub limit: u32,
    /// Not shown: staff mail has no anti-phishing phrase of its own yet (the footer needs it).
    pub anti_phishing_phrase: Option<String>,
    /// The customer desk (phone and hours) every footer names; empty: none configured.
    pub desk: String,
}

twin_templates!(
    StaffNotice,
    ja_text = "ja/staff_notice.txt",
    ja_html = "ja/staff_notice.html",
    en_text = "en/staff_notice.txt",
    en_html = "en/staff_notice.html",
);

impl StaffNotice {
    pub const KIND: &'static str = "staff_notice";

    pub fn new_device(&self) -> bool {
        self.kind == StaffNoticeKind::NewDevice
    }

    pub fn render(&self, to: &str) -> Result<OutgoingMail, RenderError> {
        check_recipient(to)?;
        let subject = match (self.lang, self.kind) {
            (Lang::Ja, StaffNoticeKind::NewDevice) => {
                format!(
                    "【{}】新しい端末から管理画面にログインしました",
                    self.shop_name
                )
            }
            (Lang::Ja, StaffNoticeKind::BudgetReached) => format!(
                "【{}】スタッフ {} が顧客情報の表示上限に達しました",
                self.shop_name, self.login
            ),
            (Lang::En, StaffNoticeKind::NewDevice) => {
                format!("[{}] Back-office sign-in from a new device", self.shop_name)
            }
            (Lang::En, StaffNoticeKind::BudgetReached) => format!(
                "[{}] Staff member {} reached the customer read budget",
                self.shop_name, self.login
            ),
        };
        let (text, html) = render_twins(self)?;
        Ok(OutgoingMail {
            to: to.trim().to_owned(),
            subject,
            text,
            html,
            kind: Self::KIND,
        })
    }
}
