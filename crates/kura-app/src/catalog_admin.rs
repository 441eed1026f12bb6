//! The catalog as staff run it: categories, products with their details (品番, specifications,
//! food labelling), variants and images.
//!
//! Guarantees:
//! - Only a staff session holding [`Permission::Catalog`] changes anything here.
//! - Every change is checked whole first; a refusal names each field by its form name with a
//!   stable code, so a form comes back with everything typed and every problem shown at once.
//! - Every change is written to the audit log with what it was before and after (catalog data
//!   is public; nothing personal is involved).
//! - Descriptions are sanitised at save time ([`crate::catalog::clean_description`]): staff
//!   cannot put script, links or styles on the storefront.
//! - An image is stored only as [`crate::images::reencode`] made it, in a blocking task, one at
//!   a time per node; the upload itself is never kept.

use std::net::IpAddr;
use std::sync::Arc;

use kura_domain::{TaxRate, Yen};

use crate::audit::{Audit, AuditDetail};
use crate::catalog::{
    Category, Product, ProductDetails, ProductImage, ProductImageInfo, Spec, Variant,
    clean_description, search_text,
};
use crate::clock::Clock;
use crate::error::{AppError, StoreError};
use crate::images::{ImageError, ImageLimits, reencode};
use crate::ports::Store;
use crate::staff::{Permission, StaffSession};

/// Most images one product may have.
pub const MAX_IMAGES: usize = 8;
/// Most specification rows one product may have.
pub const MAX_SPECS: usize = 20;
/// The price range a variant may have, in yen.
pub const PRICE_RANGE: std::ops::RangeInclusive<i64> = 1..=10_000_000;
/// Longest synonym table, in characters.
pub const MAX_SYNONYMS_TEXT: usize = 20_000;
/// The stock a variant may have.
pub const STOCK_RANGE: std::ops::RangeInclusive<i64> = 0..=1_000_000;

/// A product as the form gives it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct ProductInput {
    /// `None`: none chosen, or not a category id.
    pub category_id: Option<i64>,
    pub slug: String,
    pub name_ja: String,
    pub name_en: String,
    pub description_ja: String,
    pub description_en: String,
    /// `None`: none chosen.
    pub tax: Option<TaxRate>,
    /// The illustration shown until a photo is uploaded.
    pub image: String,
    pub active: bool,
    /// As typed: blank specification rows are allowed (and dropped), so each row keeps the
    /// index the form gave it.
    pub details: ProductDetails,
}

/// A variant as the form gives it, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct VariantInput {
    pub sku: String,
    pub label_ja: String,
    pub label_en: String,
    /// `None`: not a whole number.
    pub price: Option<i64>,
    /// `None`: not a whole number.
    pub stock: Option<i64>,
}

/// A category as the form gives it.
#[derive(Debug, Clone, Default)]
pub struct CategoryInput {
    pub slug: String,
    pub name_ja: String,
    pub name_en: String,
}

/// A refused field: the name the form gives it and a stable code the web layer translates
/// (`required`, `too_long`, `invalid`, `taken`, `unknown_category`, `price_range`,
/// `stock_range`, `not_a_number`, `allergens_conflict`, `too_many`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub code: &'static str,
}

impl Problem {
    fn new(field: impl Into<String>, code: &'static str) -> Self {
        Self {
            field: field.into(),
            code,
        }
    }
}

/// Why a catalog change was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogRefusal {
    /// Fields were refused; nothing was written.
    Invalid(Vec<Problem>),
    UnknownProduct,
    UnknownVariant,
    UnknownImage,
    /// The upload is not an image this shop keeps ([`ImageError::code`] names why).
    Image(ImageError),
    /// The product has [`MAX_IMAGES`] images already.
    TooManyImages,
    /// The product has this very image already.
    DuplicateImage,
}

pub struct CatalogAdmin {
    store: Arc<dyn Store>,
    audit: Arc<Audit>,
    clock: Arc<dyn Clock>,
    limits: ImageLimits,
    /// Re-encoding takes up to a second and a few hundred MB: one at a time per node.
    encoding: tokio::sync::Semaphore,
}

type Outcome<T> = Result<Result<T, CatalogRefusal>, AppError>;

