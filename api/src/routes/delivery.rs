//! Getting an issued invoice to its customer: emailing it with its PDF and XML, public links
//! that open it without logging in, and the timeline of everything that happened to it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use domain::identity::{Email, Role};
use domain::validation::{Pointer, Violation, Violations};
use persistence::PgConnection;
use persistence::invoice_activity::{self as activity, Actor, ActorKind, PublicLink};
use persistence::invoices::{self as store, Invoice};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::extract::Json;
use crate::middleware::idempotency::IdempotencyKey;
use crate::pagination::{ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::routes::auth::hash_token;
use crate::state::AppState;

/// Recipients of one email, in `to` and in `cc`.
const MAX_RECIPIENTS: usize = 10;
const MAX_SUBJECT: usize = 200;
const MAX_MESSAGE: usize = 5000;

/// The body of `POST /v1/invoices/{id}/send`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    /// Recipients (1–10). Default: the customer's `emails`.
    #[schema(example = json!(["pagos@cliente.example"]), max_items = 10)]
    pub to: Option<Vec<String>>,
    /// Copies (0–10).
    #[schema(example = json!(["contabilidad@cliente.example"]), max_items = 10)]
    pub cc: Option<Vec<String>>,
    /// Default: "Factura F1042 de <organization's legal name>" (credit notes: "Nota de crédito").
    #[schema(example = "Factura F1042", min_length = 1, max_length = 200)]
    pub subject: Option<String>,
    /// A note put before the standard text (plain text, up to 5000 characters).
    #[schema(example = "Gracias por su compra.", max_length = 5000)]
    pub message: Option<String>,
}

/// An email of an invoice, as queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    /// `queued` until the mail server accepts it (the invoice's `delivery_status` and timeline
    /// follow it: `sent`, or `delivery_failed` with the reason after the retries).
    #[schema(example = "queued")]
    pub status: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    /// The public link the email carries (revocable like any other).
    pub public_link_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// The body of `POST /v1/invoices/{id}/public-link`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct PublicLinkInput {
    /// When the link stops working (in the future, at most a year away). Default: never; it
    /// works until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A public link as listed: its token is shown only once, when it is created.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLinkView {
    pub id: Uuid,
    /// True while it opens the invoice: not revoked and not expired.
    pub active: bool,
    /// Who made it: `user`, `api_client`, or `system` (an email of the invoice).
    #[schema(example = "user")]
    pub created_by_type: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub first_viewed_at: Option<DateTime<Utc>>,
    pub last_viewed_at: Option<DateTime<Utc>>,
    /// Requests made through it.
    pub views: i32,
}

/// A new public link, with its token: keep the URLs, they cannot be shown again.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewPublicLinkView {
    #[serde(flatten)]
    pub link: PublicLinkView,
    /// 256 random bits, base64url.
    #[schema(example = "Yp3q0vQk3v8m2cJ6kQhY7pS1xN4u9tB0aZ5eW8rL2dE")]
    pub token: String,
    /// The invoice's summary as JSON, for anyone holding the link.
    #[schema(
        example = "https://facturas.example.com/public/invoices/Yp3q0vQk3v8m2cJ6kQhY7pS1xN4u9tB0aZ5eW8rL2dE"
    )]
    pub url: String,
    pub pdf_url: String,
    pub xml_url: String,
}

/// Who did something to an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// `user`, `api_client`, `system` (the delivery worker, SAT's answer) or `public` (someone
    /// holding a public link).
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub kind: String,
    pub id: Option<Uuid>,
    /// The user's or API client's name, when it still exists.
    #[schema(example = "Ana López")]
    pub name: Option<String>,
}

/// One step in an invoice's life.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceEventView {
    pub id: Uuid,
    /// `created`, `issued`, `stamp_failed`, `send_requested`, `sent`, `delivery_failed`,
    /// `public_link_created`, `public_link_revoked`, `viewed`, `payment_received`,
    /// `payment_cancelled`, `cancellation_requested`, `cancelled`, `cancellation_rejected`.
    #[schema(example = "sent")]
    pub kind: String,
    pub actor: ActorView,
    /// Details that depend on the kind: the UUID and folio when issued, the recipients when
    /// sent, the reason of a failure, the public link viewed ...
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

/// The query of `GET /v1/invoices/{id}/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventListQuery {
    /// How many events to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `occurred_at` (default, oldest first) or `-occurred_at` (newest first).
    #[param(pattern = "^-?occurred_at$")]
    pub sort: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum EventSort {
    OccurredAt,
}

impl SortKey for EventSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("occurred_at", EventSort::OccurredAt)];
    const DEFAULT: &'static str = "occurred_at";
}

