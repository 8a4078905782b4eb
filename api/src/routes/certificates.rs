//! The organization's CSDs (certificados de sello digital): SAT's certificate and private key
//! that seal its CFDIs.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | list, get | yes | yes | yes | yes |
//! | upload, activate, delete | yes | yes | 403 | 403 |
//!
//! API clients act with their role. An upload is checked as a whole by
//! [`Csd::from_upload`] (the key opens with the password and is the certificate's, the
//! certificate is a CSD, not a FIEL, of the organization's RFC, and in force; the sandbox PAC
//! waives the expiry of SAT's own test CSDs) and becomes the active certificate, the one that
//! seals new CFDIs. The password is used once and not kept: what is stored is the opened key
//! as PKCS#8 DER, encrypted by the [`Vault`] and bound to its organization and row, so the
//! service can seal without it. No answer ever carries the key or the password.
//!
//! [`active_csd`] is what issuing an invoice calls.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, post, web};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use domain::csd::{self, Certificate, Csd, PrivateKey};
use domain::identity::Role;
use domain::rfc::Rfc;
use domain::validation::{Pointer, Violation, Violations};
use persistence::StoreError;
use persistence::certificates::{self as store, SealedKey, StoredCertificate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;
use zeroize::{Zeroize as _, Zeroizing};

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::Json;
use crate::middleware::idempotency::IdempotencyKey;
use crate::pagination::{CreatedAtListQuery, ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::routes::resource::delete_guarded;
use crate::state::AppState;
use crate::vault::Vault;

/// Longest base64 accepted for `certificate` and for `private_key`. SAT's files are about
/// 1.5 KB (2 KB as base64); this leaves room for 4096-bit keys and long subjects.
pub const MAX_FILE_BASE64: usize = 16 * 1024;
/// Longest password accepted, in characters.
pub const MAX_PASSWORD: usize = 256;

/// Base64 with SAT's alphabet, padded or not (both are common in clients).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A CSD as SAT hands it to the taxpayer: the `.cer`, the `.key` and the key's password.
#[derive(Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CertificateUpload {
    /// The `.cer` file, base64 (it is X.509 DER). CFDIs sealed with it carry it as
    /// `Certificado` and its serial as `NoCertificado`.
    #[schema(
        min_length = 1,
        max_length = 16384,
        pattern = "^[A-Za-z0-9+/]+={0,2}$",
        example = "MIIFuzCCA6OgAwIBAgIUMzAwMDEwMDAwMDA0MDAwMDI0MzQwDQYJKoZIhvcNAQELBQAw"
    )]
    pub certificate: String,
    /// The `.key` file issued with it, base64 (it is PKCS#8 DER, encrypted with the password).
    #[schema(
        min_length = 1,
        max_length = 16384,
        pattern = "^[A-Za-z0-9+/]+={0,2}$",
        example = "MIIFDjBABgkqhkiG9w0BBQ0wMzAbBgkqhkiG9w0BBQwwDgQI"
    )]
    pub private_key: String,
    /// The password of the `.key` ("contraseña de la clave privada"). It opens the key once
    /// and is not stored.
    #[schema(min_length = 1, max_length = 256, format = Password, example = "12345678a")]
    pub password: String,
}

/// Wipes the secrets of the request once it has been handled.
impl Drop for CertificateUpload {
    fn drop(&mut self) {
        self.private_key.zeroize();
        self.password.zeroize();
    }
}

/// Names no secret.
impl std::fmt::Debug for CertificateUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateUpload").finish_non_exhaustive()
    }
}

/// The decoded `.cer` and `.key`.
struct Files {
    certificate: Vec<u8>,
    private_key: Zeroizing<Vec<u8>>,
}

