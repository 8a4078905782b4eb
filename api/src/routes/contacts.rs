//! The people at a customer: who receives invoices, who pays, who buys. Same permissions as
//! customers: every role reads, owners, admins and accountants write.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use domain::fields;
use domain::identity::{Email, Role};
use domain::validation::{Pointer, Violation, Violations};
use persistence::customers::{self as store, Contact};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::{Json, MergePatch, from_document};
use crate::pagination::{CreatedAtListQuery, ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// How many contacts one customer may have.
pub const MAX_CONTACTS: i64 = 100;

/// A contact as a client writes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    #[schema(example = "María Fernández", min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "maria@kemper.example", format = Email, max_length = 254)]
    #[serde(default)]
    pub email: Option<String>,
    /// 7–20 digits with optional `+`, spaces, `( ) - .` and an extension (`ext 12`).
    #[schema(example = "+52 81 1234 5678", max_length = 40)]
    #[serde(default)]
    pub phone: Option<String>,
    /// What the person does for the customer.
    #[schema(example = "accounts payable", min_length = 1, max_length = 100)]
    #[serde(default)]
    pub role: Option<String>,
}

/// Changes to a contact, as a JSON merge patch (RFC 7396): `null` clears a member.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the PATCH body; the handler merges a JSON object"
)]
pub struct ContactPatch {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    email: Option<Option<String>>,
    #[schema(max_length = 40)]
    phone: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 100)]
    role: Option<Option<String>>,
}

/// A contact of a customer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: Uuid,
    pub customer_id: Uuid,
    #[schema(example = "María Fernández")]
    pub name: String,
    #[schema(example = "maria@kemper.example")]
    pub email: Option<String>,
    #[schema(example = "+52 81 1234 5678")]
    pub phone: Option<String>,
    /// What the person does for the customer.
    #[schema(example = "accounts payable")]
    pub role: Option<String>,
    #[schema(example = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Contact> for ContactView {
    fn from(c: &Contact) -> Self {
        Self {
            id: c.id,
            customer_id: c.customer_id,
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            role: c.role.clone(),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl ContactInput {
    fn check(&self) -> Violations {
        let mut v = Violations::new();
        let at = Pointer::root();
        fields::text(&self.name, 1, 200, at.field("name"), &mut v);
        if let Some(email) = &self.email
            && let Err(e) = Email::parse(email)
        {
            v.push(Violation::new(at.field("email"), e.code(), e.to_string()));
        }
        if let Some(phone) = &self.phone {
            fields::phone(phone, at.field("phone"), &mut v);
        }
        if let Some(role) = &self.role {
            fields::text(role, 1, 100, at.field("role"), &mut v);
        }
        v
    }

    fn apply(&self, contact: &mut Contact) {
        contact.name = self.name.clone();
        contact.email = self.email.as_ref().map(|e| e.trim().to_string());
        contact.phone = self.phone.clone();
        contact.role = self.role.clone();
    }
}

fn contact_response(status: StatusCode, contact: &Contact) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(contact.version)))
        .insert_header((
            "Location",
            format!(
                "/v1/customers/{}/contacts/{}",
                contact.customer_id, contact.id
            ),
        ))
        .json(ContactView::from(contact))
}

