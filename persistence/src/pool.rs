//! The connection pool. Every pooled connection gets a statement timeout and an application name
//! (so a slow query is cut off and `pg_stat_activity` shows who runs it).

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, PgConnection};

use crate::StoreError;

pub type DbPool = Pool<ConnectionManager<PgConnection>>;
pub type PooledConn = PooledConnection<ConnectionManager<PgConnection>>;

#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: u32,
    /// How long a request waits for a connection before it is told the database is unavailable.
    pub connection_timeout: Duration,
    pub statement_timeout: Duration,
    pub application_name: String,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_size: 10,
            connection_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(30),
            application_name: "facturacion".into(),
        }
    }
}

#[derive(Debug)]
struct SessionSettings {
    statement_timeout_ms: u128,
    application_name: String,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        // The application name is ours, not user input; quote it anyway.
        let name = self.application_name.replace('\'', "''");
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET application_name = '{name}';",
            self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds the pool without connecting: a database that is down at start-up is reported by
/// [`check_connection`], and one that goes down later makes requests fail fast with
/// [`StoreError::Unavailable`] until it is back.
pub fn build_pool(database_url: &str, settings: &PoolSettings) -> DbPool {
    Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(0))
        .connection_timeout(settings.connection_timeout)
        // Broken connections (server restarted) are found and replaced on checkout.
        .test_on_check_out(true)
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout_ms: settings.statement_timeout.as_millis(),
            application_name: settings.application_name.clone(),
        }))
        .build_unchecked(ConnectionManager::new(database_url))
}

/// Connects once, directly, so a start-up failure carries libpq's own reason
/// ("connection refused", "password authentication failed", ...).
pub fn check_connection(database_url: &str) -> Result<(), String> {
    PgConnection::establish(database_url)
        .map(drop)
        .map_err(|e| e.to_string().trim().to_string())
}

/// Gets a connection from the pool, mapping a timeout to [`StoreError::Unavailable`].
pub fn get(pool: &DbPool) -> Result<PooledConn, StoreError> {
    Ok(pool.get()?)
}

/// A round trip to the server, for readiness checks.
pub fn ping(conn: &mut PgConnection) -> Result<(), StoreError> {
    conn.batch_execute("SELECT 1")?;
    Ok(())
}

/// Creates database `name` on the server at `admin_url` unless it exists.
pub fn create_database_if_missing(admin_url: &str, name: &str) -> Result<(), StoreError> {
    use diesel::sql_types::{Bool, Text};
    use diesel::{QueryableByName, RunQueryDsl, sql_query};

    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }

    let mut conn =
        PgConnection::establish(admin_url).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let found: Exists =
        sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<Text, _>(name)
            .get_result(&mut conn)?;
    if !found.exists {
        conn.batch_execute(&format!(
            "CREATE DATABASE \"{}\"",
            name.replace('"', "\"\"")
        ))?;
    }
    Ok(())
}
