//! Invoice series: the CFDI `Serie` an organization numbers its documents under, each with
//! its own gapless counter of `Folio`s.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | list, get | yes | yes | yes | yes |
//! | create, update, delete | yes | yes | 403 | 403 |
//!
//! API clients act with their role. Numbering is configuration: only owners and admins set
//! it up. The invoice code takes folios with `persistence::series::take_folio` inside its
//! issue transaction; nothing here hands one out.
//!
//! What keeps a folio from ever repeating: `next_folio` may be set at creation (to continue a
//! previous system's numbering) and later only raised; the prefix never changes (invoices carry
//! it with their folios, and a new series under the old prefix would start over); a series
//! that invoices use cannot be deleted.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use domain::cfdi::TipoDeComprobante;
use domain::fields;
use domain::identity::Role;
use domain::validation::{Pointer, Violation, Violations};
use persistence::StoreError;
use persistence::series::{self as store, Series, SeriesFilter, SeriesPage};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::{Json, MergePatch};
use crate::middleware::idempotency::IdempotencyKey;
use crate::pagination::{ListParams, Page, PageRequest, SortKey};
use crate::problem::{ApiError, Problem};
use crate::routes::resource::{RowBase, delete_guarded, merged, or_taken};
use crate::state::AppState;

/// Who may change series: numbering is the organization's configuration.
const WRITER: Role = Role::Admin;

/// Declares a struct with every series field, so the request body and the view share one
/// list of fields, descriptions and limits.
macro_rules! with_series_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($before:tt)* } { $($after:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($before)*
            /// CFDI `Comprobante/@Serie` of every document numbered in this series: 1–25
            /// characters, no `|`, no control characters, no two spaces in a row (SAT's t_Serie,
            /// whose white space is collapsed); leading and trailing white space is trimmed.
            /// Unique in the organization; it cannot change once created.
            #[schema(example = "F", min_length = 1, max_length = 25, pattern = "^[^|\\u0000-\\u001F\\u007F-\\u009F]+$")]
            pub prefix: String,
            /// CFDI `Comprobante/@TipoDeComprobante` (c_TipoDeComprobante) of the documents this
            /// series numbers: `I` ingreso (invoices), `E` egreso (credit notes), `P` pago
            /// (payment receipts), `T` traslado.
            #[schema(example = "I", pattern = "^[IEPT]$")]
            pub document_type: String,
            /// CFDI `Comprobante/@Folio` the next document of this series gets; folios are
            /// gapless and never repeat. Set it when creating the series to continue the
            /// numbering of a previous system; afterwards it may only be raised (lowering it is
            /// 422 `folio_would_repeat`). Every document issued moves it (and the `version`).
            #[schema(example = 1, minimum = 1, maximum = 9_007_199_254_740_991_i64, default = 1)]
            #[serde(default = "first_folio")]
            pub next_folio: i64,
            /// Whether documents of `document_type` that name no series use this one. At most
            /// one series per type is the default: making this one default makes the previous
            /// one not default. An archived series cannot be the default.
            #[serde(default)]
            pub is_default: bool,
            /// What the series is for, for the people who pick it (not part of the CFDI).
            #[schema(example = "Facturas de mostrador", min_length = 1, max_length = 200)]
            #[serde(default)]
            pub description: Option<String>,
            /// Archived series are kept, with their invoices, but hidden from pickers.
            #[serde(default)]
            pub archived: bool,
            $($after)*
        }
    };
}

fn first_folio() -> i64 {
    1
}

with_series_fields! {
    /// A series as a client writes it: the body of `POST /v1/series`, and what a `PATCH` is
    /// merged into.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Validate)]
    #[serde(deny_unknown_fields)]
    pub struct SeriesInput {} {}
}

with_series_fields! {
    /// An invoice series and its folio counter.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct SeriesView {
        pub id: Uuid,
    } {
        /// Increases with every change, a folio taken included; the `ETag` is this number
        /// in quotes.
        #[schema(example = 1)]
        pub version: i32,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

/// The changes to a series, as a JSON merge patch (RFC 7396): members present replace the
/// stored ones, `null` clears `description`, absent members stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the PATCH body; the handler merges a JSON object"
)]
pub struct SeriesPatch {
    /// Only the stored prefix is accepted: it cannot change.
    #[schema(
        min_length = 1,
        max_length = 25,
        pattern = "^[^|\\u0000-\\u001F\\u007F-\\u009F]+$"
    )]
    prefix: Option<String>,
    #[schema(pattern = "^[IEPT]$")]
    document_type: Option<String>,
    /// Only upwards: lowering it is 422 `folio_would_repeat`.
    #[schema(example = 1001, minimum = 1, maximum = 9_007_199_254_740_991_i64)]
    next_folio: Option<i64>,
    #[schema(example = true)]
    is_default: Option<bool>,
    #[schema(min_length = 1, max_length = 200)]
    description: Option<Option<String>>,
    archived: Option<bool>,
}

