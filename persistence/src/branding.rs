//! The organization's branding (logo, accent colour, footer), which its invoice PDFs and
//! emails print. Every function takes the organization and filters by it, in addition to
//! row-level security (the second wall).
//!
//! An organization has at most one row, made by its first change and never deleted: its
//! `version` only grows, so an `ETag` read before can never match again. An organization
//! without a row has no branding yet (`version` 0 to the API). Writers take [`lock`] first. What reaches this module has
//! been checked (the logo decoded, the colour normalised); the table's constraints repeat the
//! rules.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use uuid::Uuid;

use crate::StoreError;
use crate::schema::organization_branding;

diesel::define_sql_function! {
    /// SQL `octet_length()`: the size of the logo without reading it.
    fn octet_length(x: diesel::sql_types::Nullable<diesel::sql_types::Bytea>) -> diesel::sql_types::Nullable<diesel::sql_types::Integer>;
}

/// The organization's branding, the logo's bytes included: what a PDF or an email prints.
#[derive(Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = organization_branding)]
pub struct Branding {
    pub organization_id: Uuid,
    /// The logo exactly as uploaded: a PNG or JPEG that decoded completely as
    /// `logo_content_type`, at most 4096 x 4096 pixels and 1 MiB.
    pub logo: Option<Vec<u8>>,
    /// `image/png` or `image/jpeg` when there is a logo.
    pub logo_content_type: Option<String>,
    /// The logo's size in pixels, when there is one.
    pub logo_width: Option<i32>,
    pub logo_height: Option<i32>,
    /// `#RRGGBB`, upper case.
    pub accent_color: Option<String>,
    /// One line of at most 300 characters, for the bottom of every PDF page.
    pub footer_text: Option<String>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// Names the logo's size, never its bytes.
impl fmt::Debug for Branding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Branding")
            .field("organization_id", &self.organization_id)
            .field("logo_bytes", &self.logo.as_ref().map(Vec::len))
            .field("logo_content_type", &self.logo_content_type)
            .field("accent_color", &self.accent_color)
            .field("footer_text", &self.footer_text)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The branding without the logo's bytes, only their count: what the API answers.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = organization_branding)]
pub struct BrandingSummary {
    pub organization_id: Uuid,
    pub logo_content_type: Option<String>,
    pub logo_width: Option<i32>,
    pub logo_height: Option<i32>,
    #[diesel(select_expression = octet_length(organization_branding::logo))]
    #[diesel(select_expression_type = octet_length<organization_branding::logo>)]
    pub logo_size: Option<i32>,
    pub accent_color: Option<String>,
    pub footer_text: Option<String>,
    pub version: i32,
    pub updated_at: DateTime<Utc>,
}

/// A checked logo to store.
#[derive(Clone, Copy)]
pub struct NewLogo<'a> {
    pub bytes: &'a [u8],
    pub content_type: &'a str,
    pub width: i32,
    pub height: i32,
}

impl fmt::Debug for NewLogo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewLogo")
            .field("bytes", &self.bytes.len())
            .field("content_type", &self.content_type)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// The organization's branding with its logo, or None when it has never set any.
pub fn find(conn: &mut PgConnection, org_id: Uuid) -> Result<Option<Branding>, StoreError> {
    Ok(organization_branding::table
        .filter(organization_branding::organization_id.eq(org_id))
        .select(Branding::as_select())
        .first(conn)
        .optional()?)
}

/// [`find`] without the logo's bytes.
pub fn find_summary(
    conn: &mut PgConnection,
    org_id: Uuid,
) -> Result<Option<BrandingSummary>, StoreError> {
    Ok(organization_branding::table
        .filter(organization_branding::organization_id.eq(org_id))
        .select(BrandingSummary::as_select())
        .first(conn)
        .optional()?)
}

/// The organization's branding, or None when it has never set any, with every writer of its
/// branding queued behind this transaction until it ends (for read-modify-write).
///
/// A transaction-scoped advisory lock, rather than a row lock: the first change of an
/// organization has no row to lock yet, and two first changes must queue like later ones.
pub fn lock(conn: &mut PgConnection, org_id: Uuid) -> Result<Option<BrandingSummary>, StoreError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(format!("organization_branding:{org_id}"))
        .execute(conn)?;
    find_summary(conn, org_id)
}

/// Sets the accent colour and the footer (None clears them), bumping the version; makes the
/// row when the organization has none.
pub fn set_settings(
    conn: &mut PgConnection,
    org_id: Uuid,
    accent_color: Option<&str>,
    footer_text: Option<&str>,
) -> Result<BrandingSummary, StoreError> {
    let now = Utc::now();
    Ok(diesel::insert_into(organization_branding::table)
        .values((
            organization_branding::organization_id.eq(org_id),
            organization_branding::accent_color.eq(accent_color),
            organization_branding::footer_text.eq(footer_text),
            organization_branding::version.eq(1),
            organization_branding::updated_at.eq(now),
        ))
        .on_conflict(organization_branding::organization_id)
        .do_update()
        .set((
            organization_branding::accent_color.eq(accent_color),
            organization_branding::footer_text.eq(footer_text),
            organization_branding::version.eq(organization_branding::version + 1),
            organization_branding::updated_at.eq(now),
        ))
        .returning(BrandingSummary::as_returning())
        .get_result(conn)?)
}

/// Replaces the logo, bumping the version; makes the row when the organization has none.
pub fn set_logo(
    conn: &mut PgConnection,
    org_id: Uuid,
    logo: NewLogo<'_>,
) -> Result<BrandingSummary, StoreError> {
    let now = Utc::now();
    let columns = (
        organization_branding::logo.eq(Some(logo.bytes)),
        organization_branding::logo_content_type.eq(Some(logo.content_type)),
        organization_branding::logo_width.eq(Some(logo.width)),
        organization_branding::logo_height.eq(Some(logo.height)),
        organization_branding::updated_at.eq(now),
    );
    Ok(diesel::insert_into(organization_branding::table)
        .values((
            organization_branding::organization_id.eq(org_id),
            organization_branding::version.eq(1),
            columns,
        ))
        .on_conflict(organization_branding::organization_id)
        .do_update()
        .set((
            columns,
            organization_branding::version.eq(organization_branding::version + 1),
        ))
        .returning(BrandingSummary::as_returning())
        .get_result(conn)?)
}

/// Removes the logo, bumping the version. `NotFound` when the organization has no branding.
pub fn clear_logo(conn: &mut PgConnection, org_id: Uuid) -> Result<BrandingSummary, StoreError> {
    Ok(diesel::update(
        organization_branding::table.filter(organization_branding::organization_id.eq(org_id)),
    )
    .set((
        organization_branding::logo.eq(None::<Vec<u8>>),
        organization_branding::logo_content_type.eq(None::<String>),
        organization_branding::logo_width.eq(None::<i32>),
        organization_branding::logo_height.eq(None::<i32>),
        organization_branding::version.eq(organization_branding::version + 1),
        organization_branding::updated_at.eq(Utc::now()),
    ))
    .returning(BrandingSummary::as_returning())
    .get_result(conn)?)
}
