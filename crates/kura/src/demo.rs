//! `kura demo`: a working shop in a directory, with its own key, database and demo data.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use kura_app::data_keys::PersonKeys;
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

[guard]
# Canary customers at this (made-up) domain: any read of theirs raises the highest alert.
canary_domain = "mail.kura-canary.example"

[mail]
# The demo writes each mail as a file (plain text, deleted after outbox_keep_days) into outbox/
# instead of sending it. A real shop sends by SMTP, the default: remove this line and set smtp_*.
transport = "outbox"

[legal]
# The seller's invoice registration number (T and 13 digits), printed on receipts and qualified
# invoices. This one is made up (its check digit is right, no business has it): set your own.
invoice_registration_number = "T7123456789012"
"#;

/// Everything a demo shop needs: the catalog, the demo account and any synthetic data asked for.
pub async fn seed(
    state: &kura_web::AppState,
    customers: u64,
    orders: u64,
) -> anyhow::Result<Option<String>> {
    ensure_catalog(&state.store).await?;
    ensure_coupons(&state.store, state.clock.now()).await?;
    ensure_demo_account(&state.customers).await?;
    let owner = ensure_demo_owner(state).await?;
    if customers > 0 {
        let started = std::time::Instant::now();
        insert_synthetic(&state.store, &state.vault, customers).await?;
        println!(
            "Added {customers} synthetic customers in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
    }
    if orders > 0 {
        let started = std::time::Instant::now();
        insert_synthetic_orders(&state.store, &state.vault, orders).await?;
        println!(
            "Added {orders} synthetic orders in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(owner)
}

/// The demo's back-office owner login name.
pub const DEMO_OWNER: &str = "owner";

/// A demo shop's first owner, made once with a random password that is returned to be shown
/// (and never stored); `None` when the shop has staff already.
pub async fn ensure_demo_owner(state: &kura_web::AppState) -> anyhow::Result<Option<String>> {
    if !state.staff.list().await?.is_empty() {
        return Ok(None);
    }
    let password = crate::staff_cli::generated_password()?;
    let email = kura_domain::Email::parse("owner@kura.example.jp")
        .map_err(|e| anyhow::anyhow!("demo owner email: {e:?}"))?;
    let added = state
        .staff
        .add(
            &kura_app::audit::Actor::system("demo"),
            DEMO_OWNER,
            kura_app::staff::Role::Owner,
            &email,
            &secrecy::SecretString::from(password.to_string()),
        )
        .await?;
    match added {
        Ok(_) => Ok(Some(password.to_string())),
        Err(r) => anyhow::bail!("the demo owner could not be added: {r:?}"),
    }
}

/// The demo shop's synonym table (the owner edits it under 商品 → 検索の言い換え): readings a
/// shopper types in kana, and the words people use for what the catalog calls otherwise.
pub const DEMO_SYNONYMS: &str = "\
# 左の言葉で検索されたら、右の言葉でも探します(読み・言い換え)。
水筒 = ボトル, マグ
すいとう = ボトル, マグ
魔法瓶 = ボトル
まほうびん = ボトル
ポット = ケトル
電気ポット = 給湯ポット
でんきぽっと = 給湯ポット
やかん = ケトル
湯沸かし = ケトル
すいはんき = 炊飯器
炊飯ジャー = 炊飯器
うちがま = 内釜
内がま = 内釜
お茶 = 茶
おちゃ = 茶
米 = コシヒカリ
お米 = 米, コシヒカリ, 玄米
おこめ = 米, コシヒカリ, 玄米
べんとう = 弁当
お弁当 = 弁当
どなべ = 土鍋
thermos = bottle
flask = bottle
gasket = packing
packing = gasket
";

/// The demo catalog, inserted once (products that exist are left alone).
pub async fn ensure_catalog(store: &Arc<dyn Store>) -> anyhow::Result<()> {
    for c in crate::catalog_data::categories() {
        store.upsert_category(&c).await?;
    }
    for p in crate::catalog_data::products() {
        store.insert_product(&p).await?;
    }
    if store
        .setting(kura_app::catalog::SYNONYMS_SETTING)
        .await?
        .is_none()
    {
        store
            .set_setting(
                kura_app::catalog::SYNONYMS_SETTING,
                DEMO_SYNONYMS,
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0)),
            )
            .await?;
    }
    Ok(())
}

/// The demo coupons, made once (a code that exists is left alone): `WELCOME500`, ¥500 off
/// from ¥3,000 of goods, and `SPRING10`, 10 % off without a minimum, both valid for a year
/// from the day the demo shop was made.
pub async fn ensure_coupons(store: &Arc<dyn Store>, now: i64) -> anyhow::Result<()> {
    use kura_domain::{Coupon, CouponCode, Date, Discount, Yen};
    let today = Date::today_in_japan(now);
    for (code, discount, minimum) in [
        ("WELCOME500", Discount::Amount(Yen(500)), Yen(3_000)),
        ("SPRING10", Discount::Percent(10), Yen::ZERO),
    ] {
        if store.coupon_by_code(code).await?.is_some() {
            continue;
        }
        let record = kura_app::records::CouponRecord {
            id: kura_app::new_id(),
            coupon: Coupon {
                code: CouponCode::parse(code)?,
                discount,
                starts_on: today,
                ends_on: today.add_days(365),
                minimum,
                active: true,
            },
            created_at: now,
            // Made by the demo set-up, not by a staff member.
            created_by: 0,
        };
        store.insert_coupon(&record).await?;
    }
    Ok(())
}

/// Synthetic orders from 2015-02-18 until now, with sealed buyers, like real ones.
pub async fn insert_synthetic_orders(
    store: &Arc<dyn Store>,
    vault: &Arc<Vault>,
    count: u64,
) -> anyhow::Result<()> {
    use kura_app::sealed::{OrderLineRecord, OrderRecord, col};
    use kura_domain::{Date, OrderStatus, PaymentMethod, PricedLine, Totals};
    const CHUNK: u64 = 5000;
    let items: Vec<_> = crate::catalog_data::products()
        .into_iter()
        .flat_map(|p| {
            p.variants.into_iter().map(move |v| {
                (
                    p.name_ja.clone(),
                    v.label_ja.clone(),
                    v.sku.clone(),
                    v.price,
                    p.tax,
                )
            })
        })
        .collect();
    let items = Arc::new(items);
    let offset = store.count_orders().await?;
    let start_day = Date {
        year: 2015,
        month: 2,
        day: 18,
    }
    .to_days();
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    )
    .unwrap_or(0);
    let span = (now / 86_400 - start_day).max(1);
    let bar = ProgressBar::new(count);
    bar.set_style(
        ProgressStyle::with_template("orders    [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let ring = vault.ring();
    let seal_chunk = move |first: u64, len: u64| {
        let ring = Arc::clone(&ring);
        let items = Arc::clone(&items);
        tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<OrderRecord>> {
            let mut rng = synth::Rng::new(0x6f72_6465 ^ first.wrapping_mul(0x9e37_79b9));
            (first..first + len)
                .map(|n| {
                    let buyer = synth::profile(&mut rng, n)?;
                    let id = kura_app::new_id();
                    let mut lines: Vec<OrderLineRecord> = Vec::new();
                    for _ in 0..1 + rng.below(3) {
                        let pick = rng.below(items.len());
                        let quantity = 1 + u32::try_from(rng.below(2)).unwrap_or(0);
                        if let Some((name, label, sku, price, tax)) = items.get(pick) {
                            lines.push(OrderLineRecord {
                                sku: sku.clone(),
                                product_name: name.clone(),
                                variant_label: label.clone(),
                                unit_price: *price,
                                quantity,
                                tax: *tax,
                            });
                        }
                    }
                    let payment = PaymentMethod::ALL
                        .get(rng.below(3))
                        .copied()
                        .unwrap_or(PaymentMethod::Cod);
                    let priced: Vec<PricedLine> = lines
                        .iter()
                        .map(|l| PricedLine {
                            sku: l.sku.clone(),
                            unit_price: l.unit_price,
                            quantity: l.quantity,
                            tax: l.tax,
                        })
                        .collect();
                    let totals = Totals::compute(&priced, buyer.person.prefecture, payment);
                    let day = start_day
                        + i64::try_from(rng.below(usize::try_from(span).unwrap_or(1))).unwrap_or(0);
                    let created_at = day * 86_400 + i64::try_from(rng.below(86_400)).unwrap_or(0);
                    let token = kura_seal::random_bytes::<16>().map(hex::encode)?;
                    let number = format!("D-{:04X}-{:06}", rng.below(0xFFFF), n);
                    let buyer_json = serde_json::to_vec(&buyer)?;
                    // A guest order: the buyer's data under a key of the order's own.
                    let (keys, data_key) = PersonKeys::new_person_in(Arc::clone(&ring))?;
                    Ok(OrderRecord {
                        id,
                        idempotency_hash: kura_seal::sha256(number.as_bytes()),
                        number,
                        customer_id: None,
                        status: OrderStatus::Shipped,
                        payment,
                        lang: "ja".into(),
                        buyer: keys.seal(col::ORDER_BUYER, id, &buyer_json)?,
                        recipient: None,
                        access_token: keys.seal(col::ORDER_TOKEN, id, token.as_bytes())?,
                        email_bidx: ring.blind_index(
                            col::ORDER_EMAIL_BIDX,
                            buyer.email.as_str(),
                            kura_seal::Normalize::Email,
                        )?,
                        phone_bidx: ring.blind_index(
                            col::ORDER_PHONE_BIDX,
                            buyer.person.phone.as_str(),
                            kura_seal::Normalize::Digits,
                        )?,
                        delivery_date: None,
                        delivery_slot: None,
                        totals,
                        payment_session_id: None,
                        payment_url: None,
                        payment_expires_at: None,
                        created_at,
                        lines,
                        data_key: Some(data_key),
                        coupon_code: None,
                    })
                })
                .collect()
        })
    };
    let mut done = 0;
    let mut pending = (count > 0).then(|| seal_chunk(offset, CHUNK.min(count)));
    while let Some(handle) = pending.take() {
        let sealed = handle.await??;
        let len = sealed.len() as u64;
        done += len;
        if done < count {
            pending = Some(seal_chunk(offset + done, CHUNK.min(count - done)));
        }
        // Written in slices: SQLite's savepoint bookkeeping grows with what one job changed.
        for slice in sealed.chunks(250) {
            store.insert_orders(slice).await?;
        }
        bar.inc(len);
    }
    bar.finish_and_clear();
    Ok(())
}

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

/// Two canary customers, when a canary domain is set and none exist yet.
pub async fn ensure_canaries(state: &kura_web::AppState, domain: &str) -> anyhow::Result<()> {
    if domain.trim().is_empty() || !crate::honeytoken::list(state, domain).await?.is_empty() {
        return Ok(());
    }
    crate::honeytoken::add(state, domain, 2).await?;
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
                    let (keys, data_key) = PersonKeys::new_person_in(Arc::clone(&ring))?;
                    Ok(Customers::seal(
                        &keys,
                        Some(data_key),
                        kura_app::new_id(),
                        &p,
                        None,
                        now,
                    )?)
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_synonym_table_reads_whole() {
        let table = kura_domain::Synonyms::parse(super::DEMO_SYNONYMS).unwrap();
        assert!(table.len() > 20);
    }
}