impl CertificateUpload {
    /// Decodes both files and checks every field's form, reporting all problems at once.
    fn decode(&self) -> Result<Files, ApiError> {
        let mut violations = Violations::new();
        let mut file = |name: &str, text: &str| -> Option<Zeroizing<Vec<u8>>> {
            let at = Pointer::root().field(name);
            if text.is_empty() || text.len() > MAX_FILE_BASE64 {
                violations.push(Violation::new(
                    at,
                    "length",
                    format!("{name} is the base64 of the file, 1 to {MAX_FILE_BASE64} characters"),
                ));
                return None;
            }
            match BASE64.decode(text) {
                Ok(bytes) => Some(Zeroizing::new(bytes)),
                Err(_) => {
                    violations.push(Violation::new(
                        at,
                        "invalid_base64",
                        format!("{name} is not base64 (standard alphabet, no line breaks)"),
                    ));
                    None
                }
            }
        };
        let certificate = file("certificate", &self.certificate);
        let private_key = file("private_key", &self.private_key);
        let password_chars = self.password.chars().count();
        if password_chars == 0 || password_chars > MAX_PASSWORD {
            violations.push(Violation::new(
                Pointer::root().field("password"),
                "length",
                format!("password has 1 to {MAX_PASSWORD} characters"),
            ));
        }
        match (certificate, private_key) {
            (Some(certificate), Some(private_key)) if violations.is_empty() => Ok(Files {
                certificate: certificate.to_vec(),
                private_key,
            }),
            _ => Err(ApiError::validation(violations)),
        }
    }
}

