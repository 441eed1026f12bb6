//! The catalog as the back office edits it: product details (品番, specifications, food
//! labelling), categories, variants and product images; written once, compiled once per backend
//! (see the crate documentation). The storefront's reads are in `shop.rs`, which takes the
//! details from here.

use async_trait::async_trait;
use kura_app::catalog::{
    Category, FoodDetails, Product, ProductDetails, ProductImage, ProductImageInfo, Spec, Variant,
};
use kura_app::error::StoreError;
use kura_app::ports::CatalogEditRepo;
use kura_domain::AllergenStatement;
use sqlx::{AssertSqlSafe, Row};

use super::{Conn, DbRow, This};
use crate::{db_err, placeholders};

/// A product's details from its row (the specifications come from [`This::with_specs`]).
pub(crate) fn details_from_row(r: &DbRow) -> Result<ProductDetails, sqlx::Error> {
    let allergens: String = r.try_get("allergens")?;
    Ok(ProductDetails {
        model_number: r.try_get("model_number")?,
        specs: Vec::new(),
        food: FoodDetails {
            ingredients_ja: r.try_get("ingredients_ja")?,
            ingredients_en: r.try_get("ingredients_en")?,
            allergens: AllergenStatement::parse(&allergens).ok_or_else(|| {
                sqlx::Error::Decode(format!("unknown allergens {allergens}").into())
            })?,
            allergens_other_ja: r.try_get("allergens_other_ja")?,
            allergens_other_en: r.try_get("allergens_other_en")?,
            net_contents_ja: r.try_get("net_contents_ja")?,
            net_contents_en: r.try_get("net_contents_en")?,
            best_before_ja: r.try_get("best_before_ja")?,
            best_before_en: r.try_get("best_before_en")?,
            storage_ja: r.try_get("storage_ja")?,
            storage_en: r.try_get("storage_en")?,
        },
    })
}

