//! Organizations, users, refresh-token families, login throttling and the security log.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::{
    api_clients, invitations, login_throttle, organizations, password_reset_tokens, refresh_tokens,
    security_events, users,
};

diesel::define_sql_function! {
    /// SQL `lower()`: matches the unique index on `lower(email)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct Organization {
    pub id: Uuid,
    pub legal_name: String,
    pub rfc: String,
    pub tax_regime: String,
    pub postal_code: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Creates an organization and its owner in the caller's transaction. A taken RFC or email
/// comes back as [`StoreError::UniqueViolation`] naming `organizations_rfc_key` or
/// `users_email_key`.
pub fn create_organization(
    conn: &mut PgConnection,
    org: &Organization,
    owner: &User,
) -> Result<(), StoreError> {
    diesel::insert_into(organizations::table)
        .values(org)
        .execute(conn)?;
    diesel::insert_into(users::table)
        .values(owner)
        .execute(conn)?;
    Ok(())
}

pub fn find_organization(
    conn: &mut PgConnection,
    org_id: Uuid,
) -> Result<Organization, StoreError> {
    Ok(organizations::table
        .find(org_id)
        .select(Organization::as_select())
        .first(conn)?)
}

/// Looks a user up by email, case-insensitively, across organizations (login).
pub fn find_user_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<User>, StoreError> {
    Ok(users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// A user of organization `org_id`; another organization's user is not found.
pub fn find_user(conn: &mut PgConnection, org_id: Uuid, user_id: Uuid) -> Result<User, StoreError> {
    Ok(users::table
        .filter(users::organization_id.eq(org_id))
        .find(user_id)
        .select(User::as_select())
        .first(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn insert_refresh_token(
    conn: &mut PgConnection,
    token: &RefreshToken,
) -> Result<(), StoreError> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

/// The token with this hash, locked for the rest of the transaction so two refreshes with the
/// same token cannot both rotate it.
pub fn lock_refresh_token(
    conn: &mut PgConnection,
    hash: &[u8],
) -> Result<Option<RefreshToken>, StoreError> {
    Ok(refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshToken::as_select())
        .for_update()
        .first(conn)
        .optional()?)
}

pub fn mark_rotated(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    diesel::update(refresh_tokens::table.find(id))
        .set(refresh_tokens::rotated_at.eq(Utc::now()))
        .execute(conn)?;
    Ok(())
}

/// Revokes every live token of a family; returns how many.
pub fn revoke_family(conn: &mut PgConnection, family_id: Uuid) -> Result<usize, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)?)
}

/// Revokes every live token of a user (password change or reset, removal).
pub fn revoke_user_tokens(conn: &mut PgConnection, user_id: Uuid) -> Result<usize, StoreError> {
    Ok(diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Utc::now()))
    .execute(conn)?)
}

/// The latest time until which any of `keys` is blocked, if one is blocked now.
pub fn blocked_until(
    conn: &mut PgConnection,
    keys: &[String],
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let until: Option<Option<DateTime<Utc>>> = login_throttle::table
        .filter(login_throttle::key.eq_any(keys))
        .filter(login_throttle::blocked_until.gt(Utc::now()))
        .select(diesel::dsl::max(login_throttle::blocked_until))
        .first(conn)
        .optional()?;
    Ok(until.flatten())
}

/// Counts a failure for `key` (restarting the count when the last one is older than `window`)
/// and blocks the key for `backoff(failures)` from now (`None`: not yet).
pub fn record_login_failure(
    conn: &mut PgConnection,
    key: &str,
    window: std::time::Duration,
    backoff: impl Fn(i32) -> Option<chrono::Duration>,
) -> Result<(), StoreError> {
    use diesel::sql_types::{Double, Integer, Text};
    #[derive(QueryableByName)]
    struct Failures {
        #[diesel(sql_type = Integer)]
        failures: i32,
    }
    let row: Failures = diesel::sql_query(
        "INSERT INTO login_throttle (key, failures, last_failure) VALUES ($1, 1, now())
         ON CONFLICT (key) DO UPDATE SET
             failures = CASE WHEN login_throttle.last_failure < now() - make_interval(secs => $2)
                             THEN 1 ELSE login_throttle.failures + 1 END,
             last_failure = now()
         RETURNING failures",
    )
    .bind::<Text, _>(key)
    .bind::<Double, _>(window.as_secs_f64())
    .get_result(conn)?;
    if let Some(delay) = backoff(row.failures) {
        diesel::update(login_throttle::table.find(key))
            .set(login_throttle::blocked_until.eq(Utc::now() + delay))
            .execute(conn)?;
    }
    Ok(())
}

pub fn clear_login_failures(conn: &mut PgConnection, key: &str) -> Result<(), StoreError> {
    diesel::delete(login_throttle::table.find(key)).execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = security_events)]
