//! ERP integrations: API clients and the OAuth 2.0 client-credentials token endpoint
//! (RFC 6749 §4.4).
//!
//! A client has a role like a user (never owner). Its secret is shown once, at creation, and
//! stored as a SHA-256 hash. Revoking a client stops its tokens at once: every request reads
//! the client, as it reads users.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use domain::identity::Role;
use domain::validation::{Pointer, Violation, Violations};
use persistence::StoreError;
use persistence::identity::{self as store, ApiClient};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::extract::{Json, read_body};
use crate::pagination::{CreatedAtListQuery, ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::routes::auth::{client_address, event, hash_token};
use crate::routes::users::may_manage;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct NewApiClient {
    /// What the integration is, for people reading the list.
    #[schema(example = "SAP Business One", min_length = 1, max_length = 200)]
    pub name: String,
    /// `admin`, `accountant` or `viewer`.
    #[schema(example = "accountant", pattern = "^(admin|accountant|viewer)$")]
    pub role: String,
}

/// An API client, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientView {
    /// The `client_id` for `POST /v1/oauth/token`.
    pub id: Uuid,
    #[schema(example = "SAP Business One")]
    pub name: String,
    #[schema(example = "accountant")]
    pub role: String,
    pub created_at: DateTime<Utc>,
    /// When it last obtained a token.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiClient> for ApiClientView {
    fn from(c: ApiClient) -> Self {
        Self {
            id: c.id,
            name: c.name,
            role: c.role,
            created_at: c.created_at,
            last_used_at: c.last_used_at,
        }
    }
}

/// A new client with its credentials; the secret is never shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiClient {
    #[serde(flatten)]
    pub client: ApiClientView,
    /// Same as `id`: the OAuth `client_id`.
    pub client_id: Uuid,
    /// The OAuth `client_secret`. Store it now: it cannot be read again.
    pub client_secret: String,
}

/// Create an API client for an ERP integration.
///
/// Owners and admins. The client acts with `role`: admin, accountant or viewer (an integration
/// never owns the account). The answer is the only time the secret is shown.
#[utoipa::path(
    operation_id = "createApiClient",
    tag = "api-clients",
    security(("bearer_jwt" = [])),
    request_body = NewApiClient,
    responses(
        (status = 201, description = "Created; store the secret now", body = CreatedApiClient),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins create clients, and API clients cannot create clients", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/api-clients")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(body): Json<NewApiClient>,
) -> Result<HttpResponse, ApiError> {
    let user_id = caller.user()?;
    caller.require(Role::Admin)?;
    let mut violations = Violations::new();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        violations.push(Violation::new(
            Pointer::root().field("name"),
            "length",
            "name must have 1 to 200 characters",
        ));
    }
    let role = Role::parse(&body.role).filter(|r| *r != Role::Owner);
    if role.is_none() {
        violations.push(Violation::new(
            Pointer::root().field("role"),
            "unknown_role",
            "role must be admin, accountant or viewer",
        ));
    }
    let Some(role) = role.filter(|_| violations.is_empty()) else {
        return Err(ApiError::validation(violations));
    };
    if !may_manage(caller.role, role) {
        return Err(ApiError::forbidden(format!(
            "a {} cannot create a client with the {role} role",
            caller.role
        )));
    }
    let raw: [u8; 32] = rand::random();
    let secret = format!("cs_{}", URL_SAFE_NO_PAD.encode(raw));
    let client = ApiClient {
        id: Uuid::now_v7(),
        organization_id: caller.organization_id,
        name,
        role: role.as_str().to_string(),
        secret_hash: hash_token(&secret),
        created_by: Some(user_id),
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let address = client_address(&req);
    let client = state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::transaction(conn, |conn| {
                store::insert_api_client(conn, &client)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(caller.organization_id),
                        Some(user_id),
                        "api_client_created",
                        &address,
                        serde_json::json!({ "client_id": client.id, "name": client.name, "role": client.role }),
                    ),
                )?;
                Ok::<_, StoreError>(client)
            })
        })
        .await?;
    let id = client.id;
    Ok(HttpResponse::Created().json(CreatedApiClient {
        client: client.into(),
        client_id: id,
        client_secret: secret,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ClientSort {
    CreatedAt,
}

impl SortKey for ClientSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("created_at", ClientSort::CreatedAt)];
    const DEFAULT: &'static str = "created_at";
}

/// List the organization's API clients (not revoked).
///
/// Owners and admins. Oldest first by default.
#[utoipa::path(
    operation_id = "listApiClients",
    tag = "api-clients",
    security(("bearer_jwt" = [])),
    params(CreatedAtListQuery),
    responses(
        (status = 200, description = "A page of clients", body = Page<ApiClientView>),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins see clients", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/api-clients")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CreatedAtListQuery>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let request = ListParams::from(query.into_inner()).parse::<ClientSort>()?;
    let page_query = request.query()?;
    let rows = state
        .tenant_db(caller.organization_id, move |conn| {
            store::list_clients(conn, caller.organization_id, &page_query)
        })
        .await?;
    let page = request.page(
        rows.rows.into_iter().map(ApiClientView::from).collect(),
        rows.has_more,
        |c: &ApiClientView| (c.created_at, c.id),
    );
    Ok(HttpResponse::Ok().json(page))
}

