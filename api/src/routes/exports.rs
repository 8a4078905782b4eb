//! Bulk exports for accountants: every document issued in a date range as one ZIP (each CFDI's
//! XML, its PDF, and an `index.csv`), built by a background worker and downloaded when ready.
//!
//! Neither side holds the whole file: the worker reads the range in batches and writes the
//! ZIP as a stream into 1 MiB chunks in the database; the download streams those chunks back.

use std::io::Write;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::identity::Role;
use domain::validation::{Pointer, Violation, Violations};
use persistence::exports::{self as store, Export};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Caller;
use crate::extract::Json;
use crate::middleware::idempotency::IdempotencyKey;
use crate::pagination::{CreatedAtListQuery, ListParams, Page, SortKey};
use crate::problem::{ApiError, BinaryFile, Problem};
use crate::state::AppState;

/// Size of the stored pieces of a ZIP.
const CHUNK: usize = 1024 * 1024;
/// Documents read per query while building.
const BATCH: i64 = 100;
/// How long a worker owns a job without writing a chunk before another may take it over.
const LEASE: Duration = Duration::from_secs(120);
/// How often the worker looks for jobs nobody is building (a restart's leftovers).
const POLL: Duration = Duration::from_secs(30);
/// The longest range one export may cover.
const MAX_DAYS: i64 = 366;

/// The body of `POST /v1/exports`.
#[derive(Debug, Clone, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct ExportInput {
    /// First day (the issuer's local date of issue), inclusive.
    #[schema(example = "2026-11-01")]
    pub from: NaiveDate,
    /// Last day, inclusive; at most 366 days after `from`.
    #[schema(example = "2026-11-30")]
    pub to: NaiveDate,
    /// `TipoDeComprobante` values to include: `I` (invoices), `E` (credit notes). Default: all.
    #[schema(example = json!(["I", "E"]))]
    pub document_types: Option<Vec<String>>,
    /// Also the printed PDF of each document (default true).
    pub include_pdf: Option<bool>,
}

/// An export job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    pub id: Uuid,
    /// `queued`, `running`, `ready` (download it) or `failed` (see `error`).
    #[schema(example = "ready")]
    pub status: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub document_types: Vec<String>,
    pub include_pdf: bool,
    /// Documents in the ZIP, once ready.
    pub document_count: i32,
    /// Size of the ZIP, once ready.
    pub size_bytes: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Where to download it, once ready.
    #[schema(example = "/v1/exports/01938f6e-7a10-7c3e-9a55-2b7e3d1c0a01/download")]
    pub download_url: Option<String>,
}

fn view(e: &Export) -> ExportView {
    ExportView {
        id: e.id,
        status: e.status.clone(),
        from: e.date_from,
        to: e.date_to,
        document_types: e.document_types.clone(),
        include_pdf: e.include_pdf,
        document_count: e.document_count,
        size_bytes: e.size_bytes,
        error: e.error.clone(),
        created_at: e.created_at,
        finished_at: e.finished_at,
        download_url: (e.status == "ready").then(|| format!("/v1/exports/{}/download", e.id)),
    }
}

