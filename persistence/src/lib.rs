//! PostgreSQL access for the invoicing service.
//!
//! Functions here take a `&mut PgConnection`, so the caller owns the transaction: a request that
//! changes several rows does it in one transaction. Rows stay in this crate; what leaves it is
//! plain data or `domain` types. Every query that touches tenant data takes the tenant as a
//! parameter.

pub mod catalogs;
pub mod cluster;
pub mod customers;
pub mod error;
pub mod idempotency;
pub mod identity;
pub mod outbox;
pub mod pagination;
pub mod pool;
pub mod schema;
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
