//! Catalog, carts, orders and the mail outbox; written once, compiled once per backend (see
//! the crate documentation).

use async_trait::async_trait;
use kura_app::catalog::{CatalogItem, Category, Product, ProductPage, Variant};
use kura_app::error::StoreError;
use kura_app::ports::{
    CartRepo, CatalogRepo, OrderRepo, OutboxRepo, PaymentEventOutcome, RestockRepo, Transition,
};
use kura_app::records::OrderFilter;
use kura_app::sealed::{OrderLineRecord, OrderRecord, OutboxRecord, PlaceOutcome};
use kura_domain::{OrderStatus, PaymentMethod, TaxBreakdown, Totals, Yen};
use kura_seal::{BlindIndex, Sealed};
use sqlx::{AssertSqlSafe, Row};

use super::{Conn, Db, DbRow, This, data_keys, dialect};
use crate::{Bind, db_err, now_epoch, placeholders, tax_of};

pub(super) fn product_from_row(r: &DbRow) -> Result<Product, sqlx::Error> {
    Ok(Product {
        id: r.try_get("id")?,
        slug: r.try_get("slug")?,
        category_id: r.try_get("category_id")?,
        name_ja: r.try_get("name_ja")?,
        name_en: r.try_get("name_en")?,
        description_ja: r.try_get("description_ja")?,
        description_en: r.try_get("description_en")?,
        tax: tax_of(&r.try_get::<String, _>("tax_rate")?)?,
        image: r.try_get("image")?,
        position: r.try_get("position")?,
        variants: Vec::new(),
        active: r.try_get::<i64, _>("active")? != 0,
        photo: r.try_get("photo")?,
        details: super::catalog::details_from_row(r)?,
    })
}

fn variant_from_row(r: &DbRow) -> Result<Variant, sqlx::Error> {
    Ok(Variant {
        id: r.try_get("id")?,
        product_id: r.try_get("product_id")?,
        sku: r.try_get("sku")?,
        label_ja: r.try_get("label_ja")?,
        label_en: r.try_get("label_en")?,
        price: Yen(r.try_get("price_yen")?),
        stock: r.try_get("stock")?,
        position: r.try_get("position")?,
    })
}

