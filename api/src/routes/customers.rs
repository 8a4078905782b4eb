//! Customers: the receivers (CFDI Receptor) an organization invoices.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | list, get (customers and contacts) | yes | yes | yes | yes |
//! | create, update, delete, import (customers and contacts) | yes | yes | yes | 403 |
//!
//! API clients act with their role. Every write is checked against the CFDI 4.0 receiver rules
//! with the SAT catalogs the service has loaded, and every broken rule is reported at once.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use domain::fields;
use domain::identity::Role;
use domain::receiver::{self, Receiver};
use domain::validation::{Pointer, Violation, Violations};
use persistence::catalogs::Snapshot;
use persistence::customers::{self as store, Customer, CustomerFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::{Json, MergePatch};
use crate::pagination::{ListParams, Listed, Page, ResourceSort};
use crate::problem::{ApiError, Problem};
use crate::routes::imports::{
    self, Column, CsvBody, ImportQuery, ImportReport, Importable, Kind, column,
};
use crate::routes::resource::{RowBase, delete_guarded, merged, or_external_id_taken, search_text};
use crate::state::AppState;

/// How many invoice emails a customer may have.
pub const MAX_EMAILS: usize = 10;

/// A postal address, for the customer's records and the printed invoice (CFDI 4.0 itself only
/// carries the fiscal postal code, `DomicilioFiscalReceptor`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[schema(example = "Av. Constitución", max_length = 200)]
    pub street: Option<String>,
    #[schema(example = "1500", max_length = 50)]
    pub exterior_number: Option<String>,
    #[schema(example = "Piso 3", max_length = 50)]
    pub interior_number: Option<String>,
    /// Colonia.
    #[schema(example = "Centro", max_length = 200)]
    pub neighborhood: Option<String>,
    /// Localidad or city.
    #[schema(example = "Monterrey", max_length = 200)]
    pub locality: Option<String>,
    #[schema(example = "Monterrey", max_length = 200)]
    pub municipality: Option<String>,
    #[schema(example = "Nuevo León", max_length = 200)]
    pub state: Option<String>,
    /// Postal code of this address (abroad, any format up to 20 characters).
    #[schema(example = "64000", max_length = 20)]
    pub postal_code: Option<String>,
    /// Country, a c_Pais key.
    #[schema(example = "MEX", pattern = "^[A-Z]{3}$")]
    pub country: Option<String>,
}

/// Declares a struct with every customer field, so the request body and the view share one
/// list of fields, descriptions and limits (the view adds its own, and does not refuse unknown
/// members the way the request does).
macro_rules! with_customer_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($before:tt)* } { $($after:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($before)*
            /// CFDI `Receptor/@Nombre`: the legal name exactly as registered with SAT (as on the
            /// customer's Constancia de Situación Fiscal, without the company type, e.g. "SA DE CV").
            #[schema(example = "ESCUELA KEMPER URGATE", min_length = 1, max_length = 254)]
            pub legal_name: String,
            /// CFDI `Receptor/@Rfc`: 12 characters for a company, 13 for a person; `XAXX010101000`
            /// for the general public, `XEXX010101000` for foreign customers.
            #[schema(example = "EKU9003173C9", min_length = 12, max_length = 13)]
            pub rfc: String,
            /// CFDI `Receptor/@RegimenFiscalReceptor`: a c_RegimenFiscal key that fits the kind of
            /// person (`616` with a generic RFC).
            #[schema(example = "601", pattern = "^[0-9]{3}$")]
            pub tax_regime: String,
            /// CFDI `Receptor/@DomicilioFiscalReceptor`: the c_CodigoPostal key of the customer's
            /// fiscal address (the organization's own with a generic RFC).
            #[schema(example = "42501", pattern = "^[0-9]{5}$")]
            pub tax_postal_code: String,
            /// Default CFDI `Receptor/@UsoCFDI` for new invoices: a c_UsoCFDI key allowed for the
            /// customer's régimen and kind of person.
            #[schema(example = "G03", pattern = "^[A-Z0-9]{3,4}$")]
            #[serde(default)]
            pub cfdi_use: Option<String>,
            /// CFDI `Receptor/@ResidenciaFiscal`: c_Pais key of a foreign customer's tax residence
            /// (only with `XEXX010101000`; never `MEX`).
            #[schema(example = "USA", pattern = "^[A-Z]{3}$")]
            #[serde(default)]
            pub tax_residence_country: Option<String>,
            /// CFDI `Receptor/@NumRegIdTrib`: a foreign customer's tax id, in the format c_Pais gives
            /// for its country.
            #[schema(example = "123456789", min_length = 1, max_length = 40)]
            #[serde(default)]
            pub foreign_tax_id: Option<String>,
            /// Where invoices are emailed (up to 10 distinct addresses).
            #[schema(example = json!(["pagos@kemper.example"]), max_items = 10)]
            #[serde(default)]
            pub emails: Vec<String>,
            /// 7–20 digits with optional `+`, spaces, `( ) - .` and an extension (`ext 12`).
            #[schema(example = "+52 81 1234 5678", max_length = 40)]
            #[serde(default)]
            pub phone: Option<String>,
            #[serde(default)]
            pub address: Option<Address>,
            /// Days the customer has to pay; an invoice's due date defaults to its date plus these.
            #[schema(example = 30, minimum = 0, maximum = 365)]
            #[serde(default)]
            pub payment_terms_days: i64,
            /// Free notes for the team; never printed.
            #[schema(max_length = 5000)]
            #[serde(default)]
            pub notes: Option<String>,
            /// The customer's id in the client's own system (ERP); unique in the organization.
            #[schema(example = "SAP-C-000123", min_length = 1, max_length = 100)]
            #[serde(default)]
            pub external_id: Option<String>,
            /// Up to 50 string pairs for the client's own use (keys ≤ 40, values ≤ 500 characters).
            #[schema(example = json!({"segment": "education"}))]
            #[serde(default)]
            pub metadata: BTreeMap<String, String>,
            /// Archived customers stay on their invoices but are hidden from pickers; archive instead
            /// of deleting a customer that has invoices.
            #[serde(default)]
            pub archived: bool,
            $($after)*
        }
    };
}

