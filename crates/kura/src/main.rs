//! The `kura` command: the shop server and its operations.

use kura::{bench, demo, keys, shop};

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use kura::config::Config;

/// Kura: an online shop whose stolen database is worthless.
///
/// Every command that works on a shop takes --dir DIR (a shop directory holding kura.toml, the
/// database and the master key) or --config FILE; KURA_* environment variables override the file.
#[derive(Parser)]
#[command(name = "kura", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct ShopArgs {
    /// The shop directory (kura.toml, kura.db and kura.key inside).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// A configuration file (default: ./kura.toml when present).
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the shop.
    Serve {
        #[command(flatten)]
        shop: ShopArgs,
        /// Listen address, overriding server.listen (e.g. 0.0.0.0:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Apply pending database migrations and list them.
    Migrate {
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Create (or reuse) a demo shop in a directory and serve it.
    Demo {
        /// The demo shop directory; reused when it exists.
        #[arg(long, value_name = "DIR", default_value = "kura-demo")]
        dir: PathBuf,
        /// Listen address.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Also generate this many synthetic customers (sealed like real ones).
        #[arg(long, value_name = "N", default_value_t = 0)]
        customers: u64,
        /// Also generate this many synthetic orders, spread since 2015-02-18.
        #[arg(long, value_name = "M", default_value_t = 0)]
        orders: u64,
        /// Prepare the shop and exit without serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Move orders on: record a bank transfer as received, or mark an order shipped (which
    /// mails the customer the shipping notice). Prints no personal data.
    Orders {
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// Staff who run the shop in the back office. The first owner comes from here.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// The audit log of staff actions and reads of personal data.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Erase personal data whose retention period ended, and orders past the accounting
    /// period (the running shop does this every hour).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Canary customers (honeytokens) whose every read raises the guard's highest alert.
    Honeytoken {
        #[command(subcommand)]
        command: HoneytokenCommand,
    },
    /// The shop's outgoing mail: `kura mail keys` makes the DKIM keys and prints the DNS
    /// records (DKIM, SPF, DMARC) to publish.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Close ordering during an incident (`on`), open it again (`off`), or show the state
    /// (`status`). The notices, the mail-check page and the desk stay open; every node follows
    /// within seconds.
    Maintenance {
        #[arg(value_parser = ["on", "off", "status"])]
        state: String,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Manage the master keys that seal personal data.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Measure the shop under load beside a bare axum handler, and print the numbers.
    BenchWeb {
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Runs the shop with the guard off, to measure what the guard costs.
        #[arg(long)]
        no_guard: bool,
        /// Runs the shop on a fresh database on this PostgreSQL server (dropped afterwards);
        /// the bare baselines stay on SQLite.
        #[arg(long)]
        pg_url: Option<String>,
        /// Runs of every scenario; with more than one, the medians are printed at the end.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// The guard's detection figures: records a mass read obtains before the lock, seconds from
    /// the first probe to the alert, and the guard's cost on product-page throughput
    BenchGuard {
        /// Seconds per throughput run.
        #[arg(long, default_value_t = 6)]
        seconds: u64,
        /// Alternating runs with the guard off and on.
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// An incident on a large shop: scoping, rendering and signing every notice, queueing the
    /// campaign, delivery to a local SMTP sink, and the peak memory.
    BenchIncident {
        #[arg(long, default_value_t = 270_589)]
        customers: u64,
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Seconds of delivery to the local SMTP sink.
        #[arg(long, default_value_t = 30)]
        deliver_seconds: u64,
        /// Keep the scratch shop in DIR and reuse it on the next run with the same sizes
        /// (filling a million orders takes minutes; the timed steps are what is measured).
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
        /// Stop after scoping and signing (no campaign, no delivery).
        #[arg(long)]
        no_campaign: bool,
    },
    /// Search precision on the demo catalog with a fixed list of 30 queries; with `--products`,
    /// also search times on a large catalog (SQLite, or PostgreSQL with and without pg_trgm).
    BenchSearch {
        /// Also time searches on a catalog of this many products (0: precision only).
        #[arg(long, default_value_t = 0)]
        products: u64,
        /// Time them on a fresh database on this PostgreSQL server (dropped afterwards), with
        /// and without the trigram indexes.
        #[arg(long)]
        pg_url: Option<String>,
    },
    /// The bare baseline server of `bench-web` (one handler, one product row).
    #[command(hide = true)]
    BenchBare {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, value_name = "ADDR")]
        listen: std::net::SocketAddr,
    },
    /// Time the back office on a large scratch shop: order-list pages and unmasking through the
    /// real router, with the numbers printed.
    BenchAdmin {
        /// Synthetic orders.
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Synthetic customers.
        #[arg(long, default_value_t = 20_000)]
        customers: u64,
        /// Requests per measurement.
        #[arg(long, default_value_t = 300)]
        samples: usize,
        /// Run on a scratch database of this PostgreSQL server instead of SQLite.
        #[arg(long, value_name = "URL")]
        pg_url: Option<String>,
        /// Keep the scratch shop in DIR (and reuse it next time instead of filling it again).
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Count the synthetic addresses and phone numbers, typed as people type them, that the
    /// card-number guard would refuse (the goal is zero).
    BenchCard {
        /// Synthetic customers whose fields are typed.
        #[arg(long, default_value_t = 270_589)]
        customers: u64,
    },
    /// Measure sealing, hashing and sealed storage, and print the numbers.
    Bench {
        /// Rows for the storage benchmark.
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// PostgreSQL server to benchmark too (a scratch database is created and dropped);
        /// defaults to $KURA_BENCH_PG_URL.
        #[arg(long, value_name = "URL")]
        pg_url: Option<String>,
        /// Also time a key rotation over this many synthetic customers (e.g. 270589).
        #[arg(long, default_value_t = 0)]
        rotation: u64,
    },
}

#[derive(Subcommand)]
enum OrdersCommand {
    /// A bank-transfer order's money has arrived: awaiting_transfer becomes paid.
    Paid {
        /// The order number (e.g. K-ABCD-EFGH).
        number: String,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// The parcel has left: confirmed (cash on delivery) or paid becomes shipped, and the
    /// customer is mailed the carrier and tracking number.
    Ship {
        /// The order number (e.g. K-ABCD-EFGH).
        number: String,
        /// The carrier, as the customer should read it (e.g. ヤマト運輸).
        #[arg(long)]
        carrier: String,
        /// The carrier's tracking number.
        #[arg(long)]
        tracking: String,
        /// The carrier's tracking page for this parcel (https).
        #[arg(long)]
        tracking_url: Option<String>,
        #[command(flatten)]
        shop: ShopArgs,
    },
}

#[derive(Subcommand)]
enum StaffCommand {
    /// Add a staff member. Without --password-stdin a strong first password is made and shown
    /// once; there is no default password. They set up TOTP at first sign-in.
    Add {
        /// Login name (a-z, 0-9, . _ -; starts with a letter).
        login: String,
        /// owner, manager, support, fulfilment or analyst.
        #[arg(long)]
        role: String,
        /// Where notices to this staff member go (sealed in the database).
        #[arg(long)]
        email: String,
        /// Read the first password from standard input (at least 15 characters, not weak).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// List staff members with role, state and whether they enrolled an authenticator.
    List {
        #[command(flatten)]
        shop: ShopArgs,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Make the DKIM keys beside the master key (never replacing existing ones) and print the
    /// DNS records to publish.
    Keys {
        #[command(flatten)]
        shop: ShopArgs,
    },
}

#[derive(Subcommand)]
enum HoneytokenCommand {
    /// Add canary customers (each with an old order) at guard.canary_domain.
    Add {
        #[arg(long, default_value_t = 3)]
        count: u32,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// List the canary customers (for the owner's eyes only).
    List {
        #[command(flatten)]
        shop: ShopArgs,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Erase what expired, and say what was erased.
    Run {
        /// Only say what would be erased.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        shop: ShopArgs,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain; fails naming the first missing, reordered, edited or forged entry.
    Verify {
        /// A head logged earlier (`SEQ:HEX`, the log's head_seq and head_mac): the log must
        /// still hold it, so a tail cut off and rewritten is caught.
        #[arg(long, value_name = "SEQ:HEX")]
        head: Option<String>,
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Print the current head (`SEQ:HEX`) and write it to the log.
    Head {
        #[command(flatten)]
        shop: ShopArgs,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create the master key file of a new shop (refused when the database already has data).
    Init {
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Show each key and how many sealed values and blind indexes use it.
    Status {
        #[command(flatten)]
        shop: ShopArgs,
    },
    /// Add a new key for writes and re-seal everything under it (resumes an unfinished run).
    Rotate {
        #[command(flatten)]
        shop: ShopArgs,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: u32,
    },
    /// Remove old keys that no value uses any more.
    Retire {
        #[command(flatten)]
        shop: ShopArgs,
    },
}

fn env_pairs() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("KURA_"))
        .collect()
}

fn load(shop: &ShopArgs) -> anyhow::Result<Config> {
    Config::load(shop.dir.as_deref(), shop.config.as_deref(), &env_pairs())
}

fn init_logging(config: Option<&Config>) {
    let level = config.map_or("info", |c| c.log.level.as_str());
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.is_some_and(|c| c.log.format == "text") {
        let _ = builder.try_init();
    } else {
        let _ = builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init();
    }
}

/// The allocator: many small, short-lived allocations per request, across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kura: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kura: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { shop, listen } => {
            let mut config = load(&shop)?;
            init_logging(Some(&config));
            if let Some(addr) = listen {
                config.server.listen = addr;
            }
            let listener = shop::bind(&config).await?;
            let base = config.base_url(listener.local_addr()?);
            if config.server.public_url.is_none() && !listener.local_addr()?.ip().is_loopback() {
                tracing::warn!(target: "kura::config", base = %base, "server.public_url is not set: links in mails and payment returns point at the listen address; set it to the address customers use");
            }
            let state = shop::build_at(&config, &base, shop::card_gateway(&config)?).await?;
            shop::serve(listener, &config, state, |addr| {
                println!("Kura is serving on http://{addr}/")
            })
            .await
        }
        Command::Migrate { shop } => {
            let config = load(&shop)?;
            init_logging(Some(&config));
            let store = shop::open_store(&config).await?;
            for (version, name) in store.applied_migrations().await? {
                println!("{version:04}_{name}");
            }
            Ok(())
        }
        Command::Demo {
            dir,
            listen,
            customers,
            orders,
            no_serve,
        } => {
            demo::prepare_dir(&dir)?;
            let mut config = Config::load_demo(&dir, &env_pairs())?;
            init_logging(Some(&config));
            config.server.listen = listen;
            shop::init_keys(&config).await?;
            // The demo's mails are signed as a real shop's are.
            let dkim = kura_mail::DkimFiles::beside(&config.keys.file);
            if !dkim.ed25519.exists() && !dkim.rsa.exists() {
                dkim.generate()?;
            }
            if no_serve {
                let state = shop::build(&config).await?;
                if let Some(password) = demo::seed(&state, customers, orders).await? {
                    println!(
                        "Back-office owner: {} / {password} (shown once; set up TOTP at first sign-in)",
                        demo::DEMO_OWNER
                    );
                }
                println!("Demo shop prepared in {}.", dir.display());
                return Ok(());
            }
            let listener = shop::bind(&config).await?;
            let base = config.base_url(listener.local_addr()?);
            // Without a configured provider, the demo takes card payments through the sandbox.
            let (gateway, sandbox) = if config.card.api_base.is_empty() {
                let sandbox = kura_pay::sandbox::start(kura_pay::sandbox::SandboxConfig {
                    listen: "127.0.0.1:0".parse()?,
                    webhook_url: Some(format!("{base}/webhooks/payments")),
                    ..Default::default()
                })
                .await?;
                let gateway = kura_pay::StripeCheckout::new(kura_pay::StripeConfig::new(
                    sandbox.base_url().to_string(),
                    secrecy::SecretString::from(kura_pay::sandbox::DEFAULT_SECRET_KEY.to_string()),
                    secrecy::SecretString::from(
                        kura_pay::sandbox::DEFAULT_WEBHOOK_SECRET.to_string(),
                    ),
                ))?;
                let gateway: std::sync::Arc<dyn kura_app::payments::PaymentGateway> =
                    std::sync::Arc::new(gateway);
                (Some(gateway), Some(sandbox))
            } else {
                (shop::card_gateway(&config)?, None)
            };
            let state = shop::build_at(&config, &base, gateway).await?;
            let owner_password = demo::seed(&state, customers, orders).await?;
            demo::ensure_canaries(&state, &config.guard.canary_domain).await?;
            let admin_path = config.admin.path.clone();
            let shown = dir.canonicalize().unwrap_or(dir.clone());
            let outbox = config
                .mail_to_files()
                .then(|| config.mail.outbox_dir.clone());
            let sandbox_url = sandbox.as_ref().map(|s| s.base_url().to_string());
            shop::serve(listener, &config, state, |addr| {
                println!("Kura demo shop: http://{addr}/");
                println!("  shop directory: {}", shown.display());
                println!("  demo account:   {} / {}", demo::DEMO_EMAIL, demo::DEMO_PASSWORD);
                println!("  back office:    http://{addr}{admin_path}/login");
                match &owner_password {
                    Some(p) => println!(
                        "  owner sign-in:  {} / {p} (shown this once; set up an authenticator app at first sign-in)",
                        demo::DEMO_OWNER
                    ),
                    None => println!(
                        "  owner sign-in:  {} (password shown when this demo was created; `kura staff add` adds others)",
                        demo::DEMO_OWNER
                    ),
                }
                if let Some(outbox) = &outbox {
                    println!("  mail outbox:    {} (mails are written here, not sent)", outbox.display());
                }
                if let Some(url) = &sandbox_url {
                    println!("  card payments:  test sandbox at {url} (card 4242 4242 4242 4242, any future expiry, any CVC)");
                    println!("  コンビニ払い:    the same sandbox issues a payment number; its voucher page has a test button that pays at the store");
                }
                println!("  try:");
                println!("    search:       http://{addr}/search?q=ぼとる (kana, model numbers such as kts10, synonyms such as 水筒)");
                println!("    product:      http://{addr}/products/vacuum-bottle-light (品番, specifications, 入荷お知らせ for the sold-out 500 ml navy)");
                println!("    food label:   http://{addr}/products/soup-set (原材料, アレルゲン, 賞味期限)");
                println!("    checkout:     type a postal code (e.g. 105-0011) and the address fills in");
                println!("    coupons:      WELCOME500 (¥500 off from ¥3,000) or SPRING10 (10 %) at checkout; once per customer; back office → coupons");
                println!("    receipts:     a paid order's page offers its 領収書 and 適格請求書 (PDF)");
                println!("    pages:        http://{addr}/faq  /privacy  /terms  (calendar and shipping fees on the home page)");
                println!("    synonyms:     back office → catalog → search synonyms");
                println!("  stop with Ctrl-C");
            })
            .await
        }
        Command::Orders { command } => {
            let (shop, number) = match &command {
                OrdersCommand::Paid { shop, number } | OrdersCommand::Ship { shop, number, .. } => {
                    (shop, number.clone())
                }
            };
            let config = load(shop)?;
            init_logging(Some(&config));
            let state = shop::build(&config).await?;
            let done = match command {
                OrdersCommand::Paid { .. } => state
                    .orders
                    .mark_transfer_received(&number)
                    .await?
                    .map(|()| format!("{number}: transfer recorded; the order is paid")),
                OrdersCommand::Ship {
                    carrier,
                    tracking,
                    tracking_url,
                    ..
                } => {
                    let parcel = kura_app::orders::Parcel {
                        carrier,
                        tracking_number: tracking,
                        tracking_url,
                    };
                    state
                        .orders
                        .mark_shipped(&number, &parcel)
                        .await?
                        .map(|()| format!("{number}: shipped; the shipping notice is queued"))
                }
            };
            match done {
                Ok(line) => {
                    // The running shop's mail worker sends what was queued.
                    println!("{line}");
                    Ok(())
                }
                Err(e) => anyhow::bail!("{number}: {e}"),
            }
        }
        Command::Staff { command } => match command {
            StaffCommand::Add {
                login,
                role,
                email,
                password_stdin,
                shop,
            } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                kura::staff_cli::add(&config, &login, &role, &email, password_stdin).await
            }
            StaffCommand::List { shop } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                kura::staff_cli::list(&config).await
            }
        },
        Command::Honeytoken { command } => {
            let (shop, count) = match &command {
                HoneytokenCommand::Add { shop, count } => (shop, Some(*count)),
                HoneytokenCommand::List { shop } => (shop, None),
            };
            let config = load(shop)?;
            init_logging(Some(&config));
            let state = shop::build(&config).await?;
            let domain = config.guard.canary_domain.clone();
            match count {
                Some(n) => {
                    let ids = kura::honeytoken::add(&state, &domain, n).await?;
                    println!("{} canary customers added at @{domain}.", ids.len());
                }
                None => {
                    for (id, email) in kura::honeytoken::list(&state, &domain).await? {
                        println!("{id}\t{email}");
                    }
                }
            }
            Ok(())
        }
        Command::Retention {
            command: RetentionCommand::Run { dry_run, shop },
        } => {
            let config = load(&shop)?;
            init_logging(Some(&config));
            kura::staff_cli::retention(&config, dry_run).await
        }
        Command::Audit { command } => match command {
            AuditCommand::Verify { head, shop } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                kura::staff_cli::verify(&config, head.as_deref()).await
            }
            AuditCommand::Head { shop } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                kura::staff_cli::head(&config).await
            }
        },
        Command::Mail {
            command: MailCommand::Keys { shop },
        } => {
            let config = load(&shop)?;
            init_logging(Some(&config));
            print!("{}", keys::mail_keys(&config)?);
            Ok(())
        }
        Command::Maintenance { state, shop } => {
            let config = load(&shop)?;
            init_logging(Some(&config));
            let app = shop::build(&config).await?;
            if state != "status" {
                app.incidents
                    .set_maintenance(&kura_app::audit::Actor::cli(), state == "on")
                    .await?;
            }
            if app.incidents.maintenance() {
                println!(
                    "maintenance: on (ordering is closed; notices, mail check and desk stay open)"
                );
            } else {
                println!("maintenance: off (the shop is open)");
            }
            Ok(())
        }
        Command::Keys { command } => match command {
            KeysCommand::Init { shop } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                keys::init(&config).await
            }
            KeysCommand::Status { shop } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                keys::status(&config).await
            }
            KeysCommand::Rotate { shop, batch } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                keys::rotate(&config, batch.max(1)).await
            }
            KeysCommand::Retire { shop } => {
                let config = load(&shop)?;
                init_logging(Some(&config));
                keys::retire(&config).await
            }
        },
        Command::BenchWeb {
            seconds,
            connections,
            no_guard,
            pg_url,
            runs,
        } => {
            init_logging(None);
            kura::bench_web::run_web(seconds, connections.max(1), !no_guard, pg_url, runs.max(1))
                .await
        }
        Command::BenchGuard { seconds, runs } => {
            init_logging(None);
            kura::bench_guard::run(seconds.max(1), runs).await
        }
        Command::BenchIncident {
            customers,
            orders,
            deliver_seconds,
            dir,
            no_campaign,
        } => {
            init_logging(None);
            let deliver = (!no_campaign).then_some(deliver_seconds);
            kura::bench_incident::run(customers, orders, deliver, dir).await
        }
        Command::BenchSearch { products, pg_url } => {
            kura::bench_search::run().await?;
            if products > 0 {
                println!();
                kura::bench_search::run_timing(products, pg_url).await?;
            }
            Ok(())
        }
        Command::BenchBare { dir, listen } => {
            kura::bench_web::serve_bare(&dir.join("kura.db"), listen).await
        }
        Command::BenchAdmin {
            orders,
            customers,
            samples,
            pg_url,
            dir,
        } => {
            init_logging(None);
            kura::bench_admin::run(
                orders,
                customers,
                samples.max(1),
                pg_url.as_deref(),
                dir.as_deref(),
            )
            .await
        }
        Command::BenchCard { customers } => kura::bench_card::run(customers),
        Command::Bench {
            rows,
            pg_url,
            rotation,
        } => {
            init_logging(None);
            let pg = pg_url.or_else(|| std::env::var("KURA_BENCH_PG_URL").ok());
            bench::run(rows, pg.as_deref())
                .await
                .context("benchmark failed")?;
            if rotation > 0 {
                bench::rotation(rotation)
                    .await
                    .context("rotation benchmark failed")?;
            }
            Ok(())
        }
    }
}
