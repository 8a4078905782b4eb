//! The organization's CSDs (certificados de sello digital). Every function for a tenant takes
//! the organization and filters by it, in addition to row-level security (the second wall).
//! The private key arrives here already encrypted: this crate never sees it in the clear.

use std::fmt;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{PageQuery, Rows};
use crate::schema::{certificates, organizations};

#[derive(Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = certificates)]
pub struct StoredCertificate {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// NoCertificado: 20 digits.
    pub number: String,
    pub rfc: String,
    pub legal_name: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    /// The `.cer` as uploaded.
    pub certificate_der: Vec<u8>,
    /// Nonce, then ciphertext and tag, of the key's PKCS#8 DER.
    pub private_key_ciphertext: Vec<u8>,
    /// The encryption key that sealed `private_key_ciphertext`.
    pub encryption_key_id: String,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Names the certificate, never its bytes.
impl fmt::Debug for StoredCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredCertificate")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("number", &self.number)
            .field("rfc", &self.rfc)
            .field("active", &self.active)
            .field("encryption_key_id", &self.encryption_key_id)
            .finish_non_exhaustive()
    }
}

/// A private key sealed with an encryption key other than the current one, to re-encrypt.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = certificates)]
pub struct SealedKey {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub private_key_ciphertext: Vec<u8>,
    pub encryption_key_id: String,
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedKey")
            .field("id", &self.id)
            .field("encryption_key_id", &self.encryption_key_id)
            .finish_non_exhaustive()
    }
}

pub fn insert(
    conn: &mut PgConnection,
    certificate: &StoredCertificate,
) -> Result<StoredCertificate, StoreError> {
    Ok(diesel::insert_into(certificates::table)
        .values(certificate)
        .returning(StoredCertificate::as_returning())
        .get_result(conn)?)
}

pub fn find(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<StoredCertificate, StoreError> {
    Ok(certificates::table
        .filter(certificates::organization_id.eq(org_id))
        .filter(certificates::id.eq(id))
        .select(StoredCertificate::as_select())
        .first(conn)?)
}

/// The certificate, locked until the transaction ends.
pub fn lock(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<StoredCertificate, StoreError> {
    Ok(certificates::table
        .filter(certificates::organization_id.eq(org_id))
        .filter(certificates::id.eq(id))
        .select(StoredCertificate::as_select())
        .for_update()
        .first(conn)?)
}

/// The organization's active certificate, if it has one.
pub fn find_active(
    conn: &mut PgConnection,
    org_id: Uuid,
) -> Result<Option<StoredCertificate>, StoreError> {
    Ok(certificates::table
        .filter(certificates::organization_id.eq(org_id))
        .filter(certificates::active.eq(true))
        .select(StoredCertificate::as_select())
        .first(conn)
        .optional()?)
}

/// Makes changes of the organization's active certificate run one after another until the
/// transaction ends: two uploads at once would otherwise each deactivate what they see and
/// both insert an active one. Locks the organization's row `FOR NO KEY UPDATE`, which does
/// not hold back inserts elsewhere that refer to the organization.
pub fn serialize_activation(conn: &mut PgConnection, org_id: Uuid) -> Result<(), StoreError> {
    organizations::table
        .find(org_id)
        .select(organizations::id)
        .for_no_key_update()
        .first::<Uuid>(conn)?;
    Ok(())
}

/// Deactivates the organization's active certificate, if any; returns how many changed.
pub fn deactivate_all(conn: &mut PgConnection, org_id: Uuid) -> Result<usize, StoreError> {
    Ok(diesel::update(
        certificates::table
            .filter(certificates::organization_id.eq(org_id))
            .filter(certificates::active.eq(true)),
    )
    .set((
        certificates::active.eq(false),
        certificates::version.eq(certificates::version + 1),
        certificates::updated_at.eq(Utc::now()),
    ))
    .execute(conn)?)
}

/// Marks the certificate active (after [`deactivate_all`]), bumping its version.
pub fn activate(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<StoredCertificate, StoreError> {
    Ok(diesel::update(
        certificates::table
            .filter(certificates::organization_id.eq(org_id))
            .filter(certificates::id.eq(id)),
    )
    .set((
        certificates::active.eq(true),
        certificates::version.eq(certificates::version + 1),
        certificates::updated_at.eq(Utc::now()),
    ))
    .returning(StoredCertificate::as_returning())
    .get_result(conn)?)
}

pub fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        certificates::table
            .filter(certificates::organization_id.eq(org_id))
            .filter(certificates::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// One page of the organization's certificates by creation time.
pub fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageQuery<DateTime<Utc>>,
) -> Result<Rows<StoredCertificate>, StoreError> {
    let query = certificates::table
        .filter(certificates::organization_id.eq(org_id))
        .select(StoredCertificate::as_select())
        .into_boxed();
    let rows =
        crate::keyset_page!(query, certificates::created_at, certificates::id, page).load(conn)?;
    Ok(Rows::from_overfetch(rows, page.limit))
}

/// Up to `limit` keys of any organization sealed with another encryption key than
/// `current_key_id`, after `after` in id order. Maintenance, not tenant work: it runs as the
/// tables' owner.
pub fn sealed_with_other_keys(
    conn: &mut PgConnection,
    current_key_id: &str,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SealedKey>, StoreError> {
    let mut query = certificates::table
        .filter(certificates::encryption_key_id.ne(current_key_id))
        .select(SealedKey::as_select())
        .order(certificates::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(certificates::id.gt(after));
    }
    Ok(query.load(conn)?)
}

/// Replaces a key's ciphertext (re-encrypted under another encryption key), provided it is
/// still the one that was read; returns whether it was replaced. The certificate's version
/// stays: what the API shows of it has not changed.
pub fn replace_sealed_key(
    conn: &mut PgConnection,
    read: &SealedKey,
    ciphertext: &[u8],
    key_id: &str,
) -> Result<bool, StoreError> {
    let changed = diesel::update(
        certificates::table
            .filter(certificates::organization_id.eq(read.organization_id))
            .filter(certificates::id.eq(read.id))
            .filter(certificates::private_key_ciphertext.eq(&read.private_key_ciphertext)),
    )
    .set((
        certificates::private_key_ciphertext.eq(ciphertext),
        certificates::encryption_key_id.eq(key_id),
    ))
    .execute(conn)?;
    Ok(changed == 1)
}
