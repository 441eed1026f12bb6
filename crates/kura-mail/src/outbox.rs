//! The demo transport: each mail becomes an `.eml` file (the exact RFC 5322 message SMTP would
//! carry) in a folder that anyone running the demo can open with a mail reader. The files hold
//! personal data in plain text, so a shop uses this transport only when configured to, and
//! prunes them ([`prune_outbox`]).
//!
//! Guarantees:
//! - The folder is created with mode 0700; an existing folder that group or others can read is
//!   refused, because the mails hold personal data.
//! - Each file is created new (never overwriting) with mode 0600, written under a `.tmp` name,
//!   synced, then renamed to `.eml`, so a reader never sees half a mail.
//! - File names are a UTC timestamp plus a random suffix (`20250102T030405Z-9f3a….eml`); they
//!   never hold the recipient or anything else from the mail.
//! - [`prune_outbox`] deletes the mail files (`.eml`, and `.tmp` left by a crash) last modified
//!   longer ago than the given age, and nothing else in the folder.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use kura_app::mail::{MailError, Mailer, OutgoingMail};
use lettre::message::Mailbox;

use crate::compose::{compose, parse_from};
use crate::dkim::DkimKeys;
use crate::error::OutboxError;

/// Writes mails into a folder instead of sending them.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
    dkim: Option<Arc<DkimKeys>>,
}

impl OutboxMailer {
    /// Opens (creating with mode 0700 if needed) the outbox folder. `from` is the shop's sender,
    /// e.g. `"蔵ショップ <shop@example.jp>"`.
    pub fn new(dir: impl Into<PathBuf>, from: &str) -> Result<Self, OutboxError> {
        let dir = dir.into();
        let from = parse_from(from).ok_or(OutboxError::From)?;
        DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        let meta = fs::metadata(&dir)?;
        if !meta.is_dir() {
            return Err(OutboxError::NotAFolder);
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(OutboxError::TooOpen { mode });
        }
        Ok(Self {
            dir,
            from,
            dkim: None,
        })
    }

    /// Signs every mail with the shop's DKIM keys (as the SMTP transport does).
    pub fn with_dkim(mut self, dkim: Option<Arc<DkimKeys>>) -> Self {
        self.dkim = dkim;
        self
    }

    /// The folder the mails are written to (the demo prints it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let mut bytes = compose(mail, &self.from)?.formatted();
        if let Some(dkim) = &self.dkim {
            bytes = dkim.sign(&bytes)?;
        }
        let dir = self.dir.clone();
        let written = tokio::task::spawn_blocking(move || write_new(&dir, &bytes))
            .await
            .map_err(|_| MailError::Temporary("the outbox writer stopped".to_owned()))?;
        match written {
            Ok(path) => {
                tracing::info!(kind = mail.kind, file = %path.display(), "mail written to the outbox");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(kind = mail.kind, error = %e, "mail not written to the outbox");
                Err(MailError::Temporary(format!(
                    "the mail could not be written to the outbox: {e}"
                )))
            }
        }
    }
}

/// Deletes the mail files in the outbox folder `dir` last modified more than `keep` ago, and
/// returns how many it deleted. Files that are not mails (another extension, folders, links)
/// are left alone; a file that disappears meanwhile is not an error. Blocking: call it from a
/// blocking task.
pub fn prune_outbox(dir: &Path, keep: Duration) -> std::io::Result<usize> {
    prune_before(
        dir,
        SystemTime::now().checked_sub(keep).unwrap_or(UNIX_EPOCH),
    )
}

fn prune_before(dir: &Path, cutoff: SystemTime) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("eml" | "tmp")
        ) {
            continue;
        }
        // `DirEntry::metadata` does not follow symbolic links: only regular files are mails.
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !meta.is_file() || meta.modified()? >= cutoff {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

fn write_new(dir: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix).map_err(std::io::Error::other)?;
    let stem = format!("{}-{}", utc_stamp(SystemTime::now()), hex::encode(suffix));
    let tmp = dir.join(format!("{stem}.tmp"));
    let path = dir.join(format!("{stem}.eml"));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let result = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = result {
        // Best effort: a partial temporary file is useless; the error that matters is `e`.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// `YYYYMMDDTHHMMSSZ` in UTC. Before 1970 (a broken clock) it prints the epoch.
fn utc_stamp(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        // 2024-02-29 23:59:59 UTC (a leap day).
        let t = UNIX_EPOCH + Duration::from_secs(1_709_251_199);
        assert_eq!(utc_stamp(t), "20240229T235959Z");
        let t = UNIX_EPOCH + Duration::from_secs(1_735_689_600);
        assert_eq!(utc_stamp(t), "20250101T000000Z");
    }

    #[test]
    fn an_open_folder_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("open");
        fs::create_dir(&dir).expect("mkdir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
        let err = OutboxMailer::new(&dir, "shop@example.jp").expect_err("refused");
        assert!(
            matches!(err, OutboxError::TooOpen { mode: 0o755 }),
            "{err:?}"
        );
    }

    #[test]
    fn a_new_folder_is_private() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a/b/outbox");
        let outbox = OutboxMailer::new(&dir, "shop@example.jp").expect("outbox");
        let mode = fs::metadata(outbox.dir())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
