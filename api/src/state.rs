//! What every handler can reach: the pool, the configuration, the keys, metrics and the route
//! table.

use std::sync::Arc;

use persistence::DbPool;

use crate::config::{Config, JwtKeys};
use crate::metrics::Metrics;
use crate::openapi::RouteTable;

#[derive(Debug, Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    pub jwt_keys: Arc<JwtKeys>,
    /// Signs and verifies access tokens with `jwt_keys`.
    pub tokens: Arc<crate::auth::tokens::TokenKeys>,
    /// Encrypts and decrypts the CSD private keys at rest.
    pub vault: Arc<crate::vault::Vault>,
    /// Stamps and cancels CFDIs (`PAC`).
    pub pac: Arc<dyn domain::pac::Pac>,
    pub metrics: Metrics,
    pub routes: Arc<RouteTable>,
    /// Requests per client address to the public invoice links.
    pub public_limiter: Arc<crate::rate_limit::RateLimiter>,
    /// The OpenAPI document, serialized once at start-up.
    pub openapi_json: Arc<String>,
}

impl AppState {
    /// Runs `f` with a pooled connection on the blocking thread pool (diesel is synchronous).
    /// Waiting for a connection is bounded by the pool timeout, after which the caller gets
    /// 503 with `Retry-After`.
    pub async fn db<T, F>(&self, f: F) -> Result<T, crate::problem::ApiError>
    where
        F: FnOnce(&mut persistence::PgConnection) -> Result<T, persistence::StoreError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let result = actix_web::web::block(move || {
            let mut conn = persistence::pool::get(&pool)?;
            f(&mut conn)
        })
        .await?;
        Ok(result?)
    }

    /// [`AppState::db`] inside a transaction scoped to `org_id` by row-level security: even a
    /// query that forgot its organization filter sees only that tenant's rows. Every request
    /// made for a tenant goes through here.
    pub async fn tenant_db<T, F>(
        &self,
        org_id: uuid::Uuid,
        f: F,
    ) -> Result<T, crate::problem::ApiError>
    where
        F: FnOnce(&mut persistence::PgConnection) -> Result<T, persistence::StoreError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        self.db(move |conn| persistence::tenant::transaction(conn, org_id, f))
            .await
    }
}
