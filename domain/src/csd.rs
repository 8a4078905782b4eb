//! The CSD (Certificado de Sello Digital): SAT's certificate and encrypted private key that an
//! issuer uploads, the checks that make an upload usable for sealing CFDIs, and the seal itself.
//!
//! Reading: [`Certificate::from_der`] parses SAT's `.cer` (X.509 DER) into what a CFDI needs
//! (`NoCertificado`, `Certificado`, the RFC) and what the checks need (validity, CSD or FIEL,
//! public key). [`PrivateKey::from_encrypted_der`] opens SAT's `.key` (encrypted PKCS#8 DER).
//!
//! Checking: [`Csd::from_upload`] turns the three uploaded fields (`/certificate`,
//! `/private_key`, `/password`) into a usable [`Csd`] or every [`Violation`] found, each with
//! a JSON pointer to its field and a stable code (see [`codes`]).
//!
//! Sealing: [`seal`] and [`verify`] are SAT's sello: base64 of an RSA PKCS#1 v1.5 SHA-256
//! signature over the UTF-8 cadena original.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use pkcs8::EncryptedPrivateKeyInfoRef;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use x509_cert::der::Decode as _;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::ext::pkix::name::DirectoryString;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
use x509_cert::name::Name;

use crate::rfc::Rfc;
use crate::validation::{Pointer, Violation, Violations};

/// x500UniqueIdentifier, where SAT writes `RFC` or `RFC / RFC-of-the-legal-representative`.
const OID_UNIQUE_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.45");
/// `name`, where SAT writes the legal name (razón social or the person's name).
const OID_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.41");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const OID_ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_ORGANIZATIONAL_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");

/// Common names of SAT's test certification authorities. `AC UAT` issued the test CSDs SAT
/// publishes (EKU9003173C9, CACX7605101P8); `A.C. 2 de pruebas(4096)` issued SAT's published
/// test FIEL (AAA010101AAA). SAT's production CAs are named `AC DEL SERVICIO DE
/// ADMINISTRACION TRIBUTARIA` and the like, never these.
const SAT_TEST_CA_COMMON_NAMES: [&str; 2] = ["AC UAT", "A.C. 2 de pruebas(4096)"];

/// Stable codes of the violations [`Csd::from_upload`] and [`check_pair`] report.
pub mod codes {
    /// `/certificate` is not an X.509 DER certificate with an RSA key, a digit serial and an RFC.
    pub const CERTIFICATE_UNREADABLE: &str = "certificate_unreadable";
    /// `/private_key` is not an encrypted PKCS#8 DER document.
    pub const PRIVATE_KEY_UNREADABLE: &str = "private_key_unreadable";
    /// `/password` does not open `/private_key`.
    pub const WRONG_PASSWORD: &str = "wrong_password";
    /// `/private_key` is not the key of `/certificate`.
    pub const KEY_CERTIFICATE_MISMATCH: &str = "key_certificate_mismatch";
    /// The certificate belongs to another RFC than the organization's.
    pub const CERTIFICATE_RFC_MISMATCH: &str = "certificate_rfc_mismatch";
    /// The certificate is an e.firma (FIEL), which SAT does not accept for sealing CFDIs.
    pub const CERTIFICATE_IS_FIEL: &str = "certificate_is_fiel";
    /// The certificate is neither a CSD nor a FIEL as SAT issues them.
    pub const CERTIFICATE_NOT_CSD: &str = "certificate_not_csd";
    /// The certificate's validity ended.
    pub const CERTIFICATE_EXPIRED: &str = "certificate_expired";
    /// The certificate's validity has not started.
    pub const CERTIFICATE_NOT_YET_VALID: &str = "certificate_not_yet_valid";
}

/// Why a `.cer` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error("the certificate is not DER-encoded X.509")]
    Malformed,
    #[error("the certificate's key is not an RSA key")]
    NotRsa,
    #[error("the certificate's serial number is not 20 ASCII digits, as SAT's NoCertificado is")]
    Serial,
    #[error("the certificate names no valid RFC in x500UniqueIdentifier")]
    Rfc,
}

/// Why a `.key` could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the private key is not an encrypted PKCS#8 DER document")]
    Malformed,
    #[error("the private key is encrypted with an algorithm that is not supported")]
    UnsupportedEncryption,
    #[error("the password does not open the private key")]
    WrongPassword,
    #[error("the private key is not an RSA key")]
    NotRsa,
}

/// What SAT issued a certificate for, told by the rule in [`Certificate::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateKind {
    /// Certificado de Sello Digital: seals CFDIs.
    Csd,
    /// e.firma (firma electrónica avanzada): signs the taxpayer's own filings. SAT refuses a
    /// CFDI sealed with it.
    Fiel,
    /// Neither shape: not a certificate SAT issues for taxpayers.
    Other,
}

