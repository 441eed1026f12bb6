//! The back office's catalog pages: the list of products and categories, a product's page with
//! its details, variants and images, and the image upload.
//!
//! Each handler runs behind [`super::guard`] with [`Permission::Catalog`]. Every form that is
//! refused comes back with everything typed and each problem named in the staff member's
//! language (from the stable codes of `kura_app::catalog_admin` and `kura_app::images`). Staff
//! text is shown through askama's escaping; descriptions are sanitised when saved.
//!
//! [`Permission::Catalog`]: kura_app::staff::Permission::Catalog

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kura_app::catalog::{Product, ProductDetails, Spec};
use kura_app::catalog_admin::{
    CatalogRefusal, CategoryInput, MAX_IMAGES, MAX_SPECS, Problem, ProductInput, VariantInput,
};
use kura_domain::{Allergen, AllergenStatement, TaxRate};
use serde::Deserialize;

use super::pages::typed_number;
use super::{AdminContext, Staff, status_page};
use crate::AppState;
use crate::error::{ErrorKind, WebError};
use crate::form::FormFields;
use crate::i18n::Tr;
use crate::pages::storefront::ILLUSTRATIONS;
use crate::security::client_ip::ClientIp;

/// The largest body the image upload takes: the largest image kept
/// (`ImageLimits::default().max_bytes`, 10 MiB) and room for the form around it, so a file a
/// little too large still reaches the handler and is refused with its reason.
pub const UPLOAD_BODY_LIMIT: usize = 10 * 1024 * 1024 + 256 * 1024;
/// The longest text field of the upload form that is read.
const UPLOAD_TEXT_MAX: usize = 4 * 1024;
/// Blank specification rows offered below the filled ones.
const BLANK_SPECS: usize = 3;

fn pick<'a>(tr: Tr, ja: &'a str, en: &'a str) -> &'a str {
    if tr.lang() == "en" && !en.is_empty() {
        en
    } else {
        ja
    }
}

/// A refused field's message: `admin.product.error.{code}.{field}` when there is one, else
/// `admin.product.error.{code}` naming the field by its label.
fn problem_message(tr: Tr, p: &Problem) -> (String, String) {
    let specific = format!("admin.product.error.{}.{}", p.code, p.field);
    let text = tr.t(&specific);
    if text != specific {
        return (p.field.clone(), text.to_string());
    }
    let generic = format!("admin.product.error.{}", p.code);
    (
        p.field.clone(),
        tr.t(&generic)
            .replace("{field}", &field_label(tr, &p.field)),
    )
}

/// How a form field is called on the page (a specification cell by its row and column).
fn field_label(tr: Tr, field: &str) -> String {
    if let Some(rest) = field.strip_prefix("spec_")
        && let Some((row, column)) = rest.split_once('_')
        && let Ok(row) = row.parse::<usize>()
    {
        return tr
            .t("admin.product.field.spec_cell")
            .replace("{row}", &(row + 1).to_string())
            .replace(
                "{column}",
                tr.t(&format!("admin.product.field.spec_{column}")),
            );
    }
    let key = format!("admin.product.field.{field}");
    tr.t(&key).to_string()
}

// ---- The list ----------------------------------------------------------------------------

struct VariantRow {
    sku: String,
    label: String,
    price: i64,
    stock: i64,
}

struct ProductRow {
    id: i64,
    name: String,
    slug: String,
    category: String,
    active: bool,
    model_number: String,
    photo: Option<String>,
    variants: Vec<VariantRow>,
}

struct CategoryRow {
    slug: String,
    name_ja: String,
    name_en: String,
    products: usize,
}

#[derive(Deserialize, Default, Clone)]
pub struct CategoryForm {
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name_ja: String,
    #[serde(default)]
    name_en: String,
}

#[derive(Template)]
#[template(path = "admin/catalog.html")]
struct CatalogView {
    ctx: AdminContext,
    products: Vec<ProductRow>,
    categories: Vec<CategoryRow>,
    category: CategoryForm,
    problems: Vec<(String, String)>,
    message: Option<String>,
    /// The synonym table as saved, or as typed when it was refused.
    synonyms: String,
    synonym_problems: Vec<String>,
}

