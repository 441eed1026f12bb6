//! Reading JSON bodies strictly, field by field.
//!
//! The body must be `application/json`; it is parsed into a `serde_json::Value` (broken UTF-8
//! or syntax: `invalid_json`) and read through [`Obj`], which names each field by its dotted
//! path and refuses, as `#[serde(deny_unknown_fields)]` would, any field it was not asked
//! about (`unknown_field`). A missing or `null` required field is `missing_field`; a field of
//! the wrong JSON type is `invalid_type`. Numbers too large for a float are read as the
//! largest float, so an absurd quantity is `quantity_too_large`, never a failure of ours.

use axum::http::{HeaderMap, StatusCode, header};
use kura_domain::{Quantity, QuantityError};
use serde_json::{Map, Value};

use super::error::ApiError;

/// Whether the request says its body is JSON (`application/json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// The body as a JSON value, after the media type check.
pub fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ));
    }
    parse(body)
}

/// Parses JSON text; numbers beyond a float's range become the largest float of their sign.
pub fn parse(body: &[u8]) -> Result<Value, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => Ok(v),
        Err(e) if e.is_syntax() && e.to_string().starts_with("number out of range") => {
            serde_json::from_slice::<Value>(&clamp_numbers(body))
                .map_err(|_| ApiError::bad_request("invalid_json"))
        }
        Err(_) => Err(ApiError::bad_request("invalid_json")),
    }
}

/// Rewrites every number token outside strings that overflows a float as `±1.7976931348623157e308`.
fn clamp_numbers(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            out.push(b);
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while body
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || b"-+.eE".contains(c))
            {
                i += 1;
            }
            let token = body.get(start..i).unwrap_or_default();
            let huge = std::str::from_utf8(token)
                .ok()
                .and_then(|t| t.parse::<f64>().ok())
                .is_some_and(f64::is_infinite);
            if huge {
                if token.first() == Some(&b'-') {
                    out.push(b'-');
                }
                out.extend_from_slice(b"1.7976931348623157e308");
            } else {
                out.extend_from_slice(token);
            }
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A JSON object being read; [`Obj::finish`] refuses the fields nobody asked for.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
    known: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    /// `value` must be an object; `path` names it in errors ("" for the body itself).
    pub fn new(value: &'a Value, path: &str) -> Result<Self, ApiError> {
        match value {
            Value::Object(map) => Ok(Self {
                map,
                path: path.to_string(),
                known: Vec::new(),
            }),
            _ if path.is_empty() => Err(ApiError::bad_request("invalid_type")),
            _ => Err(ApiError::bad_request("invalid_type").field(path)),
        }
    }

    pub fn path_of(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// The field's value; `None` when absent or `null`.
    pub fn optional(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn required(&mut self, name: &'static str) -> Result<&'a Value, ApiError> {
        self.optional(name)
            .ok_or_else(|| ApiError::bad_request("missing_field").field(&self.path_of(name)))
    }

    /// A required string (its content is checked by the domain type that reads it).
    pub fn string(&mut self, name: &'static str) -> Result<&'a str, ApiError> {
        let v = self.required(name)?;
        v.as_str()
            .ok_or_else(|| ApiError::bad_request("invalid_type").field(&self.path_of(name)))
    }

    /// An optional string; absent and `null` are both "not given".
    pub fn optional_string(&mut self, name: &'static str) -> Result<Option<&'a str>, ApiError> {
        match self.optional(name) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request("invalid_type").field(&self.path_of(name))),
        }
    }

    /// A required quantity: a JSON number (or a numeric string) between 1 and 99.
    pub fn quantity(&mut self, name: &'static str) -> Result<Quantity, ApiError> {
        let field = self.path_of(name);
        let v = self.required(name)?;
        read_quantity(v).map_err(|e| ApiError::quantity(&field, e))
    }

    /// Refuses any field that was not read, naming the first one.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.map.keys().find(|k| !self.known.contains(&k.as_str())) {
            Some(k) => Err(ApiError::bad_request("unknown_field").field(&join(&self.path, k))),
            None => Ok(()),
        }
    }
}

/// A quantity from a JSON value, with the three quantity error codes.
pub fn read_quantity(v: &Value) -> Result<Quantity, QuantityError> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Quantity::new(i);
            }
            if n.as_u64().is_some() {
                return Err(QuantityError::TooLarge);
            }
            match n.as_f64() {
                Some(f) if f.fract() != 0.0 || f.is_nan() => Err(QuantityError::NotANumber),
                Some(f) if f < 1.0 => Err(QuantityError::TooSmall),
                Some(f) if f > 99.0 => Err(QuantityError::TooLarge),
                // A whole float in range, such as 2.0.
                Some(f) => Quantity::parse(&format!("{f:.0}")),
                None => Err(QuantityError::NotANumber),
            }
        }
        Value::String(s) => Quantity::parse(s),
        _ => Err(QuantityError::NotANumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_numbers_are_quantity_errors() {
        let v = parse(br#"{"quantity": 1e400, "s": "1e400"}"#).unwrap();
        assert_eq!(read_quantity(&v["quantity"]), Err(QuantityError::TooLarge));
        assert_eq!(v["s"], "1e400");
        let v = parse(format!("{{\"q\": -{}}}", "9".repeat(400)).as_bytes()).unwrap();
        assert_eq!(read_quantity(&v["q"]), Err(QuantityError::TooSmall));
        let v = parse(br#"{"q": 18446744073709551615}"#).unwrap();
        assert_eq!(read_quantity(&v["q"]), Err(QuantityError::TooLarge));
        assert_eq!(
            read_quantity(&Value::from(2.5)),
            Err(QuantityError::NotANumber)
        );
        assert_eq!(read_quantity(&Value::from(3.0)).map(Quantity::get), Ok(3));
        assert_eq!(read_quantity(&Value::from(0)), Err(QuantityError::TooSmall));
    }

    #[test]
    fn broken_input_is_invalid_json() {
        assert!(parse(b"{\"a\": \"\xff\"}").is_err());
        assert!(parse(b"{").is_err());
        assert!(parse(b"").is_err());
    }

    #[test]
    fn unknown_fields_are_named_with_their_path() {
        let v = parse(br#"{"a": "x", "b": 1}"#).unwrap();
        let mut o = Obj::new(&v, "customer").unwrap();
        assert_eq!(o.string("a").unwrap(), "x");
        let Err(ApiError::Problem(p)) = o.finish() else {
            panic!("b is unknown")
        };
        assert_eq!(
            (p.code, p.field.as_deref()),
            ("unknown_field", Some("customer.b"))
        );
    }
}
