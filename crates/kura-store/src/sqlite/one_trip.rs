//! The checkout in one trip to the writer connection's thread.
//!
//! sqlx's SQLite driver runs each statement on the connection's worker thread and answers
//! back: a checkout of a dozen statements made a dozen hand-offs, and they, not the disk, were
//! its cost. Here the whole job runs at once on rusqlite's prepared, cached statements over the
//! same connection (see [`super::writer::Writer::run_raw`]), with the same SQL text as the
//! shared code, the same savepoint, the same group commit and the same answer after the commit.
//!
//! The reads a checkout makes (the cart's token, lines and items) go the same way: on
//! read-only rusqlite connections taken from a small stack on the caller's thread, instead of
//! a trip to a pooled connection's thread and back for each statement and row. A read here is
//! an indexed lookup of a few rows; it runs in microseconds and never waits for the writer (WAL).

use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};

use kura_app::catalog::CatalogItem;
use kura_app::error::StoreError;
use kura_app::sealed::{OrderRecord, OutboxRecord, PlaceOutcome};
use kura_domain::Yen;
use rusqlite::types::ToSql;
use rusqlite::{Connection, OpenFlags};

use super::shop::{
    EMPTY_CART, INSERT_MAIL, INSERT_ORDER, INSERT_RECEIPT, LINE_COLUMNS, ORDER_BY_HASH, PRICE_OF,
    TAKE_STOCK, USE_COUPON,
};
use super::{SqliteStore, back_off, data_keys, raw_err, should_retry, write_err};
use crate::{Bind, now_epoch, tax_of};

/// The names SQLite gives `$1`, `$2`, ... (the shared SQL's placeholders), bound by name so a
/// statement may name them in any order.
const NAMES: [&str; 32] = [
    "$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9", "$10", "$11", "$12", "$13", "$14", "$15",
    "$16", "$17", "$18", "$19", "$20", "$21", "$22", "$23", "$24", "$25", "$26", "$27", "$28",
    "$29", "$30", "$31", "$32",
];

/// One order line: a cached statement run once a line, where the shared code builds one
/// statement for all of a cart's lines (a statement per cart size would fill the cache).
static INSERT_LINE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO order_lines {LINE_COLUMNS} VALUES ({})",
        crate::placeholders(1, 8)
    )
});

/// Binds `values` to `$1..` of the cached statement for `sql`.
fn bound<'c>(
    c: &'c Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut st = c.prepare_cached(sql)?;
    st.clear_bindings();
    for (name, v) in NAMES.iter().zip(values) {
        st.raw_bind_parameter(*name, v)?;
    }
    Ok(st)
}

/// Runs a statement; the rows it changed.
fn run(c: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    bound(c, sql, values)?.raw_execute()
}

