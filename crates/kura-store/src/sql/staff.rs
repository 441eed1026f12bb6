//! Staff, their sessions and devices, sign-in throttling, settings and the audit log.

use async_trait::async_trait;
use kura_app::error::StoreError;
use kura_app::ports::{AuditRepo, ChainCheck, ChainMac, ChainRemac, StaffRepo};
use kura_app::records::{
    AuditAppend, AuditEntry, AuditFilter, AuditRow, ExportRecord, PasskeyRecord, ReadBudget,
    StaffRecord, StaffSessionRecord,
};
use kura_seal::{PasswordHash, Sealed};
use sqlx::{AssertSqlSafe, Row};

use super::{Conn, DbRow, This, dialect};
use crate::db_err;

fn hash32(bytes: Vec<u8>, what: &str) -> Result<[u8; 32], sqlx::Error> {
    bytes
        .try_into()
        .map_err(|_| sqlx::Error::Decode(format!("{what} length").into()))
}

fn codes_text(codes: &[[u8; 32]]) -> String {
    codes.iter().map(hex::encode).collect::<Vec<_>>().join(" ")
}

fn codes_of(text: &str) -> Vec<[u8; 32]> {
    text.split_whitespace()
        .filter_map(|h| hex::decode(h).ok()?.try_into().ok())
        .collect()
}

fn passkey_from_row(r: &DbRow) -> Result<PasskeyRecord, sqlx::Error> {
    Ok(PasskeyRecord {
        id: r.try_get("id")?,
        staff_id: r.try_get("staff_id")?,
        credential_id: r.try_get("credential_id")?,
        public_key: r.try_get("public_key")?,
        algorithm: r.try_get("algorithm")?,
        sign_count: u32::try_from(r.try_get::<i64, _>("sign_count")?)
            .map_err(|_| sqlx::Error::Decode("sign_count out of range".into()))?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
    })
}

fn export_from_row(r: &DbRow) -> Result<ExportRecord, sqlx::Error> {
    Ok(ExportRecord {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        requested_by: r.try_get("requested_by")?,
        requested_at: r.try_get("requested_at")?,
        approved_by: r.try_get("approved_by")?,
        approved_at: r.try_get("approved_at")?,
        downloaded_at: r.try_get("downloaded_at")?,
        row_count: r.try_get("row_count")?,
    })
}