/// Export the documents of a date range.
///
/// Owners, admins and accountants. Answers 202 at once with the job; a background worker
/// builds the ZIP (`<type>/<serie><folio>.xml`, `.pdf`, and `index.csv` listing every
/// document), and the job turns `ready` with its `download_url`.
#[utoipa::path(
    operation_id = "createExport",
    tag = "exports",
    security(("bearer_jwt" = [])),
    params(IdempotencyKey),
    request_body(content = ExportInput, example = json!({"from": "2026-11-01", "to": "2026-11-30", "document_types": ["I", "E"]})),
    responses(
        (status = 202, description = "Queued", body = ExportView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers do not export", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`to` before `from` or more than 366 days after it, or an unknown document type, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/exports")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<ExportInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let mut v = Violations::default();
    // CFDI 4.0 began in 2022; the bounds keep date arithmetic far from chrono's limits.
    let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
    let latest = NaiveDate::from_ymd_opt(2100, 12, 31).unwrap_or_default();
    for (field, date) in [("from", input.from), ("to", input.to)] {
        if date < earliest || date > latest {
            v.push(Violation::new(
                Pointer::root().field(field),
                "out_of_range",
                "a date from 2000-01-01 to 2100-12-31",
            ));
        }
    }
    let dated = v.is_empty();
    if dated && input.to < input.from {
        v.push(Violation::new(
            Pointer::root().field("to"),
            "before_from",
            "to must not be before from",
        ));
    } else if dated && (input.to - input.from).num_days() > MAX_DAYS {
        v.push(Violation::new(
            Pointer::root().field("to"),
            "range_too_long",
            format!("an export covers at most {MAX_DAYS} days; split the range"),
        ));
    }
    let types = input
        .document_types
        .clone()
        .unwrap_or_else(|| vec!["I".to_string(), "E".to_string()]);
    for (i, t) in types.iter().enumerate() {
        if !matches!(t.as_str(), "I" | "E") {
            v.push(Violation::new(
                Pointer::root().field("document_types").index(i),
                "unknown_document_type",
                "I (invoices) or E (credit notes)",
            ));
        }
    }
    if types.is_empty() {
        v.push(Violation::new(
            Pointer::root().field("document_types"),
            "empty",
            "name at least one document type, or leave it out for all",
        ));
    }
    if !v.is_empty() {
        return Err(ApiError::validation(v));
    }
    let export = Export {
        id: Uuid::now_v7(),
        organization_id: caller.organization_id,
        status: "queued".to_string(),
        date_from: input.from,
        date_to: input.to,
        document_types: types,
        include_pdf: input.include_pdf.unwrap_or(true),
        created_by: Some(caller.user_id),
        created_at: Utc::now(),
        leased_until: None,
        finished_at: None,
        document_count: 0,
        size_bytes: 0,
        error: None,
    };
    let stored = export.clone();
    state
        .tenant_db(caller.organization_id, move |conn| {
            store::insert(conn, &stored)
        })
        .await?;
    // Built right away; the worker's poll catches it should this process stop first.
    let worker = state.clone();
    let id = export.id;
    actix_web::rt::spawn(async move { run_one(&worker, Some(id)).await });
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(view(&export)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ExportSort {
    CreatedAt,
}

impl SortKey for ExportSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("created_at", ExportSort::CreatedAt)];
    const DEFAULT: &'static str = "-created_at";
}

/// List the organization's exports.
///
/// Every role. Newest first by default.
#[utoipa::path(
    operation_id = "listExports",
    tag = "exports",
    security(("bearer_jwt" = [])),
    params(CreatedAtListQuery),
    responses(
        (status = 200, description = "A page of exports", body = Page<ExportView>),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/exports")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CreatedAtListQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = ListParams::from(query.into_inner()).parse::<ExportSort>()?;
    let page = request.query()?;
    let org = caller.organization_id;
    let rows = state
        .tenant_db(org, move |conn| store::list(conn, org, &page))
        .await?;
    let views = rows.rows.iter().map(view).collect();
    let page: Page<ExportView> =
        request.page(views, rows.has_more, |e: &ExportView| (e.created_at, e.id));
    Ok(HttpResponse::Ok().json(page))
}

/// Get an export.
///
/// Every role.
#[utoipa::path(
    operation_id = "getExport",
    tag = "exports",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The export", body = ExportView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such export in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/exports/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let export = state
        .tenant_db(org, move |conn| store::find(conn, org, id))
        .await?;
    Ok(HttpResponse::Ok().json(view(&export)))
}

