//! Coupons and their uses; written once, compiled once per backend (see the crate
//! documentation). A use is written only by `place_order`, in the order's transaction (see
//! `shop.rs`), and removed when the order is cancelled or expires with its stock returned.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::CouponRepo;
use kura_app::records::CouponRecord;
use kura_domain::{Coupon, CouponCode, Date, Discount, Yen};
use sqlx::{AssertSqlSafe, Row};

use super::{DbRow, This};
use crate::{db_err, placeholders};

fn coupon_from_row(r: &DbRow) -> Result<CouponRecord, sqlx::Error> {
    let decode = |what: &str| sqlx::Error::Decode(format!("unreadable coupon {what}").into());
    let kind: String = r.try_get("kind")?;
    let value: i64 = r.try_get("value")?;
    let date = |column: &str| -> Result<Date, sqlx::Error> {
        Date::parse(&r.try_get::<String, _>(column)?).ok_or_else(|| decode(column))
    };
    Ok(CouponRecord {
        id: r.try_get("id")?,
        coupon: Coupon {
            code: CouponCode::parse(&r.try_get::<String, _>("code")?)
                .map_err(|_| decode("code"))?,
            discount: Discount::from_parts(&kind, value).ok_or_else(|| decode("discount"))?,
            starts_on: date("starts_on")?,
            ends_on: date("ends_on")?,
            minimum: Yen(r.try_get("minimum_yen")?),
            active: r.try_get::<i64, _>("active")? != 0,
        },
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
    })
}

#[async_trait]
impl CouponRepo for This {
    async fn insert_coupon(&self, c: &CouponRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO coupons (id, code, kind, value, starts_on, ends_on, minimum_yen, \
                 active, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(c.id)
            .bind(c.coupon.code.as_str())
            .bind(c.coupon.discount.kind())
            .bind(c.coupon.discount.value())
            .bind(c.coupon.starts_on.iso())
            .bind(c.coupon.ends_on.iso())
            .bind(c.coupon.minimum.0)
            .bind(i64::from(c.coupon.active))
            .bind(c.created_at)
            .bind(c.created_by)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn coupons(&self) -> Result<Vec<(CouponRecord, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.*, (SELECT COUNT(DISTINCT u.order_id) FROM coupon_uses u \
             WHERE u.coupon_id = c.id) AS uses FROM coupons c ORDER BY c.created_at DESC, c.id DESC",
        )
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let uses: i64 = r.try_get("uses")?;
                Ok((coupon_from_row(r)?, u64::try_from(uses).unwrap_or(0)))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(db_err)
    }

    async fn coupon_by_code(&self, code: &str) -> Result<Option<CouponRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM coupons WHERE code = $1")
            .bind(code)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(coupon_from_row)
            .transpose()
            .map_err(db_err)
    }

    async fn set_coupon_active(&self, id: i64, active: bool) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE coupons SET active = $1 WHERE id = $2")
                .bind(i64::from(active))
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        })
    }

    async fn coupon_used_by(
        &self,
        coupon_id: i64,
        holders: &[Vec<u8>],
    ) -> Result<bool, StoreError> {
        if holders.is_empty() {
            return Ok(false);
        }
        let sql = format!(
            "SELECT COUNT(*) FROM coupon_uses WHERE coupon_id = $1 AND holder IN ({})",
            placeholders(2, holders.len())
        );
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql)).bind(coupon_id);
        for h in holders {
            q = q.bind(h.clone());
        }
        let n = q.fetch_one(self.reads()).await.map_err(db_err)?;
        Ok(n > 0)
    }
}
