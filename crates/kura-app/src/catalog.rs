//! The catalog: categories, products, variants, search. Public data, not sealed.

use std::sync::Arc;

use crate::error::AppError;
use crate::ports::Store;
pub use crate::records::{CatalogItem, Category, Product, ProductPage, Variant};

pub const PAGE_SIZE: u32 = 12;
/// Longest search query accepted, in characters.
pub const MAX_QUERY: usize = 100;

/// How long a product page's data or the category list may be served from memory. Stock shown
/// can be this much behind; checkout always re-checks stock and price in the database.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
const CACHE_MAX: usize = 4096;

type Cached<T> = std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, T)>>;

pub struct Catalog {
    store: Arc<dyn Store>,
    products: Cached<Option<Product>>,
    categories: Cached<Vec<Category>>,
}

fn cached<T: Clone>(cache: &Cached<T>, key: &str) -> Option<T> {
    let map = cache.lock().ok()?;
    map.get(key)
        .filter(|(at, _)| at.elapsed() < CACHE_TTL)
        .map(|(_, v)| v.clone())
}

fn remember<T>(cache: &Cached<T>, key: &str, value: T) {
    if let Ok(mut map) = cache.lock() {
        if map.len() >= CACHE_MAX {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        if map.len() < CACHE_MAX {
            map.insert(key.to_string(), (std::time::Instant::now(), value));
        }
    }
}

impl Catalog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            products: Default::default(),
            categories: Default::default(),
        }
    }

    /// Drops everything remembered, so a change made in the back office shows at once on this
    /// node (other nodes catch up within the cache's two seconds).
    pub fn forget_all(&self) {
        if let Ok(mut m) = self.products.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.categories.lock() {
            m.clear();
        }
    }

    pub async fn categories(&self) -> Result<Vec<Category>, AppError> {
        if let Some(c) = cached(&self.categories, "") {
            return Ok(c);
        }
        let c = self.store.categories().await?;
        remember(&self.categories, "", c.clone());
        Ok(c)
    }

    pub async fn category(&self, slug: &str) -> Result<Option<Category>, AppError> {
        Ok(self
            .store
            .categories()
            .await?
            .into_iter()
            .find(|c| c.slug == slug))
    }

    /// Products of a category (or all), page numbers from 1.
    pub async fn products(
        &self,
        category: Option<i64>,
        page: u32,
        per_page: u32,
    ) -> Result<ProductPage, AppError> {
        let offset = page.saturating_sub(1).saturating_mul(per_page);
        Ok(self.store.products(category, offset, per_page).await?)
    }

    pub async fn product(&self, slug: &str) -> Result<Option<Product>, AppError> {
        if let Some(p) = cached(&self.products, slug) {
            return Ok(p);
        }
        let p = self.store.product_by_slug(slug).await?;
        remember(&self.products, slug, p.clone());
        Ok(p)
    }

    /// Full-text search over names and descriptions in both languages.
    pub async fn search(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<ProductPage, AppError> {
        let q: String = query
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY)
            .collect();
        let q = kura_domain::search_form(&q);
        if q.is_empty() {
            return Ok(ProductPage::default());
        }
        let offset = page.saturating_sub(1).saturating_mul(per_page);
        Ok(self.store.search_products(&q, offset, per_page).await?)
    }

    pub async fn items(&self, skus: &[String]) -> Result<Vec<CatalogItem>, AppError> {
        Ok(self.store.catalog_items(skus).await?)
    }
}

/// The text a product is found by: both languages' names and descriptions, variant labels and
/// SKUs, in [`kura_domain::search_form`].
pub fn search_text(p: &Product) -> String {
    let mut parts = vec![
        p.name_ja.as_str(),
        p.name_en.as_str(),
        p.description_ja.as_str(),
        p.description_en.as_str(),
    ];
    for v in &p.variants {
        parts.extend([v.label_ja.as_str(), v.label_en.as_str(), v.sku.as_str()]);
    }
    kura_domain::search_form(&parts.join(" "))
}