/// A CSD of the organization: what SAT's certificate says, never the key.
#[derive(Debug, Serialize, ToSchema)]
pub struct CertificateView {
    pub id: Uuid,
    /// `NoCertificado` of the CFDIs sealed with it: the certificate's serial, 20 digits.
    #[schema(example = "30001000000400002434", pattern = "^[0-9]{20}$")]
    pub number: String,
    /// The holder's RFC, as the certificate states it (the organization's).
    #[schema(example = "EKU9003173C9")]
    pub rfc: String,
    /// The holder's name, as the certificate states it.
    #[schema(example = "ESCUELA KEMPER URGATE SA DE CV")]
    pub legal_name: String,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// End of validity: CFDIs cannot be sealed with it after this instant (the sandbox PAC
    /// excepted, for SAT's test CSDs).
    pub valid_to: DateTime<Utc>,
    /// Whether this is the certificate that seals the organization's new CFDIs. At most one
    /// is; with none, invoices cannot be issued.
    pub active: bool,
    /// Increases with every change; the `ETag` is this number in quotes.
    #[schema(example = 1)]
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&StoredCertificate> for CertificateView {
    fn from(c: &StoredCertificate) -> Self {
        Self {
            id: c.id,
            number: c.number.clone(),
            rfc: c.rfc.clone(),
            legal_name: c.legal_name.clone(),
            valid_from: c.valid_from,
            valid_to: c.valid_to,
            active: c.active,
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn certificate_response(status: StatusCode, certificate: &StoredCertificate) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(certificate.version)))
        .insert_header((
            "Location",
            format!("/v1/organization/certificates/{}", certificate.id),
        ))
        .json(CertificateView::from(certificate))
}

/// What the private key's ciphertext is bound to: its organization and row. A ciphertext
/// copied into another row or organization does not open there.
fn associated_data(organization_id: Uuid, certificate_id: Uuid) -> Vec<u8> {
    let mut data = b"facturacion/certificates/private_key/v1\0".to_vec();
    data.extend_from_slice(organization_id.as_bytes());
    data.extend_from_slice(certificate_id.as_bytes());
    data
}

fn unreadable(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unreadable(what.to_string())
}

/// The row for a checked upload, with its key encrypted.
fn sealed_row(vault: &Vault, org: Uuid, csd: &Csd) -> Result<StoredCertificate, StoreError> {
    let id = Uuid::now_v7();
    let pkcs8 = csd
        .key()
        .to_pkcs8_der()
        .map_err(|e| unreadable(format!("cannot encode the private key: {e}")))?;
    let sealed = vault
        .encrypt(pkcs8.as_bytes(), &associated_data(org, id))
        .map_err(unreadable)?;
    let certificate = csd.certificate();
    let now = Utc::now();
    Ok(StoredCertificate {
        id,
        organization_id: org,
        number: certificate.number().as_str().to_string(),
        rfc: certificate.rfc().as_str().to_string(),
        legal_name: certificate.legal_name().to_string(),
        valid_from: certificate.valid_from(),
        valid_to: certificate.valid_to(),
        certificate_der: certificate.der().to_vec(),
        private_key_ciphertext: sealed.bytes,
        encryption_key_id: sealed.key_id,
        active: true,
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// The organization's RFC, which every certificate must carry.
fn organization_rfc(conn: &mut persistence::PgConnection, org: Uuid) -> Result<Rfc, StoreError> {
    let organization = persistence::identity::find_organization(conn, org)?;
    Rfc::parse(&organization.rfc)
        .map_err(|_| unreadable(format!("organization {org} has an invalid RFC")))
}

/// The organization's active CSD, decrypted, ready to seal; None when it has none.
///
/// Call it inside the organization's tenant transaction (`state.tenant_db(org, …)`), with
/// `&state.vault`. Only the pairing of certificate and key is checked again; whether the
/// certificate is in force at the instant of issuing is the caller's to check
/// ([`domain::csd::check_certificate`] with `state.config.csd_mode()`). A stored key that no
/// configured encryption key opens is [`StoreError::Unreadable`] (a 500, logged).
pub fn active_csd(
    conn: &mut persistence::PgConnection,
    vault: &crate::vault::Vault,
    org: uuid::Uuid,
) -> Result<Option<domain::csd::Csd>, persistence::StoreError> {
    let Some(stored) = store::find_active(conn, org)? else {
        return Ok(None);
    };
    open(vault, &stored).map(Some)
}

/// Rebuilds the CSD of a stored certificate.
fn open(vault: &Vault, stored: &StoredCertificate) -> Result<Csd, StoreError> {
    let context = |e: &dyn std::fmt::Display| {
        unreadable(format!(
            "certificate {} of organization {}: {e}",
            stored.id, stored.organization_id
        ))
    };
    let certificate = Certificate::from_der(&stored.certificate_der).map_err(|e| context(&e))?;
    let pkcs8 = vault
        .decrypt(
            &stored.encryption_key_id,
            &stored.private_key_ciphertext,
            &associated_data(stored.organization_id, stored.id),
        )
        .map_err(|e| context(&e))?;
    let key = PrivateKey::from_pkcs8_der(&pkcs8).map_err(|e| context(&e))?;
    Csd::from_parts(certificate, key).map_err(|e| context(&e))
}

/// What [`reencrypt_stored`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reencryption {
    /// Keys now sealed with the current encryption key.
    pub reencrypted: usize,
    /// Keys that no configured encryption key opens (each one logged).
    pub unreadable: usize,
}

/// Re-encrypts with the current encryption key every stored private key that an older one
/// sealed (key rotation: run at start-up, with the older keys in
/// `CSD_PREVIOUS_ENCRYPTION_KEYS`). Runs as the tables' owner, across organizations, one row
/// at a time; a row changed meanwhile is left for the next start.
pub fn reencrypt_stored(
    conn: &mut persistence::PgConnection,
    vault: &Vault,
) -> Result<Reencryption, StoreError> {
    let mut done = Reencryption::default();
    let mut after = None;
    loop {
        let batch = store::sealed_with_other_keys(conn, vault.current_key_id(), after, 100)?;
        let Some(last) = batch.last() else {
            return Ok(done);
        };
        after = Some(last.id);
        for sealed in &batch {
            match reencrypt(vault, sealed) {
                Ok(resealed) => {
                    if store::replace_sealed_key(conn, sealed, &resealed.bytes, &resealed.key_id)? {
                        done.reencrypted += 1;
                    }
                }
                Err(e) => {
                    log::error!(
                        "the private key of certificate {} (organization {}) cannot be re-encrypted: {e}",
                        sealed.id,
                        sealed.organization_id
                    );
                    done.unreadable += 1;
                }
            }
        }
    }
}

fn reencrypt(
    vault: &Vault,
    sealed: &SealedKey,
) -> Result<crate::vault::Sealed, crate::vault::VaultError> {
    let data = associated_data(sealed.organization_id, sealed.id);
    let plaintext = vault.decrypt(
        &sealed.encryption_key_id,
        &sealed.private_key_ciphertext,
        &data,
    )?;
    vault.encrypt(&plaintext, &data)
}

/// The 409 of a certificate the organization already has.
fn certificate_exists(number: &str) -> ApiError {
    ApiError::conflict(
        "certificate_exists",
        format!(
            "the organization already has certificate {number}; activate it instead of uploading it again"
        ),
    )
    .with_field(Violation::new(
        Pointer::root().field("certificate"),
        "certificate_exists",
        "this certificate was uploaded before",
    ))
}

/// Upload a CSD (certificado de sello digital).
///
/// Owners and admins. Send SAT's `.cer` and `.key` as base64 with the key's password. The
/// upload is checked as a whole and every problem is reported at once, each at its field:
/// the password must open the key (`wrong_password`), the key must be the certificate's
/// (`key_certificate_mismatch`), and the certificate must be a CSD (`certificate_is_fiel`,
/// `certificate_not_csd`) of the organization's RFC (`certificate_rfc_mismatch`) in force now
/// (`certificate_expired`, `certificate_not_yet_valid`; the sandbox PAC accepts SAT's expired
/// test CSDs). Unreadable files are `certificate_unreadable` / `private_key_unreadable`.
///
/// The new certificate becomes the active one, which seals new CFDIs; the one active before
/// stays, inactive. The password is not stored, and neither the key nor the password is ever
/// answered. Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "createCertificate",
    tag = "certificates",
    security(("bearer_jwt" = [])),
    params(IdempotencyKey),
    request_body(content = CertificateUpload, example = json!({
        "certificate": "MIIFuzCCA6OgAwIBAgIUMzAwMDEwMDAwMDA0MDAwMDI0MzQwDQYJKoZIhvcNAQELBQAw",
        "private_key": "MIIFDjBABgkqhkiG9w0BBQ0wMzAbBgkqhkiG9w0BBQwwDgQI",
        "password": "12345678a"
    })),
    responses(
        (status = 201, description = "Uploaded and active; `ETag` and `Location` name it", body = CertificateView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins upload certificates", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`certificate_exists` (this certificate was uploaded before), or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code (`invalid_base64`, `wrong_password`, `key_certificate_mismatch`, `certificate_rfc_mismatch`, `certificate_is_fiel`, `certificate_expired` …)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/organization/certificates")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Json(upload): Json<CertificateUpload>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let files = upload.decode()?;
    let org = caller.organization_id;
    let vault = state.vault.clone();
    let mode = state.config.csd_mode();
    let certificate = state
        .tenant_db(org, move |conn| {
            let rfc = organization_rfc(conn, org)?;
            let csd = match Csd::from_upload(
                &files.certificate,
                &files.private_key,
                &upload.password,
                &rfc,
                Utc::now(),
                mode,
            ) {
                Ok(csd) => csd,
                Err(violations) => return Ok(Err(ApiError::validation(violations))),
            };
            let row = sealed_row(&vault, org, &csd)?;
            let inserted = persistence::transaction(conn, |conn| {
                store::serialize_activation(conn, org)?;
                store::deactivate_all(conn, org)?;
                store::insert(conn, &row)
            });
            match inserted {
                Err(StoreError::UniqueViolation { constraint })
                    if constraint == "certificates_number_key" =>
                {
                    Ok(Err(certificate_exists(&row.number)))
                }
                other => other.map(Ok),
            }
        })
        .await??;
    Ok(certificate_response(StatusCode::CREATED, &certificate))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CertificateSort {
    CreatedAt,
}

impl SortKey for CertificateSort {
    const FIELDS: &'static [(&'static str, Self)] = &[("created_at", CertificateSort::CreatedAt)];
    const DEFAULT: &'static str = "-created_at";
}

/// List the organization's CSDs.
///
/// Every role. Newest first by default; `active` tells which one seals new CFDIs.
#[utoipa::path(
    operation_id = "listCertificates",
    tag = "certificates",
    security(("bearer_jwt" = [])),
    params(CreatedAtListQuery),
    responses(
        (status = 200, description = "A page of certificates", body = Page<CertificateView>),
        (status = 400, description = "Invalid query parameters, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/organization/certificates")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<CreatedAtListQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = ListParams::from(query.into_inner()).parse::<CertificateSort>()?;
    let page_query = request.query()?;
    let org = caller.organization_id;
    let rows = state
        .tenant_db(org, move |conn| store::list(conn, org, &page_query))
        .await?;
    let page = request.page(
        rows.rows.iter().map(CertificateView::from).collect(),
        rows.has_more,
        |c: &CertificateView| (c.created_at, c.id),
    );
    Ok(HttpResponse::Ok().json(page))
}

/// Get a CSD of the organization.
///
/// Every role. `ETag` carries its version for `If-Match`.
#[utoipa::path(
    operation_id = "getCertificate",
    tag = "certificates",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The certificate's id")),
    responses(
        (status = 200, description = "The certificate", body = CertificateView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/organization/certificates/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let certificate = state
        .tenant_db(org, move |conn| store::find(conn, org, id))
        .await?;
    Ok(certificate_response(StatusCode::OK, &certificate))
}

/// Make a CSD the active one.
///
/// Owners and admins. The certificate becomes the one that seals new CFDIs, and the one
/// active before becomes inactive. It must still be in force (`certificate_expired`,
/// `certificate_not_yet_valid`; the sandbox PAC accepts SAT's expired test CSDs) and carry
/// the organization's RFC. Activating the active certificate changes nothing. Honours
/// `Idempotency-Key`.
#[utoipa::path(
    operation_id = "activateCertificate",
    tag = "certificates",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The certificate's id"),
        IdempotencyKey,
    ),
    responses(
        (status = 200, description = "The certificate, now active", body = CertificateView),
        (status = 400, description = "Malformed Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins activate certificates", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The certificate cannot seal now: `certificate_expired`, `certificate_not_yet_valid` or `certificate_rfc_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/organization/certificates/{id}/activate")]
pub async fn activate(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let mode = state.config.csd_mode();
    let certificate = state
        .tenant_db(org, move |conn| {
            store::serialize_activation(conn, org)?;
            let current = store::lock(conn, org, id)?;
            if current.active {
                return Ok(Ok(current));
            }
            let rfc = organization_rfc(conn, org)?;
            let certificate = Certificate::from_der(&current.certificate_der)
                .map_err(|e| unreadable(format!("certificate {id}: {e}")))?;
            if let Err(found) = csd::check_certificate(&certificate, &rfc, Utc::now(), mode)
                && let Some(first) = found.iter().next()
            {
                return Ok(Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    first.code.clone(),
                    first.message.clone(),
                )));
            }
            store::deactivate_all(conn, org)?;
            store::activate(conn, org, id).map(Ok)
        })
        .await??;
    Ok(certificate_response(StatusCode::OK, &certificate))
}

/// Delete a CSD.
///
/// Owners and admins. Invoices already sealed with it keep their seal and certificate. If it
/// was the active certificate, none is active afterwards and invoices cannot be issued until
/// another is uploaded or activated. Send `If-Match` with the `ETag` you read to be sure of
/// what you delete.
#[utoipa::path(
    operation_id = "deleteCertificate",
    tag = "certificates",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The certificate's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted, with its key"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins delete certificates", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such certificate in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Other records refer to the certificate (`in_use`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The certificate changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/organization/certificates/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    state
        .tenant_db(org, move |conn| {
            let version = store::lock(conn, org, id).map(|c| c.version);
            delete_guarded(
                conn,
                version,
                &if_match,
                "other records refer to this certificate",
                |conn| store::delete(conn, org, id),
            )
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}