/// Download a ready export.
///
/// Every role. The ZIP, streamed as stored.
#[utoipa::path(
    operation_id = "downloadExport",
    tag = "exports",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The ZIP", content_type = "application/zip", body = BinaryFile),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such export in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`export_not_ready`: still being built, or failed", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/exports/{id}/download")]
pub async fn download(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let export = state
        .tenant_db(org, move |conn| store::find(conn, org, id))
        .await?;
    if export.status != "ready" {
        return Err(ApiError::conflict(
            "export_not_ready",
            format!(
                "the export is {}; download it once it is ready",
                export.status
            ),
        ));
    }
    let chunks = futures_util::stream::unfold(0i32, move |seq| {
        let state = state.clone();
        async move {
            let chunk = state
                .tenant_db(org, move |conn| store::chunk(conn, org, id, seq))
                .await;
            match chunk {
                Ok(Some(data)) => Some((Ok(web::Bytes::from(data)), seq + 1)),
                Ok(None) => None,
                Err(e) => Some((Err(actix_web::error::ErrorServiceUnavailable(e)), i32::MAX)),
            }
        }
    });
    let name = format!("cfdi-{}-{}.zip", export.date_from, export.date_to);
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .no_chunking(u64::try_from(export.size_bytes).unwrap_or(0))
        .streaming(chunks))
}

/// Runs until the process stops: builds jobs left queued or abandoned by a stopped worker.
pub async fn run_forever(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(POLL);
    loop {
        tick.tick().await;
        run_one(&state, None).await;
    }
}

/// Builds job `id` (or the oldest waiting one) if nobody else is building it.
async fn run_one(state: &AppState, id: Option<Uuid>) {
    let leased = match state.db(move |conn| store::lease(conn, id, LEASE)).await {
        Ok(Some(export)) => export,
        Ok(None) => return,
        Err(e) => {
            log::warn!("cannot read the export jobs: {e}");
            return;
        }
    };
    let pool = state.pool.clone();
    let job = leased.clone();
    let built = web::block(move || build(&pool, &job)).await;
    let outcome = match built {
        Ok(Ok((count, size))) => {
            log::info!("export {}: {count} documents, {size} bytes", leased.id);
            state
                .db(move |conn| store::finish(conn, leased.id, count, size))
                .await
        }
        Ok(Err(e)) => {
            log::warn!("export {} failed: {e}", leased.id);
            state.db(move |conn| store::fail(conn, leased.id, &e)).await
        }
        Err(e) => {
            log::error!("export {}: the building task failed: {e}", leased.id);
            return;
        }
    };
    if let Err(e) = outcome {
        log::warn!(
            "export {}: cannot record the outcome ({e}); it is built again later",
            leased.id
        );
    }
}

/// Writes what it is given to the export's chunks, 1 MiB at a time.
struct ChunkWriter<'a> {
    conn: persistence::pool::PooledConn,
    export: &'a Export,
    buffer: Vec<u8>,
    seq: i32,
    size: i64,
}

impl ChunkWriter<'_> {
    fn store(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        store::write_chunk(&mut self.conn, self.export, self.seq, &self.buffer, LEASE)
            .map_err(std::io::Error::other)?;
        self.seq += 1;
        self.size += self.buffer.len() as i64;
        self.buffer.clear();
        Ok(())
    }
}

impl Write for ChunkWriter<'_> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.store()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The UTC instant the issuer's local `date` begins, for an organization in `zone`. The
/// offset is read just before local midnight, so a daylight-saving change later that day (in
/// the border zones) does not move the boundary.
fn local_midnight(zone: &str, date: NaiveDate) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    let probe = midnight.and_utc() + chrono::Duration::hours(6);
    let offset = domain::local_time::local_time(zone, probe) - probe.naive_utc();
    (midnight - offset).and_utc()
}

