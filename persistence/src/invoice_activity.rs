//! What happens to an invoice after it is written: its timeline of events, its delivery and
//! viewing state, and the public links that show it without logging in. Every function takes
//! the organization and filters by it, in addition to row-level security, except
//! [`find_link_by_hash`], which is how an anonymous viewer's token finds its organization.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{PageQuery, Rows};
use crate::schema::{email_outbox, invoice_events, invoice_public_links, invoice_tracking};

/// Who caused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ApiClient,
    /// The server itself: the delivery worker, the PAC's answer.
    System,
    /// Someone holding a public link.
    Public,
}

impl ActorKind {
    pub fn code(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::ApiClient => "api_client",
            Self::System => "system",
            Self::Public => "public",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<Uuid>,
}

impl Actor {
    pub const SYSTEM: Self = Self {
        kind: ActorKind::System,
        id: None,
    };
    pub const PUBLIC: Self = Self {
        kind: ActorKind::Public,
        id: None,
    };
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = invoice_events)]
pub struct Event {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub invoice_id: Uuid,
    pub kind: String,
    pub actor_type: String,
    pub actor_id: Option<Uuid>,
    pub data: Value,
    pub occurred_at: DateTime<Utc>,
}

/// Adds `kind` to the invoice's timeline, in the caller's transaction.
pub fn record(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    kind: &str,
    actor: Actor,
    data: Value,
) -> Result<(), StoreError> {
    diesel::insert_into(invoice_events::table)
        .values((
            invoice_events::id.eq(Uuid::now_v7()),
            invoice_events::organization_id.eq(org_id),
            invoice_events::invoice_id.eq(invoice_id),
            invoice_events::kind.eq(kind),
            invoice_events::actor_type.eq(actor.kind.code()),
            invoice_events::actor_id.eq(actor.id),
            invoice_events::data.eq(data),
            invoice_events::occurred_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// One page of the invoice's timeline, oldest first unless the page says otherwise.
pub fn events(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    page: &PageQuery<DateTime<Utc>>,
) -> Result<Rows<Event>, StoreError> {
    let query = invoice_events::table
        .filter(invoice_events::organization_id.eq(org_id))
        .filter(invoice_events::invoice_id.eq(invoice_id))
        .select(Event::as_select())
        .into_boxed();
    let rows = crate::keyset_page!(query, invoice_events::occurred_at, invoice_events::id, page)
        .load(conn)?;
    Ok(Rows::from_overfetch(rows, page.limit))
}

/// An invoice's delivery and viewing state; no row means never sent nor viewed.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = invoice_tracking)]
pub struct Tracking {
    pub invoice_id: Uuid,
    pub organization_id: Uuid,
    pub delivery_status: String,
    pub delivery_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub viewed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub fn tracking(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<Option<Tracking>, StoreError> {
    Ok(invoice_tracking::table
        .filter(invoice_tracking::organization_id.eq(org_id))
        .filter(invoice_tracking::invoice_id.eq(invoice_id))
        .select(Tracking::as_select())
        .first(conn)
        .optional()?)
}

/// The tracking rows of these invoices, by invoice id: one query for a page of the list.
pub fn tracking_of(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_ids: &[Uuid],
) -> Result<HashMap<Uuid, Tracking>, StoreError> {
    let rows: Vec<Tracking> = invoice_tracking::table
        .filter(invoice_tracking::organization_id.eq(org_id))
        .filter(invoice_tracking::invoice_id.eq_any(invoice_ids))
        .select(Tracking::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|t| (t.invoice_id, t)).collect())
}

/// Sets the delivery state of the invoice's latest send; the first delivery sets `sent_at`.
fn set_delivery(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    status: &str,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let sent_at = (status == "sent").then_some(now);
    diesel::insert_into(invoice_tracking::table)
        .values((
            invoice_tracking::invoice_id.eq(invoice_id),
            invoice_tracking::organization_id.eq(org_id),
            invoice_tracking::delivery_status.eq(status),
            invoice_tracking::delivery_error.eq(error),
            invoice_tracking::sent_at.eq(sent_at),
            invoice_tracking::updated_at.eq(now),
        ))
        .on_conflict(invoice_tracking::invoice_id)
        .do_update()
        .set((
            invoice_tracking::delivery_status.eq(status),
            invoice_tracking::delivery_error.eq(error),
            invoice_tracking::sent_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >(
                "COALESCE(invoice_tracking.sent_at, excluded.sent_at)"
            )),
            invoice_tracking::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// A send was requested: the email waits in the outbox.
pub fn delivery_queued(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<(), StoreError> {
    set_delivery(conn, org_id, invoice_id, "queued", None)
}

/// The SMTP server accepted the invoice email `email_id`.
pub fn delivered(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    email_id: Uuid,
    recipients: Value,
) -> Result<(), StoreError> {
    set_delivery(conn, org_id, invoice_id, "sent", None)?;
    record(
        conn,
        org_id,
        invoice_id,
        "sent",
        Actor::SYSTEM,
        serde_json::json!({ "delivery_id": email_id, "recipients": recipients }),
    )
}

/// The invoice email `email_id` failed for good.
pub fn delivery_failed(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    email_id: Uuid,
    reason: &str,
) -> Result<(), StoreError> {
    set_delivery(conn, org_id, invoice_id, "failed", Some(reason))?;
    record(
        conn,
        org_id,
        invoice_id,
        "delivery_failed",
        Actor::SYSTEM,
        serde_json::json!({ "delivery_id": email_id, "reason": reason }),
    )
}

/// Serializes the organization's invoice sends until the transaction ends, so that counting
/// the last hour's and adding one is exact under concurrency.
pub fn lock_sending(conn: &mut PgConnection, org_id: Uuid) -> Result<(), StoreError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('invoice-send:' || $1, 0))")
        .bind::<diesel::sql_types::Text, _>(org_id.to_string())
        .execute(conn)?;
    Ok(())
}

/// Invoice emails the organization queued since `since`, and the oldest of them.
pub fn sends_since(
    conn: &mut PgConnection,
    org_id: Uuid,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    Ok(email_outbox::table
        .filter(email_outbox::organization_id.eq(org_id))
        .filter(email_outbox::kind.eq("invoice"))
        .filter(email_outbox::created_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(email_outbox::created_at),
        ))
        .first(conn)?)
}

/// One delivery (invoice email) as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = email_outbox)]
pub struct Delivery {
    pub id: Uuid,
    pub to_address: String,
    pub cc_addresses: Vec<String>,
    pub subject: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// The invoice's deliveries, newest first (at most 100).
pub fn deliveries(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<Vec<Delivery>, StoreError> {
    Ok(email_outbox::table
        .filter(email_outbox::organization_id.eq(org_id))
        .filter(email_outbox::invoice_id.eq(invoice_id))
        .order((email_outbox::created_at.desc(), email_outbox::id.desc()))
        .limit(100)
        .select(Delivery::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = invoice_public_links)]
pub struct PublicLink {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub invoice_id: Uuid,
    pub token_hash: Vec<u8>,
    pub created_by_type: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub first_viewed_at: Option<DateTime<Utc>>,
    pub last_viewed_at: Option<DateTime<Utc>>,
    pub views: i32,
}

pub fn insert_link(conn: &mut PgConnection, link: &PublicLink) -> Result<(), StoreError> {
    diesel::insert_into(invoice_public_links::table)
        .values(link)
        .execute(conn)?;
    Ok(())
}

/// The invoice's public links, newest first (at most 100).
pub fn links(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
) -> Result<Vec<PublicLink>, StoreError> {
    Ok(invoice_public_links::table
        .filter(invoice_public_links::organization_id.eq(org_id))
        .filter(invoice_public_links::invoice_id.eq(invoice_id))
        .order((
            invoice_public_links::created_at.desc(),
            invoice_public_links::id.desc(),
        ))
        .limit(100)
        .select(PublicLink::as_select())
        .load(conn)?)
}

/// Revokes a link of the invoice: `true` when this revoked it, `false` when it already was
/// (its first revocation time is kept); `NotFound` when the invoice has no such link.
pub fn revoke_link(
    conn: &mut PgConnection,
    org_id: Uuid,
    invoice_id: Uuid,
    link_id: Uuid,
) -> Result<bool, StoreError> {
    let link = invoice_public_links::table
        .filter(invoice_public_links::organization_id.eq(org_id))
        .filter(invoice_public_links::invoice_id.eq(invoice_id))
        .filter(invoice_public_links::id.eq(link_id));
    let revoked = diesel::update(link.filter(invoice_public_links::revoked_at.is_null()))
        .set(invoice_public_links::revoked_at.eq(Utc::now()))
        .execute(conn)?;
    if revoked == 0 {
        // Already revoked, or not there at all.
        link.select(invoice_public_links::id).first::<Uuid>(conn)?;
    }
    Ok(revoked == 1)
}

/// The link whose token hashes to `hash`, whatever its organization: run outside a tenant
/// transaction, since the anonymous caller's token is what names the organization.
pub fn find_link_by_hash(
    conn: &mut PgConnection,
    hash: &[u8],
) -> Result<Option<PublicLink>, StoreError> {
    Ok(invoice_public_links::table
        .filter(invoice_public_links::token_hash.eq(hash))
        .select(PublicLink::as_select())
        .first(conn)
        .optional()?)
}

/// Counts a view through `link`; the link's first view adds `viewed` to the timeline, and the
/// invoice's first view sets its `viewed_at`.
pub fn record_view(conn: &mut PgConnection, link: &PublicLink) -> Result<(), StoreError> {
    let now = Utc::now();
    let link_row = invoice_public_links::table
        .filter(invoice_public_links::organization_id.eq(link.organization_id))
        .filter(invoice_public_links::id.eq(link.id));
    let before: Option<DateTime<Utc>> = link_row
        .select(invoice_public_links::first_viewed_at)
        .for_update()
        .first(conn)?;
    diesel::update(link_row)
        .set((
            invoice_public_links::views.eq(invoice_public_links::views + 1),
            invoice_public_links::last_viewed_at.eq(now),
            invoice_public_links::first_viewed_at.eq(before.unwrap_or(now)),
        ))
        .execute(conn)?;
    if before.is_some() {
        return Ok(());
    }
    record(
        conn,
        link.organization_id,
        link.invoice_id,
        "viewed",
        Actor::PUBLIC,
        serde_json::json!({ "public_link_id": link.id }),
    )?;
    diesel::insert_into(invoice_tracking::table)
        .values((
            invoice_tracking::invoice_id.eq(link.invoice_id),
            invoice_tracking::organization_id.eq(link.organization_id),
            // Viewed without an email from here: the link was shared by other means.
            invoice_tracking::delivery_status.eq("not_sent"),
            invoice_tracking::viewed_at.eq(now),
            invoice_tracking::updated_at.eq(now),
        ))
        .on_conflict(invoice_tracking::invoice_id)
        .do_update()
        .set((
            invoice_tracking::viewed_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >(
                "COALESCE(invoice_tracking.viewed_at, now())"
            )),
            invoice_tracking::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