/// The certificate number that a CFDI carries as `NoCertificado` (and a TFD as
/// `NoCertificadoSAT`): the certificate's serial, whose bytes SAT makes ASCII digits,
/// read as that text. Always 20 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertificateNumber(String);

impl CertificateNumber {
    /// The 20 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn from_serial(bytes: &[u8]) -> Result<Self, CertificateError> {
        if bytes.len() == 20 && bytes.iter().all(u8::is_ascii_digit) {
            Ok(Self(bytes.iter().map(|&b| char::from(b)).collect()))
        } else {
            Err(CertificateError::Serial)
        }
    }
}

impl fmt::Display for CertificateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SAT certificate (`.cer`), read once into what invoicing needs.
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    number: CertificateNumber,
    rfc: Rfc,
    legal_name: String,
    branch_name: Option<String>,
    issuer_common_name: Option<String>,
    valid_from: DateTime<Utc>,
    valid_to: DateTime<Utc>,
    kind: CertificateKind,
    public_key: rsa::PublicKey,
}

impl Certificate {
    /// Reads a DER X.509 certificate as SAT issues them (`.cer`).
    ///
    /// The certificate's signature is not checked against SAT's CA: this crate holds no CA
    /// certificates, and SAT checks the CSD itself against its registry when the PAC stamps.
    pub fn from_der(bytes: &[u8]) -> Result<Self, CertificateError> {
        let cert =
            x509_cert::Certificate::from_der(bytes).map_err(|_| CertificateError::Malformed)?;
        let tbs = cert.tbs_certificate();
        let number = CertificateNumber::from_serial(tbs.serial_number().as_bytes())?;

        let subject = tbs.subject();
        // SAT writes "RFC" for a CSD of its own holder and "RFC / RFC-of-the-representative"
        // (persona moral) in x500UniqueIdentifier; the holder's RFC is the first token.
        let unique_id =
            text_attribute(subject, OID_UNIQUE_IDENTIFIER).ok_or(CertificateError::Rfc)?;
        let rfc = unique_id
            .split('/')
            .next()
            .map(str::trim)
            .and_then(|token| Rfc::parse(token).ok())
            .ok_or(CertificateError::Rfc)?;
        let legal_name = text_attribute(subject, OID_NAME)
            .or_else(|| text_attribute(subject, OID_COMMON_NAME))
            .or_else(|| text_attribute(subject, OID_ORGANIZATION))
            .unwrap_or_default();
        let branch_name = text_attribute(subject, OID_ORGANIZATIONAL_UNIT)
            .map(|ou| ou.trim().to_owned())
            .filter(|ou| !ou.is_empty());
        let issuer_common_name = text_attribute(tbs.issuer(), OID_COMMON_NAME);

        let validity = tbs.validity();
        let valid_from = to_chrono(validity.not_before.to_unix_duration())?;
        let valid_to = to_chrono(validity.not_after.to_unix_duration())?;

        let spki = tbs.subject_public_key_info();
        let spki_der =
            x509_cert::der::Encode::to_der(spki).map_err(|_| CertificateError::Malformed)?;
        let public_key =
            <rsa::PublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(&spki_der)
                .map_err(|_| CertificateError::NotRsa)?;

        let key_usage = tbs
            .get_extension::<KeyUsage>()
            .map_err(|_| CertificateError::Malformed)?
            .map(|(_, usage)| usage);
        let extended_key_usage = tbs
            .get_extension::<ExtendedKeyUsage>()
            .map_err(|_| CertificateError::Malformed)?
            .map(|(_, usage)| usage);
        let kind = classify(
            key_usage.as_ref(),
            extended_key_usage.as_ref(),
            branch_name.is_some(),
        );

        Ok(Self {
            der: bytes.to_vec(),
            number,
            rfc,
            legal_name,
            branch_name,
            issuer_common_name,
            valid_from,
            valid_to,
            kind,
            public_key,
        })
    }

    /// `NoCertificado` of a CFDI sealed with this certificate.
    pub fn number(&self) -> &CertificateNumber {
        &self.number
    }

    /// The holder's RFC.
    pub fn rfc(&self) -> &Rfc {
        &self.rfc
    }

    /// The holder's legal name (razón social, or a person's full name), as SAT wrote it.
    pub fn legal_name(&self) -> &str {
        &self.legal_name
    }

    /// The OU that SAT fills on a CSD with the branch (sucursal) name the taxpayer chose.
    pub fn branch_name(&self) -> Option<&str> {
        self.branch_name.as_deref()
    }

    /// Start of validity (inclusive).
    pub fn valid_from(&self) -> DateTime<Utc> {
        self.valid_from
    }

    /// End of validity (inclusive).
    pub fn valid_to(&self) -> DateTime<Utc> {
        self.valid_to
    }

