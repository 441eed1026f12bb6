//! Incidents from the back office: the owner declares one (a bad form is refused with its
//! input kept), sees the report clocks, publishes dated entries in Japanese and English on a
//! public notice page that every page then links, and closes the shop for ordering
//! (the switch, or `kura maintenance`), while the notice, the mail-check page and the desk stay
//! open. Only the owner reaches any of it, and every step is in the audit log.

use axum::body::Body;
use axum::http::Request;
use kura_app::staff::Role;

use crate::backoffice::{OWNER_PASSWORD, add_staff, enrol, location, office, sign_in};
use crate::support::{Client, Reply};

async fn get_in(c: &mut Client, path: &str, lang: &str) -> Reply {
    c.send(
        Request::get(path)
            .header("accept-language", lang)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

fn declare_form<'a>(csrf: &'a str, window_end: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf_token", csrf),
        ("title", "不正アクセスによる個人情報漏えいのおそれ"),
        ("discovered_at", "2027-01-14T10:00"),
        ("window_start", "2026-12-20T00:00"),
        ("window_end", window_end),
        ("cause", "決済画面の改ざん。調査中。"),
        ("cat_name", "on"),
        ("cat_email", "on"),
        ("cat_address", "on"),
        ("keys_exposed", "no"),
        ("attack", "on"),
    ]
}