with_customer_fields! {
    /// A customer as a client writes it: the body of `POST /v1/customers`, and what a `PATCH`
    /// is merged into.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Validate)]
    #[serde(deny_unknown_fields)]
    pub struct CustomerInput {} {}
}

with_customer_fields! {
    /// A customer.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct CustomerView {
        pub id: Uuid,
    } {
        /// Increases with every change; the `ETag` is this number in quotes.
        #[schema(example = 1)]
        pub version: i32,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

/// The changes to a customer, as a JSON merge patch (RFC 7396): members present replace
/// the stored ones, `null` clears an optional member, absent members stay as they are.
/// `metadata` and `address` merge key by key.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the PATCH body; the handler merges a JSON object"
)]
pub struct CustomerPatch {
    #[schema(example = "ESCUELA KEMPER URGATE", min_length = 1, max_length = 254)]
    legal_name: Option<String>,
    #[schema(min_length = 12, max_length = 13)]
    rfc: Option<String>,
    #[schema(pattern = "^[0-9]{3}$")]
    tax_regime: Option<String>,
    #[schema(pattern = "^[0-9]{5}$")]
    tax_postal_code: Option<String>,
    #[schema(pattern = "^[A-Z0-9]{3,4}$")]
    cfdi_use: Option<Option<String>>,
    #[schema(pattern = "^[A-Z]{3}$")]
    tax_residence_country: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 40)]
    foreign_tax_id: Option<Option<String>>,
    #[schema(max_items = 10)]
    emails: Option<Vec<String>>,
    #[schema(max_length = 40)]
    phone: Option<Option<String>>,
    address: Option<Option<Address>>,
    #[schema(minimum = 0, maximum = 365)]
    payment_terms_days: Option<i64>,
    #[schema(max_length = 5000)]
    notes: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 100)]
    external_id: Option<Option<String>>,
    /// Keys set to `null` are removed.
    metadata: Option<BTreeMap<String, Option<String>>>,
    #[schema(example = true)]
    archived: Option<bool>,
}

impl From<&Customer> for CustomerInput {
    fn from(c: &Customer) -> Self {
        Self {
            legal_name: c.legal_name.clone(),
            rfc: c.rfc.clone(),
            tax_regime: c.tax_regime.clone(),
            tax_postal_code: c.tax_postal_code.clone(),
            cfdi_use: c.cfdi_use.clone(),
            tax_residence_country: c.tax_residence_country.clone(),
            foreign_tax_id: c.foreign_tax_id.clone(),
            emails: c.emails.clone(),
            phone: c.phone.clone(),
            address: serde_json::from_value(c.address.clone())
                .ok()
                .filter(|a: &Address| *a != Address::default()),
            payment_terms_days: i64::from(c.payment_terms_days),
            notes: c.notes.clone(),
            external_id: c.external_id.clone(),
            metadata: serde_json::from_value(c.metadata.clone()).unwrap_or_default(),
            archived: c.archived,
        }
    }
}

