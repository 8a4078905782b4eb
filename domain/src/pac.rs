//! The boundary to a PAC (proveedor autorizado de certificación): what the invoice lifecycle
//! hands over to have a sealed CFDI stamped, and what it gets back.
//!
//! # Implementing a real PAC connector
//! A connector implements [`Pac`]; everything else (folios, sealing, storage, retries) stays
//! in the invoice lifecycle. Its contract:
//! - [`Pac::stamp`] receives the sealed CFDI exactly as it will be stored
//!   ([`SealedCfdi::xml`], UTF-8, no BOM) and returns the stamped XML as the PAC sent it plus
//!   the timbre read from it. The stored document is the returned XML byte for byte, so a
//!   connector must not re-serialize what its PAC answered.
//! - A call may be repeated with the same sealed CFDI after a timeout or a crash. PACs answer
//!   a CFDI they already stamped with its existing timbre (SAT's error 307 "previamente
//!   timbrado" carries it); a connector returns that timbre as a success, so a retry never
//!   yields a second UUID for one folio.
//! - Errors say whether retrying can help: [`PacError::Unavailable`] (network, timeouts, the
//!   PAC or SAT down: the invoice stays `stamp_failed` and can be retried with its folio) or
//!   [`PacError::Rejected`] (the PAC refused the document with a SAT code: retrying the same
//!   bytes fails again).
//! - [`Pac::cancel`] asks SAT to cancel a stamped CFDI and says whether SAT accepted it at once
//!   or the receiver must accept it first (SAT's acceptance flow).
//!
//! Calls are synchronous: the service runs them on its blocking thread pool, outside any
//! database transaction.

use chrono::NaiveDateTime;
use uuid::Uuid;

use crate::stamp::{SandboxPac, Timbre};

/// A sealed CFDI ready for stamping.
#[derive(Debug, Clone, Copy)]
pub struct SealedCfdi<'a> {
    /// The whole `cfdi:Comprobante` with `Sello`, `NoCertificado` and `Certificado`, and no
    /// TimbreFiscalDigital yet.
    pub xml: &'a str,
    /// Its `Sello`, which the timbre repeats as `SelloCFD`.
    pub sello: &'a str,
    /// The issuer's RFC, which PAC accounts are tied to.
    pub issuer_rfc: &'a str,
}

/// What a PAC answered to a stamp request.
#[derive(Debug, Clone)]
pub struct Stamped {
    /// The stamped CFDI as the PAC returned it: the sealed XML with the timbre in
    /// `cfdi:Complemento`.
    pub xml: String,
    pub timbre: Timbre,
}

/// Why a PAC did not stamp or cancel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacError {
    /// The PAC could not be reached or did not answer in time; the same request may succeed
    /// later.
    #[error("the PAC is unavailable: {0}")]
    Unavailable(String),
    /// The PAC refused the document; `code` is SAT's or the PAC's error code.
    #[error("the PAC rejected the document ({code}): {message}")]
    Rejected { code: String, message: String },
}

impl PacError {
    /// Whether repeating the same request can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, PacError::Unavailable(_))
    }
}

/// SAT's answer to a cancellation request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancellationAnswer {
    /// Cancelled (no acceptance needed, or the receiver accepted).
    Accepted,
    /// The receiver has 72 hours to accept or reject it.
    Pending,
    /// The receiver rejected the cancellation: the CFDI stays valid.
    Rejected,
}

/// A cancellation request: SAT's motivo (c_MotivoCancelacion) and, with motivo `01`, the UUID
/// of the CFDI that replaces the cancelled one (FolioSustitucion).
#[derive(Debug, Clone, Copy)]
pub struct Cancellation<'a> {
    pub issuer_rfc: &'a str,
    pub uuid: Uuid,
    pub reason: &'a str,
    pub replacement: Option<Uuid>,
}

/// A PAC: stamps sealed CFDIs and cancels stamped ones (see the module documentation).
pub trait Pac: Send + Sync + std::fmt::Debug {
    /// A short name stored with each stamp (`sandbox`, the connector's name).
    fn name(&self) -> &str;

    /// Stamps `cfdi`: `uuid` and `now` (Mexico's Zona Centro local time) are the folio fiscal
    /// and FechaTimbrado a PAC that lets the caller choose them uses; real PACs choose their own.
    fn stamp(
        &self,
        cfdi: &SealedCfdi<'_>,
        uuid: Uuid,
        now: NaiveDateTime,
    ) -> Result<Stamped, PacError>;

