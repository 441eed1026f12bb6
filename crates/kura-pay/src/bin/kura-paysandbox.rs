//! `kura-paysandbox`: a local stand-in for the card payment provider, for demos and tests.
//!
//! It serves the Stripe Checkout subset Kura uses, its own test card page and a 3-D Secure
//! challenge, and POSTs signed events to the shop. Never point real customers at it.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;
use kura_pay::sandbox::{self, DEFAULT_LISTEN, DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET};
use secrecy::SecretString;

/// Kura payment sandbox: a test payment provider (Stripe Checkout subset).
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "KURA_PAYSANDBOX_LISTEN", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Origin to put in payment page URLs, if not http://<listen address>.
    #[arg(long, env = "KURA_PAYSANDBOX_PUBLIC_URL")]
    public_url: Option<String>,
    /// API key the shop must send (Authorization: Bearer ...).
    #[arg(long, env = "KURA_PAYSANDBOX_SECRET_KEY", default_value = DEFAULT_SECRET_KEY, hide_env_values = true)]
    secret_key: String,
    /// The shop's webhook endpoint, e.g. http://127.0.0.1:8080/webhooks/payments.
    #[arg(long, env = "KURA_PAYSANDBOX_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Secret events are signed with (Stripe-Signature).
    #[arg(long, env = "KURA_PAYSANDBOX_WEBHOOK_SECRET", default_value = DEFAULT_WEBHOOK_SECRET, hide_env_values = true)]
    webhook_secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = sandbox::SandboxConfig {
        listen: args.listen,
        public_url: args.public_url,
        secret_key: SecretString::from(args.secret_key),
        webhook_url: args.webhook_url,
        webhook_secret: SecretString::from(args.webhook_secret),
        ..sandbox::SandboxConfig::default()
    };
    let running = sandbox::start(config)
        .await
        .context("starting the payment sandbox")?;
    println!("Payment sandbox: {}/", running.base_url());
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            result.context("waiting for Ctrl-C")?;
        }
        result = running.wait() => {
            result.context("the payment sandbox stopped")?;
            return Ok(());
        }
    }
    Ok(())
}
