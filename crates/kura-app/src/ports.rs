//! The ports the use cases need from a store. SQLite and PostgreSQL implement them the same
//! way, and one conformance suite checks both.

use async_trait::async_trait;
use kura_seal::{BlindIndex, PasswordHash, Sealed};

use crate::error::StoreError;
use crate::sealed::{
    CustomerCredentials, ResealedRow, SealedCustomer, SealedRow, SealedTable, SessionRecord,
};

#[async_trait]
pub trait CustomerRepo: Send + Sync {
    /// Inserts one customer; [`StoreError::Conflict`] when the email blind index exists.
    async fn insert_customer(&self, customer: &SealedCustomer) -> Result<(), StoreError>;
    /// Inserts many customers in one transaction (demo data, imports).
    async fn insert_customers(&self, customers: &[SealedCustomer]) -> Result<(), StoreError>;
    /// Finds credentials by any of the given email blind indexes (one per held key).
    async fn customer_credentials_by_email(
        &self,
        email_bidx: &[BlindIndex],
    ) -> Result<Option<CustomerCredentials>, StoreError>;
    async fn customer(&self, id: i64) -> Result<Option<SealedCustomer>, StoreError>;
    async fn set_password_hash(&self, id: i64, hash: &PasswordHash) -> Result<(), StoreError>;
    async fn count_customers(&self) -> Result<u64, StoreError>;
    /// Customers in id order after `after_id`, for listings and exports.
    async fn customers_after(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedCustomer>, StoreError>;
}

#[async_trait]
pub trait SessionRepo: Send + Sync {
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    async fn session_by_token(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Updates data, owner and expiry of a session.
    async fn update_session(
        &self,
        id: i64,
        customer_id: Option<i64>,
        data: &Sealed,
        last_seen_at: i64,
        idle_expires_at: i64,
    ) -> Result<(), StoreError>;
    async fn delete_session(&self, id: i64) -> Result<(), StoreError>;
    async fn delete_sessions_of_customer(&self, customer_id: i64) -> Result<u64, StoreError>;
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError>;
}

/// Generic access to sealed columns for key rotation and key status.
#[async_trait]
pub trait SealedRowRepo: Send + Sync {
    async fn sealed_rows(
        &self,
        table: &SealedTable,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<SealedRow>, StoreError>;
    /// Writes re-sealed rows in one transaction, each only if it still holds its old values
    /// (a row changed meanwhile is left for the next pass). Returns how many were written.
    async fn reseal_rows(
        &self,
        table: &SealedTable,
        rows: &[ResealedRow],
    ) -> Result<u64, StoreError>;
    async fn count_rows(&self, table: &SealedTable) -> Result<u64, StoreError>;
}

/// Everything a shop needs from its database.
#[async_trait]
pub trait Store: CustomerRepo + SessionRepo + SealedRowRepo + Send + Sync + 'static {
    /// Applies pending migrations; returns the names of those applied.
    async fn migrate(&self) -> Result<Vec<String>, StoreError>;
    /// Applied migrations as (number, name).
    async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
    /// "sqlite" or "postgres".
    fn backend(&self) -> &'static str;
}
