//! Request inspection: a compact rule set that notices attack payloads and probes in a request.
//!
//! [`inspect`] looks at a request's path, query string, selected headers and (capped) body and
//! returns one [`Hit`] per rule class and place that matched. A hit becomes a security event for
//! the guard's detectors; whether a rule also blocks is configuration, keyed by the stable rule
//! ids in [`rule`] (and [`rules`] lists every id with its class).
//!
//! # What this is, and what it is not
//!
//! A WAF-like rule set is a tripwire, not a defence. Kura's real defences are elsewhere and do not
//! depend on this module: parameterised SQL everywhere, auto-escaping templates, a strict CSP with
//! nonces, routes that serve no files from disk and no script engines. These rules exist to
//! *notice* someone probing (OWASP Top 10 A03 Injection, A01 traversal; the "scanners and
//! injection payloads" detector of the design) early, so the guard can throttle or block a
//! principal before it finds something real. A determined attacker can write a payload these
//! rules miss; that is accepted. What is not accepted is a false positive on normal shop traffic,
//! so every rule is shaped by what customers and staff really type (Japanese text, fullwidth
//! punctuation from IMEs, names like O'Reilly, addresses like 1-2-3 Nishi-Shinjuku, messages
//! with quotes and dashes), and the tests hold a table of such inputs that must stay clean.
//!
//! # Guarantees
//!
//! - **Bounded, linear work.** Each place (path, query, headers, body) is inspected up to
//!   [`INSPECT_CAP`] bytes of its raw input; the rest is ignored. There is no regex and no
//!   backtracking: a field is normalised in five linear passes, then read once, byte by byte;
//!   punctuation that can open an attack (a quote, `;`, `<`, a dot, a digit, a shell separator)
//!   is checked in its context, and keywords are compared only with the few needles that start
//!   with the byte at hand. Every check looks ahead a constant distance, or over a stretch no
//!   other check of its kind reads again (a tag up to the next `<` or `>`, a run of dots), so the
//!   cost is linear in the capped input: a few microseconds for an ordinary request, a few
//!   milliseconds for four places filled to the cap with hostile text (release build). Nothing
//!   here panics or allocates more than a few copies of the capped input.
//! - **At most one hit per (class, place)**, and at most [`MAX_HITS`] hits in all: once a class has
//!   matched in a place, it is no longer looked for there, and inspection stops when
//!   [`MAX_HITS`] hits are found. Within a field, the leftmost match of a class names its hit.
//! - **Secrets are never inspected.** Form fields, query parameters and JSON members named in
//!   [`SECRET_FIELDS`] (passwords, one-time codes, CSRF tokens; also `user[password]` and
//!   `user.password` forms) are skipped, values under such a JSON member too. A random password
//!   that happens to contain `' or` can therefore never raise an event or get anyone blocked, and
//!   a caller cannot misuse the module by handing it a login body. Headers whose name mentions
//!   a credential (`auth`, `sess`, `sid`, `token`, `csrf`, `xsrf`, `jwt`, `key`, `secret`) are
//!   skipped, and in a `cookie` header the values of `__Host-`/`__Secure-` cookies, of Kura's own
//!   `kura*` cookies and of cookies whose name mentions a credential are skipped (their names are
//!   still inspected).
//! - **No input is kept.** A [`Hit`] names a class, a rule id and a place, never the matched text,
//!   so events and logs built from hits carry no personal data.
//!
//! What the caller passes: the raw (still percent-encoded) path and query string, the
//! User-Agent, the few other headers worth a look (`referer`, `x-forwarded-*`, a `cookie`
//! header), and a form (`application/x-www-form-urlencoded`) or JSON body, capped (e.g. the first
//! 16 KiB). A body whose first non-blank byte is `{` or `[` is read as JSON, any other as a form.
//! Do not pass multipart uploads or CSP reports (a CSP report quotes the blocked code on purpose;
//! it reaches the guard as its own event).
//!
//! # Normalisation
//!
//! Before matching, each field is decoded and folded, in this order:
//!
//! 1. percent-decoding, twice (double encoding such as `%252e` is a classic filter evasion), with
//!    `+` as a space on the first pass in query strings, form bodies and headers, and IIS-style
//!    `%uXXXX`; JSON strings are unescaped first (`\u003c`);
//! 2. HTML character references: `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&amp;`, a few more named
//!    ones (`&colon;`, `&lpar;`, `&tab;` ...), decimal `&#60;` and hex `&#x3c;`, with or without
//!    the semicolon;
//! 3. Unicode fullwidth ASCII (U+FF01..U+FF5E, what Japanese IMEs type: `＜`, `＇`, `ｓｃｒｉｐｔ`)
//!    folded to ASCII, the ideographic space and no-break space to a space, and overlong UTF-8
//!    encodings of ASCII (`%c0%af` for `/`) folded to the character they smuggle;
//! 4. ASCII lowercase;
//! 5. SQL block comments `/* ... */` collapsed to one space (the body of a MySQL versioned comment
//!    `/*!50000 ... */` is kept, since MySQL executes it), whitespace runs collapsed to one space,
//!    or one newline when the run held a line break (a newline separates shell commands).
//!
//! Folding fullwidth text to ASCII means a Japanese customer's `（株）山田＆佐藤` is matched as
//! `(株)山田&佐藤`; the rules are written so that such text stays clean (see the tests).
//!
//! # Rules
//!
//! | id | catches | why normal traffic does not match |
//! |---|---|---|
//! | `sqli.tautology` | a quote, then `or`/`and`/`xor`/`\|\|`/`&&`, then a comparison (`' or 1=1`, `" or "a"="a`, `'or'x'='x`, `' and 1=2`, `' or 'a' = 'a'`, `' or name like '%`) or a bare `1`/`true` before a comment or the end | the connector must follow the quote directly (only spaces or `)` between), so `Tom's bottle or mug` does not fit; a spaced or word operator needs equal operands or a quote left open at the end, so "'SPRING10' or 'SUMMER' = same?" and "'error' or something like that" are clean |
//! | `sqli.boolean_probe` | a number, then `and`/`or`, then a comparison of two numbers or two quoted strings written without spaces round the operator (`1 AND 1=1`, `1) and 5432=5433`) | prose writes `2 and 1 = 3` with spaces, if at all; `1=1 マグ` has no connector |
//! | `sqli.union_select` | `union [all\|distinct] select`, with comments, brackets or line comments between | `union` alone or `select ボトル` are single keywords |
//! | `sqli.stacked_query` | `;` then `drop table`, `delete from x` at an end, `insert into x (`, `update x set y=`, `shutdown` at an end, `exec xp_`, `declare @`, `truncate table`, `alter`/`create table` | `drop ケトル` has no `;` and no SQL object word; the phrase must be SQL grammar, not a sentence |
//! | `sqli.time_delay` | `sleep(5`, `pg_sleep(`, `benchmark(`, `waitfor delay`, `randomblob(`, `dbms_lock.sleep` | `sleep (8 hours)` has a space and `sleep` alone is a word |
//! | `sqli.comment_truncation` | a quote (and `)`) then `--`, `#` or an unterminated `/*` that ends the field (`admin'--`, `1' -- -`) | `'error' -- please help` goes on after the dashes |
//! | `sqli.catalog` | `information_schema`, `sqlite_master`, `pg_catalog`, `sysobjects`, `mysql.user` | catalog names are not words people type |
//! | `sqli.version_probe` | `@@version`, `@@datadir`, `sqlite_version(` ... | idem |
//! | `sqli.file_access` | `load_file(`, `into outfile`/`dumpfile`, `pg_read_file(`, `lo_import(` | idem |
//! | `sqli.stored_procedure` | `xp_cmdshell`, `xp_dirtree`, `sp_oacreate` ... | idem |
//! | `sqli.error_based` | `extractvalue(`, `updatexml(`, `floor(rand(`, `exp(~(` | idem |
//! | `xss.script_tag` | `<script` or `</script` | a `<` must be followed by the tag name itself; `<3` is no tag |
//! | `xss.embedding_tag` | `<iframe`, `<frame`, `<object`, `<embed`, `<applet`, `<base ... href`, `<meta ... http-equiv` | nobody types those tags into a shop |
//! | `xss.event_handler` | an `on...=` attribute of three or more letters inside a tag (`<svg/onload=`, `<img src=x onerror=`) or right after a quote break (`" onfocus=x`) | `<b>` or `<p>` in a product text carry no handler; `online`/`once` outside a tag are words |
//! | `xss.script_uri` | `javascript:`, `vbscript:`, `livescript:` (also with blanks between letters, which browsers drop), `data:text/html`, `data:image/svg` | the scheme must be followed directly by code: "java script: it fails" is clean |
//! | `xss.srcdoc` | a `srcdoc=` attribute | idem |
//! | `xss.css_expression` | `expression(` with no space, `-moz-binding` | "facial expression (smile)" has a space |
//! | `xss.dom_access` | `document.cookie`, `document.domain`, `document.write`, `document.location` | prose does not write those |
//! | `xss.js_call` | `alert(`, `prompt(`, `confirm(`, `eval(`, `fromCharCode(`, `atob(` (or with a backtick) right after a JavaScript break (`'`, `"`, `;`, `+`, `-`, `=`, `>`...) when a quote or `<` came before | "please confirm (order 12)" has a space before the call |
//! | `traversal.dot_dot` | `../`, `..\`, `..;/`, `....//`, a final `/..`, after decoding (`%2e%2e%2f`, `%252e`, `..%c0%af`) | an ellipsis has three dots; `1..2/` is preceded by a digit |
//! | `traversal.system_file` | `etc/passwd`, `etc/shadow`, `etc/hosts`, `proc/self/`, `c:\windows`, `win.ini`, `boot.ini`, `system32\`, `web-inf/` | not shop words |
//! | `traversal.file_uri` | `file:/`, `php://`, `phar://`, `expect://`, `zip://` | shop links are `https:` |
//! | `cmdi.chained_command` | `;`, `\|`, `\|\|`, `&&`, a backtick, `$(` or a newline, then a shell command (`id`, `whoami`, `ls`, `uname`, `bash`, `sh`...) at an end or before an option, or a command that needs an argument (`cat`, `wget`, `curl`, `nc`, `ping`, `sleep`...) before a path, an option, a URL or (for `sleep`, `ping`, `nc`) a number | "I can't log in; the page says", "; cat toys", "; id is K-2026" and "; sleep well" do not fit the argument shapes |
//! | `cmdi.ifs` | `${IFS}`, `$IFS` | not a word |
//! | `cmdi.shell_path` | `/bin/sh`, `/bin/bash`, `/bin/busybox`, `cmd.exe`, `powershell.exe` | idem |
//! | `cmdi.shellshock` | `() {` (CVE-2014-6271) | idem |
//! | `cmdi.jndi_lookup` | `${jndi:`, and the nested lookups that hide it (`${${::-j}ndi:`) (Log4Shell, CVE-2021-44228: sprayed by scanners into every header and parameter) | idem |
//! | `scanner.<tool>` | a scanner's name in the User-Agent: sqlmap, Nikto, Wapiti, Nmap, masscan, zgrab, Acunetix, Nessus, OpenVAS, w3af, DirBuster, gobuster, ffuf, wfuzz, Nuclei, Burp Collaborator, Havij, Jaeles, Arachni, skipfish, WPScan, Netsparker, commix, XSStrike, ZmEu | browsers and bots do not carry those names; an absent or empty User-Agent (curl users, monitoring) is no hit |
//! | `scanner.oob_domain` | a payload calling back to an out-of-band testing domain (`oastify.com`, `burpcollaborator.net`, `interact.sh`, `oast.fun`...) anywhere | those domains exist only for testing |
//! | `probe.*` (path only) | other platforms' files: `probe.wordpress` (`/wp-admin`, `/wp-login.php`, `/wp-content/`, `/xmlrpc.php`), `probe.vcs` (`/.git`, `/.svn`, `/.hg`), `probe.dotfile` (`/.env`, `/.aws`, `/.ds_store`, `/.htaccess`...), `probe.db_admin` (`/phpmyadmin`, `/pma/`, `/adminer`), `probe.cgi_bin`, `probe.server_status`, `probe.actuator`, `probe.phpunit`, `probe.router` (`/boaform`, `/hnap1`, `/goform`), `probe.exchange` (`/owa/`, `/ecp/`, `/autodiscover`), `probe.config_file` (`/config.php`, `/web.config`, `/elmah.axd`), `probe.java_console` (`/jenkins`, `/solr/`, `/console/`, `/manager/html`), `probe.script_extension` (a segment ending in `.php`, `.phtml`, `.asp`, `.aspx`, `.jsp`, `.cgi`) | Kura serves none of these; names that could be a product slug (`jenkins`, `console`, `solr`) match only as the first segment and never inside `/products/...`; `/.well-known/` is not a probe |
//! | `null.byte` | a NUL byte, raw or decoded (`%00`, `%2500`, `\u0000`, `&#0;`, `%c0%80`) | text never holds one |
//!
//! # Known limits
//!
//! Misses (payloads that pass):
//!
//! - payloads built at run time (`top['al'+'ert'](1)`, `String.fromCharCode` arithmetic, SQL
//!   `CHAR(0x..)` concatenation with no other marker), and encodings not listed above (a third
//!   level of percent-encoding, UTF-7, Shift_JIS-specific tricks, base64 inside a field);
//! - Windows shell chaining with a single `&` and commands such as `dir`, `type`, `net user`
//!   (only `cmd.exe`, `powershell.exe` and Windows paths are noticed);
//! - kinds of attack with no class here: template injection (`{{7*7}}`), NoSQL operators
//!   (`{"$ne": null}`), XML entities (XXE), CRLF header injection, server-side request forgery
//!   to internal addresses;
//! - scanners that send a browser's User-Agent (sqlmap with `--random-agent`): only their
//!   payloads can give them away;
//! - anything past the first [`INSPECT_CAP`] bytes of a place (the caller caps the body anyway).
//!
//! False positives (legitimate text that hits; all rare, none in the test table):
//!
//! - a quote glued to a final `--` or `#` ("Size 'M'--"): `sqli.comment_truncation`;
//! - a literal `../` in a message ("see the ../ folder"): `traversal.dot_dot`;
//! - glued arithmetic after a number ("1 or 2=3"): `sqli.boolean_probe`;
//! - quoting code ("'sleep(8)' mode", "union select" typed on purpose): the SQL rules;
//! - a separator and a bare command at the end of a field ("ＩＤ：ｋｕｒａ；ｌｓ", "...; sleep 8
//!   hours"): `cmdi.chained_command`.
//!
//! A hit is an event for the detectors, which count and weigh them per principal; blocking on a
//! single hit is a configuration choice per rule.

