//! `GET /api/v1/products` and `GET /api/v1/products/{slug}`: the public catalog, names in
//! `?lang=ja|en` (Japanese by default). Stock is told as `in_stock`, never as a count.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use kura_app::catalog::{Category, Product};
use serde::Serialize;

use super::Query;
use super::error::ApiError;
use crate::AppState;
use crate::i18n::Lang;

/// Largest `per_page`.
pub const MAX_PER_PAGE: u32 = 100;
/// `per_page` when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 20;

#[derive(Debug, Serialize)]
pub struct VariantJson {
    pub sku: String,
    pub name: String,
    pub price_yen: i64,
    pub tax_rate_percent: i64,
    pub in_stock: bool,
}

#[derive(Debug, Serialize)]
pub struct ProductJson {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub category: Option<String>,
    pub tax_rate_percent: i64,
    pub variants: Vec<VariantJson>,
}

#[derive(Debug, Serialize)]
pub struct ProductPageJson {
    pub products: Vec<ProductJson>,
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
}

fn product_json(p: &Product, categories: &[Category], lang: Lang) -> ProductJson {
    let en = lang == Lang::En;
    ProductJson {
        slug: p.slug.clone(),
        name: if en { &p.name_en } else { &p.name_ja }.clone(),
        description: if en {
            &p.description_en
        } else {
            &p.description_ja
        }
        .clone(),
        category: categories
            .iter()
            .find(|c| c.id == p.category_id)
            .map(|c| c.slug.clone()),
        tax_rate_percent: p.tax.percent(),
        variants: p
            .variants
            .iter()
            .map(|v| VariantJson {
                sku: v.sku.clone(),
                name: if en { &v.label_en } else { &v.label_ja }.clone(),
                price_yen: v.price.0,
                tax_rate_percent: p.tax.percent(),
                in_stock: v.stock > 0,
            })
            .collect(),
    }
}

pub async fn products_get(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let q = Query::parse(uri.query(), &["page", "per_page", "lang"])?;
    let lang = q.lang()?;
    let page = q.number("page", 1, 100_000)?;
    let per_page = q.number("per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)?;
    let found = state.catalog.products(None, page, per_page).await?;
    let categories = state.catalog.categories().await?;
    Ok(Json(ProductPageJson {
        products: found
            .products
            .iter()
            .map(|p| product_json(p, &categories, lang))
            .collect(),
        page,
        per_page,
        total: found.total,
    })
    .into_response())
}

pub async fn product_get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = Query::parse(uri.query(), &["lang"])?;
    let lang = q.lang()?;
    if slug.len() > 100 {
        return Err(ApiError::not_found());
    }
    let Some(product) = state.catalog.product(&slug).await? else {
        return Err(ApiError::not_found());
    };
    let categories = state.catalog.categories().await?;
    Ok(Json(product_json(&product, &categories, lang)).into_response())
}