impl CatalogView {
    fn error(&self, field: &str) -> Option<&str> {
        self.problems
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

async fn catalog_view(
    state: &AppState,
    ctx: AdminContext,
    status: StatusCode,
    message: Option<String>,
    category: CategoryForm,
    problems: Vec<(String, String)>,
) -> Result<Response, WebError> {
    let synonyms = state.catalog_admin.synonyms_text().await?;
    catalog_view_with(
        state,
        ctx,
        status,
        message,
        category,
        problems,
        (synonyms, Vec::new()),
    )
    .await
}

async fn catalog_view_with(
    state: &AppState,
    ctx: AdminContext,
    status: StatusCode,
    message: Option<String>,
    category: CategoryForm,
    problems: Vec<(String, String)>,
    (synonyms, synonym_problems): (String, Vec<String>),
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let categories = state.catalog_admin.categories().await?;
    let products = state.catalog_admin.products().await?;
    let rows = products
        .iter()
        .map(|p| ProductRow {
            id: p.id,
            name: pick(tr, &p.name_ja, &p.name_en).to_string(),
            slug: p.slug.clone(),
            category: categories
                .iter()
                .find(|c| c.id == p.category_id)
                .map(|c| pick(tr, &c.name_ja, &c.name_en).to_string())
                .unwrap_or_default(),
            active: p.active,
            model_number: p.details.model_number.clone(),
            photo: p.photo.clone(),
            variants: p
                .variants
                .iter()
                .map(|v| VariantRow {
                    sku: v.sku.clone(),
                    label: pick(tr, &v.label_ja, &v.label_en).to_string(),
                    price: v.price.0,
                    stock: v.stock,
                })
                .collect(),
        })
        .collect();
    let categories = categories
        .iter()
        .map(|c| CategoryRow {
            slug: c.slug.clone(),
            name_ja: c.name_ja.clone(),
            name_en: c.name_en.clone(),
            products: products.iter().filter(|p| p.category_id == c.id).count(),
        })
        .collect();
    let html = CatalogView {
        ctx,
        products: rows,
        categories,
        category,
        problems,
        message,
        synonyms,
        synonym_problems,
    }
    .render()?;
    Ok(status_page(status, html))
}

/// The list page with a message (the quick price and stock change in `pages` answers with it).
pub(super) async fn list_page(
    state: &AppState,
    ctx: AdminContext,
    status: StatusCode,
    message: Option<String>,
) -> Result<Response, WebError> {
    catalog_view(
        state,
        ctx,
        status,
        message,
        CategoryForm::default(),
        Vec::new(),
    )
    .await
}

pub async fn catalog_get(
    State(state): State<AppState>,
    ctx: AdminContext,
) -> Result<Response, WebError> {
    list_page(&state, ctx, StatusCode::OK, None).await
}

#[derive(Deserialize, Default)]
pub struct SynonymsForm {
    #[serde(default)]
    synonyms: String,
}

/// Saves the search synonym table; a table with unreadable lines comes back as typed, each
/// line's problem named.
pub async fn synonyms_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Form(form): Form<SynonymsForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    match state
        .catalog_admin
        .set_synonyms(&session, ctx.ip, &form.synonyms)
        .await?
    {
        Ok(n) => {
            state.catalog.forget_all();
            let m = tr.t("admin.synonyms.saved").replace("{n}", &n.to_string());
            list_page(&state, ctx, StatusCode::OK, Some(m)).await
        }
        Err(lines) => {
            let problems = lines
                .iter()
                .map(|e| {
                    let key = format!("admin.synonyms.error.{}", e.code);
                    let what = tr.t(&key);
                    if e.line == 0 {
                        what.to_string()
                    } else {
                        tr.t("admin.synonyms.error.line")
                            .replace("{line}", &e.line.to_string())
                            .replace("{what}", what)
                    }
                })
                .collect();
            catalog_view_with(
                &state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                CategoryForm::default(),
                Vec::new(),
                (form.synonyms, problems),
            )
            .await
        }
    }
}

pub async fn categories_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Form(form): Form<CategoryForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let input = CategoryInput {
        slug: form.slug.clone(),
        name_ja: form.name_ja.clone(),
        name_en: form.name_en.clone(),
    };
    match state
        .catalog_admin
        .create_category(&session, ctx.ip, &input)
        .await?
    {
        Ok(c) => {
            state.catalog.forget_all();
            let m = tr
                .t("admin.category.created")
                .replace("{name}", pick(tr, &c.name_ja, &c.name_en));
            list_page(&state, ctx, StatusCode::OK, Some(m)).await
        }
        Err(CatalogRefusal::Invalid(problems)) => {
            let problems = problems
                .iter()
                .map(|p| {
                    let (field, message) = problem_message(tr, p);
                    let message = message.replace(
                        &field_label(tr, &field),
                        tr.t(&format!("admin.category.field.{field}")),
                    );
                    (field, message)
                })
                .collect();
            catalog_view(
                &state,
                ctx,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form,
                problems,
            )
            .await
        }
        Err(other) => Err(unexpected(other)),
    }
}

fn unexpected(refusal: CatalogRefusal) -> WebError {
    match refusal {
        CatalogRefusal::UnknownProduct
        | CatalogRefusal::UnknownVariant
        | CatalogRefusal::UnknownImage => WebError::new(ErrorKind::NotFound),
        other => WebError::internal(format!("unexpected catalog refusal {other:?}")),
    }
}