impl CatalogAdmin {
    pub fn new(store: Arc<dyn Store>, audit: Arc<Audit>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            audit,
            clock,
            limits: ImageLimits::default(),
            encoding: tokio::sync::Semaphore::new(1),
        }
    }

    /// What an upload may be.
    pub fn image_limits(&self) -> &ImageLimits {
        &self.limits
    }

    fn allowed(session: &StaffSession) -> Result<(), AppError> {
        if session.can(Permission::Catalog) {
            Ok(())
        } else {
            Err(AppError::Task("catalog change without permission".into()))
        }
    }

    /// Every product, shown on the storefront or not.
    pub async fn products(&self) -> Result<Vec<Product>, AppError> {
        Ok(self.store.all_products().await?)
    }

    pub async fn product(&self, id: i64) -> Result<Option<Product>, AppError> {
        Ok(self.store.product_by_id(id).await?)
    }

    pub async fn categories(&self) -> Result<Vec<Category>, AppError> {
        Ok(self.store.categories().await?)
    }

    pub async fn images(&self, product_id: i64) -> Result<Vec<ProductImageInfo>, AppError> {
        Ok(self.store.product_images(product_id).await?)
    }

    pub async fn create_category(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        input: &CategoryInput,
    ) -> Outcome<Category> {
        Self::allowed(session)?;
        let mut problems = Vec::new();
        let slug = slug(&input.slug, "slug", &mut problems);
        let name_ja = text(&input.name_ja, "name_ja", 60, true, &mut problems);
        let name_en = text(&input.name_en, "name_en", 60, true, &mut problems);
        if !problems.is_empty() {
            return Ok(Err(CatalogRefusal::Invalid(problems)));
        }
        let existing = self.store.categories().await?;
        let category = Category {
            id: crate::ids::new_id(),
            slug,
            name_ja,
            name_en,
            position: existing.iter().map(|c| c.position + 1).max().unwrap_or(0),
        };
        match self.store.insert_category(&category).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Ok(Err(CatalogRefusal::Invalid(vec![Problem::new(
                    "slug", "taken",
                )])));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(
            session,
            ip,
            "catalog.category_create",
            &format!("category:{}", category.slug),
            "slug,name_ja,name_en",
            format!(
                "slug={}, name_ja={}, name_en={}",
                category.slug,
                clip(&category.name_ja),
                clip(&category.name_en)
            ),
        )
        .await?;
        Ok(Ok(category))
    }

    /// The synonym table as the owner last saved it (empty when none was).
    pub async fn synonyms_text(&self) -> Result<String, AppError> {
        Ok(self
            .store
            .setting(crate::catalog::SYNONYMS_SETTING)
            .await?
            .unwrap_or_default())
    }

    /// Saves the synonym table if every line reads (else names each line that does not, and
    /// nothing is saved); returns how many words it widens. Audited with the count (the table
    /// is public data).
    pub async fn set_synonyms(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        text: &str,
    ) -> Result<Result<usize, Vec<kura_domain::SynonymLineError>>, AppError> {
        Self::allowed(session)?;
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let text = text.trim_end();
        if text.chars().count() > MAX_SYNONYMS_TEXT {
            return Ok(Err(vec![kura_domain::SynonymLineError {
                line: 0,
                code: "too_long",
            }]));
        }
        let table = match kura_domain::Synonyms::parse(text) {
            Ok(t) => t,
            Err(lines) => return Ok(Err(lines)),
        };
        let before = self.synonyms_text().await?;
        if before == text {
            return Ok(Ok(table.len()));
        }
        self.store
            .set_setting(crate::catalog::SYNONYMS_SETTING, text, self.clock.now())
            .await?;
        self.record(
            session,
            ip,
            "catalog.synonyms",
            "search:synonyms",
            "synonyms",
            format!(
                "entries={}, lines before={}, after={}",
                table.len(),
                before.lines().count(),
                text.lines().count()
            ),
        )
        .await?;
        Ok(Ok(table.len()))
    }

    /// The problems a product form (and the first variant of a new one) has, without saving
    /// anything; empty when it would be accepted as far as its fields go.
    pub async fn check_product(
        &self,
        input: &ProductInput,
        first: Option<&VariantInput>,
    ) -> Result<Vec<Problem>, AppError> {
        let categories = self.store.categories().await?;
        let mut problems = Vec::new();
        let _ = product_fields(input, &categories, &mut problems);
        if let Some(v) = first {
            let _ = variant_fields(v, 0, true, &mut problems);
        }
        Ok(problems)
    }

    /// Creates a product with its first variant.
    pub async fn create_product(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        input: &ProductInput,
        first: &VariantInput,
    ) -> Outcome<Product> {
        Self::allowed(session)?;
        let categories = self.store.categories().await?;
        let mut problems = Vec::new();
        let id = crate::ids::new_id();
        let fields = product_fields(input, &categories, &mut problems);
        let variant = variant_fields(first, id, true, &mut problems);
        let (Some(mut product), Some(variant), true) = (fields, variant, problems.is_empty())
        else {
            return Ok(Err(CatalogRefusal::Invalid(problems)));
        };
        product.id = id;
        product.variants = vec![variant];
        match self
            .store
            .create_product(&product, &search_text(&product))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Ok(Err(CatalogRefusal::Invalid(
                    self.which_is_taken(&product.slug, product.variants.first())
                        .await?,
                )));
            }
            Err(e) => return Err(e.into()),
        }
        let sku = product
            .variants
            .first()
            .map(|v| v.sku.clone())
            .unwrap_or_default();
        self.record(
            session,
            ip,
            "catalog.product_create",
            &format!("product:{}", product.id),
            "slug,category,name_ja,name_en,description_ja,description_en,tax,image,active,details,variant",
            format!(
                "slug={}, category={}, tax={}, active={}, sku={sku}",
                product.slug,
                product.category_id,
                product.tax.code(),
                product.active
            ),
        )
        .await?;
        Ok(Ok(product))
    }

    /// Replaces a product's fields and details (its variants and images stay).
    pub async fn update_product(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        id: i64,
        input: &ProductInput,
    ) -> Outcome<Product> {
        Self::allowed(session)?;
        let Some(before) = self.store.product_by_id(id).await? else {
            return Ok(Err(CatalogRefusal::UnknownProduct));
        };
        let categories = self.store.categories().await?;
        let mut problems = Vec::new();
        let fields = product_fields(input, &categories, &mut problems);
        let (Some(fields), true) = (fields, problems.is_empty()) else {
            return Ok(Err(CatalogRefusal::Invalid(problems)));
        };
        let after = Product {
            id,
            position: before.position,
            variants: before.variants.clone(),
            photo: before.photo.clone(),
            ..fields
        };
        let changes = product_changes(&before, &after);
        if changes.is_empty() {
            return Ok(Ok(after));
        }
        match self
            .store
            .update_product(&after, &search_text(&after))
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ok(Err(CatalogRefusal::UnknownProduct)),
            Err(StoreError::Conflict) => {
                return Ok(Err(CatalogRefusal::Invalid(vec![Problem::new(
                    "slug", "taken",
                )])));
            }
            Err(e) => return Err(e.into()),
        }
        let names: Vec<&str> = changes.iter().map(|(f, _)| *f).collect();
        let note: Vec<String> = changes.into_iter().map(|(_, n)| n).collect();
        self.record(
            session,
            ip,
            "catalog.product_change",
            &format!("product:{id}"),
            &names.join(","),
            note.join("; "),
        )
        .await?;
        Ok(Ok(after))
    }

    pub async fn add_variant(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        product_id: i64,
        input: &VariantInput,
    ) -> Outcome<Variant> {
        Self::allowed(session)?;
        let Some(mut product) = self.store.product_by_id(product_id).await? else {
            return Ok(Err(CatalogRefusal::UnknownProduct));
        };
        let mut problems = Vec::new();
        let (Some(mut variant), true) = (
            variant_fields(input, product_id, true, &mut problems),
            problems.is_empty(),
        ) else {
            return Ok(Err(CatalogRefusal::Invalid(problems)));
        };
        variant.position = product
            .variants
            .iter()
            .map(|v| v.position + 1)
            .max()
            .unwrap_or(0);
        product.variants.push(variant.clone());
        match self
            .store
            .add_variant(&variant, &search_text(&product))
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                return Ok(Err(CatalogRefusal::Invalid(vec![Problem::new(
                    "sku", "taken",
                )])));
            }
            Err(e) => return Err(e.into()),
        }
        self.record(
            session,
            ip,
            "catalog.variant_add",
            &format!("sku:{}", variant.sku),
            "sku,label_ja,label_en,price,stock",
            format!(
                "product={product_id}, label_ja={}, label_en={}, price={}, stock={}",
                clip(&variant.label_ja),
                clip(&variant.label_en),
                variant.price.0,
                variant.stock
            ),
        )
        .await?;
        Ok(Ok(variant))
    }

    /// Sets a variant's labels, price and stock; its SKU stays (carts and orders name it).
    pub async fn update_variant(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        product_id: i64,
        sku: &str,
        input: &VariantInput,
    ) -> Outcome<Variant> {
        Self::allowed(session)?;
        let Some(mut product) = self.store.product_by_id(product_id).await? else {
            return Ok(Err(CatalogRefusal::UnknownProduct));
        };
        let Some(before) = product.variants.iter().find(|v| v.sku == sku).cloned() else {
            return Ok(Err(CatalogRefusal::UnknownVariant));
        };
        let mut problems = Vec::new();
        let typed = VariantInput {
            sku: before.sku.clone(),
            ..input.clone()
        };
        let (Some(checked), true) = (
            variant_fields(&typed, product_id, false, &mut problems),
            problems.is_empty(),
        ) else {
            return Ok(Err(CatalogRefusal::Invalid(problems)));
        };
        let after = Variant {
            id: before.id,
            position: before.position,
            ..checked
        };
        let mut changes = Vec::new();
        let mut names = Vec::new();
        for (name, old, new) in [
            ("label_ja", before.label_ja.clone(), after.label_ja.clone()),
            ("label_en", before.label_en.clone(), after.label_en.clone()),
            (
                "price",
                before.price.0.to_string(),
                after.price.0.to_string(),
            ),
            ("stock", before.stock.to_string(), after.stock.to_string()),
        ] {
            if old != new {
                names.push(name);
                changes.push(format!("{name} {} -> {}", clip(&old), clip(&new)));
            }
        }
        if changes.is_empty() {
            return Ok(Ok(after));
        }
        if let Some(v) = product.variants.iter_mut().find(|v| v.sku == sku) {
            *v = after.clone();
        }
        if !self
            .store
            .update_variant(&after, &search_text(&product))
            .await?
        {
            return Ok(Err(CatalogRefusal::UnknownVariant));
        }
        self.record(
            session,
            ip,
            "catalog.change",
            &format!("sku:{sku}"),
            &names.join(","),
            changes.join(", "),
        )
        .await?;
        Ok(Ok(after))
    }

    /// Re-encodes an upload (see [`crate::images`]) and stores the result as the product's
    /// next image. Nothing is stored when it is refused.
    pub async fn add_image(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        product_id: i64,
        upload: Vec<u8>,
        alt_ja: &str,
        alt_en: &str,
    ) -> Outcome<ProductImageInfo> {
        Self::allowed(session)?;
        if self.store.product_by_id(product_id).await?.is_none() {
            return Ok(Err(CatalogRefusal::UnknownProduct));
        }
        let mut problems = Vec::new();
        let alt_ja = text(alt_ja, "alt_ja", 200, false, &mut problems);
        let alt_en = text(alt_en, "alt_en", 200, false, &mut problems);
        if !problems.is_empty() {
            return Ok(Err(CatalogRefusal::Invalid(problems)));
        }
        if self.store.product_images(product_id).await?.len() >= MAX_IMAGES {
            return Ok(Err(CatalogRefusal::TooManyImages));
        }
        let upload_len = upload.len();
        let stored = {
            let _permit = self
                .encoding
                .acquire()
                .await
                .map_err(|e| AppError::Task(e.to_string()))?;
            let limits = self.limits.clone();
            tokio::task::spawn_blocking(move || reencode(&upload, &limits))
                .await
                .map_err(|e| AppError::Task(format!("image re-encoding: {e}")))?
        };
        let stored = match stored {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(target: "kura::catalog", product_id, code = e.code(), upload_len, "image upload refused");
                return Ok(Err(CatalogRefusal::Image(e)));
            }
        };
        let file = format!(
            "{}.{}",
            hex::encode(stored.sha256),
            stored.format.extension()
        );
        let image = ProductImage {
            id: crate::ids::new_id(),
            product_id,
            position: 0,
            content_type: stored.format.content_type().to_string(),
            bytes: stored.bytes,
            sha256: stored.sha256,
            width: stored.width,
            height: stored.height,
            file,
            alt_ja,
            alt_en,
            created_at: self.clock.now(),
        };
        match self.store.add_product_image(&image).await {
            Ok(true) => {}
            Ok(false) => return Ok(Err(CatalogRefusal::UnknownProduct)),
            Err(StoreError::Conflict) => return Ok(Err(CatalogRefusal::DuplicateImage)),
            Err(e) => return Err(e.into()),
        }
        self.record(
            session,
            ip,
            "catalog.image_add",
            &format!("product:{product_id}"),
            "image",
            format!(
                "file={}, {}x{} {}, {} bytes, uploaded as {} of {upload_len} bytes",
                image.file,
                image.width,
                image.height,
                image.content_type,
                image.bytes.len(),
                stored.source_format.content_type()
            ),
        )
        .await?;
        Ok(Ok(ProductImageInfo {
            id: image.id,
            product_id,
            position: image.position,
            content_type: image.content_type,
            width: image.width,
            height: image.height,
            file: image.file,
            alt_ja: image.alt_ja,
            alt_en: image.alt_en,
            created_at: image.created_at,
        }))
    }

    pub async fn remove_image(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        product_id: i64,
        image_id: i64,
    ) -> Outcome<()> {
        Self::allowed(session)?;
        let images = self.store.product_images(product_id).await?;
        let Some(image) = images.iter().find(|i| i.id == image_id) else {
            return Ok(Err(CatalogRefusal::UnknownImage));
        };
        if !self
            .store
            .remove_product_image(product_id, image_id)
            .await?
        {
            return Ok(Err(CatalogRefusal::UnknownImage));
        }
        self.record(
            session,
            ip,
            "catalog.image_remove",
            &format!("product:{product_id}"),
            "image",
            format!("file={}", image.file),
        )
        .await?;
        Ok(Ok(()))
    }

    async fn record(
        &self,
        session: &StaffSession,
        ip: Option<IpAddr>,
        action: &str,
        target: &str,
        fields: &str,
        note: String,
    ) -> Result<(), AppError> {
        self.audit
            .record(
                &session.actor(ip),
                action,
                target,
                fields,
                AuditDetail {
                    note: Some(note),
                    ..Default::default()
                },
            )
            .await?;
        Ok(())
    }

    /// After a unique-key conflict: whether the slug, the SKU or both are taken.
    async fn which_is_taken(
        &self,
        slug: &str,
        variant: Option<&Variant>,
    ) -> Result<Vec<Problem>, AppError> {
        let all = self.store.all_products().await?;
        let mut problems = Vec::new();
        if all.iter().any(|p| p.slug == slug) {
            problems.push(Problem::new("slug", "taken"));
        }
        if let Some(v) = variant
            && all
                .iter()
                .any(|p| p.variants.iter().any(|w| w.sku == v.sku))
        {
            problems.push(Problem::new("sku", "taken"));
        }
        if problems.is_empty() {
            problems.push(Problem::new("slug", "taken"));
        }
        Ok(problems)
    }
}

