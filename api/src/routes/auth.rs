//! Registration, login, token refresh and logout.
//!
//! Sessions are a short-lived access JWT plus an opaque refresh token (256 random bits, stored
//! only as a SHA-256 hash, valid 30 days). Each refresh rotates the refresh token; presenting
//! a token that was already rotated means someone kept a copy, so the whole family of tokens
//! from that login is revoked.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use domain::identity::{Email, NewPassword, Role};
use domain::postal_code::PostalCode;
use domain::rfc::Rfc;
use domain::tax_regime::TaxRegime;
use domain::validation::{Pointer, Violation, Violations};
use persistence::StoreError;
use persistence::identity::{self as store, RefreshToken};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::password;
use crate::extract::Json;
use crate::problem::{ApiError, Problem};
use crate::routes::views::{OrganizationView, UserView};
use crate::state::AppState;

/// How long a refresh token lives.
pub const REFRESH_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Failed logins allowed per account before back-off starts, and per client address (higher:
/// many people may share an office's address).
const ACCOUNT_FREE_FAILURES: i32 = 5;
const ADDRESS_FREE_FAILURES: i32 = 20;
const MAX_BACKOFF_SECS: i64 = 15 * 60;
/// Failures older than this are forgotten: the count starts again.
const FAILURE_WINDOW: Duration = Duration::from_secs(60 * 60);

/// The organization to register: the business that will issue invoices (CFDI Emisor).
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    /// Legal name exactly as registered with SAT (CFDI `Emisor/@Nombre`).
    #[schema(example = "ESCUELA KEMPER URGATE", min_length = 1, max_length = 254)]
    pub legal_name: String,
    /// RFC of the business (CFDI `Emisor/@Rfc`): 12 characters for a company (persona moral),
    /// 13 for an individual (persona física); the check digit is verified.
    #[schema(example = "EKU9003173C9", min_length = 12, max_length = 13)]
    pub rfc: String,
    /// Tax regime, a key of SAT's c_RegimenFiscal that applies to the RFC's kind of person
    /// (CFDI `Emisor/@RegimenFiscal`).
    #[schema(example = "601", pattern = "^[0-9]{3}$")]
    pub tax_regime: String,
    /// Postal code of the place of issue, a key of SAT's c_CodigoPostal (CFDI `@LugarExpedicion`).
    #[schema(example = "42501", pattern = "^[0-9]{5}$")]
    pub postal_code: String,
}

/// The first user, who owns the organization.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NewOwner {
    /// Full name.
    #[schema(example = "Ana López", min_length = 1, max_length = 200)]
    pub name: String,
    /// Email address used to log in; unique across the service.
    #[schema(example = "ana@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// 12 to 128 characters; no composition rules (a passphrase is best).
    #[schema(example = "correct horse battery staple", min_length = 12, max_length = 128, format = Password)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub organization: NewOrganization,
    pub owner: NewOwner,
}

/// A session: an access token to call the API and a refresh token to get the next one.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    /// Opaque token for `POST /v1/auth/refresh`; single use, valid 30 days.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    #[schema(example = 2592000)]
    pub refresh_token_expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegisterResponse {
    pub organization: OrganizationView,
    pub user: UserView,
    /// A session for the new owner, so the client can continue without logging in.
    pub session: TokenResponse,
}

struct Registration {
    legal_name: String,
    rfc: Rfc,
    tax_regime: TaxRegime,
    postal_code: PostalCode,
    owner_name: String,
    email: Email,
    password: NewPassword,
}

fn text(value: &str, max: usize, at: Pointer, violations: &mut Violations) -> String {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        violations.push(Violation::new(at, "required", "must not be empty"));
    } else if trimmed.chars().count() > max {
        violations.push(Violation::new(
            at,
            "too_long",
            format!("must have at most {max} characters"),
        ));
    } else if trimmed.chars().any(char::is_control) {
        violations.push(Violation::new(
            at,
            "invalid_characters",
            "must not contain control characters",
        ));
    }
    trimmed.to_string()
}