// ---- A product's page --------------------------------------------------------------------

/// A product form as typed: every value text, so a refused form comes back as it was.
#[derive(Debug, Clone, Default)]
pub struct ProductForm {
    category: String,
    slug: String,
    name_ja: String,
    name_en: String,
    description_ja: String,
    description_en: String,
    tax: String,
    image: String,
    active: bool,
    model_number: String,
    /// label ja, label en, value ja, value en
    specs: Vec<[String; 4]>,
    ingredients_ja: String,
    ingredients_en: String,
    allergens: Vec<Allergen>,
    allergens_none: bool,
    allergens_other_ja: String,
    allergens_other_en: String,
    net_contents_ja: String,
    net_contents_en: String,
    best_before_ja: String,
    best_before_en: String,
    storage_ja: String,
    storage_en: String,
}

const SPEC_COLUMNS: [&str; 4] = ["label_ja", "label_en", "value_ja", "value_en"];

impl ProductForm {
    fn from_fields(f: &FormFields) -> Self {
        let mut specs = Vec::new();
        for i in 0..MAX_SPECS + BLANK_SPECS {
            let row = SPEC_COLUMNS.map(|c| f.get(&format!("spec_{i}_{c}")).to_string());
            specs.push(row);
        }
        while specs
            .last()
            .is_some_and(|r| r.iter().all(|c| c.trim().is_empty()))
        {
            specs.pop();
        }
        let text = |name: &str| f.get(name).to_string();
        Self {
            category: text("category"),
            slug: text("slug"),
            name_ja: text("name_ja"),
            name_en: text("name_en"),
            description_ja: text("description_ja"),
            description_en: text("description_en"),
            tax: text("tax"),
            image: text("image"),
            active: !f.get("active").is_empty(),
            model_number: text("model_number"),
            specs,
            ingredients_ja: text("ingredients_ja"),
            ingredients_en: text("ingredients_en"),
            allergens: Allergen::ALL
                .into_iter()
                .filter(|a| !f.get(&format!("allergen_{}", a.code())).is_empty())
                .collect(),
            allergens_none: !f.get("allergens_none").is_empty(),
            allergens_other_ja: text("allergens_other_ja"),
            allergens_other_en: text("allergens_other_en"),
            net_contents_ja: text("net_contents_ja"),
            net_contents_en: text("net_contents_en"),
            best_before_ja: text("best_before_ja"),
            best_before_en: text("best_before_en"),
            storage_ja: text("storage_ja"),
            storage_en: text("storage_en"),
        }
    }

    fn from_product(p: &Product) -> Self {
        let d = &p.details;
        let f = &d.food;
        let (allergens, allergens_none) = match &f.allergens {
            AllergenStatement::NotStated => (Vec::new(), false),
            AllergenStatement::NoneOfTheEight => (Vec::new(), true),
            AllergenStatement::Contains(list) => (list.clone(), false),
        };
        Self {
            category: p.category_id.to_string(),
            slug: p.slug.clone(),
            name_ja: p.name_ja.clone(),
            name_en: p.name_en.clone(),
            description_ja: p.description_ja.clone(),
            description_en: p.description_en.clone(),
            tax: p.tax.code().to_string(),
            image: p.image.clone(),
            active: p.active,
            model_number: d.model_number.clone(),
            specs: d
                .specs
                .iter()
                .map(|s| {
                    [
                        s.label_ja.clone(),
                        s.label_en.clone(),
                        s.value_ja.clone(),
                        s.value_en.clone(),
                    ]
                })
                .collect(),
            ingredients_ja: f.ingredients_ja.clone(),
            ingredients_en: f.ingredients_en.clone(),
            allergens,
            allergens_none,
            allergens_other_ja: f.allergens_other_ja.clone(),
            allergens_other_en: f.allergens_other_en.clone(),
            net_contents_ja: f.net_contents_ja.clone(),
            net_contents_en: f.net_contents_en.clone(),
            best_before_ja: f.best_before_ja.clone(),
            best_before_en: f.best_before_en.clone(),
            storage_ja: f.storage_ja.clone(),
            storage_en: f.storage_en.clone(),
        }
    }