/// Up to 60 characters of a value, for audit notes.
fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        out.push('…');
    }
    out
}

/// A line of text: trimmed, no control characters, at most `max` characters; `required` ones
/// must not be empty.
fn text(
    value: &str,
    field: &str,
    max: usize,
    required: bool,
    problems: &mut Vec<Problem>,
) -> String {
    checked(value, field, max, required, false, problems)
}

/// Like [`text`], with line breaks allowed (normalised to `\n`).
fn multiline(
    value: &str,
    field: &str,
    max: usize,
    required: bool,
    problems: &mut Vec<Problem>,
) -> String {
    checked(value, field, max, required, true, problems)
}

fn checked(
    value: &str,
    field: &str,
    max: usize,
    required: bool,
    lines: bool,
    problems: &mut Vec<Problem>,
) -> String {
    let value = value.replace("\r\n", "\n").replace('\r', "\n");
    let value = value.trim();
    if value.is_empty() {
        if required {
            problems.push(Problem::new(field, "required"));
        }
        return String::new();
    }
    if value.chars().count() > max {
        problems.push(Problem::new(field, "too_long"));
    } else if value
        .chars()
        .any(|c| c.is_control() && !(lines && c == '\n') && c != '\t')
    {
        problems.push(Problem::new(field, "invalid"));
    }
    value.to_string()
}