    /// CSD, FIEL or neither.
    ///
    /// The rule, from what SAT's certificates carry (checked with `openssl x509 -text` on the
    /// test CSDs in `shared/sat/test-csd/` and on SAT's published test FIEL AAA010101AAA):
    /// - the CSDs have key usage digitalSignature + nonRepudiation only, no extended key usage,
    ///   and a subject OU (the branch name, e.g. `Escuela Kemper Urgate`);
    /// - the FIEL has key usage digitalSignature, nonRepudiation, dataEncipherment,
    ///   keyAgreement, extended key usage emailProtection + clientAuth, and no OU.
    ///
    /// So any of dataEncipherment, keyAgreement, emailProtection or clientAuth makes it a
    /// FIEL; exactly digitalSignature + nonRepudiation with an OU makes it a CSD; anything else
    /// is [`CertificateKind::Other`]. (phpcfdi/credentials tells them apart by the OU alone;
    /// the key usages are the stronger signal, so both are required for a CSD.)
    pub fn kind(&self) -> CertificateKind {
        self.kind
    }

    /// Whether SAT's test CA issued this certificate (issuer CN `AC UAT` or `A.C. 2 de pruebas(4096)`): SAT's
    /// published test CSDs are. Told by the issuer's name only, which anyone can copy; it is
    /// used for nothing but letting sandbox mode accept those expired test CSDs, where a
    /// forged one gains only a sandbox stamp without fiscal value.
    pub fn is_sat_test_certificate(&self) -> bool {
        self.issuer_common_name
            .as_deref()
            .is_some_and(|cn| SAT_TEST_CA_COMMON_NAMES.contains(&cn))
    }

    /// The `Certificado` attribute of a CFDI: base64 of the DER certificate.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.der)
    }

    /// The DER certificate as uploaded.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The RSA public key that verifies this certificate's seals.
    pub fn public_key(&self) -> &rsa::PublicKey {
        &self.public_key
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("number", &self.number.as_str())
            .field("rfc", &self.rfc.as_str())
            .field("legal_name", &self.legal_name)
            .field("kind", &self.kind)
            .field("valid_from", &self.valid_from)
            .field("valid_to", &self.valid_to)
            .finish_non_exhaustive()
    }
}

/// The first attribute `oid` of `name` as text, when it is one of X.520's string types.
fn text_attribute(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    name.iter()
        .filter(|atv| atv.oid == oid)
        .find_map(|atv| DirectoryString::try_from(&atv.value).ok())
        .map(|s| s.value().into_owned())
}

fn to_chrono(since_epoch: std::time::Duration) -> Result<DateTime<Utc>, CertificateError> {
    let secs = i64::try_from(since_epoch.as_secs()).map_err(|_| CertificateError::Malformed)?;
    DateTime::from_timestamp(secs, 0).ok_or(CertificateError::Malformed)
}

fn classify(
    key_usage: Option<&KeyUsage>,
    extended_key_usage: Option<&ExtendedKeyUsage>,
    has_branch: bool,
) -> CertificateKind {
    const ID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
    const ID_KP_EMAIL_PROTECTION: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");

    let fiel_key_usage = key_usage.is_some_and(|ku| ku.data_encipherment() || ku.key_agreement());
    let fiel_extended = extended_key_usage.is_some_and(|eku| {
        eku.0
            .iter()
            .any(|oid| *oid == ID_KP_CLIENT_AUTH || *oid == ID_KP_EMAIL_PROTECTION)
    });
    if fiel_key_usage || fiel_extended {
        return CertificateKind::Fiel;
    }
    let sealing_only = key_usage.is_some_and(|ku| {
        ku.digital_signature()
            && ku.non_repudiation()
            && !ku.key_encipherment()
            && !ku.key_cert_sign()
            && !ku.crl_sign()
    });
    if sealing_only && extended_key_usage.is_none() && has_branch {
        CertificateKind::Csd
    } else {
        CertificateKind::Other
    }
}

/// An opened CSD private key (RSA).
///
/// Its `Debug` shows the modulus size only, never key material; the key is zeroized on drop
/// (`rsa` does that).
#[derive(Clone)]
pub struct PrivateKey {
    signing_key: SigningKey<Sha256>,
}