    /// What the use case checks, and the problems only the form can see.
    fn input(&self) -> (ProductInput, Vec<Problem>) {
        let mut problems = Vec::new();
        let allergens = if self.allergens_none {
            if !self.allergens.is_empty() {
                problems.push(Problem {
                    field: "allergens".into(),
                    code: "allergens_conflict",
                });
            }
            AllergenStatement::NoneOfTheEight
        } else {
            AllergenStatement::contains(self.allergens.clone())
        };
        let input = ProductInput {
            category_id: self.category.trim().parse().ok(),
            slug: self.slug.clone(),
            name_ja: self.name_ja.clone(),
            name_en: self.name_en.clone(),
            description_ja: self.description_ja.clone(),
            description_en: self.description_en.clone(),
            tax: TaxRate::parse(self.tax.trim()),
            image: self.image.clone(),
            active: self.active,
            details: ProductDetails {
                model_number: self.model_number.clone(),
                specs: self
                    .specs
                    .iter()
                    .map(|[label_ja, label_en, value_ja, value_en]| Spec {
                        label_ja: label_ja.clone(),
                        label_en: label_en.clone(),
                        value_ja: value_ja.clone(),
                        value_en: value_en.clone(),
                    })
                    .collect(),
                food: kura_app::catalog::FoodDetails {
                    ingredients_ja: self.ingredients_ja.clone(),
                    ingredients_en: self.ingredients_en.clone(),
                    allergens,
                    allergens_other_ja: self.allergens_other_ja.clone(),
                    allergens_other_en: self.allergens_other_en.clone(),
                    net_contents_ja: self.net_contents_ja.clone(),
                    net_contents_en: self.net_contents_en.clone(),
                    best_before_ja: self.best_before_ja.clone(),
                    best_before_en: self.best_before_en.clone(),
                    storage_ja: self.storage_ja.clone(),
                    storage_en: self.storage_en.clone(),
                },
            },
        };
        if !ILLUSTRATIONS.contains(&self.image.trim()) {
            problems.push(Problem {
                field: "image".into(),
                code: "invalid",
            });
        }
        (input, problems)
    }
}

/// A variant form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VariantForm {
    #[serde(default)]
    sku: String,
    #[serde(default)]
    label_ja: String,
    #[serde(default)]
    label_en: String,
    #[serde(default)]
    price: String,
    #[serde(default)]
    stock: String,
}

impl VariantForm {
    fn from_fields(f: &FormFields) -> Self {
        Self {
            sku: f.get("sku").to_string(),
            label_ja: f.get("label_ja").to_string(),
            label_en: f.get("label_en").to_string(),
            price: f.get("price").to_string(),
            stock: f.get("stock").to_string(),
        }
    }

    fn input(&self) -> VariantInput {
        VariantInput {
            sku: self.sku.clone(),
            label_ja: self.label_ja.clone(),
            label_en: self.label_en.clone(),
            price: typed_number(&self.price),
            stock: typed_number(&self.stock),
        }
    }
}

/// One input of the specification table.
struct SpecCell {
    name: String,
    label: String,
    max: usize,
    value: String,
}

/// The specification table's inputs: the typed rows and a few blank ones, at most
/// [`MAX_SPECS`] rows (more when more were typed, so nothing typed is lost).
fn spec_cells(tr: Tr, specs: &[[String; 4]]) -> Vec<Vec<SpecCell>> {
    let rows = (specs.len() + BLANK_SPECS).min(MAX_SPECS).max(specs.len());
    (0..rows)
        .map(|row| {
            SPEC_COLUMNS
                .iter()
                .enumerate()
                .map(|(col, column)| {
                    let name = format!("spec_{row}_{column}");
                    SpecCell {
                        label: field_label(tr, &name),
                        max: if col < 2 { 40 } else { 200 },
                        value: specs
                            .get(row)
                            .and_then(|r| r.get(col))
                            .cloned()
                            .unwrap_or_default(),
                        name,
                    }
                })
                .collect()
        })
        .collect()
}

/// One input of a variant's row.
struct VariantCell {
    name: &'static str,
    label: String,
    size: usize,
    value: String,
    invalid: bool,
}

struct VariantEdit {
    sku: String,
    cells: Vec<VariantCell>,
}

struct ImageRow {
    id: i64,
    file: String,
    size: String,
    alt: String,
}

/// Which form on the page was sent and refused: its fields are marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sent {
    Nothing,
    Product,
    AddVariant,
    Variant,
    Upload,
}

#[derive(Template)]
#[template(path = "admin/product.html")]
struct ProductPageView {
    ctx: AdminContext,
    /// `None`: a new product.
    id: Option<i64>,
    /// The storefront's page, when the product is shown there.
    live: Option<String>,
    title: String,
    form: ProductForm,
    categories: Vec<(String, String)>,
    illustrations: &'static [&'static str],
    allergens: Vec<(&'static str, bool)>,
    spec_cells: Vec<Vec<SpecCell>>,
    variants: Vec<VariantEdit>,
    /// The SKU whose row holds what was typed into it.
    variant_sent: Option<String>,
    new_variant: VariantForm,
    images: Vec<ImageRow>,
    max_images: usize,
    alt_ja: String,
    alt_en: String,
    problems: Vec<(String, String)>,
    sent: Sent,
    message: Option<String>,
    alert: Option<String>,
    upload_limit: String,
}

