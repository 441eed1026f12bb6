//! Checkout: the form, the final confirmation (特定商取引法 §12-6: quantities, prices and
//! total, payment method and timing, delivery timing, cancellation terms) and placing the
//! order. The order page, the return from the card provider and paying again live in
//! [`crate::pages::orders`].
//!
//! Every field is validated server-side with a message next to it, in the visitor's language,
//! and everything typed is kept when something is refused. Birth date and gender are optional
//! and say what they are for. Submitting the confirmation twice makes one order.

use askama::Template;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kura_app::CheckoutDraft;
use kura_app::carts::CartView;
use kura_app::checkout::{
    CheckoutError, CheckoutField, CheckoutInput, CheckoutProblem, Problem, TypedCheckout,
};
use kura_domain::{Date, DeliverySlot, FieldError, PaymentMethod, Person, Totals, Yen};

use crate::AppState;
use crate::error::WebError;
use crate::form::FormFields;
use crate::i18n::{Lang, Tr};
use crate::pages::PageContext;
use crate::pages::cart::{LineView, current_cart, line_views};
use crate::pages::forms::{
    Choice, FIELD_CHARS, FormState, PERSON_FIELDS, field_message, prefectures, put_person,
    typed_person,
};
use crate::security::card_guard::CardFieldsEmptied;
use crate::security::session::Session;

fn known_fields() -> Vec<String> {
    let mut v: Vec<String> = PERSON_FIELDS.iter().map(|f| f.to_string()).collect();
    v.extend(PERSON_FIELDS.iter().map(|f| format!("ship_{f}")));
    v.extend(
        [
            "email",
            "birth_date",
            "gender",
            "ship_to",
            "delivery_date",
            "delivery_slot",
            "payment",
            "lookup",
            "noshi",
            "noshi_name",
            "wrapping",
            "note",
            "coupon",
        ]
        .map(String::from),
    );
    v
}

/// The address lookup button (for browsers without scripts): fills in the prefecture and the
/// first address line of `prefix`'s postal code, keeping whatever else was typed. A first line
/// typed already is kept unless it is empty or is what a lookup put there.
fn look_up_address(form: &mut FormState, tr: Tr, prefix: &str) {
    let code_field = format!("{prefix}postal_code");
    let typed = form.values.get(&code_field).cloned().unwrap_or_default();
    let area = kura_domain::PostalCode::parse(&typed)
        .ok()
        .and_then(|c| kura_domain::postal_lookup(&c).map(|a| (c, a)));
    let Some((code, area)) = area else {
        form.errors
            .insert(code_field, tr.t("checkout.postal.not_found").to_string());
        return;
    };
    form.values.insert(code_field, code.display());
    form.values.insert(
        format!("{prefix}prefecture"),
        area.prefecture.code().to_string(),
    );
    let line = format!("{prefix}address1");
    let current = form.values.get(&line).cloned().unwrap_or_default();
    if current.trim().is_empty()
        || current.trim() == area.city
        || current.trim() == area.city_and_town()
    {
        form.values.insert(line, area.city_and_town());
    }
    if !prefix.is_empty() {
        form.values.insert("ship_to".into(), "other".into());
    }
    form.notice = Some(
        tr.t("checkout.postal.filled")
            .replace("{code}", &code.display()),
    );
}

/// The form field a checkout problem belongs to.
fn field_name(field: CheckoutField) -> String {
    match field {
        CheckoutField::Buyer(f) => f.name().to_string(),
        CheckoutField::Recipient(f) => format!("ship_{}", f.name()),
        CheckoutField::Email => "email".into(),
        CheckoutField::BirthDate => "birth_date".into(),
        CheckoutField::Gender => "gender".into(),
        CheckoutField::DeliveryDate => "delivery_date".into(),
        CheckoutField::DeliverySlot => "delivery_slot".into(),
        CheckoutField::Payment => "payment".into(),
        CheckoutField::Noshi => "noshi".into(),
        CheckoutField::NoshiName => "noshi_name".into(),
        CheckoutField::Note => "note".into(),
        CheckoutField::Coupon => "coupon".into(),
    }
}