/// A path segment: lower-case ASCII letters, digits and inner hyphens, at most 60 characters
/// (full-width letters typed by a Japanese keyboard are folded first).
fn slug(value: &str, field: &str, problems: &mut Vec<Problem>) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = value.trim().nfkc().collect::<String>().to_lowercase();
    if folded.is_empty() {
        problems.push(Problem::new(field, "required"));
    } else if folded.len() > 60 {
        problems.push(Problem::new(field, "too_long"));
    } else if !folded
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || folded.starts_with('-')
        || folded.ends_with('-')
    {
        problems.push(Problem::new(field, "invalid"));
    }
    folded
}

/// A SKU: upper-case ASCII letters, digits and inner hyphens, at most 32 characters.
fn sku(value: &str, problems: &mut Vec<Problem>) -> String {
    use unicode_normalization::UnicodeNormalization;
    let folded: String = value.trim().nfkc().collect::<String>().to_uppercase();
    if folded.is_empty() {
        problems.push(Problem::new("sku", "required"));
    } else if folded.len() > 32 {
        problems.push(Problem::new("sku", "too_long"));
    } else if !folded
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        || folded.starts_with('-')
        || folded.ends_with('-')
    {
        problems.push(Problem::new("sku", "invalid"));
    }
    folded
}

