//! Bulk export jobs and the chunks of the ZIP files they produce.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{PageQuery, Rows};
use crate::schema::{export_chunks, exports, invoice_stamps, invoices};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = exports)]
pub struct Export {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub status: String,
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
    pub document_types: Vec<String>,
    pub include_pdf: bool,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub leased_until: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub document_count: i32,
    pub size_bytes: i64,
    pub error: Option<String>,
}

pub fn insert(conn: &mut PgConnection, export: &Export) -> Result<(), StoreError> {
    diesel::insert_into(exports::table)
        .values(export)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Export, StoreError> {
    Ok(exports::table
        .filter(exports::organization_id.eq(org_id))
        .filter(exports::id.eq(id))
        .select(Export::as_select())
        .first(conn)?)
}

pub fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageQuery<DateTime<Utc>>,
) -> Result<Rows<Export>, StoreError> {
    let query = exports::table
        .filter(exports::organization_id.eq(org_id))
        .select(Export::as_select())
        .into_boxed();
    let rows = crate::keyset_page!(query, exports::created_at, exports::id, page).load(conn)?;
    Ok(Rows::from_overfetch(rows, page.limit))
}

/// Takes a job to build for `lease`: `id` if given, else the oldest one waiting (or whose
/// worker's lease ran out). Runs outside a tenant transaction: the worker serves every
/// organization.
pub fn lease(
    conn: &mut PgConnection,
    id: Option<Uuid>,
    lease: Duration,
) -> Result<Option<Export>, StoreError> {
    let now = Utc::now();
    let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    crate::transaction(conn, |conn| {
        let due = exports::table
            .filter(
                exports::status.eq("queued").or(exports::status
                    .eq("running")
                    .and(exports::leased_until.lt(now))),
            )
            .filter(
                exports::id
                    .eq(id.unwrap_or_default())
                    .or(id.is_none().into_sql::<diesel::sql_types::Bool>()),
            )
            .select(exports::id)
            .order(exports::created_at.asc())
            .limit(1)
            .for_update()
            .skip_locked();
        let Some(id) = due.first::<Uuid>(conn).optional()? else {
            return Ok(None);
        };
        // A job taken again starts over.
        diesel::delete(export_chunks::table.filter(export_chunks::export_id.eq(id)))
            .execute(conn)?;
        Ok(Some(
            diesel::update(exports::table.find(id))
                .set((
                    exports::status.eq("running"),
                    exports::leased_until.eq(until),
                ))
                .returning(Export::as_returning())
                .get_result(conn)?,
        ))
    })
}

/// Appends chunk `seq` of the job's ZIP, and extends the job's lease.
pub fn write_chunk(
    conn: &mut PgConnection,
    export: &Export,
    seq: i32,
    data: &[u8],
    lease: Duration,
) -> Result<(), StoreError> {
    let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    crate::transaction(conn, |conn| {
        diesel::insert_into(export_chunks::table)
            .values((
                export_chunks::export_id.eq(export.id),
                export_chunks::organization_id.eq(export.organization_id),
                export_chunks::seq.eq(seq),
                export_chunks::data.eq(data),
            ))
            .execute(conn)?;
        diesel::update(exports::table.find(export.id))
            .set(exports::leased_until.eq(until))
            .execute(conn)?;
        Ok(())
    })
}

pub fn finish(
    conn: &mut PgConnection,
    id: Uuid,
    document_count: i32,
    size_bytes: i64,
) -> Result<(), StoreError> {
    diesel::update(exports::table.find(id))
        .set((
            exports::status.eq("ready"),
            exports::finished_at.eq(Utc::now()),
            exports::leased_until.eq(None::<DateTime<Utc>>),
            exports::document_count.eq(document_count),
            exports::size_bytes.eq(size_bytes),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn fail(conn: &mut PgConnection, id: Uuid, error: &str) -> Result<(), StoreError> {
    crate::transaction(conn, |conn| {
        diesel::delete(export_chunks::table.filter(export_chunks::export_id.eq(id)))
            .execute(conn)?;
        diesel::update(exports::table.find(id))
            .set((
                exports::status.eq("failed"),
                exports::finished_at.eq(Utc::now()),
                exports::leased_until.eq(None::<DateTime<Utc>>),
                exports::error.eq(error),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Chunk `seq` of a ready export's ZIP, if there is one.
pub fn chunk(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    seq: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(export_chunks::table
        .filter(export_chunks::organization_id.eq(org_id))
        .filter(export_chunks::export_id.eq(id))
        .filter(export_chunks::seq.eq(seq))
        .select(export_chunks::data)
        .first(conn)
        .optional()?)
}

/// A document an export carries: the invoice and its stamped XML.
#[derive(Debug, Clone)]
pub struct Document {
    pub invoice: crate::invoices::Invoice,
    pub xml: Vec<u8>,
}

/// One batch of the stamped documents of `types` issued in `[from, before)`, in
/// (issued_at, id) order after `page.after`: an export reads its range batch by batch.
pub fn documents(
    conn: &mut PgConnection,
    org_id: Uuid,
    types: &[String],
    from: DateTime<Utc>,
    before: DateTime<Utc>,
    page: &PageQuery<DateTime<Utc>>,
) -> Result<Rows<Document>, StoreError> {
    let query = invoices::table
        .inner_join(invoice_stamps::table)
        .filter(invoices::organization_id.eq(org_id))
        .filter(invoices::document_type.eq_any(types))
        .filter(invoices::issued_at.ge(from))
        .filter(invoices::issued_at.lt(before))
        .filter(invoice_stamps::xml.is_not_null())
        .select((
            crate::invoices::Invoice::as_select(),
            invoice_stamps::xml.assume_not_null(),
        ))
        .into_boxed();
    let rows = crate::keyset_page!(
        query,
        invoices::issued_at.assume_not_null(),
        invoices::id,
        page
    )
    .load::<(crate::invoices::Invoice, Vec<u8>)>(conn)?
    .into_iter()
    .map(|(invoice, xml)| Document { invoice, xml })
    .collect();
    Ok(Rows::from_overfetch(rows, page.limit))
}
