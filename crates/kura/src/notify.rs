//! Order and account notices as mail: rendered with kura-mail in the customer's language,
//! sealed under the customer's data key for the durable outbox, from which a worker delivers
//! them.

use std::sync::Arc;

use kura_app::customers::{AccountMail, AccountNotifier};
use kura_app::mail::MailOutbox;
use kura_app::orders::{CancelReason, OrderNotifier, OrderView, Parcel, StatusNotice};
use kura_app::sealed::OutboxRecord;
use kura_app::{AppError, Clock};
use kura_domain::{Date, PaymentMethod};

pub struct MailNotifier {
    pub outbox: Arc<MailOutbox>,
    pub shop_name: String,
    pub bank: kura_web::BankAccount,
    pub clock: Arc<dyn Clock>,
    /// The seller and the customer desk as every mail footer names them (name, address,
    /// phone and hours), for Japanese mails; empty: none.
    pub desk: String,
    /// The same for English mails (the English legal notice where the shop gives one).
    pub desk_en: String,
}

impl MailNotifier {
    /// The footer's seller and desk lines in the mail's language.
    fn desk(&self, lang: kura_mail::Lang) -> String {
        match lang {
            kura_mail::Lang::Ja => self.desk.clone(),
            kura_mail::Lang::En => self.desk_en.clone(),
        }
    }
}

fn mail_lang(order: &OrderView) -> kura_mail::Lang {
    if order.lang == "en" {
        kura_mail::Lang::En
    } else {
        kura_mail::Lang::Ja
    }
}

/// A moment in Japan time, to the minute, as people read it: `2026年12月5日(土) 10:00`, or
/// `Sat 5 Dec 2026, 10:00 (Japan time)`.
pub fn japan_time(unix: i64, lang: kura_mail::Lang) -> String {
    match lang {
        kura_mail::Lang::Ja => Date::moment_ja(unix),
        kura_mail::Lang::En => Date::moment_en(unix),
    }
}

/// A date in the mail's language: `2026年12月5日(土)` or `Sat 5 Dec 2026`.
fn mail_date(d: Date, lang: kura_mail::Lang) -> String {
    match lang {
        kura_mail::Lang::Ja => d.label_ja(),
        kura_mail::Lang::En => d.label_en(),
    }
}

fn customer_name(order: &OrderView) -> String {
    format!(
        "{} {}",
        order.buyer.person.family_name.as_str(),
        order.buyer.person.given_name.as_str()
    )
}

impl OrderNotifier for MailNotifier {
    fn order_placed(
        &self,
        order: &OrderView,
        order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        let lang = mail_lang(order);
        let ordered = Date::today_in_japan(order.created_at);
        let ship = order.ship_to();
        let pref = if lang == kura_mail::Lang::En {
            ship.prefecture.name_en()
        } else {
            ship.prefecture.name_ja()
        };
        let mut ship_to = format!(
            "{} {} 様\n〒{} {} {}",
            ship.family_name.as_str(),
            ship.given_name.as_str(),
            ship.postal_code.display(),
            pref,
            ship.address1.as_str()
        );
        if let Some(a2) = &ship.address2 {
            ship_to.push(' ');
            ship_to.push_str(a2.as_str());
        }
        let bank = (order.payment == PaymentMethod::BankTransfer).then(|| kura_mail::BankAccount {
            bank_name: self.bank.bank.clone(),
            branch_name: self.bank.branch.clone(),
            account_kind: self.bank.kind.clone(),
            account_number: self.bank.number.clone(),
            account_holder: self.bank.holder.clone(),
        });
        let deadline = match order.payment {
            PaymentMethod::BankTransfer => {
                Some(mail_date(ordered.add_days(self.bank.deadline_days), lang))
            }
            PaymentMethod::Card | PaymentMethod::Konbini => {
                order.payment_expires_at.map(|t| japan_time(t, lang))
            }
            PaymentMethod::Cod => None,
        };
        let mail = kura_mail::OrderConfirmation {
            lang,
            shop_name: self.shop_name.clone(),
            order_number: order.number.clone(),
            ordered_at: japan_time(order.created_at, lang),
            customer_name: customer_name(order),
            lines: order
                .lines
                .iter()
                .map(|l| kura_mail::OrderLine {
                    name: l.product_name.clone(),
                    variant: l.variant_label.clone(),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    line_total: l.unit_price.checked_mul(l.quantity).unwrap_or_default(),
                    reduced: l.tax == kura_domain::TaxRate::Reduced,
                })
                .collect(),
            totals: order.totals,
            payment: order.payment,
            bank,
            payment_deadline: deadline,
            delivery_date: order.delivery_date.map(|d| mail_date(d, lang)),
            delivery_slot: order.delivery_slot,
            ship_to,
            gift: order.gift.as_ref().map(|g| match lang {
                kura_mail::Lang::Ja => g.describe_ja(),
                kura_mail::Lang::En => g.describe_en(),
            }),
            note: order.note.clone(),
            order_url: order_url.to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
            coupon_code: order.coupon_code.clone(),
        };
        let rendered = mail
            .render(order.buyer.email.as_str())
            .map_err(|e| AppError::Task(format!("order mail: {e}")))?;
        self.outbox
            .seal(&rendered, order.data_key.as_ref())
            .map(Some)
    }