impl From<&Series> for SeriesInput {
    fn from(s: &Series) -> Self {
        Self {
            prefix: s.prefix.clone(),
            document_type: s.document_type.clone(),
            next_folio: s.next_folio,
            is_default: s.is_default,
            description: s.description.clone(),
            archived: s.archived,
        }
    }
}

impl From<&Series> for SeriesView {
    fn from(s: &Series) -> Self {
        Self {
            id: s.id,
            prefix: s.prefix.clone(),
            document_type: s.document_type.clone(),
            next_folio: s.next_folio,
            is_default: s.is_default,
            description: s.description.clone(),
            archived: s.archived,
            version: s.version,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

impl SeriesInput {
    /// The input with its prefix trimmed, as it is checked and stored.
    fn normalized(mut self) -> Self {
        let trimmed = self.prefix.trim();
        if trimmed.len() != self.prefix.len() {
            self.prefix = trimmed.to_string();
        }
        self
    }

    /// Every rule a series obeys on its own, all reported at once.
    fn check(&self) -> Violations {
        let mut v = Violations::new();
        let at = Pointer::root();
        domain::series::prefix(&self.prefix, at.field("prefix"), &mut v);
        if TipoDeComprobante::from_code(&self.document_type).is_none() {
            v.push(unknown_document_type(at.field("document_type")));
        }
        domain::series::folio(self.next_folio, at.field("next_folio"), &mut v);
        if let Some(description) = &self.description {
            fields::text(description, 1, 200, at.field("description"), &mut v);
        }
        if self.is_default && self.archived {
            v.push(Violation::new(
                at.field("is_default"),
                "archived_default",
                "an archived series cannot be the default: set is_default to false to archive it",
            ));
        }
        v
    }

    /// [`SeriesInput::check`] plus the rules of changing `current` into this.
    fn check_change(&self, current: &Series) -> Violations {
        let mut v = self.check();
        let at = Pointer::root();
        if self.prefix != current.prefix {
            v.push(Violation::new(
                at.field("prefix"),
                "immutable",
                "the prefix of a series cannot change: its invoices carry it with their folios, \
                 and a new series with the old prefix would repeat them; create another series",
            ));
        }
        domain::series::folio_change(
            current.next_folio,
            self.next_folio,
            at.field("next_folio"),
            &mut v,
        );
        v
    }

    /// The row for this input, which the checks passed; `id`, `version` and timestamps come
    /// from `base`.
    fn to_row(&self, base: RowBase) -> Series {
        Series {
            id: base.id,
            organization_id: base.organization_id,
            prefix: self.prefix.clone(),
            document_type: self.document_type.clone(),
            next_folio: self.next_folio,
            is_default: self.is_default,
            description: self.description.clone(),
            archived: self.archived,
            version: base.version,
            created_at: base.created_at,
            updated_at: base.updated_at,
        }
    }
}

fn unknown_document_type(at: Pointer) -> Violation {
    Violation::new(
        at,
        "unknown_document_type",
        "document_type is a c_TipoDeComprobante key: I, E, P or T",
    )
}

/// The problem for a write refused by the unique index of prefixes.
fn prefix_taken() -> ApiError {
    ApiError::conflict(
        "prefix_taken",
        "another series of this organization has this prefix",
    )
    .with_field(Violation::new(
        Pointer::root().field("prefix"),
        "prefix_taken",
        "already used by another series",
    ))
}

/// Writes `row` (new or changed) in a savepoint, first clearing the previous default of its
/// type when `row` becomes the default: both happen, or neither.
fn write(
    conn: &mut persistence::PgConnection,
    row: &Series,
    was_default_of: Option<&str>,
    store_row: impl FnOnce(&mut persistence::PgConnection, &Series) -> Result<Series, StoreError>,
) -> Result<Result<Series, ApiError>, StoreError> {
    let written = persistence::transaction(conn, |conn| {
        if row.is_default && was_default_of != Some(row.document_type.as_str()) {
            store::clear_default(conn, row.organization_id, &row.document_type, row.id)?;
        }
        store_row(conn, row)
    });
    or_taken(written, "series_prefix_key", prefix_taken)
}

fn series_response(status: StatusCode, series: &Series) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(series.version)))
        .insert_header(("Location", format!("/v1/series/{}", series.id)))
        .json(SeriesView::from(series))
}