use std::sync::LazyLock;

/// How many bytes of each place's raw input are inspected; the rest is ignored.
pub const INSPECT_CAP: usize = 16 * 1024;

/// Inspection stops once it has this many hits: the request is plainly hostile by then.
pub const MAX_HITS: usize = 8;

/// Form fields, query parameters and JSON members that are never inspected (compared
/// case-insensitively, on the last part of `user[password]` or `user.password`).
pub const SECRET_FIELDS: [&str; 9] = [
    "password",
    "new_password",
    "current_password",
    "password_confirm",
    "otp",
    "code",
    "csrf_token",
    "recovery_code",
    "token",
];

/// The kind of attack a rule looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleClass {
    SqlInjection,
    CrossSiteScripting,
    PathTraversal,
    CommandInjection,
    /// A known vulnerability scanner or an out-of-band callback domain.
    Scanner,
    /// A path that belongs to another platform (WordPress, phpMyAdmin, a router...).
    PlatformProbe,
    NullByte,
}

impl RuleClass {
    /// Every class, in the order in which they are checked.
    pub const ALL: [RuleClass; 7] = [
        RuleClass::SqlInjection,
        RuleClass::CrossSiteScripting,
        RuleClass::PathTraversal,
        RuleClass::CommandInjection,
        RuleClass::Scanner,
        RuleClass::PlatformProbe,
        RuleClass::NullByte,
    ];

    /// A stable snake_case code, for configuration, metrics and events.
    pub fn code(self) -> &'static str {
        match self {
            RuleClass::SqlInjection => "sql_injection",
            RuleClass::CrossSiteScripting => "cross_site_scripting",
            RuleClass::PathTraversal => "path_traversal",
            RuleClass::CommandInjection => "command_injection",
            RuleClass::Scanner => "scanner",
            RuleClass::PlatformProbe => "platform_probe",
            RuleClass::NullByte => "null_byte",
        }
    }
}

/// Where in the request a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Path,
    Query,
    /// The User-Agent or another header the caller passed.
    Header,
    Body,
}

impl Place {
    /// A stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            Place::Path => "path",
            Place::Query => "query",
            Place::Header => "header",
            Place::Body => "body",
        }
    }
}

/// One rule that matched: which class, which rule, where. Never the matched text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub class: RuleClass,
    /// The rule id, e.g. `"sqli.union_select"`; see [`rule`].
    pub rule: &'static str,
    pub place: Place,
}

/// The parts of a request worth inspecting. See the module doc for what to pass.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Not inspected today (the router refuses methods it does not serve); carried so that a
    /// caller builds one value for inspection and for the event.
    pub method: &'a str,
    /// The raw path, still percent-encoded, without the query string.
    pub path: &'a str,
    /// The raw query string without the `?`.
    pub query: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// Other headers worth a look (`referer`, `x-forwarded-*`, `cookie`): name and raw value.
    pub headers: &'a [(&'a str, &'a [u8])],
    /// A form or JSON body, capped by the caller.
    pub body: Option<&'a [u8]>,
}

/// The rule ids, stable: configuration names them to decide what blocks.
pub mod rule {
    pub const SQLI_TAUTOLOGY: &str = "sqli.tautology";
    pub const SQLI_BOOLEAN_PROBE: &str = "sqli.boolean_probe";
    pub const SQLI_UNION_SELECT: &str = "sqli.union_select";
    pub const SQLI_STACKED_QUERY: &str = "sqli.stacked_query";
    pub const SQLI_TIME_DELAY: &str = "sqli.time_delay";
    pub const SQLI_COMMENT_TRUNCATION: &str = "sqli.comment_truncation";
    pub const SQLI_CATALOG: &str = "sqli.catalog";
    pub const SQLI_VERSION_PROBE: &str = "sqli.version_probe";
    pub const SQLI_FILE_ACCESS: &str = "sqli.file_access";
    pub const SQLI_STORED_PROCEDURE: &str = "sqli.stored_procedure";
    pub const SQLI_ERROR_BASED: &str = "sqli.error_based";

    pub const XSS_SCRIPT_TAG: &str = "xss.script_tag";
    pub const XSS_EMBEDDING_TAG: &str = "xss.embedding_tag";
    pub const XSS_EVENT_HANDLER: &str = "xss.event_handler";
    pub const XSS_SCRIPT_URI: &str = "xss.script_uri";
    pub const XSS_SRCDOC: &str = "xss.srcdoc";
    pub const XSS_CSS_EXPRESSION: &str = "xss.css_expression";
    pub const XSS_DOM_ACCESS: &str = "xss.dom_access";
    pub const XSS_JS_CALL: &str = "xss.js_call";

    pub const TRAVERSAL_DOT_DOT: &str = "traversal.dot_dot";
    pub const TRAVERSAL_SYSTEM_FILE: &str = "traversal.system_file";
    pub const TRAVERSAL_FILE_URI: &str = "traversal.file_uri";

    pub const CMDI_CHAINED_COMMAND: &str = "cmdi.chained_command";
    pub const CMDI_IFS: &str = "cmdi.ifs";
    pub const CMDI_SHELL_PATH: &str = "cmdi.shell_path";
    pub const CMDI_SHELLSHOCK: &str = "cmdi.shellshock";
    pub const CMDI_JNDI_LOOKUP: &str = "cmdi.jndi_lookup";

    pub const SCANNER_OOB_DOMAIN: &str = "scanner.oob_domain";

    pub const PROBE_WORDPRESS: &str = "probe.wordpress";
    pub const PROBE_VCS: &str = "probe.vcs";
    pub const PROBE_DOTFILE: &str = "probe.dotfile";
    pub const PROBE_DB_ADMIN: &str = "probe.db_admin";
    pub const PROBE_CGI_BIN: &str = "probe.cgi_bin";
    pub const PROBE_SERVER_STATUS: &str = "probe.server_status";
    pub const PROBE_ACTUATOR: &str = "probe.actuator";
    pub const PROBE_PHPUNIT: &str = "probe.phpunit";
    pub const PROBE_ROUTER: &str = "probe.router";
    pub const PROBE_EXCHANGE: &str = "probe.exchange";
    pub const PROBE_CONFIG_FILE: &str = "probe.config_file";
    pub const PROBE_JAVA_CONSOLE: &str = "probe.java_console";
    pub const PROBE_SCRIPT_EXTENSION: &str = "probe.script_extension";

    pub const NULL_BYTE: &str = "null.byte";
}

/// Every rule id with its class, the scanner names included: what configuration may refer to.
pub fn rules() -> impl Iterator<Item = (RuleClass, &'static str)> {
    FIXED_RULES.iter().copied().chain(
        SCANNER_AGENTS
            .iter()
            .map(|&(id, _)| (RuleClass::Scanner, id)),
    )
}

