//! Forgotten passwords and password changes.
//!
//! A reset token is 256 random bits, stored only as a SHA-256 hash, valid 30 minutes and once.
//! The emailed link is built from `PUBLIC_BASE_URL`, never from the request's `Host` header
//! (which an attacker controls). Setting a new password ends every session of the user; a
//! change made while logged in keeps the session that made it.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::identity::{Email, NewPassword};
use domain::validation::{Pointer, Violation};
use persistence::StoreError;
use persistence::identity::{self as store, PasswordResetToken};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{Caller, password};
use crate::extract::Json;
use crate::problem::{ApiError, Problem};
use crate::routes::auth::{client_address, event, hash_token};
use crate::state::AppState;

const RESET_TOKEN_TTL: Duration = Duration::from_secs(30 * 60);
/// Reset requests allowed per email and per address within [`REQUEST_WINDOW`] before back-off.
const FREE_REQUESTS_PER_EMAIL: i32 = 3;
const FREE_REQUESTS_PER_ADDRESS: i32 = 10;
const REQUEST_WINDOW: Duration = Duration::from_secs(60 * 60);

/// After `free` requests in the window: 1 minute, then doubling, up to an hour. Stronger than
/// the login back-off: each request sends an email.
fn request_backoff(free: i32) -> impl Fn(i32) -> Option<chrono::Duration> {
    move |requests| {
        let over = requests - free;
        (over >= 0).then(|| chrono::Duration::seconds((60_i64 << over.min(6)).min(3600)))
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    /// The email the account logs in with.
    #[schema(example = "ana@example.com", format = Email, max_length = 254)]
    pub email: String,
}

/// The same answer whether or not the email has an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForgotPasswordResponse {
    #[schema(
        example = "If an account uses this email, a reset link is on its way. It is valid for 30 minutes."
    )]
    pub message: String,
}

