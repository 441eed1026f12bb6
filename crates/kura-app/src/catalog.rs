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

pub struct Catalog {
    store: Arc<dyn Store>,
}

impl Catalog {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    pub async fn categories(&self) -> Result<Vec<Category>, AppError> {
        Ok(self.store.categories().await?)
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
        Ok(self.store.product_by_slug(slug).await?)
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
