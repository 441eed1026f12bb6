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
