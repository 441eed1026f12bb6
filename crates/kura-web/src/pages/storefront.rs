//! The catalog pages: home, categories, product pages, search, the legal notice, images.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use kura_app::catalog::{Category, PAGE_SIZE, Product, ProductPage};
use kura_domain::TaxRate;
use serde::Deserialize;

use crate::AppState;
use crate::config::LegalNotice;
use crate::error::{ErrorKind, WebError};
use crate::i18n::{Lang, Tr};
use crate::pages::{PageContext, encode_component};
use crate::security::session::Session;

/// A product as a grid card shows it, in the visitor's language.
pub struct ProductCard {
    pub slug: String,
    pub name: String,
    pub price: String,
    pub image: String,
    /// An uploaded photo (`/images/p/{photo}`), shown instead of the illustration.
    pub photo: Option<String>,
    pub in_stock: bool,
    pub reduced: bool,
    /// Variants differ in price: the price is a "from" price (〜).
    pub price_varies: bool,
}

/// Whether a product's variants have more than one price.
fn price_varies(p: &Product) -> bool {
    p.variants
        .first()
        .is_some_and(|first| p.variants.iter().any(|v| v.price != first.price))
}

pub fn card(p: &Product, lang: Lang) -> ProductCard {
    ProductCard {
        slug: p.slug.clone(),
        name: if lang == Lang::En {
            p.name_en.clone()
        } else {
            p.name_ja.clone()
        },
        price: p.lowest_price().grouped(),
        image: p.image.clone(),
        photo: p.photo.clone(),
        in_stock: p.in_stock(),
        reduced: p.tax == TaxRate::Reduced,
        price_varies: price_varies(p),
    }
}

pub struct CategoryLink {
    pub slug: String,
    pub name: String,
}

fn links(categories: &[Category], lang: Lang) -> Vec<CategoryLink> {
    categories
        .iter()
        .map(|c| CategoryLink {
            slug: c.slug.clone(),
            name: if lang == Lang::En {
                c.name_en.clone()
            } else {
                c.name_ja.clone()
            },
        })
        .collect()
}

/// Page links for a listing.
pub struct Paging {
    pub page: u32,
    pub pages: u32,
    pub prev: Option<String>,
    pub next: Option<String>,
}

fn paging(base: &str, page: u32, total: u64) -> Paging {
    let pages = u32::try_from(total.div_ceil(u64::from(PAGE_SIZE)))
        .unwrap_or(u32::MAX)
        .max(1);
    let join = if base.contains('?') { '&' } else { '?' };
    Paging {
        page,
        pages,
        prev: (page > 1).then(|| format!("{base}{join}page={}", page - 1)),
        next: (page < pages).then(|| format!("{base}{join}page={}", page + 1)),
    }
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<String>,
}

