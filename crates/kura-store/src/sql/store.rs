//! The store as a whole: migrations, readiness, the one-query cart read; written once,
//! compiled once per backend (see the crate documentation).

use async_trait::async_trait;
use kura_app::catalog::CatalogItem;
use kura_app::error::StoreError;
use kura_app::ports::Store;

use super::{This, dialect, migrate};
use crate::db_err;

#[async_trait]
impl Store for This {
    async fn cart_lines(
        &self,
        cart_id: i64,
    ) -> Result<(Vec<(String, u32)>, Vec<CatalogItem>), StoreError> {
        self.cart_lines_joined(cart_id).await
    }

    async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        self.run_migrations().await
    }

    async fn applied_migrations(&self) -> Result<Vec<(i64, String)>, StoreError> {
        migrate::applied(self.reads()).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(self.reads())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        dialect::NAME
    }
}
