//! The web layer's defences, seen from a browser: forged and cross-site posts refused, oversized
//! bodies stopped with a clear page, sessions that cannot be fixed or outlive a sign-out,
//! security headers on every answer, error pages that echo nothing, rate limits that a client
//! cannot dodge by lying about its address, and sign-in failures that say the same thing
//! whether or not the account exists.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use secrecy::SecretString;

use crate::support::{self, Client, Reply, TestShop, encode_form};

const CSRF_TITLE_JA: &str = "画面の有効期限が切れました";
const CSRF_TITLE_EN: &str = "This page has expired";
const CROSS_SITE_TITLE_JA: &str = "外部サイトからの送信は受け付けません";
const TOO_LARGE_TITLE_JA: &str = "送信内容が大きすぎます";
const TOO_MANY_TITLE_JA: &str = "アクセスが集中しています";
const LOGIN_FAILED_JA: &str = "メールアドレスまたはパスワードが正しくありません。";

/// A shop with the demo account (見本 花子) registered.
async fn shop_with_demo() -> TestShop {
    let shop = support::sqlite_shop().await;
    kura::demo::ensure_demo_account(&shop.state.customers)
        .await
        .unwrap();
    shop
}

/// A same-origin form post, as `Client::post_form` sends it, with extra headers on top.
fn form_request(path: &str, body: impl Into<Body>, extra: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("host", "shop.test");
    let overrides: Vec<&str> = extra.iter().map(|(k, _)| *k).collect();
    if !overrides.contains(&"origin") {
        b = b.header("origin", "http://shop.test");
    }
    if !overrides.contains(&"sec-fetch-site") {
        b = b.header("sec-fetch-site", "same-origin");
    }
    for (k, v) in extra {
        if !v.is_empty() {
            b = b.header(*k, *v);
        }
    }
    b.body(body.into()).unwrap()
}

fn login_fields<'a>(email: &'a str, password: &'a str, token: &'a str) -> [(&'a str, &'a str); 3] {
    [
        ("email", email),
        ("password", password),
        ("csrf_token", token),
    ]
}

/// Signs in with the demo account; returns the session cookie value set by the sign-in.
async fn sign_in_demo(client: &mut Client) -> String {
    let token = client.csrf_from("/login").await;
    let reply = client
        .post_form(
            "/login",
            &login_fields(kura::demo::DEMO_EMAIL, kura::demo::DEMO_PASSWORD, &token),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "sign-in failed: {}",
        reply.body
    );
    assert_eq!(location(&reply), "/account");
    client
        .cookies
        .get("kura_session")
        .cloned()
        .expect("a session cookie after sign-in")
}

