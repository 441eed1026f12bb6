//! Master keys and where they live.
//!
//! A shop has one or more master keys, each with a numeric id; exactly one is active for new
//! writes. They never live in the database: by default they sit in a key file with mode 0600
//! beside the shop ([`FileKeyProvider`]); a [`KeyProvider`] lets a KMS serve them instead.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A master key's id, as written in every envelope and blind index made with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u32);

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the key file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the key file {path} can be read by other users (mode {mode:o}); run `chmod 600 {path}` and check who may have copied it"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the key file {path} is not a valid Kura key file: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("key {0} is the active key and cannot be retired")]
    RetireActive(KeyId),
    #[error("there is no key {0}")]
    NoSuchKey(KeyId),
    #[error("the system random generator failed")]
    Random,
}

/// One master key: its id, when it was made, and the 32 secret bytes.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterKeyInfo {
    pub id: KeyId,
    /// Unix seconds when the key was created.
    pub created: i64,
    /// Unix seconds when the key became the one used for writes.
    #[serde(default)]
    pub activated: Option<i64>,
    secret: Zeroizing<String>,
}

impl std::fmt::Debug for MasterKeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeyInfo")
            .field("id", &self.id)
            .field("created", &self.created)
            .field("activated", &self.activated)
            .finish_non_exhaustive()
    }
}

impl MasterKeyInfo {
    pub(crate) fn secret_bytes(&self) -> Result<Zeroizing<[u8; 32]>, String> {
        let mut out = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(self.secret.as_bytes(), out.as_mut_slice())
            .map_err(|_| format!("key {} is not 64 hexadecimal digits", self.id))?;
        Ok(out)
    }
}

/// The whole set of master keys of a shop, as the key provider holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyMaterial {
    pub format: u32,
    pub active: KeyId,
    pub keys: Vec<MasterKeyInfo>,
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn fresh_secret() -> Result<Zeroizing<String>, KeyError> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut_slice()).map_err(|_| KeyError::Random)?;
    Ok(Zeroizing::new(hex::encode(bytes.as_slice())))
}

impl KeyMaterial {
    /// A new key set holding one freshly generated key, id 1.
    pub fn generate() -> Result<Self, KeyError> {
        let now = now_unix();
        Ok(Self {
            format: 1,
            active: KeyId(1),
            keys: vec![MasterKeyInfo {
                id: KeyId(1),
                created: now,
                activated: Some(now),
                secret: fresh_secret()?,
            }],
        })
    }

    /// Adds a freshly generated key and makes it the active one. Returns its id.
    pub fn add_active_key(&mut self) -> Result<KeyId, KeyError> {
        let next = self
            .keys
            .iter()
            .map(|k| k.id.0)
            .max()
            .unwrap_or(0)
            .saturating_add(1);
        let now = now_unix();
        self.keys.push(MasterKeyInfo {
            id: KeyId(next),
            created: now,
            activated: Some(now),
            secret: fresh_secret()?,
        });
        self.active = KeyId(next);
        Ok(KeyId(next))
    }

    /// Removes a key that is no longer active. The caller checks that nothing uses it.
    pub fn retire(&mut self, id: KeyId) -> Result<(), KeyError> {
        if id == self.active {
            return Err(KeyError::RetireActive(id));
        }
        let before = self.keys.len();
        self.keys.retain(|k| k.id != id);
        if self.keys.len() == before {
            return Err(KeyError::NoSuchKey(id));
        }
        Ok(())
    }

    pub fn active_info(&self) -> Option<&MasterKeyInfo> {
        self.keys.iter().find(|k| k.id == self.active)
    }

    fn validate(&self) -> Result<(), String> {
        if self.format != 1 {
            return Err(format!("unknown format {}", self.format));
        }
        if self.active_info().is_none() {
            return Err(format!("the active key {} is not in the file", self.active));
        }
        for key in &self.keys {
            key.secret_bytes()?;
        }
        Ok(())
    }
}