/// Checks a product's own fields and details; `None` (with problems) when any is refused. The
/// product comes back without id, position, variants or photo.
fn product_fields(
    input: &ProductInput,
    categories: &[Category],
    problems: &mut Vec<Problem>,
) -> Option<Product> {
    let before = problems.len();
    let category_id = match input.category_id {
        Some(id) if categories.iter().any(|c| c.id == id) => id,
        Some(_) => {
            problems.push(Problem::new("category", "unknown_category"));
            0
        }
        None => {
            problems.push(Problem::new("category", "required"));
            0
        }
    };
    let slug = slug(&input.slug, "slug", problems);
    let name_ja = text(&input.name_ja, "name_ja", 100, true, problems);
    let name_en = text(&input.name_en, "name_en", 100, true, problems);
    let description_ja = multiline(
        &input.description_ja,
        "description_ja",
        5000,
        false,
        problems,
    );
    let description_en = multiline(
        &input.description_en,
        "description_en",
        5000,
        false,
        problems,
    );
    let tax = input.tax.unwrap_or_else(|| {
        problems.push(Problem::new("tax", "required"));
        TaxRate::Standard
    });
    let image = input.image.trim().to_string();
    if image.is_empty()
        || image.len() > 40
        || !image
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        problems.push(Problem::new("image", "invalid"));
    }
    let details = details(&input.details, problems);
    (problems.len() == before).then(|| Product {
        id: 0,
        slug,
        category_id,
        name_ja,
        name_en,
        description_ja: clean_description(&description_ja),
        description_en: clean_description(&description_en),
        tax,
        image,
        position: 0,
        variants: Vec::new(),
        active: input.active,
        photo: None,
        details,
    })
}

