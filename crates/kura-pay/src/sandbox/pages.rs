//! The sandbox's own HTML pages: the card form, the 3-D Secure challenge and short notices.
//!
//! Guarantees: every page is self-contained (inline CSS, no scripts, no external resources),
//! says plainly that it is a test payment page and not a real one, escapes every value it
//! shows, and never echoes a typed card number, expiry or security code back.

/// Page texts in the session's language ("ja" or anything else for English).
struct Texts {
    lang: &'static str,
    banner: &'static str,
    title: &'static str,
    amount: &'static str,
    merchant: &'static str,
    name: &'static str,
    number: &'static str,
    expiry: &'static str,
    cvc: &'static str,
    pay: &'static str,
    cancel: &'static str,
    hint: &'static str,
    three_ds_title: &'static str,
    three_ds_body: &'static str,
    complete: &'static str,
    fail: &'static str,
}

const EN: Texts = Texts {
    lang: "en",
    banner: "TEST MODE — Kura payment sandbox. This is not a real payment page; no money moves.",
    title: "Pay by card",
    amount: "Amount",
    merchant: "Merchant",
    name: "Cardholder name",
    number: "Card number",
    expiry: "Expiry (MM/YY)",
    cvc: "Security code (CVC)",
    pay: "Pay",
    cancel: "Cancel and return to the shop",
    hint: "Test cards: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is declined, 4000 0000 0000 3220 asks for 3-D Secure. Use any future expiry and any 3-digit code.",
    three_ds_title: "3-D Secure authentication (test)",
    three_ds_body: "Your card issuer asks you to confirm this payment. In the sandbox, choose the result.",
    complete: "Complete",
    fail: "Fail",
};

const JA: Texts = Texts {
    lang: "ja",
    banner: "テストモード — Kura 決済サンドボックス。本物の決済ページではありません。実際の請求は発生しません。",
    title: "カードで支払う",
    amount: "金額",
    merchant: "加盟店",
    name: "カード名義",
    number: "カード番号",
    expiry: "有効期限 (MM/YY)",
    cvc: "セキュリティコード",
    pay: "支払う",
    cancel: "キャンセルしてショップに戻る",
    hint: "テストカード: 4242 4242 4242 4242 は成功、4000 0000 0000 0002 は拒否、4000 0000 0000 3220 は 3-D セキュアを要求します。有効期限は未来の日付、コードは任意の 3 桁で構いません。",
    three_ds_title: "3-D セキュア認証 (テスト)",
    three_ds_body: "カード発行会社がこの支払いの確認を求めています。サンドボックスでは結果を選んでください。",
    complete: "Complete",
    fail: "Fail",
};

fn texts(locale: &str) -> &'static Texts {
    if locale == "ja" { &JA } else { &EN }
}

