//! The users of an organization: invitations, roles, removal.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | list, get users and invitations | yes | yes | own user only | own user only |
//! | invite (`POST /v1/invitations`) | any role | admin, accountant, viewer | no | no |
//! | change a role | any user, any role | non-owners, to non-owner roles | no | no |
//! | change a name | anyone | non-owners and self | self | self |
//! | remove | anyone | non-owners | no | no |
//!
//! An organization always keeps one owner: the last one cannot be removed or demoted.
//!
//! API clients may read users with their role's rights but never invite, change or remove
//! anyone: a leaked client secret must not be able to create accounts or lock people out.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::identity::{Email, NewPassword, Role};
use domain::validation::{Pointer, Violation, Violations};
use persistence::StoreError;
use persistence::identity::{self as store, Invitation, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::{Caller, password};
use crate::concurrency::{IfMatch, etag};
use crate::extract::Json;
use crate::pagination::{CreatedAtListQuery, ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::routes::auth::{
    RegisterResponse, client_address, event, hash_token, new_refresh_token, session,
};
use crate::routes::views::{OrganizationView, UserView};
use crate::state::AppState;

const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Whether `caller` may give `target` to someone, or act on someone who has it.
pub(crate) fn may_manage(caller: Role, target: Role) -> bool {
    caller == Role::Owner || (caller == Role::Admin && target != Role::Owner)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum UserSort {
    CreatedAt,
}

impl SortKey for UserSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("created_at", UserSort::CreatedAt)];
    const DEFAULT: &'static str = "created_at";
}

/// List the organization's users.
///
/// Owners and admins see everyone; other roles see only themselves. Oldest first by default.
#[utoipa::path(
    operation_id = "listUsers",
    tag = "users",
    security(("bearer_jwt" = [])),
    params(CreatedAtListQuery),
    responses(
        (status = 200, description = "A page of users", body = Page<UserView>),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CreatedAtListQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = ListParams::from(query.into_inner()).parse::<UserSort>()?;
    let page_query = request.query()?;
    let rows = if caller.role.at_least(Role::Admin) {
        state
            .tenant_db(caller.organization_id, move |conn| {
                store::list_users(conn, caller.organization_id, &page_query)
            })
            .await?
    } else if caller.is_client {
        // An API client is nobody among the users.
        persistence::pagination::Rows {
            rows: Vec::new(),
            has_more: false,
        }
    } else {
        let me = state
            .tenant_db(caller.organization_id, move |conn| {
                store::find_user(conn, caller.organization_id, caller.user_id)
            })
            .await?;
        persistence::pagination::Rows {
            rows: vec![me],
            has_more: false,
        }
    };
    let page = request.page(
        rows.rows.into_iter().map(UserView::from).collect(),
        rows.has_more,
        |u: &UserView| (u.created_at, u.id),
    );
    Ok(HttpResponse::Ok().json(page))
}

fn user_response(status: StatusCode, user: User) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(user.version)))
        .json(UserView::from(user))
}