/// 422 unless the invoice has a stamped CFDI to show or send.
fn require_stamped(invoice: &Invoice) -> Result<(), ApiError> {
    if invoice.uuid.is_some() {
        return Ok(());
    }
    Err(ApiError::validation(
        Violation::new(
            Pointer::root(),
            "not_stamped",
            format!(
                "the invoice is {}: only a stamped CFDI can be sent or shown",
                invoice.status
            ),
        )
        .into(),
    ))
}

/// A new link's token and row. The token is 256 random bits; only its SHA-256 is stored.
fn new_link(
    org: Uuid,
    invoice_id: Uuid,
    by: Actor,
    expires_at: Option<DateTime<Utc>>,
) -> (String, PublicLink) {
    let raw: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(raw);
    let link = PublicLink {
        id: Uuid::now_v7(),
        organization_id: org,
        invoice_id,
        token_hash: hash_token(&token),
        created_by_type: match by.kind {
            ActorKind::ApiClient => "api_client",
            ActorKind::User => "user",
            ActorKind::System | ActorKind::Public => "system",
        }
        .to_string(),
        created_by: by.id,
        created_at: Utc::now(),
        expires_at,
        revoked_at: None,
        first_viewed_at: None,
        last_viewed_at: None,
        views: 0,
    };
    (token, link)
}

fn link_view(link: &PublicLink) -> PublicLinkView {
    let now = Utc::now();
    PublicLinkView {
        id: link.id,
        active: link.revoked_at.is_none() && link.expires_at.is_none_or(|e| e > now),
        created_by_type: link.created_by_type.clone(),
        created_by: link.created_by,
        created_at: link.created_at,
        expires_at: link.expires_at,
        revoked_at: link.revoked_at,
        first_viewed_at: link.first_viewed_at,
        last_viewed_at: link.last_viewed_at,
        views: link.views,
    }
}

fn public_urls(state: &AppState, token: &str) -> (String, String, String) {
    let base = format!("{}/public/invoices/{token}", state.config.public_base_url);
    (base.clone(), format!("{base}/pdf"), format!("{base}/xml"))
}

/// "F1042", or the UUID for a document without serie and folio: how emails and downloads
/// name the invoice.
pub(crate) fn document_name(invoice: &Invoice) -> String {
    match (&invoice.serie, invoice.folio) {
        (Some(serie), Some(folio)) => format!("{serie}{folio}"),
        _ => invoice
            .uuid
            .map(|u| u.to_string().to_uppercase())
            .unwrap_or_else(|| invoice.id.to_string()),
    }
}

/// Checks every address of `list` (at `pointer`), adding what is wrong to `v`.
fn addresses(list: &[String], pointer: Pointer, v: &mut Violations) -> Vec<String> {
    if list.len() > MAX_RECIPIENTS {
        v.push(Violation::new(
            pointer.clone(),
            "too_many",
            format!("at most {MAX_RECIPIENTS} addresses"),
        ));
    }
    let mut parsed = Vec::new();
    for (i, address) in list.iter().enumerate() {
        match Email::parse(address) {
            Ok(email) => parsed.push(email.as_str().to_string()),
            Err(e) => v.push(Violation::new(pointer.index(i), e.code(), e.to_string())),
        }
    }
    parsed
}

/// Email an issued invoice.
///
/// Owners, admins and accountants. The email goes through the outbox: 202 at once, then the
/// delivery worker sends it over SMTP with the CFDI's PDF and XML attached and a public link
/// (created for it) in the body, retrying failures with back-off. The invoice's
/// `delivery_status` goes `queued` → `sent` (setting `sent_at` the first time), or `failed`
/// with a `delivery_failed` event giving the reason. Each organization may queue
/// `INVOICE_EMAILS_PER_HOUR` invoice emails per hour (429 beyond).
#[utoipa::path(
    operation_id = "sendInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        IdempotencyKey,
    ),
    request_body(content = SendInput, example = json!({"to": ["pagos@cliente.example"], "cc": ["contabilidad@cliente.example"], "message": "Gracias por su compra."})),
    responses(
        (status = 202, description = "Queued for delivery", body = DeliveryView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers do not send invoices", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not stamped yet (`not_stamped`: drafts are not sent), no recipients (`no_recipients`), or an invalid address, subject or message, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The organization's hourly limit of invoice emails is reached", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u32, description = "Seconds until another email may be queued"))),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invoices/{id}/send")]
pub async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Json(input): Json<SendInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let actor = caller.actor();
    let limit = i64::from(state.config.invoice_emails_per_hour);
    let app = state.clone();
    let view = state
        .tenant_db(org, move |conn| {
            persistence::transaction(conn, |conn| {
                queue_email(conn, &app, org, id, actor, &input, limit)
            })
        })
        .await??;
    Ok(HttpResponse::build(StatusCode::ACCEPTED).json(view))
}

