//! Errors of the use cases and of the ports.

use kura_domain::FieldError;
use kura_seal::{KeyError, PasswordError, SealError};

/// What a store can report. The message is for the log only; pages show a generic text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a row with the same unique value exists")]
    Conflict,
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("the database returned something unexpected: {0}")]
    Corrupt(String),
    #[error("the database schema is newer than this program (migration {0})")]
    SchemaTooNew(i64),
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error("invalid field {field}: {error}")]
    Field {
        field: &'static str,
        error: FieldError,
    },
    #[error("an account with this email address exists already")]
    EmailTaken,
    #[error("a background task failed: {0}")]
    Task(String),
    /// The person's data was erased (their data key is gone): nothing of theirs opens.
    #[error("this person's data was erased")]
    Erased,
}