fn parse_registration(req: RegisterRequest) -> Result<Registration, Violations> {
    let mut v = Violations::new();
    let org = Pointer::root().field("organization");
    let owner = Pointer::root().field("owner");
    let legal_name = text(
        &req.organization.legal_name,
        254,
        org.field("legal_name"),
        &mut v,
    );
    let rfc = Rfc::parse(&req.organization.rfc)
        .map_err(|e| v.push(Violation::new(org.field("rfc"), e.code(), e.to_string())))
        .ok();
    if let Some(rfc) = &rfc
        && (rfc.is_generic_national() || rfc.is_generic_foreign())
    {
        v.push(Violation::new(
            org.field("rfc"),
            "generic_rfc_not_allowed",
            "a generic RFC (XAXX010101000, XEXX010101000) identifies receivers, not an issuer",
        ));
    }
    let tax_regime = TaxRegime::parse(&req.organization.tax_regime)
        .map_err(|e| {
            v.push(Violation::new(
                org.field("tax_regime"),
                e.code(),
                e.to_string(),
            ))
        })
        .ok();
    if let (Some(rfc), Some(regime)) = (&rfc, &tax_regime)
        && !regime.allows(rfc.person_type())
    {
        v.push(Violation::new(
            org.field("tax_regime"),
            "tax_regime_not_applicable",
            format!(
                "tax regime {} does not apply to the kind of person of RFC {}",
                regime.code(),
                rfc.as_str()
            ),
        ));
    }
    let postal_code = PostalCode::parse(&req.organization.postal_code)
        .map_err(|e| {
            v.push(Violation::new(
                org.field("postal_code"),
                e.code(),
                e.to_string(),
            ))
        })
        .ok();
    let owner_name = text(&req.owner.name, 200, owner.field("name"), &mut v);
    let email = Email::parse(&req.owner.email)
        .map_err(|e| {
            v.push(Violation::new(
                owner.field("email"),
                e.code(),
                e.to_string(),
            ))
        })
        .ok();
    let password = NewPassword::parse(&req.owner.password)
        .map_err(|e| {
            v.push(Violation::new(
                owner.field("password"),
                e.code(),
                e.to_string(),
            ))
        })
        .ok();
    match (rfc, tax_regime, postal_code, email, password) {
        (Some(rfc), Some(tax_regime), Some(postal_code), Some(email), Some(password))
            if v.is_empty() =>
        {
            Ok(Registration {
                legal_name,
                rfc,
                tax_regime,
                postal_code,
                owner_name,
                email,
                password,
            })
        }
        _ => Err(v),
    }
}

pub(crate) use crate::client_address::client_address;

pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A new refresh token (256 random bits) and its database row.
pub(crate) fn new_refresh_token(
    user_id: Uuid,
    org_id: Uuid,
    family_id: Uuid,
) -> (String, RefreshToken) {
    let bytes: [u8; 32] = rand::random();
    let token = format!("rt_{}", URL_SAFE_NO_PAD.encode(bytes));
    let now = Utc::now();
    let row = RefreshToken {
        id: Uuid::now_v7(),
        organization_id: org_id,
        user_id,
        family_id,
        token_hash: hash_token(&token),
        created_at: now,
        expires_at: now + chrono::Duration::from_std(REFRESH_TOKEN_TTL).unwrap_or_default(),
        rotated_at: None,
        revoked_at: None,
    };
    (token, row)
}

/// The answer for a new or refreshed session: an access token tied to the refresh token's family.
pub(crate) fn session(
    state: &AppState,
    row: &RefreshToken,
    role: Role,
    refresh_token: String,
) -> Result<TokenResponse, ApiError> {
    let (access_token, ttl) = state
        .tokens
        .issue(row.user_id, row.organization_id, role, Some(row.family_id))
        .map_err(|e| ApiError::internal(&e))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: ttl.as_secs(),
        refresh_token,
        refresh_token_expires_in: REFRESH_TOKEN_TTL.as_secs(),
    })
}

pub(crate) fn event(
    org: Option<Uuid>,
    user: Option<Uuid>,
    kind: &str,
    address: &str,
    details: serde_json::Value,
) -> store::SecurityEvent {
    store::SecurityEvent {
        id: Uuid::now_v7(),
        organization_id: org,
        user_id: user,
        kind: kind.to_string(),
        client_address: Some(address.to_string()),
        details,
        created_at: Utc::now(),
    }
}