fn location(reply: &Reply) -> &str {
    reply
        .headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// GET with an explicit cookie header (bypassing the client's jar).
async fn get_with_cookie(client: &mut Client, path: &str, cookie: &str) -> Reply {
    client
        .send(
            Request::get(path)
                .header("cookie", format!("kura_session={cookie}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
}

async fn assert_signed_out(client: &mut Client) {
    let account = client.get("/account").await;
    assert_eq!(
        account.status,
        StatusCode::SEE_OTHER,
        "/account answered {} while nobody should be signed in",
        account.status
    );
    assert_eq!(location(&account), "/login");
}

/// Nothing internal on a page: no echoed script, no SQL, no driver name, no panic or backtrace.
fn assert_leaks_nothing(reply: &Reply) {
    assert_ne!(
        reply.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        reply.body
    );
    for needle in [
        "<script>alert",
        "SELECT",
        "select ",
        "INSERT",
        "sqlx",
        "sqlite",
        "postgres",
        "panicked",
        "backtrace",
        "RUST_BACKTRACE",
        ".rs:",
        "unknown field",
        "invalid utf-8",
    ] {
        assert!(
            !reply.body.contains(needle),
            "page leaks {needle:?}:\n{}",
            reply.body
        );
    }
}

#[tokio::test]
async fn forged_csrf_post_is_refused_with_a_page_in_the_visitors_language() {
    let shop = shop_with_demo().await;
    let mut client = Client::new(&shop.router);
    let good = client.csrf_from("/login").await;
    assert!(
        client.cookies.contains_key("kura_session"),
        "GET /login should start a session"
    );

    // The credentials are right: only the CSRF check stands between this post and a sign-in.
    let (email, password) = (kura::demo::DEMO_EMAIL, kura::demo::DEMO_PASSWORD);
    let forged = format!("{good}x");
    let wrong_session = {
        let mut other = Client::new(&shop.router);
        other.csrf_from("/login").await
    };
    for token in [forged.as_str(), "", "1.AAAA", wrong_session.as_str()] {
        let reply = client
            .post_form("/login", &login_fields(email, password, token))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "token {token:?}: {}",
            reply.body
        );
        assert!(
            reply.body.contains(CSRF_TITLE_JA),
            "token {token:?}: {}",
            reply.body
        );
        assert!(reply.body.contains("<html lang=\"ja\""), "{}", reply.body);
    }
    // No token field at all.
    let reply = client
        .post_form("/login", &[("email", email), ("password", password)])
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains(CSRF_TITLE_JA));

    // The same refusal in English for an English browser.
    let body = encode_form(&login_fields(email, password, &forged));
    let reply = client
        .send(form_request(
            "/login",
            body,
            &[("accept-language", "en-GB,en;q=0.9")],
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains(CSRF_TITLE_EN), "{}", reply.body);
    assert!(!reply.body.contains(CSRF_TITLE_JA));
    assert!(reply.body.contains("<html lang=\"en\""), "{}", reply.body);

    assert_signed_out(&mut client).await;

    // The real token still works, so the refusals above were about the token alone.
    let reply = client
        .post_form("/login", &login_fields(email, password, &good))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
}

#[tokio::test]
async fn cross_site_posts_are_refused_even_with_a_valid_token() {
    let shop = shop_with_demo().await;
    let mut client = Client::new(&shop.router);
    let token = client.csrf_from("/login").await;
    let body = || {
        encode_form(&login_fields(
            kura::demo::DEMO_EMAIL,
            kura::demo::DEMO_PASSWORD,
            &token,
        ))
    };

    let cases: [&[(&str, &str)]; 4] = [
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example"), ("sec-fetch-site", "")],
        &[("origin", "null"), ("sec-fetch-site", "")],
    ];
    for extra in cases {
        let reply = client.send(form_request("/login", body(), extra)).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{extra:?}: {}",
            reply.body
        );
        assert!(
            reply.body.contains(CROSS_SITE_TITLE_JA),
            "{extra:?}: {}",
            reply.body
        );
        assert!(
            !reply.body.contains(CSRF_TITLE_JA),
            "{extra:?} should be refused as cross-site"
        );
    }
    assert_signed_out(&mut client).await;

    // Same token, same body, from the shop's own page: accepted.
    let reply = client.send(form_request("/login", body(), &[])).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
}

#[tokio::test]
async fn oversized_bodies_get_413_and_a_clear_page() {
    let shop = support::sqlite_shop().await;
    let limit = shop.config.server.body_limit_bytes;
    let mut client = Client::new(&shop.router);
    let token = client.csrf_from("/login").await;
    let big = |n: usize| {
        format!(
            "csrf_token={token}&email=a%40b.jp&password={}",
            "x".repeat(n)
        )
    };

    // Declared too large: refused before a byte is read.
    let body = big(limit + 1);
    let len = body.len().to_string();
    let reply = client
        .send(form_request("/login", body, &[("content-length", &len)]))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
    assert!(reply.body.contains(TOO_LARGE_TITLE_JA), "{}", reply.body);
    assert_leaks_nothing(&reply);

    // No declared length (a streamed, chunked body), token in the form: cut off at the limit.
    let stream = Body::from(big(limit + 1)).into_data_stream();
    let reply = client
        .send(form_request("/login", Body::from_stream(stream), &[]))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.body
    );
    assert!(reply.body.contains(TOO_LARGE_TITLE_JA), "{}", reply.body);
    assert_leaks_nothing(&reply);

    // Just under the limit is an ordinary (failed) sign-in.
    let ok = client
        .post_form(
            "/login",
            &login_fields("a@b.jp", &"x".repeat(limit / 2), &token),
        )
        .await;
    assert_eq!(ok.status, StatusCode::UNAUTHORIZED, "{}", ok.body);
}

/// A streamed body over the limit whose CSRF token comes in the `x-csrf-token` header passes
/// the CSRF layer unread and is cut off by the handler's form extractor. The visitor must
/// still be told the body was too large (413), not that the form was unreadable (422).
#[tokio::test]
async fn oversized_streamed_body_cut_off_by_the_form_extractor_gets_413() {
    let shop = support::sqlite_shop().await;
    let limit = shop.config.server.body_limit_bytes;
    let mut client = Client::new(&shop.router);
    let token = client.csrf_from("/login").await;
    let stream =
        Body::from(format!("email=a%40b.jp&password={}", "x".repeat(limit + 1))).into_data_stream();
    let reply = client
        .send(form_request(
            "/login",
            Body::from_stream(stream),
            &[("x-csrf-token", &token)],
        ))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "streamed body over the limit: {}",
        reply.body
    );
    assert!(reply.body.contains(TOO_LARGE_TITLE_JA), "{}", reply.body);
    assert_leaks_nothing(&reply);
}

