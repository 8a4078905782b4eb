//! The printed representation (PDF) of invoices, for the API, the public links, the emails and
//! the exports alike: what is printed and how is decided here, once.

use actix_web::{HttpResponse, get, web};
use persistence::PgConnection;
use persistence::invoices::{self as store, Invoice};
use uuid::Uuid;

use crate::auth::Caller;
use crate::pdf::{Logo, RenderOptions};
use crate::problem::{ApiError, BinaryFile, Problem};
use crate::state::AppState;

/// A document to print: the XML and how to print it.
#[derive(Debug, Clone)]
pub struct Printable {
    pub xml: String,
    /// How downloads and attachments name it (`F1042`).
    pub name: String,
    pub options: RenderOptions,
}

/// What the invoice's PDF is made from: the stamped CFDI; or, until it is stamped, the sealed
/// document or what a draft would be issued as now, both printed as drafts (no fiscal value).
/// A draft that breaks SAT's rules has no document to print (422 with its violations).
pub fn printable(
    conn: &mut PgConnection,
    org: Uuid,
    invoice: &Invoice,
) -> Result<Result<Printable, ApiError>, persistence::StoreError> {
    let stamp = store::find_stamp(conn, org, invoice.id)?;
    let (xml, draft) = match stamp {
        Some(store::Stamp { xml: Some(xml), .. }) => (xml, false),
        Some(stamp) => (stamp.sealed_xml, true),
        None => match crate::routes::invoices::draft_xml(conn, org, invoice)? {
            Ok(xml) => (xml.into_bytes(), true),
            Err(e) => return Ok(Err(e)),
        },
    };
    Ok(Ok(Printable {
        xml: String::from_utf8_lossy(&xml).into_owned(),
        name: crate::routes::delivery::document_name(invoice),
        options: RenderOptions {
            draft,
            ..branding(conn, org)?
        },
    }))
}

/// The organization's logo, accent colour and footer, as the PDF uses them.
pub fn branding(
    conn: &mut PgConnection,
    org: Uuid,
) -> Result<RenderOptions, persistence::StoreError> {
    let Some(branding) = persistence::branding::find(conn, org)? else {
        return Ok(RenderOptions::default());
    };
    let logo = match (branding.logo_content_type.as_deref(), branding.logo) {
        (Some("image/png"), Some(bytes)) => Some(Logo::Png(bytes)),
        (Some("image/jpeg"), Some(bytes)) => Some(Logo::Jpeg(bytes)),
        _ => None,
    };
    Ok(RenderOptions {
        draft: false,
        logo,
        accent_color: branding.accent_color.as_deref().and_then(rgb),
        footer: branding.footer_text,
    })
}

/// `#RRGGBB` as its three bytes.
fn rgb(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

/// Renders on the blocking pool: a PDF takes tens of milliseconds of CPU.
pub async fn render(printable: Printable) -> Result<Vec<u8>, ApiError> {
    web::block(move || crate::pdf::render(&printable.xml, &printable.options))
        .await?
        .map_err(|e| ApiError::internal(&e))
}

/// The PDF response: inline, so a browser shows it, with a file name for saving.
pub fn pdf_response(name: &str, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{name}.pdf\""),
        ))
        .body(bytes)
}

/// Download an invoice's PDF.
///
/// Every role. The printed representation of the stamped CFDI, in Spanish, with the
/// organization's logo, SAT's seals and verification QR code. A document not stamped yet (a
/// draft, or one whose stamp failed) prints as "BORRADOR – SIN VALIDEZ FISCAL", without seals.
#[utoipa::path(
    operation_id = "getInvoicePdf",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The invoice's id")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf", body = BinaryFile),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A draft that breaks SAT's rules (the violations, as `POST /v1/invoices/validate` gives them)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/invoices/{id}/pdf")]
pub async fn get_pdf(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let printable = state
        .tenant_db(org, move |conn| {
            let invoice = store::find(conn, org, id)?;
            printable(conn, org, &invoice)
        })
        .await??;
    let name = printable.name.clone();
    Ok(pdf_response(&name, render(printable).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn accent_colours_are_read_as_rgb() {
        assert_eq!(super::rgb("#1F4E79"), Some([0x1F, 0x4E, 0x79]));
        assert_eq!(super::rgb("1F4E79"), None);
        assert_eq!(super::rgb("#1F4E7"), None);
    }
}