/// The first column of the first row, if any.
fn one_i64(c: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<Option<i64>> {
    let mut st = bound(c, sql, values)?;
    let mut rows = st.raw_query();
    rows.next()?.map(|r| r.get(0)).transpose()
}

/// Writes the order row, its data key and its lines; false (nothing written) when an order
/// with its idempotency hash exists.
fn insert_order(c: &Connection, o: &OrderRecord) -> rusqlite::Result<bool> {
    let key = data_keys::id_of(o.data_key.as_ref());
    let order: [&dyn ToSql; 30] = [
        &o.id,
        &o.number,
        &o.customer_id,
        &o.status.code(),
        &o.payment.code(),
        &o.lang,
        &o.buyer.as_bytes(),
        &o.recipient.as_ref().map(|r| r.as_bytes()),
        &o.access_token.as_bytes(),
        &o.email_bidx.as_bytes(),
        &o.phone_bidx.as_bytes(),
        &o.delivery_date,
        &o.delivery_slot,
        &o.totals.goods.0,
        &o.totals.shipping.0,
        &o.totals.cod_fee.0,
        &o.totals.total.0,
        &o.totals.tax.standard_total.0,
        &o.totals.tax.standard_tax.0,
        &o.totals.tax.reduced_total.0,
        &o.totals.tax.reduced_tax.0,
        &o.payment_session_id,
        &o.payment_url,
        &o.payment_expires_at,
        &o.idempotency_hash,
        &o.created_at,
        &o.created_at,
        &key,
        &o.totals.discount.0,
        &o.coupon_code,
    ];
    if run(c, INSERT_ORDER, &order)? == 0 {
        return Ok(false);
    }
    if let Some(k) = &o.data_key
        && let Some(wrapped) = &k.wrapped
    {
        run(
            c,
            data_keys::INSERT,
            &[&k.id, &wrapped.as_bytes(), &now_epoch()],
        )?;
    }
    for (no, l) in o.lines.iter().enumerate() {
        let no = i64::try_from(no).unwrap_or(i64::MAX);
        run(
            c,
            &INSERT_LINE,
            &[
                &o.id,
                &no,
                &l.sku,
                &l.product_name,
                &l.variant_label,
                &l.unit_price.0,
                &i64::from(l.quantity),
                &l.tax.code(),
            ],
        )?;
    }
    Ok(true)
}

/// The body of a checkout, as the shared `place_in` and `finish_placed` do it: decides, and
/// writes only when the answer is `Placed`.
fn place(
    c: &Connection,
    o: &OrderRecord,
    cart_id: Option<i64>,
    mail: Option<&OutboxRecord>,
) -> rusqlite::Result<PlaceOutcome> {
    // The unique idempotency hash tells a repeated submission, without a lookup first.
    if !insert_order(c, o)? {
        return match one_i64(c, ORDER_BY_HASH, &[&o.idempotency_hash])? {
            Some(order_id) => Ok(PlaceOutcome::Duplicate { order_id }),
            None => Err(rusqlite::Error::QueryReturnedNoRows),
        };
    }
    if let Some(code) = &o.coupon_code {
        for holder in kura_app::coupons::holders(o.email_bidx.as_bytes(), o.customer_id) {
            if run(c, USE_COUPON, &[code, &holder, &o.id])? == 0 {
                return Ok(PlaceOutcome::CouponUsed);
            }
        }
    }
    // In SKU order, like the shared code (one writer here, but the same order everywhere).
    let mut lines: Vec<_> = o.lines.iter().collect();
    lines.sort_by(|a, b| a.sku.cmp(&b.sku));
    for l in lines {
        let quantity = i64::from(l.quantity);
        if run(c, TAKE_STOCK, &[&quantity, &l.sku, &l.unit_price.0])? == 1 {
            continue;
        }
        let price = one_i64(c, PRICE_OF, &[&l.sku])?;
        let sku = l.sku.clone();
        return Ok(match price {
            None => PlaceOutcome::Unavailable { sku },
            Some(p) if p != l.unit_price.0 => PlaceOutcome::PriceChanged { sku },
            Some(_) => PlaceOutcome::SoldOut { sku },
        });
    }
    if let Some(cart) = cart_id {
        run(c, EMPTY_CART, &[&cart])?;
    }
    if let Some(m) = mail {
        let key = data_keys::id_of(m.data_key.as_ref());
        run(
            c,
            INSERT_MAIL,
            &[
                &m.id,
                &m.kind,
                &m.payload.as_bytes(),
                &m.attempts,
                &m.next_attempt_at,
                &key,
            ],
        )?;
        if let Some(r) = &m.receipt {
            run(
                c,
                INSERT_RECEIPT,
                &[
                    &r.id,
                    &r.code_mac,
                    &r.kind,
                    &r.recipient.as_bytes(),
                    &r.created_at,
                ],
            )?;
        }
    }
    Ok(PlaceOutcome::Placed)
}

impl ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Bind::Int(v) => v.to_sql(),
            Bind::Text(v) => v.to_sql(),
        }
    }
}

impl SqliteStore {
    /// Runs `work` as one job in one trip (see the module), again like any job when its batch
    /// was rolled back or another process held the write lock.
    pub(crate) async fn in_one_trip<T>(
        &self,
        work: impl Fn(&Connection) -> rusqlite::Result<(T, bool)>,
    ) -> Result<T, StoreError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            match self.writer.run_raw(&work).await {
                Ok(value) => return Ok(value),
                Err(e) if should_retry(&e, attempt) => back_off(&e, attempt).await,
                Err(e) => return Err(write_err(e)),
            }
        }
    }

    /// Places an order in one trip.
    pub(crate) async fn place_in_one_trip(
        &self,
        o: &OrderRecord,
        cart_id: Option<i64>,
        mail: Option<&OutboxRecord>,
    ) -> Result<PlaceOutcome, StoreError> {
        self.in_one_trip(|c| {
            let outcome = place(c, o, cart_id, mail)?;
            let keep = outcome == PlaceOutcome::Placed;
            Ok((outcome, keep))
        })
        .await
    }

    /// Orders made elsewhere (the demo's synthetic ones), all in one job; a repeated
    /// idempotency hash fails the whole job.
    pub(crate) async fn insert_orders_in_one_trip(
        &self,
        orders: &[OrderRecord],
    ) -> Result<(), StoreError> {
        self.in_one_trip(|c| {
            for o in orders {
                if !insert_order(c, o)? {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE),
                        Some(format!("order {} repeats an idempotency hash", o.number)),
                    ));
                }
            }
            Ok(((), true))
        })
        .await
    }

    /// Runs one statement as its own job in one trip; the rows it changed.
    pub(crate) async fn write_one_trip(
        &self,
        sql: &str,
        binds: &[Bind],
    ) -> Result<u64, StoreError> {
        self.in_one_trip(|c| {
            let values: Vec<&dyn ToSql> = binds.iter().map(|b| b as &dyn ToSql).collect();
            let changed = run(c, sql, &values)?;
            Ok((u64::try_from(changed).unwrap_or(u64::MAX), true))
        })
        .await
    }
}