impl From<&Customer> for CustomerView {
    fn from(c: &Customer) -> Self {
        let CustomerInput {
            legal_name,
            rfc,
            tax_regime,
            tax_postal_code,
            cfdi_use,
            tax_residence_country,
            foreign_tax_id,
            emails,
            phone,
            address,
            payment_terms_days,
            notes,
            external_id,
            metadata,
            archived,
        } = CustomerInput::from(c);
        Self {
            id: c.id,
            legal_name,
            rfc,
            tax_regime,
            tax_postal_code,
            cfdi_use,
            tax_residence_country,
            foreign_tax_id,
            emails,
            phone,
            address,
            payment_terms_days,
            notes,
            external_id,
            metadata,
            archived,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl Listed for CustomerView {
    fn id(&self) -> Uuid {
        self.id
    }
    fn name(&self) -> &str {
        &self.legal_name
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

impl CustomerInput {
    /// The catalog entries [`CustomerInput::check`] consults.
    pub fn catalog_keys(&self) -> Vec<(&'static str, &str)> {
        let mut keys = vec![
            ("c_RegimenFiscal", self.tax_regime.as_str()),
            ("c_CodigoPostal", self.tax_postal_code.as_str()),
        ];
        if let Some(usage) = &self.cfdi_use {
            keys.push(("c_UsoCFDI", usage));
        }
        if let Some(country) = &self.tax_residence_country {
            keys.push(("c_Pais", country));
        }
        if let Some(country) = self.address.as_ref().and_then(|a| a.country.as_deref()) {
            keys.push(("c_Pais", country));
        }
        keys
    }

    /// Every rule: the CFDI receiver rules and the limits of each field. Pointers start at
    /// `at` (the root for a single customer, `/rows/7` style for imports).
    pub fn check(&self, issuer_postal_code: &str, catalogs: &Snapshot, at: &Pointer) -> Violations {
        let mut v = Violations::new();
        let field = |name: &str| at.field(name);
        receiver::check(
            &Receiver {
                legal_name: &self.legal_name,
                rfc: &self.rfc,
                tax_regime: &self.tax_regime,
                tax_postal_code: &self.tax_postal_code,
                cfdi_use: self.cfdi_use.as_deref(),
                tax_residence_country: self.tax_residence_country.as_deref(),
                foreign_tax_id: self.foreign_tax_id.as_deref(),
            },
            issuer_postal_code,
            catalogs,
            at,
            &mut v,
        );
        fields::emails(&self.emails, MAX_EMAILS, field("emails"), &mut v);
        if let Some(phone) = &self.phone {
            fields::phone(phone, field("phone"), &mut v);
        }
        if let Some(address) = &self.address {
            let at = field("address");
            let parts = [
                ("street", &address.street, 200),
                ("exterior_number", &address.exterior_number, 50),
                ("interior_number", &address.interior_number, 50),
                ("neighborhood", &address.neighborhood, 200),
                ("locality", &address.locality, 200),
                ("municipality", &address.municipality, 200),
                ("state", &address.state, 200),
                ("postal_code", &address.postal_code, 20),
            ];
            for (name, value, max) in parts {
                if let Some(value) = value {
                    fields::text(value, 1, max, at.field(name), &mut v);
                }
            }
            if let Some(country) = &address.country
                && catalogs.get("c_Pais", country).is_none()
            {
                v.push(Violation::new(
                    at.field("country"),
                    "unknown_country",
                    "country is not a key of SAT's c_Pais catalog",
                ));
            }
        }
        if !(0..=365).contains(&self.payment_terms_days) {
            v.push(Violation::new(
                field("payment_terms_days"),
                "out_of_range",
                "payment_terms_days must be from 0 to 365",
            ));
        }
        if let Some(notes) = &self.notes {
            fields::multiline_text(notes, 5000, field("notes"), &mut v);
        }
        if let Some(external_id) = &self.external_id {
            fields::external_id(external_id, field("external_id"), &mut v);
        }
        fields::metadata(&self.metadata, field("metadata"), &mut v);
        v
    }

    /// The row for this input; `id`, `version` and timestamps come from `base`.
    pub fn to_row(&self, base: RowBase) -> Customer {
        let rfc = self.rfc.to_uppercase();
        let mut search = format!("{} {rfc}", self.legal_name);
        for email in &self.emails {
            search.push(' ');
            search.push_str(email);
        }
        Customer {
            id: base.id,
            organization_id: base.organization_id,
            legal_name: self.legal_name.clone(),
            rfc,
            tax_regime: self.tax_regime.clone(),
            tax_postal_code: self.tax_postal_code.clone(),
            cfdi_use: self.cfdi_use.clone(),
            tax_residence_country: self.tax_residence_country.clone(),
            foreign_tax_id: self.foreign_tax_id.clone(),
            emails: self.emails.iter().map(|e| e.trim().to_string()).collect(),
            phone: self.phone.clone(),
            address: serde_json::to_value(self.address.clone().unwrap_or_default())
                .unwrap_or_default(),
            payment_terms_days: i32::try_from(self.payment_terms_days).unwrap_or_default(),
            notes: self.notes.clone(),
            external_id: self.external_id.clone(),
            metadata: serde_json::to_value(&self.metadata).unwrap_or_default(),
            archived: self.archived,
            search: domain::text::fold(&search),
            version: base.version,
            created_at: base.created_at,
            updated_at: base.updated_at,
        }
    }
}

fn customer_response(status: StatusCode, customer: &Customer) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(customer.version)))
        .insert_header(("Location", format!("/v1/customers/{}", customer.id)))
        .json(CustomerView::from(customer))
}

/// Create a customer.
///
/// Owners, admins and accountants. Checked against the CFDI 4.0 receiver rules with SAT's
/// catalogs; every broken rule is reported at once, with SAT's code where SAT has one
/// (`CFDI40158`: the régimen does not fit the kind of person). Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "createCustomer",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the same key and body replay the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    request_body(content = CustomerInput, example = json!({
        "legal_name": "ESCUELA KEMPER URGATE",
        "rfc": "EKU9003173C9",
        "tax_regime": "601",
        "tax_postal_code": "42501",
        "cfdi_use": "G03",
        "emails": ["pagos@kemper.example"],
        "payment_terms_days": 30,
        "external_id": "SAP-C-000123"
    })),
    responses(
        (status = 201, description = "Created; `ETag` and `Location` name it", body = CustomerView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot create customers", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`, or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/customers")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<CustomerInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let org = caller.organization_id;
    let customer = state
        .tenant_db(org, move |conn| {
            let organization = persistence::identity::find_organization(conn, org)?;
            let catalogs = Snapshot::fetch(conn, &input.catalog_keys())?;
            let violations = input.check(&organization.postal_code, &catalogs, &Pointer::root());
            if !violations.is_empty() {
                return Ok(Err(ApiError::validation(violations)));
            }
            let row = input.to_row(RowBase::new(org));
            or_external_id_taken(persistence::transaction(conn, |conn| {
                store::insert(conn, &row)
            }))
        })
        .await??;
    Ok(customer_response(StatusCode::CREATED, &customer))
}

