//! The caller's own user and organization.

use actix_web::{HttpResponse, get, web};
use persistence::StoreError;
use persistence::identity as store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::problem::{ApiError, Problem};
use crate::routes::views::{OrganizationView, UserView};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub organization: OrganizationView,
}

/// The authenticated user and their organization.
///
/// Any role may call it.
#[utoipa::path(
    operation_id = "getMe",
    tag = "auth",
    security(("bearer_jwt" = [])),
    responses(
        (status = 200, description = "The caller", body = MeResponse),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token belongs to an API client, not a user", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let user_id = caller.user()?;
    let found = state
        .tenant_db(caller.organization_id, move |conn| {
            let user = store::find_user(conn, caller.organization_id, user_id)?;
            let organization = store::find_organization(conn, caller.organization_id)?;
            Ok::<_, StoreError>((user, organization))
        })
        .await;
    match found {
        Ok((user, organization)) => Ok(HttpResponse::Ok().json(MeResponse {
            user: user.into(),
            organization: organization.into(),
        })),
        // A valid token for a user removed since: the token no longer speaks for anyone.
        Err(e) if e.status() == actix_web::http::StatusCode::NOT_FOUND => {
            Err(ApiError::unauthorized(
                "invalid_token",
                "the user of this access token no longer exists",
                Some("invalid_token"),
            ))
        }
        Err(e) => Err(e),
    }
}