#[tokio::test]
async fn the_owner_declares_publishes_a_bilingual_notice_and_closes_ordering() {
    // The office's clock stands at 2027-01-15 17:00 in Japan.
    let office = office(None).await;
    let (mut owner, _secret) = enrol(&office, "boss", OWNER_PASSWORD).await;
    let csrf = owner.csrf_from("/admin/incidents").await;

    // A window that ends before it starts is refused; what was typed is kept.
    let r = owner
        .post_form("/admin/incidents", &declare_form(&csrf, "2026-12-01T00:00"))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body
            .contains("期間の始まりと終わりを正しく入力してください"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("決済画面の改ざん。調査中。"),
        "the cause is kept"
    );
    assert!(office.state.store.incidents().await.unwrap().is_empty());

    let r = owner
        .post_form("/admin/incidents", &declare_form(&csrf, "2027-01-14T09:00"))
        .await;
    assert!(r.status.is_redirection(), "{}", r.body);
    let detail = location(&r);
    let id = detail.rsplit('/').next().unwrap().to_string();
    let page = owner.get(&detail).await;
    assert_eq!(page.status, 200);
    // Found 2027-01-14 10:00: preliminary about five days on, final 60 days on (an attack).
    assert!(page.body.contains("2027-01-19 10:00"), "{}", page.body);
    assert!(page.body.contains("2027-03-15 10:00"), "{}", page.body);
    assert!(page.body.contains("あと3日"), "3 days 17 hours left");
    assert!(page.body.contains("不正の目的によるため、発覚から60日以内"));

    // Nothing is public before the first entry.
    let mut visitor = Client::new(&office.router);
    assert_eq!(visitor.get(&format!("/notices/{id}")).await.status, 404);
    assert!(!visitor.get("/").await.body.contains("incident-banner"));

    // An entry without its English half is refused; with both it is published.
    let entry = |en: &'static str| {
        vec![
            ("csrf_token", csrf.clone()),
            ("kind", "first".to_string()),
            ("title_ja", "不正アクセスに関するお詫びとお知らせ".to_string()),
            (
                "body_ja",
                "このたび、当店のサイトが不正アクセスを受けました。\n\n当店からカード番号をおたずねするメールは送りません。".to_string(),
            ),
            ("title_en", en.to_string()),
            (
                "body_en",
                if en.is_empty() { String::new() } else { "Our shop was accessed without authorisation.\n\nWe never ask for your card number by mail.".to_string() },
            ),
        ]
    };
    let half = entry("");
    let half: Vec<(&str, &str)> = half.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner
        .post_form(&format!("/admin/incidents/{id}/entries"), &half)
        .await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("日本語と英語の両方"), "{}", r.body);
    let full = entry("Our apology and notice about unauthorised access");
    let full: Vec<(&str, &str)> = full.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = owner
        .post_form(&format!("/admin/incidents/{id}/entries"), &full)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("お知らせページに掲載しました"));

    // The notice is public in both languages, dated, and every page links it.
    let ja = get_in(&mut visitor, &format!("/notices/{id}"), "ja").await;
    assert_eq!(ja.status, 200);
    assert!(ja.body.contains("不正アクセスに関するお詫びとお知らせ"));
    assert!(ja.body.contains("2027/01/15"), "dated: {}", ja.body);
    assert!(ja.body.contains("第一報"));
    assert!(
        ja.body
            .contains("<p>当店からカード番号をおたずねするメールは送りません。</p>")
    );
    let en = get_in(&mut visitor, &format!("/notices/{id}"), "en").await;
    assert!(
        en.body
            .contains("Our apology and notice about unauthorised access")
    );
    assert!(en.body.contains("First report"));
    assert!(!en.body.contains("不正アクセスに関するお詫び"));
    let home = visitor.get("/").await;
    assert!(
        home.body.contains(&format!(
            "<a href=\"/notices/{id}\">不正アクセスに関するお詫びとお知らせ</a>"
        )),
        "{}",
        home.body
    );
    let list = visitor.get("/notices").await;
    assert!(list.body.contains(&format!("/notices/{id}")));

    // Maintenance: ordering closes on every storefront page and the API, with the notice
    // linked; the notice, the mail check, the desk and the back office stay open.
    let r = owner
        .post_form(
            "/admin/maintenance",
            &[("csrf_token", &csrf), ("maintenance", "on")],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("注文を停止しました"));
    for path in ["/", "/cart", "/products/rice", "/login", "/orders/lookup"] {
        let r = visitor.get(path).await;
        assert_eq!(r.status, 503, "{path}");
        assert!(r.body.contains("ただいまご注文を停止しています"), "{path}");
        assert!(r.body.contains(&format!("/notices/{id}")), "{path}");
        assert_eq!(r.headers.get("retry-after").unwrap(), "3600");
    }
    let add = visitor
        .post_form("/cart/add", &[("sku", "R-2KG"), ("quantity", "1")])
        .await;
    assert_eq!(add.status, 503);
    let api = visitor.get("/api/v1/products").await;
    assert_eq!(api.status, 503);
    assert!(api.body.contains("\"maintenance\""));
    for path in [
        "/notices",
        &format!("/notices/{id}"),
        "/mail-check",
        "/contact",
        "/legal",
    ] {
        assert_eq!(visitor.get(path).await.status, 200, "{path}");
    }
    assert_eq!(owner.get("/admin/incidents").await.status, 200);
    let en = get_in(&mut visitor, "/", "en").await;
    assert!(en.body.contains("Ordering is paused"), "{}", en.body);

    // The command line opens it again; this node follows at its next refresh.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kura"))
        .args(["maintenance", "off", "--dir"])
        .arg(office._dir.path())
        .env_remove("KURA_TEST_PG_URL")
        .env("KURA_MAIL_TRANSPORT", "outbox")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("maintenance: off"));
    office.state.incidents.refresh().await.unwrap();
    assert_eq!(visitor.get("/").await.status, 200);

    // Closing the incident takes the banner down; the notice stays.
    let r = owner
        .post_form(
            &format!("/admin/incidents/{id}/close"),
            &[("csrf_token", &csrf)],
        )
        .await;
    assert!(r.body.contains("インシデントを終了しました"));
    assert!(!visitor.get("/").await.body.contains("incident-banner"));
    assert_eq!(visitor.get(&format!("/notices/{id}")).await.status, 200);

    // Everything the owner did is in the audit log.
    let log = office
        .state
        .audit
        .page(&kura_app::records::AuditFilter::default(), None, 50)
        .await
        .unwrap();
    for action in [
        "incident.declare",
        "incident.publish",
        "shop.maintenance_on",
        "shop.maintenance_off",
        "incident.close",
    ] {
        assert!(log.iter().any(|e| e.action == action), "{action}");
    }
}

#[tokio::test]
async fn only_the_owner_reaches_incidents_and_maintenance() {
    let office = office(None).await;
    let pw = "manager passphrase: copper kettle morning 18";
    add_staff(&office.state, "kimura", Role::Manager, pw).await;
    let (_, secret) = enrol(&office, "kimura", pw).await;
    let mut manager = sign_in(&office, "kimura", pw, &secret).await;
    assert_eq!(manager.get("/admin/incidents").await.status, 403);
    let csrf = manager.csrf_from("/admin").await;
    let r = manager
        .post_form(
            "/admin/maintenance",
            &[("csrf_token", &csrf), ("maintenance", "on")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(!office.state.incidents.maintenance());
}