/// Register an organization and its owner.
///
/// Creates the organization (the CFDI issuer) and its first user with the `owner` role, and
/// returns a session for that user. Every invalid field is reported at once. No token needed.
#[utoipa::path(
    operation_id = "register",
    tag = "auth",
    security(()),
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; the owner is logged in", body = RegisterResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email or the RFC is already registered (`email_taken`, `rfc_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its JSON pointer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/register")]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let reg = parse_registration(body).map_err(ApiError::validation)?;
    let password = reg.password.clone();
    let password_hash = web::block(move || password::hash(password.expose()))
        .await?
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let now = Utc::now();
    let org = store::Organization {
        id: Uuid::now_v7(),
        legal_name: reg.legal_name,
        rfc: reg.rfc.as_str().to_string(),
        tax_regime: reg.tax_regime.code().to_string(),
        postal_code: reg.postal_code.as_str().to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let user = store::User {
        id: Uuid::now_v7(),
        organization_id: org.id,
        name: reg.owner_name,
        email: reg.email.as_str().to_string(),
        password_hash,
        role: Role::Owner.as_str().to_string(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let (refresh_token, refresh_row) = new_refresh_token(user.id, org.id, Uuid::now_v7());
    let session_row = refresh_row.clone();
    let address = client_address(&req);
    let created = state
        .db(move |conn| {
            let result = persistence::transaction(conn, |conn| {
                store::create_organization(conn, &org, &user)?;
                store::insert_refresh_token(conn, &refresh_row)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(org.id),
                        Some(user.id),
                        "organization_registered",
                        &address,
                        serde_json::json!({}),
                    ),
                )?;
                Ok::<_, StoreError>((org, user))
            });
            // A taken email or RFC is an answer for the client, not a fault.
            match result {
                Err(StoreError::UniqueViolation { constraint }) => Ok(Err(constraint)),
                other => other.map(Ok),
            }
        })
        .await?;
    let (org, user) = created.map_err(|constraint| {
        if constraint == "users_email_key" {
            ApiError::conflict(
                "email_taken",
                "a user with this email already exists; log in or reset the password",
            )
            .with_field(Violation::new(
                Pointer::root().field("owner").field("email"),
                "email_taken",
                "already registered",
            ))
        } else {
            ApiError::conflict(
                "rfc_taken",
                "an organization with this RFC is already registered",
            )
            .with_field(Violation::new(
                Pointer::root().field("organization").field("rfc"),
                "rfc_taken",
                "already registered",
            ))
        }
    })?;
    let session = session(&state, &session_row, Role::Owner, refresh_token)?;
    Ok(HttpResponse::Created().json(RegisterResponse {
        organization: OrganizationView::from(org),
        user: UserView::from(user),
        session,
    }))
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ana@example.com", max_length = 254)]
    pub email: String,
    #[schema(example = "correct horse battery staple", max_length = 128, format = Password)]
    pub password: String,
}

/// Exponential back-off after `free` failures: 1 s, 2 s, 4 s ... up to 15 minutes.
pub(crate) fn backoff(free: i32) -> impl Fn(i32) -> Option<chrono::Duration> {
    move |failures| {
        let over = failures - free;
        (over >= 0)
            .then(|| chrono::Duration::seconds((1_i64 << over.min(20)).min(MAX_BACKOFF_SECS)))
    }
}

/// Log in with email and password.
///
/// Returns an access token (15 minutes) and a refresh token (30 days). A wrong password and an
/// unknown email get the same answer. Repeated failures for an account or from one address
/// are slowed down exponentially: 429 with `Retry-After`. No token needed.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Wrong email or password (`invalid_credentials`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts; retry after `Retry-After` seconds", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    if body.email.len() > 254 || body.password.chars().count() > 128 {
        return Err(invalid_credentials());
    }
    let email = body.email.trim().to_lowercase();
    let address = client_address(&req);
    let keys = vec![format!("email:{email}"), format!("ip:{address}")];

    let blocked = {
        let keys = keys.clone();
        state
            .db(move |conn| store::blocked_until(conn, &keys))
            .await?
    };
    if let Some(until) = blocked {
        let wait = (until - Utc::now()).num_seconds().max(1) as u64;
        return Err(ApiError::too_many_requests(
            "too_many_attempts",
            Duration::from_secs(wait),
            "too many failed logins; wait before trying again",
        ));
    }

    let user = {
        let email = email.clone();
        state
            .db(move |conn| store::find_user_by_email(conn, &email))
            .await?
    };
    let password = body.password;
    let (user, matches) = web::block(move || match user {
        Some(user) => {
            let ok = password::verify(&password, &user.password_hash);
            (Some(user), ok)
        }
        None => {
            password::verify_decoy(&password);
            (None, false)
        }
    })
    .await?;

    match (user, matches) {
        (Some(user), true) => {
            let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
            let (refresh_token, row) =
                new_refresh_token(user.id, user.organization_id, Uuid::now_v7());
            let session_row = row.clone();
            let email_key = keys[0].clone();
            let (user_id, org_id) = (user.id, user.organization_id);
            state
                .db(move |conn| {
                    persistence::transaction(conn, |conn| {
                        store::clear_login_failures(conn, &email_key)?;
                        store::insert_refresh_token(conn, &row)?;
                        store::record_security_event(
                            conn,
                            &event(
                                Some(org_id),
                                Some(user_id),
                                "login_succeeded",
                                &address,
                                serde_json::json!({}),
                            ),
                        )
                    })
                })
                .await?;
            Ok(HttpResponse::Ok().json(session(&state, &session_row, role, refresh_token)?))
        }
        (user, _) => {
            let (org, uid) = (
                user.as_ref().map(|u| u.organization_id),
                user.as_ref().map(|u| u.id),
            );
            state
                .db(move |conn| {
                    persistence::transaction(conn, |conn| {
                        store::record_login_failure(
                            conn,
                            &keys[0],
                            FAILURE_WINDOW,
                            backoff(ACCOUNT_FREE_FAILURES),
                        )?;
                        store::record_login_failure(
                            conn,
                            &keys[1],
                            FAILURE_WINDOW,
                            backoff(ADDRESS_FREE_FAILURES),
                        )?;
                        store::record_security_event(
                            conn,
                            &event(
                                org,
                                uid,
                                "login_failed",
                                &address,
                                serde_json::json!({ "email": email }),
                            ),
                        )
                    })
                })
                .await?;
            Err(invalid_credentials())
        }
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized(
        "invalid_credentials",
        "the email or the password is wrong",
        Some("invalid_request"),
    )
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token of the current session.
    #[schema(min_length = 1, max_length = 100)]
    #[validate(length(
        min = 1,
        max = 100,
        code = "invalid_refresh_token_format",
        message = "refresh_token must have 1 to 100 characters"
    ))]
    pub refresh_token: String,
}