/// Get a user.
///
/// Owners and admins may read any user of the organization; others only themselves.
#[utoipa::path(
    operation_id = "getUser",
    tag = "users",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The user's id")),
    responses(
        (status = 200, description = "The user; `ETag` carries its version", body = UserView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/users/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // Someone who may not see other users cannot even learn they exist: 404, not 403.
    if id != caller.user_id && !caller.role.at_least(Role::Admin) {
        return Err(ApiError::not_found());
    }
    let user = state
        .tenant_db(caller.organization_id, move |conn| {
            store::find_user(conn, caller.organization_id, id)
        })
        .await?;
    Ok(user_response(StatusCode::OK, user))
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    /// Where the invitation is sent; the person logs in with it.
    #[schema(example = "luis@example.com", format = Email, max_length = 254)]
    pub email: String,
    /// `owner`, `admin`, `accountant` or `viewer`.
    #[schema(example = "accountant", pattern = "^(owner|admin|accountant|viewer)$")]
    pub role: String,
}

/// An invitation, as shown to the organization (its token only travels by email).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: Uuid,
    #[schema(example = "luis@example.com")]
    pub email: String,
    #[schema(example = "accountant")]
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id,
            email: i.email,
            role: i.role,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// Invite someone to the organization.
///
/// Emails a link (`PUBLIC_BASE_URL/accept-invitation?token=…`) valid 7 days; accepting it sets
/// the person's name and password. Owners may invite any role; admins any role but owner.
#[utoipa::path(
    operation_id = "inviteUser",
    tag = "users",
    security(("bearer_jwt" = [])),
    request_body = InviteRequest,
    responses(
        (status = 201, description = "Invited; the email is on its way", body = InvitationView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not invite, or not with this role; API clients never invite", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A user with this email already exists (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invitations")]
pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    Json(body): Json<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.user()?;
    caller.require(Role::Admin)?;
    let mut violations = Violations::new();
    let email = Email::parse(&body.email)
        .map_err(|e| {
            violations.push(Violation::new(
                Pointer::root().field("email"),
                e.code(),
                e.to_string(),
            ))
        })
        .ok();
    let role = Role::parse(&body.role);
    if role.is_none() {
        violations.push(Violation::new(
            Pointer::root().field("role"),
            "unknown_role",
            "role must be owner, admin, accountant or viewer",
        ));
    }
    let (Some(email), Some(role)) = (email, role) else {
        return Err(ApiError::validation(violations));
    };
    if !may_manage(caller.role, role) {
        return Err(ApiError::forbidden(format!(
            "a {} cannot invite a {role}",
            caller.role
        )));
    }
    let raw: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(raw);
    let now = Utc::now();
    let invitation = Invitation {
        id: Uuid::now_v7(),
        organization_id: caller.organization_id,
        email: email.as_str().to_string(),
        role: role.as_str().to_string(),
        token_hash: hash_token(&token),
        invited_by: Some(caller.user_id),
        created_at: now,
        expires_at: now + chrono::Duration::from_std(INVITATION_TTL).unwrap_or_default(),
        accepted_at: None,
    };
    let link = format!(
        "{}/accept-invitation?token={token}",
        state.config.public_base_url
    );
    let address = client_address(&req);
    let created = state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::transaction(conn, |conn| {
                if store::find_user_by_email(conn, &invitation.email)?.is_some() {
                    return Ok(None);
                }
                let organization = store::find_organization(conn, caller.organization_id)?;
                store::insert_invitation(conn, &invitation)?;
                let text = format!(
                    "Hola,\n\n{org} le invita a facturar con su cuenta como {role}.\n\
                     Abra este enlace en los próximos 7 días para elegir su nombre y contraseña:\n\n{link}\n",
                    org = organization.legal_name,
                    role = invitation.role,
                );
                persistence::outbox::enqueue(
                    conn,
                    Some(caller.organization_id),
                    "invitation",
                    &invitation.email,
                    &format!("Invitación de {}", organization.legal_name),
                    &text,
                )?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(caller.organization_id),
                        Some(caller.user_id),
                        "user_invited",
                        &address,
                        serde_json::json!({ "email": invitation.email, "role": invitation.role }),
                    ),
                )?;
                Ok::<_, StoreError>(Some(invitation))
            })
        })
        .await?;
    match created {
        Some(invitation) => Ok(HttpResponse::Created().json(InvitationView::from(invitation))),
        None => Err(
            ApiError::conflict("email_taken", "a user with this email already exists").with_field(
                Violation::new(
                    Pointer::root().field("email"),
                    "email_taken",
                    "already registered",
                ),
            ),
        ),
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    /// The token from the emailed link.
    #[schema(min_length = 1, max_length = 100)]
    pub token: String,
    /// The new user's full name.
    #[schema(example = "Luis Pérez", min_length = 1, max_length = 200)]
    pub name: String,
    /// 12 to 128 characters.
    #[schema(example = "correct horse battery staple", min_length = 12, max_length = 128, format = Password)]
    pub password: String,
}