fn details(input: &ProductDetails, problems: &mut Vec<Problem>) -> ProductDetails {
    let model_number = text(&input.model_number, "model_number", 40, false, problems);
    let mut specs = Vec::new();
    for (i, row) in input.specs.iter().enumerate() {
        let all = [&row.label_ja, &row.label_en, &row.value_ja, &row.value_en];
        if all.iter().all(|t| t.trim().is_empty()) {
            continue;
        }
        let field = |name: &str| format!("spec_{i}_{name}");
        specs.push(Spec {
            label_ja: text(&row.label_ja, &field("label_ja"), 40, true, problems),
            label_en: text(&row.label_en, &field("label_en"), 40, false, problems),
            value_ja: text(&row.value_ja, &field("value_ja"), 200, true, problems),
            value_en: text(&row.value_en, &field("value_en"), 200, false, problems),
        });
    }
    if specs.len() > MAX_SPECS {
        problems.push(Problem::new("specs", "too_many"));
    }
    let f = &input.food;
    let food = crate::catalog::FoodDetails {
        ingredients_ja: multiline(&f.ingredients_ja, "ingredients_ja", 1000, false, problems),
        ingredients_en: multiline(&f.ingredients_en, "ingredients_en", 1000, false, problems),
        allergens: f.allergens.clone(),
        allergens_other_ja: text(
            &f.allergens_other_ja,
            "allergens_other_ja",
            200,
            false,
            problems,
        ),
        allergens_other_en: text(
            &f.allergens_other_en,
            "allergens_other_en",
            200,
            false,
            problems,
        ),
        net_contents_ja: text(&f.net_contents_ja, "net_contents_ja", 100, false, problems),
        net_contents_en: text(&f.net_contents_en, "net_contents_en", 100, false, problems),
        best_before_ja: text(&f.best_before_ja, "best_before_ja", 100, false, problems),
        best_before_en: text(&f.best_before_en, "best_before_en", 100, false, problems),
        storage_ja: text(&f.storage_ja, "storage_ja", 200, false, problems),
        storage_en: text(&f.storage_en, "storage_en", 200, false, problems),
    };
    ProductDetails {
        model_number,
        specs,
        food,
    }
}

