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
    /// The guard raised an alert (sent to owners).
    GuardAlert,
}

/// What an alert notice says about the alert: no person and no address, only the detector,
/// whom it counted (a source's pseudonym, `staff:ID`, `shop`) and what the guard did.
#[derive(Debug, Clone, Default)]
pub struct AlertSummary {
    pub detector: String,
    pub severity: String,
    pub principal: String,
    pub count: i64,
    pub window_minutes: i64,
    pub actions: String,
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
    /// The alert, for [`StaffNoticeKind::GuardAlert`].
    pub alert: AlertSummary,
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
    /// The outbox kind of a guard alert notice.
    pub const ALERT_KIND: &'static str = "guard_alert";

    pub fn new_device(&self) -> bool {
        self.kind == StaffNoticeKind::NewDevice
    }

    pub fn guard_alert(&self) -> bool {
        self.kind == StaffNoticeKind::GuardAlert
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
            (Lang::Ja, StaffNoticeKind::GuardAlert) => format!(
                "【{}】不正監視の警告: {}",
                self.shop_name, self.alert.detector
            ),
            (Lang::En, StaffNoticeKind::GuardAlert) => {
                format!("[{}] Guard alert: {}", self.shop_name, self.alert.detector)
            }
        };
        let (text, html) = render_twins(self)?;
        Ok(OutgoingMail {
            to: to.trim().to_owned(),
            subject,
            text,
            html,
            kind: if self.guard_alert() {
                Self::ALERT_KIND
            } else {
                Self::KIND
            },
        })
    }
}