/// Add a contact to a customer.
///
/// Owners, admins and accountants; up to 100 contacts a customer. Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "createCustomerContact",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer's id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the same key and body replay the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    request_body = ContactInput,
    responses(
        (status = 201, description = "Created", body = ContactView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot add contacts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The customer has 100 contacts already (`too_many_contacts`), or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/customers/{id}/contacts")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Json(input): Json<ContactInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, customer_id) = (caller.organization_id, id.into_inner());
    let violations = input.check();
    let contact = state
        .tenant_db(org, move |conn| {
            // Locking the customer serializes concurrent additions, so the cap holds.
            store::lock(conn, org, customer_id)?;
            if !violations.is_empty() {
                return Ok(Err(ApiError::validation(violations)));
            }
            if store::count_contacts(conn, org, customer_id)? >= MAX_CONTACTS {
                return Ok(Err(ApiError::conflict(
                    "too_many_contacts",
                    format!("a customer has at most {MAX_CONTACTS} contacts"),
                )));
            }
            let now = Utc::now();
            let mut contact = Contact {
                id: Uuid::now_v7(),
                organization_id: org,
                customer_id,
                name: String::new(),
                email: None,
                phone: None,
                role: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            input.apply(&mut contact);
            store::insert_contact(conn, &contact).map(Ok)
        })
        .await??;
    Ok(contact_response(StatusCode::CREATED, &contact))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ContactSort {
    CreatedAt,
}

impl SortKey for ContactSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("created_at", ContactSort::CreatedAt)];
    const DEFAULT: &'static str = "created_at";
}

/// List a customer's contacts.
///
/// Every role. Oldest first by default.
#[utoipa::path(
    operation_id = "listCustomerContacts",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The customer's id"), CreatedAtListQuery),
    responses(
        (status = 200, description = "A page of contacts", body = Page<ContactView>),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/customers/{id}/contacts")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<CreatedAtListQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = ListParams::from(query.into_inner()).parse::<ContactSort>()?;
    let page_query = request.query()?;
    let (org, customer_id) = (caller.organization_id, id.into_inner());
    let rows = state
        .tenant_db(org, move |conn| {
            // 404 for an unknown customer, not an empty list.
            store::find(conn, org, customer_id)?;
            store::list_contacts(conn, org, customer_id, &page_query)
        })
        .await?;
    let page = request.page(
        rows.rows.iter().map(ContactView::from).collect(),
        rows.has_more,
        |c: &ContactView| (c.created_at, c.id),
    );
    Ok(HttpResponse::Ok().json(page))
}

/// Get a contact.
#[utoipa::path(
    operation_id = "getCustomerContact",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer's id"),
        ("contact_id" = Uuid, Path, description = "The contact's id"),
    ),
    responses(
        (status = 200, description = "The contact; `ETag` carries its version", body = ContactView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or contact in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/customers/{id}/contacts/{contact_id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (customer_id, id) = path.into_inner();
    let org = caller.organization_id;
    let contact = state
        .tenant_db(org, move |conn| {
            store::find_contact(conn, org, customer_id, id)
        })
        .await?;
    Ok(contact_response(StatusCode::OK, &contact))
}

/// Change a contact.
///
/// Owners, admins and accountants. A JSON merge patch (RFC 7396); honours `If-Match`.
#[utoipa::path(
    operation_id = "updateCustomerContact",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer's id"),
        ("contact_id" = Uuid, Path, description = "The contact's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body(content = ContactPatch, example = json!({"phone": null, "role": "billing"})),
    responses(
        (status = 200, description = "The changed contact", body = ContactView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot change contacts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or contact in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The contact changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/customers/{id}/contacts/{contact_id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
    Json(patch): Json<MergePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (customer_id, id) = path.into_inner();
    let org = caller.organization_id;
    let contact = state
        .tenant_db(org, move |conn| {
            let mut contact = store::lock_contact(conn, org, customer_id, id)?;
            if !if_match.matches(contact.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            let current = ContactInput {
                name: contact.name.clone(),
                email: contact.email.clone(),
                phone: contact.phone.clone(),
                role: contact.role.clone(),
            };
            let mut document = serde_json::to_value(current).unwrap_or_default();
            patch.apply_to(&mut document);
            let input: ContactInput = match from_document(document) {
                Ok(input) => input,
                Err(e) => return Ok(Err(e)),
            };
            let violations = input.check();
            if !violations.is_empty() {
                return Ok(Err(ApiError::validation(violations)));
            }
            input.apply(&mut contact);
            store::update_contact(conn, &contact).map(Ok)
        })
        .await??;
    Ok(contact_response(StatusCode::OK, &contact))
}

/// Delete a contact.
#[utoipa::path(
    operation_id = "deleteCustomerContact",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer's id"),
        ("contact_id" = Uuid, Path, description = "The contact's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot delete contacts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer or contact in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The contact changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/customers/{id}/contacts/{contact_id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (customer_id, id) = path.into_inner();
    let org = caller.organization_id;
    state
        .tenant_db(org, move |conn| {
            let contact = store::lock_contact(conn, org, customer_id, id)?;
            if !if_match.matches(contact.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            store::delete_contact(conn, org, customer_id, id).map(Ok)
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