/// Checks a variant; `with_sku`: the SKU is new and must be well-formed.
fn variant_fields(
    input: &VariantInput,
    product_id: i64,
    with_sku: bool,
    problems: &mut Vec<Problem>,
) -> Option<Variant> {
    let before = problems.len();
    let sku = if with_sku {
        sku(&input.sku, problems)
    } else {
        input.sku.clone()
    };
    let label_ja = text(&input.label_ja, "label_ja", 60, true, problems);
    let label_en = text(&input.label_en, "label_en", 60, true, problems);
    let price = match input.price {
        None => {
            problems.push(Problem::new("price", "not_a_number"));
            0
        }
        Some(p) if !PRICE_RANGE.contains(&p) => {
            problems.push(Problem::new("price", "price_range"));
            0
        }
        Some(p) => p,
    };
    let stock = match input.stock {
        None => {
            problems.push(Problem::new("stock", "not_a_number"));
            0
        }
        Some(s) if !STOCK_RANGE.contains(&s) => {
            problems.push(Problem::new("stock", "stock_range"));
            0
        }
        Some(s) => s,
    };
    (problems.len() == before).then(|| Variant {
        id: crate::ids::new_id(),
        product_id,
        sku,
        label_ja,
        label_en,
        price: Yen(price),
        stock,
        position: 0,
    })
}

