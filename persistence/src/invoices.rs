//! Invoices and credit notes, their sealed and stamped documents and their cancellations. Every
//! function takes the organization and filters by it, in addition to row-level security.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{PageQuery, Rows, contains_pattern};
use crate::schema::{customers, invoice_cancellations, invoice_stamps, invoice_tracking, invoices};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = invoices)]
#[diesel(treat_none_as_null = true)]
pub struct Invoice {
    #[diesel(skip_update)]
    pub id: Uuid,
    #[diesel(skip_update)]
    pub organization_id: Uuid,
    pub customer_id: Uuid,
    pub document_type: String,
    pub status: String,
    pub series_id: Option<Uuid>,
    pub serie: Option<String>,
    pub folio: Option<i64>,
    pub currency: String,
    pub exchange_rate: Option<Decimal>,
    pub payment_method: Option<String>,
    pub payment_form: Option<String>,
    pub cfdi_use: String,
    pub export: String,
    pub payment_terms: Option<String>,
    pub due_date: Option<NaiveDate>,
    pub notes: Option<String>,
    pub external_id: Option<String>,
    pub metadata: Value,
    pub lines: Value,
    pub related: Value,
    pub global_information: Option<Value>,
    pub totals: Value,
    pub total: Decimal,
    pub balance: Decimal,
    pub payment_status: String,
    pub issued_at: Option<DateTime<Utc>>,
    pub uuid: Option<Uuid>,
    pub search: String,
    #[diesel(skip_update)]
    pub version: i32,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
}

/// The documents of an issued (or issuing) invoice.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_stamps)]
pub struct Stamp {
    pub invoice_id: Uuid,
    pub organization_id: Uuid,
    pub certificate_number: String,
    pub sealed_xml: Vec<u8>,
    pub sello: String,
    pub pac: String,
    pub xml: Option<Vec<u8>>,
    pub uuid: Option<Uuid>,
    pub stamped_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When `sealed_xml` was sealed (its `Fecha`).
    pub sealed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_cancellations)]
pub struct Cancellation {
    pub invoice_id: Uuid,
    pub organization_id: Uuid,
    pub reason: String,
    pub replacement_uuid: Option<Uuid>,
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// `payment_status` filter values; `Overdue` is derived (issued, unpaid balance, due date
/// before `today`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentStatusFilter {
    Unpaid,
    PartiallyPaid,
    Paid,
    Overdue { today: NaiveDate },
}

/// The filters of the invoice list; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Folded text (`domain::text::fold`) to find in customer name and RFC, serie-folio, UUID.
    pub search: Option<String>,
    pub status: Option<String>,
    pub payment_status: Option<PaymentStatusFilter>,
    pub document_type: Option<String>,
    pub customer_id: Option<Uuid>,
    pub currency: Option<String>,
    pub uuid: Option<Uuid>,
    pub serie: Option<String>,
    pub folio: Option<i64>,
    pub issued_from: Option<DateTime<Utc>>,
    pub issued_before: Option<DateTime<Utc>>,
    pub due_before: Option<NaiveDate>,
    pub total_min: Option<Decimal>,
    pub total_max: Option<Decimal>,
    pub updated_since: Option<DateTime<Utc>>,
    /// `invoice_tracking.delivery_status`; `not_sent` also matches invoices without tracking.
    pub delivery_status: Option<String>,
    /// Opened through a public link (`true`) or never (`false`).
    pub viewed: Option<bool>,
}

/// A page of the invoice list in one of its sorts, each served by an index
/// `(organization_id, column, id)`.
#[derive(Debug, Clone)]
pub enum InvoicePage {
    CreatedAt(PageQuery<DateTime<Utc>>),
    UpdatedAt(PageQuery<DateTime<Utc>>),
    Total(PageQuery<Decimal>),
    Status(PageQuery<String>),
    /// Only documents that have been issued (drafts have no issue date).
    IssuedAt(PageQuery<DateTime<Utc>>),
    /// Only documents with a due date.
    DueDate(PageQuery<NaiveDate>),
    /// Only documents with a folio.
    Folio(PageQuery<i64>),
    /// By the customer's legal name: served by walking `customers_name_idx` and, for each
    /// customer, `invoices_customer_idx`, so a page reads about as many rows as it returns.
    CustomerName(PageQuery<String>),
}