/// Why a coupon does not apply, in the visitor's language.
pub fn coupon_message(tr: Tr, r: kura_domain::Refusal) -> String {
    use kura_domain::Refusal;
    let lang = tr.0;
    match r {
        Refusal::NotYetValid { starts_on } => tr.t("coupon.error.not_yet_valid").replace(
            "{date}",
            &if lang == Lang::En {
                starts_on.label_en()
            } else {
                starts_on.label_ja()
            },
        ),
        Refusal::BelowMinimum { short } => tr
            .t("coupon.error.below_minimum")
            .replace("{short}", &short.grouped()),
        Refusal::Unknown => tr.t("coupon.error.unknown").to_string(),
        Refusal::Expired => tr.t("coupon.error.expired").to_string(),
        Refusal::AlreadyUsed => tr.t("coupon.error.used").to_string(),
        Refusal::Disabled => tr.t("coupon.error.disabled").to_string(),
    }
}

/// A checkout problem in the visitor's language.
fn problem_message(tr: Tr, p: &CheckoutProblem, typed: &str) -> String {
    match (&p.problem, p.field) {
        (Problem::Refused(CheckoutError::DeliveryDateOutOfRange), _) => {
            tr.t("checkout.error.delivery_date_range").to_string()
        }
        (Problem::Refused(CheckoutError::CardUnavailable), _) => {
            tr.t("checkout.error.card_unavailable").to_string()
        }
        (Problem::Refused(CheckoutError::Coupon(r)), _) => coupon_message(tr, *r),
        (Problem::Refused(_), _) => tr.t("checkout.error.general").to_string(),
        (Problem::Invalid(_), CheckoutField::Payment) => {
            tr.t("checkout.error.choose_payment").to_string()
        }
        (Problem::Invalid(e), _) => crate::pages::forms::field_message_typed(tr, *e, typed),
    }
}

/// On English pages a reading may be in Latin letters or left empty for a name without a
/// Japanese reading.
fn reading_rule(
    p: kura_app::checkout::TypedPerson<'_>,
    tr: Tr,
) -> kura_app::checkout::TypedPerson<'_> {
    if tr.0 == Lang::En { p.latin() } else { p }
}

/// Validates the whole form with the checkout's rules (`kura_app::checkout`). `Err` carries
/// the form with its messages.
pub fn validate(state: &AppState, mut form: FormState, tr: Tr) -> Result<CheckoutInput, FormState> {
    let mut errors = std::collections::BTreeMap::new();
    let ship_to = form.v("ship_to");
    if !matches!(ship_to, "other" | "same" | "") {
        errors.insert(
            "ship_to".into(),
            field_message(tr, FieldError::UnknownChoice),
        );
    }
    let typed = TypedCheckout {
        buyer: reading_rule(typed_person(&form, ""), tr),
        email: form.v("email"),
        // The form no longer asks for a birth date (nothing uses it); one posted is ignored.
        birth_date: "",
        gender: form.v("gender"),
        recipient: (ship_to == "other").then(|| reading_rule(typed_person(&form, "ship_"), tr)),
        delivery_date: form.v("delivery_date"),
        delivery_slot: form.v("delivery_slot"),
        payment: form.v("payment"),
        lang: tr.lang(),
        noshi: form.v("noshi"),
        noshi_name: form.v("noshi_name"),
        wrapping: form.v("wrapping"),
        note: form.v("note"),
        coupon: form.v("coupon"),
    };
    match state.orders.checkout_input(&typed) {
        Ok(input) if errors.is_empty() => return Ok(input),
        Ok(_) => {}
        Err(problems) => {
            for p in &problems {
                let name = field_name(p.field);
                let message = problem_message(tr, p, form.v(&name));
                errors.insert(name, message);
            }
        }
    }
    form.errors = errors;
    if form.errors.is_empty() {
        form.general = Some(tr.t("checkout.error.general").to_string());
    }
    Err(form)
}