    /// Asks SAT to cancel a stamped CFDI.
    fn cancel(&self, request: &Cancellation<'_>) -> Result<CancellationAnswer, PacError>;
}

/// The stamped XML: `sealed_xml` with `timbre` added in `cfdi:Complemento`, which the schema
/// puts after every other child of `cfdi:Comprobante` (only Addenda may follow, and the service
/// writes none). An existing Complemento gets the timbre as its last child.
pub fn add_timbre(sealed_xml: &str, timbre: &Timbre) -> Result<String, PacError> {
    let malformed = || PacError::Rejected {
        code: "malformed".to_string(),
        message: "the sealed CFDI does not end with </cfdi:Comprobante>".to_string(),
    };
    let element = timbre.to_xml_element();
    let trimmed = sealed_xml.trim_end();
    if let Some(head) = trimmed.strip_suffix("</cfdi:Complemento></cfdi:Comprobante>") {
        return Ok(format!(
            "{head}{element}</cfdi:Complemento></cfdi:Comprobante>"
        ));
    }
    let head = trimmed
        .strip_suffix("</cfdi:Comprobante>")
        .ok_or_else(malformed)?;
    Ok(format!(
        "{head}<cfdi:Complemento>{element}</cfdi:Complemento></cfdi:Comprobante>"
    ))
}

impl Pac for SandboxPac {
    fn name(&self) -> &str {
        "sandbox"
    }

    fn stamp(
        &self,
        cfdi: &SealedCfdi<'_>,
        uuid: Uuid,
        now: NaiveDateTime,
    ) -> Result<Stamped, PacError> {
        let timbre = SandboxPac::stamp(self, uuid, now, cfdi.sello, None).map_err(|e| {
            PacError::Rejected {
                code: "sello".to_string(),
                message: e.to_string(),
            }
        })?;
        let xml = add_timbre(cfdi.xml, &timbre)?;
        Ok(Stamped { xml, timbre })
    }

    /// The sandbox has no receivers to ask: every cancellation is accepted at once.
    fn cancel(&self, _request: &Cancellation<'_>) -> Result<CancellationAnswer, PacError> {
        Ok(CancellationAnswer::Accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timbre(pac: &SandboxPac) -> Timbre {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .unwrap_or_default();
        SandboxPac::stamp(pac, Uuid::nil(), at, "c2VsbG8=", None).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_timbre_goes_last_in_the_complemento() {
        let pac = SandboxPac::new().unwrap_or_else(|e| panic!("{e}"));
        let t = timbre(&pac);
        let plain = add_timbre(
            "<cfdi:Comprobante><cfdi:Conceptos/></cfdi:Comprobante>\n",
            &t,
        )
        .unwrap_or_default();
        assert!(plain.starts_with("<cfdi:Comprobante><cfdi:Conceptos/><cfdi:Complemento><tfd:"));
        assert!(plain.ends_with("/></cfdi:Complemento></cfdi:Comprobante>"));
        let with_other = add_timbre(
            "<cfdi:Comprobante><cfdi:Complemento><x/></cfdi:Complemento></cfdi:Comprobante>",
            &t,
        )
        .unwrap_or_default();
        assert!(with_other.starts_with("<cfdi:Comprobante><cfdi:Complemento><x/><tfd:"));
        assert_eq!(with_other.matches("<cfdi:Complemento>").count(), 1);
        assert!(matches!(
            add_timbre("<cfdi:Comprobante/>", &t),
            Err(PacError::Rejected { .. })
        ));
    }

    #[test]
    fn sandbox_stamps_with_a_seal_that_verifies() {
        let pac = SandboxPac::new().unwrap_or_else(|e| panic!("{e}"));
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 4)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .unwrap_or_default();
        let sealed = SealedCfdi {
            xml: "<cfdi:Comprobante Sello=\"c2VsbG8=\"></cfdi:Comprobante>",
            sello: "c2VsbG8=",
            issuer_rfc: "EKU9003173C9",
        };
        let id = Uuid::now_v7();
        let stamped = Pac::stamp(&pac, &sealed, id, at).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stamped.timbre.uuid(), id);
        assert!(stamped.timbre.verify_sello_sat(pac.certificate()));
        assert!(stamped.xml.contains(&id.to_string().to_uppercase()));
        assert_eq!(pac.name(), "sandbox");
    }
}