const FIXED_RULES: [(RuleClass, &str); 42] = [
    (RuleClass::SqlInjection, rule::SQLI_TAUTOLOGY),
    (RuleClass::SqlInjection, rule::SQLI_BOOLEAN_PROBE),
    (RuleClass::SqlInjection, rule::SQLI_UNION_SELECT),
    (RuleClass::SqlInjection, rule::SQLI_STACKED_QUERY),
    (RuleClass::SqlInjection, rule::SQLI_TIME_DELAY),
    (RuleClass::SqlInjection, rule::SQLI_COMMENT_TRUNCATION),
    (RuleClass::SqlInjection, rule::SQLI_CATALOG),
    (RuleClass::SqlInjection, rule::SQLI_VERSION_PROBE),
    (RuleClass::SqlInjection, rule::SQLI_FILE_ACCESS),
    (RuleClass::SqlInjection, rule::SQLI_STORED_PROCEDURE),
    (RuleClass::SqlInjection, rule::SQLI_ERROR_BASED),
    (RuleClass::CrossSiteScripting, rule::XSS_SCRIPT_TAG),
    (RuleClass::CrossSiteScripting, rule::XSS_EMBEDDING_TAG),
    (RuleClass::CrossSiteScripting, rule::XSS_EVENT_HANDLER),
    (RuleClass::CrossSiteScripting, rule::XSS_SCRIPT_URI),
    (RuleClass::CrossSiteScripting, rule::XSS_SRCDOC),
    (RuleClass::CrossSiteScripting, rule::XSS_CSS_EXPRESSION),
    (RuleClass::CrossSiteScripting, rule::XSS_DOM_ACCESS),
    (RuleClass::CrossSiteScripting, rule::XSS_JS_CALL),
    (RuleClass::PathTraversal, rule::TRAVERSAL_DOT_DOT),
    (RuleClass::PathTraversal, rule::TRAVERSAL_SYSTEM_FILE),
    (RuleClass::PathTraversal, rule::TRAVERSAL_FILE_URI),
    (RuleClass::CommandInjection, rule::CMDI_CHAINED_COMMAND),
    (RuleClass::CommandInjection, rule::CMDI_IFS),
    (RuleClass::CommandInjection, rule::CMDI_SHELL_PATH),
    (RuleClass::CommandInjection, rule::CMDI_SHELLSHOCK),
    (RuleClass::CommandInjection, rule::CMDI_JNDI_LOOKUP),
    (RuleClass::Scanner, rule::SCANNER_OOB_DOMAIN),
    (RuleClass::PlatformProbe, rule::PROBE_WORDPRESS),
    (RuleClass::PlatformProbe, rule::PROBE_VCS),
    (RuleClass::PlatformProbe, rule::PROBE_DOTFILE),
    (RuleClass::PlatformProbe, rule::PROBE_DB_ADMIN),
    (RuleClass::PlatformProbe, rule::PROBE_CGI_BIN),
    (RuleClass::PlatformProbe, rule::PROBE_SERVER_STATUS),
    (RuleClass::PlatformProbe, rule::PROBE_ACTUATOR),
    (RuleClass::PlatformProbe, rule::PROBE_PHPUNIT),
    (RuleClass::PlatformProbe, rule::PROBE_ROUTER),
    (RuleClass::PlatformProbe, rule::PROBE_EXCHANGE),
    (RuleClass::PlatformProbe, rule::PROBE_CONFIG_FILE),
    (RuleClass::PlatformProbe, rule::PROBE_JAVA_CONSOLE),
    (RuleClass::PlatformProbe, rule::PROBE_SCRIPT_EXTENSION),
    (RuleClass::NullByte, rule::NULL_BYTE),
];

/// Inspects a request; returns at most one hit per (class, place) and at most [`MAX_HITS`].
pub fn inspect(req: &Request<'_>) -> Vec<Hit> {
    let mut ins = Inspector::default();

    ins.unit(Place::Path, cap(req.path.as_bytes()), false, Extra::Path);

    if let Some(query) = req.query {
        ins.form_fields(Place::Query, cap(query.as_bytes()));
    }

    let mut budget = INSPECT_CAP;
    if let Some(agent) = req.user_agent {
        let agent = take(agent.as_bytes(), &mut budget);
        ins.unit(Place::Header, agent, true, Extra::UserAgent);
    }
    for &(name, value) in req.headers {
        if ins.place_done(Place::Header) || budget == 0 {
            break;
        }
        let value = take(value, &mut budget);
        if name.eq_ignore_ascii_case("cookie") {
            ins.cookie_header(value);
        } else if !is_secret_header(name) {
            ins.unit(Place::Header, value, true, Extra::None);
        }
    }

    if let Some(body) = req.body {
        let body = cap(body);
        let first = body.iter().copied().find(|b| !b.is_ascii_whitespace());
        if matches!(first, Some(b'{' | b'[')) {
            ins.json_fields(body);
        } else {
            ins.form_fields(Place::Body, body);
        }
    }

    ins.hits
}

fn cap(raw: &[u8]) -> &[u8] {
    raw.get(..INSPECT_CAP).unwrap_or(raw)
}

fn take<'r>(raw: &'r [u8], budget: &mut usize) -> &'r [u8] {
    let part = raw.get(..*budget).unwrap_or(raw);
    *budget -= part.len();
    part
}

/// Which place-specific rules a field gets on top of the injection rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    Path,
    UserAgent,
}

#[derive(Default)]
struct Inspector {
    hits: Vec<Hit>,
    /// Scratch buffers reused for every field: two for decoding, one for the normalised text.
    a: Vec<u8>,
    b: Vec<u8>,
    text: Vec<u8>,
}

impl Inspector {
    fn found(&self, class: RuleClass, place: Place) -> bool {
        self.hits
            .iter()
            .any(|h| h.class == class && h.place == place)
    }

    fn enough(&self) -> bool {
        self.hits.len() >= MAX_HITS
    }

    /// True when nothing more can be learnt from this place (every class it can show has hit),
    /// or inspection as a whole has enough.
    fn place_done(&self, place: Place) -> bool {
        self.enough()
            || RuleClass::ALL
                .iter()
                .all(|&c| !applies(c, place) || self.found(c, place))
    }

    /// Normalises one field and runs every class not yet found in `place` over it.
    fn unit(&mut self, place: Place, raw: &[u8], plus_as_space: bool, extra: Extra) {
        if raw.is_empty() || self.place_done(place) {
            return;
        }
        normalise(raw, plus_as_space, &mut self.a, &mut self.b, &mut self.text);
        let wanted = RuleClass::ALL.map(|c| applies(c, place) && !self.found(c, place));
        let mut found = Found::new(wanted);
        if extra == Extra::Path
            && found.wants(RuleClass::PlatformProbe)
            && let Some(id) = probe(&self.text)
        {
            found.note(RuleClass::PlatformProbe, id);
        }
        scan(&self.text, extra == Extra::UserAgent, &mut found);
        for (class, rule) in RuleClass::ALL.into_iter().zip(found.rules) {
            if let Some(rule) = rule {
                if self.enough() {
                    return;
                }
                self.hits.push(Hit { class, rule, place });
            }
        }
    }

    /// `a=1&b=2` in a query string or a form body; secret fields are skipped.
    fn form_fields(&mut self, place: Place, data: &[u8]) {
        for pair in data.split(|&b| b == b'&') {
            if self.place_done(place) {
                return;
            }
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (
                    pair.get(..eq).unwrap_or_default(),
                    pair.get(eq + 1..).unwrap_or_default(),
                ),
                None => (pair, &[][..]),
            };
            self.unit(place, key, true, Extra::None);
            if !is_secret_field(key) {
                self.unit(place, value, true, Extra::None);
            }
        }
    }

    /// `name=value; name2=value2`: names are inspected, values of session-like cookies are not.
    fn cookie_header(&mut self, value: &[u8]) {
        for part in value.split(|&b| b == b';') {
            if self.place_done(Place::Header) {
                return;
            }
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(eq) => (
                    part.get(..eq).unwrap_or_default(),
                    part.get(eq + 1..).unwrap_or_default(),
                ),
                None => (part, &[][..]),
            };
            self.unit(Place::Header, name, true, Extra::None);
            if !is_secret_cookie(name) {
                self.unit(Place::Header, value, true, Extra::None);
            }
        }
    }

    /// Walks a JSON body without building a tree: every string (keys too) and bare scalar is a
    /// field, except the values under a secret member name, however deep. Tolerates broken JSON.
    fn json_fields(&mut self, body: &[u8]) {
        struct Frame {
            object: bool,
            expect_key: bool,
            key_secret: bool,
            secret: bool,
        }
        fn value_secret(stack: &[Frame]) -> bool {
            stack
                .last()
                .is_some_and(|f| f.secret || (f.object && f.key_secret))
        }

        let mut stack: Vec<Frame> = Vec::new();
        let mut field = Vec::new();
        let mut i = 0;
        while let Some(b) = at(body, i) {
            if self.place_done(Place::Body) {
                return;
            }
            match b {
                b'{' | b'[' => {
                    let secret = value_secret(&stack);
                    stack.push(Frame {
                        object: b == b'{',
                        expect_key: b == b'{',
                        key_secret: false,
                        secret,
                    });
                    i += 1;
                }
                b'}' | b']' => {
                    stack.pop();
                    i += 1;
                }
                b':' => {
                    if let Some(f) = stack.last_mut() {
                        f.expect_key = false;
                    }
                    i += 1;
                }
                b',' => {
                    if let Some(f) = stack.last_mut() {
                        f.expect_key = f.object;
                        f.key_secret = false;
                    }
                    i += 1;
                }
                b'"' => {
                    i = json_string(body, i + 1, &mut field);
                    let is_key = stack.last().is_some_and(|f| f.object && f.expect_key);
                    if is_key {
                        let secret = is_secret_name(&field);
                        if let Some(f) = stack.last_mut() {
                            f.key_secret = secret;
                        }
                        self.unit(Place::Body, &field, false, Extra::None);
                    } else if !value_secret(&stack) {
                        self.unit(Place::Body, &field, false, Extra::None);
                    }
                }
                b if b.is_ascii_whitespace() => i += 1,
                _ => {
                    let start = i;
                    while at(body, i)
                        .is_some_and(|c| !c.is_ascii_whitespace() && !b"{}[]:,\"".contains(&c))
                    {
                        i += 1;
                    }
                    if !value_secret(&stack) {
                        let token = body.get(start..i).unwrap_or_default();
                        self.unit(Place::Body, token, false, Extra::None);
                    }
                }
            }
        }
    }
}

/// Which classes can show in which place: probes are about paths, scanners' names are about the
/// User-Agent (but out-of-band domains can be anywhere).
fn applies(class: RuleClass, place: Place) -> bool {
    match class {
        RuleClass::PlatformProbe => place == Place::Path,
        _ => true,
    }
}

