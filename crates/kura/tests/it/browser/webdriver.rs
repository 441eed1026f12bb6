//! A small W3C WebDriver client (https://www.w3.org/TR/webdriver2/) for Debian's ChromeDriver
//! and headless Chromium: exactly the commands the stories use, over `reqwest` on loopback.
//!
//! Guarantees: ChromeDriver is started on a free 127.0.0.1 port in its own process group and
//! nothing is downloaded; when the [`Browser`] is dropped — also while a failed assertion
//! unwinds — a screenshot and the page source are saved first (on failure), then the session is
//! closed, ChromeDriver is asked to shut down, and its process group is killed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// Debian's packages, as CI installs them (`apt-get install chromium chromium-driver`).
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The language the browser asks for (`--lang` and `intl.accept_languages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    Japanese,
    English,
}

impl Language {
    fn code(self) -> &'static str {
        match self {
            Self::Japanese => "ja",
            Self::English => "en",
        }
    }
    fn accept(self) -> &'static str {
        match self {
            Self::Japanese => "ja,ja-JP",
            Self::English => "en-US,en",
        }
    }
}

/// A running ChromeDriver with one headless Chromium session.
pub struct Browser {
    wire: Wire,
    driver: Child,
}

/// The processes of process group `pgid`, from `/proc/<pid>/stat` (`pid (comm) state ppid
/// pgrp ...`; the name may hold spaces and parentheses, so fields are counted after the last `)`).
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let fields = stat.get(stat.rfind(')')? + 1..)?;
            let group: u32 = fields.split_whitespace().nth(2)?.parse().ok()?;
            (group == pgid && pid > 1).then_some(pid)
        })
        .collect()
}

/// The protocol side of a session: what the commands and the clean-up in `Drop` need.
#[derive(Clone)]
struct Wire {
    http: reqwest::Client,
    driver_url: String,
    session: String,
    /// Where failure screenshots, page sources and the driver log go.
    artifacts: PathBuf,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound address").port()
}