/// Page numbers from the query: anything odd is page 1; beyond the last page is empty.
fn page_number(q: &PageQuery) -> u32 {
    q.page
        .as_deref()
        .and_then(|p| p.parse::<u32>().ok())
        .filter(|p| *p >= 1 && *p <= 10_000)
        .unwrap_or(1)
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomeView {
    ctx: PageContext,
    categories: Vec<CategoryLink>,
    products: Vec<ProductCard>,
    shipping: crate::pages::info::ShippingToday,
}

pub async fn home_get(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, WebError> {
    let lang = ctx.tr.0;
    let categories = links(&state.catalog.categories().await?, lang);
    let page = state.catalog.products(None, 1, PAGE_SIZE).await?;
    let products = page.products.iter().map(|p| card(p, lang)).collect();
    Ok(Html(
        HomeView {
            shipping: crate::pages::info::shipping_today(&state, ctx.tr),
            ctx,
            categories,
            products,
        }
        .render()?,
    ))
}

#[derive(Template)]
#[template(path = "listing.html")]
struct ListingView {
    ctx: PageContext,
    title: String,
    query: String,
    categories: Vec<CategoryLink>,
    products: Vec<ProductCard>,
    total: u64,
    paging: Paging,
    is_search: bool,
}

fn listing(
    ctx: PageContext,
    title: String,
    query: String,
    categories: Vec<CategoryLink>,
    page: &ProductPage,
    paging: Paging,
    is_search: bool,
) -> Result<Html<String>, WebError> {
    let lang = ctx.tr.0;
    let products = page.products.iter().map(|p| card(p, lang)).collect();
    Ok(Html(
        ListingView {
            ctx,
            title,
            query,
            categories,
            products,
            total: page.total,
            paging,
            is_search,
        }
        .render()?,
    ))
}

pub async fn category_get(
    State(state): State<AppState>,
    ctx: PageContext,
    Path(slug): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Html<String>, WebError> {
    let Some(category) = state.catalog.category(&slug).await? else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let n = page_number(&q);
    let page = state
        .catalog
        .products(Some(category.id), n, PAGE_SIZE)
        .await?;
    let lang = ctx.tr.0;
    let title = if lang == Lang::En {
        category.name_en.clone()
    } else {
        category.name_ja.clone()
    };
    let paging = paging(
        &format!("/category/{}", encode_component(&slug)),
        n,
        page.total,
    );
    let categories = links(&state.catalog.categories().await?, lang);
    listing(ctx, title, String::new(), categories, &page, paging, false)
}

#[derive(Deserialize)]
pub struct SearchQuery {
    q: Option<String>,
    page: Option<String>,
}

pub async fn search_get(
    State(state): State<AppState>,
    ctx: PageContext,
    Query(q): Query<SearchQuery>,
) -> Result<Html<String>, WebError> {
    let query: String =
        q.q.unwrap_or_default()
            .chars()
            .take(kura_app::catalog::MAX_QUERY)
            .collect();
    let n = page_number(&PageQuery { page: q.page });
    let page = state.catalog.search(&query, n, PAGE_SIZE).await?;
    let lang = ctx.tr.0;
    let title = ctx.tr.t("search.title").to_string();
    let paging = paging(
        &format!("/search?q={}", encode_component(&query)),
        n,
        page.total,
    );
    let categories = links(&state.catalog.categories().await?, lang);
    listing(ctx, title, query, categories, &page, paging, true)
}

pub struct VariantOption {
    pub sku: String,
    pub label: String,
    pub price: String,
    pub in_stock: bool,
    pub few_left: bool,
}

/// The food label's facts in the visitor's language; `None` fields are not stated.
pub struct FoodView {
    pub ingredients: Option<String>,
    /// The mandatory allergens (特定原材料), named, or that none of them is used.
    pub allergens: Option<String>,
    pub allergens_other: Option<String>,
    pub net_contents: Option<String>,
    pub best_before: Option<String>,
    pub storage: Option<String>,
}

/// `ja`, or `en` for an English page when it is filled in; `None` when both are empty.
fn in_lang(lang: Lang, ja: &str, en: &str) -> Option<String> {
    let text = if lang == Lang::En && !en.is_empty() {
        en
    } else {
        ja
    };
    (!text.is_empty()).then(|| text.to_string())
}

fn food_view(tr: Tr, food: &kura_app::catalog::FoodDetails) -> Option<FoodView> {
    use kura_domain::AllergenStatement;
    if food.is_empty() {
        return None;
    }
    let lang = tr.0;
    let allergens = match &food.allergens {
        AllergenStatement::NotStated => None,
        AllergenStatement::NoneOfTheEight => Some(tr.t("product.allergens_none").to_string()),
        AllergenStatement::Contains(list) => Some(
            list.iter()
                .map(|a| tr.t(&format!("allergen.{}", a.code())).to_string())
                .collect::<Vec<_>>()
                .join(if lang == Lang::En { ", " } else { "・" }),
        ),
    };
    Some(FoodView {
        ingredients: in_lang(lang, &food.ingredients_ja, &food.ingredients_en),
        allergens,
        allergens_other: in_lang(lang, &food.allergens_other_ja, &food.allergens_other_en),
        net_contents: in_lang(lang, &food.net_contents_ja, &food.net_contents_en),
        best_before: in_lang(lang, &food.best_before_ja, &food.best_before_en),
        storage: in_lang(lang, &food.storage_ja, &food.storage_en),
    })
}

#[derive(Template)]
#[template(path = "product.html")]
struct ProductView {
    ctx: PageContext,
    slug: String,
    name: String,
    /// Sanitised HTML: cleaned when staff saved it and again here (see
    /// `kura_app::catalog::clean_description`), so only a few formatting tags can be in it.
    description: String,
    image: String,
    /// Uploaded photos (file under `/images/p/`, alternative text), the product's photo first.
    photos: Vec<(String, String)>,
    model_number: String,
    /// 商品仕様 rows (label, value).
    specs: Vec<(String, String)>,
    food: Option<FoodView>,
    reduced: bool,
    variants: Vec<VariantOption>,
    any_in_stock: bool,
    price_from: String,
    price_varies: bool,
    notice: Option<String>,
    /// Sold-out variants a restock notice can be asked for: (SKU, label, asked already).
    restock: Vec<(String, String, bool)>,
    signed_in: bool,
}

#[derive(Deserialize)]
pub struct ProductQuery {
    added: Option<String>,
    problem: Option<String>,
    restock: Option<String>,
}

pub async fn product_get(
    State(state): State<AppState>,
    mut ctx: PageContext,
    session: Session,
    Path(slug): Path<String>,
    Query(q): Query<ProductQuery>,
) -> Result<Html<String>, WebError> {
    let Some(p) = state.catalog.product(&slug).await? else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let lang = ctx.tr.0;
    ctx.csrf = session.csrf_token().await?;
    let variants: Vec<VariantOption> = p
        .variants
        .iter()
        .map(|v| VariantOption {
            sku: v.sku.clone(),
            label: if lang == Lang::En {
                v.label_en.clone()
            } else {
                v.label_ja.clone()
            },
            price: v.price.grouped(),
            in_stock: v.stock > 0,
            few_left: v.stock > 0 && v.stock <= 3,
        })
        .collect();
    let notice = match (
        q.added.as_deref(),
        q.problem.as_deref(),
        q.restock.as_deref(),
    ) {
        (Some(_), _, _) => Some(ctx.tr.t("cart.added").to_string()),
        (_, Some(code), _) => Some(cart_problem(ctx.tr, code).to_string()),
        (_, _, Some(code)) => Some(restock_message(ctx.tr, code).to_string()),
        _ => None,
    };
    let customer = session.customer_id().await;
    let asked = match customer {
        Some(id) => state.restock.requests_of(id).await?,
        None => Vec::new(),
    };
    let restock = p
        .variants
        .iter()
        .filter(|v| v.stock <= 0)
        .map(|v| {
            let label = if lang == Lang::En {
                v.label_en.clone()
            } else {
                v.label_ja.clone()
            };
            (v.sku.clone(), label, asked.contains(&v.sku))
        })
        .collect();
    let name = if lang == Lang::En {
        p.name_en.clone()
    } else {
        p.name_ja.clone()
    };
    let photos = if p.photo.is_some() {
        state
            .catalog
            .images(p.id)
            .await?
            .into_iter()
            .map(|i| {
                let alt = in_lang(lang, &i.alt_ja, &i.alt_en).unwrap_or_else(|| name.clone());
                (i.file, alt)
            })
            .collect()
    } else {
        Vec::new()
    };
    let view = ProductView {
        slug: p.slug.clone(),
        description: kura_app::catalog::clean_description(if lang == Lang::En {
            &p.description_en
        } else {
            &p.description_ja
        }),
        name,
        image: p.image.clone(),
        photos,
        model_number: p.details.model_number.clone(),
        specs: p
            .details
            .specs
            .iter()
            .map(|s| {
                (
                    in_lang(lang, &s.label_ja, &s.label_en).unwrap_or_default(),
                    in_lang(lang, &s.value_ja, &s.value_en).unwrap_or_default(),
                )
            })
            .collect(),
        food: food_view(ctx.tr, &p.details.food),
        reduced: p.tax == TaxRate::Reduced,
        any_in_stock: p.in_stock(),
        price_from: p.lowest_price().grouped(),
        price_varies: price_varies(&p),
        variants,
        notice,
        restock,
        signed_in: customer.is_some(),
        ctx,
    };
    Ok(Html(view.render()?))
}

/// The visitor-facing text of a restock answer code.
fn restock_message(tr: Tr, code: &str) -> &'static str {
    match code {
        "asked" => tr.t("restock.asked"),
        "withdrawn" => tr.t("restock.withdrawn"),
        "in_stock" => tr.t("restock.in_stock"),
        "too_many" => tr.t("restock.too_many"),
        _ => tr.t("restock.unknown"),
    }
}

/// `POST /restock`: a signed-in customer asks for (or withdraws) a mail when a sold-out
/// variant is back. A visitor who is not signed in is sent to sign in first.
pub async fn restock_post(
    State(state): State<AppState>,
    ctx: PageContext,
    session: Session,
    body: axum::body::Bytes,
) -> Result<Response, WebError> {
    let form = crate::form::FormFields::parse(&body);
    let slug = form.get("slug");
    let back = if slug.is_empty() || slug.len() > 100 {
        "/".to_string()
    } else {
        format!("/products/{}", encode_component(slug))
    };
    let Some(customer) = session.customer_id().await else {
        return Ok(axum::response::Redirect::to("/login").into_response());
    };
    let code = if form.malformed || !form.unknown(&["sku", "slug", "action"]).is_empty() {
        "unknown"
    } else if form.get("action") == "withdraw" {
        state.restock.withdraw(customer, form.get("sku")).await?;
        "withdrawn"
    } else {
        match state
            .restock
            .ask(customer, form.get("sku"), ctx.tr.0.code())
            .await?
        {
            kura_app::restock::Asked::Recorded => "asked",
            kura_app::restock::Asked::InStock => "in_stock",
            kura_app::restock::Asked::TooMany => "too_many",
            kura_app::restock::Asked::UnknownSku => "unknown",
        }
    };
    Ok(axum::response::Redirect::to(&format!("{back}?restock={code}#restock")).into_response())
}

/// The visitor-facing text of a cart error code.
pub fn cart_problem(tr: Tr, code: &str) -> &'static str {
    match code {
        "sold_out" => tr.t("cart.problem.sold_out"),
        "insufficient_stock" => tr.t("cart.problem.not_enough"),
        "cart_full" => tr.t("cart.problem.cart_full"),
        "quantity_too_large" => tr.t("cart.problem.quantity_too_large"),
        "quantity_too_small" => tr.t("cart.problem.quantity_too_small"),
        "invalid_quantity" => tr.t("cart.problem.invalid_quantity"),
        _ => tr.t("cart.problem.unknown_sku"),
    }
}

/// `GET /postal/{code}`: the prefecture (JIS number and names), city and town of a postal code,
/// from Japan Post's data compiled into the binary, for the checkout's address script. Public
/// data: nothing about the visitor is read or kept.
pub async fn postal_get(Path(code): Path<String>) -> Response {
    let area = kura_domain::PostalCode::parse(&code)
        .ok()
        .and_then(|c| kura_domain::postal_lookup(&c).map(|a| (c, a)));
    match area {
        Some((code, a)) => (
            [(header::CACHE_CONTROL, "public, max-age=86400")],
            axum::Json(serde_json::json!({
                "postal_code": code.display(),
                "prefecture": a.prefecture.code().to_string(),
                "prefecture_ja": a.prefecture.name_ja(),
                "prefecture_en": a.prefecture.name_en(),
                "city": a.city,
                "town": a.town,
            })),
        )
            .into_response(),
        None => (
            axum::http::StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({ "error": "unknown_postal_code" })),
        )
            .into_response(),
    }
}