#[tokio::test]
async fn a_session_from_before_sign_in_is_dead_after_it() {
    let shop = shop_with_demo().await;
    let mut client = Client::new(&shop.router);
    let token = client.csrf_from("/login").await;
    let before = client
        .cookies
        .get("kura_session")
        .cloned()
        .expect("GET /login sets a session cookie");

    let after = sign_in_demo_with(&mut client, &token).await;
    assert_ne!(before, after, "the session token must change on sign-in");

    let old = get_with_cookie(&mut client, "/account", &before).await;
    assert_eq!(
        old.status,
        StatusCode::SEE_OTHER,
        "the pre-login cookie still works: {}",
        old.body
    );
    assert_eq!(location(&old), "/login");
    assert!(!old.body.contains("見本"));

    let new = get_with_cookie(&mut client, "/account", &after).await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    assert!(
        new.body.contains("見本"),
        "the account page shows the family name: {}",
        new.body
    );
}

async fn sign_in_demo_with(client: &mut Client, token: &str) -> String {
    let reply = client
        .post_form(
            "/login",
            &login_fields(kura::demo::DEMO_EMAIL, kura::demo::DEMO_PASSWORD, token),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::SEE_OTHER,
        "sign-in failed: {}",
        reply.body
    );
    assert_eq!(location(&reply), "/account");
    client
        .cookies
        .get("kura_session")
        .cloned()
        .expect("a session cookie after sign-in")
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server() {
    let shop = shop_with_demo().await;
    let mut client = Client::new(&shop.router);
    let cookie = sign_in_demo(&mut client).await;
    let page = client.get("/account").await;
    assert_eq!(page.status, StatusCode::OK);
    let token = support::hidden_value(&page.body, "csrf_token")
        .expect("the account page has a sign-out form");

    let out = client.post_form("/logout", &[("csrf_token", &token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(location(&out), "/");
    assert!(
        !client.cookies.contains_key("kura_session"),
        "the browser is told to forget the cookie"
    );

    // A copy of the cookie kept by an attacker (or a browser that ignored Max-Age=0) is dead.
    let replay = get_with_cookie(&mut client, "/account", &cookie).await;
    assert_eq!(replay.status, StatusCode::SEE_OTHER, "{}", replay.body);
    assert_eq!(location(&replay), "/login");
    let parsed = kura_seal::SessionToken::parse(&cookie).expect("the cookie is a session token");
    assert!(
        shop.state.sessions.load(&parsed).await.unwrap().is_none(),
        "the session row still exists"
    );
}

fn assert_security_headers(reply: &Reply, what: &str) {
    let csp = header(reply, "content-security-policy");
    for part in [
        "'nonce-",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "report-uri /csp-report",
        "report-to csp",
    ] {
        assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
    }
    assert_eq!(
        header(reply, "reporting-endpoints"),
        "csp=\"/csp-report\"",
        "{what}"
    );
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(header(reply, "x-content-type-options"), "nosniff", "{what}");
    assert!(
        !header(reply, "referrer-policy").is_empty(),
        "{what}: no Referrer-Policy"
    );
    let id = header(reply, "x-request-id");
    assert!(
        id.len() >= 8 && id.chars().all(|c| c.is_ascii_alphanumeric()),
        "{what}: x-request-id {id:?}"
    );
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_an_operation_id() {
    let shop = support::sqlite_shop().await;
    let mut client = Client::new(&shop.router);

    let ok = client.get("/login").await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_security_headers(&ok, "200 page");

    let missing = client.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers(&missing, "404 page");
    let id = header(&missing, "x-request-id");
    assert!(
        missing.body.contains(&format!("<code>{id}</code>")),
        "the 404 page shows operation id {id}: {}",
        missing.body
    );

    let forged = client
        .post_form("/login", &login_fields("a@b.jp", "pw", "forged"))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_security_headers(&forged, "403 page");
    let id = header(&forged, "x-request-id");
    assert!(
        forged.body.contains(&format!("<code>{id}</code>")),
        "the 403 page shows operation id {id}"
    );

    // Each answer has its own id and its own nonce.
    assert_ne!(
        header(&ok, "x-request-id"),
        header(&missing, "x-request-id")
    );
    assert_ne!(
        header(&ok, "content-security-policy"),
        header(&missing, "content-security-policy")
    );
    // A client-chosen id is not taken over.
    let chosen = client
        .send(
            Request::get("/nope")
                .header("x-request-id", "attacker-chosen")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(header(&chosen, "x-request-id"), "attacker-chosen");
    assert!(!chosen.body.contains("attacker-chosen"));

    // Plain HTTP: no HSTS, a plain cookie name without Secure.
    for reply in [&ok, &missing, &forged] {
        assert!(reply.headers.get("strict-transport-security").is_none());
    }
    let cookie = header(&ok, "set-cookie");
    assert!(cookie.starts_with("kura_session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn over_tls_hsts_is_sent_and_the_cookie_is_host_locked() {
    let shop = support::shop_with(None, |c| {
        c.server.public_url = Some("https://shop.example".into())
    })
    .await;
    let mut client = Client::new(&shop.router);
    let login = client.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_security_headers(&login, "200 page over TLS");
    let hsts = header(&login, "strict-transport-security");
    assert!(
        hsts.contains("max-age=") && !hsts.contains("max-age=0"),
        "HSTS {hsts:?}"
    );
    let missing = client.get("/nope").await;
    assert!(
        missing.headers.get("strict-transport-security").is_some(),
        "HSTS on error pages too"
    );

    let cookie = header(&login, "set-cookie");
    assert!(cookie.starts_with("__Host-kura_session="), "{cookie}");
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).skip(1).collect();
    for want in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attrs.contains(&want), "cookie {cookie:?} lacks {want}");
    }
    assert!(
        !attrs.iter().any(|a| a.starts_with("Domain")),
        "a __Host- cookie has no Domain: {cookie}"
    );

    // The shop's https origin is the only one forms may come from.
    let token = support::hidden_value(&login.body, "csrf_token").unwrap();
    let body = encode_form(&login_fields("a@b.jp", "pw", &token));
    let reply = client
        .send(form_request(
            "/login",
            body,
            &[("origin", "http://shop.example")],
        ))
        .await;
    assert_eq!(
        reply.status,
        StatusCode::FORBIDDEN,
        "an http:// origin posted to an https shop"
    );
}

#[tokio::test]
async fn error_pages_never_echo_input() {
    // Every request here is an attack payload; the guard would block this client after a few
    // (its own tests show that). Here the pages themselves are under test.
    let shop = support::shop_with(None, |c| {
        c.guard.never_block = vec!["192.0.2.0/24".parse().unwrap()];
    })
    .await;
    let mut client = Client::new(&shop.router);

    for path in [
        "/nope?q=%3Cscript%3Ealert(1)%3C/script%3E",
        "/nope?q=<script>alert(1)</script>",
        "/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/nope?q=1%27%20OR%201=1;%20SELECT%20*%20FROM%20customers--",
    ] {
        let Ok(req) = Request::get(path).body(Body::empty()) else {
            continue;
        };
        let reply = client.send(req).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        assert_leaks_nothing(&reply);
        // The error page quotes nothing of the request, not even escaped.
        assert!(!reply.body.contains("alert"), "{path}: {}", reply.body);
    }

    let token = client.csrf_from("/login").await;
    // Broken UTF-8 in the email, and script in it.
    let mut body =
        b"email=%3Cscript%3Ealert(1)%3C%2Fscript%3E%FF%FE&password=x&csrf_token=".to_vec();
    body.extend_from_slice(token.as_bytes());
    let reply = client.send(form_request("/login", body, &[])).await;
    assert!(
        reply.status.is_client_error(),
        "{}: {}",
        reply.status,
        reply.body
    );
    assert_leaks_nothing(&reply);

    // Raw invalid bytes (not percent-encoded).
    let mut body = b"email=\xff\xfe\xfd&password=\xc3\x28&csrf_token=".to_vec();
    body.extend_from_slice(token.as_bytes());
    let reply = client.send(form_request("/login", body, &[])).await;
    assert!(
        reply.status.is_client_error(),
        "{}: {}",
        reply.status,
        reply.body
    );
    assert_leaks_nothing(&reply);

    // An unknown form field, whose name is script.
    let reply = client
        .post_form(
            "/login",
            &[
                ("email", "a@b.jp"),
                ("password", "x"),
                ("csrf_token", &token),
                ("<script>alert(1)</script>", "SELECT 1"),
            ],
        )
        .await;
    assert!(
        reply.status.is_client_error(),
        "{}: {}",
        reply.status,
        reply.body
    );
    assert_leaks_nothing(&reply);

    // SQL-shaped input in the email field.
    let reply = client
        .post_form(
            "/login",
            &login_fields("' OR 1=1; SELECT * FROM customers --", "x", &token),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    assert!(!reply.body.contains("<script>alert"));
    assert!(!reply.body.contains("sqlx"));

    // A form that is not a form at all.
    let reply = client
        .send(form_request(
            "/login",
            "{\"email\":\"<script>alert(1)</script>\"}",
            &[
                ("content-type", "application/json"),
                ("x-csrf-token", &token),
            ],
        ))
        .await;
    assert!(
        reply.status.is_client_error(),
        "{}: {}",
        reply.status,
        reply.body
    );
    assert_leaks_nothing(&reply);
}

#[tokio::test]
async fn rate_limit_answers_429_and_ignores_forwarded_for_from_untrusted_peers() {
    let shop = support::shop_with(None, |c| {
        c.server.rate_limit_per_second = 1;
        c.server.rate_limit_burst = 3;
    })
    .await;
    let mut client = Client::new(&shop.router);
    for i in 0..3 {
        assert_eq!(
            client.get("/healthz").await.status,
            StatusCode::OK,
            "request {i} within the burst"
        );
    }
    let limited = client.get("/healthz").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = header(&limited, "retry-after")
        .parse()
        .expect("a numeric Retry-After");
    assert!(retry >= 1, "Retry-After {retry}");
    assert!(limited.body.contains(TOO_MANY_TITLE_JA), "{}", limited.body);
    assert_security_headers(&limited, "429 page");

    // Claiming another address does not help a client that is not a trusted proxy.
    for xff in ["1.2.3.4", "5.6.7.8, 9.9.9.9"] {
        let req = Request::get("/healthz")
            .header("x-forwarded-for", xff)
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            client.send(req).await.status,
            StatusCode::TOO_MANY_REQUESTS,
            "X-Forwarded-For {xff} dodged the limit"
        );
    }

    // Another peer has its own bucket.
    let mut other = Client::new(&shop.router);
    other.peer = "198.51.100.77:5000".parse().unwrap();
    assert_eq!(other.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_bucket() {
    let shop = support::shop_with(None, |c| {
        c.server.rate_limit_per_second = 1;
        c.server.rate_limit_burst = 2;
        c.server.trusted_proxies = vec!["192.0.2.0/24".parse().unwrap()];
    })
    .await;
    let mut proxy = Client::new(&shop.router);
    assert!(shop.config.server.trusted_proxies[0].contains(&proxy.peer.ip()));
    let get = |xff: &'static str| {
        Request::get("/healthz")
            .header("x-forwarded-for", xff)
            .body(Body::empty())
            .unwrap()
    };

    assert_eq!(proxy.send(get("1.2.3.4")).await.status, StatusCode::OK);
    assert_eq!(proxy.send(get("1.2.3.4")).await.status, StatusCode::OK);
    assert_eq!(
        proxy.send(get("1.2.3.4")).await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "1.2.3.4 exceeded its burst"
    );
    // Other clients behind the same proxy are not punished for 1.2.3.4.
    assert_eq!(proxy.send(get("5.6.7.8")).await.status, StatusCode::OK);
    assert_eq!(proxy.send(get("5.6.7.8")).await.status, StatusCode::OK);
    assert_eq!(
        proxy.send(get("203.0.113.50, 192.0.2.99")).await.status,
        StatusCode::OK
    );
    // The proxy's own address has a bucket of its own too.
    assert_eq!(proxy.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(
        proxy.send(get("1.2.3.4")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let shop = support::sqlite_shop().await;
    let profile = support::profile(1);
    shop.state
        .customers
        .register(
            &profile,
            Some(SecretString::from(
                "correct horse battery staple 2026".to_string(),
            )),
        )
        .await
        .unwrap();
    let email = profile.email.as_str().to_string();
    let mut client = Client::new(&shop.router);
    let token = client.csrf_from("/login").await;

    let wrong = client
        .post_form("/login", &login_fields(&email, "not the password", &token))
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.body);
    assert!(wrong.body.contains(LOGIN_FAILED_JA), "{}", wrong.body);
    assert!(
        wrong.body.contains(&format!("value=\"{email}\"")),
        "the typed email is kept: {}",
        wrong.body
    );
    assert!(
        !wrong.body.contains("not the password"),
        "the password is never echoed"
    );
    assert_signed_out(&mut client).await;

    let token =
        support::hidden_value(&wrong.body, "csrf_token").expect("the form can be sent again");
    let unknown = client
        .post_form(
            "/login",
            &login_fields("nobody.here@example.jp", "not the password", &token),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED, "{}", unknown.body);
    assert!(unknown.body.contains(LOGIN_FAILED_JA), "{}", unknown.body);
    assert!(unknown.body.contains("value=\"nobody.here@example.jp\""));

    // Same page apart from the email (and the per-response nonce): nothing tells them apart.
    let strip = |r: &Reply, e: &str| r.body.replace(e, "EMAIL");
    assert_eq!(
        strip(&wrong, &email),
        strip(&unknown, "nobody.here@example.jp")
    );

    // And the right password works, so the failures above were about the password.
    let ok = client
        .post_form(
            "/login",
            &login_fields(&email, "correct horse battery staple 2026", &token),
        )
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let shop = support::sqlite_shop().await;
    let mut client = Client::new(&shop.router);
    let health = client.get("/healthz").await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body, "ok");
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(ready.body, "ready");
    assert!(
        !client.cookies.contains_key("kura_session"),
        "probes create no session"
    );
}

/// A key file swapped at run time for another shop's leaves the node unready: the ring no
/// longer holds the key the data was sealed with.
#[tokio::test]
async fn readiness_fails_when_the_key_file_no_longer_matches_the_data() {
    let shop = support::sqlite_shop().await;
    let other = support::sqlite_shop().await;
    let mut client = Client::new(&shop.router);
    assert_eq!(client.get("/readyz").await.status, StatusCode::OK);
    let ours = std::fs::read(&shop.config.keys.file).unwrap();
    std::fs::copy(&other.config.keys.file, &shop.config.keys.file).unwrap();
    shop.state.vault.reload().unwrap();
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    // The shop's own file back: ready again.
    std::fs::write(&shop.config.keys.file, ours).unwrap();
    shop.state.vault.reload().unwrap();
    assert_eq!(client.get("/readyz").await.status, StatusCode::OK);
}

/// A client IP kept beyond a day is personal data: security events name it only by a keyed
/// pseudonym that is the same all day for one address and differs between addresses.
#[tokio::test]
async fn security_events_never_log_a_client_ip_in_the_clear() {
    let shop = support::sqlite_shop().await;
    let refuse_from = |peer: &'static str| {
        let router = shop.router.clone();
        async move {
            let mut c = Client::new(&router);
            c.peer = peer.parse().unwrap();
            let reply = c
                .post_form("/login", &login_fields("a@b.jp", "pw", "1.forged"))
                .await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN);
        }
    };
    refuse_from("198.51.100.77:5000").await;
    refuse_from("198.51.100.77:5001").await;
    refuse_from("203.0.113.201:5000").await;
    refuse_from("[2001:db8::7:77]:5000").await;
    let logs = String::from_utf8_lossy(&support::captured_logs()).into_owned();
    for ip in ["198.51.100.77", "203.0.113.201", "2001:db8::7:77"] {
        assert!(!logs.contains(ip), "{ip} is in the log in the clear");
    }
    let pseudonym = |ip: &str| {
        let events = kura_app::LogEvents::with_pseudonyms(
            std::sync::Arc::clone(&shop.state.vault),
            std::sync::Arc::new(kura_app::SystemClock),
        );
        events.pseudonym(ip.parse().unwrap()).unwrap()
    };
    let (a, b) = (pseudonym("198.51.100.77"), pseudonym("203.0.113.201"));
    assert_ne!(a, b);
    assert!(a.starts_with("ip-") && a.len() == 19, "{a}");
    let lines_with = |p: &str| {
        logs.lines()
            .filter(|l| l.contains("csrf") && l.contains(p))
            .count()
    };
    assert_eq!(lines_with(&a), 2, "one address, one pseudonym all day");
    assert_eq!(lines_with(&b), 1);
}