impl ProductPageView {
    /// The message of a refused field of `form` ("product", "variant", "upload") if that is the
    /// form that was sent. On a new product's page, its first variant is part of "product".
    fn err(&self, form: &str, field: &str) -> Option<&str> {
        let sent = match form {
            "product" => Sent::Product,
            "variant" if self.variant_sent.is_some() => Sent::Variant,
            "variant" => Sent::AddVariant,
            "upload" => Sent::Upload,
            _ => return None,
        };
        if self.sent != sent {
            return None;
        }
        self.problems
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
    }
}

/// What a product page shows besides the product form.
struct PageState {
    status: StatusCode,
    sent: Sent,
    problems: Vec<(String, String)>,
    message: Option<String>,
    alert: Option<String>,
    new_variant: VariantForm,
    variant_sent: Option<(String, VariantForm)>,
    alt: (String, String),
}

impl PageState {
    fn ok(message: Option<String>) -> Self {
        Self {
            status: StatusCode::OK,
            sent: Sent::Nothing,
            problems: Vec::new(),
            message,
            alert: None,
            new_variant: VariantForm::default(),
            variant_sent: None,
            alt: (String::new(), String::new()),
        }
    }

    /// A refused form: one message per field (the first found), in the order found.
    fn refused(sent: Sent, tr: Tr, problems: &[Problem]) -> Self {
        let mut named: Vec<(String, String)> = Vec::new();
        for p in problems {
            if !named.iter().any(|(f, _)| *f == p.field) {
                named.push(problem_message(tr, p));
            }
        }
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            sent,
            problems: named,
            alert: Some(tr.t("admin.product.refused").to_string()),
            ..Self::ok(None)
        }
    }
}