impl PrivateKey {
    /// Opens SAT's `.key`: PKCS#8 DER encrypted with the password (PBES2; SAT uses
    /// PBKDF2-HMAC-SHA1 with DES-EDE3-CBC, which the `pkcs8` features `3des` and
    /// `sha1-insecure` enable).
    pub fn from_encrypted_der(bytes: &[u8], password: &str) -> Result<Self, KeyError> {
        let encrypted =
            EncryptedPrivateKeyInfoRef::try_from(bytes).map_err(|_| KeyError::Malformed)?;
        let document = encrypted.decrypt(password).map_err(|e| match e {
            pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm {
                ..
            })
            | pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::NoPbes1CryptSupport) => {
                KeyError::UnsupportedEncryption
            }
            // A wrong password gives bad CBC padding, or (about once in 256 tries) good padding
            // over garbage that is not a PrivateKeyInfo: both mean the password is wrong.
            _ => KeyError::WrongPassword,
        })?;
        Self::from_pkcs8_der(document.as_bytes()).map_err(|e| match e {
            KeyError::Malformed => KeyError::WrongPassword,
            other => other,
        })
    }

    /// Reads an unencrypted PKCS#8 DER RSA key: the sandbox PAC's (public anyway), or a CSD
    /// key the service stored, encrypted at rest, after [`PrivateKey::to_pkcs8_der`].
    pub fn from_pkcs8_der(bytes: &[u8]) -> Result<Self, KeyError> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(bytes).map_err(|_| KeyError::Malformed)?;
        let key = rsa::PrivateKey::try_from(info).map_err(|_| KeyError::NotRsa)?;
        Ok(Self {
            signing_key: SigningKey::new(key),
        })
    }

    /// The public half, to compare with a certificate's.
    pub fn public_key(&self) -> rsa::PublicKey {
        self.signing_key.as_ref().to_public_key()
    }

    /// Modulus size in bits (2048 for SAT's CSDs).
    pub fn modulus_bits(&self) -> usize {
        self.signing_key.as_ref().size() * 8
    }

    /// The key as unencrypted PKCS#8 DER, to be stored encrypted by the service so that it
    /// can seal without the password the taxpayer typed once. The document zeroizes its
    /// bytes on drop; [`PrivateKey::from_pkcs8_der`] reads it back.
    pub fn to_pkcs8_der(&self) -> Result<pkcs8::SecretDocument, pkcs8::Error> {
        rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(self.signing_key.as_ref())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("modulus_bits", &self.modulus_bits())
            .finish_non_exhaustive()
    }
}

/// SAT's sello over `cadena`: base64 of the RSA PKCS#1 v1.5 SHA-256 signature of its UTF-8
/// bytes. Deterministic: the same key and cadena always give the same sello.
pub fn seal(key: &PrivateKey, cadena: &str) -> String {
    let signature: Signature = key.signing_key.sign(cadena.as_bytes());
    BASE64.encode(signature.to_bytes())
}

/// Whether `sello` is `cadena` sealed with the key of `certificate`.
pub fn verify(certificate: &Certificate, cadena: &str, sello: &str) -> bool {
    verify_with_key(certificate.public_key(), cadena, sello)
}

pub(crate) fn verify_with_key(public_key: &rsa::PublicKey, cadena: &str, sello: &str) -> bool {
    let Ok(bytes) = BASE64.decode(sello) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    VerifyingKey::<Sha256>::new(public_key.clone())
        .verify(cadena.as_bytes(), &signature)
        .is_ok()
}

/// Whether expired certificates are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real stamping: a certificate must be valid at the moment of the check.
    Production,
    /// Sandbox stamping: SAT's own test CSDs (issued by SAT's test CA, all expired since 2023)
    /// are accepted although expired, so the sandbox can be used with them. Any other
    /// certificate is held to the same validity as in production.
    Sandbox,
}

/// A checked CSD: certificate and key that belong together, of the organization's RFC.
#[derive(Debug, Clone)]
pub struct Csd {
    certificate: Certificate,
    key: PrivateKey,
}

/// [`Csd::from_parts`] was given a key that is not the certificate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the private key is not the key of the certificate")]
pub struct KeyMismatch;

impl Csd {
    /// Rebuilds a CSD from a certificate and key that were checked together before (by
    /// [`Csd::from_upload`]) and stored. Only the pairing is checked again: the RFC and the
    /// validity are the caller's to check at the moment of use ([`check_certificate`]).
    pub fn from_parts(certificate: Certificate, key: PrivateKey) -> Result<Self, KeyMismatch> {
        if key.public_key() == *certificate.public_key() {
            Ok(Self { certificate, key })
        } else {
            Err(KeyMismatch)
        }
    }