fn queue_email(
    conn: &mut PgConnection,
    state: &AppState,
    org: Uuid,
    id: Uuid,
    actor: Actor,
    input: &SendInput,
    limit: i64,
) -> Result<Result<DeliveryView, ApiError>, persistence::StoreError> {
    let invoice = store::find(conn, org, id)?;
    if let Err(e) = require_stamped(&invoice) {
        return Ok(Err(e));
    }
    let customer = persistence::customers::find(conn, org, invoice.customer_id)?;
    let mut v = Violations::default();
    let to = match &input.to {
        Some(to) => addresses(to, Pointer::root().field("to"), &mut v),
        None => customer.emails.clone(),
    };
    if to.is_empty() && v.is_empty() {
        v.push(Violation::new(
            Pointer::root().field("to"),
            "no_recipients",
            "give `to`: the customer has no emails on file",
        ));
    }
    let cc = addresses(
        input.cc.as_deref().unwrap_or_default(),
        Pointer::root().field("cc"),
        &mut v,
    );
    let organization = persistence::identity::find_organization(conn, org)?;
    let kind = if invoice.document_type == "E" {
        "Nota de crédito"
    } else {
        "Factura"
    };
    let name = document_name(&invoice);
    let subject = match &input.subject {
        Some(s)
            if s.trim().is_empty()
                || s.chars().count() > MAX_SUBJECT
                || s.contains(['\r', '\n']) =>
        {
            v.push(Violation::new(
                Pointer::root().field("subject"),
                "invalid_subject",
                format!("one line of 1 to {MAX_SUBJECT} characters"),
            ));
            String::new()
        }
        Some(s) => s.trim().to_string(),
        None => format!("{kind} {name} de {}", organization.legal_name),
    };
    if input
        .message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_MESSAGE)
    {
        v.push(Violation::new(
            Pointer::root().field("message"),
            "too_long",
            format!("at most {MAX_MESSAGE} characters"),
        ));
    }
    if !v.is_empty() {
        return Ok(Err(ApiError::validation(v)));
    }

    // Counted and queued under one lock, so concurrent sends cannot pass the limit together.
    activity::lock_sending(conn, org)?;
    let hour_ago = Utc::now() - chrono::Duration::hours(1);
    let (sent, oldest) = activity::sends_since(conn, org, hour_ago)?;
    if sent >= limit {
        let wait = oldest
            .map(|o| (o - hour_ago).to_std().unwrap_or_default())
            .unwrap_or_default();
        return Ok(Err(ApiError::too_many_requests(
            "send_limit_reached",
            wait,
            format!("this organization queued {sent} invoice emails in the last hour, its limit"),
        )));
    }

    let (token, link) = new_link(org, id, Actor::SYSTEM, None);
    activity::insert_link(conn, &link)?;
    let (url, pdf_url, xml_url) = public_urls(state, &token);
    let total = invoice_total_text(&invoice);
    let mut body = String::new();
    if let Some(message) = input.message.as_deref().filter(|m| !m.trim().is_empty()) {
        body.push_str(message.trim());
        body.push_str("\n\n");
    }
    body.push_str(&format!(
        "{org_name} le envía su {kind_lower} {name} por {total} {currency}{uuid}.\n\n\
         Se adjuntan el PDF y el XML del CFDI. También puede consultarlos en línea:\n\
         PDF: {pdf_url}\nXML: {xml_url}\nResumen: {url}\n",
        org_name = organization.legal_name,
        kind_lower = kind.to_lowercase(),
        currency = invoice.currency,
        uuid = invoice
            .uuid
            .map(|u| format!(" (folio fiscal {})", u.to_string().to_uppercase()))
            .unwrap_or_default(),
    ));
    let email_id = persistence::outbox::enqueue_invoice(conn, org, id, &to, &cc, &subject, &body)?;
    activity::delivery_queued(conn, org, id)?;
    activity::record(
        conn,
        org,
        id,
        "send_requested",
        actor,
        json!({ "delivery_id": email_id, "to": to, "cc": cc, "public_link_id": link.id }),
    )?;
    Ok(Ok(DeliveryView {
        id: email_id,
        status: "queued".to_string(),
        to,
        cc,
        subject,
        public_link_id: link.id,
        created_at: Utc::now(),
    }))
}

fn invoice_total_text(invoice: &Invoice) -> String {
    invoice
        .totals
        .get("total")
        .and_then(|t| t.as_str())
        .map_or_else(|| invoice.total.to_string(), str::to_string)
}

/// Create a public link to an issued invoice.
///
/// Owners, admins and accountants. Anyone holding the link reads the invoice's summary, PDF
/// and XML at `/public/invoices/{token}` without logging in, until it expires or is revoked;
/// its first use marks the invoice viewed. The token is shown only in this answer.
#[utoipa::path(
    operation_id = "createInvoicePublicLink",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        IdempotencyKey,
    ),
    request_body(content = PublicLinkInput, example = json!({"expires_at": "2027-01-31T23:59:59Z"})),
    responses(
        (status = 201, description = "The link, with its token and URLs", body = NewPublicLinkView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers do not create links", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not stamped yet (`not_stamped`), or `expires_at` not in the coming year (`/expires_at`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invoices/{id}/public-link")]
