//! Operational endpoints: liveness, readiness and Prometheus metrics. None needs a token.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Health of the process or of its dependencies.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    #[schema(example = "ok")]
    pub status: String,
}

/// Liveness: the process is up and serving HTTP. Does not touch the database, so an orchestrator
/// does not restart the service while the database is down.
#[utoipa::path(
    operation_id = "getLiveness",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The process is alive", body = Health)),
)]
#[get("/livez")]
pub async fn livez() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the service can answer requests, the database included. Returns 503 while the
/// database is unreachable.
#[utoipa::path(
    operation_id = "getReadiness",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready: the database answers", body = Health),
        (status = 503, description = "The database is unavailable; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying"))),
    ),
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db(persistence::pool::ping).await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics in the text exposition format: requests by route and status, request
/// latency histogram, database pool connections in use and idle.
#[utoipa::path(
    operation_id = "getMetrics",
    tag = "operations",
    security(()),
    responses((status = 200, description = "Metrics in Prometheus text format",
        content_type = "text/plain; version=0.0.4", body = String)),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.pool))
}