enum RefreshOutcome {
    Rotated {
        role: Role,
        row: RefreshToken,
        token: String,
    },
    Refused,
}

/// Exchange a refresh token for a new session.
///
/// The refresh token is single use: the answer carries a new one. Presenting a token that was
/// already exchanged revokes every token of that login (it was copied), and the user must log
/// in again. No access token needed.
#[utoipa::path(
    operation_id = "refreshSession",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new session", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token (`invalid_refresh_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_token(&body.refresh_token);
    let address = client_address(&req);
    let outcome = state
        .db(move |conn| {
            persistence::transaction(conn, |conn| {
                let Some(token) = store::lock_refresh_token(conn, &hash)? else {
                    return Ok(RefreshOutcome::Refused);
                };
                if token.revoked_at.is_some() || token.expires_at <= Utc::now() {
                    return Ok(RefreshOutcome::Refused);
                }
                if token.rotated_at.is_some() {
                    let revoked = store::revoke_family(conn, token.family_id)?;
                    store::record_security_event(
                        conn,
                        &event(
                            Some(token.organization_id),
                            Some(token.user_id),
                            "refresh_token_reused",
                            &address,
                            serde_json::json!({ "family_id": token.family_id, "revoked": revoked }),
                        ),
                    )?;
                    return Ok(RefreshOutcome::Refused);
                }
                store::mark_rotated(conn, token.id)?;
                let user = match store::find_user(conn, token.organization_id, token.user_id) {
                    Ok(user) => user,
                    // Removed since the token was issued: as good as revoked.
                    Err(StoreError::NotFound) => return Ok(RefreshOutcome::Refused),
                    Err(e) => return Err(e),
                };
                let (new_token, row) =
                    new_refresh_token(user.id, user.organization_id, token.family_id);
                store::insert_refresh_token(conn, &row)?;
                Ok::<_, StoreError>(RefreshOutcome::Rotated {
                    role: Role::parse(&user.role).unwrap_or(Role::Viewer),
                    row,
                    token: new_token,
                })
            })
        })
        .await?;
    match outcome {
        RefreshOutcome::Rotated { role, row, token } => {
            Ok(HttpResponse::Ok().json(session(&state, &row, role, token)?))
        }
        RefreshOutcome::Refused => Err(ApiError::unauthorized(
            "invalid_refresh_token",
            "the refresh token is unknown, expired, revoked or already used; log in again",
            Some("invalid_token"),
        )),
    }
}

/// End a session.
///
/// Revokes the refresh token and every token rotated from the same login. Access tokens
/// already issued stay valid until they expire (at most 15 minutes). Answers 204 whether or
/// not the token was known, so it can be retried safely. No access token needed.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Logged out"),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let hash = hash_token(&body.refresh_token);
    let address = client_address(&req);
    state
        .db(move |conn| {
            persistence::transaction(conn, |conn| {
                if let Some(token) = store::lock_refresh_token(conn, &hash)? {
                    store::revoke_family(conn, token.family_id)?;
                    store::record_security_event(
                        conn,
                        &event(
                            Some(token.organization_id),
                            Some(token.user_id),
                            "logout",
                            &address,
                            serde_json::json!({}),
                        ),
                    )?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