/// Builds the ZIP of `export`; returns how many documents it holds and its size.
fn build(pool: &persistence::pool::DbPool, export: &Export) -> Result<(i32, i64), String> {
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    let mut reader = persistence::pool::get(pool).map_err(|e| fail(&e))?;
    let writer = persistence::pool::get(pool).map_err(|e| fail(&e))?;
    let org = export.organization_id;
    let organization =
        persistence::identity::find_organization(&mut reader, org).map_err(|e| fail(&e))?;
    let catalogs = persistence::catalogs::Snapshot::fetch(
        &mut reader,
        &[("c_CodigoPostal", organization.postal_code.as_str())],
    )
    .map_err(|e| fail(&e))?;
    let zone = catalogs
        .get("c_CodigoPostal", &organization.postal_code)
        .and_then(|e| e.text("time_zone"))
        .unwrap_or(domain::local_time::ZONA_CENTRO);
    let print = crate::routes::documents::branding(&mut reader, org).map_err(|e| fail(&e))?;
    let from = local_midnight(zone, export.date_from);
    let before = local_midnight(zone, export.date_to + chrono::Duration::days(1));

    let mut zip = zip::ZipWriter::new_stream(ChunkWriter {
        conn: writer,
        export,
        buffer: Vec::with_capacity(CHUNK),
        seq: 0,
        size: 0,
    });
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut index = csv::Writer::from_writer(Vec::new());
    index
        .write_record([
            "file",
            "uuid",
            "document_type",
            "status",
            "serie",
            "folio",
            "issued_at",
            "customer_id",
            "currency",
            "total",
        ])
        .map_err(|e| fail(&e))?;
    let mut page = persistence::pagination::PageQuery {
        limit: BATCH,
        direction: persistence::pagination::Direction::Asc,
        after: None,
    };
    let mut count = 0i32;
    loop {
        let batch = store::documents(
            &mut reader,
            org,
            &export.document_types,
            from,
            before,
            &page,
        )
        .map_err(|e| fail(&e))?;
        for document in &batch.rows {
            let invoice = &document.invoice;
            let name = format!(
                "{}/{}",
                invoice.document_type,
                crate::routes::delivery::document_name(invoice)
            );
            zip.start_file(format!("{name}.xml"), options)
                .map_err(|e| fail(&e))?;
            zip.write_all(&document.xml).map_err(|e| fail(&e))?;
            if export.include_pdf {
                let xml = String::from_utf8_lossy(&document.xml);
                let pdf = crate::pdf::render(&xml, &print)
                    .map_err(|e| format!("{name}: the PDF cannot be made: {e}"))?;
                zip.start_file(format!("{name}.pdf"), options)
                    .map_err(|e| fail(&e))?;
                zip.write_all(&pdf).map_err(|e| fail(&e))?;
            }
            index
                .write_record([
                    format!("{name}.xml"),
                    invoice
                        .uuid
                        .map(|u| u.to_string().to_uppercase())
                        .unwrap_or_default(),
                    invoice.document_type.clone(),
                    invoice.status.clone(),
                    invoice.serie.clone().unwrap_or_default(),
                    invoice.folio.map(|f| f.to_string()).unwrap_or_default(),
                    invoice
                        .issued_at
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default(),
                    invoice.customer_id.to_string(),
                    invoice.currency.clone(),
                    invoice.total.to_string(),
                ])
                .map_err(|e| fail(&e))?;
            count += 1;
        }
        let last = batch.rows.last().and_then(|d| {
            Some(persistence::pagination::Keyset {
                value: d.invoice.issued_at?,
                id: d.invoice.id,
            })
        });
        match last {
            Some(last) if batch.has_more => page.after = Some(last),
            _ => break,
        }
    }
    let index = index.into_inner().map_err(|e| fail(&e))?;
    zip.start_file("index.csv", options).map_err(|e| fail(&e))?;
    zip.write_all(&index).map_err(|e| fail(&e))?;
    let mut chunks = zip.finish().map_err(|e| fail(&e))?.into_inner();
    chunks.store().map_err(|e| fail(&e))?;
    Ok((count, chunks.size))
}
