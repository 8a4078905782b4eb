//! Authentication: access tokens, password hashing, refresh tokens, and the [`Caller`] every
//! protected handler receives.

pub mod password;
pub mod tokens;

use std::future::{Ready, ready};

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
}

impl Caller {
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

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller_of(req))
    }
}

fn caller_of(req: &HttpRequest) -> Result<Caller, ApiError> {
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
