//! Canary customers (honeytokens): `kura honeytoken add` makes customers, each with an old
//! shipped order, sealed like every real one, whose email is at the configured canary domain
//! (`guard.canary_domain`). Nothing legitimate ever reads them, so any read raises the guard's
//! highest alert (see `kura_app::canary`). `kura honeytoken list` shows the owner which exist:
//! only the shop, which holds the key and the domain, can tell them apart.

use std::sync::Arc;

use anyhow::Context;
use kura_app::data_keys::PersonKeys;
use kura_app::sealed::{OrderLineRecord, OrderRecord, col};
use kura_domain::{Email, OrderStatus, PaymentMethod, PricedLine, Totals};
use kura_web::AppState;

use crate::synth;

const LOCAL_PARTS: [&str; 8] = [
    "k.tanaka",
    "yuki.sato",
    "m.suzuki",
    "h.takahashi",
    "a.watanabe",
    "ryo.ito",
    "n.yamamoto",
    "s.kobayashi",
];

/// Makes `count` canary customers at `domain`; answers their ids.
pub async fn add(state: &AppState, domain: &str, count: u32) -> anyhow::Result<Vec<i64>> {
    let domain = domain.trim().trim_start_matches('@');
    anyhow::ensure!(
        !domain.is_empty(),
        "set guard.canary_domain first (a mail domain nobody else uses, e.g. one the shop owns)"
    );
    let seed = u64::try_from(state.clock.now()).unwrap_or(7);
    let mut rng = synth::Rng::new(seed ^ 0x6361_6e61);
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
    let ring = state.vault.ring();
    let mut ids = Vec::new();
    for n in 0..count {
        let mut profile = synth::profile(&mut rng, u64::from(n))?;
        let local = LOCAL_PARTS
            .get(rng.below(LOCAL_PARTS.len()))
            .copied()
            .unwrap_or("k.tanaka");
        profile.email = Email::parse(&format!("{local}{}@{domain}", 10 + rng.below(90)))
            .context("the canary domain does not make a valid address")?;
        let customer = match state.customers.register(&profile, None).await {
            Ok(id) => id,
            Err(kura_app::AppError::EmailTaken) => continue,
            Err(e) => return Err(e.into()),
        };
        let (name, label, sku, price, tax) = items
            .get(rng.below(items.len().max(1)))
            .cloned()
            .context("the catalog is empty")?;
        let lines = vec![OrderLineRecord {
            sku: sku.clone(),
            product_name: name,
            variant_label: label,
            unit_price: price,
            quantity: 1,
            tax,
        }];
        let totals = Totals::compute(
            &[PricedLine {
                sku,
                unit_price: price,
                quantity: 1,
                tax,
            }],
            profile.person.prefecture,
            PaymentMethod::Card,
        );
        let id = kura_app::new_id();
        let number = format!("K-{:04X}-{:04X}", rng.below(0xFFFF), rng.below(0xFFFF));
        let token = kura_seal::random_bytes::<16>().map(hex::encode)?;
        let (keys, data_key) = PersonKeys::new_person_in(Arc::clone(&ring))?;
        let created_at =
            state.clock.now() - 86_400 * (30 + i64::try_from(rng.below(300)).unwrap_or(0));
        let order = OrderRecord {
            id,
            idempotency_hash: kura_seal::sha256(number.as_bytes()),
            number,
            customer_id: Some(customer),
            status: OrderStatus::Delivered,
            payment: PaymentMethod::Card,
            lang: "ja".into(),
            buyer: keys.seal(col::ORDER_BUYER, id, &serde_json::to_vec(&profile)?)?,
            recipient: None,
            access_token: keys.seal(col::ORDER_TOKEN, id, token.as_bytes())?,
            email_bidx: ring.blind_index(
                col::ORDER_EMAIL_BIDX,
                profile.email.as_str(),
                kura_seal::Normalize::Email,
            )?,
            phone_bidx: ring.blind_index(
                col::ORDER_PHONE_BIDX,
                profile.person.phone.as_str(),
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
        };
        state.store.insert_orders(&[order]).await?;
        tracing::info!(target: "kura::guard", customer, "canary customer added");
        ids.push(customer);
    }
    Ok(ids)
}

/// The canary customers that exist: (id, email). Opens every customer, so it is a tool for
/// the owner, not for a request.
pub async fn list(state: &AppState, domain: &str) -> anyhow::Result<Vec<(i64, String)>> {
    let canaries =
        kura_app::canary::Canaries::new(domain, Arc::new(kura_app::LogEvents::default()));
    let mut found = Vec::new();
    let mut after = 0;
    loop {
        let page = state.store.customers_after(after, 500).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for rec in &page {
            let Ok(keys) = PersonKeys::of(&state.vault, rec.data_key.as_ref()) else {
                continue;
            };
            if let Ok(p) = kura_app::Customers::open(&keys, rec)
                && canaries.is_canary(p.email.as_str())
            {
                found.push((rec.id, p.email.as_str().to_string()));
            }
        }
    }
    Ok(found)
}
