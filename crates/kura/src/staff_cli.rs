//! `kura staff add|list` and `kura audit verify|head`.

use std::io::BufRead;

use anyhow::bail;
use kura_app::audit::{Actor, ChainReport, parse_head};
use kura_app::staff::{Role, StaffRefusal};
use secrecy::SecretString;
use zeroize::Zeroizing;

use crate::config::Config;
use crate::shop;

/// A first password for a new staff member: five groups of five letters and digits from a
/// 32-sign alphabet (125 bits), shown once.
pub fn generated_password() -> anyhow::Result<Zeroizing<String>> {
    const ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz23456789X";
    let bytes = Zeroizing::new(kura_seal::random_bytes::<25>()?);
    let mut out = Zeroizing::new(String::with_capacity(29));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        out.push(char::from(
            ALPHABET.get(usize::from(b & 31)).copied().unwrap_or(b'a'),
        ));
    }
    Ok(out)
}

pub async fn add(
    config: &Config,
    login: &str,
    role: &str,
    email: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let Some(role) = Role::parse(role) else {
        bail!("--role must be one of owner, manager, support, fulfilment, analyst");
    };
    let Ok(email) = kura_domain::Email::parse(email) else {
        bail!("--email is not a valid email address");
    };
    let login = login.trim().to_lowercase();
    let (password, shown) = if password_stdin {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin().lock().read_line(&mut line)?;
        let typed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_string());
        if let Err(problem) = kura_web::pages::password::check_with(
            &typed,
            &typed,
            &[login.as_str(), email.as_str()],
            kura_web::admin::pages::STAFF_MIN_CHARS,
        ) {
            let text = kura_web::pages::password::message_with(
                kura_web::i18n::Tr(kura_web::i18n::Lang::En),
                &problem,
                kura_web::admin::pages::STAFF_MIN_CHARS,
            );
            bail!("the password on standard input was refused: {text}");
        }
        (typed, false)
    } else {
        (generated_password()?, true)
    };
    let state = shop::build(config).await?;
    let secret = SecretString::from(password.to_string());
    match state
        .staff
        .add(&Actor::cli(), &login, role, &email, &secret)
        .await?
    {
        Ok(_) => {
            println!(
                "Added {login} as {}. At first sign-in at {}/login they set up an authenticator app (TOTP).",
                role.code(),
                config.admin.path
            );
            if shown {
                println!(
                    "First password (shown once, not stored): {}",
                    password.as_str()
                );
            }
            Ok(())
        }
        Err(StaffRefusal::LoginTaken) => bail!("the login name {login} is taken"),
        Err(StaffRefusal::LoginInvalid) => {
            bail!("a login name has 2 to 32 characters (a-z, 0-9, . _ -) and starts with a letter")
        }
        Err(r) => bail!("refused: {r:?}"),
    }
}

pub async fn list(config: &Config) -> anyhow::Result<()> {
    let state = shop::build(config).await?;
    println!(
        "{:<32}  {:<10}  {:<9}  {:<5}",
        "login", "role", "state", "2fa"
    );
    for m in state.staff.list().await? {
        println!(
            "{:<32}  {:<10}  {:<9}  {:<5}",
            m.login,
            m.role.code(),
            if m.active { "active" } else { "suspended" },
            if m.enrolled { "yes" } else { "no" }
        );
    }
    Ok(())
}

/// Walks the audit chain; an error (and a failing exit) names the first broken entry.
pub async fn verify(config: &Config, head: Option<&str>) -> anyhow::Result<()> {
    let expect = match head {
        Some(text) => match parse_head(text) {
            Some(h) => Some(h),
            None => bail!("--head must be SEQ:HEX as the log wrote it (head_seq, head_mac)"),
        },
        None => None,
    };
    let state = shop::build(config).await?;
    let report = state.audit.verify(expect).await?;
    match report {
        ChainReport::Intact { .. } => {
            println!("{report}");
            Ok(())
        }
        ChainReport::Broken { .. } => bail!("{report}"),
    }
}

/// Prints the head and writes it to the log (for keeping somewhere the database cannot reach).
pub async fn head(config: &Config) -> anyhow::Result<()> {
    let state = shop::build(config).await?;
    match state.audit.log_head().await? {
        Some((seq, mac)) => println!("{seq}:{}", hex::encode(mac)),
        None => println!("the audit log is empty"),
    }
    Ok(())
}

/// `kura retention run [--dry-run]`: erases (or lists) what the retention periods let go.
pub async fn retention(config: &Config, dry_run: bool) -> anyhow::Result<()> {
    let state = shop::build(config).await?;
    let r = if dry_run {
        state.retention.dry_run().await?
    } else {
        state.retention.run().await?
    };
    let verb = if dry_run { "would be" } else { "were" };
    println!(
        "personal data kept {} years after the last order; accounting facts {} years",
        r.personal_years, r.accounting_years
    );
    println!(
        "{} customer accounts {verb} erased (data keys destroyed)",
        r.customers
    );
    println!(
        "{} guests' order data {verb} erased (data keys destroyed)",
        r.guest_keys
    );
    println!(
        "{} orders past the accounting period {verb} deleted",
        r.orders
    );
    Ok(())
}