/// The form's values for a validated input (when coming back to edit).
fn values_of(input: &CheckoutInput) -> std::collections::BTreeMap<String, String> {
    let mut v = std::collections::BTreeMap::new();
    if let Some(g) = &input.gift {
        v.insert(
            "noshi".into(),
            g.noshi.map(|p| p.code().to_string()).unwrap_or_default(),
        );
        v.insert(
            "noshi_name".into(),
            g.noshi_name.clone().unwrap_or_default(),
        );
        if g.wrapping {
            v.insert("wrapping".into(), "1".into());
        }
    }
    if let Some(n) = &input.note {
        v.insert("note".into(), n.clone());
    }
    if let Some(c) = &input.coupon {
        v.insert("coupon".into(), c.as_str().to_string());
    }
    put_person(&mut v, "", &input.buyer.person);
    if let Some(r) = &input.recipient {
        put_person(&mut v, "ship_", r);
    }
    v.insert("email".into(), input.buyer.email.as_str().to_string());
    v.insert(
        "birth_date".into(),
        input.buyer.birth_date.map(|d| d.iso()).unwrap_or_default(),
    );
    v.insert(
        "gender".into(),
        input
            .buyer
            .gender
            .map(|g| g.code().to_string())
            .unwrap_or_default(),
    );
    v.insert(
        "ship_to".into(),
        if input.recipient.is_some() {
            "other"
        } else {
            "same"
        }
        .into(),
    );
    v.insert(
        "delivery_date".into(),
        input.delivery_date.map(Date::iso).unwrap_or_default(),
    );
    v.insert(
        "delivery_slot".into(),
        input
            .delivery_slot
            .map(|s| s.code().to_string())
            .unwrap_or_default(),
    );
    v.insert("payment".into(), input.payment.code().into());
    v
}

#[derive(Template)]
#[template(path = "checkout.html")]
struct CheckoutPage {
    ctx: PageContext,
    form: FormState,
    /// The signed-in customer's saved addresses, each a link that fills in the recipient.
    saved: Vec<SavedChoice>,
    lines: Vec<LineView>,
    goods: String,
    prefectures: Vec<Choice>,
    dates: Vec<Choice>,
    slots: Vec<Choice>,
    card_available: bool,
    noshi: Vec<Choice>,
}

/// A saved address offered as the recipient.
struct SavedChoice {
    href: String,
    label: String,
}

fn saved_label(p: &Person, lang: Lang) -> String {
    let v = person_view(p, lang);
    format!("{} 〒{} {}", v.name, v.postal_code, v.address)
}

fn choices(state: &AppState, tr: Tr) -> (Vec<Choice>, Vec<Choice>, Vec<Choice>) {
    let en = tr.0 == Lang::En;
    let prefectures = prefectures(tr);
    let (first, last) = state.orders.delivery_window();
    let mut dates = Vec::new();
    let mut d = first;
    while d <= last {
        dates.push(Choice {
            value: d.iso(),
            label: if en { d.label_en() } else { d.label_ja() },
        });
        d = d.add_days(1);
    }
    let slots = DeliverySlot::ALL
        .iter()
        .map(|s| Choice {
            value: s.code().to_string(),
            label: if en { s.label_en() } else { s.label_ja() }.to_string(),
        })
        .collect();
    (prefectures, dates, slots)
}

async fn cart_for_checkout(
    state: &AppState,
    session: &Session,
) -> Result<Option<(i64, CartView)>, WebError> {
    let Some(id) = current_cart(state, session).await? else {
        return Ok(None);
    };
    let cart = state.carts.view(id).await?;
    Ok((!cart.lines.is_empty()).then_some((id, cart)))
}