/// Query parameters of `GET /v1/customers`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerListQuery {
    /// How many customers to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 500, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `name` (the default), `created_at` or `updated_at`; prefix `-` for descending.
    #[param(pattern = "^-?(name|created_at|updated_at)$", example = "-updated_at")]
    pub sort: Option<String>,
    /// Text to find in the legal name, RFC or emails, ignoring case and accents ("kemper",
    /// "eku9003", "jose" finds "José").
    #[param(min_length = 1, max_length = 100, example = "kemper")]
    pub q: Option<String>,
    /// Only the customers with exactly this RFC.
    #[param(min_length = 12, max_length = 13, example = "EKU9003173C9")]
    pub rfc: Option<String>,
    /// `true`: only archived customers; `false`: only active ones; absent: both (what a sync
    /// wants, so that it sees archivals too).
    pub archived: Option<bool>,
    /// Only customers changed at or after this instant (RFC 3339), for ERP sync: keep the
    /// largest `updated_at` seen and ask again from it, sorted by `updated_at`.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List and search customers.
///
/// Every role. Sorted by name unless `sort` says otherwise.
#[utoipa::path(
    operation_id = "listCustomers",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(CustomerListQuery),
    responses(
        (status = 200, description = "A page of customers", body = Page<CustomerView>),
        (status = 400, description = "Invalid query parameters, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/customers")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CustomerListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut violations = Violations::new();
    let search = search_text(query.q, &mut violations);
    if let Some(rfc) = &query.rfc
        && !(12..=13).contains(&rfc.chars().count())
    {
        violations.push(Violation::new(
            Pointer::root().field("rfc"),
            "length",
            "rfc has 12 or 13 characters",
        ));
    }
    let request = ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
        sort: query.sort,
    }
    .parse_with::<ResourceSort>(violations)?;
    let filter = CustomerFilter {
        search,
        rfc: query.rfc.map(|r| r.to_uppercase()),
        archived: query.archived,
        updated_since: query.updated_since,
    };
    let page = request.resource_page()?;
    let org = caller.organization_id;
    let rows = state
        .tenant_db(org, move |conn| store::list(conn, org, &filter, &page))
        .await?;
    let views = rows.rows.iter().map(CustomerView::from).collect();
    let page = request.resource_answer(views, rows.has_more);
    Ok(HttpResponse::Ok().json(page))
}