pub async fn create_public_link(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Json(input): Json<PublicLinkInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    if let Some(expires) = input.expires_at {
        let now = Utc::now();
        if expires <= now || expires > now + chrono::Duration::days(366) {
            return Err(ApiError::validation(
                Violation::new(
                    Pointer::root().field("expires_at"),
                    "out_of_range",
                    "expires_at must be in the future, at most a year away",
                )
                .into(),
            ));
        }
    }
    let actor = caller.actor();
    let (token, link) = new_link(org, id, actor, input.expires_at);
    let stored = link.clone();
    state
        .tenant_db(org, move |conn| {
            persistence::transaction(conn, |conn| {
                let invoice = store::find(conn, org, id)?;
                if let Err(e) = require_stamped(&invoice) {
                    return Ok(Err(e));
                }
                activity::insert_link(conn, &stored)?;
                let data = json!({ "public_link_id": stored.id, "expires_at": stored.expires_at });
                activity::record(conn, org, id, "public_link_created", actor, data)?;
                Ok(Ok(()))
            })
        })
        .await??;
    let (url, pdf_url, xml_url) = public_urls(&state, &token);
    Ok(HttpResponse::Created().json(NewPublicLinkView {
        link: link_view(&link),
        token,
        url,
        pdf_url,
        xml_url,
    }))
}

/// The answer of `GET /v1/invoices/{id}/public-links`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicLinkList {
    /// Newest first, at most 100.
    pub data: Vec<PublicLinkView>,
}

/// List an invoice's public links.
///
/// Every role. Newest first (the latest 100), with when each was used; tokens are not shown.
#[utoipa::path(
    operation_id = "listInvoicePublicLinks",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The invoice's id")),
    responses(
        (status = 200, description = "The invoice's links", body = PublicLinkList),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/invoices/{id}/public-links")]
pub async fn list_public_links(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let links = state
        .tenant_db(org, move |conn| {
            store::find(conn, org, id)?;
            activity::links(conn, org, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(PublicLinkList {
        data: links.iter().map(link_view).collect(),
    }))
}

/// Revoke a public link.
///
/// Owners, admins and accountants. The link answers 404 from now on; revoking it again
/// changes nothing.
#[utoipa::path(
    operation_id = "revokeInvoicePublicLink",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        ("link_id" = Uuid, Path, description = "The link's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers do not revoke links", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice or link in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/invoices/{id}/public-links/{link_id}")]
pub async fn revoke_public_link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let org = caller.organization_id;
    let (id, link_id) = path.into_inner();
    let actor = caller.actor();
    state
        .tenant_db(org, move |conn| {
            persistence::transaction(conn, |conn| {
                if activity::revoke_link(conn, org, id, link_id)? {
                    let data = json!({ "public_link_id": link_id });
                    activity::record(conn, org, id, "public_link_revoked", actor, data)?;
                }
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An invoice's timeline.
///
/// Every role. What happened to the invoice, oldest first by default: created, issued (or a
/// failed stamp), each send requested, sent or failed, public links made, viewed or revoked,
/// payments, cancellation; each with its time, its actor and details.
#[utoipa::path(
    operation_id = "listInvoiceEvents",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The invoice's id"), EventListQuery),
    responses(
        (status = 200, description = "A page of the timeline", body = Page<InvoiceEventView>),
        (status = 400, description = "Invalid query parameters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/invoices/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<EventListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let request = ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
        sort: query.sort,
    }
    .parse::<EventSort>()?;
    let page = request.query()?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let (rows, names) = state
        .tenant_db(org, move |conn| {
            store::find(conn, org, id)?;
            let rows = activity::events(conn, org, id, &page)?;
            let ids: Vec<Uuid> = rows.rows.iter().filter_map(|e| e.actor_id).collect();
            let names = persistence::identity::actor_names(conn, org, &ids)?;
            Ok((rows, names))
        })
        .await?;
    let events = rows
        .rows
        .into_iter()
        .map(|e| InvoiceEventView {
            id: e.id,
            actor: ActorView {
                name: e.actor_id.and_then(|a| names.get(&a).cloned()),
                kind: e.actor_type,
                id: e.actor_id,
            },
            kind: e.kind,
            data: e.data,
            occurred_at: e.occurred_at,
        })
        .collect();
    let page: Page<InvoiceEventView> =
        request.page(events, rows.has_more, |e| (e.occurred_at, e.id));
    Ok(HttpResponse::Ok().json(page))
}
