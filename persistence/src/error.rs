//! The one error type of this crate, sorted by what the API must answer.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached right now (pool timeout, lost connection): retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write; the constraint name tells which field.
    #[error("unique constraint {constraint} violated")]
    UniqueViolation { constraint: String },
    /// A foreign key refused the write: the row is still referred to, or refers to nothing.
    #[error("foreign key {constraint} violated")]
    ForeignKeyViolation { constraint: String },
    #[error("migration failed: {0}")]
    Migration(String),
    /// A stored value cannot be turned back into what was stored (a ciphertext that no
    /// configured key opens, bytes that no longer parse): a fault of the deployment, not of
    /// the request.
    #[error("stored data cannot be read: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Query(DieselError),
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::UniqueViolation {
                    constraint: info.constraint_name().unwrap_or_default().to_string(),
                }
            }
            DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
                Self::ForeignKeyViolation {
                    constraint: info.constraint_name().unwrap_or_default().to_string(),
                }
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_string()),
            // libpq reports a server that went away mid-query as an unknown error with this text.
            DieselError::DatabaseError(_, ref info)
                if info.message().contains("server closed the connection")
                    || info
                        .message()
                        .contains("terminating connection due to administrator command")
                    || info.message().contains("no connection to the server") =>
            {
                Self::Unavailable(info.message().to_string())
            }
            other => Self::Query(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