impl Browser {
    /// Starts ChromeDriver and a fresh Chromium profile in `artifacts` (a test's temp dir).
    pub async fn start(artifacts: &Path, lang: Language) -> Self {
        let port = free_port();
        let driver = {
            use std::os::unix::process::CommandExt;
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    artifacts.join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Its own process group, so Chromium and its helpers can be ended with it.
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start {CHROMEDRIVER} (apt-get install chromium-driver): {e}")
                })
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let mut browser = Self {
            wire: Wire {
                http,
                driver_url: format!("http://127.0.0.1:{port}"),
                session: String::new(),
                artifacts: artifacts.to_path_buf(),
            },
            driver,
        };
        browser.wait_ready().await;
        browser.wire.session = browser.wire.new_session(lang).await;
        browser
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited at start: {status}");
            }
            let ready = match self
                .wire
                .http
                .get(format!("{}/status", self.wire.driver_url))
                .send()
                .await
            {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == json!(true)),
                Err(_) => false,
            };
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer ready on {} within 20 s",
                self.wire.driver_url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Resizes the window so that the page's viewport is `width` CSS pixels wide (the window's
    /// frame is measured and added).
    pub async fn set_viewport_width(&self, width: u32, height: u32) {
        let path = self.wire.session_path("/window/rect");
        self.wire
            .command(
                "POST",
                &path,
                Some(json!({ "width": width, "height": height })),
            )
            .await;
        let inner = self.execute("return window.innerWidth;", Vec::new()).await;
        let frame = i64::from(width) - inner.as_i64().unwrap_or(i64::from(width));
        if frame != 0 {
            self.wire
                .command(
                    "POST",
                    &path,
                    Some(json!({ "width": i64::from(width) + frame, "height": height })),
                )
                .await;
        }
    }

    /// Saves a screenshot as `dir/label.png` (a folder that outlives the story).
    pub async fn screenshot_to(&self, dir: &Path, label: &str) {
        let v = self
            .wire
            .command("GET", &self.wire.session_path("/screenshot"), None)
            .await;
        let png = v
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .expect("a PNG screenshot");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{label}.png")), png).expect("the screenshot is written");
    }

    pub async fn goto(&mut self, url: &str) {
        let path = self.wire.session_path("/url");
        self.wire
            .command("POST", &path, Some(json!({ "url": url })))
            .await;
    }

    /// Adds Chromium's virtual authenticator (WebAuthn endpoints of WebDriver): a platform
    /// authenticator with user verification that always consents.
    pub async fn add_virtual_authenticator(&self) -> String {
        let path = self.wire.session_path("/webauthn/authenticator");
        let v = self
            .wire
            .command(
                "POST",
                &path,
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })),
            )
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The credentials a virtual authenticator holds (as WebDriver reports them).
    pub async fn virtual_credentials(&self, authenticator: &str) -> Vec<Value> {
        let path = self.wire.session_path(&format!(
            "/webauthn/authenticator/{authenticator}/credentials"
        ));
        let v = self.wire.command("GET", &path, None).await;
        v.as_array().cloned().unwrap_or_default()
    }

    pub async fn current_url(&self) -> String {
        let v = self
            .wire
            .command("GET", &self.wire.session_path("/url"), None)
            .await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.find("body").await.text().await
    }

    pub async fn try_find(&self, css: &str) -> Option<Element<'_>> {
        self.find_all(css).await.into_iter().next()
    }

    pub async fn find(&self, css: &str) -> Element<'_> {
        match self.try_find(css).await {
            Some(e) => e,
            None => panic!("no element matches {css:?} on {}", self.current_url().await),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self
            .wire
            .command(
                "POST",
                &self.wire.session_path("/elements"),
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str())
                    .map(|id| Element {
                        wire: &self.wire,
                        id: id.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs a script in the page (`arguments` as in WebDriver "Execute Script").
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.wire
            .command(
                "POST",
                &self.wire.session_path("/execute/sync"),
                Some(json!({ "script": script, "args": args })),
            )
            .await
    }

    /// Waits until the current URL satisfies `cond`; panics naming `what` after 20 s.
    pub async fn wait_for_url(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.current_url().await;
            if cond(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                let console = self.new_console_messages().await.unwrap_or_default();
                panic!("waited 20 s for {what}; at {url}; console: {console:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Chromium's console messages since the last call (ChromeDriver's `se/log` extension,
    /// which hands out each entry once), or `None` when the driver does not offer them.
    pub async fn new_console_messages(&self) -> Option<Vec<String>> {
        let v = self
            .wire
            .try_command(
                "POST",
                &self.wire.session_path("/se/log"),
                Some(json!({ "type": "browser" })),
            )
            .await
            .ok()?;
        Some(
            v.as_array()?
                .iter()
                .map(|e| format!("{} {}", e["level"], e["message"]))
                .collect(),
        )
    }

    /// Asserts that the pages visited since the last check caused no Content-Security-Policy
    /// violation (Chromium reports each one on the console).
    /// Saves a screenshot of the page as `<label>.png` in the artifacts folder (kept when
    /// `KURA_BROWSER_ARTIFACTS` names one), for a person to look at.
    pub async fn screenshot(&self, label: &str) {
        let dir = self.wire.artifacts.clone();
        self.screenshot_to(&dir, label).await;
    }

    pub async fn assert_no_csp_violation(&self) {
        let url = self.current_url().await;
        if let Some(messages) = self.new_console_messages().await {
            let bad: Vec<&String> = messages
                .iter()
                .filter(|m| m.contains("Content Security Policy") || m.contains("Refused to"))
                .collect();
            assert!(bad.is_empty(), "CSP violations up to {url}: {bad:#?}");
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        // Drop cannot await, and the test's runtime may be unwinding: talk to the driver from
        // a thread of our own with its own small runtime.
        let wire = self.wire.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(15), wire.close(failed)).await;
                });
            }
        })
        .join();
        // Listed while the driver is not yet reaped, so the group id cannot have been reused.
        let group = group_members(self.driver.id());
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.driver.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group we started (Chromium and its helpers) ends now, each
        // by its own id: procps-ng 4.0.2's `kill -KILL -<pgid>` signals every process there is.
        let leftovers: Vec<String> = group_members(self.driver.id())
            .into_iter()
            .filter(|pid| *pid != self.driver.id() && group.contains(pid))
            .map(|pid| pid.to_string())
            .collect();
        if !leftovers.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&leftovers)
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if failed {
            eprintln!(
                "browser artifacts (failure.png, failure.html, chromedriver.log) are in {}",
                self.wire.artifacts.display()
            );
        }
    }
}

