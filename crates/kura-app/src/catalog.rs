//! The catalog: categories, products, variants, search. Public data, not sealed.

use std::sync::Arc;

use kura_domain::{TaxRate, Yen};
use serde::Serialize;

use crate::error::AppError;
use crate::ports::Store;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Category {
    pub id: i64,
    pub slug: String,
    pub name_ja: String,
    pub name_en: String,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub id: i64,
    pub product_id: i64,
    pub sku: String,
    pub label_ja: String,
    pub label_en: String,
    pub price: Yen,
    pub stock: i64,
    pub position: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Product {
    pub id: i64,
    pub slug: String,
    pub category_id: i64,
    pub name_ja: String,
    pub name_en: String,
    pub description_ja: String,
    pub description_en: String,
    pub tax: TaxRate,
    /// The embedded illustration's name (`/images/{image}.svg`).
    pub image: String,
    pub position: i64,
    pub variants: Vec<Variant>,
}

impl Product {
    pub fn lowest_price(&self) -> Yen {
        self.variants
            .iter()
            .map(|v| v.price)
            .min()
            .unwrap_or_default()
    }

    pub fn in_stock(&self) -> bool {
        self.variants.iter().any(|v| v.stock > 0)
    }
}

/// A variant with what a cart line needs of its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub sku: String,
    pub product_slug: String,
    pub product_name_ja: String,
    pub product_name_en: String,
    pub label_ja: String,
    pub label_en: String,
    pub price: Yen,
    pub tax: TaxRate,
    pub stock: i64,
    pub image: String,
}

/// One page of products and how many there are in all.
#[derive(Debug, Clone, Default)]
pub struct ProductPage {
    pub products: Vec<Product>,
    pub total: u64,
}

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
