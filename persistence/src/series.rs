//! Invoice series (CFDI `Serie`) and their folio counters. Every function takes the
//! organization and filters by it, in addition to row-level security (the second wall).
//!
//! Folios are gapless per series: [`take_folio`] moves the counter inside the issuing
//! transaction and the row stays locked until that transaction ends, so concurrent issues of
//! one series queue behind each other and a rolled-back issue gives its folio back.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{PageQuery, Rows};
use crate::schema::series;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = series)]
#[diesel(treat_none_as_null = true)]
pub struct Series {
    #[diesel(skip_update)]
    pub id: Uuid,
    #[diesel(skip_update)]
    pub organization_id: Uuid,
    /// `Comprobante/@Serie`.
    pub prefix: String,
    /// The c_TipoDeComprobante key of the documents it numbers: `I`, `E`, `P` or `T`.
    pub document_type: String,
    /// The `Comprobante/@Folio` the next document gets.
    pub next_folio: i64,
    pub is_default: bool,
    pub description: Option<String>,
    pub archived: bool,
    #[diesel(skip_update)]
    pub version: i32,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
}

/// The filters of the series list.
#[derive(Debug, Clone, Default)]
pub struct SeriesFilter {
    pub document_type: Option<String>,
    pub archived: Option<bool>,
}

/// A page of the series list, in one of its sorts: by prefix (unique in the organization) or
/// by creation. Indexes `(organization_id, prefix)` and `(organization_id, created_at, id)`
/// serve them.
#[derive(Debug, Clone)]
pub enum SeriesPage {
    Prefix(PageQuery<String>),
    CreatedAt(PageQuery<DateTime<Utc>>),
}

impl SeriesPage {
    pub fn limit(&self) -> i64 {
        match self {
            Self::Prefix(p) => p.limit,
            Self::CreatedAt(p) => p.limit,
        }
    }
}

pub fn insert(conn: &mut PgConnection, row: &Series) -> Result<Series, StoreError> {
    Ok(diesel::insert_into(series::table)
        .values(row)
        .returning(Series::as_returning())
        .get_result(conn)?)
}

pub fn find(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Series, StoreError> {
    Ok(series::table
        .filter(series::organization_id.eq(org_id))
        .filter(series::id.eq(id))
        .select(Series::as_select())
        .first(conn)?)
}

/// The series, locked until the transaction ends (for read-modify-write): a folio cannot be
/// taken from it meanwhile.
pub fn lock(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Series, StoreError> {
    Ok(series::table
        .filter(series::organization_id.eq(org_id))
        .filter(series::id.eq(id))
        .select(Series::as_select())
        .for_update()
        .first(conn)?)
}

/// Writes every field of `row`, bumping its version; returns the stored row.
pub fn update(conn: &mut PgConnection, row: &Series) -> Result<Series, StoreError> {
    Ok(diesel::update(
        series::table
            .filter(series::organization_id.eq(row.organization_id))
            .filter(series::id.eq(row.id)),
    )
    .set((
        row,
        series::version.eq(series::version + 1),
        series::updated_at.eq(Utc::now()),
    ))
    .returning(Series::as_returning())
    .get_result(conn)?)
}

pub fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        series::table
            .filter(series::organization_id.eq(org_id))
            .filter(series::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Makes room for `keep` as the default series of `document_type`: the organization's other
/// default of that type stops being one (its version moves). Call it in the transaction that
/// then writes `keep` with `is_default`.
///
/// Takes a transaction-scoped advisory lock on (organization, document type) first, so two
/// transactions making different series default queue up: the second then sees the first's
/// default and clears it, instead of both clearing the old one and the second tripping over
/// the unique index of defaults.
pub fn clear_default(
    conn: &mut PgConnection,
    org_id: Uuid,
    document_type: &str,
    keep: Uuid,
) -> Result<(), StoreError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(format!("series_default:{org_id}:{document_type}"))
        .execute(conn)?;
    diesel::update(
        series::table
            .filter(series::organization_id.eq(org_id))
            .filter(series::document_type.eq(document_type))
            .filter(series::is_default.eq(true))
            .filter(series::id.ne(keep)),
    )
    .set((
        series::is_default.eq(false),
        series::version.eq(series::version + 1),
        series::updated_at.eq(Utc::now()),
    ))
    .execute(conn)?;
    Ok(())
}

/// Takes the next folio of the series inside the caller's transaction (row lock held until it ends): gapless, since a rollback returns it.
///
/// `NotFound` if the organization has no such series. The series' version moves too: its
/// `next_folio` is part of what its `ETag` stands for. Whether an archived series may still
/// issue is the caller's decision.
pub fn take_folio(conn: &mut PgConnection, org: Uuid, series_id: Uuid) -> Result<i64, StoreError> {
    Ok(diesel::update(
        series::table
            .filter(series::id.eq(series_id))
            .filter(series::organization_id.eq(org)),
    )
    .set((
        series::next_folio.eq(series::next_folio + 1),
        series::version.eq(series::version + 1),
        series::updated_at.eq(Utc::now()),
    ))
    .returning(series::next_folio - 1)
    .get_result(conn)?)
}

/// The organization's default series for a c_TipoDeComprobante code ("I", "E", "P", "T").
pub fn default_for(
    conn: &mut PgConnection,
    org: Uuid,
    document_type: &str,
) -> Result<Option<Series>, StoreError> {
    Ok(series::table
        .filter(series::organization_id.eq(org))
        .filter(series::document_type.eq(document_type))
        .filter(series::is_default.eq(true))
        .select(Series::as_select())
        .first(conn)
        .optional()?)
}

/// The series of one organization matching `filter`, as a boxed query.
fn filtered<'a>(org_id: Uuid, filter: &SeriesFilter) -> series::BoxedQuery<'a, diesel::pg::Pg> {
    let mut query = series::table
        .filter(series::organization_id.eq(org_id))
        .into_boxed();
    if let Some(document_type) = &filter.document_type {
        query = query.filter(series::document_type.eq(document_type.clone()));
    }
    if let Some(archived) = filter.archived {
        query = query.filter(series::archived.eq(archived));
    }
    query
}

/// One page of the organization's series matching `filter`.
pub fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &SeriesFilter,
    page: &SeriesPage,
) -> Result<Rows<Series>, StoreError> {
    let query = filtered(org_id, filter).select(Series::as_select());
    let rows = match page {
        SeriesPage::Prefix(page) => {
            crate::keyset_page!(query, series::prefix, series::id, page).load(conn)?
        }
        SeriesPage::CreatedAt(page) => {
            crate::keyset_page!(query, series::created_at, series::id, page).load(conn)?
        }
    };
    Ok(Rows::from_overfetch(rows, page.limit()))
}
