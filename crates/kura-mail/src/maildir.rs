//! The bounce mailbox: a maildir (as Postfix, Dovecot or fetchmail write it) into which the
//! shop's bounce address delivers. New mails are read from `new/` and moved to `cur/` marked
//! seen, so each is read once and a person can still look at it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The largest mail read from the bounce mailbox; a larger one is moved aside unread.
const MAX_BOUNCE_BYTES: u64 = 1 << 20;

/// Up to `limit` new mails of the maildir at `dir`, oldest name first: (path, raw bytes; empty
/// when the file is too large to be a bounce).
pub fn take_new(dir: &Path, limit: usize) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let new = dir.join("new");
    let mut names: Vec<PathBuf> = match fs::read_dir(&new) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.path())
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    names.sort();
    names.truncate(limit);
    let mut out = Vec::with_capacity(names.len());
    for path in names {
        let raw = if fs::metadata(&path)?.len() > MAX_BOUNCE_BYTES {
            Vec::new()
        } else {
            fs::read(&path)?
        };
        out.push((path, raw));
    }
    Ok(out)
}

/// Moves a mail taken from `new/` to `cur/`, flagged seen (`:2,S`).
pub fn mark_seen(dir: &Path, path: &Path) -> io::Result<()> {
    let cur = dir.join("cur");
    fs::create_dir_all(&cur)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
        .to_string_lossy()
        .into_owned();
    let base = name.split(':').next().unwrap_or(&name);
    fs::rename(path, cur.join(format!("{base}:2,S")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_mails_are_taken_once_and_kept_in_cur() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(
            take_new(tmp.path(), 10).unwrap().is_empty(),
            "no maildir yet"
        );
        fs::create_dir_all(tmp.path().join("new")).unwrap();
        fs::write(tmp.path().join("new/2.host"), b"two").unwrap();
        fs::write(tmp.path().join("new/1.host"), b"one").unwrap();
        let taken = take_new(tmp.path(), 10).unwrap();
        assert_eq!(
            taken.iter().map(|(_, r)| r.as_slice()).collect::<Vec<_>>(),
            [b"one".as_slice(), b"two".as_slice()]
        );
        for (path, _) in &taken {
            mark_seen(tmp.path(), path).unwrap();
        }
        assert!(take_new(tmp.path(), 10).unwrap().is_empty());
        assert!(tmp.path().join("cur/1.host:2,S").exists());
    }
}
