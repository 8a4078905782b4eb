//! What the business resources (customers, products, and later invoices) share: the identity
//! and timestamps a row keeps across writes, and the 409 of a taken unique value (`external_id`).

use chrono::{DateTime, Utc};
use domain::validation::{Pointer, Violation};
use persistence::StoreError;
use uuid::Uuid;

use crate::problem::ApiError;

/// What a row keeps from before (or gets new): identity, version and timestamps.
#[derive(Debug, Clone, Copy)]
pub struct RowBase {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RowBase {
    pub fn new(organization_id: Uuid) -> Self {
        let now = Utc::now();
        Self {
            id: Uuid::now_v7(),
            organization_id,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// What an existing row keeps.
    pub fn of(
        id: Uuid,
        organization_id: Uuid,
        version: i32,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            organization_id,
            version,
            created_at,
            updated_at,
        }
    }
}

/// The problem for a write refused by the unique `external_id` index.
pub fn external_id_taken(at: Pointer) -> ApiError {
    ApiError::conflict(
        "external_id_taken",
        "another resource of this organization has this external_id",
    )
    .with_field(Violation::new(
        at,
        "external_id_taken",
        "already used by another resource",
    ))
}

/// Maps a refused unique `external_id` to its 409; other errors pass through.
pub fn or_external_id_taken<T>(
    result: Result<T, StoreError>,
) -> Result<Result<T, ApiError>, StoreError> {
    or_taken(result, "external_id_key", || {
        external_id_taken(Pointer::root().field("external_id"))
    })
}

/// Maps a write refused by a unique index whose name ends with `index` to `problem`; other
/// errors pass through.
pub fn or_taken<T>(
    result: Result<T, StoreError>,
    index: &str,
    problem: impl FnOnce() -> ApiError,
) -> Result<Result<T, ApiError>, StoreError> {
    match result {
        Err(StoreError::UniqueViolation { constraint }) if constraint.ends_with(index) => {
            Ok(Err(problem()))
        }
        other => other.map(Ok),
    }
}

/// `current` with a JSON merge patch (RFC 7396) applied, read back as the input type, so a
/// changed resource is checked exactly like a new one.
pub fn merged<I: serde::Serialize + serde::de::DeserializeOwned>(
    current: &I,
    patch: &crate::extract::MergePatch,
) -> Result<I, ApiError> {
    // Serializing plain strings, numbers and maps cannot fail.
    let mut document = serde_json::to_value(current).unwrap_or_default();
    patch.apply_to(&mut document);
    crate::extract::from_document(document)
}

/// The `q` of a list, trimmed and folded for the `search` column; a blank or too long one
/// is a violation.
pub fn search_text(
    q: Option<String>,
    violations: &mut domain::validation::Violations,
) -> Option<String> {
    let q = q.map(|q| q.trim().to_string())?;
    if q.is_empty() || q.chars().count() > 100 {
        violations.push(Violation::new(
            Pointer::root().field("q"),
            "length",
            "q must have 1 to 100 characters besides white space",
        ));
    }
    Some(domain::text::fold(&q))
}

/// Runs a guarded deletion: 412 when `If-Match` names another version, 409 `in_use` when
/// other rows still refer to the resource.
pub fn delete_guarded(
    conn: &mut persistence::PgConnection,
    version: Result<i32, StoreError>,
    if_match: &crate::concurrency::IfMatch,
    in_use: &'static str,
    delete: impl FnOnce(&mut persistence::PgConnection) -> Result<(), StoreError>,
) -> Result<Result<(), ApiError>, StoreError> {
    if !if_match.matches(version?) {
        return Ok(Err(ApiError::precondition_failed()));
    }
    match persistence::transaction(conn, delete) {
        Err(StoreError::ForeignKeyViolation { .. }) => {
            Ok(Err(ApiError::conflict("in_use", in_use)))
        }
        other => other.map(Ok),
    }
}