    /// The certificate: `NoCertificado` and `Certificado` of the CFDIs sealed with it.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The key that seals, see [`seal`].
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Reads and checks an upload: the `.cer` bytes (field `/certificate`), the `.key` bytes
    /// (`/private_key`) and the key's password (`/password`), for the organization of RFC
    /// `expected_rfc`, at instant `now`.
    ///
    /// Every problem found is reported at once. A key that cannot be opened hides the key
    /// checks, and an unreadable certificate hides the certificate checks.
    pub fn from_upload(
        certificate_der: &[u8],
        private_key_der: &[u8],
        password: &str,
        expected_rfc: &Rfc,
        now: DateTime<Utc>,
        mode: Mode,
    ) -> Result<Self, Violations> {
        let root = Pointer::root();
        let mut violations = Violations::new();

        let certificate = match Certificate::from_der(certificate_der) {
            Ok(c) => Some(c),
            Err(e) => {
                violations.push(Violation::new(
                    root.field("certificate"),
                    codes::CERTIFICATE_UNREADABLE,
                    format!("{e}; upload the .cer file SAT issued"),
                ));
                None
            }
        };
        let key = match PrivateKey::from_encrypted_der(private_key_der, password) {
            Ok(k) => Some(k),
            Err(KeyError::WrongPassword) => {
                violations.push(Violation::new(
                    root.field("password"),
                    codes::WRONG_PASSWORD,
                    "the password does not open the private key",
                ));
                None
            }
            Err(e) => {
                violations.push(Violation::new(
                    root.field("private_key"),
                    codes::PRIVATE_KEY_UNREADABLE,
                    format!("{e}; upload the .key file SAT issued with the certificate"),
                ));
                None
            }
        };

        match (certificate, key) {
            (Some(certificate), Some(key)) => {
                if let Err(found) = check_pair(&certificate, &key, expected_rfc, now, mode) {
                    found.into_iter().for_each(|v| violations.push(v));
                }
                violations.into_result(Self { certificate, key })
            }
            (Some(certificate), None) => {
                if let Err(found) = check_certificate(&certificate, expected_rfc, now, mode) {
                    found.into_iter().for_each(|v| violations.push(v));
                }
                Err(violations)
            }
            _ => Err(violations),
        }
    }
}