/// Create an invoice series.
///
/// Owners and admins. `prefix` is the CFDI `Serie` and is unique in the organization (409
/// `prefix_taken`). `next_folio` (default 1) continues the numbering of a previous system. With
/// `is_default`, the organization's current default series of `document_type`, if any, stops
/// being the default in the same transaction. Every broken rule is reported at once. Honours
/// `Idempotency-Key`.
#[utoipa::path(
    operation_id = "createSeries",
    tag = "series",
    security(("bearer_jwt" = [])),
    params(IdempotencyKey),
    request_body(content = SeriesInput, example = json!({
        "prefix": "F",
        "document_type": "I",
        "next_folio": 1201,
        "is_default": true,
        "description": "Facturas de mostrador"
    })),
    responses(
        (status = 201, description = "Created; `ETag` and `Location` name it", body = SeriesView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins create series", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`prefix_taken` (with the pointer `/prefix`), or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/series")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<SeriesInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(WRITER)?;
    let input = input.normalized();
    let violations = input.check();
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }
    let org = caller.organization_id;
    let row = input.to_row(RowBase::new(org));
    let series = state
        .tenant_db(org, move |conn| write(conn, &row, None, store::insert))
        .await??;
    Ok(series_response(StatusCode::CREATED, &series))
}

/// The sorts of the series list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SeriesSort {
    Prefix,
    CreatedAt,
}

impl SortKey for SeriesSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("prefix", SeriesSort::Prefix),
        ("created_at", SeriesSort::CreatedAt),
    ];
    const DEFAULT: &'static str = "prefix";
}

impl PageRequest<SeriesSort> {
    fn series_page(&self) -> Result<SeriesPage, ApiError> {
        Ok(match self.key {
            SeriesSort::Prefix => SeriesPage::Prefix(self.query()?),
            SeriesSort::CreatedAt => SeriesPage::CreatedAt(self.query()?),
        })
    }

    fn series_answer(&self, rows: Vec<SeriesView>, has_more: bool) -> Page<SeriesView> {
        match self.key {
            SeriesSort::Prefix => self.page(rows, has_more, |s| (s.prefix.clone(), s.id)),
            SeriesSort::CreatedAt => self.page(rows, has_more, |s| (s.created_at, s.id)),
        }
    }
}

/// Query parameters of `GET /v1/series`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesListQuery {
    /// How many series to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 500, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `prefix` (the default) or `created_at`; prefix `-` for descending.
    #[param(pattern = "^-?(prefix|created_at)$", example = "-created_at")]
    pub sort: Option<String>,
    /// Only series of this c_TipoDeComprobante key (`I`, `E`, `P` or `T`).
    #[param(pattern = "^[IEPT]$", example = "I")]
    pub document_type: Option<String>,
    /// `true`: only archived series; `false`: only active ones; absent: both.
    pub archived: Option<bool>,
}

/// List invoice series.
///
/// Every role. Sorted by prefix unless `sort` says otherwise.
#[utoipa::path(
    operation_id = "listSeries",
    tag = "series",
    security(("bearer_jwt" = [])),
    params(SeriesListQuery),
    responses(
        (status = 200, description = "A page of series", body = Page<SeriesView>),
        (status = 400, description = "Invalid query parameters, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/series")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SeriesListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut violations = Violations::new();
    if let Some(document_type) = &query.document_type
        && TipoDeComprobante::from_code(document_type).is_none()
    {
        violations.push(unknown_document_type(
            Pointer::root().field("document_type"),
        ));
    }
    let request = ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
        sort: query.sort,
    }
    .parse_with::<SeriesSort>(violations)?;
    let filter = SeriesFilter {
        document_type: query.document_type,
        archived: query.archived,
    };
    let page = request.series_page()?;
    let org = caller.organization_id;
    let rows = state
        .tenant_db(org, move |conn| store::list(conn, org, &filter, &page))
        .await?;
    let views = rows.rows.iter().map(SeriesView::from).collect();
    Ok(HttpResponse::Ok().json(request.series_answer(views, rows.has_more)))
}

