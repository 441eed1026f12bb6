//! The catalog: categories, products, variants, search. Public data, not sealed.

use std::sync::Arc;

use kura_domain::Synonyms;

use crate::error::AppError;
use crate::ports::Store;
pub use crate::records::{
    CatalogItem, Category, FoodDetails, Product, ProductDetails, ProductImage, ProductImageInfo,
    ProductPage, Spec, Variant,
};

pub const PAGE_SIZE: u32 = 12;
/// Longest search query accepted, in characters.
pub const MAX_QUERY: usize = 100;

/// How long a product page's data or the category list may be served from memory. Stock shown
/// can be this much behind (twice that while a reload fails); checkout always re-checks stock
/// and price in the database.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(2);
const CACHE_MAX: usize = 4096;
/// Most listing pages (a category or all products, one page each) kept at once.
const LISTING_CACHE_MAX: usize = 512;
/// Most search answers kept at once: few, so that random queries cannot fill the memory.
const SEARCH_CACHE_MAX: usize = 256;

type Cached<T> = std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, T)>>;

pub struct Catalog {
    store: Arc<dyn Store>,
    products: Cached<Option<Product>>,
    categories: Cached<Vec<Category>>,
    synonyms: Cached<Arc<Synonyms>>,
    /// Listing pages (home, categories, the API's product list) by category, offset and size.
    listings: Cached<Arc<ProductPage>>,
    /// Search answers by the query's search form, offset and size.
    searches: Cached<Arc<ProductPage>>,
}

/// The setting that holds the owner's synonym table (as typed, see [`Synonyms::parse`]).
pub const SYNONYMS_SETTING: &str = "search.synonyms";
/// The setting that records which [`kura_domain::SEARCH_FORM_VERSION`] stored search text is in.
const FORM_VERSION_SETTING: &str = "search.form_version";
/// Most words of a query that are searched; more are ignored.
pub const MAX_QUERY_WORDS: usize = 8;

/// The remembered value for `key` while it is fresh. The first caller to find it expired gets
/// `None` and loads it again; the entry is marked fresh for the others meanwhile, so that a
/// busy page is loaded once when it expires, not by every request that arrives while it loads
/// (which made the home page's p99 jump every two seconds).
fn cached<T: Clone>(cache: &Cached<T>, key: &str) -> Option<T> {
    let mut map = cache.lock().ok()?;
    let (at, value) = map.get_mut(key)?;
    if at.elapsed() < CACHE_TTL {
        return Some(value.clone());
    }
    *at = std::time::Instant::now();
    None
}

fn remember<T>(cache: &Cached<T>, key: &str, value: T) {
    remember_at_most(cache, key, value, CACHE_MAX);
}