/// Accept an invitation.
///
/// Creates the user with the invited email and role, and returns a session for them. The
/// token works once, within 7 days. No access token needed.
#[utoipa::path(
    operation_id = "acceptInvitation",
    tag = "users",
    security(()),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 201, description = "The user exists and is logged in", body = RegisterResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The email was registered meanwhile (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, expired or used token (`invalid_invitation_token`), or invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/auth/invitations/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    Json(body): Json<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut violations = Violations::new();
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        violations.push(Violation::new(
            Pointer::root().field("name"),
            "length",
            "name must have 1 to 200 characters",
        ));
    }
    let password = NewPassword::parse(&body.password)
        .map_err(|e| {
            violations.push(Violation::new(
                Pointer::root().field("password"),
                e.code(),
                e.to_string(),
            ))
        })
        .ok();
    let Some(password) = password.filter(|_| violations.is_empty()) else {
        return Err(ApiError::validation(violations));
    };
    let password_hash = web::block(move || password::hash(password.expose()))
        .await?
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))?;
    let hash = hash_token(&body.token);
    let address = client_address(&req);
    let outcome = state
        .db(move |conn| {
            let result = persistence::transaction(conn, |conn| {
                let Some(invitation) = store::accept_invitation(conn, &hash)? else {
                    return Ok(None);
                };
                let now = Utc::now();
                let user = User {
                    id: Uuid::now_v7(),
                    organization_id: invitation.organization_id,
                    name,
                    email: invitation.email.clone(),
                    password_hash,
                    role: invitation.role.clone(),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                };
                store::insert_user(conn, &user)?;
                let (token, row) = new_refresh_token(user.id, user.organization_id, Uuid::now_v7());
                store::insert_refresh_token(conn, &row)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(user.organization_id),
                        Some(user.id),
                        "invitation_accepted",
                        &address,
                        serde_json::json!({}),
                    ),
                )?;
                let organization = store::find_organization(conn, user.organization_id)?;
                Ok(Some((organization, user, row, token)))
            });
            match result {
                Err(StoreError::UniqueViolation { .. }) => Ok(Err(())),
                other => other.map(Ok),
            }
        })
        .await?;
    match outcome {
        Ok(Some((organization, user, row, token))) => {
            let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
            let session = session(&state, &row, role, token)?;
            Ok(HttpResponse::Created().json(RegisterResponse {
                organization: OrganizationView::from(organization),
                user: UserView::from(user),
                session,
            }))
        }
        Ok(None) => Err(ApiError::validation(
            Violation::new(
                Pointer::root().field("token"),
                "invalid_invitation_token",
                "the invitation is unknown, expired or already accepted; ask for a new one",
            )
            .into(),
        )),
        Err(()) => Err(ApiError::conflict(
            "email_taken",
            "a user with this email already exists",
        )),
    }
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New full name.
    #[schema(example = "Luis Pérez", min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// New role: `owner`, `admin`, `accountant` or `viewer`.
    #[schema(example = "admin", pattern = "^(owner|admin|accountant|viewer)$")]
    pub role: Option<String>,
}