/// Checks that `key` is the key of `certificate`, and [`check_certificate`].
pub fn check_pair(
    certificate: &Certificate,
    key: &PrivateKey,
    expected_rfc: &Rfc,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<(), Violations> {
    let mut violations = match check_certificate(certificate, expected_rfc, now, mode) {
        Ok(()) => Violations::new(),
        Err(found) => found,
    };
    if key.public_key() != *certificate.public_key() {
        violations.push(Violation::new(
            Pointer::root().field("private_key"),
            codes::KEY_CERTIFICATE_MISMATCH,
            "the private key does not belong to the certificate; upload the .key issued with this .cer",
        ));
    }
    violations.into_result(())
}

/// Checks that `certificate` is a CSD of `expected_rfc`, valid at `now` (see [`Mode`]).
pub fn check_certificate(
    certificate: &Certificate,
    expected_rfc: &Rfc,
    now: DateTime<Utc>,
    mode: Mode,
) -> Result<(), Violations> {
    let pointer = Pointer::root().field("certificate");
    let mut violations = Violations::new();
    if certificate.rfc() != expected_rfc {
        violations.push(Violation::new(
            pointer.clone(),
            codes::CERTIFICATE_RFC_MISMATCH,
            format!(
                "the certificate belongs to RFC {}, not to the organization's RFC {expected_rfc}",
                certificate.rfc()
            ),
        ));
    }
    match certificate.kind() {
        CertificateKind::Csd => {}
        CertificateKind::Fiel => violations.push(Violation::new(
            pointer.clone(),
            codes::CERTIFICATE_IS_FIEL,
            "this is an e.firma (FIEL) certificate; CFDIs are sealed with a CSD (certificado de sello digital)",
        )),
        CertificateKind::Other => violations.push(Violation::new(
            pointer.clone(),
            codes::CERTIFICATE_NOT_CSD,
            "this is not a CSD (certificado de sello digital) as SAT issues them",
        )),
    }
    if now < certificate.valid_from() {
        violations.push(Violation::new(
            pointer.clone(),
            codes::CERTIFICATE_NOT_YET_VALID,
            format!("the certificate is valid from {}", certificate.valid_from()),
        ));
    }
    let expiry_waived = mode == Mode::Sandbox && certificate.is_sat_test_certificate();
    if now > certificate.valid_to() && !expiry_waived {
        violations.push(Violation::new(
            pointer,
            codes::CERTIFICATE_EXPIRED,
            format!("the certificate expired on {}", certificate.valid_to()),
        ));
    }
    violations.into_result(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use std::path::PathBuf;
    use std::process::Command;

    pub(crate) const TEST_PASSWORD: &str = "12345678a";

    /// SAT's public test CSDs, in `shared/` beside the repository.
    pub(crate) fn test_csd(file: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/sat/test-csd")
            .join(file);
        std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read SAT's test CSD {}: {e} (shared/ must be beside the repository)",
                path.display()
            )
        })
    }

    fn testdata(file: &str) -> Vec<u8> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(file);
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn rfc(s: &str) -> Rfc {
        Rfc::parse(s).unwrap()
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    pub(crate) fn eku_key() -> PrivateKey {
        PrivateKey::from_encrypted_der(&test_csd("eku9003173c9_csd.key"), TEST_PASSWORD).unwrap()
    }

    fn codes_at(violations: &Violations) -> Vec<(String, String)> {
        violations
            .iter()
            .map(|v| (v.pointer.clone(), v.code.clone()))
            .collect()
    }

    fn pair(pointer: &str, code: &str) -> (String, String) {
        (pointer.to_owned(), code.to_owned())
    }

    #[test]
    fn reads_the_persona_moral_test_csd() {
        let der = test_csd("eku9003173c9_csd.cer");
        let cert = Certificate::from_der(&der).unwrap();
        // openssl x509 -serial: 3330303031303030303030343030303032343334
        assert_eq!(cert.number().as_str(), "30001000000400002434");
        assert_eq!(cert.rfc().as_str(), "EKU9003173C9");
        assert_eq!(cert.legal_name(), "ESCUELA KEMPER URGATE SA DE CV");
        assert_eq!(cert.branch_name(), Some("Escuela Kemper Urgate"));
        assert_eq!(cert.kind(), CertificateKind::Csd);
        assert!(cert.is_sat_test_certificate());
        assert_eq!(
            cert.valid_from(),
            Utc.with_ymd_and_hms(2019, 6, 17, 19, 44, 14).unwrap()
        );
        assert_eq!(
            cert.valid_to(),
            Utc.with_ymd_and_hms(2023, 6, 17, 19, 44, 14).unwrap()
        );
        assert_eq!(BASE64.decode(cert.to_base64()).unwrap(), der);
        assert_eq!(cert.public_key().size() * 8, 2048);
    }

    #[test]
    fn reads_the_persona_fisica_test_csd() {
        let cert = Certificate::from_der(&test_csd("cacx7605101p8_csd.cer")).unwrap();
        assert_eq!(cert.number().as_str(), "30001000000400002451");
        assert_eq!(cert.rfc().as_str(), "CACX7605101P8");
        assert_eq!(cert.legal_name(), "XOCHILT CASAS CHAVEZ");
        assert_eq!(cert.kind(), CertificateKind::Csd);
        let debug = format!("{cert:?}");
        assert!(debug.contains("30001000000400002451"), "{debug}");
    }

    #[test]
    fn a_fiel_is_told_apart_from_a_csd() {
        let cert = Certificate::from_der(&testdata("fiel-like.cer")).unwrap();
        assert_eq!(cert.rfc().as_str(), "EKU9003173C9");
        assert_eq!(cert.branch_name(), None);
        assert_eq!(cert.kind(), CertificateKind::Fiel);
        assert!(!cert.is_sat_test_certificate());
    }

    #[test]
    fn the_sandbox_pac_certificate_is_neither_csd_nor_fiel() {
        let cert = Certificate::from_der(include_bytes!("sandbox/sandbox_pac.cer")).unwrap();
        assert_eq!(cert.kind(), CertificateKind::Other);
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert_eq!(
            Certificate::from_der(b"not a certificate").unwrap_err(),
            CertificateError::Malformed
        );
        // A valid DER document of another kind (the key) is no certificate either.
        assert!(Certificate::from_der(&test_csd("eku9003173c9_csd.key")).is_err());
    }

    #[test]
    fn opens_sat_keys_and_refuses_a_wrong_password() {
        let key = eku_key();
        assert_eq!(key.modulus_bits(), 2048);
        let cacx =
            PrivateKey::from_encrypted_der(&test_csd("cacx7605101p8_csd.key"), TEST_PASSWORD)
                .unwrap();
        assert_eq!(cacx.modulus_bits(), 2048);

        let bytes = test_csd("eku9003173c9_csd.key");
        for wrong in ["", "12345678", "12345678A", "12345678a ", "contraseña"] {
            assert_eq!(
                PrivateKey::from_encrypted_der(&bytes, wrong).unwrap_err(),
                KeyError::WrongPassword,
                "password {wrong:?}"
            );
        }
        assert_eq!(
            PrivateKey::from_encrypted_der(b"junk", TEST_PASSWORD).unwrap_err(),
            KeyError::Malformed
        );
        assert_eq!(
            PrivateKey::from_encrypted_der(&test_csd("eku9003173c9_csd.cer"), TEST_PASSWORD)
                .unwrap_err(),
            KeyError::Malformed
        );
    }

    #[test]
    fn key_debug_shows_no_key_material() {
        let key = eku_key();
        let debug = format!("{key:?}");
        assert_eq!(debug, "PrivateKey { modulus_bits: 2048, .. }");
        let alternate = format!("{key:#?}");
        assert!(!alternate.contains("BoxedUint"), "{alternate}");
    }

    #[test]
    fn a_sat_test_csd_passes_in_sandbox_and_while_it_was_valid() {
        let cer = test_csd("eku9003173c9_csd.cer");
        let key = test_csd("eku9003173c9_csd.key");
        let org = rfc("EKU9003173C9");
        let csd = Csd::from_upload(
            &cer,
            &key,
            TEST_PASSWORD,
            &org,
            at(2026, 12, 1),
            Mode::Sandbox,
        )
        .unwrap();
        assert_eq!(csd.certificate().number().as_str(), "30001000000400002434");
        Csd::from_upload(
            &cer,
            &key,
            TEST_PASSWORD,
            &org,
            at(2021, 1, 1),
            Mode::Production,
        )
        .unwrap();

        let expired = Csd::from_upload(
            &cer,
            &key,
            TEST_PASSWORD,
            &org,
            at(2026, 12, 1),
            Mode::Production,
        )
        .unwrap_err();
        assert_eq!(
            codes_at(&expired),
            [pair("/certificate", codes::CERTIFICATE_EXPIRED)]
        );
        // Sandbox waives expiry, not the start of validity.
        let early = Csd::from_upload(
            &cer,
            &key,
            TEST_PASSWORD,
            &org,
            at(2019, 1, 1),
            Mode::Sandbox,
        )
        .unwrap_err();
        assert_eq!(
            codes_at(&early),
            [pair("/certificate", codes::CERTIFICATE_NOT_YET_VALID)]
        );
    }

    #[test]
    fn sandbox_does_not_waive_expiry_of_other_certificates() {
        let cert = Certificate::from_der(&testdata("fiel-like.cer")).unwrap();
        let found = check_certificate(&cert, &rfc("EKU9003173C9"), at(2200, 1, 1), Mode::Sandbox)
            .unwrap_err();
        assert_eq!(
            codes_at(&found),
            [
                pair("/certificate", codes::CERTIFICATE_IS_FIEL),
                pair("/certificate", codes::CERTIFICATE_EXPIRED),
            ]
        );
    }

    #[test]
    fn every_problem_of_an_upload_is_reported_at_its_field() {
        let eku_cer = test_csd("eku9003173c9_csd.cer");
        let cacx_key = test_csd("cacx7605101p8_csd.key");
        let now = at(2026, 12, 1);

        // Someone else's key, for another organization.
        let found = Csd::from_upload(
            &eku_cer,
            &cacx_key,
            TEST_PASSWORD,
            &rfc("CACX7605101P8"),
            now,
            Mode::Sandbox,
        )
        .unwrap_err();
        assert_eq!(
            codes_at(&found),
            [
                pair("/certificate", codes::CERTIFICATE_RFC_MISMATCH),
                pair("/private_key", codes::KEY_CERTIFICATE_MISMATCH),
            ]
        );

        let found = Csd::from_upload(
            b"junk",
            &cacx_key,
            "wrong",
            &rfc("CACX7605101P8"),
            now,
            Mode::Sandbox,
        )
        .unwrap_err();
        assert_eq!(
            codes_at(&found),
            [
                pair("/certificate", codes::CERTIFICATE_UNREADABLE),
                pair("/password", codes::WRONG_PASSWORD),
            ]
        );

        // The certificate is still checked when the key cannot be opened.
        let found = Csd::from_upload(
            &eku_cer,
            b"junk",
            TEST_PASSWORD,
            &rfc("CACX7605101P8"),
            now,
            Mode::Production,
        )
        .unwrap_err();
        assert_eq!(
            codes_at(&found),
            [
                pair("/private_key", codes::PRIVATE_KEY_UNREADABLE),
                pair("/certificate", codes::CERTIFICATE_RFC_MISMATCH),
                pair("/certificate", codes::CERTIFICATE_EXPIRED),
            ]
        );

        // A FIEL uploaded with its own key.
        let found = Csd::from_upload(
            &testdata("fiel-like.cer"),
            &testdata("fiel-like.key"),
            TEST_PASSWORD,
            &rfc("EKU9003173C9"),
            at(2027, 6, 1),
            Mode::Production,
        )
        .unwrap_err();
        assert_eq!(
            codes_at(&found),
            [pair("/certificate", codes::CERTIFICATE_IS_FIEL)]
        );
    }

    #[test]
    fn a_stored_key_rebuilds_the_csd_it_came_from() {
        let cer = test_csd("eku9003173c9_csd.cer");
        let csd = Csd::from_upload(
            &cer,
            &test_csd("eku9003173c9_csd.key"),
            TEST_PASSWORD,
            &rfc("EKU9003173C9"),
            at(2026, 12, 1),
            Mode::Sandbox,
        )
        .unwrap();
        let stored = csd.key().to_pkcs8_der().unwrap();
        // Plain PKCS#8, readable without the password, and not SAT's encrypted .key.
        assert_ne!(
            stored.as_bytes(),
            test_csd("eku9003173c9_csd.key").as_slice()
        );
        let key = PrivateKey::from_pkcs8_der(stored.as_bytes()).unwrap();
        let rebuilt = Csd::from_parts(Certificate::from_der(&cer).unwrap(), key).unwrap();
        assert_eq!(
            rebuilt.certificate().number().as_str(),
            "30001000000400002434"
        );
        let cadena = "||4.0|A|1|2024-05-01T10:00:00|01|1000.00|MXN|1160.00||";
        let sello = seal(rebuilt.key(), cadena);
        assert_eq!(sello, seal(csd.key(), cadena));
        assert!(verify(rebuilt.certificate(), cadena, &sello));

        let cacx = Certificate::from_der(&test_csd("cacx7605101p8_csd.cer")).unwrap();
        assert_eq!(Csd::from_parts(cacx, eku_key()).unwrap_err(), KeyMismatch);
    }

    #[test]
    fn seals_verify_with_their_own_certificate_only() {
        let cadena = "||4.0|A|1|2024-05-01T10:00:00|01|1000.00|MXN|1160.00|I|01|PUE|06300|EKU9003173C9|ESCUELA KEMPER URGATE|601|Ñandú «ü» €||";
        let eku_cert = Certificate::from_der(&test_csd("eku9003173c9_csd.cer")).unwrap();
        let cacx_cert = Certificate::from_der(&test_csd("cacx7605101p8_csd.cer")).unwrap();
        let cacx_key =
            PrivateKey::from_encrypted_der(&test_csd("cacx7605101p8_csd.key"), TEST_PASSWORD)
                .unwrap();

        let sello = seal(&eku_key(), cadena);
        assert_eq!(BASE64.decode(&sello).unwrap().len(), 256);
        assert_eq!(
            sello,
            seal(&eku_key(), cadena),
            "PKCS#1 v1.5 is deterministic"
        );
        assert!(verify(&eku_cert, cadena, &sello));
        assert!(!verify(&cacx_cert, cadena, &sello));
        assert!(!verify(
            &eku_cert,
            &cadena.replace("1000.00", "1000.01"),
            &sello
        ));
        assert!(!verify(&eku_cert, cadena, "not base64!"));
        assert!(!verify(&eku_cert, cadena, ""));

        let sello = seal(&cacx_key, cadena);
        assert!(verify(&cacx_cert, cadena, &sello));
        assert!(!verify(&eku_cert, cadena, &sello));
    }

    /// Runs `openssl`, failing the test with a clear message when it is missing or fails.
    fn openssl(args: &[&str], dir: &std::path::Path) {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("openssl is needed by this test and could not be run ({e}): apt-get install openssl")
            });
        assert!(
            output.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    #[test]
    fn seals_are_byte_identical_to_openssl() {
        let cadena = "||1.1|6F3E1C2A-0B7D-4E8F-9A1B-2C3D4E5F6A7B|2024-05-01T10:00:05|AAA010101AAA|SELLO áéíóú Ñ & < > \" '|99999000000000000001||";
        for name in ["eku9003173c9_csd", "cacx7605101p8_csd"] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("csd.key"), test_csd(&format!("{name}.key"))).unwrap();
            std::fs::write(dir.path().join("cadena.txt"), cadena).unwrap();
            openssl(
                &[
                    "pkcs8",
                    "-inform",
                    "DER",
                    "-in",
                    "csd.key",
                    "-passin",
                    "pass:12345678a",
                    "-out",
                    "csd.pem",
                ],
                dir.path(),
            );
            openssl(
                &[
                    "dgst",
                    "-sha256",
                    "-sign",
                    "csd.pem",
                    "-out",
                    "sello.bin",
                    "cadena.txt",
                ],
                dir.path(),
            );
            let expected = std::fs::read(dir.path().join("sello.bin")).unwrap();

            let key =
                PrivateKey::from_encrypted_der(&test_csd(&format!("{name}.key")), TEST_PASSWORD)
                    .unwrap();
            let sello = seal(&key, cadena);
            assert_eq!(BASE64.decode(&sello).unwrap(), expected, "{name}");
            assert_eq!(sello, BASE64.encode(&expected));
        }
    }

    #[test]
    fn classification_rule() {
        use x509_cert::ext::pkix::KeyUsages;
        let ku = |flags| KeyUsage(flags);
        let sealing = ku(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        assert_eq!(classify(Some(&sealing), None, true), CertificateKind::Csd);
        // No OU: not a CSD as SAT issues them.
        assert_eq!(
            classify(Some(&sealing), None, false),
            CertificateKind::Other
        );
        assert_eq!(classify(None, None, true), CertificateKind::Other);
        let fiel = ku(KeyUsages::DigitalSignature
            | KeyUsages::NonRepudiation
            | KeyUsages::DataEncipherment
            | KeyUsages::KeyAgreement);
        assert_eq!(classify(Some(&fiel), None, true), CertificateKind::Fiel);
        let email = ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4")]);
        assert_eq!(
            classify(Some(&sealing), Some(&email), true),
            CertificateKind::Fiel
        );
        let ca =
            ku(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation | KeyUsages::KeyCertSign);
        assert_eq!(classify(Some(&ca), None, true), CertificateKind::Other);
    }
}