async fn product_page(
    state: &AppState,
    ctx: AdminContext,
    product: Option<&Product>,
    form: ProductForm,
    page: PageState,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let categories = state
        .catalog_admin
        .categories()
        .await?
        .iter()
        .map(|c| {
            (
                c.id.to_string(),
                pick(tr, &c.name_ja, &c.name_en).to_string(),
            )
        })
        .collect();
    let images = match product {
        Some(p) => state
            .catalog_admin
            .images(p.id)
            .await?
            .into_iter()
            .map(|i| ImageRow {
                id: i.id,
                size: format!("{} × {}", i.width, i.height),
                alt: pick(tr, &i.alt_ja, &i.alt_en).to_string(),
                file: i.file,
            })
            .collect(),
        None => Vec::new(),
    };
    let invalid = |sku: &str, field: &str| {
        page.sent == Sent::Variant
            && page.variant_sent.as_ref().is_some_and(|(s, _)| s == sku)
            && page.problems.iter().any(|(f, _)| f == field)
    };
    let variants = product
        .map(|p| {
            p.variants
                .iter()
                .map(|v| {
                    let typed = match &page.variant_sent {
                        Some((sku, typed)) if *sku == v.sku => typed.clone(),
                        _ => VariantForm {
                            sku: v.sku.clone(),
                            label_ja: v.label_ja.clone(),
                            label_en: v.label_en.clone(),
                            price: v.price.0.to_string(),
                            stock: v.stock.to_string(),
                        },
                    };
                    let cell = |name: &'static str, size: usize, value: &str| VariantCell {
                        name,
                        label: field_label(tr, name),
                        size,
                        value: value.to_string(),
                        invalid: invalid(&v.sku, name),
                    };
                    VariantEdit {
                        sku: v.sku.clone(),
                        cells: vec![
                            cell("label_ja", 14, &typed.label_ja),
                            cell("label_en", 14, &typed.label_en),
                            cell("price", 8, &typed.price),
                            cell("stock", 6, &typed.stock),
                        ],
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let title = match product {
        Some(p) => pick(tr, &p.name_ja, &p.name_en).to_string(),
        None => tr.t("admin.product.new").to_string(),
    };
    let limits = state.catalog_admin.image_limits();
    let html = ProductPageView {
        id: product.map(|p| p.id),
        live: product
            .filter(|p| p.active)
            .map(|p| format!("/products/{}", p.slug)),
        title,
        allergens: Allergen::ALL
            .into_iter()
            .map(|a| (a.code(), form.allergens.contains(&a)))
            .collect(),
        spec_cells: spec_cells(tr, &form.specs),
        form,
        categories,
        illustrations: ILLUSTRATIONS,
        variants,
        variant_sent: page.variant_sent.map(|(sku, _)| sku),
        new_variant: page.new_variant,
        images,
        max_images: MAX_IMAGES,
        alt_ja: page.alt.0,
        alt_en: page.alt.1,
        problems: page.problems,
        sent: page.sent,
        message: page.message,
        alert: page.alert,
        upload_limit: (limits.max_bytes / (1024 * 1024)).to_string(),
        ctx,
    }
    .render()?;
    Ok(status_page(page.status, html))
}

/// A product's page as stored, with `page` around it.
async fn stored_product_page(
    state: &AppState,
    ctx: AdminContext,
    id: i64,
    page: PageState,
) -> Result<Response, WebError> {
    let Some(product) = state.catalog_admin.product(id).await? else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let form = ProductForm::from_product(&product);
    product_page(state, ctx, Some(&product), form, page).await
}

/// A form body; one that cannot be read is refused as a bad request.
fn fields(body: &Bytes) -> Result<FormFields, WebError> {
    let f = FormFields::parse(body);
    if f.malformed {
        return Err(WebError::new(ErrorKind::BadRequest));
    }
    Ok(f)
}

pub async fn product_new_get(
    State(state): State<AppState>,
    ctx: AdminContext,
) -> Result<Response, WebError> {
    let form = ProductForm {
        tax: TaxRate::Standard.code().to_string(),
        image: ILLUSTRATIONS
            .first()
            .copied()
            .unwrap_or_default()
            .to_string(),
        active: true,
        ..ProductForm::default()
    };
    product_page(&state, ctx, None, form, PageState::ok(None)).await
}

pub async fn products_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    body: Bytes,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let f = fields(&body)?;
    let form = ProductForm::from_fields(&f);
    let variant = VariantForm::from_fields(&f);
    let (input, mut problems) = form.input();
    if problems.is_empty() {
        match state
            .catalog_admin
            .create_product(&session, ctx.ip, &input, &variant.input())
            .await?
        {
            Ok(p) => {
                state.catalog.forget_all();
                let m = tr
                    .t("admin.product.created")
                    .replace("{name}", pick(tr, &p.name_ja, &p.name_en));
                return stored_product_page(&state, ctx, p.id, PageState::ok(Some(m))).await;
            }
            Err(CatalogRefusal::Invalid(more)) => problems = more,
            Err(other) => return Err(unexpected(other)),
        }
    } else {
        // The form alone refused something: the rest is checked too, so every problem shows.
        let more = state
            .catalog_admin
            .check_product(&input, Some(&variant.input()))
            .await?;
        problems.extend(more);
    }
    let page = PageState {
        new_variant: variant,
        ..PageState::refused(Sent::Product, tr, &problems)
    };
    product_page(&state, ctx, None, form, page).await
}

pub async fn product_get(
    State(state): State<AppState>,
    ctx: AdminContext,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    stored_product_page(&state, ctx, id, PageState::ok(None)).await
}

pub async fn product_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    body: Bytes,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let f = fields(&body)?;
    let form = ProductForm::from_fields(&f);
    let (input, form_problems) = form.input();
    let Some(product) = state.catalog_admin.product(id).await? else {
        return Err(WebError::new(ErrorKind::NotFound));
    };
    let outcome = if form_problems.is_empty() {
        state
            .catalog_admin
            .update_product(&session, ctx.ip, id, &input)
            .await?
    } else {
        // The form alone refused something: the rest is checked too, so every problem shows.
        let mut problems = form_problems;
        problems.extend(state.catalog_admin.check_product(&input, None).await?);
        Err(CatalogRefusal::Invalid(problems))
    };
    match outcome {
        Ok(p) => {
            state.catalog.forget_all();
            let m = tr
                .t("admin.product.saved")
                .replace("{name}", pick(tr, &p.name_ja, &p.name_en));
            stored_product_page(&state, ctx, id, PageState::ok(Some(m))).await
        }
        Err(CatalogRefusal::Invalid(problems)) => {
            let page = PageState::refused(Sent::Product, tr, &problems);
            product_page(&state, ctx, Some(&product), form, page).await
        }
        Err(other) => Err(unexpected(other)),
    }
}

pub async fn product_variants_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    Form(form): Form<VariantForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    match state
        .catalog_admin
        .add_variant(&session, ctx.ip, id, &form.input())
        .await?
    {
        Ok(v) => {
            state.catalog.forget_all();
            let m = tr.t("admin.variant.added").replace("{sku}", &v.sku);
            stored_product_page(&state, ctx, id, PageState::ok(Some(m))).await
        }
        Err(CatalogRefusal::Invalid(problems)) => {
            let page = PageState {
                new_variant: form,
                ..PageState::refused(Sent::AddVariant, tr, &problems)
            };
            stored_product_page(&state, ctx, id, page).await
        }
        Err(other) => Err(unexpected(other)),
    }
}

pub async fn product_variant_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path((id, sku)): Path<(i64, String)>,
    Form(form): Form<VariantForm>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    match state
        .catalog_admin
        .update_variant(&session, ctx.ip, id, &sku, &form.input())
        .await?
    {
        Ok(_) => {
            state.catalog.forget_all();
            let m = tr.t("admin.catalog.saved").replace("{sku}", &sku);
            stored_product_page(&state, ctx, id, PageState::ok(Some(m))).await
        }
        Err(CatalogRefusal::Invalid(problems)) => {
            let page = PageState {
                variant_sent: Some((sku, form)),
                ..PageState::refused(Sent::Variant, tr, &problems)
            };
            stored_product_page(&state, ctx, id, page).await
        }
        Err(other) => Err(unexpected(other)),
    }
}