impl This {
    /// Fills in each product's variants and specification rows.
    pub(super) async fn with_variants(
        &self,
        mut products: Vec<Product>,
    ) -> Result<Vec<Product>, StoreError> {
        if products.is_empty() {
            return Ok(products);
        }
        let sql = format!(
            "SELECT * FROM variants WHERE product_id IN ({}) ORDER BY product_id, position, id",
            placeholders(1, products.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in &products {
            q = q.bind(p.id);
        }
        let rows = q.fetch_all(self.reads()).await.map_err(db_err)?;
        for r in &rows {
            let v = variant_from_row(r).map_err(db_err)?;
            if let Some(p) = products.iter_mut().find(|p| p.id == v.product_id) {
                p.variants.push(v);
            }
        }
        self.with_specs(products).await
    }

    /// Shown products by id (in no particular order), with variants and specifications.
    async fn products_by_ids(&self, ids: &[i64]) -> Result<Vec<Product>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT * FROM products WHERE active = 1 AND id IN ({})",
            placeholders(1, ids.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        let rows = q.fetch_all(self.reads()).await.map_err(db_err)?;
        let products = rows
            .iter()
            .map(product_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        self.with_variants(products).await
    }

    async fn page_of(
        &self,
        ids_sql: &str,
        binds: Vec<Bind>,
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError> {
        let count_sql =
            format!("SELECT COUNT(*) FROM products WHERE active = 1 AND id IN ({ids_sql})");
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
        for b in &binds {
            q = match b {
                Bind::Int(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.clone()),
            };
        }
        let total = q.fetch_one(self.reads()).await.map_err(db_err)?;
        let n = binds.len();
        let sql = format!(
            "SELECT * FROM products WHERE active = 1 AND id IN ({ids_sql}) ORDER BY category_id, position, id LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = match b {
                Bind::Int(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.clone()),
            };
        }
        let rows = q
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        let products = rows
            .iter()
            .map(product_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        Ok(ProductPage {
            products: self.with_variants(products).await?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

#[async_trait]
impl CatalogRepo for This {
    async fn upsert_category(&self, c: &Category) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO categories (id, slug, name_ja, name_en, position) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (slug) DO UPDATE SET name_ja = excluded.name_ja, name_en = excluded.name_en, position = excluded.position",
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

    async fn insert_product(&self, p: &Product) -> Result<bool, StoreError> {
        let search = kura_app::catalog::search_text(p);
        let name = kura_app::catalog::name_text(p);
        write_tx!(self, |tx| {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM products WHERE slug = $1")
                .bind(&p.slug)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_some() {
                false
            } else {
                sqlx::query(
                    "INSERT INTO products (id, slug, category_id, name_ja, name_en, description_ja, description_en, tax_rate, image, position, active, search_text, name_text) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1, $11, $12)",
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
                .bind(p.position)
                .bind(&search)
                .bind(&name)
                .execute(&mut *tx)
                .await?;
                for v in &p.variants {
                    sqlx::query(
                        "INSERT INTO variants (id, product_id, sku, label_ja, label_en, price_yen, stock, position) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(v.id)
                    .bind(p.id)
                    .bind(&v.sku)
                    .bind(&v.label_ja)
                    .bind(&v.label_en)
                    .bind(v.price.0)
                    .bind(v.stock)
                    .bind(v.position)
                    .execute(&mut *tx)
                    .await?;
                }
                super::catalog::write_details(&mut *tx, p).await?;
                true
            }
        })
    }

    async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let rows = sqlx::query("SELECT * FROM categories ORDER BY position, id")
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(Category {
                    id: r.try_get("id")?,
                    slug: r.try_get("slug")?,
                    name_ja: r.try_get("name_ja")?,
                    name_en: r.try_get("name_en")?,
                    position: r.try_get("position")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn products(
        &self,
        category: Option<i64>,
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError> {
        match category {
            Some(c) => {
                self.page_of(
                    "SELECT id FROM products WHERE category_id = $1",
                    vec![Bind::Int(c)],
                    offset,
                    limit,
                )
                .await
            }
            None => {
                self.page_of("SELECT id FROM products", Vec::new(), offset, limit)
                    .await
            }
        }
    }

    async fn product_by_slug(&self, slug: &str) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query("SELECT * FROM products WHERE slug = $1 AND active = 1")
            .bind(slug)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let product = product_from_row(&row).map_err(db_err)?;
        Ok(self.with_variants(vec![product]).await?.into_iter().next())
    }

    async fn search_products(
        &self,
        groups: &[Vec<String>],
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError> {
        let groups: Vec<&Vec<String>> = groups.iter().filter(|g| !g.is_empty()).collect();
        if groups.is_empty() {
            return Ok(ProductPage::default());
        }
        // Each alternative is one bind, used three times: to find, to count the groups found
        // and to count those in the name.
        let mut binds = Vec::new();
        let (mut any, mut hits, mut in_name) = (Vec::new(), Vec::new(), Vec::new());
        for g in &groups {
            let mut text = Vec::new();
            let mut name = Vec::new();
            for w in g.iter() {
                binds.push(crate::like_literal(w));
                let i = binds.len();
                text.push(format!("search_text LIKE ${i} ESCAPE '\\'"));
                name.push(format!("name_text LIKE ${i} ESCAPE '\\'"));
            }
            let (text, name) = (text.join(" OR "), name.join(" OR "));
            hits.push(format!("CASE WHEN {text} THEN 1 ELSE 0 END"));
            in_name.push(format!("CASE WHEN {name} THEN 1 ELSE 0 END"));
            any.push(format!("({text})"));
        }
        let sql = format!(
            "SELECT id, CAST({} AS BIGINT) AS hits, CAST({} AS BIGINT) AS in_name, category_id, position FROM products \
             WHERE active = 1 AND ({})",
            hits.join(" + "),
            in_name.join(" + "),
            any.join(" OR ")
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b.clone());
        }
        let mut found = q.fetch_all(self.reads()).await.map_err(db_err)?;
        // Products with every word if there are any, else those with the most.
        let most = found.iter().map(|r| r.1).max().unwrap_or(0);
        found.retain(|r| r.1 == most);
        found.sort_by_key(|&(id, _, in_name, category, position)| {
            (std::cmp::Reverse(in_name), category, position, id)
        });
        let total = u64::try_from(found.len()).unwrap_or(0);
        let page: Vec<i64> = found
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(0))
            .map(|r| r.0)
            .collect();
        let mut products = self.products_by_ids(&page).await?;
        products.sort_by_key(|p| page.iter().position(|id| *id == p.id));
        Ok(ProductPage { products, total })
    }

    async fn catalog_items(&self, skus: &[String]) -> Result<Vec<CatalogItem>, StoreError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(read) = dialect::catalog_items(self, skus) {
            return read;
        }
        let sql = format!(
            "SELECT v.sku, v.label_ja, v.label_en, v.price_yen, v.stock, p.slug, p.name_ja, p.name_en, p.tax_rate, p.image \
             FROM variants v JOIN products p ON p.id = v.product_id WHERE p.active = 1 AND v.sku IN ({})",
            placeholders(1, skus.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for s in skus {
            q = q.bind(s);
        }
        let rows = q.fetch_all(self.reads()).await.map_err(db_err)?;
        rows.iter()
            .map(catalog_item)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn set_price(&self, sku: &str, price: Yen) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE variants SET price_yen = $1 WHERE sku = $2")
                .bind(price.0)
                .bind(sku)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn set_stock(&self, sku: &str, stock: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE variants SET stock = $1 WHERE sku = $2")
                .bind(stock)
                .bind(sku)
                .execute(&mut *tx)
                .await?;
        })
    }
}

/// Removes one restock request; false when there was none.
async fn delete_restock(tx: &mut Conn, customer_id: i64, sku: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM restock_requests WHERE customer_id = $1 AND sku = $2")
            .bind(customer_id)
            .bind(sku)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            > 0,
    )
}

#[async_trait]
impl RestockRepo for This {
    async fn add_restock_request(
        &self,
        customer_id: i64,
        sku: &str,
        lang: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO restock_requests (customer_id, sku, lang, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (sku, customer_id) DO NOTHING",
            )
            .bind(customer_id)
            .bind(sku)
            .bind(lang)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn remove_restock_request(
        &self,
        customer_id: i64,
        sku: &str,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            delete_restock(&mut *tx, customer_id, sku).await?
        })
    }

    async fn restock_requests_of(&self, customer_id: i64) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar(
            "SELECT sku FROM restock_requests WHERE customer_id = $1 ORDER BY created_at, sku",
        )
        .bind(customer_id)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)
    }

    async fn due_restock_requests(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        sqlx::query_as(
            "SELECT r.customer_id, r.sku, r.lang FROM restock_requests r \
             JOIN variants v ON v.sku = r.sku JOIN products p ON p.id = v.product_id \
             WHERE v.stock > 0 AND p.active = 1 ORDER BY r.created_at, r.sku LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)
    }

    async fn complete_restock_request(
        &self,
        customer_id: i64,
        sku: &str,
        mail: &OutboxRecord,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let removed = delete_restock(&mut *tx, customer_id, sku).await?;
            if removed {
                insert_mail(&mut *tx, mail).await?;
            }
            removed
        })
    }
}

#[async_trait]
impl CartRepo for This {
    async fn create_cart(
        &self,
        id: i64,
        token_hash: Option<[u8; 32]>,
        customer_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("INSERT INTO carts (id, token_hash, customer_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(token_hash.map(|h| h.to_vec()))
                .bind(customer_id)
                .bind(now)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn cart_by_token(&self, token_hash: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        if let Some(read) = dialect::cart_by_token(self, token_hash) {
            return read;
        }
        sqlx::query_scalar("SELECT id FROM carts WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)
    }

    async fn cart_of_customer(&self, customer_id: i64) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM carts WHERE customer_id = $1")
            .bind(customer_id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)
    }

    async fn cart_items(&self, cart_id: i64) -> Result<Vec<(String, u32)>, StoreError> {
        if let Some(read) = dialect::cart_items(self, cart_id) {
            return read;
        }
        let rows = sqlx::query("SELECT sku, quantity FROM cart_items WHERE cart_id = $1")
            .bind(cart_id)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        let mut lines = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("sku")?,
                    u32::try_from(r.try_get::<i64, _>("quantity")?).unwrap_or(0),
                ))
            })
            .collect::<Result<Vec<(String, u32)>, sqlx::Error>>()
            .map_err(db_err)?;
        // SKU order by bytes, the same on both backends whatever their collation.
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(lines)
    }

    async fn set_cart_item(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        // One statement: the line carries its own time, so the cart row is not written too.
        self.write_one(
            "INSERT INTO cart_items (cart_id, sku, quantity, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = excluded.quantity, updated_at = excluded.updated_at",
            vec![
                Bind::Int(cart_id),
                Bind::Text(sku.to_string()),
                Bind::Int(i64::from(quantity)),
                Bind::Int(now),
            ],
        )
        .await
        .map(drop)
    }

    async fn remove_cart_item(&self, cart_id: i64, sku: &str) -> Result<(), StoreError> {
        self.write_one(
            "DELETE FROM cart_items WHERE cart_id = $1 AND sku = $2",
            vec![Bind::Int(cart_id), Bind::Text(sku.to_string())],
        )
        .await
        .map(drop)
    }

    async fn delete_cart(&self, cart_id: i64) -> Result<(), StoreError> {
        self.write_one("DELETE FROM carts WHERE id = $1", vec![Bind::Int(cart_id)])
            .await
            .map(drop)
    }

    async fn delete_idle_guest_carts(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM carts WHERE id IN (SELECT c.id FROM carts c WHERE c.customer_id IS NULL \
                 AND c.updated_at < $1 AND NOT EXISTS \
                 (SELECT 1 FROM cart_items i WHERE i.cart_id = c.id AND i.updated_at >= $1) LIMIT $2)",
            )
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected()
        })
    }
}

fn order_from_row(r: &DbRow) -> Result<OrderRecord, sqlx::Error> {
    let decode = |what: &str| sqlx::Error::Decode(format!("unknown {what}").into());
    let hash: Vec<u8> = r.try_get("idempotency_hash")?;
    Ok(OrderRecord {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        customer_id: r.try_get("customer_id")?,
        status: OrderStatus::parse(&r.try_get::<String, _>("status")?)
            .ok_or_else(|| decode("status"))?,
        payment: PaymentMethod::parse(&r.try_get::<String, _>("payment_method")?)
            .ok_or_else(|| decode("payment"))?,
        lang: r.try_get("lang")?,
        buyer: Sealed::from_stored(r.try_get("buyer")?),
        recipient: r
            .try_get::<Option<Vec<u8>>, _>("recipient")?
            .map(Sealed::from_stored),
        access_token: Sealed::from_stored(r.try_get("access_token")?),
        email_bidx: BlindIndex::from_stored(r.try_get("email_bidx")?),
        phone_bidx: BlindIndex::from_stored(r.try_get("phone_bidx")?),
        delivery_date: r.try_get("delivery_date")?,
        delivery_slot: r.try_get("delivery_slot")?,
        totals: Totals {
            goods: Yen(r.try_get("goods_yen")?),
            discount: Yen(r.try_get("discount_yen")?),
            shipping: Yen(r.try_get("shipping_yen")?),
            cod_fee: Yen(r.try_get("cod_fee_yen")?),
            total: Yen(r.try_get("total_yen")?),
            tax: TaxBreakdown {
                standard_total: Yen(r.try_get("tax_standard_base")?),
                standard_tax: Yen(r.try_get("tax_standard")?),
                reduced_total: Yen(r.try_get("tax_reduced_base")?),
                reduced_tax: Yen(r.try_get("tax_reduced")?),
            },
        },
        payment_session_id: r.try_get("payment_session_id")?,
        payment_url: r.try_get("payment_url")?,
        payment_expires_at: r.try_get("payment_expires_at")?,
        idempotency_hash: hash.try_into().map_err(|_| decode("idempotency hash"))?,
        created_at: r.try_get("created_at")?,
        lines: Vec::new(),
        data_key: data_keys::from_row(r)?,
        coupon_code: r.try_get("coupon_code")?,
    })
}

/// The columns of an order line, in the order [`bind_lines`] binds them.
pub(super) const LINE_COLUMNS: &str =
    "(order_id, line_no, sku, product_name, variant_label, unit_price_yen, quantity, tax_rate)";
/// The order an idempotency hash names.
pub(super) const ORDER_BY_HASH: &str = "SELECT id FROM orders WHERE idempotency_hash = $1";
/// A coupon's use by one holder (`$2`) for an order (`$3`); nothing if that holder used it.
pub(super) const USE_COUPON: &str = "INSERT INTO coupon_uses (coupon_id, holder, order_id) \
     SELECT id, $2, $3 FROM coupons WHERE code = $1 ON CONFLICT (coupon_id, holder) DO NOTHING";
/// Takes stock at the price the customer saw, only if enough is left.
pub(super) const TAKE_STOCK: &str =
    "UPDATE variants SET stock = stock - $1 WHERE sku = $2 AND price_yen = $3 AND stock >= $1";
/// A variant's price now (why taking its stock failed).
pub(super) const PRICE_OF: &str = "SELECT price_yen FROM variants WHERE sku = $1";
/// A sent mail's verification code, with the masked, sealed recipient.
pub(super) const INSERT_RECEIPT: &str = "INSERT INTO mail_receipts (id, code_mac, kind, recipient, created_at) \
     VALUES ($1, $2, $3, $4, $5)";

/// Writes the order row, its lines and its data key; false (nothing written) when an order
/// with its idempotency hash exists: the unique key tells a repeated submission, without a
/// lookup on the common path.
/// A new order row; a repeated idempotency hash inserts nothing.
pub(super) const INSERT_ORDER: &str = "INSERT INTO orders (id, number, customer_id, status, payment_method, lang, buyer, recipient, access_token, email_bidx, phone_bidx, \
     delivery_date, delivery_slot, goods_yen, shipping_yen, cod_fee_yen, total_yen, tax_standard_base, tax_standard, tax_reduced_base, \
     tax_reduced, payment_session_id, payment_url, payment_expires_at, idempotency_hash, created_at, updated_at, data_key_id, \
     discount_yen, coupon_code) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30) \
     ON CONFLICT (idempotency_hash) DO NOTHING";

/// The order's new data key, in the same call as [`INSERT_ORDER`] where the dialect allows
/// several statements per call: stored only if the order row was (`changes()` is the row count
/// of the statement before).
const INSERT_ORDER_KEY: &str = "; INSERT INTO data_keys (id, wrapped, created_at) \
     SELECT $31, $32, $33 WHERE changes() = 1 ON CONFLICT (id) DO NOTHING";

async fn insert_order_rows(tx: &mut Conn, o: &OrderRecord) -> Result<bool, sqlx::Error> {
    let new_key = o
        .data_key
        .as_ref()
        .and_then(|k| k.wrapped.as_ref().map(|w| (k.id, w)));
    let joined = dialect::MULTI_STATEMENT && new_key.is_some();
    // Joined, the lines go in the same call too, numbered after the order's and the key's
    // values, and only if the order row went in (a repeated hash inserts none).
    let lines_sql = |start: usize, guard: &str| {
        let rows = (0..o.lines.len())
            .map(|i| format!("({})", placeholders(start + i * 8, 8)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("INSERT INTO order_lines {LINE_COLUMNS} {guard}{rows}")
    };
    let sql = match (joined, o.lines.is_empty()) {
        (true, false) => format!(
            "{INSERT_ORDER}{INSERT_ORDER_KEY}; {} ) WHERE EXISTS (SELECT 1 FROM orders WHERE id = $1)",
            lines_sql(34, "SELECT * FROM (VALUES ")
        ),
        (true, true) => format!("{INSERT_ORDER}{INSERT_ORDER_KEY}"),
        (false, _) => INSERT_ORDER.to_string(),
    };
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(o.id)
        .bind(&o.number)
        .bind(o.customer_id)
        .bind(o.status.code())
        .bind(o.payment.code())
        .bind(&o.lang)
        .bind(o.buyer.as_bytes().to_vec())
        .bind(o.recipient.as_ref().map(|r| r.as_bytes().to_vec()))
        .bind(o.access_token.as_bytes().to_vec())
        .bind(o.email_bidx.as_bytes().to_vec())
        .bind(o.phone_bidx.as_bytes().to_vec())
        .bind(&o.delivery_date)
        .bind(&o.delivery_slot)
        .bind(o.totals.goods.0)
        .bind(o.totals.shipping.0)
        .bind(o.totals.cod_fee.0)
        .bind(o.totals.total.0)
        .bind(o.totals.tax.standard_total.0)
        .bind(o.totals.tax.standard_tax.0)
        .bind(o.totals.tax.reduced_total.0)
        .bind(o.totals.tax.reduced_tax.0)
        .bind(&o.payment_session_id)
        .bind(&o.payment_url)
        .bind(o.payment_expires_at)
        .bind(o.idempotency_hash.to_vec())
        .bind(o.created_at)
        .bind(o.created_at)
        .bind(data_keys::id_of(o.data_key.as_ref()))
        .bind(o.totals.discount.0)
        .bind(&o.coupon_code);
    if let Some((id, wrapped)) = new_key.filter(|_| joined) {
        q = q
            .bind(id)
            .bind(wrapped.as_bytes().to_vec())
            .bind(now_epoch());
        q = bind_lines(q, o);
    }
    // Joined, the count is the order's row, the key's (0 when stored before) and the lines':
    // nothing at all when the order's idempotency hash was there already.
    let inserted = q.execute(&mut *tx).await?.rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    if joined {
        return Ok(true);
    }
    data_keys::ensure(&mut *tx, o.data_key.as_ref()).await?;
    if o.lines.is_empty() {
        return Ok(true);
    }
    // All lines in one statement (a cart holds at most a few dozen).
    let q = sqlx::query(AssertSqlSafe(lines_sql(1, "VALUES ")));
    bind_lines(q, o).execute(&mut *tx).await?;
    Ok(true)
}

/// Binds each line's eight values, in `order_lines`' column order.
fn bind_lines<'q>(
    mut q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>,
    o: &'q OrderRecord,
) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
    for (i, l) in o.lines.iter().enumerate() {
        q = q
            .bind(o.id)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(&l.sku)
            .bind(&l.product_name)
            .bind(&l.variant_label)
            .bind(l.unit_price.0)
            .bind(i64::from(l.quantity))
            .bind(l.tax.code());
    }
    q
}

/// Binds an outbox row's six values, in [`INSERT_MAIL`]'s order.
fn bind_mail<'q>(
    q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments>,
    m: &'q OutboxRecord,
) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments> {
    q.bind(m.id)
        .bind(&m.kind)
        .bind(m.payload.as_bytes().to_vec())
        .bind(m.attempts)
        .bind(m.next_attempt_at)
        .bind(data_keys::id_of(m.data_key.as_ref()))
}