fn staff_from_row(r: &DbRow) -> Result<StaffRecord, sqlx::Error> {
    Ok(StaffRecord {
        id: r.try_get("id")?,
        login: r.try_get("login")?,
        role: r.try_get("role")?,
        status: r.try_get("status")?,
        password_hash: PasswordHash::from_stored(r.try_get("password_hash")?),
        email: Sealed::from_stored(r.try_get("email")?),
        totp_secret: r
            .try_get::<Option<Vec<u8>>, _>("totp_secret")?
            .map(Sealed::from_stored),
        totp_last_step: r.try_get("totp_last_step")?,
        recovery_codes: codes_of(&r.try_get::<String, _>("recovery_codes")?),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn staff_session_from_row(r: &DbRow) -> Result<StaffSessionRecord, sqlx::Error> {
    Ok(StaffSessionRecord {
        id: r.try_get("id")?,
        token_hash: hash32(r.try_get("token_hash")?, "token hash")?,
        staff_id: r.try_get("staff_id")?,
        role: r.try_get("role")?,
        mfa_at: r.try_get("mfa_at")?,
        step_up_at: r.try_get("step_up_at")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        idle_expires_at: r.try_get("idle_expires_at")?,
        absolute_expires_at: r.try_get("absolute_expires_at")?,
    })
}

fn audit_from_row(r: &DbRow) -> Result<AuditRow, sqlx::Error> {
    let key_id: i64 = r.try_get("key_id")?;
    Ok(AuditRow {
        seq: r.try_get("seq")?,
        entry: AuditEntry {
            id: r.try_get("id")?,
            at: r.try_get("at")?,
            staff_id: r.try_get("staff_id")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            target: r.try_get("target")?,
            fields: r.try_get("fields")?,
            detail: Sealed::from_stored(r.try_get("detail")?),
            key_id: u32::try_from(key_id)
                .map_err(|_| sqlx::Error::Decode("audit key id".into()))?,
        },
        mac: hash32(r.try_get("mac")?, "audit mac")?,
    })
}

async fn end_sessions_of(
    tx: &mut Conn,
    staff_id: i64,
    keep: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM staff_sessions WHERE staff_id = $1 AND id <> $2")
        .bind(staff_id)
        .bind(keep.unwrap_or(0))
        .execute(&mut *tx)
        .await?;
    Ok(())
}

#[async_trait]
impl StaffRepo for This {
    async fn insert_staff(&self, s: &StaffRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO staff (id, login, role, status, password_hash, email, totp_secret, \
                 totp_last_step, recovery_codes, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(s.id)
            .bind(&s.login)
            .bind(&s.role)
            .bind(&s.status)
            .bind(s.password_hash.as_str())
            .bind(s.email.as_bytes().to_vec())
            .bind(s.totp_secret.as_ref().map(|t| t.as_bytes().to_vec()))
            .bind(s.totp_last_step)
            .bind(codes_text(&s.recovery_codes))
            .bind(s.created_at)
            .bind(s.updated_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn staff_by_login(&self, login: &str) -> Result<Option<StaffRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM staff WHERE login = $1")
            .bind(login)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| staff_from_row(&r)).transpose().map_err(db_err)
    }

    async fn staff_by_id(&self, id: i64) -> Result<Option<StaffRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM staff WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| staff_from_row(&r)).transpose().map_err(db_err)
    }

    async fn list_staff(&self) -> Result<Vec<StaffRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM staff ORDER BY login")
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(staff_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn set_staff_access(
        &self,
        id: i64,
        role: &str,
        status: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let n = sqlx::query(
                "UPDATE staff SET role = $1, status = $2, updated_at = $3 WHERE id = $4",
            )
            .bind(role)
            .bind(status)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            end_sessions_of(&mut *tx, id, None).await?;
            n == 1
        })
    }

    async fn set_staff_password(
        &self,
        id: i64,
        hash: &PasswordHash,
        keep_session: Option<i64>,
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("UPDATE staff SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash.as_str())
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            end_sessions_of(&mut *tx, id, keep_session).await?;
        })
    }

    async fn set_staff_totp(
        &self,
        id: i64,
        secret: &Sealed,
        recovery_codes: &[[u8; 32]],
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE staff SET totp_secret = $1, totp_last_step = 0, recovery_codes = $2, \
                 updated_at = $3 WHERE id = $4",
            )
            .bind(secret.as_bytes().to_vec())
            .bind(codes_text(recovery_codes))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn reset_staff_mfa(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let found = sqlx::query(
                "UPDATE staff SET totp_secret = NULL, totp_last_step = 0, recovery_codes = '', \
                 updated_at = $1 WHERE id = $2",
            )
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            sqlx::query("DELETE FROM staff_passkeys WHERE staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            end_sessions_of(&mut *tx, id, None).await?;
            found
        })
    }

    async fn accept_totp_step(&self, id: i64, step: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE staff SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1",
            )
            .bind(step)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn use_recovery_code(&self, id: i64, hash: &[u8; 32]) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let text: Option<String> =
                sqlx::query_scalar("SELECT recovery_codes FROM staff WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(text) = text else {
                return Ok(false);
            };
            let mut codes = codes_of(&text);
            let before = codes.len();
            codes.retain(|c| !kura_seal::constant_time_eq(c, hash));
            if codes.len() == before {
                false
            } else {
                // Compare-and-set: a code used twice at once works once.
                sqlx::query(
                    "UPDATE staff SET recovery_codes = $1 WHERE id = $2 AND recovery_codes = $3",
                )
                .bind(codes_text(&codes))
                .bind(id)
                .bind(&text)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1
            }
        })
    }

    async fn delete_staff(&self, id: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            end_sessions_of(&mut *tx, id, None).await?;
            sqlx::query("DELETE FROM staff_devices WHERE staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM staff_passkeys WHERE staff_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM staff WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        })
    }

    async fn insert_staff_session(&self, s: &StaffSessionRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO staff_sessions (id, token_hash, staff_id, role, mfa_at, step_up_at, \
                 created_at, last_seen_at, idle_expires_at, absolute_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(s.id)
            .bind(s.token_hash.to_vec())
            .bind(s.staff_id)
            .bind(&s.role)
            .bind(s.mfa_at)
            .bind(s.step_up_at)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.idle_expires_at)
            .bind(s.absolute_expires_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn staff_session(
        &self,
        token_hash: &[u8; 32],
    ) -> Result<Option<StaffSessionRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT ss.* FROM staff_sessions ss JOIN staff s ON s.id = ss.staff_id \
             WHERE ss.token_hash = $1 AND s.status = 'active' AND s.role = ss.role",
        )
        .bind(token_hash.to_vec())
        .fetch_optional(self.reads())
        .await
        .map_err(db_err)?;
        row.map(|r| staff_session_from_row(&r))
            .transpose()
            .map_err(db_err)
    }

    async fn update_staff_session(&self, s: &StaffSessionRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE staff_sessions SET mfa_at = $1, step_up_at = $2, last_seen_at = $3, \
                 idle_expires_at = $4, token_hash = $5 WHERE id = $6",
            )
            .bind(s.mfa_at)
            .bind(s.step_up_at)
            .bind(s.last_seen_at)
            .bind(s.idle_expires_at)
            .bind(s.token_hash.to_vec())
            .bind(s.id)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn delete_staff_session(&self, id: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM staff_sessions WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn delete_expired_staff_sessions(&self, now: i64) -> Result<u64, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "DELETE FROM staff_sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        })
    }

    async fn remember_staff_device(
        &self,
        staff_id: i64,
        device: &[u8; 32],
        now: i64,
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let known = sqlx::query(
                "UPDATE staff_devices SET last_seen_at = $1 WHERE staff_id = $2 AND device_mac = $3",
            )
            .bind(now)
            .bind(staff_id)
            .bind(device.to_vec())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
            if !known {
                sqlx::query(
                    "INSERT INTO staff_devices (staff_id, device_mac, first_seen_at, last_seen_at) \
                     VALUES ($1, $2, $3, $3)",
                )
                .bind(staff_id)
                .bind(device.to_vec())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            !known
        })
    }

    async fn record_sign_in_failure(
        &self,
        subject: &[u8; 32],
        now: i64,
        forget_before: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM sign_in_failures WHERE at < $1")
                .bind(forget_before)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO sign_in_failures (subject, at) VALUES ($1, $2)")
                .bind(subject.to_vec())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn sign_in_failures(
        &self,
        subject: &[u8; 32],
        since: i64,
    ) -> Result<(u32, Option<i64>), StoreError> {
        let (n, last): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MAX(at) FROM sign_in_failures WHERE subject = $1 AND at >= $2",
        )
        .bind(subject.to_vec())
        .bind(since)
        .fetch_one(self.reads())
        .await
        .map_err(db_err)?;
        Ok((u32::try_from(n).unwrap_or(u32::MAX), last))
    }

    async fn clear_sign_in_failures(&self, subject: &[u8; 32]) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM sign_in_failures WHERE subject = $1")
                .bind(subject.to_vec())
                .execute(&mut *tx)
                .await?;
        })
    }

    async fn insert_passkey(&self, p: &PasskeyRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO staff_passkeys (id, staff_id, credential_id, public_key, algorithm, \
                 sign_count, name, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(p.id)
            .bind(p.staff_id)
            .bind(p.credential_id.clone())
            .bind(p.public_key.clone())
            .bind(p.algorithm)
            .bind(i64::from(p.sign_count))
            .bind(p.name.clone())
            .bind(p.created_at)
            .bind(p.last_used_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn passkeys_of(&self, staff_id: i64) -> Result<Vec<PasskeyRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM staff_passkeys WHERE staff_id = $1 ORDER BY id")
            .bind(staff_id)
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(passkey_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM staff_passkeys WHERE credential_id = $1")
            .bind(credential_id.to_vec())
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| passkey_from_row(&r))
            .transpose()
            .map_err(db_err)
    }

    async fn passkey_used(&self, id: i64, sign_count: u32, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE staff_passkeys SET sign_count = $1, last_used_at = $2 \
                 WHERE id = $3 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))",
            )
            .bind(i64::from(sign_count))
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn delete_passkey(&self, staff_id: i64, id: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM staff_passkeys WHERE id = $1 AND staff_id = $2")
                .bind(id)
                .bind(staff_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1
        })
    }

    async fn put_staff_challenge(
        &self,
        session_id: i64,
        purpose: &str,
        challenge: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query("DELETE FROM staff_challenges WHERE session_id = $1 AND purpose = $2")
                .bind(session_id)
                .bind(purpose)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO staff_challenges (session_id, purpose, challenge, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(session_id)
            .bind(purpose)
            .bind(challenge.to_vec())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn take_staff_challenge(
        &self,
        session_id: i64,
        purpose: &str,
    ) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
        write_tx!(self, |tx| {
            let row = sqlx::query(
                "DELETE FROM staff_challenges WHERE session_id = $1 AND purpose = $2 \
                 RETURNING challenge, created_at",
            )
            .bind(session_id)
            .bind(purpose)
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some(r) => Some((r.try_get("challenge")?, r.try_get("created_at")?)),
                None => None,
            }
        })
    }

    async fn insert_export(&self, e: &ExportRecord) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO exports (id, kind, requested_by, requested_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(e.id)
            .bind(e.kind.clone())
            .bind(e.requested_by)
            .bind(e.requested_at)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn export(&self, id: i64) -> Result<Option<ExportRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM exports WHERE id = $1")
            .bind(id)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)?;
        row.map(|r| export_from_row(&r)).transpose().map_err(db_err)
    }

    async fn recent_exports(&self, since: i64) -> Result<Vec<ExportRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM exports WHERE requested_at >= $1 ORDER BY requested_at DESC, id DESC LIMIT 50",
        )
        .bind(since)
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(export_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn approve_export(&self, id: i64, by: i64, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE exports SET approved_by = $1, approved_at = $2 \
                 WHERE id = $3 AND approved_at IS NULL AND requested_by <> $1",
            )
            .bind(by)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn export_downloaded(&self, id: i64, rows: i64, now: i64) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE exports SET downloaded_at = $1, row_count = $2 \
                 WHERE id = $3 AND approved_at IS NOT NULL AND downloaded_at IS NULL",
            )
            .bind(now)
            .bind(rows)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        })
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(self.reads())
            .await
            .map_err(db_err)
    }

    async fn set_setting(&self, key: &str, value: &str, now: i64) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        })
    }
}