/// Keeps `value` under `key` unless `max` live entries are there already (stale ones are
/// dropped first).
fn remember_at_most<T>(cache: &Cached<T>, key: &str, value: T, max: usize) {
    if let Ok(mut map) = cache.lock() {
        if map.len() >= max {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        if map.len() < max {
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
            synonyms: Default::default(),
            listings: Default::default(),
            searches: Default::default(),
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
        if let Ok(mut m) = self.synonyms.lock() {
            m.clear();
        }
        for cache in [&self.listings, &self.searches] {
            if let Ok(mut m) = cache.lock() {
                m.clear();
            }
        }
    }

    /// The owner's synonym table (empty when none was saved).
    pub async fn synonyms(&self) -> Result<Arc<Synonyms>, AppError> {
        if let Some(s) = cached(&self.synonyms, "") {
            return Ok(s);
        }
        let text = self
            .store
            .setting(SYNONYMS_SETTING)
            .await?
            .unwrap_or_default();
        // A saved table was read when it was saved; one that no longer reads (a rule changed)
        // keeps the lines that do rather than failing every search.
        let table = Arc::new(Synonyms::parse(&text).unwrap_or_else(|_| Synonyms::lenient(&text)));
        remember(&self.synonyms, "", table.clone());
        Ok(table)
    }

    /// Writes every product's search text again when it was made by an older
    /// [`kura_domain::search_form`]; true when it did. Run at start (every node may; the result
    /// is the same).
    pub async fn reindex_if_stale(&self) -> Result<bool, AppError> {
        let version = self.store.setting(FORM_VERSION_SETTING).await?;
        if version.as_deref() == Some(kura_domain::SEARCH_FORM_VERSION) {
            return Ok(false);
        }
        let rows: Vec<(i64, String, String)> = self
            .store
            .all_products()
            .await?
            .iter()
            .map(|p| (p.id, search_text(p), name_text(p)))
            .collect();
        self.store.set_search_texts(&rows).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
        self.store
            .set_setting(FORM_VERSION_SETTING, kura_domain::SEARCH_FORM_VERSION, now)
            .await?;
        Ok(true)
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
            .categories()
            .await?
            .into_iter()
            .find(|c| c.slug == slug))
    }

    /// Products of a category (or all), page numbers from 1. Served from memory for up to
    /// [`CACHE_TTL`], like a product page: the home page is what everyone opens first.
    pub async fn products(
        &self,
        category: Option<i64>,
        page: u32,
        per_page: u32,
    ) -> Result<Arc<ProductPage>, AppError> {
        let offset = page.saturating_sub(1).saturating_mul(per_page);
        let key = format!("{}:{offset}:{per_page}", category.unwrap_or(-1));
        if let Some(p) = cached(&self.listings, &key) {
            return Ok(p);
        }
        let p = Arc::new(self.store.products(category, offset, per_page).await?);
        remember_at_most(&self.listings, &key, Arc::clone(&p), LISTING_CACHE_MAX);
        Ok(p)
    }

    pub async fn product(&self, slug: &str) -> Result<Option<Product>, AppError> {
        if let Some(p) = cached(&self.products, slug) {
            return Ok(p);
        }
        let p = self.store.product_by_slug(slug).await?;
        remember(&self.products, slug, p.clone());
        Ok(p)
    }

    /// Search over names, descriptions, model numbers, specifications and variants in both
    /// languages: each word (widened by the owner's synonyms) must be found, else the products
    /// that have most of the words are shown; those with the words in their name or model
    /// number come first.
    pub async fn search(
        &self,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Arc<ProductPage>, AppError> {
        let q: String = query
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_QUERY)
            .collect();
        let q = kura_domain::search_form(&q);
        if q.is_empty() {
            return Ok(Arc::default());
        }
        let offset = page.saturating_sub(1).saturating_mul(per_page);
        // The same words find the same products until the catalog or the synonyms change
        // (which empties this cache on the node that changed them; others follow within
        // [`CACHE_TTL`]).
        let key = format!("{q}\u{1f}{offset}:{per_page}");
        if let Some(p) = cached(&self.searches, &key) {
            return Ok(p);
        }
        let mut groups = self.synonyms().await?.plan(&q);
        groups.truncate(MAX_QUERY_WORDS);
        let p = Arc::new(
            self.store
                .search_products(&groups, offset, per_page)
                .await?,
        );
        remember_at_most(&self.searches, &key, Arc::clone(&p), SEARCH_CACHE_MAX);
        Ok(p)
    }

    pub async fn items(&self, skus: &[String]) -> Result<Vec<CatalogItem>, AppError> {
        Ok(self.store.catalog_items(skus).await?)
    }

    /// A product's uploaded images in order (its photo first), without their bytes.
    pub async fn images(&self, product_id: i64) -> Result<Vec<ProductImageInfo>, AppError> {
        Ok(self.store.product_images(product_id).await?)
    }

    /// An uploaded image by the name it is served under, `{sha256 hex}.{jpg|png}`; any other
    /// name is not looked up.
    pub async fn image(&self, file: &str) -> Result<Option<ProductImage>, AppError> {
        if !is_image_file(file) {
            return Ok(None);
        }
        Ok(self.store.product_image_file(file).await?)
    }
}

/// Whether `file` is a name an uploaded image is served under: 64 lower-case hex digits, then
/// `.jpg` or `.png`.
pub fn is_image_file(file: &str) -> bool {
    let Some((hash, ext)) = file.split_once('.') else {
        return false;
    };
    hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && matches!(ext, "jpg" | "png")
}

/// The text a product is found by: both languages' names and descriptions (without their
/// markup), the model number, the specifications, the ingredients, variant labels and SKUs, in
/// [`kura_domain::search_form`].
pub fn search_text(p: &Product) -> String {
    let description_ja = plain_text(&p.description_ja);
    let description_en = plain_text(&p.description_en);
    let d = &p.details;
    let mut parts = vec![
        p.name_ja.as_str(),
        p.name_en.as_str(),
        description_ja.as_str(),
        description_en.as_str(),
        d.model_number.as_str(),
        d.food.ingredients_ja.as_str(),
        d.food.ingredients_en.as_str(),
    ];
    for s in &d.specs {
        parts.extend([
            s.label_ja.as_str(),
            s.label_en.as_str(),
            s.value_ja.as_str(),
            s.value_en.as_str(),
        ]);
    }
    for v in &p.variants {
        parts.extend([v.label_ja.as_str(), v.label_en.as_str(), v.sku.as_str()]);
    }
    kura_domain::search_form(&parts.join(" "))
}

/// The text a product is ranked higher for: its names in both languages and its model number,
/// in [`kura_domain::search_form`].
pub fn name_text(p: &Product) -> String {
    kura_domain::search_form(&format!(
        "{} {} {}",
        p.name_ja, p.name_en, p.details.model_number
    ))
}

/// The tags a product description may carry; no attribute of any kind is kept.
pub const DESCRIPTION_TAGS: &[&str] = &["p", "br", "ul", "ol", "li", "strong", "em"];

/// A description as staff typed it, made safe to show as HTML: only [`DESCRIPTION_TAGS`] stay,
/// without attributes (so no links, images, styles, event handlers or URLs of any scheme);
/// `script` and `style` go with their content; comments go; everything else is escaped text.
/// Text without any tag is taken as plain paragraphs: a blank line starts a new one and a line
/// break stays one. The result is what is stored; the storefront also passes what it shows
/// through here, so a row written some other way cannot carry markup either.
pub fn clean_description(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    let html = if text.contains('<') {
        text.to_string()
    } else {
        text.split("\n\n")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| format!("<p>{}</p>", escape(p).replace('\n', "<br>\n")))
            .collect::<Vec<_>>()
            .join("\n")
    };
    sanitizer().clean(&html).to_string()
}

