//! The organization's security log: logins, failures, resets, role changes, removals.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use domain::identity::Role;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::pagination::{ListParams, Page, SortKey};
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

/// Query parameters of `GET /v1/security-events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// How many events to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `-created_at` (newest first, the default) or `created_at`.
    #[param(pattern = "^-?created_at$")]
    pub sort: Option<String>,
}

/// List the organization's security events.
///
/// Owners and admins only.
#[utoipa::path(
    operation_id = "listSecurityEvents",
    tag = "users",
    security(("bearer_jwt" = [])),
    params(EventListQuery),
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
    query: web::Query<EventListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let query = query.into_inner();
    let request = ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
        sort: query.sort,
    }
    .parse::<EventSort>()?;
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