/// Escapes text for HTML element content and double-quoted attributes (OWASP XSS rule #1/#2).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// `¥12,345`.
pub fn format_yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if amount < 0 {
        format!("-¥{grouped}")
    } else {
        format!("¥{grouped}")
    }
}

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;font-family:system-ui,-apple-system,'Hiragino Sans','Noto Sans JP',sans-serif;background:#eef0f3;color:#1d232b}
.banner{background:#ffd43b;color:#1d232b;font-weight:700;padding:.6rem 1rem;text-align:center;border-bottom:3px dashed #1d232b}
main{max-width:28rem;margin:2rem auto;background:#fff;border-radius:.5rem;padding:1.5rem;box-shadow:0 1px 4px rgba(0,0,0,.15)}
h1{font-size:1.3rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem;margin:0 0 1.2rem}
dt{color:#59636e}dd{margin:0;font-weight:600}
.amount{font-size:1.5rem}
label{display:block;font-weight:600;margin:.8rem 0 .25rem}
input{width:100%;padding:.6rem;font-size:1rem;border:1px solid #8a939c;border-radius:.3rem}
input:focus{outline:3px solid #3b7ddd;outline-offset:1px}
.row{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
button{margin-top:1.2rem;width:100%;padding:.75rem;font-size:1rem;font-weight:700;border:0;border-radius:.3rem;background:#1f6f43;color:#fff;cursor:pointer}
button.fail{background:#a61b1b}
.error{background:#fdecec;border:1px solid #a61b1b;color:#7a1010;padding:.6rem;border-radius:.3rem;margin-bottom:1rem}
.hint{font-size:.85rem;color:#59636e;margin-top:1.2rem}
a{color:#1f4fa0}
";

fn page(t: &Texts, title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\">\
<title>{title} — TEST</title><style>{STYLE}</style></head>\
<body><div class=\"banner\" role=\"note\">{banner}</div><main>{body}</main></body></html>\n",
        lang = t.lang,
        title = escape(title),
        banner = escape(t.banner),
    )
}

fn summary(t: &Texts, amount: i64, description: &str) -> String {
    format!(
        "<dl><dt>{merchant}</dt><dd>{description}</dd>\
<dt>{amount_label}</dt><dd class=\"amount\" data-testid=\"amount\">{amount}</dd></dl>",
        merchant = escape(t.merchant),
        description = escape(description),
        amount_label = escape(t.amount),
        amount = escape(&format_yen(amount)),
    )
}

/// What the card form shows.
pub struct CardFormView<'a> {
    pub session_id: &'a str,
    pub amount: i64,
    pub description: &'a str,
    pub locale: &'a str,
    /// A problem with the last attempt (decline, invalid field), shown above the form.
    pub message: Option<&'a str>,
}

pub fn card_form(view: &CardFormView<'_>) -> String {
    let t = texts(view.locale);
    let id = escape(view.session_id);
    let message = view
        .message
        .map(|m| {
            format!(
                "<p class=\"error\" role=\"alert\" id=\"form-error\">{}</p>",
                escape(m)
            )
        })
        .unwrap_or_default();
    let described_by = if view.message.is_some() {
        " aria-describedby=\"form-error\""
    } else {
        ""
    };
    let body = format!(
        "<h1>{title}</h1>{summary}{message}\
<form method=\"post\" action=\"/pay/{id}\"{described_by}>\
<label for=\"name\">{name}</label>\
<input id=\"name\" name=\"name\" autocomplete=\"cc-name\" required>\
<label for=\"number\">{number}</label>\
<input id=\"number\" name=\"number\" autocomplete=\"cc-number\" inputmode=\"numeric\" required>\
<div class=\"row\"><div><label for=\"expiry\">{expiry}</label>\
<input id=\"expiry\" name=\"expiry\" autocomplete=\"cc-exp\" placeholder=\"MM/YY\" required></div>\
<div><label for=\"cvc\">{cvc}</label>\
<input id=\"cvc\" name=\"cvc\" autocomplete=\"cc-csc\" inputmode=\"numeric\" required></div></div>\
<button type=\"submit\">{pay} {amount}</button></form>\
<p><a href=\"/cancel/{id}\">{cancel}</a></p>\
<p class=\"hint\">{hint}</p>",
        title = escape(t.title),
        summary = summary(t, view.amount, view.description),
        name = escape(t.name),
        number = escape(t.number),
        expiry = escape(t.expiry),
        cvc = escape(t.cvc),
        pay = escape(t.pay),
        amount = escape(&format_yen(view.amount)),
        cancel = escape(t.cancel),
        hint = escape(t.hint),
    );
    page(t, t.title, &body)
}

pub fn three_ds(session_id: &str, amount: i64, description: &str, locale: &str) -> String {
    let t = texts(locale);
    let id = escape(session_id);
    let body = format!(
        "<h1>{title}</h1>{summary}<p>{text}</p>\
<form method=\"post\" action=\"/3ds/{id}\"><input type=\"hidden\" name=\"result\" value=\"complete\">\
<button type=\"submit\">{complete}</button></form>\
<form method=\"post\" action=\"/3ds/{id}\"><input type=\"hidden\" name=\"result\" value=\"fail\">\
<button type=\"submit\" class=\"fail\">{fail}</button></form>",
        title = escape(t.three_ds_title),
        summary = summary(t, amount, description),
        text = escape(t.three_ds_body),
        complete = escape(t.complete),
        fail = escape(t.fail),
    );
    page(t, t.three_ds_title, &body)
}

/// What the convenience-store pages say, in the session's language.
struct KonbiniTexts {
    title: &'static str,
    choose: &'static str,
    issue: &'static str,
    voucher_title: &'static str,
    store: &'static str,
    payment_code: &'static str,
    confirmation: &'static str,
    deadline: &'static str,
    how: &'static str,
    simulate: &'static str,
    paid: &'static str,
    lapsed: &'static str,
    back: &'static str,
}

const KONBINI_EN: KonbiniTexts = KonbiniTexts {
    title: "Pay at a convenience store",
    choose: "The store you will pay at",
    issue: "Get a payment number",
    voucher_title: "Your convenience-store payment",
    store: "Store",
    payment_code: "Payment number",
    confirmation: "Confirmation number",
    deadline: "Pay by",
    how: "Give these numbers at the store's counter or terminal and pay in cash by the deadline. After the deadline the number no longer works.",
    simulate: "Pay at the store (test)",
    paid: "This payment was received at the store.",
    lapsed: "The deadline passed without a payment; this number no longer works.",
    back: "Return to the shop",
};

const KONBINI_JA: KonbiniTexts = KonbiniTexts {
    title: "コンビニで支払う",
    choose: "お支払いになるコンビニ",
    issue: "お支払い番号を発行する",
    voucher_title: "コンビニでのお支払い",
    store: "コンビニ",
    payment_code: "お支払い番号",
    confirmation: "確認番号",
    deadline: "お支払い期限",
    how: "店頭のレジまたは端末でこれらの番号をお伝えのうえ、期限までに現金でお支払いください。期限を過ぎるとこの番号は使えなくなります。",
    simulate: "店頭で支払う (テスト)",
    paid: "店頭でのお支払いを受け付けました。",
    lapsed: "お支払いのないまま期限を過ぎました。この番号は使えません。",
    back: "ショップに戻る",
};

fn konbini_texts(locale: &str) -> &'static KonbiniTexts {
    if locale == "ja" {
        &KONBINI_JA
    } else {
        &KONBINI_EN
    }
}

/// The convenience-store page of a session: the customer picks the chain and gets a number.
/// `stores` is (code, Japanese name, English name).
pub fn konbini_form(
    session_id: &str,
    amount: i64,
    description: &str,
    locale: &str,
    stores: &[(&str, &str, &str)],
) -> String {
    let t = texts(locale);
    let k = konbini_texts(locale);
    let id = escape(session_id);
    let choices: String = stores
        .iter()
        .enumerate()
        .map(|(i, (code, ja, en))| {
            format!(
                "<label><input type=\"radio\" name=\"store\" value=\"{code}\"{checked} style=\"width:auto\"> {name}</label>",
                code = escape(code),
                checked = if i == 0 { " checked" } else { "" },
                name = escape(if locale == "ja" { ja } else { en }),
            )
        })
        .collect();
    let body = format!(
        "<h1>{title}</h1>{summary}\
<form method=\"post\" action=\"/pay/{id}\"><fieldset><legend>{choose}</legend>{choices}</fieldset>\
<button type=\"submit\">{issue}</button></form>\
<p><a href=\"/cancel/{id}\">{cancel}</a></p>",
        title = escape(k.title),
        summary = summary(t, amount, description),
        choose = escape(k.choose),
        issue = escape(k.issue),
        cancel = escape(t.cancel),
    );
    page(t, k.title, &body)
}

/// What a voucher page shows.
pub struct VoucherView<'a> {
    pub intent: &'a str,
    pub amount: i64,
    pub description: &'a str,
    pub locale: &'a str,
    /// The chain's name in the page's language.
    pub store: &'a str,
    pub payment_code: &'a str,
    pub confirmation: &'a str,
    /// The deadline as the page's language writes it.
    pub deadline: &'a str,
    pub paid: bool,
    pub lapsed: bool,
    pub back_url: &'a str,
}

/// The hosted voucher: the numbers to give at the store and the deadline; while it can still
/// be paid, a test button plays the store's part.
pub fn voucher(view: &VoucherView<'_>) -> String {
    let t = texts(view.locale);
    let k = konbini_texts(view.locale);
    let state = if view.paid {
        format!(
            "<p role=\"status\" data-testid=\"voucher-state\">{}</p>",
            escape(k.paid)
        )
    } else if view.lapsed {
        format!(
            "<p class=\"error\" role=\"status\" data-testid=\"voucher-state\">{}</p>",
            escape(k.lapsed)
        )
    } else {
        format!(
            "<p>{how}</p><form method=\"post\" action=\"/voucher/{intent}/pay\"><button type=\"submit\">{simulate}</button></form>",
            how = escape(k.how),
            intent = escape(view.intent),
            simulate = escape(k.simulate),
        )
    };
    let body = format!(
        "<h1>{title}</h1>{summary}\
<dl><dt>{store_label}</dt><dd>{store}</dd>\
<dt>{code_label}</dt><dd data-testid=\"payment-code\">{code}</dd>\
<dt>{confirmation_label}</dt><dd data-testid=\"confirmation\">{confirmation}</dd>\
<dt>{deadline_label}</dt><dd data-testid=\"deadline\">{deadline}</dd></dl>\
{state}<p><a href=\"{back_url}\">{back}</a></p>",
        title = escape(k.voucher_title),
        summary = summary(t, view.amount, view.description),
        store_label = escape(k.store),
        store = escape(view.store),
        code_label = escape(k.payment_code),
        code = escape(view.payment_code),
        confirmation_label = escape(k.confirmation),
        confirmation = escape(view.confirmation),
        deadline_label = escape(k.deadline),
        deadline = escape(view.deadline),
        back_url = escape(view.back_url),
        back = escape(k.back),
    );
    page(t, k.voucher_title, &body)
}

/// A short page with a heading, a sentence and an optional link back.
pub fn notice(locale: &str, heading: &str, text: &str, link: Option<(&str, &str)>) -> String {
    let t = texts(locale);
    let link = link
        .map(|(href, label)| format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(label)))
        .unwrap_or_default();
    let body = format!(
        "<h1>{}</h1><p role=\"status\">{}</p>{link}",
        escape(heading),
        escape(text)
    );
    page(t, heading, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yen_is_grouped() {
        assert_eq!(format_yen(0), "¥0");
        assert_eq!(format_yen(999), "¥999");
        assert_eq!(format_yen(1000), "¥1,000");
        assert_eq!(format_yen(1_234_567), "¥1,234,567");
    }

    #[test]
    fn form_escapes_and_labels() {
        let html = card_form(&CardFormView {
            session_id: "cs_test_1",
            amount: 3300,
            description: "<script>x</script>",
            locale: "en",
            message: Some("declined"),
        });
        assert!(!html.contains("<script>x"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("¥3,300"));
        assert!(html.contains("TEST MODE"));
        for field in ["name", "number", "expiry", "cvc"] {
            assert!(
                html.contains(&format!("<label for=\"{field}\">")),
                "{field}"
            );
        }
        assert!(!html.contains("http"), "no external resources");
    }
}