/// Reads a JSON string body starting after its opening quote into `out`, unescaping it; returns
/// the index after the closing quote (or the end of input).
fn json_string(body: &[u8], mut i: usize, out: &mut Vec<u8>) -> usize {
    out.clear();
    while let Some(c) = at(body, i) {
        match c {
            b'"' => return i + 1,
            b'\\' => match at(body, i + 1) {
                Some(b'u') => match hex4(body, i + 2) {
                    Some(hi) => {
                        if (0xD800..0xDC00).contains(&hi)
                            && starts(body, i + 6, b"\\u")
                            && let Some(lo) =
                                hex4(body, i + 8).filter(|lo| (0xDC00..0xE000).contains(lo))
                        {
                            push_char(out, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
                            i += 12;
                            continue;
                        }
                        push_char(out, hi);
                        i += 6;
                    }
                    None => {
                        out.push(b'\\');
                        i += 1;
                    }
                },
                Some(e) => {
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        other => other,
                    });
                    i += 2;
                }
                None => i += 1,
            },
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    i
}

fn is_secret_name(name: &[u8]) -> bool {
    let name = name.trim_ascii();
    SECRET_FIELDS
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s.as_bytes()))
}

/// A raw (percent-encoded) form key: `password`, `user[password]`, `user.password`.
fn is_secret_field(raw_key: &[u8]) -> bool {
    let mut key = Vec::with_capacity(raw_key.len());
    percent_decode(raw_key, true, &mut key);
    let last = key
        .rsplit(|&b| b == b'[' || b == b'.')
        .next()
        .unwrap_or_default();
    let last = last.strip_suffix(b"]").unwrap_or(last);
    is_secret_name(last)
}

/// Header and cookie names that contain one of these carry credentials (`PHPSESSID`,
/// `x-csrf-token`, `x-api-key`, `authorization`): their values are never inspected.
const SECRET_NAME_PARTS: [&str; 9] = [
    "sess", "sid", "token", "csrf", "xsrf", "auth", "jwt", "key", "secret",
];

fn mentions_secret(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_NAME_PARTS
        .iter()
        .any(|w| contains(&lower, w.as_bytes()))
}

fn is_secret_header(name: &str) -> bool {
    mentions_secret(name.as_bytes())
}

fn is_secret_cookie(name: &[u8]) -> bool {
    let lower = name.trim_ascii().to_ascii_lowercase();
    lower.starts_with(b"__host-")
        || lower.starts_with(b"__secure-")
        || lower.starts_with(b"kura")
        || is_secret_name(&lower)
        || mentions_secret(&lower)
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/// Decodes and folds `raw` into `out` (see the module doc); `a` and `b` are scratch.
fn normalise(raw: &[u8], plus_as_space: bool, a: &mut Vec<u8>, b: &mut Vec<u8>, out: &mut Vec<u8>) {
    percent_decode(raw, plus_as_space, a);
    if a.contains(&b'%') {
        percent_decode(a, false, b);
    } else {
        std::mem::swap(a, b);
    }
    entity_decode(b, a);
    fold(a, b);
    collapse(b, out);
}

fn hex_val(b: u8) -> Option<u32> {
    char::from(b).to_digit(16)
}

fn hex4(input: &[u8], i: usize) -> Option<u32> {
    let digits = input.get(i..i + 4)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &d| Some(acc * 16 + hex_val(d)?))
}

