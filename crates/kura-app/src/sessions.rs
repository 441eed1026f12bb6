//! Server-side sessions (OWASP Session Management Cheat Sheet).
//!
//! The browser holds a 256-bit random token; the database holds only its SHA-256 and the
//! session data sealed against the row. Sessions expire after an idle period and after an
//! absolute lifetime; the token is replaced (and the old row deleted) on sign-in, sign-out and
//! any change of privilege, so a token seen before sign-in is worthless after it.

use std::sync::Arc;

use kura_seal::{Sealed, SessionToken};
use serde::{Deserialize, Serialize};

use crate::carts::Carts;
use crate::clock::Clock;
use crate::error::AppError;
use crate::ports::Store;
use crate::sealed::{SessionRecord, col};
use crate::vault::Vault;

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle_seconds: i64,
    pub absolute_seconds: i64,
    /// A session's last-seen time is written at most this often, to spare the database.
    pub touch_seconds: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle_seconds: 30 * 60,
            absolute_seconds: 12 * 3600,
            touch_seconds: 60,
        }
    }
}

/// What a session remembers. Sealed as a whole; may hold personal data later (a checkout draft).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionData {
    /// Where to return after signing in (a local path only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// A guest's cart (signed-in customers' carts belong to the account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cart_id: Option<i64>,
    /// The checkout form as last submitted and validated, awaiting confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout: Option<CheckoutDraft>,
    /// Orders placed in this session (a guest may view them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_orders: Vec<i64>,
    /// Orders this browser was let into by a mailed link or a lookup (number and email or
    /// phone): it may view them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_orders: Vec<i64>,
}

impl SessionData {
    /// Most orders a session remembers being let into.
    pub const MAX_LINKED: usize = 10;

    /// Lets this session view `order_id` (the oldest of too many is forgotten).
    pub fn link_order(&mut self, order_id: i64) {
        self.linked_orders.retain(|id| *id != order_id);
        self.linked_orders.push(order_id);
        let extra = self.linked_orders.len().saturating_sub(Self::MAX_LINKED);
        self.linked_orders.drain(..extra);
    }
}

/// A validated checkout awaiting the final confirmation, with the id that makes its
/// submission idempotent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutDraft {
    pub attempt: String,
    pub input: crate::orders::CheckoutInput,
}

#[derive(Debug, Clone)]
pub struct LoadedSession {
    pub id: i64,
    pub token: SessionToken,
    pub customer_id: Option<i64>,
    pub data: SessionData,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub absolute_expires_at: i64,
}

pub struct Sessions {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl Sessions {
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            store,
            vault,
            clock,
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    fn seal_data(&self, id: i64, data: &SessionData) -> Result<Sealed, AppError> {
        let json = serde_json::to_vec(data).map_err(|e| AppError::Task(e.to_string()))?;
        Ok(self.vault.ring().seal(col::SESSION_DATA, id, &json)?)
    }

    /// Starts a new session under a fresh token.
    pub async fn create(
        &self,
        customer_id: Option<i64>,
        data: SessionData,
    ) -> Result<LoadedSession, AppError> {
        self.create_with(self.vault.ring().browser_token()?, customer_id, data)
            .await
    }

    /// Starts a session under a token already handed to the browser (a visitor whose forms
    /// carried a CSRF token before anything needed storing). Sign-in never uses this: it
    /// always takes a fresh token.
    pub async fn create_with(
        &self,
        token: SessionToken,
        customer_id: Option<i64>,
        data: SessionData,
    ) -> Result<LoadedSession, AppError> {
        let now = self.clock.now();
        let id = crate::ids::new_id();
        let record = SessionRecord {
            id,
            token_hash: token.hash().0,
            customer_id,
            data: self.seal_data(id, &data)?,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + self.policy.idle_seconds,
            absolute_expires_at: now + self.policy.absolute_seconds,
        };
        self.store.insert_session(&record).await?;
        Ok(LoadedSession {
            id,
            token,
            customer_id,
            data,
            created_at: now,
            last_seen_at: now,
            absolute_expires_at: record.absolute_expires_at,
        })
    }

    /// Loads the session a browser presents. Expired or unreadable sessions are deleted and
    /// yield `None`.
    pub async fn load(&self, token: &SessionToken) -> Result<Option<LoadedSession>, AppError> {
        let Some(rec) = self.store.session_by_token(&token.hash().0).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= rec.idle_expires_at || now >= rec.absolute_expires_at {
            self.store.delete_session(rec.id).await?;
            return Ok(None);
        }
        let ring = self.vault.ring_holding(rec.data.key_id().unwrap_or(0));
        let data = match ring.open(col::SESSION_DATA, rec.id, &rec.data) {
            Ok(plain) => serde_json::from_slice(&plain).unwrap_or_default(),
            Err(e) => {
                tracing::warn!(target: "kura::security", session = rec.id, error = %e, "session data failed to open; session dropped");
                self.store.delete_session(rec.id).await?;
                return Ok(None);
            }
        };
        Ok(Some(LoadedSession {
            id: rec.id,
            token: token.clone(),
            customer_id: rec.customer_id,
            data,
            created_at: rec.created_at,
            last_seen_at: rec.last_seen_at,
            absolute_expires_at: rec.absolute_expires_at,
        }))
    }

    /// Writes the session back when its data changed or its last-seen time is stale.
    pub async fn save(
        &self,
        session: &mut LoadedSession,
        data_changed: bool,
    ) -> Result<(), AppError> {
        let now = self.clock.now();
        if !data_changed && now - session.last_seen_at < self.policy.touch_seconds {
            return Ok(());
        }
        let sealed = self.seal_data(session.id, &session.data)?;
        let idle = (now + self.policy.idle_seconds).min(session.absolute_expires_at);
        self.store
            .update_session(session.id, session.customer_id, &sealed, now, idle)
            .await?;
        session.last_seen_at = now;
        Ok(())
    }

    /// Replaces the session's token and row (sign-in, sign-out, privilege change). The old
    /// token stops working at once; the data is carried over.
    pub async fn cycle(
        &self,
        old: &LoadedSession,
        customer_id: Option<i64>,
    ) -> Result<LoadedSession, AppError> {
        let fresh = self.create(customer_id, old.data.clone()).await?;
        self.store.delete_session(old.id).await?;
        Ok(fresh)
    }

    /// Signs a customer in: the session's token and row are replaced (see [`Sessions::cycle`];
    /// with no session yet, a fresh one is made), and a cart the visitor filled as a guest
    /// joins the account's cart (quantities summed, within the most a line may hold): the
    /// signed-in session keeps no guest cart of its own.
    pub async fn sign_in(
        &self,
        old: Option<&LoadedSession>,
        customer_id: i64,
        carts: &Carts,
    ) -> Result<LoadedSession, AppError> {
        let Some(old) = old else {
            return self.create(Some(customer_id), SessionData::default()).await;
        };
        let guest_cart = old.data.cart_id;
        let mut data = old.data.clone();
        data.cart_id = None;
        let fresh = self.create(Some(customer_id), data).await?;
        self.store.delete_session(old.id).await?;
        if let Some(cart) = guest_cart {
            carts.merge_into_customer(cart, customer_id).await?;
        }
        Ok(fresh)
    }

    pub async fn destroy(&self, id: i64) -> Result<(), AppError> {
        Ok(self.store.delete_session(id).await?)
    }

    pub async fn purge_expired(&self) -> Result<u64, AppError> {
        Ok(self.store.delete_expired_sessions(self.clock.now()).await?)
    }
}