/// `action IN (...)` over `actions`, numbered from `$start`.
fn actions_in(start: usize, actions: &[&str]) -> String {
    format!(
        "action IN ({})",
        crate::placeholders(start, actions.len().max(1))
    )
}

async fn distinct_targets(
    tx: &mut Conn,
    staff_id: i64,
    actions: &[&str],
    since: i64,
) -> Result<i64, sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(DISTINCT target) FROM audit_log WHERE staff_id = $1 AND at >= $2 AND {}",
        actions_in(3, actions)
    );
    let mut q = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(staff_id)
        .bind(since);
    for a in actions {
        q = q.bind(*a);
    }
    if actions.is_empty() {
        q = q.bind("");
    }
    q.fetch_one(&mut *tx).await
}

#[async_trait]
impl AuditRepo for This {
    async fn append_audit(
        &self,
        e: &AuditEntry,
        chain: ChainMac<'_>,
        budget: Option<&ReadBudget>,
    ) -> Result<AuditAppend, StoreError> {
        write_tx!(self, |tx| {
            for statement in dialect::AUDIT_LOCK {
                sqlx::query(AssertSqlSafe(*statement))
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(b) = budget {
                let used = distinct_targets(&mut *tx, b.staff_id, b.actions, b.since).await?;
                let sql = format!(
                    "SELECT seq FROM audit_log WHERE staff_id = $1 AND target = $2 AND at >= $3 \
                     AND {} LIMIT 1",
                    actions_in(4, b.actions)
                );
                let mut q = sqlx::query_scalar(AssertSqlSafe(sql))
                    .bind(b.staff_id)
                    .bind(&e.target)
                    .bind(b.since);
                for a in b.actions {
                    q = q.bind(*a);
                }
                if b.actions.is_empty() {
                    q = q.bind("");
                }
                let seen: Option<i64> = q.fetch_optional(&mut *tx).await?;
                if seen.is_none() && used >= i64::from(b.limit) {
                    return Ok(AuditAppend::OverBudget {
                        used: u32::try_from(used).unwrap_or(u32::MAX),
                    });
                }
            }
            let head: Option<(i64, Vec<u8>)> =
                sqlx::query_as("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let (seq, prev) = match head {
                Some((seq, mac)) => (seq + 1, hash32(mac, "audit mac")?),
                None => (1, [0u8; 32]),
            };
            let Some(mac) = chain(seq, &prev) else {
                return Err(sqlx::Error::Protocol(
                    "the audit chain key is not available".into(),
                ));
            };
            sqlx::query(
                "INSERT INTO audit_log (seq, id, at, staff_id, actor, action, target, fields, \
                 detail, key_id, mac) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(seq)
            .bind(e.id)
            .bind(e.at)
            .bind(e.staff_id)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.target)
            .bind(&e.fields)
            .bind(e.detail.as_bytes().to_vec())
            .bind(i64::from(e.key_id))
            .bind(mac.to_vec())
            .execute(&mut *tx)
            .await?;
            AuditAppend::Written { seq, mac }
        })
    }

    async fn rechain_audit(
        &self,
        key_id: u32,
        check: ChainCheck<'_>,
        remac: ChainRemac<'_>,
    ) -> Result<Result<u64, i64>, StoreError> {
        write_tx!(self, keep_if |r: &Result<u64, i64>| r.is_ok(), |tx| {
            for statement in dialect::AUDIT_LOCK {
                sqlx::query(AssertSqlSafe(*statement))
                    .execute(&mut *tx)
                    .await?;
            }
            let (mut after, mut old_prev, mut new_prev, mut n) = (0i64, [0u8; 32], [0u8; 32], 0u64);
            loop {
                let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000")
                    .bind(after)
                    .fetch_all(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    break Ok(n);
                }
                let mut broken = None;
                for r in &rows {
                    let row = audit_from_row(r)?;
                    if row.seq != after + 1 || !check(row.seq, &old_prev, &row) {
                        broken = Some(row.seq);
                        break;
                    }
                    let Some(mac) = remac(row.seq, &new_prev, &row) else {
                        return Err(sqlx::Error::Protocol("the new audit key is not available".into()));
                    };
                    sqlx::query("UPDATE audit_log SET key_id = $1, mac = $2 WHERE seq = $3")
                        .bind(i64::from(key_id))
                        .bind(mac.to_vec())
                        .bind(row.seq)
                        .execute(&mut *tx)
                        .await?;
                    old_prev = row.mac;
                    new_prev = mac;
                    after = row.seq;
                    n += 1;
                }
                if let Some(seq) = broken {
                    break Err(seq);
                }
            }
        })
    }

    async fn audit_after(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(self.reads())
            .await
            .map_err(db_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn audit_page(
        &self,
        f: &AuditFilter,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_log WHERE seq < $1 \
             AND ($2 IS NULL OR staff_id = $2) \
             AND ($3 IS NULL OR action LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR target = $4) \
             AND ($5 IS NULL OR at >= $5) \
             AND ($6 IS NULL OR at < $6) \
             ORDER BY seq DESC LIMIT $7",
        )
        .bind(before_seq.unwrap_or(i64::MAX))
        .bind(f.staff_id)
        .bind(f.action_prefix.as_ref().map(|p| crate::like_prefix(p)))
        .bind(f.target.as_deref())
        .bind(f.since)
        .bind(f.until)
        .bind(i64::from(limit))
        .fetch_all(self.reads())
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(audit_from_row)
            .collect::<Result<_, _>>()
            .map_err(db_err)
    }

    async fn audit_head(&self) -> Result<Option<(i64, [u8; 32])>, StoreError> {
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT seq, mac FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(self.reads())
                .await
                .map_err(db_err)?;
        head.map(|(seq, mac)| Ok((seq, hash32(mac, "audit mac")?)))
            .transpose()
            .map_err(db_err)
    }

    async fn audit_distinct_targets(
        &self,
        staff_id: i64,
        actions: &[&str],
        since: i64,
    ) -> Result<u32, StoreError> {
        let mut conn = self.reads().acquire().await.map_err(db_err)?;
        let n = distinct_targets(&mut conn, staff_id, actions, since)
            .await
            .map_err(db_err)?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
