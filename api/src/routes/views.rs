//! Response bodies shared by several resources.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// An organization: the business that issues invoices (CFDI Emisor).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    /// Legal name as registered with SAT (CFDI `Emisor/@Nombre`).
    #[schema(example = "ESCUELA KEMPER URGATE")]
    pub legal_name: String,
    /// RFC (CFDI `Emisor/@Rfc`).
    #[schema(example = "EKU9003173C9")]
    pub rfc: String,
    /// c_RegimenFiscal key (CFDI `Emisor/@RegimenFiscal`).
    #[schema(example = "601")]
    pub tax_regime: String,
    /// c_CodigoPostal key of the place of issue (CFDI `@LugarExpedicion`).
    #[schema(example = "42501")]
    pub postal_code: String,
    /// Incremented by every change; sent as the `ETag`.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<persistence::identity::Organization> for OrganizationView {
    fn from(o: persistence::identity::Organization) -> Self {
        Self {
            id: o.id,
            legal_name: o.legal_name,
            rfc: o.rfc,
            tax_regime: o.tax_regime,
            postal_code: o.postal_code,
            version: o.version,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A user of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub organization_id: Uuid,
    #[schema(example = "Ana López")]
    pub name: String,
    #[schema(example = "ana@example.com")]
    pub email: String,
    /// `owner`, `admin`, `accountant` or `viewer`.
    #[schema(example = "owner")]
    pub role: String,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<persistence::identity::User> for UserView {
    fn from(u: persistence::identity::User) -> Self {
        Self {
            id: u.id,
            organization_id: u.organization_id,
            name: u.name,
            email: u.email,
            role: u.role,
            version: u.version,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}