/// Each changed field of a product, with a note of its value before and after (long texts by
/// their length).
fn product_changes(before: &Product, after: &Product) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut short = |name: &'static str, old: String, new: String| {
        if old != new {
            out.push((name, format!("{name} {} -> {}", clip(&old), clip(&new))));
        }
    };
    short("slug", before.slug.clone(), after.slug.clone());
    short(
        "category",
        before.category_id.to_string(),
        after.category_id.to_string(),
    );
    short("name_ja", before.name_ja.clone(), after.name_ja.clone());
    short("name_en", before.name_en.clone(), after.name_en.clone());
    short("tax", before.tax.code().into(), after.tax.code().into());
    short("image", before.image.clone(), after.image.clone());
    short(
        "active",
        before.active.to_string(),
        after.active.to_string(),
    );
    short(
        "model_number",
        before.details.model_number.clone(),
        after.details.model_number.clone(),
    );
    short(
        "allergens",
        before.details.food.allergens.code(),
        after.details.food.allergens.code(),
    );
    let mut long = |name: &'static str, old: &str, new: &str| {
        if old != new {
            out.push((
                name,
                format!(
                    "{name} changed ({} -> {} characters)",
                    old.chars().count(),
                    new.chars().count()
                ),
            ));
        }
    };
    long(
        "description_ja",
        &before.description_ja,
        &after.description_ja,
    );
    long(
        "description_en",
        &before.description_en,
        &after.description_en,
    );
    let (bf, af) = (&before.details.food, &after.details.food);
    for (name, old, new) in [
        ("ingredients_ja", &bf.ingredients_ja, &af.ingredients_ja),
        ("ingredients_en", &bf.ingredients_en, &af.ingredients_en),
        (
            "allergens_other_ja",
            &bf.allergens_other_ja,
            &af.allergens_other_ja,
        ),
        (
            "allergens_other_en",
            &bf.allergens_other_en,
            &af.allergens_other_en,
        ),
        ("net_contents_ja", &bf.net_contents_ja, &af.net_contents_ja),
        ("net_contents_en", &bf.net_contents_en, &af.net_contents_en),
        ("best_before_ja", &bf.best_before_ja, &af.best_before_ja),
        ("best_before_en", &bf.best_before_en, &af.best_before_en),
        ("storage_ja", &bf.storage_ja, &af.storage_ja),
        ("storage_en", &bf.storage_en, &af.storage_en),
    ] {
        long(name, old, new);
    }
    if before.details.specs != after.details.specs {
        out.push((
            "specs",
            format!(
                "specs changed ({} -> {} rows)",
                before.details.specs.len(),
                after.details.specs.len()
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category() -> Category {
        Category {
            id: 7,
            slug: "food".into(),
            name_ja: "食品".into(),
            name_en: "Food".into(),
            position: 0,
        }
    }

    fn input() -> ProductInput {
        ProductInput {
            category_id: Some(7),
            slug: "ｕｍｅｂｏｓｈｉ-1".into(),
            name_ja: "梅干し".into(),
            name_en: "Umeboshi".into(),
            description_ja: "<p onclick=x>酸っぱい</p><script>x</script>".into(),
            description_en: String::new(),
            tax: Some(TaxRate::Reduced),
            image: "food-jar".into(),
            active: true,
            details: ProductDetails {
                model_number: "UM-100".into(),
                specs: vec![
                    Spec::default(),
                    Spec {
                        label_ja: "容量".into(),
                        value_ja: "1.0L".into(),
                        ..Spec::default()
                    },
                ],
                food: Default::default(),
            },
        }
    }

    #[test]
    fn a_good_product_is_folded_and_cleaned() {
        let mut problems = Vec::new();
        let p = product_fields(&input(), &[category()], &mut problems).unwrap();
        assert!(problems.is_empty());
        assert_eq!(p.slug, "umeboshi-1");
        assert_eq!(p.description_ja, "<p>酸っぱい</p>");
        assert_eq!(p.details.specs.len(), 1, "blank rows are dropped");
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut bad = input();
        bad.category_id = Some(99);
        bad.slug = "Bad Slug!".into();
        bad.name_en = " ".into();
        bad.tax = None;
        bad.details.specs = vec![
            Spec::default(),
            Spec {
                value_ja: "1.0L".into(),
                ..Spec::default()
            },
        ];
        let mut problems = Vec::new();
        assert!(product_fields(&bad, &[category()], &mut problems).is_none());
        let named: Vec<(String, &str)> = problems.into_iter().map(|p| (p.field, p.code)).collect();
        assert_eq!(
            named,
            vec![
                ("category".to_string(), "unknown_category"),
                ("slug".to_string(), "invalid"),
                ("name_en".to_string(), "required"),
                ("tax".to_string(), "required"),
                ("spec_1_label_ja".to_string(), "required"),
            ]
        );
        let mut problems = Vec::new();
        let v = VariantInput {
            sku: "ab-1".into(),
            label_ja: "標準".into(),
            label_en: "Standard".into(),
            price: Some(0),
            stock: None,
        };
        assert!(variant_fields(&v, 1, true, &mut problems).is_none());
        assert_eq!(
            problems,
            vec![
                Problem::new("price", "price_range"),
                Problem::new("stock", "not_a_number")
            ]
        );
    }
}