impl Wire {
    async fn new_session(&self, lang: Language) -> String {
        let profile = self.artifacts.join("chromium-profile");
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": { "implicit": 0, "pageLoad": 30000, "script": 10000 },
                    "goog:loggingPrefs": { "browser": "ALL" },
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-quic",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--disable-dev-shm-usage",
                            "--window-size=1280,1024",
                            format!("--lang={}", lang.code()),
                            format!("--user-data-dir={}", profile.display()),
                        ],
                        "prefs": { "intl": { "accept_languages": lang.accept() } }
                    }
                }
            }
        });
        let v = self.command("POST", "/session", Some(caps)).await;
        v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {v}"))
            .to_string()
    }

    /// Sends one WebDriver command; panics with the driver's message on a W3C error.
    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        match self.try_command(method, path, body).await {
            Ok(v) => v,
            Err(e) => panic!("WebDriver {method} {path}: {e}"),
        }
    }

    async fn try_command(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}{path}", self.driver_url);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let res = req.send().await.map_err(|e| e.to_string())?;
        let ok = res.status().is_success();
        let v: Value = res.json().await.map_err(|e| e.to_string())?;
        let value = v.get("value").cloned().unwrap_or(Value::Null);
        if ok {
            Ok(value)
        } else {
            Err(format!("{}: {}", value["error"], value["message"]))
        }
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Saves a screenshot and the page source into the artifacts folder.
    async fn save_evidence(&self, label: &str) {
        if let Ok(v) = self
            .try_command("GET", &self.session_path("/url"), None)
            .await
        {
            eprintln!("the browser was at {v}");
        }
        if let Ok(v) = self
            .try_command("GET", &self.session_path("/screenshot"), None)
            .await
            && let Some(png) = v
                .as_str()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            let _ = std::fs::write(self.artifacts.join(format!("{label}.png")), png);
        }
        if let Ok(v) = self
            .try_command("GET", &self.session_path("/source"), None)
            .await
        {
            let _ = std::fs::write(
                self.artifacts.join(format!("{label}.html")),
                v.as_str().unwrap_or_default(),
            );
        }
    }

    /// Ends the session and ChromeDriver; on failure, saves the evidence first.
    async fn close(self, failed: bool) {
        if !self.session.is_empty() {
            if failed {
                self.save_evidence("failure").await;
            }
            let _ = self
                .try_command("DELETE", &format!("/session/{}", self.session), None)
                .await;
        }
        let _ = self
            .http
            .get(format!("{}/shutdown", self.driver_url))
            .send()
            .await;
    }
}

/// One element of the current page.
pub struct Element<'a> {
    wire: &'a Wire,
    id: String,
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        self.wire
            .session_path(&format!("/element/{}{rest}", self.id))
    }

    pub async fn click(&self) {
        self.wire
            .command("POST", &self.path("/click"), Some(json!({})))
            .await;
    }

    /// Types `text` after what the field holds.
    pub async fn append_text(&self, text: &str) {
        self.wire
            .command("POST", &self.path("/value"), Some(json!({ "text": text })))
            .await;
    }

    /// Clears the field and types `text` into it.
    pub async fn type_text(&self, text: &str) {
        self.wire
            .command("POST", &self.path("/clear"), Some(json!({})))
            .await;
        self.wire
            .command("POST", &self.path("/value"), Some(json!({ "text": text })))
            .await;
    }

    pub async fn text(&self) -> String {
        let v = self.wire.command("GET", &self.path("/text"), None).await;
        v.as_str().unwrap_or_default().to_string()
    }

    /// The text, or `None` when the element went away (the page navigated meanwhile).
    pub async fn try_text(&self) -> Option<String> {
        let v = self
            .wire
            .try_command("GET", &self.path("/text"), None)
            .await
            .ok()?;
        Some(v.as_str().unwrap_or_default().to_string())
    }

    pub async fn attribute(&self, name: &str) -> Option<String> {
        let v = self
            .wire
            .command("GET", &self.path(&format!("/attribute/{name}")), None)
            .await;
        v.as_str().map(str::to_string)
    }

    pub async fn is_enabled(&self) -> bool {
        let v = self.wire.command("GET", &self.path("/enabled"), None).await;
        v == json!(true)
    }

    pub async fn is_selected(&self) -> bool {
        let v = self
            .wire
            .command("GET", &self.path("/selected"), None)
            .await;
        v == json!(true)
    }

    /// The element as a script argument.
    pub fn as_arg(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }
}