fn sanitizer() -> ammonia::Builder<'static> {
    let mut b = ammonia::Builder::empty();
    b.add_tags(DESCRIPTION_TAGS.iter().copied())
        .generic_attributes(std::collections::HashSet::new())
        .tag_attributes(std::collections::HashMap::new())
        .url_schemes(std::collections::HashSet::new())
        .link_rel(None)
        .strip_comments(true);
    b
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The words of a cleaned description without its markup, for search.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_a_little_formatting_and_nothing_else() {
        let dirty = "<p onclick=\"x()\" style=\"color:red\">よく<strong>炊ける</strong>\
                     <a href=\"javascript:alert(1)\">link</a><img src=x onerror=alert(1)>\
                     <script>alert(1)</script><style>p{}</style><!-- c --><em>!</em></p>\
                     <ul><li>one</li></ul><iframe src=//evil></iframe>";
        let clean = clean_description(dirty);
        assert_eq!(
            clean,
            "<p>よく<strong>炊ける</strong>link<em>!</em></p><ul><li>one</li></ul>"
        );
        for bad in [
            "script", "onclick", "href", "img", "style", "iframe", "alert", "<!--",
        ] {
            assert!(!clean.contains(bad), "{bad} in {clean}");
        }
        // Cleaning again changes nothing.
        assert_eq!(clean_description(&clean), clean);
    }

    #[test]
    fn plain_text_becomes_paragraphs_and_is_escaped() {
        assert_eq!(
            clean_description("一行目\n二行目\n\n次 & 最後"),
            "<p>一行目<br>\n二行目</p>\n<p>次 &amp; 最後</p>"
        );
        assert_eq!(clean_description("  "), "");
        assert_eq!(plain_text("<p>A &amp; B<br>C</p>"), " A & B C ");
    }
}