#[derive(Template)]
#[template(path = "legal.html")]
struct LegalView<'a> {
    ctx: PageContext,
    legal: &'a LegalNotice,
}

pub async fn legal_get(
    State(state): State<AppState>,
    ctx: PageContext,
) -> Result<Html<String>, WebError> {
    let legal = if ctx.tr.0 == Lang::En {
        &state.config.legal_en
    } else {
        &state.config.legal
    };
    Ok(Html(LegalView { ctx, legal }.render()?))
}

macro_rules! images {
    ($($name:literal),*) => {
        /// The bundled illustrations a product may show until a photo is uploaded.
        pub const ILLUSTRATIONS: &[&str] = &[$($name),*];

        fn image(name: &str) -> Option<&'static str> {
            match name {
                $($name => Some(include_str!(concat!("../../assets/images/", $name, ".svg"))),)*
                _ => None,
            }
        }
    };
}

images!(
    "rice-cooker",
    "vacuum-bottle",
    "kettle",
    "food-jar",
    "inner-pot",
    "gasket",
    "tumbler",
    "lunch-box",
    "rice-bag",
    "tea",
    "soup",
    "rice-paddle",
    "measuring-cup",
    "bottle-pouch",
    "hot-water-pot",
    "lunch-jar",
    "bottle-stopper",
    "kettle-filter",
    "steam-cap"
);

/// An uploaded product image, as the shop re-encoded it: content-addressed (the name is the
/// SHA-256 of the bytes), so it is cached for a year; served with its own type, `nosniff` and
/// a policy under which nothing in it could run even if opened on its own.
pub async fn product_image_get(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, WebError> {
    let image = state
        .catalog
        .image(&file)
        .await?
        .ok_or(WebError::new(ErrorKind::NotFound))?;
    // Only the two types the shop encodes, and only under the extension that names it.
    let content_type = match (image.content_type.as_str(), file.rsplit('.').next()) {
        ("image/jpeg", Some("jpg")) => "image/jpeg",
        ("image/png", Some("png")) => "image/png",
        _ => return Err(WebError::new(ErrorKind::NotFound)),
    };
    let mut res = image.bytes.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(res)
}

/// Product illustrations, compiled into the binary.
pub async fn image_get(Path(file): Path<String>) -> Result<Response, WebError> {
    let svg = file
        .strip_suffix(".svg")
        .and_then(image)
        .ok_or(WebError::new(ErrorKind::NotFound))?;
    let mut res = svg.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    // An SVG opened directly must not run anything.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    Ok(res)
}
