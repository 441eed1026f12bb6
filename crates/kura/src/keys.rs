//! `kura keys init|status|rotate|retire`.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use kura_app::rotation::{self, RotationProgress};
use kura_app::{SecurityEvent, SecurityEventKind, SecurityEvents};

use crate::config::Config;
use crate::shop;

pub async fn init(config: &Config) -> anyhow::Result<()> {
    if shop::init_keys(config).await? {
        println!(
            "Created the master key file {} (mode 0600). Back it up apart from the database: \
             whoever has both can read every sealed field; without it the data cannot be opened.",
            config.keys.file.display()
        );
    } else {
        let vault = shop::open_vault(config)?;
        let store = shop::open_store(config).await?;
        shop::check_keys(config, store.as_ref(), &vault).await?;
        println!(
            "The key file {} exists and matches the database; nothing to do.",
            config.keys.file.display()
        );
    }
    Ok(())
}

pub async fn status(config: &Config) -> anyhow::Result<()> {
    let vault = shop::open_vault(config)?;
    let store = shop::open_store(config).await?;
    shop::check_keys(config, store.as_ref(), &vault).await?;
    let material = vault.provider().load()?;
    let usage = rotation::key_usage(store.as_ref()).await?;
    println!("key file: {}", config.keys.file.display());
    println!(
        "{:>6}  {:>8}  {:>20}  {:>12}",
        "key id", "state", "created (unix)", "values"
    );
    for key in &material.keys {
        let state = if key.id == material.active {
            "active"
        } else {
            "old"
        };
        println!(
            "{:>6}  {:>8}  {:>20}  {:>12}",
            key.id.0,
            state,
            key.created,
            usage.get(&key.id.0).copied().unwrap_or(0)
        );
    }
    for (id, n) in usage
        .iter()
        .filter(|(id, _)| !material.keys.iter().any(|k| k.id.0 == **id))
    {
        println!(
            "{id:>6}  {:>8}  {:>20}  {n:>12}   <- values under a key this file does not hold!",
            "missing", "-"
        );
    }
    Ok(())
}

pub async fn rotate(config: &Config, batch: u32) -> anyhow::Result<()> {
    let vault = shop::open_vault(config)?;
    let store = shop::open_store(config).await?;
    shop::check_keys(config, store.as_ref(), &vault).await?;
    let events = kura_app::LogEvents::default();
    events.record(SecurityEvent::new(SecurityEventKind::KeyRotationStarted));
    let terminal = std::io::stderr().is_terminal();
    let bar = ProgressBar::new(0);
    if terminal {
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} rows ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut on_progress = |p: &RotationProgress| {
        if terminal {
            bar.set_message(p.table);
            bar.set_length(p.total);
            bar.set_position(p.scanned);
        } else {
            println!(
                "progress table={} scanned={} of={} resealed={}",
                p.table, p.scanned, p.total, p.resealed
            );
        }
    };
    let settle = Duration::from_secs(config.keys.reload_seconds + 1);
    let outcome = rotation::rotate(store.as_ref(), &vault, batch, settle, &mut on_progress).await?;
    bar.finish_and_clear();
    events.record(SecurityEvent::new(SecurityEventKind::KeyRotationFinished));
    println!(
        "{} rotation to key {}: {} rows re-sealed.",
        if outcome.resumed {
            "Resumed"
        } else {
            "Finished"
        },
        outcome.active.0,
        outcome.resealed
    );
    for (id, n) in &outcome.usage {
        println!("  key {id}: {n} values");
    }
    println!("Run `kura keys retire` to remove keys nothing uses any more.");
    Ok(())
}

pub async fn retire(config: &Config) -> anyhow::Result<()> {
    let vault = shop::open_vault(config)?;
    let store = shop::open_store(config).await?;
    shop::check_keys(config, store.as_ref(), &vault).await?;
    // The audit log's MACs move to the active key first (after every entry is checked under
    // the keys that made it), so that old keys can go and the log stays verifiable.
    if vault.provider().load()?.keys.len() > 1 {
        let audit = kura_app::audit::Audit::new(
            std::sync::Arc::clone(&store),
            std::sync::Arc::clone(&vault),
            std::sync::Arc::new(kura_app::SystemClock),
        );
        match audit.rechain().await? {
            Ok(0) => {}
            Ok(n) => println!(
                "Re-chained {n} audit log entries under key {}.",
                vault.ring().active_key_id().0
            ),
            Err(seq) => anyhow::bail!(
                "the audit log is broken at entry {seq}, so it was not re-chained and no key was retired; see `kura audit verify`"
            ),
        }
    }
    match rotation::retire_unused(store.as_ref(), &vault).await? {
        Ok(ids) if ids.is_empty() => println!("No key to retire: only the active key is held."),
        Ok(ids) => {
            kura_app::LogEvents::default()
                .record(SecurityEvent::new(SecurityEventKind::KeyRetired));
            for id in ids {
                println!("Retired key {}.", id.0);
            }
        }
        Err(in_use) => {
            let list: Vec<String> = in_use
                .iter()
                .map(|(k, n)| format!("key {k}: {n} values"))
                .collect();
            anyhow::bail!(
                "old keys are still in use ({}); run `kura keys rotate` to finish re-sealing first",
                list.join(", ")
            );
        }
    }
    Ok(())
}

/// `kura mail keys`: makes the DKIM key pair beside the master key when there is none (never
/// replacing one), and answers the DNS records to publish: both DKIM keys, SPF and DMARC.
pub fn mail_keys(config: &Config) -> anyhow::Result<String> {
    let files = kura_mail::DkimFiles::beside(&config.keys.file);
    let made = !files.ed25519.exists() && !files.rsa.exists();
    if made {
        files.generate()?;
    }
    let keys = shop::dkim_keys(config)?
        .ok_or_else(|| anyhow::anyhow!("the DKIM keys were not found after making them"))?;
    let domain = keys.domain().to_owned();
    let mut out = String::new();
    out.push_str(&format!(
        "{} DKIM keys: {} and {} (mode 0600). Keep them with the master key and back them up \
         with it; they are never stored in the database.\n\n",
        if made { "Made the" } else { "The existing" },
        files.ed25519.display(),
        files.rsa.display()
    ));
    out.push_str(&format!(
        "Publish these DNS records for {domain} (TXT values longer than 255 characters are \
         split into quoted strings, as DNS requires):\n\n"
    ));
    for (name, value) in keys.dns_records() {
        out.push_str(&format!("{name}. IN TXT {}\n", txt_strings(&value)));
    }
    out.push_str(&format!(
        "{domain}. IN TXT \"v=spf1 -all\"\n    (SPF: put the servers that send for {domain} before \
         -all, e.g. \"v=spf1 include:your-relay.example ip4:203.0.113.25 -all\"; keep -all so \
         nobody else may)\n"
    ));
    out.push_str(&format!(
        "_dmarc.{domain}. IN TXT \"v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:dmarc@{domain}\"\n    \
         (DMARC p=reject: receivers refuse mail in the shop's name that is not signed by these \
         keys or sent from the SPF servers; forged mail like the seed's never reaches a \
         customer's inbox)\n"
    ));
    Ok(out)
}

/// A TXT value as DNS quoted strings of at most 255 characters each.
fn txt_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}