pub(crate) async fn insert_mail(tx: &mut Conn, m: &OutboxRecord) -> Result<(), sqlx::Error> {
    bind_mail(sqlx::query(INSERT_MAIL), m)
        .execute(&mut *tx)
        .await?;
    insert_receipt(&mut *tx, m).await
}

/// Keeps the mail's verification code (its MAC) with the masked, sealed recipient.
async fn insert_receipt(tx: &mut Conn, m: &OutboxRecord) -> Result<(), sqlx::Error> {
    if let Some(r) = &m.receipt {
        sqlx::query(INSERT_RECEIPT)
            .bind(r.id)
            .bind(r.code_mac.clone())
            .bind(&r.kind)
            .bind(r.recipient.as_bytes().to_vec())
            .bind(r.created_at)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// The body of `place_order`: decides, and writes only when the answer is `Placed` (then
/// [`finish_placed`] empties the cart and queues the mail).
async fn place_in(tx: &mut Conn, o: &OrderRecord) -> Result<PlaceOutcome, sqlx::Error> {
    // The order row goes in first: its unique idempotency hash tells a repeated submission.
    // Everything here is undone together if the answer is not `Placed`.
    if !insert_order_rows(&mut *tx, o).await? {
        let existing: Option<i64> = sqlx::query_scalar(ORDER_BY_HASH)
            .bind(o.idempotency_hash.to_vec())
            .fetch_optional(&mut *tx)
            .await?;
        return match existing {
            Some(order_id) => Ok(PlaceOutcome::Duplicate { order_id }),
            None => Err(sqlx::Error::RowNotFound),
        };
    }
    // Once per customer: the uses go in with the order, so two orders at once with one code
    // and one email (or account) cannot both be placed; the second waits for the first's
    // transaction and then finds its row.
    if let Some(code) = &o.coupon_code {
        for holder in kura_app::coupons::holders(o.email_bidx.as_bytes(), o.customer_id) {
            let used = sqlx::query(USE_COUPON)
                .bind(code)
                .bind(holder)
                .bind(o.id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if used == 0 {
                return Ok(PlaceOutcome::CouponUsed);
            }
        }
    }
    // Variant rows are locked in SKU order (an UPDATE locks its row), so concurrent orders
    // cannot deadlock; each takes the stock only at the price the customer saw and only if
    // enough is left.
    let mut lines: Vec<&OrderLineRecord> = o.lines.iter().collect();
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    for l in lines {
        let taken = sqlx::query(TAKE_STOCK)
            .bind(i64::from(l.quantity))
            .bind(&l.sku)
            .bind(l.unit_price.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if taken == 1 {
            continue;
        }
        let price: Option<i64> = sqlx::query_scalar(PRICE_OF)
            .bind(&l.sku)
            .fetch_optional(&mut *tx)
            .await?;
        return Ok(match price {
            None => PlaceOutcome::Unavailable { sku: l.sku.clone() },
            Some(p) if p != l.unit_price.0 => PlaceOutcome::PriceChanged { sku: l.sku.clone() },
            Some(_) => PlaceOutcome::SoldOut { sku: l.sku.clone() },
        });
    }
    Ok(PlaceOutcome::Placed)
}

pub(super) const EMPTY_CART: &str = "DELETE FROM cart_items WHERE cart_id = $1";
pub(super) const INSERT_MAIL: &str = "INSERT INTO mail_outbox (id, kind, payload, attempts, next_attempt_at, data_key_id) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// After a placed order: empties the cart and queues the confirmation, in one call where the
/// dialect allows several statements per call.
async fn finish_placed(
    tx: &mut Conn,
    cart_id: Option<i64>,
    mail: Option<&OutboxRecord>,
) -> Result<(), sqlx::Error> {
    if let (Some(cart), Some(m), true) = (cart_id, mail, dialect::MULTI_STATEMENT) {
        let sql = format!("{}; {}", INSERT_MAIL, EMPTY_CART.replace("$1", "$7"));
        bind_mail(sqlx::query(AssertSqlSafe(sql)), m)
            .bind(cart)
            .execute(&mut *tx)
            .await?;
        return insert_receipt(&mut *tx, m).await;
    }
    if let Some(cart) = cart_id {
        sqlx::query(EMPTY_CART).bind(cart).execute(&mut *tx).await?;
    }
    if let Some(m) = mail {
        insert_mail(&mut *tx, m).await?;
    }
    Ok(())
}

/// Moves an order as `t` says; true when it was in one of `t.from`.
async fn transition_in(tx: &mut Conn, t: &Transition<'_>, now: i64) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE orders SET status = $1, updated_at = $2 WHERE id = $3 AND status IN ({})",
        placeholders(4, t.from.len().max(1))
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(t.to.code())
        .bind(now)
        .bind(t.order_id);
    for s in t.from {
        q = q.bind(s.code());
    }
    if t.from.is_empty() {
        q = q.bind("");
    }
    let moved = q.execute(&mut *tx).await?.rows_affected() == 1;
    if moved && t.restock {
        let lines = sqlx::query("SELECT sku, quantity FROM order_lines WHERE order_id = $1")
            .bind(t.order_id)
            .fetch_all(&mut *tx)
            .await?;
        for l in &lines {
            sqlx::query("UPDATE variants SET stock = stock + $1 WHERE sku = $2")
                .bind(l.try_get::<i64, _>("quantity")?)
                .bind(l.try_get::<String, _>("sku")?)
                .execute(&mut *tx)
                .await?;
        }
        // A cancelled or expired order no longer uses its coupon: the customer may again.
        sqlx::query("DELETE FROM coupon_uses WHERE order_id = $1")
            .bind(t.order_id)
            .execute(&mut *tx)
            .await?;
    }
    if moved && let Some(m) = t.mail {
        insert_mail(&mut *tx, m).await?;
    }
    Ok(moved)
}

/// Records a provider event id; false when it was there already.
async fn record_event(tx: &mut Conn, event_id: &str, now: i64) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "INSERT INTO payment_events (event_id, received_at) VALUES ($1, $2) ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1)
}

fn outbox_from_row(r: &DbRow) -> Result<OutboxRecord, sqlx::Error> {
    Ok(OutboxRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        payload: Sealed::from_stored(r.try_get("payload")?),
        attempts: r.try_get("attempts")?,
        next_attempt_at: r.try_get("next_attempt_at")?,
        data_key: data_keys::from_row(r)?,
        receipt: None,
    })
}

/// A catalog item from a row with the variant's and product's columns.
fn catalog_item(r: &DbRow) -> Result<CatalogItem, sqlx::Error> {
    Ok(CatalogItem {
        sku: r.try_get("sku")?,
        product_slug: r.try_get("slug")?,
        product_name_ja: r.try_get("name_ja")?,
        product_name_en: r.try_get("name_en")?,
        label_ja: r.try_get("label_ja")?,
        label_en: r.try_get("label_en")?,
        price: Yen(r.try_get("price_yen")?),
        tax: tax_of(&r.try_get::<String, _>("tax_rate")?)?,
        stock: r.try_get("stock")?,
        image: r.try_get("image")?,
    })
}

impl This {
    /// A cart's lines (SKU order) and their catalog items, in one query.
    pub(crate) async fn cart_lines_joined(
        &self,
        cart_id: i64,
    ) -> Result<(Vec<(String, u32)>, Vec<CatalogItem>), StoreError> {
        if let Some(read) = dialect::cart_lines(self, cart_id) {
            return read;
        }
        let rows = sqlx::query(
            "SELECT ci.sku, ci.quantity, v.label_ja, v.label_en, v.price_yen, v.stock, \
             p.slug, p.name_ja, p.name_en, p.tax_rate, p.image \
             FROM cart_items ci \
             LEFT JOIN variants v ON v.sku = ci.sku \
             LEFT JOIN products p ON p.id = v.product_id AND p.active = 1 \
             WHERE ci.cart_id = $1",
        )
        .bind(cart_id)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        let mut lines = Vec::with_capacity(rows.len());
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let sku: String = r.try_get("sku").map_err(db_err)?;
            let quantity: i64 = r.try_get("quantity").map_err(db_err)?;
            lines.push((sku, u32::try_from(quantity).unwrap_or(0)));
            // No active product behind the line: the line stays, without an item.
            if r.try_get::<Option<String>, _>("slug")
                .map_err(db_err)?
                .is_some()
            {
                items.push(catalog_item(r).map_err(db_err)?);
            }
        }
        // SKU order by bytes, the same on both backends whatever their collation.
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        items.sort_by(|a, b| a.sku.cmp(&b.sku));
        Ok((lines, items))
    }
}

impl This {
    /// One statement written as its own job (in one trip where the dialect can).
    async fn write_one(&self, sql: &'static str, binds: Vec<Bind>) -> Result<u64, StoreError> {
        if let Some(done) = dialect::write_one(self, sql, &binds).await {
            return done;
        }
        write_tx!(self, |tx| {
            let mut q = sqlx::query(sql);
            for b in &binds {
                q = match b {
                    Bind::Int(v) => q.bind(*v),
                    Bind::Text(v) => q.bind(v.clone()),
                };
            }
            q.execute(&mut *tx).await?.rows_affected()
        })
    }

    async fn lines_of(&self, mut orders: Vec<OrderRecord>) -> Result<Vec<OrderRecord>, StoreError> {
        if orders.is_empty() {
            return Ok(orders);
        }
        let sql = format!(
            "SELECT * FROM order_lines WHERE order_id IN ({}) ORDER BY order_id, line_no",
            placeholders(1, orders.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for o in &orders {
            q = q.bind(o.id);
        }
        let rows = q.fetch_all(self.reads()).await.map_err(db_err)?;
        for r in &rows {
            let order_id: i64 = r.try_get("order_id").map_err(db_err)?;
            let line = OrderLineRecord {
                sku: r.try_get("sku").map_err(db_err)?,
                product_name: r.try_get("product_name").map_err(db_err)?,
                variant_label: r.try_get("variant_label").map_err(db_err)?,
                unit_price: Yen(r.try_get("unit_price_yen").map_err(db_err)?),
                quantity: u32::try_from(r.try_get::<i64, _>("quantity").map_err(db_err)?)
                    .unwrap_or(0),
                tax: tax_of(&r.try_get::<String, _>("tax_rate").map_err(db_err)?)
                    .map_err(db_err)?,
            };
            if let Some(o) = orders.iter_mut().find(|o| o.id == order_id) {
                o.lines.push(line);
            }
        }
        Ok(orders)
    }

    async fn one_order(
        &self,
        sql: &'static str,
        bind: Bind,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let q = sqlx::query(sql);
        let q = match bind {
            Bind::Int(v) => q.bind(v),
            Bind::Text(v) => q.bind(v),
        };
        let row = q.fetch_optional(self.reads()).await.map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let order = order_from_row(&row).map_err(db_err)?;
        Ok(self.lines_of(vec![order]).await?.into_iter().next())
    }
}

#[async_trait]
impl OrderRepo for This {
    async fn place_order(
        &self,
        order: &OrderRecord,
        cart_id: Option<i64>,
        mail: Option<&OutboxRecord>,
    ) -> Result<PlaceOutcome, StoreError> {
        // Sold out, repriced or repeated: nothing of this attempt is kept.
        let placed = match dialect::place_order(self, order, cart_id, mail).await {
            Some(placed) => placed,
            None => write_tx!(self, keep_if |o: &PlaceOutcome| *o == PlaceOutcome::Placed, |tx| {
                let outcome = place_in(&mut *tx, order).await?;
                if outcome == PlaceOutcome::Placed {
                    finish_placed(&mut *tx, cart_id, mail).await?;
                }
                outcome
            }),
        };
        match placed {
            // The same submission raced us to the unique idempotency key: answer with its order.
            Err(StoreError::Conflict) => self
                .order_id_by_idempotency(&order.idempotency_hash)
                .await?
                .map(|order_id| PlaceOutcome::Duplicate { order_id })
                .ok_or(StoreError::Conflict),
            other => other,
        }
    }

    async fn order_id_by_idempotency(&self, hash: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar(ORDER_BY_HASH)
            .bind(hash.to_vec())
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)
    }

    async fn order_by_id(&self, id: i64) -> Result<Option<OrderRecord>, StoreError> {
        self.one_order(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM orders t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.id = $1",
            Bind::Int(id),
        )
        .await
    }

    async fn order_by_number(&self, number: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.one_order(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM orders t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE t.number = $1",
            Bind::Text(number.to_string()),
        )
        .await
    }

    async fn orders_of_customer(
        &self,
        customer_id: i64,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM orders t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id \
             WHERE t.customer_id = $1 ORDER BY t.created_at DESC, t.id DESC LIMIT $2",
        )
        .bind(customer_id)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        let orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        self.lines_of(orders).await
    }

    async fn set_payment_session(
        &self,
        order_id: i64,
        session_id: &str,
        url: &str,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE orders SET payment_session_id = $1, payment_url = $2 WHERE id = $3",
            )
            .bind(session_id)
            .bind(url)
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn set_payment_deadline(
        &self,
        order_id: i64,
        session_id: &str,
        url: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE orders SET payment_session_id = $1, payment_url = $2, payment_expires_at = $3 WHERE id = $4",
            )
            .bind(session_id)
            .bind(url)
            .bind(expires_at)
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn transition_order(
        &self,
        order_id: i64,
        from: &[OrderStatus],
        to: OrderStatus,
        restock: bool,
        now: i64,
        mail: Option<&OutboxRecord>,
    ) -> Result<bool, StoreError> {
        let t = Transition {
            order_id,
            from,
            to,
            restock,
            mail,
        };
        write_tx!(self, |tx| { transition_in(&mut *tx, &t, now).await? })
    }

    async fn awaiting_transfers_before(
        &self,
        created_before: i64,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM orders t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id \
             WHERE t.status = 'awaiting_transfer' AND t.created_at < $1 \
             ORDER BY t.id LIMIT 500",
        )
        .bind(created_before)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        let orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        self.lines_of(orders).await
    }

    async fn due_expirations(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM orders WHERE status IN ('awaiting_payment', 'awaiting_konbini') AND payment_expires_at < $1 LIMIT 500")
            .bind(now)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)
    }

    async fn record_payment_event(&self, event_id: &str, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| { record_event(&mut *tx, event_id, now).await? })
    }

    async fn apply_payment_event(
        &self,
        event_id: &str,
        now: i64,
        transition: &Transition<'_>,
    ) -> Result<PaymentEventOutcome, StoreError> {
        write_tx!(self, |tx| {
            if record_event(&mut *tx, event_id, now).await? {
                PaymentEventOutcome::Applied {
                    moved: transition_in(&mut *tx, transition, now).await?,
                }
            } else {
                PaymentEventOutcome::Seen
            }
        })
    }

    async fn orders_page(
        &self,
        f: &OrderFilter,
        before_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let mut binds = vec![Bind::Int(before_id.unwrap_or(i64::MAX))];
        let mut conds = vec!["t.id < $1".to_string()];
        if !f.statuses.is_empty() {
            let start = binds.len() + 1;
            conds.push(format!(
                "t.status IN ({})",
                crate::placeholders(start, f.statuses.len())
            ));
            binds.extend(f.statuses.iter().cloned().map(Bind::Text));
        }
        if let Some(n) = &f.number {
            binds.push(Bind::Text(n.clone()));
            conds.push(format!("t.number = ${}", binds.len()));
        }
        let mut blobs: Vec<Vec<u8>> = Vec::new();
        if let Some(since) = f.since {
            binds.push(Bind::Int(since));
            conds.push(format!("t.created_at >= ${}", binds.len()));
        }
        if let Some(until) = f.until {
            binds.push(Bind::Int(until));
            conds.push(format!("t.created_at < ${}", binds.len()));
        }
        if !f.contact_bidx.is_empty() {
            let start = binds.len() + 1;
            let list = crate::placeholders(start, f.contact_bidx.len());
            conds.push(format!(
                "(t.email_bidx IN ({list}) OR t.phone_bidx IN ({list}))"
            ));
            blobs.extend(f.contact_bidx.iter().map(|b| b.as_bytes().to_vec()));
        }
        let sql = format!(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM orders t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id WHERE {} \
             ORDER BY t.id DESC LIMIT {}",
            conds.join(" AND "),
            limit.min(500)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = match b {
                Bind::Int(v) => q.bind(*v),
                Bind::Text(v) => q.bind(v.clone()),
            };
        }
        for b in blobs {
            q = q.bind(b);
        }
        let rows = q.fetch_all(self.reads()).await.map_err(db_err)?;
        let orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(db_err)?;
        self.lines_of(orders).await
    }

    async fn order_stats(
        &self,
        since: i64,
        counted: &[&str],
        open: &[&str],
    ) -> Result<(u64, i64, Vec<u64>), StoreError> {
        let sql = format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(total_yen), 0) AS BIGINT) FROM orders WHERE created_at >= $1 AND status IN ({})",
            crate::placeholders(2, counted.len().max(1))
        );
        let mut q = sqlx::query_as::<_, (i64, i64)>(AssertSqlSafe(sql)).bind(since);
        for c in counted {
            q = q.bind(*c);
        }
        if counted.is_empty() {
            q = q.bind("");
        }
        let (n, sum) = q.fetch_one(self.reads()).await.map_err(db_err)?;
        let mut per_status = Vec::with_capacity(open.len());
        for status in open {
            let k: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = $1")
                .bind(*status)
                .fetch_one(self.reads())
                .await
                .map_err(db_err)?;
            per_status.push(u64::try_from(k).unwrap_or(0));
        }
        Ok((u64::try_from(n).unwrap_or(0), sum, per_status))
    }

    async fn count_orders(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(self.reads())
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn insert_orders(&self, orders: &[OrderRecord]) -> Result<(), StoreError> {
        if let Some(done) = dialect::insert_orders(self, orders).await {
            return done;
        }
        write_tx!(self, |tx| {
            for o in orders {
                if !insert_order_rows(&mut *tx, o).await? {
                    return Err(sqlx::Error::Protocol(format!(
                        "order {} repeats an existing idempotency hash",
                        o.number
                    )));
                }
            }
        })
    }
}

