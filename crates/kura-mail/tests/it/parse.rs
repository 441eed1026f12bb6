//! An independent reader for the messages we produce: Python's `email` package (strict
//! `policy.default`), so the tests do not trust lettre to check lettre.

use std::path::Path;
use std::process::Command;

const PARSER: &str = r#"
import sys, json, email
from email import policy
raw = open(sys.argv[1], 'rb').read()
head = raw.split(b'\r\n\r\n', 1)[0]
m = email.message_from_bytes(raw, policy=policy.default)
parts = []
for part in m.walk():
    if part.is_multipart():
        continue
    parts.append({"type": part.get_content_type(), "charset": part.get_content_charset(),
                  "body": part.get_content()})
print(json.dumps({
    "headers_ascii": head.isascii(),
    "crlf": b'\n' not in raw.replace(b'\r\n', b''),
    "subject": str(m["subject"]), "to": str(m["to"]), "from": str(m["from"]),
    "message_id": str(m["message-id"]), "date": str(m["date"]),
    "auto_submitted": str(m["auto-submitted"]),
    "content_type": m.get_content_type(),
    "defects": [str(d) for d in m.defects] + [str(d) for p in m.walk() for d in p.defects],
    "parts": parts,
}))
"#;

#[derive(Debug)]
pub struct Parsed {
    pub subject: String,
    pub to: String,
    pub from: String,
    pub message_id: String,
    pub date: String,
    pub auto_submitted: String,
    pub content_type: String,
    pub text: String,
    pub html: String,
}

/// Parses an RFC 5322 file and checks what every Kura mail must be: ASCII headers, CRLF line
/// ends, no parser defects, `multipart/alternative` with a UTF-8 text part then a UTF-8 HTML
/// part.
pub fn parse_eml(path: &Path) -> Parsed {
    let out = Command::new("python3")
        .arg("-c")
        .arg(PARSER)
        .arg(path)
        .output()
        .expect("python3 must be installed to run these tests");
    assert!(
        out.status.success(),
        "the Python parser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("parser JSON");
    assert_eq!(
        v["headers_ascii"], true,
        "headers must be ASCII (RFC 2047 encoded)"
    );
    assert_eq!(v["crlf"], true, "lines must end in CRLF");
    assert_eq!(
        v["defects"],
        serde_json::json!([]),
        "the parser found defects"
    );
    assert_eq!(v["content_type"], "multipart/alternative");
    let parts = v["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 2, "a text and an HTML part: {parts:?}");
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(parts[1]["type"], "text/html");
    assert_eq!(parts[0]["charset"], "utf-8");
    assert_eq!(parts[1]["charset"], "utf-8");
    let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    Parsed {
        subject: s("subject"),
        to: s("to"),
        from: s("from"),
        message_id: s("message_id"),
        date: s("date"),
        auto_submitted: s("auto_submitted"),
        content_type: s("content_type"),
        text: parts[0]["body"].as_str().unwrap_or_default().to_owned(),
        html: parts[1]["body"].as_str().unwrap_or_default().to_owned(),
    }
}
