//! The organization's security log: logins, failures, resets, role changes, removals.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use domain::identity::Role;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::pagination::{CreatedAtListQuery, ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Something that happened to the organization's accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityEventView {
    pub id: Uuid,
    /// `organization_registered`, `login_succeeded`, `login_failed`, `logout`,
    /// `refresh_token_reused`, `password_reset_requested`, `password_reset`, `password_changed`,
    /// `user_invited`, `invitation_accepted`, `role_changed`, `user_removed`.
    #[schema(example = "login_succeeded")]
    pub kind: String,
    /// The user it concerns or who acted, when known.
    pub user_id: Option<Uuid>,
    /// The client's IP address.
    #[schema(example = "203.0.113.7")]
    pub client_address: Option<String>,
    /// Details that depend on the kind.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EventSort {
    CreatedAt,
}

impl SortKey for EventSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("created_at", EventSort::CreatedAt)];
    const DEFAULT: &'static str = "-created_at";
}

/// List the organization's security events.
///
/// Owners and admins only. Newest first by default.
#[utoipa::path(
    operation_id = "listSecurityEvents",
    tag = "users",
    security(("bearer_jwt" = [])),
    params(CreatedAtListQuery),
    responses(
        (status = 200, description = "A page of events, newest first by default", body = Page<SecurityEventView>),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins read the security log", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/security-events")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CreatedAtListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let request = ListParams::from(query.into_inner()).parse::<EventSort>()?;
    let page_query = request.query()?;
    let rows = state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::identity::list_security_events(conn, caller.organization_id, &page_query)
        })
        .await?;
    let events = rows
        .rows
        .into_iter()
        .map(|e| SecurityEventView {
            id: e.id,
            kind: e.kind,
            user_id: e.user_id,
            client_address: e.client_address,
            details: e.details,
            created_at: e.created_at,
        })
        .collect();
    let page: Page<SecurityEventView> =
        request.page(events, rows.has_more, |e: &SecurityEventView| {
            (e.created_at, e.id)
        });
    Ok(HttpResponse::Ok().json(page))
}