/// The upload form as sent: the file (at most one byte over the limit is read) and the
/// alternative texts, or why it could not be read.
struct Upload {
    file: Option<Vec<u8>>,
    too_large: bool,
    alt_ja: String,
    alt_en: String,
    unreadable: bool,
}

/// Reads a field's bytes up to `max` (and one more, to tell that it was longer).
async fn read_capped(
    field: &mut axum::extract::multipart::Field<'_>,
    max: usize,
) -> Result<(Vec<u8>, bool), axum::extract::multipart::MultipartError> {
    let mut out = Vec::new();
    while let Some(chunk) = field.chunk().await? {
        let room = max.saturating_add(1).saturating_sub(out.len());
        out.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        if out.len() > max {
            return Ok((out, true));
        }
    }
    Ok((out, false))
}

async fn read_upload(multipart: &mut Multipart, max_bytes: usize) -> Upload {
    let mut upload = Upload {
        file: None,
        too_large: false,
        alt_ja: String::new(),
        alt_en: String::new(),
        unreadable: false,
    };
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    upload.too_large = true;
                } else {
                    upload.unreadable = true;
                }
                break;
            }
        };
        let name = field.name().unwrap_or_default().to_string();
        let max = if name == "image" {
            max_bytes
        } else {
            UPLOAD_TEXT_MAX
        };
        let (bytes, over) = match read_capped(&mut field, max).await {
            Ok(v) => v,
            Err(e) => {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    upload.too_large = name == "image";
                    upload.unreadable = name != "image";
                } else {
                    upload.unreadable = true;
                }
                break;
            }
        };
        match name.as_str() {
            // Checked by the guard before anything else was read.
            "csrf_token" => {}
            "image" if over => {
                upload.too_large = true;
                break;
            }
            "image" => upload.file = (!bytes.is_empty()).then_some(bytes),
            "alt_ja" | "alt_en" if !over => {
                let Ok(text) = String::from_utf8(bytes) else {
                    upload.unreadable = true;
                    break;
                };
                if name == "alt_ja" {
                    upload.alt_ja = text;
                } else {
                    upload.alt_en = text;
                }
            }
            _ => {
                upload.unreadable = true;
                break;
            }
        }
    }
    upload
}

/// The message of a refused upload, from the refusal's stable code.
fn image_message(tr: Tr, code: &str, limits: &kura_app::images::ImageLimits) -> String {
    tr.t(&format!("admin.image.error.{code}"))
        .replace("{max_mb}", &(limits.max_bytes / (1024 * 1024)).to_string())
        .replace(
            "{max_megapixels}",
            &(limits.max_pixels / 1_000_000).to_string(),
        )
        .replace("{max_width}", &limits.max_width.to_string())
        .replace("{max_height}", &limits.max_height.to_string())
        .replace("{max_images}", &MAX_IMAGES.to_string())
}

pub async fn product_images_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    let limits = state.catalog_admin.image_limits().clone();
    let upload = read_upload(&mut multipart, limits.max_bytes).await;
    // The card guard leaves uploads to their handler: the typed fields are checked here.
    if [&upload.alt_ja, &upload.alt_en]
        .iter()
        .any(|t| crate::security::card_guard::value_has_card(t))
    {
        return Ok(crate::security::card_guard::refuse(
            &state,
            ctx.ip.map(ClientIp),
            None,
        ));
    }
    let alt = (upload.alt_ja.clone(), upload.alt_en.clone());
    let refused = |code: &str| PageState {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        sent: Sent::Upload,
        alert: Some(image_message(tr, code, &limits)),
        alt: alt.clone(),
        ..PageState::ok(None)
    };
    let code = if upload.too_large {
        Some("image_too_large")
    } else if upload.unreadable {
        Some("upload_unreadable")
    } else if upload.file.is_none() {
        Some("image_missing")
    } else {
        None
    };
    let (Some(file), None) = (upload.file, code) else {
        let page = refused(code.unwrap_or("image_missing"));
        return stored_product_page(&state, ctx, id, page).await;
    };
    let page = match state
        .catalog_admin
        .add_image(&session, ctx.ip, id, file, &alt.0, &alt.1)
        .await?
    {
        Ok(_) => {
            state.catalog.forget_all();
            PageState::ok(Some(tr.t("admin.image.added").to_string()))
        }
        Err(CatalogRefusal::Image(e)) => refused(e.code()),
        Err(CatalogRefusal::TooManyImages) => refused("image_too_many"),
        Err(CatalogRefusal::DuplicateImage) => refused("image_duplicate"),
        Err(CatalogRefusal::Invalid(problems)) => PageState {
            alt: alt.clone(),
            ..PageState::refused(Sent::Upload, tr, &problems)
        },
        Err(other) => return Err(unexpected(other)),
    };
    stored_product_page(&state, ctx, id, page).await
}

