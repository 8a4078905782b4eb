//! Tenant transactions: the second wall between organizations (row-level security, see the
//! `row_level_security` migration). Inside one, the session acts as `facturacion_app` for the
//! given organization only, until the transaction ends.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use uuid::Uuid;

use crate::StoreError;

/// The role tenant transactions run as.
pub const APP_ROLE: &str = "facturacion_app";

/// Switches the current transaction to `org_id`'s rows. Must run inside a transaction: both
/// settings are `LOCAL` and end with it, so a pooled connection never carries a tenant over.
pub fn enter(conn: &mut PgConnection, org_id: Uuid) -> Result<(), StoreError> {
    conn.batch_execute(&format!("SET LOCAL ROLE {APP_ROLE}"))?;
    diesel::sql_query("SELECT set_config('app.organization_id', $1, true)")
        .bind::<Text, _>(org_id.to_string())
        .execute(conn)?;
    Ok(())
}

/// Runs `f` in a transaction scoped to `org_id`.
pub fn transaction<T, F>(conn: &mut PgConnection, org_id: Uuid, f: F) -> Result<T, StoreError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, StoreError>,
{
    crate::transaction(conn, |conn| {
        enter(conn, org_id)?;
        f(conn)
    })
}
