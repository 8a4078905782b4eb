//! CSV bulk import for ERP migrations: `POST /v1/customers/import` and `/v1/products/import`.
//!
//! One request carries up to [`MAX_ROWS`] records. Each record is upserted by its
//! `external_id`: a new id creates the resource, a known one changes it. A record is a JSON
//! merge patch in CSV clothing — the columns a file has set those members, an empty cell
//! clears an optional one (RFC 7396's `null`), and the columns a file lacks keep their stored
//! values — so an ERP may send only the columns it owns. Every record is then checked exactly
//! like the body of a `POST` (or of a `PATCH`), with pointers `/rows/<i>/<field>` where `i`
//! counts records from 0 (the report also gives each record's CSV line).
//!
//! By default every valid record is written and every invalid one reported (`status:
//! failed`); `?atomic=true` writes all or nothing, answering 422 with every error of every
//! record when one fails. A record that would change nothing is `unchanged` and keeps its
//! version, so re-sending a whole master file only touches what changed.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use domain::validation::{Pointer, Violation, Violations};
use persistence::StoreError;
use persistence::catalogs::Snapshot;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::extract::{MergePatch, from_document, read_body};
use crate::problem::{ApiError, FieldError};
use crate::routes::resource::RowBase;
use crate::state::AppState;

/// The most records one import takes.
pub const MAX_ROWS: usize = 20_000;

/// Records written per `INSERT` statement (each has ~25 columns; PostgreSQL allows 65,535
/// parameters in one statement).
const INSERT_CHUNK: usize = 1_000;

/// How a column's cells become JSON members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string, as is.
    Text,
    /// A whole number (`30`); anything else is reported as a wrong type.
    Integer,
    /// `true` or `false` (any case); anything else is reported as a wrong type.
    Bool,
    /// Several strings separated by `;` (`a@x.mx;b@x.mx`).
    List,
    /// A product's taxes: entries separated by `;`, each `tax:factor[:rate][:withholding]`
    /// (`002:Tasa:0.160000;001:Tasa:0.100000:withholding;002:Exento`).
    Taxes,
}

/// A column an import accepts. A name with a dot (`address.street`) sets a member of a nested
/// object; besides the listed ones, every import takes `metadata.<key>` columns.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

pub const fn column(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

/// Query parameters of the imports.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true`: write every record or none (422 with every record's errors when one fails);
    /// `false` (the default): write the valid records and report the others.
    #[param(default = false)]
    pub atomic: Option<bool>,
}

/// What happened to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    Created,
    Updated,
    /// The record equals what is stored: nothing was written.
    Unchanged,
    /// Refused; `errors` says why, and nothing of it was written.
    Failed,
}

/// The outcome of one record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowReport {
    /// The record's position, counting from 0: the `<i>` of its errors' pointers `/rows/<i>/...`.
    #[schema(example = 0)]
    pub index: usize,
    /// The line of the CSV file the record starts on (the header is line 1).
    #[schema(example = 2)]
    pub line: u64,
    #[schema(example = "SAP-C-000123")]
    pub external_id: Option<String>,
    pub status: RowStatus,
    /// The resource's id, unless the record failed.
    pub id: Option<Uuid>,
    /// Every broken rule of a failed record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The answer of an import: counts, and one entry per record in file order.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "atomic": false, "created": 1, "updated": 0, "unchanged": 0, "failed": 1,
    "rows": [
        {"index": 0, "line": 2, "external_id": "SAP-C-1", "status": "created", "id": "0193a5f2-6c1e-7d3a-9b1e-2f4c5d6e7f80"},
        {"index": 1, "line": 3, "external_id": "SAP-C-2", "status": "failed", "id": null,
         "errors": [{"pointer": "/rows/1/tax_regime", "code": "CFDI40158", "message": "the tax regime does not apply to this kind of person"}]}
    ]
}))]
pub struct ImportReport {
    pub atomic: bool,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub rows: Vec<RowReport>,
}

/// A CSV request body (`text/csv`, UTF-8, comma-separated, a header line first), read up to
/// the import body limit.
#[derive(Debug)]
pub struct CsvBody(pub web::Bytes);

