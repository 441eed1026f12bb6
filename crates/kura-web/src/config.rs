//! What the web layer needs to know of the shop's configuration.

use ipnet::IpNet;

#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The origin customers use, e.g. `https://shop.example.jp`. When unset, the request's
    /// `Host` is the origin that forms may post from.
    pub public_origin: Option<String>,
    /// The shop is reached over TLS (directly or through a TLS-terminating proxy): cookies get
    /// `Secure` and the `__Host-` prefix, and HSTS is sent.
    pub tls: bool,
    /// Peers whose `X-Forwarded-For` is believed. Anyone else's is ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Sustained requests per second allowed per client IP.
    pub rate_per_second: u32,
    /// Requests a client IP may burst above the sustained rate.
    pub rate_burst: u32,
    pub shop_name: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            public_origin: None,
            tls: false,
            trusted_proxies: Vec::new(),
            body_limit: 64 * 1024,
            rate_per_second: 50,
            rate_burst: 200,
            shop_name: "Kura".into(),
        }
    }
}

impl WebConfig {
    pub fn session_cookie_name(&self) -> &'static str {
        // The __Host- prefix pins the cookie to this host, path / and Secure (RFC 6265bis §4.1.3.2);
        // browsers refuse it without TLS, so plain-HTTP demos use a plain name.
        if self.tls {
            "__Host-kura_session"
        } else {
            "kura_session"
        }
    }
}