/// Get an invoice series.
///
/// Every role. `ETag` carries its version for `If-Match`.
#[utoipa::path(
    operation_id = "getSeries",
    tag = "series",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The series' id")),
    responses(
        (status = 200, description = "The series", body = SeriesView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such series in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/series/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let series = state
        .tenant_db(org, move |conn| store::find(conn, org, id))
        .await?;
    Ok(series_response(StatusCode::OK, &series))
}

/// Change an invoice series.
///
/// Owners and admins. The body is a JSON merge patch (RFC 7396); the series that results is
/// checked as a whole, like a new one. `next_folio` may only be raised (422
/// `folio_would_repeat`: every folio below it may have been issued) and `prefix` cannot change
/// (422 `immutable`). Making the series default makes the previous default of its
/// `document_type` not default, in the same transaction. Send `If-Match` with the `ETag` you
/// read to avoid overwriting someone else's change; every folio taken moves the `ETag` too.
#[utoipa::path(
    operation_id = "updateSeries",
    tag = "series",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The series' id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body(content = SeriesPatch, example = json!({"next_folio": 5000, "is_default": true, "description": null})),
    responses(
        (status = 200, description = "The changed series", body = SeriesView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins change series", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such series in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The series changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code (`folio_would_repeat`, `immutable` …)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/series/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    Json(patch): Json<MergePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(WRITER)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let series = state
        .tenant_db(org, move |conn| {
            // Locked: no folio is taken while the change is checked and written.
            let current = store::lock(conn, org, id)?;
            if !if_match.matches(current.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            let input = match merged(&SeriesInput::from(&current), &patch) {
                Ok(input) => input.normalized(),
                Err(e) => return Ok(Err(e)),
            };
            let violations = input.check_change(&current);
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
            let was_default_of = current.is_default.then_some(current.document_type.as_str());
            write(conn, &row, was_default_of, store::update)
        })
        .await??;
    Ok(series_response(StatusCode::OK, &series))
}

/// Delete an invoice series.
///
/// Owners and admins. A series that invoices use cannot be deleted (409 `in_use`): archive it
/// (`PATCH` with `{"archived": true}`) to keep it out of pickers while its folios stay taken.
#[utoipa::path(
    operation_id = "deleteSeries",
    tag = "series",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The series' id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins delete series", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such series in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Invoices use the series (`in_use`): archive it instead", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The series changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/series/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(WRITER)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    state
        .tenant_db(org, move |conn| {
            let version = store::lock(conn, org, id).map(|s| s.version);
            delete_guarded(
                conn,
                version,
                &if_match,
                "invoices use this series: archive it instead (PATCH {\"archived\": true})",
                |conn| store::delete(conn, org, id),
            )
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(prefix: &str) -> SeriesInput {
        SeriesInput {
            prefix: prefix.to_string(),
            document_type: "I".to_string(),
            next_folio: 1,
            is_default: false,
            description: None,
            archived: false,
        }
    }

    fn codes(v: Violations) -> Vec<String> {
        v.into_iter()
            .map(|v| format!("{} {}", v.pointer, v.code))
            .collect()
    }

    #[test]
    fn prefixes_are_trimmed_then_checked() {
        assert_eq!(input("  F-1 ").normalized().prefix, "F-1");
        assert!(input(" F ").normalized().check().is_empty());
        assert_eq!(codes(input("   ").normalized().check()), ["/prefix length"]);
    }

    #[test]
    fn every_rule_is_reported_at_once() {
        let bad = SeriesInput {
            prefix: "A|B".into(),
            document_type: "N".into(),
            next_folio: 0,
            is_default: true,
            description: Some(String::new()),
            archived: true,
        };
        assert_eq!(
            codes(bad.check()),
            [
                "/prefix invalid_characters",
                "/document_type unknown_document_type",
                "/next_folio out_of_range",
                "/description length",
                "/is_default archived_default",
            ]
        );
    }

    #[test]
    fn a_change_keeps_the_prefix_and_never_lowers_the_folio() {
        let now = Utc::now();
        let current = input("F").to_row(RowBase::of(Uuid::nil(), Uuid::nil(), 3, now, now));
        let current = Series {
            next_folio: 100,
            ..current
        };
        let mut change = SeriesInput::from(&current);
        assert!(change.check_change(&current).is_empty());
        change.next_folio = 99;
        change.prefix = "G".into();
        assert_eq!(
            codes(change.check_change(&current)),
            ["/prefix immutable", "/next_folio folio_would_repeat"]
        );
    }
}