impl InvoicePage {
    pub fn limit(&self) -> i64 {
        match self {
            Self::CreatedAt(p) | Self::UpdatedAt(p) | Self::IssuedAt(p) => p.limit,
            Self::Total(p) => p.limit,
            Self::Status(p) | Self::CustomerName(p) => p.limit,
            Self::DueDate(p) => p.limit,
            Self::Folio(p) => p.limit,
        }
    }
}

pub fn insert(conn: &mut PgConnection, invoice: &Invoice) -> Result<Invoice, StoreError> {
    Ok(diesel::insert_into(invoices::table)
        .values(invoice)
        .returning(Invoice::as_returning())
        .get_result(conn)?)
}

pub fn find(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Invoice, StoreError> {
    Ok(invoices::table
        .filter(invoices::organization_id.eq(org_id))
        .filter(invoices::id.eq(id))
        .select(Invoice::as_select())
        .first(conn)?)
}

/// The invoice, locked until the transaction ends (read-modify-write, issuing).
pub fn lock(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Invoice, StoreError> {
    Ok(invoices::table
        .filter(invoices::organization_id.eq(org_id))
        .filter(invoices::id.eq(id))
        .select(Invoice::as_select())
        .for_update()
        .first(conn)?)
}

/// Invoices of the organization with these folios fiscales (CfdiRelacionados).
pub fn find_by_uuids(
    conn: &mut PgConnection,
    org_id: Uuid,
    uuids: &[Uuid],
) -> Result<Vec<Invoice>, StoreError> {
    Ok(invoices::table
        .filter(invoices::organization_id.eq(org_id))
        .filter(invoices::uuid.eq_any(uuids))
        .select(Invoice::as_select())
        .load(conn)?)
}

/// Writes every field of `invoice`, bumping its version; returns the stored row.
pub fn update(conn: &mut PgConnection, invoice: &Invoice) -> Result<Invoice, StoreError> {
    Ok(diesel::update(
        invoices::table
            .filter(invoices::organization_id.eq(invoice.organization_id))
            .filter(invoices::id.eq(invoice.id)),
    )
    .set((
        invoice,
        invoices::version.eq(invoices::version + 1),
        invoices::updated_at.eq(Utc::now()),
    ))
    .returning(Invoice::as_returning())
    .get_result(conn)?)
}

/// Deletes a draft; an invoice in any other state is not deleted (`NotFound`).
pub fn delete_draft(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        invoices::table
            .filter(invoices::organization_id.eq(org_id))
            .filter(invoices::id.eq(id))
            .filter(invoices::status.eq("draft")),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn insert_stamp(conn: &mut PgConnection, stamp: &Stamp) -> Result<(), StoreError> {
    diesel::insert_into(invoice_stamps::table)
        .values(stamp)
        .execute(conn)?;
    Ok(())
}

pub fn find_stamp(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<Option<Stamp>, StoreError> {
    Ok(invoice_stamps::table
        .filter(invoice_stamps::organization_id.eq(org_id))
        .filter(invoice_stamps::invoice_id.eq(invoice_id))
        .select(Stamp::as_select())
        .first(conn)
        .optional()?)
}

/// Records a successful stamp: the stamped bytes and the folio fiscal.
pub fn record_stamped(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    xml: &[u8],
    uuid: Uuid,
    stamped_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(
        invoice_stamps::table
            .filter(invoice_stamps::organization_id.eq(org_id))
            .filter(invoice_stamps::invoice_id.eq(invoice_id)),
    )
    .set((
        invoice_stamps::xml.eq(xml),
        invoice_stamps::uuid.eq(uuid),
        invoice_stamps::stamped_at.eq(stamped_at),
        invoice_stamps::attempts.eq(invoice_stamps::attempts + 1),
        invoice_stamps::last_error.eq(None::<String>),
        invoice_stamps::updated_at.eq(Utc::now()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Replaces the sealed document of a stamp not yet obtained (sealed again with a new Fecha).
pub fn reseal(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    certificate_number: &str,
    sealed_xml: &[u8],
    sello: &str,
) -> Result<(), StoreError> {
    let now = Utc::now();
    diesel::update(
        invoice_stamps::table
            .filter(invoice_stamps::organization_id.eq(org_id))
            .filter(invoice_stamps::invoice_id.eq(invoice_id))
            .filter(invoice_stamps::xml.is_null()),
    )
    .set((
        invoice_stamps::certificate_number.eq(certificate_number),
        invoice_stamps::sealed_xml.eq(sealed_xml),
        invoice_stamps::sello.eq(sello),
        invoice_stamps::sealed_at.eq(now),
        invoice_stamps::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(())
}

/// Records a failed stamping attempt and why.
pub fn record_stamp_failure(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    error: &str,
) -> Result<(), StoreError> {
    diesel::update(
        invoice_stamps::table
            .filter(invoice_stamps::organization_id.eq(org_id))
            .filter(invoice_stamps::invoice_id.eq(invoice_id)),
    )
    .set((
        invoice_stamps::attempts.eq(invoice_stamps::attempts + 1),
        invoice_stamps::last_error.eq(error),
        invoice_stamps::updated_at.eq(Utc::now()),
    ))
    .execute(conn)?;
    Ok(())
}

pub fn insert_cancellation(
    conn: &mut PgConnection,
    cancellation: &Cancellation,
) -> Result<(), StoreError> {
    // A request after a rejected one replaces it.
    diesel::insert_into(invoice_cancellations::table)
        .values(cancellation)
        .on_conflict(invoice_cancellations::invoice_id)
        .do_update()
        .set((
            invoice_cancellations::reason.eq(&cancellation.reason),
            invoice_cancellations::replacement_uuid.eq(cancellation.replacement_uuid),
            invoice_cancellations::status.eq(&cancellation.status),
            invoice_cancellations::requested_by.eq(cancellation.requested_by),
            invoice_cancellations::requested_at.eq(cancellation.requested_at),
            invoice_cancellations::answered_at.eq(cancellation.answered_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_cancellation(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<Option<Cancellation>, StoreError> {
    Ok(invoice_cancellations::table
        .filter(invoice_cancellations::organization_id.eq(org_id))
        .filter(invoice_cancellations::invoice_id.eq(invoice_id))
        .select(Cancellation::as_select())
        .first(conn)
        .optional()?)
}

/// The invoices of one organization matching `filter`, as a boxed query on `$from` (the
/// invoices table, or a join of it).
macro_rules! filtered {
    ($org:expr, $filter:expr) => {
        filtered!(invoices::table, $org, $filter)
    };
    ($from:expr, $org:expr, $filter:expr) => {{
        let filter: &InvoiceFilter = $filter;
        let mut query = $from
            .filter(invoices::organization_id.eq($org))
            .select(Invoice::as_select())
            .into_boxed();
        if let Some(text) = &filter.search {
            // Through the owner's function, so the trigram index is used under row-level
            // security (see migration 2026-12-04-000010_tenant_search).
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "invoices.id IN (SELECT invoice_search_ids(",
                )
                .bind::<diesel::sql_types::Text, _>(contains_pattern(text))
                .sql("))"),
            );
        }
        if let Some(status) = &filter.status {
            query = query.filter(invoices::status.eq(status.clone()));
        }
        match filter.payment_status {
            None => {}
            Some(PaymentStatusFilter::Unpaid) => {
                query = query.filter(invoices::payment_status.eq("unpaid"))
            }
            Some(PaymentStatusFilter::PartiallyPaid) => {
                query = query.filter(invoices::payment_status.eq("partially_paid"))
            }
            Some(PaymentStatusFilter::Paid) => {
                query = query.filter(invoices::payment_status.eq("paid"))
            }
            Some(PaymentStatusFilter::Overdue { today }) => {
                query = query
                    .filter(invoices::status.eq("issued"))
                    .filter(invoices::payment_status.ne("paid"))
                    .filter(invoices::due_date.lt(today))
            }
        }
        if let Some(kind) = &filter.document_type {
            query = query.filter(invoices::document_type.eq(kind.clone()));
        }
        if let Some(customer) = filter.customer_id {
            query = query.filter(invoices::customer_id.eq(customer));
        }
        if let Some(currency) = &filter.currency {
            query = query.filter(invoices::currency.eq(currency.clone()));
        }
        if let Some(uuid) = filter.uuid {
            query = query.filter(invoices::uuid.eq(uuid));
        }
        if let Some(serie) = &filter.serie {
            query = query.filter(invoices::serie.eq(serie.clone()));
        }
        if let Some(folio) = filter.folio {
            query = query.filter(invoices::folio.eq(folio));
        }
        if let Some(from) = filter.issued_from {
            query = query.filter(invoices::issued_at.ge(from));
        }
        if let Some(before) = filter.issued_before {
            query = query.filter(invoices::issued_at.lt(before));
        }
        if let Some(before) = filter.due_before {
            query = query.filter(invoices::due_date.lt(before));
        }
        if let Some(min) = filter.total_min {
            query = query.filter(invoices::total.ge(min));
        }
        if let Some(max) = filter.total_max {
            query = query.filter(invoices::total.le(max));
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(invoices::updated_at.ge(since));
        }
        let tracked = || {
            invoice_tracking::table
                .filter(invoice_tracking::organization_id.eq($org))
                .select(invoice_tracking::invoice_id)
        };
        match filter.delivery_status.as_deref() {
            None => {}
            Some("not_sent") => {
                query = query.filter(
                    invoices::id
                        .ne_all(tracked().filter(invoice_tracking::delivery_status.ne("not_sent"))),
                )
            }
            Some(status) => {
                query = query.filter(invoices::id.eq_any(
                    tracked().filter(invoice_tracking::delivery_status.eq(status.to_string())),
                ))
            }
        }
        match filter.viewed {
            None => {}
            Some(true) => {
                query = query.filter(
                    invoices::id
                        .eq_any(tracked().filter(invoice_tracking::viewed_at.is_not_null())),
                )
            }
            Some(false) => {
                query = query.filter(
                    invoices::id
                        .ne_all(tracked().filter(invoice_tracking::viewed_at.is_not_null())),
                )
            }
        }
        query
    }};
}

/// Runs `$action` on the filtered query paged by an [`InvoicePage`].
macro_rules! invoice_page {
    ($page:expr, $org:expr, $filter:expr, $action:ident) => {
        match $page {
            InvoicePage::CreatedAt(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter),
                invoices::created_at,
                invoices::id,
                page
            )),
            InvoicePage::UpdatedAt(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter),
                invoices::updated_at,
                invoices::id,
                page
            )),
            InvoicePage::Total(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter),
                invoices::total,
                invoices::id,
                page
            )),
            InvoicePage::Status(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter),
                invoices::status,
                invoices::id,
                page
            )),
            InvoicePage::IssuedAt(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter).filter(invoices::issued_at.is_not_null()),
                invoices::issued_at,
                invoices::id,
                page
            )),
            InvoicePage::DueDate(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter).filter(invoices::due_date.is_not_null()),
                invoices::due_date,
                invoices::id,
                page
            )),
            InvoicePage::Folio(page) => $action!(crate::keyset_page!(
                filtered!($org, $filter).filter(invoices::folio.is_not_null()),
                invoices::folio,
                invoices::id,
                page
            )),
            InvoicePage::CustomerName(page) => $action!(crate::keyset_page!(
                // The customers' own tenant filter lets their name index be walked in order.
                filtered!(invoices::table.inner_join(customers::table), $org, $filter)
                    .filter(customers::organization_id.eq($org)),
                customers::legal_name,
                invoices::id,
                page
            )),
        }
    };
}

/// One page of the organization's invoices matching `filter`.
pub fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &InvoiceFilter,
    page: &InvoicePage,
) -> Result<Rows<Invoice>, StoreError> {
    macro_rules! load {
        ($q:expr) => {
            $q.load(conn)?
        };
    }
    let rows = invoice_page!(page, org_id, filter, load);
    Ok(Rows::from_overfetch(rows, page.limit()))
}

/// The legal name and RFC of the customers of `invoices`, by customer id: one query for a
/// whole page.
pub fn customer_names(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoices: &[Invoice],
) -> Result<std::collections::HashMap<Uuid, (String, String)>, StoreError> {
    let ids: Vec<Uuid> = invoices.iter().map(|i| i.customer_id).collect();
    let rows: Vec<(Uuid, String, String)> = customers::table
        .filter(customers::organization_id.eq(org_id))
        .filter(customers::id.eq_any(&ids))
        .select((customers::id, customers::legal_name, customers::rfc))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, rfc)| (id, (name, rfc)))
        .collect())
}

/// PostgreSQL's plan for the statement [`list`] runs, one line per plan line.
pub fn explain_list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &InvoiceFilter,
    page: &InvoicePage,
) -> Result<Vec<String>, StoreError> {
    macro_rules! explain {
        ($q:expr) => {
            crate::explain::Explain($q).load::<String>(conn)?
        };
    }
    Ok(invoice_page!(page, org_id, filter, explain))
}