impl FromRequest for CsvBody {
    type Error = ApiError;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.body_limit_for(req.path()))
            .unwrap_or(32 * 1024 * 1024);
        let is_csv = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/csv"));
        let payload = payload.take();
        Box::pin(async move {
            if !is_csv {
                return Err(ApiError::unsupported_media_type("text/csv"));
            }
            Ok(CsvBody(read_body(payload, limit).await?))
        })
    }
}

/// One CSV record, as the members it sets.
#[derive(Debug, Clone)]
pub struct Record {
    pub index: usize,
    pub line: u64,
    pub external_id: Option<String>,
    /// The record as a merge patch.
    pub patch: Map<String, Value>,
    /// What was wrong with its cells before any rule was checked (a malformed taxes cell).
    pub violations: Violations,
}

fn rows_pointer(index: usize) -> Pointer {
    Pointer::root().field("rows").index(index)
}

/// Reads a CSV body into records; `columns` are the columns this import accepts.
pub fn parse(body: &[u8], columns: &[Column]) -> Result<Vec<Record>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_csv",
            format!(
                "the CSV is not UTF-8 (byte {}); export it as UTF-8",
                e.valid_up_to()
            ),
        )
    })?;
    // A byte order mark is what spreadsheet programs put before UTF-8 text.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let malformed = |e: csv::Error| {
        let at = e
            .position()
            .map(|p| format!(" at line {}", p.line()))
            .unwrap_or_default();
        ApiError::bad_request("invalid_csv", format!("malformed CSV{at}: {e}"))
    };
    let headers: Vec<String> = reader
        .headers()
        .map_err(malformed)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut violations = Violations::new();
    let mut kinds = Vec::with_capacity(headers.len());
    let mut seen = HashSet::new();
    for (i, name) in headers.iter().enumerate() {
        let at = Pointer::root().field("columns").index(i);
        let kind = columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.kind)
            .or_else(|| {
                name.strip_prefix("metadata.")
                    .filter(|key| !key.is_empty())
                    .map(|_| Kind::Text)
            });
        match kind {
            Some(kind) => kinds.push(kind),
            None => {
                violations.push(Violation::new(
                    at.clone(),
                    "unknown_column",
                    format!("`{name}` is not a column of this import"),
                ));
                kinds.push(Kind::Text);
            }
        }
        if !seen.insert(name.as_str()) {
            violations.push(Violation::new(
                at,
                "duplicate",
                format!("the column `{name}` appears twice"),
            ));
        }
    }
    if !headers.iter().any(|h| h == "external_id") {
        violations.push(Violation::new(
            Pointer::root().field("columns"),
            "required",
            "the import upserts by external_id: the file needs an external_id column",
        ));
    }
    if !violations.is_empty() {
        return Err(ApiError::validation(violations));
    }

    let mut records = Vec::new();
    for (index, row) in reader.records().enumerate() {
        let row = row.map_err(malformed)?;
        if index >= MAX_ROWS {
            return Err(ApiError::unprocessable(
                "too_many_rows",
                format!("an import takes at most {MAX_ROWS} records: split the file"),
            ));
        }
        let line = row.position().map_or(0, |p| p.line());
        let mut record = Record {
            index,
            line,
            external_id: None,
            patch: Map::new(),
            violations: Violations::new(),
        };
        for ((name, kind), cell) in headers.iter().zip(&kinds).zip(row.iter()) {
            let cell = cell.trim();
            if name == "external_id" && !cell.is_empty() {
                record.external_id = Some(cell.to_string());
            }
            let value = match cell_value(cell, *kind) {
                Ok(value) => value,
                Err(message) => {
                    record.violations.push(Violation::new(
                        rows_pointer(index).field(name),
                        "invalid_format",
                        message,
                    ));
                    continue;
                }
            };
            set_member(&mut record.patch, name, value);
        }
        if record.external_id.is_none() {
            record.violations.push(Violation::new(
                rows_pointer(index).field("external_id"),
                "required",
                "every record needs an external_id: the import upserts by it",
            ));
        }
        records.push(record);
    }
    if records.is_empty() {
        return Err(ApiError::unprocessable(
            "empty_import",
            "the CSV has a header but no records",
        ));
    }
    Ok(records)
}

