//! Catalog, carts, orders and the mail outbox on SQLite.

use async_trait::async_trait;
use kura_app::catalog::{CatalogItem, Category, Product, ProductPage, Variant};
use kura_app::error::StoreError;
use kura_app::ports::{CartRepo, CatalogRepo, OrderRepo, OutboxRepo};
use kura_app::sealed::{OrderLineRecord, OrderRecord, OutboxRecord, PlaceOutcome};
use kura_domain::{OrderStatus, PaymentMethod, TaxBreakdown, TaxRate, Totals, Yen};
use kura_seal::{BlindIndex, Sealed};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

use crate::writer::WriteError;
use crate::{SqliteStore, back_off, db_err, should_retry, write_err};

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn tax_of(code: &str) -> Result<TaxRate, sqlx::Error> {
    TaxRate::parse(code)
        .ok_or_else(|| sqlx::Error::Decode(format!("unknown tax rate {code}").into()))
}

fn product_from_row(r: &SqliteRow) -> Result<Product, sqlx::Error> {
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
    })
}

fn variant_from_row(r: &SqliteRow) -> Result<Variant, sqlx::Error> {
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

impl SqliteStore {
    async fn with_variants(&self, mut products: Vec<Product>) -> Result<Vec<Product>, StoreError> {
        if products.is_empty() {
            return Ok(products);
        }
        let sql = format!(
            "SELECT * FROM variants WHERE product_id IN ({}) ORDER BY product_id, position, id",
            placeholders(products.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for p in &products {
            q = q.bind(p.id);
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
        for r in &rows {
            let v = variant_from_row(r).map_err(db_err)?;
            if let Some(p) = products.iter_mut().find(|p| p.id == v.product_id) {
                p.variants.push(v);
            }
        }
        Ok(products)
    }

    async fn page_of(
        &self,
        ids_sql: &str,
        binds: &[String],
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError> {
        let count_sql =
            format!("SELECT COUNT(*) FROM products WHERE active = 1 AND id IN ({ids_sql})");
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
        for b in binds {
            q = q.bind(b.clone());
        }
        let total = q.fetch_one(&self.read).await.map_err(db_err)?;
        let sql = format!(
            "SELECT * FROM products WHERE active = 1 AND id IN ({ids_sql}) ORDER BY category_id, position, id LIMIT ? OFFSET ?"
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in binds {
            q = q.bind(b.clone());
        }
        let rows = q
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.read)
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

/// Escapes LIKE wildcards so a query is matched literally.
fn like_literal(word: &str) -> String {
    let escaped = word
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
impl CatalogRepo for SqliteStore {
    async fn upsert_category(&self, c: &Category) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO categories (id, slug, name_ja, name_en, position) VALUES (?, ?, ?, ?, ?) \
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
        write_tx!(self, |tx| {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM products WHERE slug = ?")
                .bind(&p.slug)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_some() {
                false
            } else {
                sqlx::query(
                    "INSERT INTO products (id, slug, category_id, name_ja, name_en, description_ja, description_en, tax_rate, image, position, active, search_text) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
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
                .execute(&mut *tx)
                .await?;
                for v in &p.variants {
                    sqlx::query(
                        "INSERT INTO variants (id, product_id, sku, label_ja, label_en, price_yen, stock, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
                true
            }
        })
    }

    async fn categories(&self) -> Result<Vec<Category>, StoreError> {
        let rows = sqlx::query("SELECT * FROM categories ORDER BY position, id")
            .fetch_all(&self.read)
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
                    "SELECT id FROM products WHERE category_id = ?",
                    &[c.to_string()],
                    offset,
                    limit,
                )
                .await
            }
            None => {
                self.page_of("SELECT id FROM products", &[], offset, limit)
                    .await
            }
        }
    }

    async fn product_by_slug(&self, slug: &str) -> Result<Option<Product>, StoreError> {
        let row = sqlx::query("SELECT * FROM products WHERE slug = ? AND active = 1")
            .bind(slug)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let product = product_from_row(&row).map_err(db_err)?;
        Ok(self.with_variants(vec![product]).await?.into_iter().next())
    }

    async fn search_products(
        &self,
        query: &str,
        offset: u32,
        limit: u32,
    ) -> Result<ProductPage, StoreError> {
        let words: Vec<String> = query.split_whitespace().map(str::to_string).collect();
        if words.is_empty() {
            return Ok(ProductPage::default());
        }
        // The trigram index needs three characters per word; shorter words fall back to LIKE.
        if words.iter().all(|w| w.chars().count() >= 3) {
            let fts = words
                .iter()
                .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
                .collect::<Vec<_>>()
                .join(" AND ");
            self.page_of(
                "SELECT rowid FROM product_search WHERE product_search MATCH ?",
                &[fts],
                offset,
                limit,
            )
            .await
        } else {
            let cond = vec!["search_text LIKE ? ESCAPE '\\'"; words.len()].join(" AND ");
            let binds: Vec<String> = words.iter().map(|w| like_literal(w)).collect();
            self.page_of(
                &format!("SELECT id FROM products WHERE {cond}"),
                &binds,
                offset,
                limit,
            )
            .await
        }
    }

    async fn catalog_items(&self, skus: &[String]) -> Result<Vec<CatalogItem>, StoreError> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT v.sku, v.label_ja, v.label_en, v.price_yen, v.stock, p.slug, p.name_ja, p.name_en, p.tax_rate, p.image \
             FROM variants v JOIN products p ON p.id = v.product_id WHERE p.active = 1 AND v.sku IN ({})",
            placeholders(skus.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for s in skus {
            q = q.bind(s);
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
        rows.iter()
            .map(catalog_item)
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn set_price(&self, sku: &str, price: Yen) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE variants SET price_yen = ? WHERE sku = ?")
                .bind(price.0)
                .bind(sku)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn set_stock(&self, sku: &str, stock: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE variants SET stock = ? WHERE sku = ?")
                .bind(stock)
                .bind(sku)
                .execute(&mut *tx)
                .await?;
        })
    }
}

#[async_trait]
impl CartRepo for SqliteStore {
    async fn create_cart(
        &self,
        id: i64,
        token_hash: Option<[u8; 32]>,
        customer_id: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("INSERT INTO carts (id, token_hash, customer_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)")
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
        sqlx::query_scalar("SELECT id FROM carts WHERE token_hash = ?")
            .bind(token_hash.to_vec())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)
    }

    async fn cart_of_customer(&self, customer_id: i64) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM carts WHERE customer_id = ?")
            .bind(customer_id)
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)
    }

    async fn cart_items(&self, cart_id: i64) -> Result<Vec<(String, u32)>, StoreError> {
        let rows =
            sqlx::query("SELECT sku, quantity FROM cart_items WHERE cart_id = ? ORDER BY sku")
                .bind(cart_id)
                .fetch_all(&self.read)
                .await
                .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("sku")?,
                    u32::try_from(r.try_get::<i64, _>("quantity")?).unwrap_or(0),
                ))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn set_cart_item(
        &self,
        cart_id: i64,
        sku: &str,
        quantity: u32,
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("INSERT INTO cart_items (cart_id, sku, quantity) VALUES (?, ?, ?) ON CONFLICT (cart_id, sku) DO UPDATE SET quantity = excluded.quantity")
                .bind(cart_id)
                .bind(sku)
                .bind(i64::from(quantity))
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE carts SET updated_at = ? WHERE id = ?")
                .bind(now)
                .bind(cart_id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn remove_cart_item(&self, cart_id: i64, sku: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM cart_items WHERE cart_id = ? AND sku = ?")
                .bind(cart_id)
                .bind(sku)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn delete_cart(&self, cart_id: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM carts WHERE id = ?")
                .bind(cart_id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn delete_idle_guest_carts(&self, before: i64, limit: u32) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM carts WHERE id IN (SELECT id FROM carts WHERE customer_id IS NULL AND updated_at < ? LIMIT ?)",
            )
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *tx)
            .await?
            .rows_affected()
        })
    }
}

fn order_from_row(r: &SqliteRow) -> Result<OrderRecord, sqlx::Error> {
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
    })
}

async fn insert_order_rows(tx: &mut SqliteConnection, o: &OrderRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO orders (id, number, customer_id, status, payment_method, lang, buyer, recipient, access_token, email_bidx, phone_bidx, \
         delivery_date, delivery_slot, goods_yen, shipping_yen, cod_fee_yen, total_yen, tax_standard_base, tax_standard, tax_reduced_base, \
         tax_reduced, payment_session_id, payment_url, payment_expires_at, idempotency_hash, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
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
    .execute(&mut *tx)
    .await?;
    if o.lines.is_empty() {
        return Ok(());
    }
    // All lines in one statement (a cart holds at most a few dozen).
    let sql = format!(
        "INSERT INTO order_lines (order_id, line_no, sku, product_name, variant_label, unit_price_yen, quantity, tax_rate) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; o.lines.len()].join(", ")
    );
    let mut q = sqlx::query(AssertSqlSafe(sql));
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
    q.execute(&mut *tx).await?;
    Ok(())
}

async fn insert_mail(tx: &mut SqliteConnection, m: &OutboxRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, kind, payload, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(m.id)
    .bind(&m.kind)
    .bind(m.payload.as_bytes().to_vec())
    .bind(m.attempts)
    .bind(m.next_attempt_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The body of `place_order`: decides, and writes only when the answer is `Placed`.
async fn place_in(
    tx: &mut SqliteConnection,
    o: &OrderRecord,
    cart_id: Option<i64>,
) -> Result<PlaceOutcome, sqlx::Error> {
    // The order row goes in first: its unique idempotency hash is what tells a repeated
    // submission, without a lookup on the common path. Everything here is undone together if
    // the answer is not `Placed`.
    match insert_order_rows(&mut *tx, o).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
            let existing: Option<i64> =
                sqlx::query_scalar("SELECT id FROM orders WHERE idempotency_hash = ?")
                    .bind(o.idempotency_hash.to_vec())
                    .fetch_optional(&mut *tx)
                    .await?;
            return match existing {
                Some(order_id) => Ok(PlaceOutcome::Duplicate { order_id }),
                // Some other key collided (an order number): a plain error, retried by no one.
                None => Err(sqlx::Error::Database(d)),
            };
        }
        Err(e) => return Err(e),
    }
    for l in &o.lines {
        // Takes the stock only at the price the customer saw and only if enough is left.
        let taken = sqlx::query(
            "UPDATE variants SET stock = stock - ? WHERE sku = ? AND price_yen = ? AND stock >= ?",
        )
        .bind(i64::from(l.quantity))
        .bind(&l.sku)
        .bind(l.unit_price.0)
        .bind(i64::from(l.quantity))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken == 1 {
            continue;
        }
        let row = sqlx::query("SELECT price_yen FROM variants WHERE sku = ?")
            .bind(&l.sku)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(PlaceOutcome::Unavailable { sku: l.sku.clone() });
        };
        let price: i64 = row.try_get("price_yen")?;
        return Ok(if price != l.unit_price.0 {
            PlaceOutcome::PriceChanged { sku: l.sku.clone() }
        } else {
            PlaceOutcome::SoldOut { sku: l.sku.clone() }
        });
    }
    if let Some(cart) = cart_id {
        sqlx::query("DELETE FROM cart_items WHERE cart_id = ?")
            .bind(cart)
            .execute(&mut *tx)
            .await?;
    }
    Ok(PlaceOutcome::Placed)
}

/// A catalog item from a row with the variant's and product's columns.
fn catalog_item(r: &SqliteRow) -> Result<CatalogItem, sqlx::Error> {
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

impl SqliteStore {
    pub(crate) async fn cart_lines_joined(
        &self,
        cart_id: i64,
    ) -> Result<(Vec<(String, u32)>, Vec<CatalogItem>), StoreError> {
        let rows = sqlx::query(
            "SELECT ci.sku, ci.quantity, v.label_ja, v.label_en, v.price_yen, v.stock, \
             p.slug, p.name_ja, p.name_en, p.tax_rate, p.image \
             FROM cart_items ci \
             LEFT JOIN variants v ON v.sku = ci.sku \
             LEFT JOIN products p ON p.id = v.product_id AND p.active = 1 \
             WHERE ci.cart_id = ? ORDER BY ci.sku",
        )
        .bind(cart_id)
        .fetch_all(&self.read)
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
        Ok((lines, items))
    }

    async fn lines_of(&self, mut orders: Vec<OrderRecord>) -> Result<Vec<OrderRecord>, StoreError> {
        if orders.is_empty() {
            return Ok(orders);
        }
        let sql = format!(
            "SELECT * FROM order_lines WHERE order_id IN ({}) ORDER BY order_id, line_no",
            placeholders(orders.len())
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for o in &orders {
            q = q.bind(o.id);
        }
        let rows = q.fetch_all(&self.read).await.map_err(db_err)?;
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
        bind: impl ToString,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let row = sqlx::query(sql)
            .bind(bind.to_string())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let order = order_from_row(&row).map_err(db_err)?;
        Ok(self.lines_of(vec![order]).await?.into_iter().next())
    }
}

#[async_trait]
impl OrderRepo for SqliteStore {
    async fn place_order(
        &self,
        order: &OrderRecord,
        cart_id: Option<i64>,
        mail: Option<&OutboxRecord>,
    ) -> Result<PlaceOutcome, StoreError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<PlaceOutcome, WriteError> = async {
                let mut job = self.writer.job().await?;
                let placed = match place_in(job.conn()?, order, cart_id).await {
                    Ok(PlaceOutcome::Placed) => match mail {
                        Some(m) => insert_mail(job.conn()?, m)
                            .await
                            .map(|()| PlaceOutcome::Placed),
                        None => Ok(PlaceOutcome::Placed),
                    },
                    other => other,
                };
                match placed {
                    Ok(PlaceOutcome::Placed) => {
                        job.keep().await?;
                        Ok(PlaceOutcome::Placed)
                    }
                    // Sold out, repriced or repeated: nothing of this attempt is kept.
                    Ok(other) => {
                        job.undo().await?;
                        Ok(other)
                    }
                    Err(e) => {
                        job.undo().await?;
                        Err(WriteError::Sql(e))
                    }
                }
            }
            .await;
            match result {
                Ok(v) => return Ok(v),
                Err(e) if should_retry(&e, attempt) => back_off(&e, attempt).await,
                Err(e) => return Err(write_err(e)),
            }
        }
    }

    async fn order_id_by_idempotency(&self, hash: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM orders WHERE idempotency_hash = ?")
            .bind(hash.to_vec())
            .fetch_optional(&self.read)
            .await
            .map_err(db_err)
    }

    async fn order_by_id(&self, id: i64) -> Result<Option<OrderRecord>, StoreError> {
        self.one_order("SELECT * FROM orders WHERE id = CAST(? AS INTEGER)", id)
            .await
    }

    async fn order_by_number(&self, number: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.one_order("SELECT * FROM orders WHERE number = ?", number)
            .await
    }

    async fn orders_of_customer(
        &self,
        customer_id: i64,
        limit: u32,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        )
        .bind(customer_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
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
            sqlx::query("UPDATE orders SET payment_session_id = ?, payment_url = ? WHERE id = ?")
                .bind(session_id)
                .bind(url)
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
        let sql = format!(
            "UPDATE orders SET status = ?, updated_at = ? WHERE id = ? AND status IN ({})",
            placeholders(from.len().max(1))
        );
        write_tx!(self, |tx| {
            let mut q = sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(to.code())
                .bind(now)
                .bind(order_id);
            for s in from {
                q = q.bind(s.code());
            }
            if from.is_empty() {
                q = q.bind("");
            }
            let moved = q.execute(&mut *tx).await?.rows_affected() == 1;
            if moved && restock {
                let lines = sqlx::query("SELECT sku, quantity FROM order_lines WHERE order_id = ?")
                    .bind(order_id)
                    .fetch_all(&mut *tx)
                    .await?;
                for l in &lines {
                    sqlx::query("UPDATE variants SET stock = stock + ? WHERE sku = ?")
                        .bind(l.try_get::<i64, _>("quantity")?)
                        .bind(l.try_get::<String, _>("sku")?)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            if moved && let Some(m) = mail {
                insert_mail(&mut *tx, m).await?;
            }
            moved
        })
    }

    async fn due_expirations(&self, now: i64) -> Result<Vec<i64>, StoreError> {
        sqlx::query_scalar("SELECT id FROM orders WHERE status = 'awaiting_payment' AND payment_expires_at < ? LIMIT 500")
            .bind(now)
            .fetch_all(&self.read)
            .await
            .map_err(db_err)
    }

    async fn record_payment_event(&self, event_id: &str, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("INSERT INTO payment_events (event_id, received_at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING")
                .bind(event_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        })
    }

    async fn count_orders(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&self.read)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn insert_orders(&self, orders: &[OrderRecord]) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            for o in orders {
                insert_order_rows(&mut *tx, o).await?;
            }
        })
    }
}

#[async_trait]
impl OutboxRepo for SqliteStore {
    async fn enqueue_mail(&self, m: &OutboxRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| { insert_mail(&mut *tx, m).await? })
    }

    async fn due_mail(&self, now: i64, limit: u32) -> Result<Vec<OutboxRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM mail_outbox WHERE failed = 0 AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?")
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(OutboxRecord {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    payload: Sealed::from_stored(r.try_get("payload")?),
                    attempts: r.try_get("attempts")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn mail_sent(&self, id: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM mail_outbox WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn mail_failed(
        &self,
        id: i64,
        next_attempt_at: i64,
        give_up: bool,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ?, failed = ? WHERE id = ?")
                .bind(next_attempt_at)
                .bind(i64::from(give_up))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }
}