/// Writes a product's shown flag, details and specifications (replacing those before).
pub(crate) async fn write_details(tx: &mut Conn, p: &Product) -> Result<(), sqlx::Error> {
    let f = &p.details.food;
    sqlx::query(
        "UPDATE products SET active = $2, model_number = $3, ingredients_ja = $4, ingredients_en = $5, \
         allergens = $6, allergens_other_ja = $7, allergens_other_en = $8, net_contents_ja = $9, \
         net_contents_en = $10, best_before_ja = $11, best_before_en = $12, storage_ja = $13, \
         storage_en = $14 WHERE id = $1",
    )
    .bind(p.id)
    .bind(i64::from(p.active))
    .bind(&p.details.model_number)
    .bind(&f.ingredients_ja)
    .bind(&f.ingredients_en)
    .bind(f.allergens.code())
    .bind(&f.allergens_other_ja)
    .bind(&f.allergens_other_en)
    .bind(&f.net_contents_ja)
    .bind(&f.net_contents_en)
    .bind(&f.best_before_ja)
    .bind(&f.best_before_en)
    .bind(&f.storage_ja)
    .bind(&f.storage_en)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM product_specs WHERE product_id = $1")
        .bind(p.id)
        .execute(&mut *tx)
        .await?;
    for (i, s) in p.details.specs.iter().enumerate() {
        sqlx::query(
            "INSERT INTO product_specs (product_id, position, label_ja, label_en, value_ja, value_en) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id)
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .bind(&s.label_ja)
        .bind(&s.label_en)
        .bind(&s.value_ja)
        .bind(&s.value_en)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn insert_variant(tx: &mut Conn, v: &Variant) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO variants (id, product_id, sku, label_ja, label_en, price_yen, stock, position) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(v.id)
    .bind(v.product_id)
    .bind(&v.sku)
    .bind(&v.label_ja)
    .bind(&v.label_en)
    .bind(v.price.0)
    .bind(v.stock)
    .bind(v.position)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn set_search_text(tx: &mut Conn, product_id: i64, text: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE products SET search_text = $1 WHERE id = $2")
        .bind(text)
        .bind(product_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Makes the product's first image (by position) its photo, or none.
async fn refresh_photo(tx: &mut Conn, product_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE products SET photo = (SELECT i.file FROM product_images i WHERE i.product_id = $1 \
         ORDER BY i.position, i.id LIMIT 1) WHERE id = $1",
    )
    .bind(product_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

fn dimension(r: &DbRow, column: &str) -> Result<u32, sqlx::Error> {
    let v: i64 = r.try_get(column)?;
    u32::try_from(v).map_err(|_| sqlx::Error::Decode(format!("{column} {v} out of range").into()))
}

fn image_info_from_row(r: &DbRow) -> Result<ProductImageInfo, sqlx::Error> {
    Ok(ProductImageInfo {
        id: r.try_get("id")?,
        product_id: r.try_get("product_id")?,
        position: r.try_get("position")?,
        content_type: r.try_get("content_type")?,
        width: dimension(r, "width")?,
        height: dimension(r, "height")?,
        file: r.try_get("file")?,
        alt_ja: r.try_get("alt_ja")?,
        alt_en: r.try_get("alt_en")?,
        created_at: r.try_get("created_at")?,
    })
}

fn image_from_row(r: &DbRow) -> Result<ProductImage, sqlx::Error> {
    let info = image_info_from_row(r)?;
    let sha: Vec<u8> = r.try_get("sha256")?;
    Ok(ProductImage {
        id: info.id,
        product_id: info.product_id,
        position: info.position,
        content_type: info.content_type,
        bytes: r.try_get("bytes")?,
        sha256: sha
            .try_into()
            .map_err(|_| sqlx::Error::Decode("sha256 is not 32 bytes".into()))?,
        width: info.width,
        height: info.height,
        file: info.file,
        alt_ja: info.alt_ja,
        alt_en: info.alt_en,
        created_at: info.created_at,
    })
}

const IMAGE_INFO_COLUMNS: &str =
    "id, product_id, position, content_type, width, height, file, alt_ja, alt_en, created_at";

impl This {
    /// Fills in each product's specification rows.
    pub(crate) async fn with_specs(
        &self,
        mut products: Vec<Product>,
    ) -> Result<Vec<Product>, StoreError> {
        if products.is_empty() {
            return Ok(products);
        }
        let sql = format!(
            "SELECT * FROM product_specs WHERE product_id IN ({}) ORDER BY product_id, position",
            placeholders(1, products.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in &products {
            q = q.bind(p.id);
        }
        let rows = q.fetch_all(self.reads()).await.map_err(db_err)?;
        for r in &rows {
            let product_id: i64 = r.try_get("product_id").map_err(db_err)?;
            let spec = Spec {
                label_ja: r.try_get("label_ja").map_err(db_err)?,
                label_en: r.try_get("label_en").map_err(db_err)?,
                value_ja: r.try_get("value_ja").map_err(db_err)?,
                value_en: r.try_get("value_en").map_err(db_err)?,
            };
            if let Some(p) = products.iter_mut().find(|p| p.id == product_id) {
                p.details.specs.push(spec);
            }
        }
        Ok(products)
    }
}

#[async_trait]
impl CatalogEditRepo for This {
    async fn set_search_texts(&self, rows: &[(i64, String, String)]) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            for (id, search, name) in rows {
                sqlx::query("UPDATE products SET search_text = $1, name_text = $2 WHERE id = $3")
                    .bind(search)
                    .bind(name)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
        })
    }

    async fn all_products(&self) -> Result<Vec<Product>, StoreError> {
        let rows = sqlx::query("SELECT * FROM products ORDER BY category_id, position, id")
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        let products = rows
            .iter()
            .map(super::shop::product_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        self.with_variants(products).await
    }

    async fn product_by_id(&self, id: i64) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query("SELECT * FROM products WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let product = super::shop::product_from_row(&row).map_err(db_err)?;
        Ok(self.with_variants(vec![product]).await?.into_iter().next())
    }

    async fn insert_category(&self, c: &Category) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO categories (id, slug, name_ja, name_en, position) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(c.id)
            .bind(&c.slug)
            .bind(&c.name_ja)
            .bind(&c.name_en)
            .bind(c.position)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn create_product(&self, p: &Product, search_text: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO products (id, slug, category_id, name_ja, name_en, description_ja, description_en, tax_rate, image, position, active, search_text, name_text) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                 (SELECT COALESCE(MAX(position), -1) + 1 FROM products WHERE category_id = $3), 1, $10, $11)",
            )
            .bind(p.id)
            .bind(&p.slug)
            .bind(p.category_id)
            .bind(&p.name_ja)
            .bind(&p.name_en)
            .bind(&p.description_ja)
            .bind(&p.description_en)
            .bind(p.tax.code())
            .bind(&p.image)
            .bind(search_text)
            .bind(kura_app::catalog::name_text(p))
            .execute(&mut *tx)
            .await?;
            for v in &p.variants {
                insert_variant(&mut *tx, v).await?;
            }
            write_details(&mut *tx, p).await?;
        })
    }

    async fn update_product(&self, p: &Product, search_text: &str) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let found = sqlx::query(
                "UPDATE products SET slug = $2, category_id = $3, name_ja = $4, name_en = $5, \
                 description_ja = $6, description_en = $7, tax_rate = $8, image = $9, search_text = $10, \
                 name_text = $11 WHERE id = $1",
            )
            .bind(p.id)
            .bind(&p.slug)
            .bind(p.category_id)
            .bind(&p.name_ja)
            .bind(&p.name_en)
            .bind(&p.description_ja)
            .bind(&p.description_en)
            .bind(p.tax.code())
            .bind(&p.image)
            .bind(search_text)
            .bind(kura_app::catalog::name_text(p))
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if found {
                write_details(&mut *tx, p).await?;
            }
            found
        })
    }

    async fn add_variant(&self, v: &Variant, search_text: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            insert_variant(&mut *tx, v).await?;
            set_search_text(&mut *tx, v.product_id, search_text).await?;
        })
    }

    async fn update_variant(&self, v: &Variant, search_text: &str) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let found = sqlx::query(
                "UPDATE variants SET label_ja = $3, label_en = $4, price_yen = $5, stock = $6 \
                 WHERE sku = $1 AND product_id = $2",
            )
            .bind(&v.sku)
            .bind(v.product_id)
            .bind(&v.label_ja)
            .bind(&v.label_en)
            .bind(v.price.0)
            .bind(v.stock)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if found {
                set_search_text(&mut *tx, v.product_id, search_text).await?;
            }
            found
        })
    }

    async fn add_product_image(&self, image: &ProductImage) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let product: Option<i64> = sqlx::query_scalar("SELECT id FROM products WHERE id = $1")
                .bind(image.product_id)
                .fetch_optional(&mut *tx)
                .await?;
            if product.is_some() {
                sqlx::query(
                    "INSERT INTO product_images (id, product_id, position, content_type, bytes, sha256, file, width, height, alt_ja, alt_en, created_at) \
                     VALUES ($1, $2, (SELECT COALESCE(MAX(position), -1) + 1 FROM product_images WHERE product_id = $2), \
                     $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(image.id)
                .bind(image.product_id)
                .bind(&image.content_type)
                .bind(&image.bytes)
                .bind(image.sha256.to_vec())
                .bind(&image.file)
                .bind(i64::from(image.width))
                .bind(i64::from(image.height))
                .bind(&image.alt_ja)
                .bind(&image.alt_en)
                .bind(image.created_at)
                .execute(&mut *tx)
                .await?;
                refresh_photo(&mut *tx, image.product_id).await?;
            }
            product.is_some()
        })
    }

    async fn product_images(&self, product_id: i64) -> Result<Vec<ProductImageInfo>, StoreError> {
        let sql = format!(
            "SELECT {IMAGE_INFO_COLUMNS} FROM product_images WHERE product_id = $1 ORDER BY position, id"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(product_id)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(image_info_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn product_image_file(&self, file: &str) -> Result<Option<ProductImage>, StoreError> {
        let row = sqlx::query("SELECT * FROM product_images WHERE file = $1 ORDER BY id LIMIT 1")
            .bind(file)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.as_ref().map(image_from_row).transpose().map_err(db_err)
    }

    async fn remove_product_image(
        &self,
        product_id: i64,
        image_id: i64,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let gone = sqlx::query("DELETE FROM product_images WHERE id = $1 AND product_id = $2")
                .bind(image_id)
                .bind(product_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            if gone {
                refresh_photo(&mut *tx, product_id).await?;
            }
            gone
        })
    }
}