/// Ask for a password reset link.
///
/// Always answers 202 with the same body, whether or not the email has an account, so the
/// answer reveals nothing. When it does, an email with a link valid for 30 minutes is sent.
/// Requests are limited per email and per client address (429 with `Retry-After`). No token
/// needed.
#[utoipa::path(
    operation_id = "forgotPassword",
    tag = "auth",
    security(()),
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted; a link is sent if the account exists", body = ForgotPasswordResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests for this email or from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/password/forgot")]
pub async fn forgot(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<ForgotPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = Email::parse(&body.email).map_err(|e| {
        ApiError::validation(
            Violation::new(Pointer::root().field("email"), e.code(), e.to_string()).into(),
        )
    })?;
    let address = client_address(&req);
    let keys = [
        format!("reset-email:{}", email.normalized()),
        format!("reset-ip:{address}"),
    ];

    let blocked = {
        let keys = keys.to_vec();
        state
            .db(move |conn| store::blocked_until(conn, &keys))
            .await?
    };
    if let Some(until) = blocked {
        let wait = (until - Utc::now()).num_seconds().max(1) as u64;
        return Err(ApiError::too_many_requests(
            "too_many_requests",
            Duration::from_secs(wait),
            "too many reset requests; wait before asking again",
        ));
    }

    let link_base = format!("{}/reset-password?token=", state.config.public_base_url);
    let raw: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(raw);
    state
        .db(move |conn| {
            persistence::transaction(conn, |conn| {
                // Counted whether or not the account exists: the limit must not reveal it.
                store::record_login_failure(
                    conn,
                    &keys[0],
                    REQUEST_WINDOW,
                    request_backoff(FREE_REQUESTS_PER_EMAIL),
                )?;
                store::record_login_failure(
                    conn,
                    &keys[1],
                    REQUEST_WINDOW,
                    request_backoff(FREE_REQUESTS_PER_ADDRESS),
                )?;
                let Some(user) = store::find_user_by_email(conn, email.as_str())? else {
                    return Ok(());
                };
                let now = Utc::now();
                store::insert_reset_token(
                    conn,
                    &PasswordResetToken {
                        id: Uuid::now_v7(),
                        organization_id: user.organization_id,
                        user_id: user.id,
                        token_hash: hash_token(&token),
                        created_at: now,
                        expires_at: now
                            + chrono::Duration::from_std(RESET_TOKEN_TTL).unwrap_or_default(),
                        used_at: None,
                    },
                )?;
                let body = format!(
                    "Hola {name},\n\n\
                     Alguien (esperamos que usted) pidió restablecer la contraseña de su cuenta.\n\
                     Abra este enlace en los próximos 30 minutos para elegir una nueva:\n\n\
                     {link_base}{token}\n\n\
                     Si no lo pidió, ignore este mensaje: su contraseña no cambia.\n",
                    name = user.name,
                );
                persistence::outbox::enqueue(
                    conn,
                    Some(user.organization_id),
                    "password_reset",
                    &user.email,
                    "Restablecer su contraseña",
                    &body,
                )?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(user.organization_id),
                        Some(user.id),
                        "password_reset_requested",
                        &address,
                        serde_json::json!({}),
                    ),
                )
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().json(ForgotPasswordResponse {
        message:
            "If an account uses this email, a reset link is on its way. It is valid for 30 minutes."
                .into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the emailed link.
    #[schema(min_length = 1, max_length = 100)]
    pub token: String,
    /// 12 to 128 characters.
    #[schema(example = "a brand new passphrase", min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

/// Set a new password with a reset token.
///
/// The token works once, within 30 minutes of the request. Every session of the user ends:
/// they log in again with the new password. No access token needed.
#[utoipa::path(
    operation_id = "resetPassword",
    tag = "auth",
    security(()),
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "Password changed; every session of the user ended"),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, expired or used token (`invalid_reset_token`), or a password outside the policy", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/password/reset")]
pub async fn reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let new_password = NewPassword::parse(&body.new_password).map_err(|e| {
        ApiError::validation(
            Violation::new(
                Pointer::root().field("new_password"),
                e.code(),
                e.to_string(),
            )
            .into(),
        )
    })?;
    let new_hash = web::block(move || password::hash(new_password.expose()))
        .await?
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let hash = hash_token(&body.token);
    let address = client_address(&req);
    let changed = state
        .db(move |conn| {
            persistence::transaction(conn, |conn| {
                let Some(token) = store::use_reset_token(conn, &hash)? else {
                    return Ok(false);
                };
                store::set_password(conn, token.organization_id, token.user_id, &new_hash)?;
                let revoked = store::revoke_user_tokens(conn, token.user_id)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(token.organization_id),
                        Some(token.user_id),
                        "password_reset",
                        &address,
                        serde_json::json!({ "sessions_ended": revoked }),
                    ),
                )?;
                Ok::<_, StoreError>(true)
            })
        })
        .await?;
    if changed {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::validation(
            Violation::new(
                Pointer::root().field("token"),
                "invalid_reset_token",
                "the reset link is unknown, expired or already used; ask for a new one",
            )
            .into(),
        ))
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(max_length = 128, format = Password)]
    pub current_password: String,
    /// 12 to 128 characters.
    #[schema(example = "a brand new passphrase", min_length = 12, max_length = 128, format = Password)]
    pub new_password: String,
}

/// Change the caller's password.
///
/// Needs the current password. Every other session of the user ends; the one that made the
/// change stays logged in. Any role may call it.
#[utoipa::path(
    operation_id = "changePassword",
    tag = "auth",
    security(("bearer_jwt" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Password changed; other sessions ended"),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token belongs to an API client, not a user", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password (`wrong_password`) or a new one outside the policy", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/password/change")]
pub async fn change(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let new_password = NewPassword::parse(&body.new_password).map_err(|e| {
        ApiError::validation(
            Violation::new(
                Pointer::root().field("new_password"),
                e.code(),
                e.to_string(),
            )
            .into(),
        )
    })?;
    let user_id = caller.user()?;
    let user = state
        .tenant_db(caller.organization_id, move |conn| {
            store::find_user(conn, caller.organization_id, user_id)
        })
        .await?;
    let current = body.current_password;
    let new_hash = web::block(move || {
        if password::verify(&current, &user.password_hash) {
            password::hash(new_password.expose()).map(Some)
        } else {
            Ok(None)
        }
    })
    .await?
    .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let Some(new_hash) = new_hash else {
        return Err(ApiError::validation(
            Violation::new(
                Pointer::root().field("current_password"),
                "wrong_password",
                "the current password is wrong",
            )
            .into(),
        ));
    };
    let address = client_address(&req);
    state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::transaction(conn, |conn| {
                store::set_password(conn, caller.organization_id, caller.user_id, &new_hash)?;
                let revoked =
                    store::revoke_user_tokens_except(conn, caller.user_id, caller.session_id)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(caller.organization_id),
                        Some(caller.user_id),
                        "password_changed",
                        &address,
                        serde_json::json!({ "sessions_ended": revoked }),
                    ),
                )
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
