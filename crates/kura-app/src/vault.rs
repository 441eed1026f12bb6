//! The shop's key ring, kept fresh while the shop runs.
//!
//! `kura keys rotate` may add a key while nodes are serving. Each node re-reads the key
//! provider at most every `reload_interval` (a cheap change stamp, then a full load only when
//! it changed), and at once when it meets a value made with a key it does not hold.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use kura_seal::{KeyError, KeyProvider, KeyRing};

pub struct Vault {
    provider: Arc<dyn KeyProvider>,
    ring: RwLock<Arc<KeyRing>>,
    checked: Mutex<(Instant, Option<SystemTime>)>,
    reload_interval: Duration,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("reload_interval", &self.reload_interval)
            .finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(
        provider: Arc<dyn KeyProvider>,
        reload_interval: Duration,
    ) -> Result<Self, KeyError> {
        let stamp = provider.stamp();
        let ring = KeyRing::from_material(&provider.load()?)?;
        Ok(Self {
            provider,
            ring: RwLock::new(Arc::new(ring)),
            checked: Mutex::new((Instant::now(), stamp)),
            reload_interval,
        })
    }

    /// The current key ring. Cheap: a clock read, and a stat of the key source every interval.
    pub fn ring(&self) -> Arc<KeyRing> {
        let due = self
            .checked
            .lock()
            .map(|c| c.0.elapsed() >= self.reload_interval)
            .unwrap_or(false);
        if due {
            let _ = self.reload_if_changed();
        }
        self.current()
    }

    fn current(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(r) => Arc::clone(&r),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Re-reads the key source if its stamp changed. Returns whether the ring changed.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        let stamp = self.provider.stamp();
        {
            let Ok(mut checked) = self.checked.lock() else {
                return Ok(false);
            };
            checked.0 = Instant::now();
            if stamp.is_some() && checked.1 == stamp {
                return Ok(false);
            }
            checked.1 = stamp;
        }
        self.reload()?;
        Ok(true)
    }

    /// Re-reads the key source unconditionally.
    pub fn reload(&self) -> Result<(), KeyError> {
        let ring = KeyRing::from_material(&self.provider.load()?)?;
        let old = self.current().active_key_id();
        if ring.active_key_id() != old {
            tracing::info!(target: "kura::keys", active = ring.active_key_id().0, "key ring reloaded");
        }
        if let Ok(mut r) = self.ring.write() {
            *r = Arc::new(ring);
        }
        Ok(())
    }

    /// The ring to open a value made with `key_id`: reloads once if the key is not held yet.
    pub fn ring_holding(&self, key_id: u32) -> Arc<KeyRing> {
        let ring = self.ring();
        if ring.holds(kura_seal::KeyId(key_id)) {
            return ring;
        }
        let _ = self.reload();
        self.current()
    }

    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }
}
