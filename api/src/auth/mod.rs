//! Authentication: access tokens, password hashing, refresh tokens, and the [`Caller`] every
//! protected handler receives.

pub mod password;
pub mod tokens;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use domain::identity::Role;
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

/// Who is calling: the verified claims of the request's access token.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub role: Role,
    /// The login session the token belongs to, if any.
    pub session_id: Option<Uuid>,
    /// True for an API client (ERP integration): `user_id` is then the client's id.
    pub is_client: bool,
}

impl Caller {
    /// The user behind the call; 403 for an API client, which has no user account.
    pub fn user(&self) -> Result<Uuid, ApiError> {
        if self.is_client {
            Err(ApiError::forbidden(
                "this operation is for users; an API client's token cannot use it",
            ))
        } else {
            Ok(self.user_id)
        }
    }

    /// The caller as an invoice timeline names it.
    pub fn actor(&self) -> persistence::invoice_activity::Actor {
        use persistence::invoice_activity::{Actor, ActorKind};
        Actor {
            kind: if self.is_client {
                ActorKind::ApiClient
            } else {
                ActorKind::User
            },
            id: Some(self.user_id),
        }
    }

    /// 403 unless the caller's role includes `required`.
    pub fn require(&self, required: Role) -> Result<(), ApiError> {
        if self.role.at_least(required) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this operation needs the {required} role or higher; you are {}",
                self.role
            )))
        }
    }
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Verifies the access token, then reads the user: the role comes from the database, so a role
/// change or a removal takes effect on the next request, not when the token expires.
impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let claimed = claimed_caller(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let claimed = claimed?;
            let state = state.ok_or_else(|| {
                ApiError::internal(&std::io::Error::other("application state missing"))
            })?;
            let (org, id, is_client) =
                (claimed.organization_id, claimed.user_id, claimed.is_client);
            // A revoked client or a removed user is not found: its tokens stop working at once.
            let role = state
                .tenant_db(org, move |conn| {
                    if is_client {
                        persistence::identity::find_client(conn, org, id).map(|c| c.role)
                    } else {
                        persistence::identity::find_user(conn, org, id).map(|u| u.role)
                    }
                })
                .await
                .map_err(|e| {
                    if e.status() == actix_web::http::StatusCode::NOT_FOUND {
                        ApiError::unauthorized(
                            "invalid_token",
                            "the user or API client of this access token no longer exists",
                            Some("invalid_token"),
                        )
                    } else {
                        e
                    }
                })?;
            Ok(Caller {
                role: Role::parse(&role).unwrap_or(Role::Viewer),
                ..claimed
            })
        })
    }
}

/// The caller as the token claims it, before the user is looked up.
fn claimed_caller(req: &HttpRequest) -> Result<Caller, ApiError> {
    let Some(token) = bearer_token(req) else {
        return Err(ApiError::unauthorized(
            "missing_token",
            "this operation needs an access token: Authorization: Bearer <token>",
            None,
        ));
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal(&std::io::Error::other("application state missing")))?;
    match state.tokens.verify(token) {
        Ok(claims) => Ok(Caller {
            user_id: claims.sub,
            organization_id: claims.org,
            role: claims.role,
            session_id: claims.sid,
            is_client: claims.client,
        }),
        Err(reason) => {
            log::info!("access token refused: {reason}");
            Err(ApiError::unauthorized(
                "invalid_token",
                "the access token is invalid or expired; log in or refresh to get a new one",
                Some("invalid_token"),
            ))
        }
    }
}