/// Change a user's name or role.
///
/// Anyone may rename themselves; owners and admins may rename others they manage. Owners may
/// change any role; admins may change non-owners to non-owner roles. The last owner cannot be
/// demoted. Send `If-Match` with the user's `ETag` to avoid overwriting a concurrent change.
#[utoipa::path(
    operation_id = "updateUser",
    tag = "users",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated user", body = UserView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not make this change; API clients never change users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot be demoted (`last_owner`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/users/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    Json(body): Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.user()?;
    let id = id.into_inner();
    if id != caller.user_id && !caller.role.at_least(Role::Admin) {
        return Err(ApiError::not_found());
    }
    let mut violations = Violations::new();
    let name = body.name.map(|n| n.trim().to_string());
    if name
        .as_ref()
        .is_some_and(|n| n.is_empty() || n.chars().count() > 200)
    {
        violations.push(Violation::new(
            Pointer::root().field("name"),
            "length",
            "name must have 1 to 200 characters",
        ));
    }
    let role = match body.role.as_deref().map(Role::parse) {
        Some(None) => {
            violations.push(Violation::new(
                Pointer::root().field("role"),
                "unknown_role",
                "role must be owner, admin, accountant or viewer",
            ));
            None
        }
        Some(Some(role)) => Some(role),
        None => None,
    };
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let address = client_address(&req);
    let updated = state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::transaction(conn, |conn| {
                let owners = store::lock_owners(conn, caller.organization_id)?;
                let target = store::lock_user(conn, caller.organization_id, id)?;
                if !if_match.matches(target.version) {
                    return Ok(Err(ApiError::precondition_failed()));
                }
                let current = Role::parse(&target.role).unwrap_or(Role::Viewer);
                if id != caller.user_id && !may_manage(caller.role, current) {
                    return Ok(Err(ApiError::forbidden(format!("a {} cannot change a {current}", caller.role))));
                }
                let new_role = role.unwrap_or(current);
                if new_role != current {
                    if !may_manage(caller.role, current) || !may_manage(caller.role, new_role) {
                        return Ok(Err(ApiError::forbidden(format!(
                            "a {} cannot change a {current} into a {new_role}",
                            caller.role
                        ))));
                    }
                    if current == Role::Owner && owners <= 1 {
                        return Ok(Err(ApiError::conflict(
                            "last_owner",
                            "the organization's last owner cannot be demoted; make someone else owner first",
                        )));
                    }
                }
                let user = store::update_user(
                    conn,
                    caller.organization_id,
                    id,
                    name.as_deref().unwrap_or(&target.name),
                    new_role.as_str(),
                )?;
                if new_role != current {
                    store::record_security_event(
                        conn,
                        &event(
                            Some(caller.organization_id),
                            Some(caller.user_id),
                            "role_changed",
                            &address,
                            serde_json::json!({ "user_id": id, "from": current, "to": new_role }),
                        ),
                    )?;
                }
                Ok::<_, StoreError>(Ok(user))
            })
        })
        .await??;
    Ok(user_response(StatusCode::OK, updated))
}

/// Remove a user from the organization.
///
/// Ends all their sessions at once. Owners may remove anyone; admins anyone but owners. The
/// last owner cannot be removed.
#[utoipa::path(
    operation_id = "removeUser",
    tag = "users",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The user's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the removal is based on"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller's role may not remove this user; API clients never remove users", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner cannot be removed (`last_owner`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The user changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/users/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.user()?;
    let id = id.into_inner();
    if !caller.role.at_least(Role::Admin) {
        return Err(if id == caller.user_id {
            ApiError::forbidden("only owners and admins remove users")
        } else {
            ApiError::not_found()
        });
    }
    let address = client_address(&req);
    state
        .tenant_db(caller.organization_id, move |conn| {
            persistence::transaction(conn, |conn| {
                let owners = store::lock_owners(conn, caller.organization_id)?;
                let target = store::lock_user(conn, caller.organization_id, id)?;
                if !if_match.matches(target.version) {
                    return Ok(Err(ApiError::precondition_failed()));
                }
                let role = Role::parse(&target.role).unwrap_or(Role::Viewer);
                if !may_manage(caller.role, role) {
                    return Ok(Err(ApiError::forbidden(format!(
                        "a {} cannot remove a {role}",
                        caller.role
                    ))));
                }
                if role == Role::Owner && owners <= 1 {
                    return Ok(Err(ApiError::conflict(
                        "last_owner",
                        "the organization's last owner cannot be removed",
                    )));
                }
                // Deleting the user deletes its refresh tokens (foreign key cascade); access
                // tokens stop working because every request looks the user up.
                store::delete_user(conn, caller.organization_id, id)?;
                store::record_security_event(
                    conn,
                    &event(
                        Some(caller.organization_id),
                        Some(caller.user_id),
                        "user_removed",
                        &address,
                        serde_json::json!({ "user_id": id, "email": target.email, "role": role }),
                    ),
                )?;
                Ok::<_, StoreError>(Ok(()))
            })
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