#[async_trait]
impl OutboxRepo for This {
    async fn mail_receipt(
        &self,
        code_mac: &[u8],
    ) -> Result<Option<kura_app::records::MailReceiptRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT id, code_mac, kind, recipient, created_at FROM mail_receipts \
             WHERE code_mac = $1",
        )
        .bind(code_mac.to_vec())
        .fetch_optional(self.reads())
        .await
        .map_err(db_err)?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok(kura_app::records::MailReceiptRecord {
                id: r.try_get("id")?,
                code_mac: r.try_get("code_mac")?,
                kind: r.try_get("kind")?,
                recipient: Sealed::from_stored(r.try_get("recipient")?),
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
        .map_err(db_err)
    }

    async fn enqueue_mail(&self, m: &OutboxRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| { insert_mail(&mut *tx, m).await? })
    }

    async fn due_mail(&self, now: i64, limit: u32) -> Result<Vec<OutboxRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.*, dk.wrapped AS data_key_wrapped FROM mail_outbox t \
             LEFT JOIN data_keys dk ON dk.id = t.data_key_id \
             WHERE t.failed = 0 AND t.next_attempt_at <= $1 ORDER BY t.next_attempt_at LIMIT $2",
        )
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(outbox_from_row)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn claim_mail(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<OutboxRecord>, StoreError> {
        let sql = format!(
            "UPDATE mail_outbox SET next_attempt_at = $1 WHERE id IN \
             (SELECT id FROM mail_outbox WHERE failed = 0 AND next_attempt_at <= $2 \
              ORDER BY next_attempt_at LIMIT $3{}) RETURNING *, \
             (SELECT dk.wrapped FROM data_keys dk WHERE dk.id = mail_outbox.data_key_id) AS data_key_wrapped",
            dialect::SKIP_LOCKED
        );
        let rows = write_tx!(self, |tx| {
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(lease_until)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?
        })?;
        let mut claimed = rows
            .iter()
            .map(outbox_from_row)
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err)?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    async fn mail_sent(&self, id: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM mail_outbox WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn mail_defer(
        &self,
        id: i64,
        lease_until: i64,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE mail_outbox SET next_attempt_at = $1 WHERE id = $2 AND next_attempt_at = $3",
            )
            .bind(next_attempt_at)
            .bind(id)
            .bind(lease_until)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn mark_undeliverable(
        &self,
        r: &kura_app::records::UndeliverableRecord,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO mail_undeliverable (id, address, email_bidx, status, source, marked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (email_bidx) DO UPDATE SET \
                 status = excluded.status, source = excluded.source, marked_at = excluded.marked_at",
            )
            .bind(r.id)
            .bind(r.address.as_bytes().to_vec())
            .bind(r.email_bidx.as_bytes().to_vec())
            .bind(&r.status)
            .bind(&r.source)
            .bind(r.marked_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn undeliverable(
        &self,
        email_bidx: &[BlindIndex],
    ) -> Result<Option<kura_app::records::UndeliverableRecord>, StoreError> {
        if email_bidx.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT id, address, email_bidx, status, source, marked_at FROM mail_undeliverable \
             WHERE email_bidx IN ({}) ORDER BY marked_at DESC LIMIT 1",
            placeholders(1, email_bidx.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in email_bidx {
            q = q.bind(b.as_bytes().to_vec());
        }
        let row = q.fetch_optional(self.reads()).await.map_err(db_err)?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok(kura_app::records::UndeliverableRecord {
                id: r.try_get("id")?,
                address: Sealed::from_stored(r.try_get("address")?),
                email_bidx: BlindIndex::from_stored(r.try_get("email_bidx")?),
                status: r.try_get("status")?,
                source: r.try_get("source")?,
                marked_at: r.try_get("marked_at")?,
            })
        })
        .transpose()
        .map_err(db_err)
    }

    async fn forget_undeliverable(&self, email_bidx: &[BlindIndex]) -> Result<(), StoreError> {
        if email_bidx.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM mail_undeliverable WHERE email_bidx IN ({})",
            placeholders(1, email_bidx.len())
        );
        write_tx!(self, |tx| {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()));
            for b in email_bidx {
                q = q.bind(b.as_bytes().to_vec());
            }
            q.execute(&mut *tx).await?;
        })
    }

    async fn mail_failed(
        &self,
        id: i64,
        lease_until: i64,
        next_attempt_at: i64,
        give_up: bool,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $1, failed = $2 WHERE id = $3 AND next_attempt_at = $4")
                .bind(next_attempt_at)
                .bind(i64::from(give_up))
                .bind(id)
                .bind(lease_until)
                .execute(&mut *tx)
                .await?;
        })
    }
}