pub async fn product_image_remove_post(
    State(state): State<AppState>,
    ctx: AdminContext,
    Staff(session): Staff,
    Path((id, image)): Path<(i64, i64)>,
) -> Result<Response, WebError> {
    let tr = ctx.tr;
    match state
        .catalog_admin
        .remove_image(&session, ctx.ip, id, image)
        .await?
    {
        Ok(()) => {
            state.catalog.forget_all();
            let m = Some(tr.t("admin.image.removed").to_string());
            stored_product_page(&state, ctx, id, PageState::ok(m)).await
        }
        Err(other) => Err(unexpected(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upload_route_takes_the_largest_image_and_its_form() {
        let max = kura_app::images::ImageLimits::default().max_bytes;
        assert!(UPLOAD_BODY_LIMIT > max);
        assert!(
            UPLOAD_BODY_LIMIT <= max + 1024 * 1024,
            "about 10 MiB, no more"
        );
    }

    #[test]
    fn every_field_and_refusal_has_words_in_both_languages() {
        let fields = [
            "category",
            "slug",
            "name_ja",
            "name_en",
            "model_number",
            "tax",
            "image",
            "active",
            "description_ja",
            "description_en",
            "specs",
            "ingredients_ja",
            "ingredients_en",
            "allergens",
            "allergens_none",
            "allergens_other_ja",
            "allergens_other_en",
            "net_contents_ja",
            "net_contents_en",
            "best_before_ja",
            "best_before_en",
            "storage_ja",
            "storage_en",
            "sku",
            "label_ja",
            "label_en",
            "price",
            "stock",
            "alt_ja",
            "alt_en",
        ];
        let problems = [
            "required",
            "too_long",
            "invalid",
            "taken",
            "unknown_category",
            "price_range",
            "stock_range",
            "not_a_number",
            "allergens_conflict",
            "too_many",
        ];
        let images = [
            "image_too_large",
            "not_an_image",
            "image_too_many_pixels",
            "image_dimensions_too_large",
            "image_too_much_memory",
            "image_undecodable",
            "image_unsupported_variant",
            "image_encode_failed",
            "image_missing",
            "upload_unreadable",
            "image_too_many",
            "image_duplicate",
        ];
        for lang in [crate::i18n::Lang::Ja, crate::i18n::Lang::En] {
            let tr = Tr(lang);
            let mut keys: Vec<String> = fields
                .iter()
                .map(|f| format!("admin.product.field.{f}"))
                .chain(problems.iter().map(|p| format!("admin.product.error.{p}")))
                .chain(images.iter().map(|c| format!("admin.image.error.{c}")))
                .chain(
                    Allergen::ALL
                        .iter()
                        .map(|a| format!("allergen.{}", a.code())),
                )
                .collect();
            keys.extend(
                ["slug", "name_ja", "name_en"].map(|f| format!("admin.category.field.{f}")),
            );
            for key in keys {
                assert_ne!(tr.t(&key), key, "{key} in {}", tr.lang());
            }
        }
        // The codes of kura_app::images are the ones above.
        let e = kura_app::images::ImageError::NotAnImage;
        assert!(images.contains(&e.code()));
    }

    #[test]
    fn only_the_upload_route_takes_a_large_body() {
        use crate::admin::{path_matches, routes};
        let pattern = "/catalog/products/{id}/images";
        assert!(path_matches(pattern, "/catalog/products/12/images"));
        assert!(!path_matches(pattern, "/catalog/products//images"));
        assert!(!path_matches(
            pattern,
            "/catalog/products/12/images/3/remove"
        ));
        assert!(!path_matches(pattern, "/catalog/products/12"));
        let large: Vec<_> = routes()
            .into_iter()
            .filter(|r| r.body_limit.is_some())
            .map(|r| (r.method, r.path))
            .collect();
        assert_eq!(large, vec![(axum::http::Method::POST, pattern)]);
    }

    #[test]
    fn a_spec_cell_is_named_by_row_and_column() {
        let tr = Tr(crate::i18n::Lang::Ja);
        let label = field_label(tr, "spec_2_value_ja");
        assert!(label.contains('3'), "{label}");
        let (_, m) = problem_message(
            tr,
            &Problem {
                field: "name_ja".into(),
                code: "required",
            },
        );
        assert!(!m.contains("admin.product"), "{m}");
    }
}