/// Where master keys come from. The default is a file; a KMS can implement this too.
pub trait KeyProvider: Send + Sync {
    /// Reads the current key material.
    fn load(&self) -> Result<KeyMaterial, KeyError>;
    /// Replaces the key material atomically.
    fn store(&self, material: &KeyMaterial) -> Result<(), KeyError>;
    /// A value that changes whenever the key material changes, for cheap reload checks.
    fn stamp(&self) -> Option<SystemTime>;
    /// Where the keys live, when they are a file (named in an incident report's evidence).
    fn location(&self) -> Option<PathBuf> {
        None
    }
}

/// Master keys in a TOML file with mode 0600. A file others can read is refused.
#[derive(Debug, Clone)]
pub struct FileKeyProvider {
    path: PathBuf,
}

impl FileKeyProvider {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the key file, creating it with one new key when it does not exist yet.
    /// Returns the material and whether the file was created.
    pub fn load_or_create(&self) -> Result<(KeyMaterial, bool), KeyError> {
        if self.path.exists() {
            return Ok((self.load()?, false));
        }
        let material = KeyMaterial::generate()?;
        self.write(&material, true)?;
        Ok((material, true))
    }

    fn write(&self, material: &KeyMaterial, create_new: bool) -> Result<(), KeyError> {
        let werr = |source| KeyError::Write {
            path: self.path.clone(),
            source,
        };
        let body = toml::to_string(material).map_err(|e| KeyError::Invalid {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        let text = Zeroizing::new(format!(
            "# Kura master keys. Keep this file secret, with mode 0600, and never beside a\n\
             # database backup: whoever holds both can read every sealed customer field.\n{body}"
        ));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(werr)?;
        }
        let tmp = self.path.with_extension("key.tmp");
        let target = if create_new { &self.path } else { &tmp };
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(create_new)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(target)
            .map_err(werr)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(werr)?;
        file.write_all(text.as_bytes()).map_err(werr)?;
        file.sync_all().map_err(werr)?;
        drop(file);
        if !create_new {
            fs::rename(&tmp, &self.path).map_err(werr)?;
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(d) = fs::File::open(dir)
        {
            // Make the rename durable; a failure here only weakens crash safety.
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl KeyProvider for FileKeyProvider {
    fn location(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }

    fn load(&self) -> Result<KeyMaterial, KeyError> {
        let rerr = |source| KeyError::Read {
            path: self.path.clone(),
            source,
        };
        let meta = fs::metadata(&self.path).map_err(rerr)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::TooOpen {
                path: self.path.clone(),
                mode,
            });
        }
        let text = Zeroizing::new(fs::read_to_string(&self.path).map_err(rerr)?);
        let material: KeyMaterial = toml::from_str(&text).map_err(|e| KeyError::Invalid {
            path: self.path.clone(),
            reason: e.message().to_string(),
        })?;
        material.validate().map_err(|reason| KeyError::Invalid {
            path: self.path.clone(),
            reason,
        })?;
        Ok(material)
    }

    fn store(&self, material: &KeyMaterial) -> Result<(), KeyError> {
        self.write(material, false)
    }

    fn stamp(&self) -> Option<SystemTime> {
        fs::metadata(&self.path).and_then(|m| m.modified()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_file_is_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let provider = FileKeyProvider::new(dir.path().join("kura.key"));
        let (material, created) = provider.load_or_create().unwrap();
        assert!(created);
        let mode = fs::metadata(provider.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = provider.load().unwrap();
        assert_eq!(again.active, material.active);
        let (_, created) = provider.load_or_create().unwrap();
        assert!(!created);
    }

    #[test]
    fn readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let provider = FileKeyProvider::new(dir.path().join("kura.key"));
        provider.load_or_create().unwrap();
        fs::set_permissions(provider.path(), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(provider.load(), Err(KeyError::TooOpen { .. })));
    }

    #[test]
    fn rotate_and_retire() {
        let mut m = KeyMaterial::generate().unwrap();
        let new = m.add_active_key().unwrap();
        assert_eq!(new, KeyId(2));
        assert!(matches!(m.retire(KeyId(2)), Err(KeyError::RetireActive(_))));
        m.retire(KeyId(1)).unwrap();
        assert_eq!(m.keys.len(), 1);
        assert!(!format!("{m:?}").contains(&*m.keys[0].secret));
    }
}