async fn render_form(
    state: &AppState,
    mut ctx: PageContext,
    session: &Session,
    form: FormState,
    cart: &CartView,
    status: StatusCode,
) -> Result<Response, WebError> {
    ctx.csrf = session.csrf_token().await?;
    let (prefectures, dates, slots) = choices(state, ctx.tr);
    let saved = match session.customer_id().await {
        Some(customer) => state
            .customers
            .addresses(customer)
            .await?
            .into_iter()
            .map(|a| SavedChoice {
                href: format!("/checkout?ship={}", a.id),
                label: saved_label(&a.person, ctx.tr.0),
            })
            .collect(),
        None => Vec::new(),
    };
    let page = CheckoutPage {
        saved,
        lines: line_views(cart, &ctx),
        goods: cart.goods().grouped(),
        form,
        prefectures,
        dates,
        slots,
        card_available: state.orders.card_available(),
        noshi: noshi_choices(ctx.tr),
        ctx,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn checkout_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    uri: axum::http::Uri,
) -> Result<Response, WebError> {
    let Some((_, cart)) = cart_for_checkout(&state, &session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let data = session.data().await;
    let mut form = FormState::default();
    if let Some(draft) = &data.checkout {
        form.values = values_of(&draft.input);
    } else if let Some(customer) = session.customer_id().await
        && let Some(profile) = state.customers.profile(customer).await?
    {
        let input = CheckoutInput {
            buyer: profile,
            recipient: None,
            delivery_date: None,
            delivery_slot: None,
            payment: PaymentMethod::Cod,
            lang: String::new(),
            gift: None,
            note: None,
            coupon: None,
        };
        form.values = values_of(&input);
        form.values.remove("payment");
    }
    let query = FormFields::parse(uri.query().unwrap_or_default().as_bytes());
    // `?again`: an unpaid order was released to be ordered again with another payment method;
    // its details are filled in, and the payment method is to be chosen anew.
    if !query.get("again").is_empty() && data.checkout.is_some() {
        form.values.remove("payment");
        form.notice = Some(ctx.tr.t("checkout.again").to_string());
    }
    // `?ship=ID`: deliver to one of the signed-in customer's saved addresses. Another
    // customer's address id, or anything odd, is ignored.
    if let Ok(ship) = query.get("ship").parse::<i64>()
        && let Some(customer) = session.customer_id().await
        && let Some(address) = state
            .customers
            .addresses(customer)
            .await?
            .into_iter()
            .find(|a| a.id == ship)
    {
        put_person(&mut form.values, "ship_", &address.person);
        form.values.insert("ship_to".into(), "other".into());
    }
    render_form(&state, ctx, &session, form, &cart, StatusCode::OK).await
}

/// A checkout field's label as the form shows it, in the visitor's language.
fn field_label(tr: Tr, name: &str) -> String {
    let (recipient, base) = match name.strip_prefix("ship_") {
        Some(base) if PERSON_FIELDS.contains(&base) => (true, base),
        _ => (false, name),
    };
    let key = match base {
        "delivery_date" | "delivery_slot" | "payment" | "ship_to" => format!("checkout.{base}"),
        _ => format!("field.{base}"),
    };
    let label = tr.t(&key);
    if recipient {
        tr.t("checkout.recipient_field").replace("{field}", label)
    } else {
        label.to_string()
    }
}

/// The card guard emptied these fields: the form comes back with each one marked and named,
/// and no draft is made, whatever else was typed.
fn mark_card_fields(form: &mut FormState, tr: Tr, emptied: &[String], known: &[String]) {
    let named: Vec<String> = emptied
        .iter()
        .filter(|name| known.contains(name))
        .map(|name| {
            form.errors
                .insert(name.clone(), field_message(tr, FieldError::CardNumber));
            tr.t("checkout.field_quoted")
                .replace("{field}", &field_label(tr, name))
        })
        .collect();
    let separator = if tr.0 == Lang::En { ", " } else { "" };
    form.general = Some(
        tr.t("checkout.error.card_number_emptied")
            .replace("{fields}", &named.join(separator)),
    );
}

pub async fn checkout_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    emptied: Option<Extension<CardFieldsEmptied>>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let Some((_, cart)) = cart_for_checkout(&state, &session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let fields = FormFields::parse(&body);
    let known = known_fields();
    let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
    let mut form = FormState::default();
    for name in &known {
        let value: String = fields.get(name).chars().take(FIELD_CHARS).collect();
        form.values.insert(name.clone(), value);
    }
    if let Some(Extension(CardFieldsEmptied(emptied))) = emptied {
        let typed = form.values.clone();
        let mut form = match validate(&state, form, ctx.tr) {
            Ok(_) => FormState {
                values: typed,
                ..FormState::default()
            },
            Err(form) => form,
        };
        mark_card_fields(&mut form, ctx.tr, &emptied, &known);
        return render_form(
            &state,
            ctx,
            &session,
            form,
            &cart,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let lookup = form.values.remove("lookup").unwrap_or_default();
    if !fields.malformed && matches!(lookup.as_str(), "billing" | "shipping") {
        let prefix = if lookup == "shipping" { "ship_" } else { "" };
        look_up_address(&mut form, ctx.tr, prefix);
        return render_form(&state, ctx, &session, form, &cart, StatusCode::OK).await;
    }
    if fields.malformed || !fields.unknown(&known_refs).is_empty() {
        form.general = Some(ctx.tr.t("checkout.error.unreadable").to_string());
        return render_form(
            &state,
            ctx,
            &session,
            form,
            &cart,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let typed = form.values.clone();
    match validate(&state, form, ctx.tr) {
        Ok(input) => {
            // A coupon that does not apply is named next to its field before the confirmation
            // page; everything typed stays.
            let customer = session.customer_id().await;
            if let Err(CheckoutError::Coupon(r)) =
                state.orders.quote(&cart, customer, &input).await?
            {
                let mut form = FormState {
                    values: typed,
                    ..FormState::default()
                };
                form.errors
                    .insert("coupon".into(), coupon_message(ctx.tr, r));
                return render_form(
                    &state,
                    ctx,
                    &session,
                    form,
                    &cart,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
            let mut data = session.data().await;
            let attempt = hex::encode(kura_seal::random_bytes::<16>().map_err(WebError::internal)?);
            data.checkout = Some(CheckoutDraft { attempt, input });
            session.set_data(data).await?;
            Ok(Redirect::to("/checkout/confirm").into_response())
        }
        Err(form) => {
            render_form(
                &state,
                ctx,
                &session,
                form,
                &cart,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

/// An address block as shown on confirmation and order pages.
pub struct PersonView {
    pub name: String,
    pub kana: String,
    pub postal_code: String,
    pub address: String,
    pub phone: String,
}

pub fn person_view(p: &Person, lang: Lang) -> PersonView {
    let pref = if lang == Lang::En {
        p.prefecture.name_en()
    } else {
        p.prefecture.name_ja()
    };
    let mut address = format!("{pref} {}", p.address1.as_str());
    if let Some(a2) = &p.address2 {
        address.push(' ');
        address.push_str(a2.as_str());
    }
    // English pages write names given name first; a Japanese page keeps the family name first.
    let (first, second, first_kana, second_kana) = if lang == Lang::En {
        (
            &p.given_name.as_str(),
            &p.family_name.as_str(),
            p.given_name_kana.as_str(),
            p.family_name_kana.as_str(),
        )
    } else {
        (
            &p.family_name.as_str(),
            &p.given_name.as_str(),
            p.family_name_kana.as_str(),
            p.given_name_kana.as_str(),
        )
    };
    PersonView {
        name: format!("{first} {second}"),
        // A reading in Latin letters that only repeats the name is not shown again.
        kana: if format!("{first_kana} {second_kana}") == format!("{first} {second}") {
            String::new()
        } else {
            format!("{first_kana} {second_kana}")
        },
        postal_code: p.postal_code.display(),
        address,
        phone: p.phone.as_str().to_string(),
    }
}

pub struct TotalsView {
    pub goods: String,
    /// What a coupon took off, when it took anything; `coupon_code` names it.
    pub discount: Option<String>,
    pub coupon_code: String,
    pub shipping: String,
    pub cod_fee: Option<String>,
    pub total: String,
    /// `None` when nothing is at the rate (no "10%対象 ¥0" line).
    pub standard_base: Option<String>,
    pub standard_tax: String,
    pub reduced_base: Option<String>,
    pub reduced_tax: String,
}

pub fn totals_view(t: &Totals) -> TotalsView {
    TotalsView {
        goods: t.goods.grouped(),
        discount: (t.discount.0 > 0).then(|| t.discount.grouped()),
        coupon_code: String::new(),
        shipping: t.shipping.grouped(),
        cod_fee: (t.cod_fee.0 > 0).then(|| t.cod_fee.grouped()),
        total: t.total.grouped(),
        standard_base: (t.tax.standard_total.0 > 0).then(|| t.tax.standard_total.grouped()),
        standard_tax: t.tax.standard_tax.grouped(),
        reduced_base: (t.tax.reduced_total.0 > 0).then(|| t.tax.reduced_total.grouped()),
        reduced_tax: t.tax.reduced_tax.grouped(),
    }
}

impl TotalsView {
    /// Names the coupon the discount line is for.
    pub fn with_coupon(mut self, code: Option<&str>) -> Self {
        self.coupon_code = code.unwrap_or_default().to_string();
        self
    }
}

/// The gift options as pages state them, in the visitor's language.
pub fn gift_text(tr: Tr, g: &kura_domain::Gift) -> String {
    if tr.0 == Lang::En {
        g.describe_en()
    } else {
        g.describe_ja()
    }
}

/// The のし purposes a form offers: (code, label).
pub fn noshi_choices(tr: Tr) -> Vec<Choice> {
    kura_domain::NoshiPurpose::ALL
        .iter()
        .map(|p| Choice {
            value: p.code().to_string(),
            label: if tr.0 == Lang::En {
                p.label_en()
            } else {
                p.label_ja()
            }
            .to_string(),
        })
        .collect()
}

pub fn delivery_text(tr: Tr, date: Option<Date>, slot: Option<DeliverySlot>) -> String {
    let en = tr.0 == Lang::En;
    let d = date.map_or_else(
        || tr.t("checkout.delivery.earliest").to_string(),
        |d| if en { d.label_en() } else { d.label_ja() },
    );
    let s = slot.map_or_else(
        || tr.t("checkout.delivery.any_time").to_string(),
        |s| if en { s.label_en() } else { s.label_ja() }.to_string(),
    );
    format!("{d} / {s}")
}

pub fn payment_text(tr: Tr, p: PaymentMethod) -> (&'static str, &'static str) {
    match p {
        PaymentMethod::Cod => (tr.t("payment.cod"), tr.t("payment.cod.timing")),
        PaymentMethod::BankTransfer => (
            tr.t("payment.bank_transfer"),
            tr.t("payment.bank_transfer.timing"),
        ),
        PaymentMethod::Card => (tr.t("payment.card"), tr.t("payment.card.timing")),
        PaymentMethod::Konbini => (tr.t("payment.konbini"), tr.t("payment.konbini.timing")),
    }
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage<'a> {
    ctx: PageContext,
    lines: Vec<LineView>,
    totals: TotalsView,
    has_reduced: bool,
    buyer: PersonView,
    email: String,
    recipient: Option<PersonView>,
    delivery: String,
    payment: &'static str,
    payment_timing: &'static str,
    attempt: String,
    /// The total shown, sent back with the order so a price that moved meanwhile is caught.
    shown_total: i64,
    legal: &'a crate::config::LegalNotice,
    message: Option<String>,
    blocked: bool,
    /// For a bank transfer: the day the money must arrive if the order is placed now, and
    /// that an order unpaid by then is cancelled.
    transfer_deadline: Option<String>,
    /// Without a chosen date: the earliest the promise allows to this destination.
    earliest: Option<String>,
    gift: Option<String>,
    note: Option<String>,
}

async fn render_confirm(
    state: &AppState,
    mut ctx: PageContext,
    session: &Session,
    message: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let Some((_, cart)) = cart_for_checkout(state, session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let Some(draft) = session.data().await.checkout else {
        return Ok(Redirect::to("/checkout").into_response());
    };
    ctx.csrf = session.csrf_token().await?;
    let input = &draft.input;
    let customer = session.customer_id().await;
    let totals = match state.orders.quote(&cart, customer, input).await? {
        Ok(t) => t,
        // The coupon stopped applying since the form (used meanwhile, expired at midnight, the
        // cart shrank): back to the form, the reason next to the field, nothing typed lost.
        Err(e) => return coupon_refused(state, ctx, session, input, &cart, &e).await,
    };
    let lang = ctx.tr.0;
    let (payment, payment_timing) = payment_text(ctx.tr, input.payment);
    let today = Date::today_in_japan(state.clock.now());
    let label = |d: Date| {
        if lang == Lang::En {
            d.label_en()
        } else {
            d.label_ja()
        }
    };
    let transfer_deadline = (input.payment == PaymentMethod::BankTransfer).then(|| {
        ctx.tr.t("confirm.transfer_deadline").replace(
            "{date}",
            &label(today.add_days(state.config.bank.deadline_days)),
        )
    });
    let destination = input.recipient.as_ref().unwrap_or(&input.buyer.person);
    let earliest = input.delivery_date.is_none().then(|| {
        ctx.tr.t("confirm.earliest").replace(
            "{date}",
            &label(kura_domain::calendar::earliest_delivery_to(
                today,
                destination.prefecture,
            )),
        )
    });
    let page = ConfirmPage {
        gift: input.gift.as_ref().map(|g| gift_text(ctx.tr, g)),
        note: input.note.clone(),
        transfer_deadline,
        earliest,
        lines: line_views(&cart, &ctx),
        totals: totals_view(&totals).with_coupon(
            input
                .coupon
                .as_ref()
                .map(|c| c.as_str())
                .filter(|_| totals.discount.0 > 0),
        ),
        has_reduced: cart.has_reduced(),
        buyer: person_view(&input.buyer.person, lang),
        email: input.buyer.email.as_str().to_string(),
        recipient: input.recipient.as_ref().map(|r| person_view(r, lang)),
        delivery: delivery_text(ctx.tr, input.delivery_date, input.delivery_slot),
        payment,
        payment_timing,
        attempt: draft.attempt.clone(),
        shown_total: totals.total.0,
        legal: if ctx.tr.0 == Lang::En {
            &state.config.legal_en
        } else {
            &state.config.legal
        },
        blocked: !cart.problems().is_empty(),
        message,
        ctx,
    };
    Ok((status, Html(page.render()?)).into_response())
}

pub async fn confirm_get(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
) -> Result<Response, WebError> {
    render_confirm(&state, ctx, &session, None, StatusCode::OK).await
}

pub async fn confirm_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    ip: Option<axum::Extension<crate::security::client_ip::ClientIp>>,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let fields = FormFields::parse(&body);
    let mut data = session.data().await;
    // A repeated submission after success: the draft is gone; show the order it made.
    let Some(draft) = data.checkout.clone() else {
        if let Some(last) = data.recent_orders.last()
            && let Some(order) = state.orders.view_by_id(*last).await?
        {
            return Ok(Redirect::to(&format!("/orders/{}", order.number)).into_response());
        }
        return Ok(Redirect::to("/checkout").into_response());
    };
    if fields.get("attempt") != draft.attempt {
        let message = Some(ctx_text(&ctx, "checkout.error.changed"));
        return render_confirm(&state, ctx, &session, message, StatusCode::CONFLICT).await;
    }
    let Some(cart_id) = current_cart(&state, &session).await? else {
        return Ok(Redirect::to("/cart").into_response());
    };
    let cart = state.carts.view(cart_id).await?;
    // The page sends back the total it showed; a form without one is out of date.
    let Ok(shown_total) = fields.get("total").parse::<i64>() else {
        let message = Some(ctx_text(&ctx, "checkout.error.price_changed"));
        return render_confirm(&state, ctx, &session, message, StatusCode::CONFLICT).await;
    };
    let customer = session.customer_id().await;
    match state
        .orders
        .place(
            &cart,
            Some(cart_id),
            customer,
            &draft.input,
            &format!("web:{}", draft.attempt),
            Some(Yen(shown_total)),
        )
        .await?
    {
        Ok(placed) => {
            data.checkout = None;
            data.recent_orders.push(placed.id);
            let keep = data.recent_orders.len().saturating_sub(5);
            data.recent_orders.drain(..keep);
            session.set_data(data).await?;
            match placed.payment_url {
                Some(url) => {
                    if !placed.repeated {
                        crate::security::guard::card_checkout_started(
                            &state,
                            ip.map(|i| i.0.0),
                            placed.id,
                        );
                    }
                    Ok(Redirect::to(&url).into_response())
                }
                None => Ok(Redirect::to(&format!("/orders/{}", placed.number)).into_response()),
            }
        }
        Err(e) => {
            let message = match &e {
                CheckoutError::EmptyCart => return Ok(Redirect::to("/cart").into_response()),
                CheckoutError::SoldOut { .. } | CheckoutError::Unavailable { .. } => {
                    ctx_text(&ctx, "checkout.error.sold_out")
                }
                CheckoutError::PriceChanged { .. } | CheckoutError::TotalChanged { .. } => {
                    ctx_text(&ctx, "checkout.error.price_changed")
                }
                CheckoutError::DeliveryDateOutOfRange => {
                    ctx_text(&ctx, "checkout.error.delivery_date_range")
                }
                CheckoutError::CardUnavailable => ctx_text(&ctx, "checkout.error.card_unavailable"),
                CheckoutError::Coupon(_) => {
                    return coupon_refused(&state, ctx, &session, &draft.input, &cart, &e).await;
                }
                CheckoutError::KonbiniLimit => ctx_text(&ctx, "checkout.error.konbini_limit"),
            };
            render_confirm(&state, ctx, &session, Some(message), StatusCode::CONFLICT).await
        }
    }
}

/// The checkout form again, filled in from `input`, with why its coupon does not apply next to
/// the coupon field (the cart and everything typed are kept).
async fn coupon_refused(
    state: &AppState,
    ctx: PageContext,
    session: &Session,
    input: &CheckoutInput,
    cart: &CartView,
    e: &CheckoutError,
) -> Result<Response, WebError> {
    let mut form = FormState {
        values: values_of(input),
        ..FormState::default()
    };
    if let CheckoutError::Coupon(r) = e {
        form.errors
            .insert("coupon".into(), coupon_message(ctx.tr, *r));
    }
    render_form(
        state,
        ctx,
        session,
        form,
        cart,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

fn ctx_text(ctx: &PageContext, key: &str) -> String {
    ctx.tr.t(key).to_string()
}
