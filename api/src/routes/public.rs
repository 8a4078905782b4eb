//! What anyone holding a public link sees, without logging in: the invoice's summary, its PDF
//! and its XML. Unknown, revoked and expired tokens are all the same 404, and each client
//! address is limited to `PUBLIC_REQUESTS_PER_MINUTE` requests.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, Utc};
use persistence::invoice_activity::{self as activity, PublicLink};
use persistence::invoices as store;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::client_address::client_address;
use crate::problem::{ApiError, BinaryFile, Problem};
use crate::routes::auth::hash_token;
use crate::routes::invoices::{DocumentType, InvoiceStatus, PaymentStatus};
use crate::state::AppState;

/// A party of the CFDI.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicParty {
    #[schema(example = "ESCUELA KEMPER URGATE")]
    pub legal_name: String,
    #[schema(example = "EKU9003173C9")]
    pub rfc: String,
}

/// An invoice as its public link shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicInvoiceView {
    pub document_type: DocumentType,
    /// `issued` or `cancelled`.
    pub status: InvoiceStatus,
    /// `Emisor`.
    pub issuer: PublicParty,
    /// `Receptor`, as on file now.
    pub receiver: PublicParty,
    #[schema(example = "F")]
    pub serie: Option<String>,
    #[schema(example = 1042)]
    pub folio: Option<i64>,
    /// The folio fiscal (`TimbreFiscalDigital/@UUID`).
    pub uuid: Option<Uuid>,
    pub issued_at: Option<DateTime<Utc>>,
    /// `Moneda`.
    #[schema(example = "MXN")]
    pub currency: String,
    /// `Total`.
    #[schema(example = "14654.24")]
    pub total: String,
    #[schema(example = "14654.24")]
    pub balance: String,
    pub payment_status: PaymentStatus,
    pub due_date: Option<NaiveDate>,
    pub pdf_url: String,
    pub xml_url: String,
}

/// 429 when the caller's address used up its requests of this minute.
fn limit(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let address = client_address(req);
    state.public_limiter.check(&address).map_err(|wait| {
        ApiError::too_many_requests(
            "too_many_requests",
            wait,
            "too many requests from this address; wait before trying again",
        )
    })
}

/// The live link `token` opens, or 404: the token's shape is checked before any query.
async fn open(state: &AppState, token: &str) -> Result<PublicLink, ApiError> {
    let well_formed = token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::not_found());
    }
    let hash = hash_token(token);
    // Outside a tenant transaction: the token is what names the organization.
    let link = state
        .db(move |conn| activity::find_link_by_hash(conn, &hash))
        .await?
        .ok_or_else(ApiError::not_found)?;
    let now = Utc::now();
    if link.revoked_at.is_some() || link.expires_at.is_some_and(|e| e <= now) {
        return Err(ApiError::not_found());
    }
    Ok(link)
}

/// Opens the link, counts the view, and returns what `read` gives for its invoice.
async fn viewed<T, F>(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    read: F,
) -> Result<T, ApiError>
where
    F: FnOnce(&mut persistence::PgConnection, &PublicLink) -> Result<T, persistence::StoreError>
        + Send
        + 'static,
    T: Send + 'static,
{
    limit(state, req)?;
    let link = open(state, token).await?;
    state
        .tenant_db(link.organization_id, move |conn| {
            let answer = read(conn, &link)?;
            activity::record_view(conn, &link)?;
            Ok(answer)
        })
        .await
}

/// An invoice's summary, through its public link.
///
/// No login: the token is the credential. The first use of any link marks the invoice
/// viewed (`viewed_at`, and a `viewed` event in its timeline).
#[utoipa::path(
    operation_id = "getPublicInvoice",
    tag = "public",
    security(()),
    params(("token" = String, Path, description = "The link's token", min_length = 43, max_length = 43)),
    responses(
        (status = 200, description = "The invoice's summary", body = PublicInvoiceView),
        (status = 404, description = "Unknown, revoked or expired link", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/public/invoices/{token}")]
pub async fn summary(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let base = format!(
        "{}/public/invoices/{}",
        state.config.public_base_url,
        token.as_str()
    );
    let view = viewed(&state, &req, &token, move |conn, link| {
        let org = link.organization_id;
        let invoice = store::find(conn, org, link.invoice_id)?;
        let organization = persistence::identity::find_organization(conn, org)?;
        let view = crate::routes::invoices::load_view(conn, org, &invoice)?;
        Ok(PublicInvoiceView {
            document_type: view.document_type,
            status: view.status,
            issuer: PublicParty {
                legal_name: organization.legal_name,
                rfc: organization.rfc,
            },
            receiver: PublicParty {
                legal_name: view.customer_name,
                rfc: view.customer_rfc,
            },
            serie: view.serie,
            folio: view.folio,
            uuid: view.uuid,
            issued_at: view.issued_at,
            currency: view.currency,
            total: view.totals.total,
            balance: view.balance,
            payment_status: view.payment_status,
            due_date: view.due_date,
            pdf_url: format!("{base}/pdf"),
            xml_url: format!("{base}/xml"),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// An invoice's stamped XML, through its public link.
///
/// No login. The CFDI exactly as stamped, as `GET /v1/invoices/{id}/xml` returns it.
#[utoipa::path(
    operation_id = "getPublicInvoiceXml",
    tag = "public",
    security(()),
    params(("token" = String, Path, description = "The link's token", min_length = 43, max_length = 43)),
    responses(
        (status = 200, description = "The stamped CFDI 4.0", content_type = "application/xml", body = String),
        (status = 404, description = "Unknown, revoked or expired link", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/public/invoices/{token}/xml")]
pub async fn xml(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (name, xml) = viewed(&state, &req, &token, |conn, link| {
        let org = link.organization_id;
        let invoice = store::find(conn, org, link.invoice_id)?;
        let xml = store::find_stamp(conn, org, link.invoice_id)?
            .and_then(|s| s.xml)
            .ok_or(persistence::StoreError::NotFound)?;
        Ok((crate::routes::delivery::document_name(&invoice), xml))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.xml\""),
        ))
        .body(xml))
}

/// An invoice's PDF, through its public link.
///
/// No login. The same document as `GET /v1/invoices/{id}/pdf`.
#[utoipa::path(
    operation_id = "getPublicInvoicePdf",
    tag = "public",
    security(()),
    params(("token" = String, Path, description = "The link's token", min_length = 43, max_length = 43)),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = BinaryFile),
        (status = 404, description = "Unknown, revoked or expired link", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many requests from this address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/public/invoices/{token}/pdf")]
pub async fn pdf(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let printable = viewed(&state, &req, &token, |conn, link| {
        let org = link.organization_id;
        let invoice = store::find(conn, org, link.invoice_id)?;
        // Links exist only for stamped invoices, so there is always a document to print.
        crate::routes::documents::printable(conn, org, &invoice)?
            .map_err(|_| persistence::StoreError::NotFound)
    })
    .await?;
    let name = printable.name.clone();
    let bytes = crate::routes::documents::render(printable).await?;
    Ok(crate::routes::documents::pdf_response(&name, bytes))
}