    fn payment_received(
        &self,
        order: &OrderView,
        order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        let lang = mail_lang(order);
        let mail = kura_mail::PaymentReceived {
            lang,
            shop_name: self.shop_name.clone(),
            order_number: order.number.clone(),
            customer_name: customer_name(order),
            payment: order.payment,
            amount: order.totals.total,
            received_at: japan_time(self.clock.now(), lang),
            order_url: order_url.to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
        };
        let rendered = mail
            .render(order.buyer.email.as_str())
            .map_err(|e| AppError::Task(format!("payment mail: {e}")))?;
        self.outbox
            .seal(&rendered, order.data_key.as_ref())
            .map(Some)
    }

    fn order_shipped(
        &self,
        order: &OrderView,
        parcel: &Parcel,
        order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        let lang = mail_lang(order);
        let mail = kura_mail::ShippingNotice {
            lang,
            shop_name: self.shop_name.clone(),
            order_number: order.number.clone(),
            customer_name: customer_name(order),
            carrier: parcel.carrier.clone(),
            tracking_number: parcel.tracking_number.clone(),
            tracking_url: parcel.tracking_url.clone(),
            items: order
                .lines
                .iter()
                .map(|l| kura_mail::ShippedItem {
                    name: l.product_name.clone(),
                    variant: l.variant_label.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            order_url: order_url.to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
        };
        let rendered = mail
            .render(order.buyer.email.as_str())
            .map_err(|e| AppError::Task(format!("shipping mail: {e}")))?;
        self.outbox
            .seal(&rendered, order.data_key.as_ref())
            .map(Some)
    }

    fn status_changed(
        &self,
        order: &OrderView,
        notice: StatusNotice,
        order_url: &str,
    ) -> Result<Option<OutboxRecord>, AppError> {
        let lang = mail_lang(order);
        let kind = match notice {
            StatusNotice::Packed => kura_mail::UpdateKind::Packed,
            StatusNotice::Delivered => kura_mail::UpdateKind::Delivered,
            StatusNotice::Cancelled(CancelReason::ByShop) => kura_mail::UpdateKind::Cancelled,
            StatusNotice::Cancelled(CancelReason::TransferDeadline) => {
                kura_mail::UpdateKind::TransferDeadlinePassed
            }
            StatusNotice::Refunded { amount } => kura_mail::UpdateKind::Refunded { amount },
            StatusNotice::KonbiniVoucher => kura_mail::UpdateKind::KonbiniVoucher,
            StatusNotice::KonbiniLapsed => kura_mail::UpdateKind::KonbiniDeadlinePassed,
        };
        let voucher = match (notice, &order.payment_url, order.payment_expires_at) {
            (StatusNotice::KonbiniVoucher, Some(url), Some(deadline)) => {
                Some(kura_mail::VoucherLines {
                    url: url.clone(),
                    deadline: japan_time(deadline, lang),
                    amount: order.totals.total,
                })
            }
            _ => None,
        };
        let mail = kura_mail::OrderUpdate {
            lang,
            shop_name: self.shop_name.clone(),
            order_number: order.number.clone(),
            customer_name: customer_name(order),
            kind,
            recorded_at: japan_time(self.clock.now(), lang),
            order_url: order_url.to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
            voucher,
        };
        let rendered = mail
            .render(order.buyer.email.as_str())
            .map_err(|e| AppError::Task(format!("order update mail: {e}")))?;
        self.outbox
            .seal(&rendered, order.data_key.as_ref())
            .map(Some)
    }
}

impl kura_app::restock::RestockNotifier for MailNotifier {
    fn restock_notice(
        &self,
        to: &kura_app::restock::RestockMail<'_>,
    ) -> Result<OutboxRecord, AppError> {
        let lang = kura_mail::Lang::parse(to.lang).unwrap_or_default();
        let en = lang == kura_mail::Lang::En;
        let pick = |ja: &str, en_text: &str| {
            if en && !en_text.is_empty() {
                en_text
            } else {
                ja
            }
            .to_string()
        };
        let rendered = kura_mail::RestockNotice {
            lang,
            shop_name: self.shop_name.clone(),
            product_name: pick(&to.item.product_name_ja, &to.item.product_name_en),
            variant_label: pick(&to.item.label_ja, &to.item.label_en),
            product_url: to.product_url.clone(),
            seen_at: japan_time(to.seen_at, lang),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
        }
        .render(to.email)
        .map_err(|e| AppError::Task(format!("restock mail: {e}")))?;
        self.outbox.seal(&rendered, to.data_key)
    }
}

/// The language of an account mail and of the web texts it borrows ("en", else Japanese).
fn account_lang(to: &AccountMail<'_>) -> (kura_mail::Lang, kura_web::i18n::Tr) {
    let web = kura_web::i18n::Lang::parse(to.lang).unwrap_or_default();
    (
        kura_mail::Lang::parse(web.code()).unwrap_or_default(),
        kura_web::i18n::Tr(web),
    )
}

impl AccountNotifier for MailNotifier {
    fn verify_email(&self, to: &AccountMail<'_>) -> Result<OutboxRecord, AppError> {
        let (lang, tr) = account_lang(to);
        let rendered = kura_mail::EmailVerification {
            lang,
            shop_name: self.shop_name.clone(),
            verify_url: to.link.to_string(),
            expires_at: tr.t("account.mail.expires_24h").to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
        }
        .render(to.email)
        .map_err(|e| AppError::Task(format!("verification mail: {e}")))?;
        self.outbox.seal(&rendered, to.data_key)
    }

    fn password_reset(&self, to: &AccountMail<'_>) -> Result<OutboxRecord, AppError> {
        let (lang, tr) = account_lang(to);
        let rendered = kura_mail::PasswordReset {
            lang,
            shop_name: self.shop_name.clone(),
            reset_url: to.link.to_string(),
            expires_at: tr.t("reset.mail.expires_1h").to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
        }
        .render(to.email)
        .map_err(|e| AppError::Task(format!("password reset mail: {e}")))?;
        self.outbox.seal(&rendered, to.data_key)
    }
}

impl kura_app::staff::StaffNotifier for MailNotifier {
    fn new_device(
        &self,
        to: &str,
        login: &str,
        at: i64,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        self.staff_notice(to, login, at, kura_mail::StaffNoticeKind::NewDevice, 0)
    }

    fn budget_reached(
        &self,
        to: &str,
        login: &str,
        limit: u32,
        at: i64,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        self.staff_notice(
            to,
            login,
            at,
            kura_mail::StaffNoticeKind::BudgetReached,
            limit,
        )
    }

    fn guard_alert(
        &self,
        to: &str,
        alert: &kura_app::records::AlertRecord,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        kura_mail::StaffNotice {
            lang: kura_mail::Lang::Ja,
            shop_name: self.shop_name.clone(),
            kind: kura_mail::StaffNoticeKind::GuardAlert,
            login: String::new(),
            at: japan_time(alert.at, kura_mail::Lang::Ja),
            limit: 0,
            anti_phishing_phrase: None,
            desk: self.desk(kura_mail::Lang::Ja),
            alert: kura_mail::AlertSummary {
                detector: alert.detector.clone(),
                severity: alert.severity.clone(),
                principal: alert.principal.clone(),
                count: alert.count,
                window_minutes: (alert.window_seconds / 60).max(1),
                actions: if alert.actions.is_empty() {
                    "なし（記録と通知のみ）".to_string()
                } else {
                    alert.actions.clone()
                },
            },
        }
        .render(to)
        .map_err(|e| AppError::Task(e.to_string()))
    }
}

impl MailNotifier {
    /// Staff notices are in Japanese, the shop's working language.
    fn staff_notice(
        &self,
        to: &str,
        login: &str,
        at: i64,
        kind: kura_mail::StaffNoticeKind,
        limit: u32,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        kura_mail::StaffNotice {
            lang: kura_mail::Lang::Ja,
            shop_name: self.shop_name.clone(),
            kind,
            login: login.to_string(),
            at: japan_time(at, kura_mail::Lang::Ja),
            limit,
            anti_phishing_phrase: None,
            desk: self.desk(kura_mail::Lang::Ja),
            alert: kura_mail::AlertSummary::default(),
        }
        .render(to)
        .map_err(|e| AppError::Task(e.to_string()))
    }
}

impl kura_app::inquiries::InquiryNotifier for MailNotifier {
    fn received(
        &self,
        to: &str,
        name: &str,
        number: &str,
        lang: &str,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        self.inquiry_mail(to, name, number, lang, None)
    }

    fn reply(
        &self,
        to: &str,
        name: &str,
        number: &str,
        lang: &str,
        body: &str,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        self.inquiry_mail(to, name, number, lang, Some(body.to_string()))
    }
}

impl MailNotifier {
    fn inquiry_mail(
        &self,
        to: &str,
        name: &str,
        number: &str,
        lang: &str,
        reply: Option<String>,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        kura_mail::InquiryMail {
            lang: if lang == "en" {
                kura_mail::Lang::En
            } else {
                kura_mail::Lang::Ja
            },
            shop_name: self.shop_name.clone(),
            name: name.to_string(),
            number: number.to_string(),
            reply,
            anti_phishing_phrase: None,
            desk: self.desk(if lang == "en" {
                kura_mail::Lang::En
            } else {
                kura_mail::Lang::Ja
            }),
        }
        .render(to)
        .map_err(|e| AppError::Task(e.to_string()))
    }
}

impl kura_app::incident_people::IncidentNotifier for MailNotifier {
    fn notice(
        &self,
        to: &str,
        n: &kura_app::incident_people::PersonNotice<'_>,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        let en = n.lang == "en";
        let lang = if en {
            kura_mail::Lang::En
        } else {
            kura_mail::Lang::Ja
        };
        let (title, overview) = if en {
            (&n.entry.title_en, &n.entry.body_en)
        } else {
            (&n.entry.title_ja, &n.entry.body_ja)
        };
        kura_mail::IncidentNotice {
            lang,
            shop_name: self.shop_name.clone(),
            name: n.name.clone(),
            title: title.clone(),
            overview: overview.clone(),
            fields: n
                .fields
                .iter()
                .map(|f| kura_app::incidents::category_label(f, n.lang).to_string())
                .collect(),
            discovered: japan_time(n.incident.discovered_at, lang),
            window: format!(
                "{} – {}",
                japan_time(n.incident.window_start, lang),
                japan_time(n.incident.window_end, lang)
            ),
            cause: n.incident.cause.clone(),
            passwords_affected: n.fields.contains(&"password_hash"),
            notice_url: n.notice_url.clone(),
            anti_phishing_phrase: None,
            desk: self.desk(lang),
        }
        .render(to)
        .map_err(|e| AppError::Task(format!("incident notice: {e}")))
    }

    fn guidance(
        &self,
        to: &str,
        lang: &str,
        notice_url: &str,
        reset_url: &str,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        kura_mail::IncidentGuidance {
            lang: if lang == "en" {
                kura_mail::Lang::En
            } else {
                kura_mail::Lang::Ja
            },
            shop_name: self.shop_name.clone(),
            notice_url: notice_url.to_string(),
            reset_url: reset_url.to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(kura_mail::Lang::parse(lang).unwrap_or_default()),
        }
        .render(to)
        .map_err(|e| AppError::Task(format!("incident guidance: {e}")))
    }

    fn lookup_answer(
        &self,
        to: &str,
        lang: &str,
        fields: Option<Vec<&str>>,
        notice_url: &str,
    ) -> Result<kura_app::mail::OutgoingMail, AppError> {
        kura_mail::IncidentLookupAnswer {
            lang: if lang == "en" {
                kura_mail::Lang::En
            } else {
                kura_mail::Lang::Ja
            },
            shop_name: self.shop_name.clone(),
            fields: fields.map(|f| {
                f.iter()
                    .map(|c| kura_app::incidents::category_label(c, lang).to_string())
                    .collect()
            }),
            notice_url: notice_url.to_string(),
            anti_phishing_phrase: None,
            desk: self.desk(kura_mail::Lang::parse(lang).unwrap_or_default()),
        }
        .render(to)
        .map_err(|e| AppError::Task(format!("incident lookup answer: {e}")))
    }
}
