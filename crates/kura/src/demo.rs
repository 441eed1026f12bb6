//! `kura demo`: a working shop in a directory, with its own key, database and demo data.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kura_app::{Customers, Store, Vault};
use kura_domain::{
    AddressLine, CustomerProfile, Email, Kana, Person, PersonName, Phone, PostalCode, Prefecture,
};
use secrecy::SecretString;

use crate::synth;

pub const DEMO_EMAIL: &str = "demo@kura.example.jp";
pub const DEMO_PASSWORD: &str = "kura-demo-password-2026";

const DEMO_TOML: &str = r#"# Kura demo shop. Every key is optional; see the README for all settings.
[shop]
name = "蔵 デモショップ"

[server]
# Metrics are off in the demo; set an address such as "127.0.0.1:9464" to turn them on.
metrics_listen = ""
"#;

/// Creates the shop directory and its kura.toml when they do not exist yet.
pub fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let toml = dir.join("kura.toml");
    if !toml.exists() {
        std::fs::write(&toml, DEMO_TOML)
            .with_context(|| format!("cannot write {}", toml.display()))?;
    }
    Ok(())
}

/// The demo account, created once.
pub async fn ensure_demo_account(customers: &Customers) -> anyhow::Result<()> {
    let profile = CustomerProfile {
        person: Person {
            family_name: PersonName::parse("見本")?,
            given_name: PersonName::parse("花子")?,
            family_name_kana: Kana::parse("ミホン")?,
            given_name_kana: Kana::parse("ハナコ")?,
            postal_code: PostalCode::parse("100-0001")?,
            prefecture: Prefecture::parse("東京都")?,
            address1: AddressLine::parse("千代田区千代田1-1")?,
            address2: None,
            phone: Phone::parse("03-0000-0000")?,
        },
        email: Email::parse(DEMO_EMAIL)?,
        birth_date: None,
        gender: None,
    };
    match customers
        .register(
            &profile,
            Some(SecretString::from(DEMO_PASSWORD.to_string())),
        )
        .await
    {
        Ok(_) | Err(kura_app::AppError::EmailTaken) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Inserts `count` synthetic customers, sealing one chunk while the previous one is written.
pub async fn insert_synthetic(
    store: &Arc<dyn Store>,
    vault: &Arc<Vault>,
    count: u64,
) -> anyhow::Result<()> {
    const CHUNK: u64 = 5000;
    // Numbering continues after existing customers so emails stay unique across runs.
    let offset = store.count_customers().await?;
    let seed = offset ^ 0x6b75_7261;
    let bar = ProgressBar::new(count);
    bar.set_style(
        ProgressStyle::with_template("customers [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let ring = vault.ring();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let now = i64::try_from(now).unwrap_or(0);
    let seal_chunk = move |start: u64, len: u64| {
        let ring = Arc::clone(&ring);
        tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<_>> {
            let mut rng = synth::Rng::new(seed ^ start.wrapping_mul(0x9e37_79b9));
            (offset + start..offset + start + len)
                .map(|n| {
                    let p = synth::profile(&mut rng, n)?;
                    Ok(Customers::seal(&ring, kura_app::new_id(), &p, None, now)?)
                })
                .collect()
        })
    };
    let mut start = 0;
    let mut pending = (count > 0).then(|| seal_chunk(0, CHUNK.min(count)));
    while let Some(handle) = pending.take() {
        let sealed = handle.await??;
        let len = sealed.len() as u64;
        start += len;
        if start < count {
            pending = Some(seal_chunk(start, CHUNK.min(count - start)));
        }
        store.insert_customers(&sealed).await?;
        bar.inc(len);
    }
    bar.finish_and_clear();
    Ok(())
}
