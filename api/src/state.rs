//! What every handler can reach: the pool, the configuration, metrics and the route table.

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
    pub metrics: Metrics,
    pub routes: Arc<RouteTable>,
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
}