/// Get a customer.
///
/// Every role. `ETag` carries its version for `If-Match`.
#[utoipa::path(
    operation_id = "getCustomer",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The customer's id")),
    responses(
        (status = 200, description = "The customer", body = CustomerView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/customers/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let customer = state
        .tenant_db(org, move |conn| store::find(conn, org, id))
        .await?;
    Ok(customer_response(StatusCode::OK, &customer))
}

/// Change a customer.
///
/// Owners, admins and accountants. The body is a JSON merge patch (RFC 7396); the customer
/// that results is checked as a whole, like a new one. Send `If-Match` with the `ETag` you
/// read to avoid overwriting someone else's change.
#[utoipa::path(
    operation_id = "updateCustomer",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body(content = CustomerPatch, example = json!({"cfdi_use": "G01", "emails": ["cxp@kemper.example"], "metadata": {"segment": null}})),
    responses(
        (status = 200, description = "The changed customer", body = CustomerView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot change customers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The customer changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/customers/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    Json(patch): Json<MergePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let customer = state
        .tenant_db(org, move |conn| {
            let current = store::lock(conn, org, id)?;
            if !if_match.matches(current.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            let input = match merged(&CustomerInput::from(&current), &patch) {
                Ok(input) => input,
                Err(e) => return Ok(Err(e)),
            };
            let organization = persistence::identity::find_organization(conn, org)?;
            let catalogs = Snapshot::fetch(conn, &input.catalog_keys())?;
            let violations = input.check(&organization.postal_code, &catalogs, &Pointer::root());
            if !violations.is_empty() {
                return Ok(Err(ApiError::validation(violations)));
            }
            let row = input.to_row(RowBase::of(
                current.id,
                current.organization_id,
                current.version,
                current.created_at,
                current.updated_at,
            ));
            or_external_id_taken(persistence::transaction(conn, |conn| {
                store::update(conn, &row)
            }))
        })
        .await??;
    Ok(customer_response(StatusCode::OK, &customer))
}

/// Delete a customer.
///
/// Owners, admins and accountants. A customer that invoices refer to cannot be deleted (409
/// `in_use`): archive it instead (`PATCH` with `{"archived": true}`). Its contacts go with it.
#[utoipa::path(
    operation_id = "deleteCustomer",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The customer's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot delete customers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invoices refer to the customer (`in_use`): archive it instead", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The customer changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/customers/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    state
        .tenant_db(org, move |conn| {
            let version = store::lock(conn, org, id).map(|c| c.version);
            delete_guarded(
                conn,
                version,
                &if_match,
                "invoices refer to this customer: archive it instead (PATCH {\"archived\": true})",
                |conn| store::delete(conn, org, id),
            )
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

impl Importable for Customer {
    type Input = CustomerInput;
    const COLUMNS: &'static [Column] = &[
        column("external_id", Kind::Text),
        column("legal_name", Kind::Text),
        column("rfc", Kind::Text),
        column("tax_regime", Kind::Text),
        column("tax_postal_code", Kind::Text),
        column("cfdi_use", Kind::Text),
        column("tax_residence_country", Kind::Text),
        column("foreign_tax_id", Kind::Text),
        column("emails", Kind::List),
        column("phone", Kind::Text),
        column("address.street", Kind::Text),
        column("address.exterior_number", Kind::Text),
        column("address.interior_number", Kind::Text),
        column("address.neighborhood", Kind::Text),
        column("address.locality", Kind::Text),
        column("address.municipality", Kind::Text),
        column("address.state", Kind::Text),
        column("address.postal_code", Kind::Text),
        column("address.country", Kind::Text),
        column("payment_terms_days", Kind::Integer),
        column("notes", Kind::Text),
        column("archived", Kind::Bool),
    ];

    fn locked(
        conn: &mut persistence::PgConnection,
        org: Uuid,
        external_ids: &[String],
    ) -> Result<Vec<Self>, persistence::StoreError> {
        store::lock_by_external_ids(conn, org, external_ids)
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn base(&self) -> RowBase {
        RowBase::of(
            self.id,
            self.organization_id,
            self.version,
            self.created_at,
            self.updated_at,
        )
    }
    fn id(&self) -> Uuid {
        self.id
    }
    fn input(&self) -> CustomerInput {
        CustomerInput::from(self)
    }
    fn catalog_keys(input: &CustomerInput, _issuer: &str) -> Vec<(&'static str, String)> {
        input
            .catalog_keys()
            .into_iter()
            .map(|(c, k)| (c, k.to_string()))
            .collect()
    }
    fn check(input: &CustomerInput, issuer: &str, catalogs: &Snapshot, at: &Pointer) -> Violations {
        input.check(issuer, catalogs, at)
    }
    fn to_row(input: &CustomerInput, base: RowBase) -> Self {
        input.to_row(base)
    }
    fn insert_all(
        conn: &mut persistence::PgConnection,
        rows: &[Self],
    ) -> Result<(), persistence::StoreError> {
        store::insert_many(conn, rows)
    }
    fn update(
        conn: &mut persistence::PgConnection,
        row: &Self,
    ) -> Result<(), persistence::StoreError> {
        store::update(conn, row).map(drop)
    }
}

/// Import customers from CSV (ERP migrations and syncs).
///
/// Owners, admins and accountants. The body is `text/csv` (UTF-8, comma-separated, quoted
/// as RFC 4180, a header line first) with up to 20,000 records; each is upserted by
/// `external_id`, which every record needs.
///
/// **Columns** (any order; only `external_id` is required as a column): `external_id`,
/// `legal_name`, `rfc`, `tax_regime`, `tax_postal_code`, `cfdi_use`, `tax_residence_country`,
/// `foreign_tax_id`, `emails` (several separated by `;`), `phone`, `address.street`,
/// `address.exterior_number`, `address.interior_number`, `address.neighborhood`,
/// `address.locality`, `address.municipality`, `address.state`, `address.postal_code`,
/// `address.country`, `payment_terms_days` (a whole number), `notes`, `archived` (`true` or
/// `false`), and `metadata.<key>` for each metadata key. Each has the meaning and rules of the
/// member of the same name of `POST /v1/customers`.
///
/// **Upsert**: a record whose `external_id` is new creates a customer (then `legal_name`,
/// `rfc`, `tax_regime` and `tax_postal_code` are required); a known one changes that customer
/// like a JSON merge patch: the file's columns replace the stored values, an empty cell clears
/// an optional field, and columns the file lacks keep their values. A record equal to what is
/// stored is `unchanged` and keeps its version.
///
/// **Errors**: each record is checked like `POST /v1/customers`; pointers are
/// `/rows/<index>/<field>`, `index` counting records from 0 (`line` in the report is the CSV
/// line). By default the valid records are written and the invalid ones reported as
/// `failed` (200); with `atomic=true` nothing is written unless every record is valid (422
/// `import_failed` with every error). A malformed file, an unknown column or more than 20,000
/// records is refused as a whole. Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "importCustomers",
    tag = "customers",
    security(("bearer_jwt" = [])),
    params(
        ImportQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the same key and body replay the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    request_body(content = String, content_type = "text/csv", description = "A header line, then one customer per line",
        example = "external_id,legal_name,rfc,tax_regime,tax_postal_code,cfdi_use,emails,payment_terms_days\nSAP-C-1,ESCUELA KEMPER URGATE,EKU9003173C9,601,42501,G03,pagos@kemper.example;cxp@kemper.example,30\n"),
    responses(
        (status = 200, description = "What happened to each record", body = ImportReport),
        (status = 400, description = "Malformed CSV (with its line) or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot import", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than IMPORT_BODY_LIMIT", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or repeated columns, no external_id column, no records or too many (`too_many_rows`), or with `atomic=true` any invalid record (`import_failed`, every error with its pointer)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/customers/import")]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ImportQuery>,
    body: CsvBody,
) -> Result<HttpResponse, ApiError> {
    imports::handle::<Customer>(state, caller, query.into_inner(), body).await
}
