//! PostgreSQL access for the invoicing service.
//!
//! Functions here take a `&mut PgConnection`, so the caller owns the transaction: a request that
//! changes several rows does it in one transaction. Rows stay in this crate; what leaves it is
//! plain data or `domain` types. Every query that touches tenant data takes the tenant as a
//! parameter.

pub mod branding;
pub mod catalogs;
pub mod certificates;
pub mod cluster;
pub mod customers;
pub mod error;
pub mod explain;
pub mod exports;
pub mod idempotency;
pub mod identity;
pub mod invoice_activity;
pub mod invoices;
pub mod outbox;
pub mod pagination;
pub mod pool;
pub mod products;
pub mod schema;
pub mod series;
pub mod tenant;

pub use diesel::PgConnection;
pub use error::StoreError;
pub use pool::{DbPool, PoolSettings, PooledConn};

use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration in `migrations/`, compiled into the binary so a deployment needs no files.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Applies pending migrations; returns how many ran.
pub fn run_migrations(conn: &mut PgConnection) -> Result<usize, StoreError> {
    conn.run_pending_migrations(MIGRATIONS)
        .map(|applied| applied.len())
        .map_err(|e| StoreError::Migration(e.to_string()))
}

/// Runs `f` in a transaction: committed when it returns `Ok`, rolled back otherwise, so a
/// request that changes several rows changes all of them or none.
pub fn transaction<T, F>(conn: &mut PgConnection, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, StoreError>,
{
    use diesel::Connection;
    conn.transaction(f)
}

/// Runs `f` in a transaction (a savepoint inside another one) that is rolled back when `f`
/// refuses (`Ok(Err(refusal))`) as well as when it fails: for work that must write all of
/// its rows or none, such as an atomic import or an invoice and its lines.
pub fn all_or_nothing<T, R, F>(conn: &mut PgConnection, f: F) -> Result<Result<T, R>, StoreError>
where
    F: FnOnce(&mut PgConnection) -> Result<Result<T, R>, StoreError>,
{
    use diesel::Connection;
    enum Abort<R> {
        Refused(R),
        Failed(StoreError),
    }
    impl<R> From<diesel::result::Error> for Abort<R> {
        fn from(e: diesel::result::Error) -> Self {
            Abort::Failed(e.into())
        }
    }
    match conn.transaction(|conn| match f(conn) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(refusal)) => Err(Abort::Refused(refusal)),
        Err(e) => Err(Abort::Failed(e)),
    }) {
        Ok(value) => Ok(Ok(value)),
        Err(Abort::Refused(refusal)) => Ok(Err(refusal)),
        Err(Abort::Failed(e)) => Err(e),
    }
}