/// Read-only connections for the checkout's reads, kept for reuse.
pub(crate) struct RawReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for RawReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RawReads")
    }
}

/// Idle connections kept; more are opened while more readers run at once, then closed.
const IDLE_READERS: usize = 8;

impl RawReads {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let c = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(c)
    }

    /// Runs `read` on an idle connection (or a new one).
    pub(crate) fn with<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let c = match taken {
            Some(c) => c,
            None => self.open().map_err(|e| raw_err(&e))?,
        };
        let out = read(&c).map_err(|e| raw_err(&e));
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_READERS
        {
            idle.push(c);
        }
        out
    }

    /// Closes the idle connections (the store is closing).
    pub(crate) fn close(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// The columns [`catalog_item`] reads, with a variant `v` and its product `p`.
const ITEM_COLUMNS: &str = "v.sku, v.label_ja, v.label_en, v.price_yen, v.stock, p.slug, p.name_ja, p.name_en, p.tax_rate, p.image";

fn catalog_item(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<CatalogItem> {
    let tax: String = r.get(at + 8)?;
    Ok(CatalogItem {
        sku: r.get(at)?,
        label_ja: r.get(at + 1)?,
        label_en: r.get(at + 2)?,
        price: Yen(r.get(at + 3)?),
        stock: r.get(at + 4)?,
        product_slug: r.get(at + 5)?,
        product_name_ja: r.get(at + 6)?,
        product_name_en: r.get(at + 7)?,
        tax: tax_of(&tax).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(at + 8, rusqlite::types::Type::Text, e.into())
        })?,
        image: r.get(at + 9)?,
    })
}

static CART_LINES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT ci.sku, ci.quantity, {ITEM_COLUMNS} FROM cart_items ci \
         LEFT JOIN variants v ON v.sku = ci.sku \
         LEFT JOIN products p ON p.id = v.product_id AND p.active = 1 \
         WHERE ci.cart_id = $1"
    )
});

static ITEM_BY_SKU: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {ITEM_COLUMNS} FROM variants v JOIN products p ON p.id = v.product_id \
         WHERE p.active = 1 AND v.sku = $1"
    )
});

impl SqliteStore {
    /// The cart a token opens.
    pub(crate) fn cart_by_token_raw(&self, hash: &[u8; 32]) -> Result<Option<i64>, StoreError> {
        self.raw_reads
            .with(|c| one_i64(c, "SELECT id FROM carts WHERE token_hash = $1", &[hash]))
    }

    /// A cart's lines (SKU order by bytes).
    pub(crate) fn cart_items_raw(&self, cart_id: i64) -> Result<Vec<(String, u32)>, StoreError> {
        self.raw_reads.with(|c| {
            let mut st = bound(
                c,
                "SELECT sku, quantity FROM cart_items WHERE cart_id = $1",
                &[&cart_id],
            )?;
            let mut rows = st.raw_query();
            let mut lines: Vec<(String, u32)> = Vec::new();
            while let Some(r) = rows.next()? {
                let quantity: i64 = r.get(1)?;
                lines.push((r.get(0)?, u32::try_from(quantity).unwrap_or(0)));
            }
            lines.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(lines)
        })
    }

    /// A cart's lines and their catalog items (a line whose product is gone has none).
    pub(crate) fn cart_lines_raw(&self, cart_id: i64) -> Result<super::CartLines, StoreError> {
        self.raw_reads.with(|c| {
            let mut st = bound(c, &CART_LINES, &[&cart_id])?;
            let mut rows = st.raw_query();
            let (mut lines, mut items): (Vec<(String, u32)>, Vec<CatalogItem>) =
                (Vec::new(), Vec::new());
            while let Some(r) = rows.next()? {
                let quantity: i64 = r.get(1)?;
                lines.push((r.get(0)?, u32::try_from(quantity).unwrap_or(0)));
                if r.get::<_, Option<String>>(7)?.is_some() {
                    items.push(catalog_item(r, 2)?);
                }
            }
            lines.sort_by(|a, b| a.0.cmp(&b.0));
            items.sort_by(|a, b| a.sku.cmp(&b.sku));
            Ok((lines, items))
        })
    }

    /// The active catalog items of `skus` (one statement per SKU, each cached).
    pub(crate) fn catalog_items_raw(
        &self,
        skus: &[String],
    ) -> Result<Vec<CatalogItem>, StoreError> {
        self.raw_reads.with(|c| {
            let mut items = Vec::with_capacity(skus.len());
            for sku in skus {
                let mut st = bound(c, &ITEM_BY_SKU, &[sku])?;
                let mut rows = st.raw_query();
                if let Some(r) = rows.next()? {
                    items.push(catalog_item(r, 0)?);
                }
            }
            Ok(items)
        })
    }
}
