//! `kura bench-incident`: an incident on a large shop, timed. Fills a scratch shop with
//! synthetic customers and orders (sealed like real ones), declares an incident over all of
//! them and prints: scoping (the window plus a 1,000-line outsiders' list), queueing every
//! notice (render, seal, store), rendering and DKIM-signing every notice, the delivery rate
//! through the real outbox and SMTP transport to a local SMTP sink, and the peak memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kura_app::incident_people::{IncidentNotifier, PersonNotice, ScopeBasis};
use kura_app::incidents::{EntryDraft, IncidentDraft};
use kura_app::staff::Role;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::config::Config;

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A local SMTP server that accepts every mail and counts them.
async fn smtp_sink(count: Arc<AtomicU64>) -> anyhow::Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 sink ESMTP\r\n").await.is_err() {
                    return;
                }
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = if in_data {
                        if line == "." {
                            in_data = false;
                            count.fetch_add(1, Ordering::Relaxed);
                            b"250 OK\r\n"
                        } else {
                            continue;
                        }
                    } else {
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                in_data = true;
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 OK\r\n",
                        }
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(port)
}

pub async fn run(
    customers: u64,
    orders: u64,
    deliver_seconds: Option<u64>,
    keep: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    println!(
        "Kura incident benchmark: {customers} customers, {orders} orders ({} cores)",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );
    if let Some(dir) = keep {
        std::fs::create_dir_all(&dir)?;
        return measure(&dir, customers, orders, deliver_seconds).await;
    }
    let dir = std::env::temp_dir().join(format!("kura-bench-incident-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&dir, customers, orders, deliver_seconds).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(
    dir: &std::path::Path,
    customers: u64,
    orders: u64,
    deliver_seconds: Option<u64>,
) -> anyhow::Result<()> {
    let sent = Arc::new(AtomicU64::new(0));
    let port = smtp_sink(Arc::clone(&sent)).await?;
    let env = vec![
        ("KURA_SERVER_METRICS_LISTEN".to_string(), String::new()),
        ("KURA_MAIL_TRANSPORT".to_string(), "smtp".to_string()),
        ("KURA_MAIL_SMTP_HOST".to_string(), "127.0.0.1".to_string()),
        ("KURA_MAIL_SMTP_PORT".to_string(), port.to_string()),
        // One receiving domain (example.jp) for every synthetic customer: pacing would
        // measure the policy, not the pipeline.
        (
            "KURA_MAIL_PER_DOMAIN_PER_MINUTE".to_string(),
            "0".to_string(),
        ),
    ];
    let config = Config::load(Some(dir), None, &env)?;
    let marker = dir.join("bench-filled");
    let filled = std::fs::read_to_string(&marker).ok() == Some(format!("{customers} {orders}"));
    if !filled {
        crate::shop::init_keys(&config).await?;
        kura_mail::DkimFiles::beside(&config.keys.file).generate()?;
    }
    let dkim = crate::shop::dkim_keys(&config)?
        .ok_or_else(|| anyhow::anyhow!("the DKIM keys were not made"))?;
    let state = crate::shop::build(&config).await?;
    println!("database: {}", state.store.backend());
    if filled {
        println!("reusing the shop filled before in {}", dir.display());
    } else {
        crate::demo::ensure_catalog(&state.store).await?;
        let started = Instant::now();
        crate::demo::insert_synthetic(&state.store, &state.vault, customers).await?;
        println!(
            "{customers} customers in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        crate::demo::insert_synthetic_orders(&state.store, &state.vault, orders).await?;
        println!(
            "{orders} orders in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        std::fs::write(&marker, format!("{customers} {orders}"))?;
    }

    let (_, _, session) =
        crate::bench_admin::signed_in_session(&state, "bench", Role::Owner).await?;
    let now = state.clock.now();
    let minute = |t: i64| kura_domain::Date::japan_minute(t).replace(' ', "T");
    let id = state
        .incidents
        .declare(
            &session,
            None,
            &IncidentDraft {
                title: "ベンチマーク用のインシデント".into(),
                discovered_at: minute(now),
                window_start: "2014-01-01T00:00".into(),
                window_end: minute(now),
                cause: "データベースの複製（想定）".into(),
                categories: vec![
                    "name".into(),
                    "address".into(),
                    "phone".into(),
                    "email".into(),
                    "order_history".into(),
                ],
                keys_exposed: false,
                attack: true,
            },
        )
        .await?
        .map_err(|p| anyhow::anyhow!("declare: {p:?}"))?;
    state
        .incidents
        .publish(
            &session,
            None,
            id,
            &EntryDraft {
                kind: "first".into(),
                title_ja: "個人情報漏えいのおそれに関するお知らせ".into(),
                body_ja: "当店のデータベースが不正アクセスを受けたおそれがあります。".into(),
                title_en: "Notice about a possible leak of personal data".into(),
                body_en: "Our database may have been accessed without authorisation.".into(),
            },
        )
        .await?
        .map_err(|p| anyhow::anyhow!("publish: {p:?}"))?;

    // A card company's list: 1,000 lines, emails and phones, some nobody's.
    let list: String = (0..1000u64)
        .map(|i| {
            if i % 3 == 0 {
                format!("090{:08}\n", i * 7919)
            } else {
                format!("customer{}@example.jp\n", (i * 7919) % customers.max(1))
            }
        })
        .collect();
    let started = Instant::now();
    let scoped = state
        .incidents
        .scope(&session, None, id, ScopeBasis::Present, &list)
        .await?
        .map_err(|p| anyhow::anyhow!("scope: {p:?}"))?;
    let scope_s = started.elapsed().as_secs_f64();
    println!(
        "scoping: {} people from {customers} customers and {orders} orders, {} list lines ({} matched nobody) in {scope_s:.2} s (aim: under 5 s)   peak memory {:.0} MiB",
        scoped.people,
        scoped.list_lines,
        scoped.list_unmatched,
        peak_mib()
    );

    // Rendering and DKIM-signing every notice, in memory, on every core.
    let incident = state
        .store
        .incident(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("incident vanished"))?;
    let entries = state.store.incident_entries(id).await?;
    let entry = entries
        .first()
        .ok_or_else(|| anyhow::anyhow!("no entry"))?
        .clone();
    let notifier = Arc::new(crate::notify::MailNotifier {
        outbox: Arc::clone(&state.outbox),
        shop_name: config.shop.name.clone(),
        bank: config.bank.clone(),
        clock: Arc::clone(&state.clock),
        desk: crate::shop::mail_contact(&config, false),
        desk_en: crate::shop::mail_contact(&config, true),
    });
    // The seed's count of people told: 270,589 notices (fewer when fewer were found).
    let people = u64::try_from(scoped.people).unwrap_or(0).min(270_589);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1) as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let notifier = Arc::clone(&notifier);
        let dkim = Arc::clone(&dkim);
        let incident = incident.clone();
        let entry = entry.clone();
        let from = config.mail.from.clone();
        tasks.push(tokio::task::spawn_blocking(
            move || -> anyhow::Result<u64> {
                let mut bytes = 0u64;
                let mut n = w;
                while n < people {
                    let notice = PersonNotice {
                        incident: &incident,
                        entry: &entry,
                        name: format!("鏑木 瑞穂{n}"),
                        lang: if n % 10 == 0 { "en" } else { "ja" },
                        fields: vec!["name", "address", "phone", "email", "order_history"],
                        notice_url: format!("https://shop.example.jp/notices/{}", incident.id),
                    };
                    let mail = notifier.notice(&format!("customer{n}@example.jp"), &notice)?;
                    let raw = kura_mail::signed_raw(&mail, &from, &dkim)?;
                    bytes += raw.len() as u64;
                    n += workers;
                }
                Ok(bytes)
            },
        ));
    }
    let mut bytes = 0;
    for t in tasks {
        bytes += t.await??;
    }
    let sign_s = started.elapsed().as_secs_f64();
    println!(
        "rendering and signing {people} notices (Ed25519 and RSA-SHA256, {workers} threads): {sign_s:.1} s, {:.0} per second, {:.1} KiB each (aim: under 60 s)",
        people as f64 / sign_s.max(f64::EPSILON),
        bytes as f64 / people.max(1) as f64 / 1024.0
    );

    let Some(deliver_seconds) = deliver_seconds else {
        println!("peak memory: {:.0} MiB", peak_mib());
        return Ok(());
    };
    // The campaign itself: every person opened, rendered, sealed and queued with its move to
    // "mailed", in batches.
    state
        .incidents
        .start_notices(&session, None, id)
        .await?
        .map_err(|p| anyhow::anyhow!("start: {p:?}"))?;
    let started = Instant::now();
    let queued = state.incidents.send_notices(id).await?;
    let queue_s = started.elapsed().as_secs_f64();
    println!(
        "campaign: {queued} notices opened, rendered, sealed and queued in {queue_s:.1} s ({:.0} per second)   peak memory {:.0} MiB",
        queued as f64 / queue_s.max(f64::EPSILON),
        peak_mib()
    );

    // Delivery through the outbox (claim, open, DKIM-sign, SMTP) to the local sink.
    let started = Instant::now();
    let until = started + Duration::from_secs(deliver_seconds.max(1));
    while Instant::now() < until {
        let (ok, _) = state.outbox.deliver_due(state.mailer.as_ref()).await?;
        if ok == 0 {
            break;
        }
    }
    let deliver_s = started.elapsed().as_secs_f64();
    let delivered = sent.load(Ordering::Relaxed);
    println!(
        "delivery to a local SMTP sink: {delivered} mails in {deliver_s:.1} s, {:.0} per second (one node; 270,589 would take {:.0} min)",
        delivered as f64 / deliver_s.max(f64::EPSILON),
        270_589.0 / (delivered as f64 / deliver_s.max(f64::EPSILON)).max(1.0) / 60.0
    );
    println!("peak memory: {:.0} MiB", peak_mib());
    Ok(())
}