fn cell_value(cell: &str, kind: Kind) -> Result<Value, String> {
    if cell.is_empty() {
        return Ok(Value::Null);
    }
    Ok(match kind {
        Kind::Text => Value::String(cell.to_string()),
        Kind::Integer => cell
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(cell.to_string())),
        Kind::Bool => match cell.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(cell.to_string()),
        },
        Kind::List => Value::Array(
            cell.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        Kind::Taxes => Value::Array(
            cell.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(tax_entry)
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// One `tax:factor[:rate][:withholding]` entry of a taxes cell.
fn tax_entry(entry: &str) -> Result<Value, String> {
    let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
    let (withholding, parts) = match parts.split_last() {
        Some((&"withholding", rest)) => (true, rest),
        _ => (false, &parts[..]),
    };
    match parts {
        [tax, factor] => {
            Ok(serde_json::json!({"tax": tax, "factor": factor, "withholding": withholding}))
        }
        [tax, factor, rate] => Ok(
            serde_json::json!({"tax": tax, "factor": factor, "rate": rate, "withholding": withholding}),
        ),
        _ => Err(format!(
            "`{entry}` is not tax:factor[:rate][:withholding], such as 002:Tasa:0.160000 or 001:Tasa:0.100000:withholding"
        )),
    }
}

/// Sets `name` (`a.b` is member `b` of object `a`) in a merge patch.
fn set_member(patch: &mut Map<String, Value>, name: &str, value: Value) {
    match name.split_once('.') {
        Some((object, member)) => {
            let entry = patch
                .entry(object.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(map) = entry {
                map.insert(member.to_string(), value);
            }
        }
        None => {
            patch.insert(name.to_string(), value);
        }
    }
}

/// Prefixes the pointers of a record's violations with `/rows/<i>`.
fn under_row(index: usize, error: ApiError) -> Result<Violations, ApiError> {
    if !error.is_validation() {
        return Err(error);
    }
    let mut violations = Violations::new();
    for e in error.problem().errors {
        violations.push(Violation {
            pointer: format!("{}{}", rows_pointer(index), e.pointer),
            code: e.code,
            message: e.message,
        });
    }
    Ok(violations)
}

/// A resource the import can upsert.
pub trait Importable: Sized + Send + 'static {
    /// The request body of `POST` (what records are read as).
    type Input: Serialize + DeserializeOwned + Clone + PartialEq + Send;
    /// The columns a file may have, besides `metadata.<key>`.
    const COLUMNS: &'static [Column];

    /// The stored rows of the organization with these external ids, locked.
    fn locked(
        conn: &mut persistence::PgConnection,
        org: Uuid,
        external_ids: &[String],
    ) -> Result<Vec<Self>, StoreError>;
    fn external_id(&self) -> Option<&str>;
    fn base(&self) -> RowBase;
    fn id(&self) -> Uuid;
    fn input(&self) -> Self::Input;
    /// The catalog entries checking `input` needs.
    fn catalog_keys(input: &Self::Input, issuer_postal_code: &str) -> Vec<(&'static str, String)>;
    /// Whole catalogs checking needs (c_TasaOCuota).
    fn whole_catalogs() -> &'static [&'static str] {
        &[]
    }
    fn check(
        input: &Self::Input,
        issuer_postal_code: &str,
        catalogs: &Snapshot,
        at: &Pointer,
    ) -> Violations;
    fn to_row(input: &Self::Input, base: RowBase) -> Self;
    fn insert_all(conn: &mut persistence::PgConnection, rows: &[Self]) -> Result<(), StoreError>;
    fn update(conn: &mut persistence::PgConnection, row: &Self) -> Result<(), StoreError>;
}

/// The handler of `POST /v1/<resource>/import`: owners, admins and accountants.
pub async fn handle<R: Importable>(
    state: web::Data<AppState>,
    caller: crate::auth::Caller,
    query: ImportQuery,
    body: CsvBody,
) -> Result<actix_web::HttpResponse, ApiError> {
    caller.require(domain::identity::Role::Accountant)?;
    let records = parse(&body.0, R::COLUMNS)?;
    let atomic = query.atomic.unwrap_or(false);
    let org = caller.organization_id;
    let report = state
        .tenant_db(org, move |conn| run::<R>(conn, org, records, atomic))
        .await??;
    Ok(actix_web::HttpResponse::Ok().json(report))
}

/// A record read as its input, with the stored row it changes (none: it creates one).
type Read<R> = Result<(<R as Importable>::Input, Option<R>), Violations>;

/// What a checked record becomes.
enum Plan<R> {
    Create(R),
    Update(R),
    Unchanged(Uuid),
    Failed(Violations),
}

/// Runs an import inside the tenant transaction `conn` is in.
pub fn run<R: Importable>(
    conn: &mut persistence::PgConnection,
    org: Uuid,
    records: Vec<Record>,
    atomic: bool,
) -> Result<Result<ImportReport, ApiError>, StoreError> {
    let organization = persistence::identity::find_organization(conn, org)?;
    let issuer = organization.postal_code.as_str();
    let wanted: Vec<String> = records
        .iter()
        .filter_map(|r| r.external_id.clone())
        .collect();
    let mut stored: HashMap<String, R> = R::locked(conn, org, &wanted)?
        .into_iter()
        .filter_map(|row| Some((row.external_id()?.to_string(), row)))
        .collect();

    // Read every record as the input it makes, merged onto what is stored.
    let mut first_line: HashMap<String, usize> = HashMap::new();
    let mut inputs: Vec<Read<R>> = Vec::new();
    for record in &records {
        let mut violations = record.violations.clone();
        if let Some(id) = &record.external_id
            && let Some(first) = first_line.insert(id.clone(), record.index)
        {
            violations.push(Violation::new(
                rows_pointer(record.index).field("external_id"),
                "duplicate",
                format!("record {first} of this file has the same external_id"),
            ));
        }
        let current = record.external_id.as_ref().and_then(|id| stored.remove(id));
        let mut document = current
            .as_ref()
            .map(|row| serde_json::to_value(row.input()).unwrap_or_default())
            .unwrap_or_else(|| Value::Object(Map::new()));
        MergePatch(record.patch.clone()).apply_to(&mut document);
        match from_document::<R::Input>(document) {
            Ok(input) if violations.is_empty() => inputs.push(Ok((input, current))),
            Ok(_) => inputs.push(Err(violations)),
            Err(e) => {
                match under_row(record.index, e) {
                    Ok(found) => found.into_iter().for_each(|v| violations.push(v)),
                    Err(e) => return Ok(Err(e)),
                }
                inputs.push(Err(violations));
            }
        }
    }

    // One catalog look-up for the whole file.
    let mut keys: Vec<(&'static str, String)> = vec![("c_CodigoPostal", issuer.to_string())];
    for (input, _) in inputs.iter().flatten() {
        keys.extend(R::catalog_keys(input, issuer));
    }
    keys.sort();
    keys.dedup();
    let borrowed: Vec<(&str, &str)> = keys.iter().map(|(c, k)| (*c, k.as_str())).collect();
    let mut catalogs = Snapshot::fetch(conn, &borrowed)?;
    for catalog in R::whole_catalogs() {
        catalogs.add_catalog(conn, catalog)?;
    }

    let plans: Vec<Plan<R>> = inputs
        .into_iter()
        .zip(&records)
        .map(|(read, record)| {
            let (input, current) = match read {
                Ok(read) => read,
                Err(violations) => return Plan::Failed(violations),
            };
            let violations = R::check(&input, issuer, &catalogs, &rows_pointer(record.index));
            if !violations.is_empty() {
                return Plan::Failed(violations);
            }
            match current {
                Some(current) if current.input() == input => Plan::Unchanged(current.id()),
                Some(current) => Plan::Update(R::to_row(&input, current.base())),
                None => Plan::Create(R::to_row(&input, RowBase::new(org))),
            }
        })
        .collect();

    if atomic {
        let mut all = Violations::new();
        for plan in &plans {
            if let Plan::Failed(violations) = plan {
                for v in violations.iter() {
                    all.push(v.clone());
                }
            }
        }
        if !all.is_empty() {
            let mut e = ApiError::validation(all);
            e.set_status_and_code(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "import_failed",
            );
            return Ok(Err(e));
        }
    }
    if atomic {
        // Rolled back as a whole if a write is refused after all (a concurrent request took
        // an external_id).
        persistence::all_or_nothing(conn, |conn| write(conn, records, plans, atomic))
    } else {
        write(conn, records, plans, atomic)
    }
}

fn write<R: Importable>(
    conn: &mut persistence::PgConnection,
    records: Vec<Record>,
    plans: Vec<Plan<R>>,
    atomic: bool,
) -> Result<Result<ImportReport, ApiError>, StoreError> {
    let mut outcome: Vec<Result<(RowStatus, Uuid), Violations>> = Vec::with_capacity(plans.len());
    let mut creates: Vec<(usize, R)> = Vec::new();
    for (i, plan) in plans.into_iter().enumerate() {
        outcome.push(match plan {
            Plan::Failed(v) => Err(v),
            Plan::Unchanged(id) => Ok((RowStatus::Unchanged, id)),
            Plan::Create(row) => {
                let id = row.id();
                creates.push((i, row));
                Ok((RowStatus::Created, id))
            }
            Plan::Update(row) => {
                let written = persistence::transaction(conn, |conn| R::update(conn, &row));
                match refused(records[i].index, written)? {
                    Ok(()) => Ok((RowStatus::Updated, row.id())),
                    Err(v) if atomic => return Ok(Err(ApiError::validation(v))),
                    Err(v) => Err(v),
                }
            }
        });
    }
    let mut creates = creates.into_iter().peekable();
    while creates.peek().is_some() {
        let (indexes, rows): (Vec<usize>, Vec<R>) = creates.by_ref().take(INSERT_CHUNK).unzip();
        let batch = persistence::transaction(conn, |conn| R::insert_all(conn, &rows));
        if batch.is_ok() {
            continue;
        }
        if atomic {
            // A record that another request created meanwhile: the whole import is refused.
            return match refused(records[indexes[0]].index, batch)? {
                Ok(()) => Ok(Ok(report(records, outcome, atomic))),
                Err(v) => Ok(Err(ApiError::validation(v))),
            };
        }
        // Find the records the batch tripped on, one at a time.
        for (i, row) in indexes.into_iter().zip(&rows) {
            let single = persistence::transaction(conn, |conn| {
                R::insert_all(conn, std::slice::from_ref(row))
            });
            if let Err(v) = refused(records[i].index, single)? {
                outcome[i] = Err(v);
            }
        }
    }
    Ok(Ok(report(records, outcome, atomic)))
}

/// A write refused by a unique index: the record's `external_id` (or another unique member)
/// is taken by a concurrent write.
fn refused(
    index: usize,
    result: Result<(), StoreError>,
) -> Result<Result<(), Violations>, StoreError> {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(StoreError::UniqueViolation { .. }) => Ok(Err(Violation::new(
            rows_pointer(index).field("external_id"),
            "external_id_taken",
            "another request wrote a resource with this external_id meanwhile",
        )
        .into())),
        Err(e) => Err(e),
    }
}

fn report(
    records: Vec<Record>,
    outcome: Vec<Result<(RowStatus, Uuid), Violations>>,
    atomic: bool,
) -> ImportReport {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let rows: Vec<RowReport> = records
        .into_iter()
        .zip(outcome)
        .map(|(record, outcome)| {
            let (status, id, errors) = match outcome {
                Ok((status, id)) => (status, Some(id), Vec::new()),
                Err(v) => (
                    RowStatus::Failed,
                    None,
                    v.into_iter().map(FieldError::from).collect(),
                ),
            };
            *counts
                .entry(match status {
                    RowStatus::Created => "created",
                    RowStatus::Updated => "updated",
                    RowStatus::Unchanged => "unchanged",
                    RowStatus::Failed => "failed",
                })
                .or_default() += 1;
            RowReport {
                index: record.index,
                line: record.line,
                external_id: record.external_id,
                status,
                id,
                errors,
            }
        })
        .collect();
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    ImportReport {
        atomic,
        created: count("created"),
        updated: count("updated"),
        unchanged: count("unchanged"),
        failed: count("failed"),
        rows,
    }
}