fn push_char(out: &mut Vec<u8>, cp: u32) {
    let c = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

fn percent_decode(input: &[u8], plus_as_space: bool, out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while let Some(b) = at(input, i) {
        if b == b'%' {
            let hi = at(input, i + 1).and_then(hex_val);
            let lo = at(input, i + 2).and_then(hex_val);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
            if matches!(at(input, i + 1), Some(b'u' | b'U'))
                && let Some(cp) = hex4(input, i + 2)
            {
                push_char(out, cp);
                i += 6;
                continue;
            }
            out.push(b);
        } else if b == b'+' && plus_as_space {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
}

/// Named references worth decoding: those that build markup or script. The first four are
/// decoded without a semicolon too, as browsers do.
const NAMED_ENTITIES: [(&str, char); 19] = [
    ("lt", '<'),
    ("gt", '>'),
    ("amp", '&'),
    ("quot", '"'),
    ("apos", '\''),
    ("colon", ':'),
    ("semi", ';'),
    ("lpar", '('),
    ("rpar", ')'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("period", '.'),
    ("equals", '='),
    ("grave", '`'),
    ("excl", '!'),
    ("num", '#'),
    ("tab", '\t'),
    ("newline", '\n'),
    ("nbsp", ' '),
];

fn entity_decode(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while let Some(b) = at(input, i) {
        if b == b'&'
            && let Some((cp, len)) = entity_at(input, i + 1)
        {
            push_char(out, cp);
            i += 1 + len;
            continue;
        }
        out.push(b);
        i += 1;
    }
}

/// An entity's code point and length, starting after its `&`.
fn entity_at(input: &[u8], i: usize) -> Option<(u32, usize)> {
    if at(input, i) == Some(b'#') {
        let hex = matches!(at(input, i + 1), Some(b'x' | b'X'));
        let start = if hex { i + 2 } else { i + 1 };
        let radix = if hex { 16 } else { 10 };
        let mut j = start;
        let mut value: u32 = 0;
        while let Some(d) = at(input, j).and_then(|c| char::from(c).to_digit(radix)) {
            value = value.saturating_mul(radix).saturating_add(d);
            j += 1;
        }
        if j == start {
            return None;
        }
        if at(input, j) == Some(b';') {
            j += 1;
        }
        return Some((value, j - i));
    }
    for (k, &(name, c)) in NAMED_ENTITIES.iter().enumerate() {
        let n = name.len();
        let matches = input
            .get(i..i + n)
            .is_some_and(|s| s.eq_ignore_ascii_case(name.as_bytes()));
        if !matches {
            continue;
        }
        if at(input, i + n) == Some(b';') {
            return Some((u32::from(c), n + 1));
        }
        if k < 4 {
            return Some((u32::from(c), n));
        }
    }
    None
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// Fullwidth ASCII, ideographic and no-break spaces, overlong UTF-8 for ASCII; ASCII lowercase.
fn fold(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    while let Some(b) = at(input, i) {
        if b.is_ascii() {
            out.push(b.to_ascii_lowercase());
            i += 1;
            continue;
        }
        let b1 = at(input, i + 1);
        let b2 = at(input, i + 2);
        match (b, b1, b2) {
            (0xEF, Some(b1 @ (0xBC | 0xBD)), Some(b2)) if is_continuation(b2) => {
                let cp = 0xF000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
                if (0xFF01..=0xFF5E).contains(&cp) {
                    out.push(((cp - 0xFEE0) as u8).to_ascii_lowercase());
                    i += 3;
                    continue;
                }
            }
            (0xE3, Some(0x80), Some(0x80)) => {
                out.push(b' ');
                i += 3;
                continue;
            }
            (0xC2, Some(0xA0), _) => {
                out.push(b' ');
                i += 2;
                continue;
            }
            (0xC0 | 0xC1, Some(b1), _) if is_continuation(b1) => {
                out.push((((b & 0x01) << 6) | (b1 & 0x3F)).to_ascii_lowercase());
                i += 2;
                continue;
            }
            (0xE0, Some(b1 @ (0x80 | 0x81)), Some(b2)) if is_continuation(b2) => {
                out.push((((b1 & 0x01) << 6) | (b2 & 0x3F)).to_ascii_lowercase());
                i += 3;
                continue;
            }
            _ => {}
        }
        out.push(b);
        i += 1;
    }
}

fn is_raw_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// SQL block comments to a space (MySQL's versioned comments keep their body), whitespace runs
/// to one space or one newline.
fn collapse(input: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut i = 0;
    let mut pending: Option<u8> = None;
    let mut in_versioned = false;
    let mut unterminated = false;
    while let Some(b) = at(input, i) {
        if is_raw_space(b) {
            pending = Some(if matches!(b, b'\n' | b'\r') || pending == Some(b'\n') {
                b'\n'
            } else {
                b' '
            });
            i += 1;
            continue;
        }
        if b == b'/' && at(input, i + 1) == Some(b'*') {
            if at(input, i + 2) == Some(b'!') {
                in_versioned = true;
                pending.get_or_insert(b' ');
                i += 3;
                while at(input, i).is_some_and(|c| c.is_ascii_digit()) {
                    i += 1;
                }
                continue;
            }
            if !unterminated {
                match find_from(input, i + 2, b"*/") {
                    Some(end) => {
                        pending.get_or_insert(b' ');
                        i = end + 2;
                        continue;
                    }
                    // Every later `/*` is unterminated too: never search again (linear time).
                    None => unterminated = true,
                }
            }
        }
        if in_versioned && b == b'*' && at(input, i + 1) == Some(b'/') {
            in_versioned = false;
            pending.get_or_insert(b' ');
            i += 2;
            continue;
        }
        if let Some(space) = pending.take() {
            out.push(space);
        }
        out.push(b);
        i += 1;
    }
    if let Some(space) = pending {
        out.push(space);
    }
}

// ---------------------------------------------------------------------------------------------
// Matching helpers (all on normalised text: lowercase ASCII, single spaces)
// ---------------------------------------------------------------------------------------------

fn at(t: &[u8], i: usize) -> Option<u8> {
    t.get(i).copied()
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\n'
}

/// Non-ASCII bytes count as word characters: a keyword glued to Japanese text is no keyword.
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii()
}

/// `needle` at `i`. A byte loop that stops at the first difference: needles are short and
/// usually differ by their second byte, where a `memcmp` call would cost more than the compare.
fn starts(t: &[u8], i: usize, needle: &[u8]) -> bool {
    t.get(i..i + needle.len())
        .is_some_and(|s| s.iter().zip(needle).all(|(a, b)| a == b))
}

fn boundary_before(t: &[u8], i: usize) -> bool {
    i.checked_sub(1)
        .and_then(|p| at(t, p))
        .is_none_or(|b| !is_word(b))
}

fn boundary_after(t: &[u8], i: usize) -> bool {
    at(t, i).is_none_or(|b| !is_word(b))
}

/// `w` as a whole word at `i`; the index after it.
fn word_at(t: &[u8], i: usize, w: &[u8]) -> Option<usize> {
    let end = i + w.len();
    (starts(t, i, w) && boundary_before(t, i) && boundary_after(t, end)).then_some(end)
}

fn any_word_at(t: &[u8], i: usize, words: &[&str]) -> Option<usize> {
    words.iter().find_map(|w| word_at(t, i, w.as_bytes()))
}

/// The first `needle` at or after `from`: a byte search for its first byte, then a compare.
fn find_from(t: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    let mut i = from;
    loop {
        let p = i + t.get(i..)?.iter().position(|&b| b == first)?;
        if starts(t, p + 1, rest) {
            return Some(p);
        }
        i = p + 1;
    }
}

fn contains(t: &[u8], needle: &[u8]) -> bool {
    find_from(t, 0, needle).is_some()
}

fn skip_ws(t: &[u8], mut i: usize) -> usize {
    while at(t, i).is_some_and(is_ws) {
        i += 1;
    }
    i
}

/// The longest gap between two SQL keywords that is looked through.
const GAP: usize = 64;

/// Skips what SQL allows between keywords: spaces, `(` when `parens`, and line comments
/// (`#...` or `--...` up to a newline). Bounded by [`GAP`] so that every match stays O(1).
fn skip_gap(t: &[u8], mut i: usize, parens: bool) -> usize {
    let limit = i + GAP;
    while i < limit {
        match at(t, i) {
            Some(b' ' | b'\n') => i += 1,
            Some(b'(') if parens => i += 1,
            Some(b'#') => match line_end(t, i, limit) {
                Some(nl) => i = nl + 1,
                None => break,
            },
            Some(b'-') if at(t, i + 1) == Some(b'-') => match line_end(t, i, limit) {
                Some(nl) => i = nl + 1,
                None => break,
            },
            _ => break,
        }
    }
    i
}

fn line_end(t: &[u8], from: usize, limit: usize) -> Option<usize> {
    let window = t.get(from..limit.min(t.len()))?;
    window.iter().position(|&b| b == b'\n').map(|p| p + from)
}

// ---------------------------------------------------------------------------------------------
// The scan: one pass over a normalised field
// ---------------------------------------------------------------------------------------------

/// The first rule found per class (indexed as [`RuleClass::ALL`]) among the classes wanted.
struct Found {
    rules: [Option<&'static str>; 7],
    wanted: [bool; 7],
    left: usize,
}

impl Found {
    fn new(wanted: [bool; 7]) -> Found {
        Found {
            rules: [None; 7],
            wanted,
            left: wanted.iter().filter(|&&w| w).count(),
        }
    }

    fn wants(&self, class: RuleClass) -> bool {
        let k = class as usize;
        self.wanted.get(k).copied().unwrap_or(false)
            && self.rules.get(k).is_some_and(|r| r.is_none())
    }

    fn note(&mut self, class: RuleClass, rule: &'static str) {
        if self.wants(class)
            && let Some(slot) = self.rules.get_mut(class as usize)
        {
            *slot = Some(rule);
            self.left -= 1;
        }
    }
}

/// One pass over `t`. At each byte, punctuation that can start an attack (a quote, `;`, `<`,
/// a dot, a digit...) is checked in its context, and the keywords and fragments of
/// [`NEEDLES`] that begin with this byte are compared (word needles only where a word starts).
/// Every check looks ahead a bounded distance, or over a stretch that no other check of the
/// same kind visits again (a tag up to the next `<`/`>`, a run of dots or digits), so the whole
/// scan is linear in `t`. The leftmost match of a class names its hit.
fn scan(t: &[u8], agent: bool, found: &mut Found) {
    let mut seen_break = false;
    for (i, &b) in t.iter().enumerate() {
        if found.left == 0 {
            return;
        }
        punctuation(t, i, b, found);
        let tables = &*NEEDLE_TABLES;
        let word_start = boundary_before(t, i);
        for (table, used) in [
            (&tables.words, word_start),
            (&tables.parts, true),
            (&tables.agents, agent),
        ] {
            if !used {
                continue;
            }
            for needle in table.get(usize::from(b)).into_iter().flatten() {
                if found.wants(needle.class) && needle.matches(t, i, seen_break) {
                    found.note(needle.class, needle.rule);
                }
            }
        }
        if is_quote(b) || b == b'<' {
            seen_break = true;
        }
    }
}

fn punctuation(t: &[u8], i: usize, b: u8, found: &mut Found) {
    use RuleClass::{
        CommandInjection as Cmd, CrossSiteScripting as Xss, NullByte, PathTraversal as Trav,
        SqlInjection as Sql,
    };
    match b {
        0 => found.note(NullByte, rule::NULL_BYTE),
        b'\'' | b'"' => {
            if found.wants(Sql) {
                if tautology_at(t, i) {
                    found.note(Sql, rule::SQLI_TAUTOLOGY);
                } else if comment_truncation_at(t, i) {
                    found.note(Sql, rule::SQLI_COMMENT_TRUNCATION);
                }
            }
            if found.wants(Xss) && quote_break_handler_at(t, i) {
                found.note(Xss, rule::XSS_EVENT_HANDLER);
            }
        }
        b';' => {
            if found.wants(Sql) && STACKED.iter().any(|steps| sequence(t, i + 1, steps)) {
                found.note(Sql, rule::SQLI_STACKED_QUERY);
            }
            if found.wants(Cmd) && chained_command_at(t, i) {
                found.note(Cmd, rule::CMDI_CHAINED_COMMAND);
            }
        }
        b'|' | b'`' | b'\n' | b'&' | b'$' if found.wants(Cmd) && chained_command_at(t, i) => {
            found.note(Cmd, rule::CMDI_CHAINED_COMMAND);
        }
        b'(' if found.wants(Cmd)
            && starts(t, i, b"()")
            && at(t, skip_ws(t, i + 2)) == Some(b'{') =>
        {
            found.note(Cmd, rule::CMDI_SHELLSHOCK);
        }
        b'<' => {
            if found.wants(Xss)
                && let Some(id) = tag_at(t, i)
            {
                found.note(Xss, id);
            }
        }
        b'.' => {
            let run_start = i.checked_sub(1).and_then(|p| at(t, p)) != Some(b'.');
            if found.wants(Trav) && run_start && dot_dot_at(t, i) {
                found.note(Trav, rule::TRAVERSAL_DOT_DOT);
            }
        }
        b'0'..=b'9' if found.wants(Sql) && boundary_before(t, i) && boolean_probe_at(t, i) => {
            found.note(Sql, rule::SQLI_BOOLEAN_PROBE);
        }
        b'j' | b'v' | b'l'
            if found.wants(Xss) && boundary_before(t, i) && script_scheme_at(t, i) =>
        {
            found.note(Xss, rule::XSS_SCRIPT_URI);
        }
        _ => {}
    }
}

/// What must surround a needle's text for it to count.
#[derive(Clone, Copy)]
enum Check {
    /// The text alone.
    Hit,
    /// An optional space, then `(`: a function call.
    Call,
    /// `(` right after it (`expression(`).
    GluedCall,
    /// The end or a non-word byte after it (`/bin/sh`, `$ifs`).
    Bounded,
    /// `union [all|distinct] select`.
    UnionSelect,
    /// `into outfile|dumpfile`.
    IntoFile,
    /// `sleep(` then a number or an expression.
    Sleep,
    /// `waitfor delay|time`.
    Waitfor,
    /// `data:text/html`, `data:image/svg`.
    DataUri,
    /// `srcdoc =`.
    Srcdoc,
    /// `file:/`.
    FileUri,
    /// A dialog or eval call right after a JavaScript break, once a quote or `<` was seen.
    JsCall,
}

/// A keyword (`word`: whole word only) or fragment that triggers a rule.
#[derive(Clone, Copy)]
struct Needle {
    text: &'static str,
    word: bool,
    check: Check,
    class: RuleClass,
    rule: &'static str,
}

impl Needle {
    fn matches(&self, t: &[u8], i: usize, seen_break: bool) -> bool {
        let end = i + self.text.len();
        if !starts(t, i, self.text.as_bytes()) || (self.word && !boundary_after(t, end)) {
            return false;
        }
        match self.check {
            Check::Hit => true,
            Check::Call => at(t, skip_ws(t, end)) == Some(b'('),
            Check::GluedCall => at(t, end) == Some(b'('),
            Check::Bounded => boundary_after(t, end),
            Check::UnionSelect => {
                let mut j = skip_gap(t, end, true);
                if let Some(after) = any_word_at(t, j, &["all", "distinct"]) {
                    j = skip_gap(t, after, true);
                }
                word_at(t, j, b"select").is_some()
            }
            Check::IntoFile => {
                any_word_at(t, skip_gap(t, end, false), &["outfile", "dumpfile"]).is_some()
            }
            Check::Sleep => {
                // Glued to its bracket: "sleep (8 hours)" is prose.
                at(t, end) == Some(b'(')
                    && at(t, skip_ws(t, end + 1)).is_some_and(|c| c.is_ascii_digit() || c == b'(')
            }
            Check::Waitfor => any_word_at(t, skip_gap(t, end, false), &["delay", "time"]).is_some(),
            Check::DataUri => {
                let j = skip_ws(t, end + 1);
                at(t, end) == Some(b':')
                    && (starts(t, j, b"text/html") || starts(t, j, b"image/svg"))
            }
            Check::Srcdoc => at(t, skip_ws(t, end)) == Some(b'='),
            Check::FileUri => starts(t, end, b":/"),
            Check::JsCall => seen_break && js_call_at(t, i, end),
        }
    }
}

const fn word(text: &'static str, check: Check, class: RuleClass, rule: &'static str) -> Needle {
    Needle {
        text,
        word: true,
        check,
        class,
        rule,
    }
}

const fn part(text: &'static str, check: Check, class: RuleClass, rule: &'static str) -> Needle {
    Needle {
        text,
        word: false,
        check,
        class,
        rule,
    }
}

const SQL: RuleClass = RuleClass::SqlInjection;
const XSS: RuleClass = RuleClass::CrossSiteScripting;
const TRAV: RuleClass = RuleClass::PathTraversal;
const CMD: RuleClass = RuleClass::CommandInjection;
const SCAN: RuleClass = RuleClass::Scanner;

/// Keywords and fragments, lowercase. Punctuation-led rules (quotes, `;`, `<`, dots, digits,
/// shell separators, script schemes) are in [`punctuation`].
const NEEDLES: &[Needle] = &[
    // SQL
    word("union", Check::UnionSelect, SQL, rule::SQLI_UNION_SELECT),
    word("sleep", Check::Sleep, SQL, rule::SQLI_TIME_DELAY),
    word("pg_sleep", Check::Call, SQL, rule::SQLI_TIME_DELAY),
    word("benchmark", Check::Call, SQL, rule::SQLI_TIME_DELAY),
    word("randomblob", Check::Call, SQL, rule::SQLI_TIME_DELAY),
    word("waitfor", Check::Waitfor, SQL, rule::SQLI_TIME_DELAY),
    part("dbms_lock.sleep", Check::Hit, SQL, rule::SQLI_TIME_DELAY),
    part(
        "dbms_pipe.receive_message",
        Check::Hit,
        SQL,
        rule::SQLI_TIME_DELAY,
    ),
    word("information_schema", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("sqlite_master", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("sqlite_schema", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("sqlite_temp_master", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("pg_catalog", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("pg_shadow", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("sysobjects", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("syscolumns", Check::Hit, SQL, rule::SQLI_CATALOG),
    word("msysobjects", Check::Hit, SQL, rule::SQLI_CATALOG),
    part("mysql.user", Check::Hit, SQL, rule::SQLI_CATALOG),
    part("@@version", Check::Hit, SQL, rule::SQLI_VERSION_PROBE),
    part("@@datadir", Check::Hit, SQL, rule::SQLI_VERSION_PROBE),
    part("@@hostname", Check::Hit, SQL, rule::SQLI_VERSION_PROBE),
    part("@@basedir", Check::Hit, SQL, rule::SQLI_VERSION_PROBE),
    part("@@servername", Check::Hit, SQL, rule::SQLI_VERSION_PROBE),
    word("sqlite_version", Check::Call, SQL, rule::SQLI_VERSION_PROBE),
    word("load_file", Check::Call, SQL, rule::SQLI_FILE_ACCESS),
    word("pg_read_file", Check::Call, SQL, rule::SQLI_FILE_ACCESS),
    word("pg_ls_dir", Check::Call, SQL, rule::SQLI_FILE_ACCESS),
    word("lo_import", Check::Call, SQL, rule::SQLI_FILE_ACCESS),
    word("into", Check::IntoFile, SQL, rule::SQLI_FILE_ACCESS),
    word("xp_cmdshell", Check::Hit, SQL, rule::SQLI_STORED_PROCEDURE),
    word("xp_dirtree", Check::Hit, SQL, rule::SQLI_STORED_PROCEDURE),
    word("xp_regread", Check::Hit, SQL, rule::SQLI_STORED_PROCEDURE),
    word("sp_oacreate", Check::Hit, SQL, rule::SQLI_STORED_PROCEDURE),
    word(
        "sp_makewebtask",
        Check::Hit,
        SQL,
        rule::SQLI_STORED_PROCEDURE,
    ),
    word("extractvalue", Check::Call, SQL, rule::SQLI_ERROR_BASED),
    word("updatexml", Check::Call, SQL, rule::SQLI_ERROR_BASED),
    part("floor(rand(", Check::Hit, SQL, rule::SQLI_ERROR_BASED),
    part("exp(~(", Check::Hit, SQL, rule::SQLI_ERROR_BASED),
    // Cross-site scripting
    word("data", Check::DataUri, XSS, rule::XSS_SCRIPT_URI),
    word("srcdoc", Check::Srcdoc, XSS, rule::XSS_SRCDOC),
    word(
        "expression",
        Check::GluedCall,
        XSS,
        rule::XSS_CSS_EXPRESSION,
    ),
    part("-moz-binding", Check::Hit, XSS, rule::XSS_CSS_EXPRESSION),
    part("document.cookie", Check::Hit, XSS, rule::XSS_DOM_ACCESS),
    part("document.domain", Check::Hit, XSS, rule::XSS_DOM_ACCESS),
    part("document.write", Check::Hit, XSS, rule::XSS_DOM_ACCESS),
    part("document.location", Check::Hit, XSS, rule::XSS_DOM_ACCESS),
    part("document['cookie", Check::Hit, XSS, rule::XSS_DOM_ACCESS),
    part("document[\"cookie", Check::Hit, XSS, rule::XSS_DOM_ACCESS),
    word("alert", Check::JsCall, XSS, rule::XSS_JS_CALL),
    word("prompt", Check::JsCall, XSS, rule::XSS_JS_CALL),
    word("confirm", Check::JsCall, XSS, rule::XSS_JS_CALL),
    word("eval", Check::JsCall, XSS, rule::XSS_JS_CALL),
    word("fromcharcode", Check::JsCall, XSS, rule::XSS_JS_CALL),
    word("atob", Check::JsCall, XSS, rule::XSS_JS_CALL),
    // Path traversal
    part("etc/passwd", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("etc/shadow", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("etc/hosts", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("proc/self/", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("c:\\windows", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("c:/windows", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("win.ini", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("boot.ini", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("system32\\", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    part("web-inf/", Check::Hit, TRAV, rule::TRAVERSAL_SYSTEM_FILE),
    word("file", Check::FileUri, TRAV, rule::TRAVERSAL_FILE_URI),
    part("php://", Check::Hit, TRAV, rule::TRAVERSAL_FILE_URI),
    part("phar://", Check::Hit, TRAV, rule::TRAVERSAL_FILE_URI),
    part("expect://", Check::Hit, TRAV, rule::TRAVERSAL_FILE_URI),
    part("zip://", Check::Hit, TRAV, rule::TRAVERSAL_FILE_URI),
    // Command injection
    part("${ifs", Check::Hit, CMD, rule::CMDI_IFS),
    part("$ifs", Check::Bounded, CMD, rule::CMDI_IFS),
    part("/bin/sh", Check::Bounded, CMD, rule::CMDI_SHELL_PATH),
    part("/bin/bash", Check::Bounded, CMD, rule::CMDI_SHELL_PATH),
    part("/bin/zsh", Check::Bounded, CMD, rule::CMDI_SHELL_PATH),
    part("/bin/dash", Check::Bounded, CMD, rule::CMDI_SHELL_PATH),
    part("/bin/busybox", Check::Bounded, CMD, rule::CMDI_SHELL_PATH),
    word("cmd.exe", Check::Hit, CMD, rule::CMDI_SHELL_PATH),
    word("powershell.exe", Check::Hit, CMD, rule::CMDI_SHELL_PATH),
    part("${jndi:", Check::Hit, CMD, rule::CMDI_JNDI_LOOKUP),
    part("${${", Check::Hit, CMD, rule::CMDI_JNDI_LOOKUP),
    part("${::-", Check::Hit, CMD, rule::CMDI_JNDI_LOOKUP),
    // Out-of-band interaction domains that testing tools make a payload call back to.
    part(
        "burpcollaborator.net",
        Check::Hit,
        SCAN,
        rule::SCANNER_OOB_DOMAIN,
    ),
    part("oastify.com", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("interact.sh", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("oast.fun", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("oast.pro", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("oast.live", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("oast.site", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("oast.online", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("oast.me", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("dnslog.cn", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
    part("ceye.io", Check::Hit, SCAN, rule::SCANNER_OOB_DOMAIN),
];

/// The rule id of each scanner and the names (lowercase) it shows in its User-Agent.
const SCANNER_AGENTS: [(&str, &[&str]); 25] = [
    ("scanner.sqlmap", &["sqlmap"]),
    ("scanner.nikto", &["nikto"]),
    ("scanner.wapiti", &["wapiti"]),
    ("scanner.nmap", &["nmap"]),
    ("scanner.masscan", &["masscan"]),
    ("scanner.zgrab", &["zgrab"]),
    ("scanner.acunetix", &["acunetix"]),
    ("scanner.nessus", &["nessus"]),
    ("scanner.openvas", &["openvas"]),
    ("scanner.w3af", &["w3af"]),
    ("scanner.dirbuster", &["dirbuster"]),
    ("scanner.gobuster", &["gobuster"]),
    ("scanner.ffuf", &["ffuf", "fuzz faster u fool"]),
    ("scanner.wfuzz", &["wfuzz"]),
    ("scanner.nuclei", &["nuclei"]),
    (
        "scanner.burp_collaborator",
        &["burp collaborator", "burpcollaborator"],
    ),
    ("scanner.havij", &["havij"]),
    ("scanner.jaeles", &["jaeles"]),
    ("scanner.arachni", &["arachni"]),
    ("scanner.skipfish", &["skipfish"]),
    ("scanner.wpscan", &["wpscan"]),
    ("scanner.netsparker", &["netsparker"]),
    ("scanner.commix", &["commix"]),
    ("scanner.xsstrike", &["xsstrike"]),
    ("scanner.zmeu", &["zmeu"]),
];

/// Needles grouped by their first byte, so that each byte of a field is compared only with the
/// few needles that start with it.
struct NeedleTables {
    /// Whole-word needles: looked up only where a word starts.
    words: [Vec<Needle>; 256],
    /// Fragments: looked up at every byte.
    parts: [Vec<Needle>; 256],
    /// Scanner names: looked up in the User-Agent only.
    agents: [Vec<Needle>; 256],
}

static NEEDLE_TABLES: LazyLock<NeedleTables> = LazyLock::new(|| {
    fn add(table: &mut [Vec<Needle>; 256], needle: Needle) {
        let first = needle.text.as_bytes().first().copied().unwrap_or(0);
        if let Some(list) = table.get_mut(usize::from(first)) {
            list.push(needle);
        }
    }
    let mut tables = NeedleTables {
        words: std::array::from_fn(|_| Vec::new()),
        parts: std::array::from_fn(|_| Vec::new()),
        agents: std::array::from_fn(|_| Vec::new()),
    };
    for &needle in NEEDLES {
        let table = if needle.word {
            &mut tables.words
        } else {
            &mut tables.parts
        };
        add(table, needle);
    }
    for &(id, names) in &SCANNER_AGENTS {
        for &name in names {
            add(&mut tables.agents, part(name, Check::Hit, SCAN, id));
        }
    }
    tables
});

// ---------------------------------------------------------------------------------------------
// SQL injection
// ---------------------------------------------------------------------------------------------

fn is_quote(b: u8) -> bool {
    b == b'\'' || b == b'"'
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operand {
    Number,
    Quoted,
    Ident,
}

/// One side of a comparison.
struct Term<'t> {
    /// The index after it.
    end: usize,
    kind: Operand,
    /// Its text, without the quotes.
    text: &'t [u8],
    /// A quoted string left open at the end of the field (the query's own quote closes it).
    open: bool,
}

/// A comparison operand at `i`: a quoted string, a number, or an identifier. Bounded length.
fn operand(t: &[u8], i: usize) -> Option<Term<'_>> {
    let first = at(t, i)?;
    if is_quote(first) {
        let mut j = i + 1;
        loop {
            let (end, open) = match at(t, j) {
                None => (j, true),
                Some(c) if c == first => (j + 1, false),
                Some(_) if j - i > GAP => return None,
                Some(_) => {
                    j += 1;
                    continue;
                }
            };
            let text = t.get(i + 1..j).unwrap_or_default();
            return Some(Term {
                end,
                kind: Operand::Quoted,
                text,
                open,
            });
        }
    }
    let start = i;
    let mut j = if first == b'-' { i + 1 } else { i };
    let digits = j;
    while at(t, j).is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'@'))
        && j - digits < GAP
    {
        j += 1;
    }
    let body = t.get(digits..j).filter(|s| !s.is_empty())?;
    let kind = if body.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        Operand::Number
    } else {
        Operand::Ident
    };
    Some(Term {
        end: j,
        kind,
        text: t.get(start..j).unwrap_or_default(),
        open: false,
    })
}

/// A comparison operator at `i`: the index after it and whether it is a word (`like`).
fn operator(t: &[u8], i: usize) -> Option<(usize, bool)> {
    for op in ["<=>", "<>", "!=", "<=", ">=", "==", "=", "<", ">"] {
        if starts(t, i, op.as_bytes()) {
            return Some((i + op.len(), false));
        }
    }
    any_word_at(t, i, &["like", "rlike", "regexp"]).map(|end| (end, true))
}

/// `a = b` at `i` (after optional spaces, brackets and `not`).
///
/// When `strict` (after a number): both operands are numbers or both quoted strings, and the
/// operator is a symbol with no space round it (`1 and 5432=5433`). Otherwise (after a quote):
/// a symbol glued to its operands (`' or 1=1`, `' or 'x'='x`), or else equal operands
/// (`' or 'a' = 'a'`) or a right operand left open at the end (`' or name like '%`), so that
/// a question like "is 'SPRING10' or 'SUMMER' = the same?" stays clean.
fn comparison(t: &[u8], i: usize, strict: bool) -> bool {
    let mut j = skip_gap(t, i, true);
    if let Some(end) = word_at(t, j, b"not") {
        j = skip_gap(t, end, true);
    }
    let Some(left) = operand(t, j) else {
        return false;
    };
    let k = if strict {
        left.end
    } else {
        skip_ws(t, left.end)
    };
    let Some((after_op, word_op)) = operator(t, k) else {
        return false;
    };
    let m = if strict {
        after_op
    } else {
        skip_gap(t, after_op, true)
    };
    let Some(right) = operand(t, m) else {
        return false;
    };
    if strict {
        return !word_op && left.kind == right.kind && left.kind != Operand::Ident;
    }
    let glued = !word_op && k == left.end && m == after_op;
    glued || left.text == right.text || right.open
}

/// `or`, `and`, `xor`, `||`, `&&` at `i`: the index after it.
fn connector(t: &[u8], i: usize) -> Option<usize> {
    if starts(t, i, b"||") || starts(t, i, b"&&") {
        return Some(i + 2);
    }
    any_word_at(t, i, &["or", "and", "xor"])
}

/// Skips `)` and spaces after a quote or a number (bounded).
fn skip_closers(t: &[u8], mut i: usize) -> usize {
    let limit = i + 8;
    while i < limit && at(t, i).is_some_and(|c| c == b')' || is_ws(c)) {
        i += 1;
    }
    i
}

fn is_comment_start(t: &[u8], i: usize) -> bool {
    starts(t, i, b"--") || starts(t, i, b"#") || starts(t, i, b"/*")
}

/// `' or 1=1`, `" or "a"="a`, `') or ('x'='x`, `' or 1--`: the quote at `q` closes a string
/// and a condition that is always (or never) true follows.
fn tautology_at(t: &[u8], q: usize) -> bool {
    let Some(after) = connector(t, skip_closers(t, q + 1)) else {
        return false;
    };
    if comparison(t, after, false) {
        return true;
    }
    // `' or 1-- -`, `' or true#`: a truth followed by nothing but a comment.
    let j = skip_gap(t, after, true);
    let Some(end) = word_at(t, j, b"1").or_else(|| word_at(t, j, b"true")) else {
        return false;
    };
    let k = skip_closers(t, end);
    at(t, k).is_none() || is_comment_start(t, k) || at(t, k) == Some(b';')
}

/// `1 and 1=1`, `1) and 5432=5433`, `1 or 'a'='a'`: the number starting at `i` is followed by
/// a boolean test of literals. Only called where a number starts, so digit runs are read once.
fn boolean_probe_at(t: &[u8], i: usize) -> bool {
    let mut j = i;
    while at(t, j).is_some_and(|c| c.is_ascii_digit()) {
        j += 1;
    }
    if !boundary_after(t, j) {
        return false;
    }
    let k = skip_closers(t, j);
    k > j && connector(t, k).is_some_and(|after| comparison(t, after, true))
}

/// One step of a keyword sequence.
#[derive(Clone, Copy)]
enum Step {
    /// One of these whole words.
    Word(&'static [&'static str]),
    /// One of these literal prefixes (`xp_`, `(`).
    Lit(&'static [&'static str]),
    /// A table or column name.
    Ident,
    /// The end of the field, a comment, `;` or `where`.
    End,
}

/// Matches `steps` from `i`, skipping SQL gaps between them.
fn sequence(t: &[u8], mut i: usize, steps: &[Step]) -> bool {
    for step in steps {
        i = skip_gap(t, i, false);
        let next = match *step {
            Step::Word(ws) => any_word_at(t, i, ws),
            Step::Lit(lits) => lits
                .iter()
                .find(|l| starts(t, i, l.as_bytes()))
                .map(|l| i + l.len()),
            Step::Ident => {
                let mut j = i;
                while at(t, j)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'`'))
                    && j - i < GAP
                {
                    j += 1;
                }
                (j > i).then_some(j)
            }
            Step::End => {
                let end = at(t, i).is_none()
                    || is_comment_start(t, i)
                    || at(t, i) == Some(b';')
                    || word_at(t, i, b"where").is_some();
                end.then_some(i)
            }
        };
        match next {
            Some(n) => i = n,
            None => return false,
        }
    }
    true
}

const STACKED: [&[Step]; 10] = [
    &[
        Step::Word(&["drop"]),
        Step::Word(&[
            "table",
            "database",
            "schema",
            "user",
            "view",
            "procedure",
            "function",
            "index",
            "trigger",
        ]),
    ],
    &[
        Step::Word(&["delete"]),
        Step::Word(&["from"]),
        Step::Ident,
        Step::End,
    ],
    &[
        Step::Word(&["insert"]),
        Step::Word(&["into"]),
        Step::Ident,
        Step::Lit(&["(", "values", "select", "set"]),
    ],
    &[
        Step::Word(&["update"]),
        Step::Ident,
        Step::Word(&["set"]),
        Step::Ident,
        Step::Lit(&["="]),
    ],
    &[Step::Word(&["shutdown"]), Step::End],
    &[
        Step::Word(&["shutdown"]),
        Step::Word(&["with"]),
        Step::Word(&["nowait"]),
    ],
    &[
        Step::Word(&["exec", "execute"]),
        Step::Lit(&["xp_", "sp_", "master."]),
    ],
    &[Step::Word(&["declare"]), Step::Lit(&["@"])],
    &[Step::Word(&["truncate"]), Step::Word(&["table"])],
    &[
        Step::Word(&["alter", "create"]),
        Step::Word(&[
            "table",
            "user",
            "database",
            "function",
            "procedure",
            "trigger",
        ]),
    ],
];

/// `admin'--`, `1' -- -`, `')#`, `admin'/*`: the quote at `q` is followed by a comment that
/// swallows the rest of the query.
fn comment_truncation_at(t: &[u8], q: usize) -> bool {
    let mut j = q + 1;
    while at(t, j) == Some(b')') && j - q < 8 {
        j += 1;
    }
    let k = skip_ws(t, j);
    let spaced = k > j;
    let tail_start = if starts(t, k, b"/*") {
        return true;
    } else if starts(t, k, b"--") {
        k + 2
    } else if starts(t, k, b"#") {
        k + 1
    } else {
        return false;
    };
    // The comment must end the field: a tail of junk, or (glued to the quote) one short word
    // such as sqlmap's random suffix. Long tails are prose, and bounding the tail keeps this
    // linear.
    let tail = t.get(tail_start..).unwrap_or_default();
    if tail.len() > 24 {
        return false;
    }
    let junk = |c: &u8| matches!(c, b'-' | b'+' | b'#' | b'*' | b'/' | b';' | b')') || is_ws(*c);
    let tail = tail.trim_ascii();
    if tail.iter().all(junk) {
        return true;
    }
    let word = tail.strip_prefix(b"-").unwrap_or(tail);
    !spaced && word.len() <= 12 && word.iter().all(|c| c.is_ascii_alphanumeric())
}

// ---------------------------------------------------------------------------------------------
// Cross-site scripting
// ---------------------------------------------------------------------------------------------

const EMBEDDING_TAGS: [&str; 6] = ["iframe", "frame", "frameset", "object", "embed", "applet"];

/// The `<` at `open` starts a tag named by the letters after it; the tag runs to the next `<` or
/// `>`. Tags never overlap, so all of them together are read once.
fn tag_at(t: &[u8], open: usize) -> Option<&'static str> {
    let mut j = open + 1;
    if at(t, j) == Some(b'/') {
        j += 1;
    }
    let name_start = j;
    if !at(t, j).is_some_and(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    while at(t, j).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-') {
        j += 1;
    }
    let name = t.get(name_start..j).unwrap_or_default();
    if name == b"script" {
        return Some(rule::XSS_SCRIPT_TAG);
    }
    let end = t
        .get(j..)
        .and_then(|r| r.iter().position(|&b| b == b'<' || b == b'>'))
        .map_or(t.len(), |p| p + j);
    let region = t.get(j..end).unwrap_or_default();
    let embedding = EMBEDDING_TAGS.iter().any(|n| name == n.as_bytes())
        || (name == b"base" && contains(region, b"href"))
        || (name == b"meta" && contains(region, b"http-equiv"));
    if embedding {
        return Some(rule::XSS_EMBEDDING_TAG);
    }
    (j..end)
        .any(|k| attribute_start(t, k) && event_attribute(t, k, false))
        .then_some(rule::XSS_EVENT_HANDLER)
}

fn attribute_start(t: &[u8], k: usize) -> bool {
    k.checked_sub(1)
        .and_then(|p| at(t, p))
        .is_some_and(|c| is_ws(c) || matches!(c, b'/' | b'"' | b'\''))
}

/// `on` and three or more letters, then `=` (with a space allowed before it unless `strict`,
/// and, when `strict`, something right after it).
fn event_attribute(t: &[u8], k: usize, strict: bool) -> bool {
    if !starts(t, k, b"on") {
        return false;
    }
    let mut j = k + 2;
    while at(t, j).is_some_and(|c| c.is_ascii_lowercase()) && j - k < 40 {
        j += 1;
    }
    if j - k < 5 {
        return false;
    }
    let eq = if strict { j } else { skip_ws(t, j) };
    at(t, eq) == Some(b'=') && (!strict || at(t, eq + 1).is_some_and(|c| !is_ws(c)))
}

/// `" onmouseover="alert(1)`, `'/onfocus=x`: after the quote at `q`, an attribute injected by
/// breaking out of a quoted attribute value.
fn quote_break_handler_at(t: &[u8], q: usize) -> bool {
    let mut k = q + 1;
    while at(t, k).is_some_and(|c| is_ws(c) || c == b'/') && k - q < 4 {
        k += 1;
    }
    event_attribute(t, k, true)
}

/// `word` spelt at `i` with at most one blank between letters (browsers drop tabs and newlines
/// inside a URL scheme); the index after it.
fn spaced_word(t: &[u8], mut i: usize, word: &[u8]) -> Option<usize> {
    for (n, &c) in word.iter().enumerate() {
        if n > 0 && at(t, i).is_some_and(is_ws) {
            i += 1;
        }
        if at(t, i) != Some(c) {
            return None;
        }
        i += 1;
    }
    Some(i)
}

/// `javascript:x`, `vbscript:x`, `livescript:x` at `i`, with code right after the colon.
fn script_scheme_at(t: &[u8], i: usize) -> bool {
    ["javascript", "vbscript", "livescript"].iter().any(|s| {
        spaced_word(t, i, s.as_bytes()).is_some_and(|end| {
            let colon = skip_ws(t, end);
            at(t, colon) == Some(b':') && at(t, colon + 1).is_some_and(|c| !is_ws(c))
        })
    })
}

/// `';alert(1)//`, `"-prompt(1)-"`, `"><svg/onload=confirm(1)>`: the function name at
/// `i..end` is called (`(` or a backtick) right after a JavaScript break.
fn js_call_at(t: &[u8], i: usize, end: usize) -> bool {
    if !matches!(at(t, skip_ws(t, end)), Some(b'(' | b'`')) {
        return false;
    }
    let mut p = i;
    while p > 0 && at(t, p - 1).is_some_and(is_ws) && i - p < 2 {
        p -= 1;
    }
    p.checked_sub(1)
        .and_then(|p| at(t, p))
        .is_some_and(|c| b"'\";+-><(=,|&{}`/:.*!?[".contains(&c))
}

// ---------------------------------------------------------------------------------------------
// Path traversal
// ---------------------------------------------------------------------------------------------

/// The run of dots starting at `start` is two (or four and more: `....//`) dots forming a path
/// segment of its own.
fn dot_dot_at(t: &[u8], start: usize) -> bool {
    let mut i = start;
    while at(t, i) == Some(b'.') {
        i += 1;
    }
    let run = i - start;
    if run != 2 && run < 4 {
        return false;
    }
    let before = start.checked_sub(1).and_then(|p| at(t, p));
    if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let slash = |c: Option<u8>| matches!(c, Some(b'/' | b'\\'));
    let after = at(t, i);
    slash(after)
        || (after == Some(b';') && slash(at(t, i + 1)))
        || (after.is_none() && slash(before))
}

// ---------------------------------------------------------------------------------------------
// Command injection
// ---------------------------------------------------------------------------------------------

/// Commands that mean something alone: a hit at the end, before a separator or an option.
const BARE_COMMANDS: [&str; 12] = [
    "id", "whoami", "uname", "ls", "pwd", "ifconfig", "ipconfig", "hostname", "netstat", "bash",
    "sh", "zsh",
];

/// Commands that need an argument: a hit before an option, a path, `$` or a URL.
const ARG_COMMANDS: [&str; 23] = [
    "cat",
    "wget",
    "curl",
    "nc",
    "ncat",
    "netcat",
    "ping",
    "sleep",
    "nslookup",
    "rm",
    "chmod",
    "perl",
    "python",
    "python3",
    "php",
    "ruby",
    "echo",
    "powershell",
    "cmd",
    "telnet",
    "busybox",
    "head",
    "timeout",
];

/// Commands whose argument may be a bare number (`sleep 5`, `ping 10.0.0.1`).
const NUMERIC_COMMANDS: [&str; 6] = ["sleep", "ping", "nc", "ncat", "timeout", "telnet"];

/// The shell separator at `i` (`;`, `|`, `||`, `&&`, a backtick, `$(`, a newline) is followed
/// by a command.
fn chained_command_at(t: &[u8], i: usize) -> bool {
    let next = match at(t, i) {
        Some(b';' | b'`' | b'\n') => i + 1,
        Some(b'|') if at(t, i + 1) == Some(b'|') => i + 2,
        Some(b'|') => i + 1,
        Some(b'&') if at(t, i + 1) == Some(b'&') => i + 2,
        Some(b'$') if at(t, i + 1) == Some(b'(') => i + 2,
        _ => return false,
    };
    command_at(t, skip_ws(t, next))
}

fn is_shell_delimiter(c: u8) -> bool {
    b";|&`)#><'\"\n".contains(&c)
}

fn argument_start(t: &[u8], k: usize) -> bool {
    match at(t, k) {
        Some(b'-') => at(t, k + 1).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'-'),
        Some(b'/' | b'$' | b'`') => true,
        _ => ["~/", "./", "../", "http://", "https://", "ftp://"]
            .iter()
            .any(|p| starts(t, k, p.as_bytes())),
    }
}

fn command_at(t: &[u8], i: usize) -> bool {
    let mut j = i;
    while at(t, j).is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) && j - i <= 12 {
        j += 1;
    }
    if !boundary_after(t, j) {
        return false;
    }
    let Some(word) = t.get(i..j).filter(|w| !w.is_empty()) else {
        return false;
    };
    let is = |list: &[&str]| list.iter().any(|c| c.as_bytes() == word);
    let bare = is(&BARE_COMMANDS);
    let with_arg = is(&ARG_COMMANDS);
    let numeric = is(&NUMERIC_COMMANDS);
    if !bare && !with_arg {
        return false;
    }
    match at(t, j) {
        None => bare,
        Some(b'$') => true,
        Some(b' ') => match at(t, j + 1) {
            None => bare,
            Some(d) if is_shell_delimiter(d) => bare,
            Some(d) => argument_start(t, j + 1) || (numeric && d.is_ascii_digit()),
        },
        Some(c) if is_shell_delimiter(c) => bare,
        Some(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Platform probes (path only)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Anchor {
    /// Only as the path's first segment: names that could also be a product slug.
    First,
    /// Any segment, followed by the end, `/`, `.`, `;` or `?`.
    Segment,
    /// Any segment that starts with it (`/.env.local`, `/.gitignore`).
    Prefix,
}

const PROBES: [(&str, Anchor, &str); 44] = [
    ("/wp-admin", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/wp-login", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/wp-content", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/wp-includes", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/wp-json", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/wp-config", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/xmlrpc.php", Anchor::Segment, rule::PROBE_WORDPRESS),
    ("/.git", Anchor::Prefix, rule::PROBE_VCS),
    ("/.svn", Anchor::Prefix, rule::PROBE_VCS),
    ("/.hg", Anchor::Prefix, rule::PROBE_VCS),
    ("/.bzr", Anchor::Prefix, rule::PROBE_VCS),
    ("/.env", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.aws", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.ds_store", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.htaccess", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.htpasswd", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.ssh", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.docker", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.npmrc", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.bash_history", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/.vscode", Anchor::Prefix, rule::PROBE_DOTFILE),
    ("/phpmyadmin", Anchor::Segment, rule::PROBE_DB_ADMIN),
    ("/myadmin", Anchor::Segment, rule::PROBE_DB_ADMIN),
    ("/pma", Anchor::First, rule::PROBE_DB_ADMIN),
    ("/adminer", Anchor::Segment, rule::PROBE_DB_ADMIN),
    ("/cgi-bin/", Anchor::Segment, rule::PROBE_CGI_BIN),
    ("/server-status", Anchor::Segment, rule::PROBE_SERVER_STATUS),
    ("/server-info", Anchor::Segment, rule::PROBE_SERVER_STATUS),
    ("/actuator", Anchor::First, rule::PROBE_ACTUATOR),
    ("/vendor/phpunit", Anchor::Segment, rule::PROBE_PHPUNIT),
    ("/phpunit", Anchor::Segment, rule::PROBE_PHPUNIT),
    ("/boaform", Anchor::First, rule::PROBE_ROUTER),
    ("/hnap1", Anchor::Segment, rule::PROBE_ROUTER),
    ("/goform", Anchor::First, rule::PROBE_ROUTER),
    ("/owa", Anchor::First, rule::PROBE_EXCHANGE),
    ("/ecp", Anchor::First, rule::PROBE_EXCHANGE),
    ("/autodiscover", Anchor::First, rule::PROBE_EXCHANGE),
    ("/config.php", Anchor::Segment, rule::PROBE_CONFIG_FILE),
    ("/web.config", Anchor::Segment, rule::PROBE_CONFIG_FILE),
    ("/elmah.axd", Anchor::Segment, rule::PROBE_CONFIG_FILE),
    ("/jenkins", Anchor::First, rule::PROBE_JAVA_CONSOLE),
    ("/solr", Anchor::First, rule::PROBE_JAVA_CONSOLE),
    ("/console", Anchor::First, rule::PROBE_JAVA_CONSOLE),
    ("/manager/html", Anchor::First, rule::PROBE_JAVA_CONSOLE),
];

const SCRIPT_EXTENSIONS: [&str; 6] = [".php", ".phtml", ".asp", ".aspx", ".jsp", ".cgi"];

fn segment_end(t: &[u8], i: usize) -> bool {
    at(t, i).is_none_or(|c| matches!(c, b'/' | b'.' | b';' | b'?'))
}

/// A probe's path fragment, where it must stand, and its rule id.
type Probe = (&'static [u8], Anchor, &'static str);

/// [`PROBES`] grouped by the byte after their leading `/`.
static PROBES_BY_SECOND: LazyLock<[Vec<Probe>; 256]> = LazyLock::new(|| {
    let mut table: [Vec<Probe>; 256] = std::array::from_fn(|_| Vec::new());
    for &(needle, anchor, id) in &PROBES {
        let second = needle.as_bytes().get(1).copied().unwrap_or(0);
        if let Some(list) = table.get_mut(usize::from(second)) {
            list.push((needle.as_bytes(), anchor, id));
        }
    }
    table
});

/// One pass over the slashes of a normalised path: at each, the probes whose second byte
/// follows it; then the segments' extensions.
fn probe(t: &[u8]) -> Option<&'static str> {
    // `//wp-admin` is `/wp-admin` to most servers: the first segment starts after the last
    // leading slash.
    let first = t.iter().position(|&b| b != b'/').unwrap_or(t.len());
    let first_slash = first.saturating_sub(1);
    for (i, &b) in t.iter().enumerate() {
        if b != b'/' {
            continue;
        }
        let second = at(t, i + 1).map_or(0, usize::from);
        for &(needle, anchor, id) in PROBES_BY_SECOND.get(second).into_iter().flatten() {
            if !starts(t, i, needle) {
                continue;
            }
            let end = i + needle.len();
            let hit = match anchor {
                Anchor::First => i == first_slash && segment_end(t, end),
                Anchor::Segment => needle.ends_with(b"/") || segment_end(t, end),
                Anchor::Prefix => true,
            };
            if hit {
                return Some(id);
            }
        }
    }
    let script = t.split(|&b| b == b'/').any(|segment| {
        let segment = segment.split(|&b| b == b';').next().unwrap_or_default();
        SCRIPT_EXTENSIONS
            .iter()
            .any(|ext| segment.ends_with(ext.as_bytes()))
    });
    script.then_some(rule::PROBE_SCRIPT_EXTENSION)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests;