/// Revoke an API client.
///
/// Owners and admins. Its tokens stop working at once (each request checks the client).
#[utoipa::path(
    operation_id = "revokeApiClient",
    tag = "api-clients",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins revoke clients, and API clients cannot revoke clients", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/api-clients/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let user_id = caller.user()?;
    caller.require(Role::Admin)?;
    let id = id.into_inner();
    let address = client_address(&req);
    state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::transaction(conn, |conn| {
                store::revoke_client(conn, caller.organization_id, id)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(caller.organization_id),
                        Some(user_id),
                        "api_client_revoked",
                        &address,
                        serde_json::json!({ "client_id": id }),
                    ),
                )
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The token request of RFC 6749 §4.4.2.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[schema(example = "client_credentials", pattern = "^client_credentials$")]
    pub grant_type: String,
    /// The client's id, unless sent with HTTP Basic authentication.
    pub client_id: Option<String>,
    /// The client's secret, unless sent with HTTP Basic authentication.
    pub client_secret: Option<String>,
    /// Ignored: a client always gets its own role.
    pub scope: Option<String>,
}

/// A token response of RFC 6749 §5.1.
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthToken {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    #[schema(example = 900)]
    pub expires_in: u64,
}

/// An error response of RFC 6749 §5.2 (this endpoint does not use problem documents, as OAuth
/// client libraries expect this format).
#[derive(Debug, Serialize, ToSchema)]
pub struct OAuthError {
    /// `invalid_request`, `invalid_client` or `unsupported_grant_type`.
    #[schema(example = "invalid_client")]
    pub error: String,
    pub error_description: String,
}

fn oauth_error(
    status: actix_web::http::StatusCode,
    error: &str,
    description: &str,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"));
    if status == actix_web::http::StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"facturacion\""));
    }
    response.json(OAuthError {
        error: error.to_string(),
        error_description: description.to_string(),
    })
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1: form-encoded id and secret).
fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()?
            .pop()
            .map(|(_, v)| v)
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Get an access token for an API client.
///
/// OAuth 2.0 client credentials grant (RFC 6749 §4.4): `grant_type=client_credentials` with
/// the client's id and secret, form-encoded (`application/x-www-form-urlencoded`, as RFC 6749
/// says) or JSON, in the body or with HTTP Basic authentication. Returns an access token valid
/// 15 minutes; ask for a new one when it expires. Errors follow RFC 6749 §5.2.
#[utoipa::path(
    operation_id = "createOAuthToken",
    tag = "api-clients",
    security(()),
    request_body(content(
        (TokenRequest = "application/x-www-form-urlencoded"),
        (TokenRequest = "application/json"),
    )),
    responses(
        (status = 200, description = "An access token", body = OAuthToken),
        (status = 400, description = "`invalid_request` or `unsupported_grant_type`", body = OAuthError),
        (status = 401, description = "`invalid_client`: unknown or revoked client, or wrong secret", body = OAuthError),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/oauth/token")]
pub async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    use actix_web::http::StatusCode;
    let body = read_body(payload.into_inner(), state.config.request_body_limit).await?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let parsed: Option<TokenRequest> = match content_type.as_str() {
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(&body).ok(),
        "application/json" => serde_json::from_slice(&body).ok(),
        _ => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the request as application/x-www-form-urlencoded or application/json",
            ));
        }
    };
    let Some(request) = parsed else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ));
    };
    if request.grant_type != "client_credentials" {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        ));
    }
    let credentials =
        basic_credentials(&req).or(match (request.client_id, request.client_secret) {
            (Some(id), Some(secret)) => Some((id, secret)),
            _ => None,
        });
    let Some((client_id, secret)) = credentials else {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "send client_id and client_secret, in the body or with HTTP Basic authentication",
        ));
    };
    let invalid_client = || {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        )
    };
    let Ok(client_id) = Uuid::parse_str(&client_id) else {
        return Ok(invalid_client());
    };
    let presented = hash_token(&secret);
    let client = state
        .db(move |conn| {
            let client = store::find_active_client(conn, client_id)?;
            // Both hashes are 32 bytes of SHA-256; comparing them leaks nothing about the secret.
            match client {
                Some(client) if client.secret_hash == presented => {
                    store::touch_client(conn, client.id)?;
                    Ok(Some(client))
                }
                _ => Ok::<_, StoreError>(None),
            }
        })
        .await?;
    let Some(client) = client else {
        return Ok(invalid_client());
    };
    let role = Role::parse(&client.role).unwrap_or(Role::Viewer);
    let (access_token, ttl) = state
        .tokens
        .issue_for_client(client.id, client.organization_id, role)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(OAuthToken {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ttl.as_secs(),
        }))
}
