//! The email outbox: rows written with the change that causes them, leased by the delivery
//! worker while it sends them, then marked sent, retried later, or failed for good.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::email_outbox as eo;

/// An email to deliver.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = eo)]
pub struct OutboxEmail {
    pub id: Uuid,
    pub organization_id: Option<Uuid>,
    pub kind: String,
    pub to_address: String,
    pub subject: String,
    pub body_text: String,
    pub attempts: i32,
    /// Recipients after `to_address`.
    pub extra_to_addresses: Vec<String>,
    pub cc_addresses: Vec<String>,
    /// An invoice email: the worker attaches this invoice's PDF and XML.
    pub invoice_id: Option<Uuid>,
}

/// Writes an email in the caller's transaction.
pub fn enqueue(
    conn: &mut PgConnection,
    organization_id: Option<Uuid>,
    kind: &str,
    to: &str,
    subject: &str,
    body_text: &str,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    diesel::insert_into(eo::table)
        .values((
            eo::id.eq(id),
            eo::organization_id.eq(organization_id),
            eo::kind.eq(kind),
            eo::to_address.eq(to),
            eo::subject.eq(subject),
            eo::body_text.eq(body_text),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Writes an invoice email (to every address of `to`, copied to `cc`) in the caller's
/// transaction; the worker attaches the invoice's PDF and XML when it sends it.
pub fn enqueue_invoice(
    conn: &mut PgConnection,
    organization_id: Uuid,
    invoice_id: Uuid,
    to: &[String],
    cc: &[String],
    subject: &str,
    body_text: &str,
) -> Result<Uuid, StoreError> {
    let id = Uuid::now_v7();
    let (first, more) = to.split_first().ok_or(StoreError::NotFound)?;
    diesel::insert_into(eo::table)
        .values((
            eo::id.eq(id),
            eo::organization_id.eq(Some(organization_id)),
            eo::kind.eq("invoice"),
            eo::to_address.eq(first),
            eo::extra_to_addresses.eq(more),
            eo::cc_addresses.eq(cc),
            eo::invoice_id.eq(Some(invoice_id)),
            eo::subject.eq(subject),
            eo::body_text.eq(body_text),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Leases up to `limit` due emails for `lease`: another worker skips them until the lease ends,
/// so an email being sent is never picked twice, and one whose worker died is picked again.
pub fn lease_due(
    conn: &mut PgConnection,
    limit: i64,
    lease: Duration,
) -> Result<Vec<OutboxEmail>, StoreError> {
    let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    crate::transaction(conn, |conn| {
        let ids: Vec<Uuid> = eo::table
            .filter(eo::status.eq("pending"))
            .filter(eo::next_attempt_at.le(Utc::now()))
            .filter(
                eo::leased_until
                    .is_null()
                    .or(eo::leased_until.lt(Utc::now())),
            )
            .order(eo::next_attempt_at.asc())
            .limit(limit)
            .select(eo::id)
            .for_update()
            .skip_locked()
            .load(conn)?;
        Ok(diesel::update(eo::table.filter(eo::id.eq_any(&ids)))
            .set((
                eo::leased_until.eq(until),
                eo::attempts.eq(eo::attempts + 1),
            ))
            .returning(OutboxEmail::as_returning())
            .get_results(conn)?)
    })
}

pub fn mark_sent(conn: &mut PgConnection, id: Uuid) -> Result<(), StoreError> {
    crate::transaction(conn, |conn| {
        type Sent = (Option<Uuid>, Option<Uuid>, String, Vec<String>, Vec<String>);
        let (org, invoice, to, more_to, cc): Sent = diesel::update(eo::table.find(id))
            .set((
                eo::status.eq("sent"),
                eo::sent_at.eq(Utc::now()),
                eo::leased_until.eq(None::<DateTime<Utc>>),
                eo::last_error.eq(None::<String>),
            ))
            .returning((
                eo::organization_id,
                eo::invoice_id,
                eo::to_address,
                eo::extra_to_addresses,
                eo::cc_addresses,
            ))
            .get_result(conn)?;
        if let (Some(org), Some(invoice)) = (org, invoice) {
            let mut all_to = vec![to];
            all_to.extend(more_to);
            let recipients = serde_json::json!({ "to": all_to, "cc": cc });
            crate::invoice_activity::delivered(conn, org, invoice, id, recipients)?;
        }
        Ok(())
    })
}

/// Records a failed attempt: retried at `retry_at`, or failed for good when `None`.
pub fn mark_attempt_failed(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let status = if retry_at.is_some() {
        "pending"
    } else {
        "failed"
    };
    crate::transaction(conn, |conn| {
        let (org, invoice): (Option<Uuid>, Option<Uuid>) = diesel::update(eo::table.find(id))
            .set((
                eo::status.eq(status),
                eo::next_attempt_at.eq(retry_at.unwrap_or_else(Utc::now)),
                eo::leased_until.eq(None::<DateTime<Utc>>),
                eo::last_error.eq(error),
            ))
            .returning((eo::organization_id, eo::invoice_id))
            .get_result(conn)?;
        if let (Some(org), Some(invoice), None) = (org, invoice, retry_at) {
            crate::invoice_activity::delivery_failed(conn, org, invoice, id, error)?;
        }
        Ok(())
    })
}

/// How many emails wait for delivery (for the log line when SMTP is not configured).
pub fn pending_count(conn: &mut PgConnection) -> Result<i64, StoreError> {
    Ok(eo::table
        .filter(eo::status.eq("pending"))
        .count()
        .get_result(conn)?)
}