pub struct SecurityEvent {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub kind: String,
    pub client_address: Option<String>,
    pub details: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub fn record_security_event(
    conn: &mut PgConnection,
    event: &SecurityEvent,
) -> Result<(), StoreError> {
    diesel::insert_into(security_events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = password_reset_tokens)]
pub struct PasswordResetToken {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub user_id: Uuid,
    pub token_hash: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

pub fn insert_reset_token(
    conn: &mut PgConnection,
    token: &PasswordResetToken,
) -> Result<(), StoreError> {
    diesel::insert_into(password_reset_tokens::table)
        .values(token)
        .execute(conn)?;
    Ok(())
}

/// Spends the reset token with this hash: returns its row if it was unused and unexpired, and
/// marks it used, in the caller's transaction.
pub fn use_reset_token(
    conn: &mut PgConnection,
    hash: &[u8],
) -> Result<Option<PasswordResetToken>, StoreError> {
    let token: Option<PasswordResetToken> = password_reset_tokens::table
        .filter(password_reset_tokens::token_hash.eq(hash))
        .filter(password_reset_tokens::used_at.is_null())
        .filter(password_reset_tokens::expires_at.gt(Utc::now()))
        .select(PasswordResetToken::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    if let Some(token) = &token {
        diesel::update(password_reset_tokens::table.find(token.id))
            .set(password_reset_tokens::used_at.eq(Utc::now()))
            .execute(conn)?;
    }
    Ok(token)
}

/// Replaces a user's password hash.
pub fn set_password(
    conn: &mut PgConnection,
    org_id: Uuid,
    user_id: Uuid,
    hash: &str,
) -> Result<(), StoreError> {
    let updated = diesel::update(
        users::table
            .filter(users::organization_id.eq(org_id))
            .find(user_id),
    )
    .set((
        users::password_hash.eq(hash),
        users::version.eq(users::version + 1),
        users::updated_at.eq(Utc::now()),
    ))
    .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Revokes every live refresh token of a user except those of family `keep` (the session
/// that asked).
pub fn revoke_user_tokens_except(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<usize, StoreError> {
    let query = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .into_boxed();
    let query = match keep {
        Some(family) => query.filter(refresh_tokens::family_id.ne(family)),
        None => query,
    };
    let ids: Vec<Uuid> = query.select(refresh_tokens::id).load(conn)?;
    Ok(
        diesel::update(refresh_tokens::table.filter(refresh_tokens::id.eq_any(ids)))
            .set(refresh_tokens::revoked_at.eq(Utc::now()))
            .execute(conn)?,
    )
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = invitations)]
pub struct Invitation {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: String,
    pub role: String,
    pub token_hash: Vec<u8>,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
}

pub fn insert_invitation(
    conn: &mut PgConnection,
    invitation: &Invitation,
) -> Result<(), StoreError> {
    diesel::insert_into(invitations::table)
        .values(invitation)
        .execute(conn)?;
    Ok(())
}

/// Spends an invitation: returns it if unused and unexpired, and marks it accepted.
pub fn accept_invitation(
    conn: &mut PgConnection,
    hash: &[u8],
) -> Result<Option<Invitation>, StoreError> {
    let invitation: Option<Invitation> = invitations::table
        .filter(invitations::token_hash.eq(hash))
        .filter(invitations::accepted_at.is_null())
        .filter(invitations::expires_at.gt(Utc::now()))
        .select(Invitation::as_select())
        .for_update()
        .first(conn)
        .optional()?;
    if let Some(invitation) = &invitation {
        diesel::update(invitations::table.find(invitation.id))
            .set(invitations::accepted_at.eq(Utc::now()))
            .execute(conn)?;
    }
    Ok(invitation)
}

pub fn insert_user(conn: &mut PgConnection, user: &User) -> Result<(), StoreError> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)?;
    Ok(())
}

/// One page of an organization's users, by creation time then id.
pub fn list_users(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &crate::pagination::PageQuery<DateTime<Utc>>,
) -> Result<crate::pagination::Rows<User>, StoreError> {
    let query = users::table
        .filter(users::organization_id.eq(org_id))
        .select(User::as_select())
        .into_boxed();
    let rows = crate::keyset_page!(query, users::created_at, users::id, page).load(conn)?;
    Ok(crate::pagination::Rows::from_overfetch(rows, page.limit))
}

/// Locks a user of the organization for an update in the caller's transaction.
pub fn lock_user(conn: &mut PgConnection, org_id: Uuid, user_id: Uuid) -> Result<User, StoreError> {
    Ok(users::table
        .filter(users::organization_id.eq(org_id))
        .find(user_id)
        .select(User::as_select())
        .for_update()
        .first(conn)?)
}

/// How many owners the organization has, counted under a lock on them so two concurrent
/// demotions cannot both see "another owner remains".
pub fn lock_owners(conn: &mut PgConnection, org_id: Uuid) -> Result<usize, StoreError> {
    let owners: Vec<Uuid> = users::table
        .filter(users::organization_id.eq(org_id))
        .filter(users::role.eq("owner"))
        .select(users::id)
        .for_update()
        .load(conn)?;
    Ok(owners.len())
}

pub fn update_user(
    conn: &mut PgConnection,
    org_id: Uuid,
    user_id: Uuid,
    name: &str,
    role: &str,
) -> Result<User, StoreError> {
    Ok(diesel::update(
        users::table
            .filter(users::organization_id.eq(org_id))
            .find(user_id),
    )
    .set((
        users::name.eq(name),
        users::role.eq(role),
        users::version.eq(users::version + 1),
        users::updated_at.eq(Utc::now()),
    ))
    .returning(User::as_returning())
    .get_result(conn)?)
}

pub fn delete_user(conn: &mut PgConnection, org_id: Uuid, user_id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        users::table
            .filter(users::organization_id.eq(org_id))
            .find(user_id),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One page of an organization's security events, newest first.
pub fn list_security_events(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &crate::pagination::PageQuery<DateTime<Utc>>,
) -> Result<crate::pagination::Rows<SecurityEvent>, StoreError> {
    let query = security_events::table
        .filter(security_events::organization_id.eq(org_id))
        .select(SecurityEvent::as_select())
        .into_boxed();
    let rows = crate::keyset_page!(
        query,
        security_events::created_at,
        security_events::id,
        page
    )
    .load(conn)?;
    Ok(crate::pagination::Rows::from_overfetch(rows, page.limit))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients)]
pub struct ApiClient {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    pub role: String,
    pub secret_hash: Vec<u8>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn insert_api_client(conn: &mut PgConnection, client: &ApiClient) -> Result<(), StoreError> {
    diesel::insert_into(api_clients::table)
        .values(client)
        .execute(conn)?;
    Ok(())
}

/// A client that is not revoked, by id alone (the token endpoint does not know the tenant yet).
pub fn find_active_client(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<Option<ApiClient>, StoreError> {
    Ok(api_clients::table
        .find(client_id)
        .filter(api_clients::revoked_at.is_null())
        .select(ApiClient::as_select())
        .first(conn)
        .optional()?)
}

/// A client of the organization that is not revoked.
pub fn find_client(
    conn: &mut PgConnection,
    org_id: Uuid,
    client_id: Uuid,
) -> Result<ApiClient, StoreError> {
    Ok(api_clients::table
        .filter(api_clients::organization_id.eq(org_id))
        .filter(api_clients::revoked_at.is_null())
        .find(client_id)
        .select(ApiClient::as_select())
        .first(conn)?)
}

pub fn touch_client(conn: &mut PgConnection, client_id: Uuid) -> Result<(), StoreError> {
    diesel::update(api_clients::table.find(client_id))
        .set(api_clients::last_used_at.eq(Utc::now()))
        .execute(conn)?;
    Ok(())
}

/// The organization's clients that are not revoked, oldest first.
pub fn list_clients(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &crate::pagination::PageQuery<DateTime<Utc>>,
) -> Result<crate::pagination::Rows<ApiClient>, StoreError> {
    let query = api_clients::table
        .filter(api_clients::organization_id.eq(org_id))
        .filter(api_clients::revoked_at.is_null())
        .select(ApiClient::as_select())
        .into_boxed();
    let rows =
        crate::keyset_page!(query, api_clients::created_at, api_clients::id, page).load(conn)?;
    Ok(crate::pagination::Rows::from_overfetch(rows, page.limit))
}

/// Revokes a client of the organization; not found if it is unknown or already revoked.
pub fn revoke_client(
    conn: &mut PgConnection,
    org_id: Uuid,
    client_id: Uuid,
) -> Result<(), StoreError> {
    let revoked = diesel::update(
        api_clients::table
            .filter(api_clients::organization_id.eq(org_id))
            .filter(api_clients::revoked_at.is_null())
            .find(client_id),
    )
    .set(api_clients::revoked_at.eq(Utc::now()))
    .execute(conn)?;
    if revoked == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The names of the organization's users and API clients among `ids`, by id: how timelines
/// name who acted.
pub fn actor_names(
    conn: &mut PgConnection,
    org_id: Uuid,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, String>, StoreError> {
    let mut names: std::collections::HashMap<Uuid, String> = users::table
        .filter(users::organization_id.eq(org_id))
        .filter(users::id.eq_any(ids))
        .select((users::id, users::name))
        .load::<(Uuid, String)>(conn)?
        .into_iter()
        .collect();
    names.extend(
        crate::schema::api_clients::table
            .filter(crate::schema::api_clients::organization_id.eq(org_id))
            .filter(crate::schema::api_clients::id.eq_any(ids))
            .select((
                crate::schema::api_clients::id,
                crate::schema::api_clients::name,
            ))
            .load::<(Uuid, String)>(conn)?,
    );
    Ok(names)
}
