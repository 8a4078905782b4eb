//! The stamp (timbre): the `tfd:TimbreFiscalDigital` 1.1 that a PAC adds to a sealed CFDI in
//! `cfdi:Complemento`, its cadena original, and the sandbox PAC that stamps without SAT.
//!
//! [`Timbre::cadena_original`] is SAT's `cadenaoriginal_TFD_1_1.xslt` in code (the tests run
//! `xsltproc` on the same XML and compare bytes); the PAC's SelloSAT seals that cadena.
//! [`Timbre::to_xml_element`] writes the element valid against `TimbreFiscalDigitalv11.xsd`.

use std::fmt;

use chrono::NaiveDateTime;
use uuid::Uuid;

use crate::csd::{self, Certificate, CertificateNumber, PrivateKey};
use crate::rfc::Rfc;

/// `Version` of the TimbreFiscalDigital; the schema fixes it.
pub const VERSION: &str = "1.1";

/// Namespace of the TimbreFiscalDigital.
pub const NAMESPACE: &str = "http://www.sat.gob.mx/TimbreFiscalDigital";

/// Where SAT publishes the TimbreFiscalDigital 1.1 schema (for `xsi:schemaLocation`).
pub const SCHEMA_LOCATION: &str =
    "http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd";

const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// `FechaTimbrado` layout: `t_FechaH`, local time of Mexico's Zona Centro, no offset.
const FECHA_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// Why a timbre cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimbreError {
    #[error(
        "Leyenda must be 12 to 150 characters (after collapsing whitespace) of letters A-Z, digits, Spanish accented vowels, Ñ, ü, spaces and !\"%&'´-:;>=<@_,{{}}`~"
    )]
    Leyenda,
    #[error("SelloCFD must be base64")]
    SelloCfd,
    #[error("SelloSAT must be base64")]
    SelloSat,
}

/// The optional `Leyenda` a PAC may add with information SAT tells taxpayers.
///
/// Kept as given; the schema's rules (12–150 characters from a fixed set) are checked on the
/// value with its whitespace collapsed, as an XSD validator does (`xs:whiteSpace collapse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leyenda(String);

impl Leyenda {
    /// Checks `text` against `TimbreFiscalDigitalv11.xsd`'s Leyenda type.
    pub fn parse(text: &str) -> Result<Self, TimbreError> {
        let collapsed = normalize_space(text);
        let len = collapsed.chars().count();
        if (12..=150).contains(&len) && collapsed.chars().all(is_leyenda_char) {
            Ok(Self(text.to_owned()))
        } else {
            Err(TimbreError::Leyenda)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The XSD pattern's character class for Leyenda.
fn is_leyenda_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " Ññ!\"%&'´-:;>=<@_,{}`~áéíóúÁÉÍÓÚüÜ".contains(c)
}

/// A TimbreFiscalDigital 1.1.
#[derive(Clone, PartialEq, Eq)]
pub struct Timbre {
    uuid: Uuid,
    fecha_timbrado: NaiveDateTime,
    rfc_prov_certif: Rfc,
    leyenda: Option<Leyenda>,
    sello_cfd: String,
    no_certificado_sat: CertificateNumber,
    sello_sat: String,
}

impl Timbre {
    /// A timbre as a PAC returned it. `sello_cfd` is the `Sello` of the stamped CFDI;
    /// `sello_sat` is the PAC's seal over [`Timbre::cadena_original`] with the certificate
    /// `no_certificado_sat`. Sub-second digits of `fecha_timbrado` are dropped (the schema has
    /// none).
    pub fn new(
        uuid: Uuid,
        fecha_timbrado: NaiveDateTime,
        rfc_prov_certif: Rfc,
        leyenda: Option<Leyenda>,
        sello_cfd: String,
        no_certificado_sat: CertificateNumber,
        sello_sat: String,
    ) -> Result<Self, TimbreError> {
        if !is_base64(&sello_cfd) {
            return Err(TimbreError::SelloCfd);
        }
        if !is_base64(&sello_sat) {
            return Err(TimbreError::SelloSat);
        }
        Ok(Self {
            uuid,
            fecha_timbrado: truncate_to_seconds(fecha_timbrado),
            rfc_prov_certif,
            leyenda,
            sello_cfd,
            no_certificado_sat,
            sello_sat,
        })
    }

    /// The folio fiscal.
    pub fn uuid(&self) -> Uuid {
        self.uuid
    }

    /// When the PAC stamped, Mexico's Zona Centro local time.
    pub fn fecha_timbrado(&self) -> NaiveDateTime {
        self.fecha_timbrado
    }

    /// The PAC's RFC.
    pub fn rfc_prov_certif(&self) -> &Rfc {
        &self.rfc_prov_certif
    }

    pub fn leyenda(&self) -> Option<&Leyenda> {
        self.leyenda.as_ref()
    }

    /// The stamped CFDI's Sello.
    pub fn sello_cfd(&self) -> &str {
        &self.sello_cfd
    }

    /// Number of the certificate whose key made SelloSAT.
    pub fn no_certificado_sat(&self) -> &CertificateNumber {
        &self.no_certificado_sat
    }

    /// The PAC's seal over the cadena original.
    pub fn sello_sat(&self) -> &str {
        &self.sello_sat
    }

    /// The UUID as written in the XML: upper case, as SAT's PACs write it.
    pub fn uuid_text(&self) -> String {
        self.uuid
            .hyphenated()
            .encode_upper(&mut Uuid::encode_buffer())
            .to_owned()
    }

    /// `FechaTimbrado` as written in the XML.
    pub fn fecha_timbrado_text(&self) -> String {
        self.fecha_timbrado.format(FECHA_FORMAT).to_string()
    }

    /// The cadena original del complemento de certificación digital del SAT, byte-identical to
    /// `xsltproc cadenaoriginal_TFD_1_1.xslt` over [`Timbre::to_xml_element`].
    pub fn cadena_original(&self) -> String {
        cadena_original(
            &self.uuid_text(),
            &self.fecha_timbrado_text(),
            self.rfc_prov_certif.as_str(),
            self.leyenda.as_ref().map(Leyenda::as_str),
            &self.sello_cfd,
            self.no_certificado_sat.as_str(),
        )
    }

    /// Whether SelloSAT is this timbre's cadena original sealed with `certificate`.
    pub fn verify_sello_sat(&self, certificate: &Certificate) -> bool {
        certificate.number() == &self.no_certificado_sat
            && csd::verify(certificate, &self.cadena_original(), &self.sello_sat)
    }

    /// The `<tfd:TimbreFiscalDigital .../>` element that goes in `cfdi:Complemento`.
    ///
    /// It declares `xmlns:tfd` and `xmlns:xsi` itself so it can stand alone (as a document to
    /// validate or transform) and be placed in any CFDI unchanged; the duplicate `xmlns:xsi`
    /// declaration is harmless inside a CFDI that declares it too.
    pub fn to_xml_element(&self) -> String {
        let mut xml = format!(
            "<tfd:TimbreFiscalDigital xmlns:tfd=\"{NAMESPACE}\" xmlns:xsi=\"{XSI_NAMESPACE}\" \
             xsi:schemaLocation=\"{NAMESPACE} {SCHEMA_LOCATION}\" Version=\"{VERSION}\""
        );
        let mut attribute = |name: &str, value: &str| {
            xml.push(' ');
            xml.push_str(name);
            xml.push_str("=\"");
            escape_attribute(value, &mut xml);
            xml.push('"');
        };
        attribute("UUID", &self.uuid_text());
        attribute("FechaTimbrado", &self.fecha_timbrado_text());
        attribute("RfcProvCertif", self.rfc_prov_certif.as_str());
        if let Some(leyenda) = &self.leyenda {
            attribute("Leyenda", leyenda.as_str());
        }
        attribute("SelloCFD", &self.sello_cfd);
        attribute("NoCertificadoSAT", self.no_certificado_sat.as_str());
        attribute("SelloSAT", &self.sello_sat);
        xml.push_str("/>");
        xml
    }
}

impl fmt::Debug for Timbre {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seals are 344 characters of base64 each: noise in logs.
        f.debug_struct("Timbre")
            .field("uuid", &self.uuid)
            .field("fecha_timbrado", &self.fecha_timbrado)
            .field("rfc_prov_certif", &self.rfc_prov_certif.as_str())
            .field("no_certificado_sat", &self.no_certificado_sat.as_str())
            .finish_non_exhaustive()
    }
}

/// `||Version|UUID|FechaTimbrado|RfcProvCertif[|Leyenda]|SelloCFD|NoCertificadoSAT||`, each
/// value through XPath's `normalize-space`, as SAT's stylesheet builds it.
fn cadena_original(
    uuid: &str,
    fecha: &str,
    rfc_prov_certif: &str,
    leyenda: Option<&str>,
    sello_cfd: &str,
    no_certificado_sat: &str,
) -> String {
    let mut cadena = String::from("|");
    let mut field = |value: &str| {
        cadena.push('|');
        cadena.push_str(&normalize_space(value));
    };
    field(VERSION);
    field(uuid);
    field(fecha);
    field(rfc_prov_certif);
    // The stylesheet's Opcional writes the field when the attribute exists, even if empty.
    if let Some(leyenda) = leyenda {
        field(leyenda);
    }
    field(sello_cfd);
    field(no_certificado_sat);
    cadena.push_str("||");
    cadena
}

/// XPath 1.0 `normalize-space`: trims and collapses runs of XML whitespace (space, tab, CR,
/// LF) to one space. Only those four: a no-break space stays, unlike `str::split_whitespace`.
fn normalize_space(value: &str) -> String {
    value
        .split([' ', '\t', '\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes an attribute value. Tab, LF and CR are written as character references so a parser
/// hands them back as they were instead of normalizing them to spaces.
fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn is_base64(value: &str) -> bool {
    use base64::Engine as _;
    !value.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(value)
            .is_ok()
}

fn truncate_to_seconds(at: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike as _;
    at.with_nanosecond(0).unwrap_or(at)
}

/// Why the sandbox PAC could not be loaded (only if its committed key pair were damaged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SandboxPacError {
    #[error("the sandbox PAC certificate cannot be read: {0}")]
    Certificate(#[from] csd::CertificateError),
    #[error("the sandbox PAC key cannot be read: {0}")]
    Key(#[from] csd::KeyError),
    #[error("the sandbox PAC key does not match its certificate")]
    Mismatch,
}

/// A PAC that stamps in sandbox mode, without SAT: it signs the TFD's cadena original with a
/// key pair committed in `domain/src/sandbox/` (see its README: public on purpose, never
/// secret, so a sandbox stamp proves nothing and has no fiscal value).
///
/// Why a committed key and not SAT's test CSDs or a key generated at start: the test CSDs live
/// in `shared/`, outside the repository, and are a taxpayer's CSD, not a PAC's; generating a
/// 2048-bit key takes seconds in debug builds and would change NoCertificadoSAT and the
/// verifying key at each start, so yesterday's sandbox stamps would no longer verify.
#[derive(Clone)]
pub struct SandboxPac {
    key: PrivateKey,
    certificate: Certificate,
}

impl SandboxPac {
    /// Loads the committed sandbox key pair.
    pub fn new() -> Result<Self, SandboxPacError> {
        let certificate = Certificate::from_der(include_bytes!("sandbox/sandbox_pac.cer"))?;
        let key = PrivateKey::from_pkcs8_der(include_bytes!("sandbox/sandbox_pac_NOT_SECRET.key"))?;
        if key.public_key() != *certificate.public_key() {
            return Err(SandboxPacError::Mismatch);
        }
        Ok(Self { key, certificate })
    }

    /// The certificate that verifies this PAC's SelloSAT (NoCertificadoSAT is its number).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// RfcProvCertif of this PAC's timbres.
    pub fn rfc(&self) -> &Rfc {
        self.certificate.rfc()
    }

    /// Stamps the CFDI whose Sello is `sello_cfd`: a timbre with folio `uuid`, stamped at
    /// `fecha_timbrado` (Mexico's Zona Centro local time), sealed by this PAC.
    ///
    /// The caller chooses the UUID and the time so this stays free of clocks and randomness;
    /// checking the CFDI itself (schema, seal, SAT's rules) is the caller's job before this.
    pub fn stamp(
        &self,
        uuid: Uuid,
        fecha_timbrado: NaiveDateTime,
        sello_cfd: &str,
        leyenda: Option<Leyenda>,
    ) -> Result<Timbre, TimbreError> {
        if !is_base64(sello_cfd) {
            return Err(TimbreError::SelloCfd);
        }
        let mut timbre = Timbre {
            uuid,
            fecha_timbrado: truncate_to_seconds(fecha_timbrado),
            rfc_prov_certif: self.rfc().clone(),
            leyenda,
            sello_cfd: sello_cfd.to_owned(),
            no_certificado_sat: self.certificate.number().clone(),
            sello_sat: String::new(),
        };
        // SelloSAT is not part of the cadena it seals, so it can be filled in last.
        timbre.sello_sat = csd::seal(&self.key, &timbre.cadena_original());
        Ok(timbre)
    }
}

impl fmt::Debug for SandboxPac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxPac")
            .field("certificate", &self.certificate)
            .field("key", &self.key)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csd::tests::eku_key;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const INSTALL: &str = "apt-get install xsltproc libxml2-utils";

    fn sat_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/sat")
    }

    /// Runs `tool` and returns its stdout; fails loudly when the tool is missing.
    fn run(tool: &str, args: &[&Path]) -> (bool, Vec<u8>, String) {
        let output = Command::new(tool)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{tool} is needed by this test ({e}): {INSTALL}"));
        (
            output.status.success(),
            output.stdout,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    fn write_document(dir: &Path, name: &str, timbre: &Timbre) -> PathBuf {
        let path = dir.join(name);
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n",
            timbre.to_xml_element()
        );
        std::fs::write(&path, xml).unwrap();
        path
    }

    fn xsltproc_cadena(timbre: &Timbre) -> String {
        let dir = tempfile::tempdir().unwrap();
        let xml = write_document(dir.path(), "tfd.xml", timbre);
        let xslt = sat_dir().join("cadenaoriginal_TFD_1_1.xslt");
        // xsltproc warns on stderr that the stylesheet says version 2.0, and exits 0.
        let (ok, stdout, stderr) = run("xsltproc", &[&xslt, &xml]);
        assert!(ok, "xsltproc failed: {stderr}");
        String::from_utf8(stdout).unwrap()
    }

    fn assert_schema_valid(timbre: &Timbre) {
        let (ok, stderr) = xmllint(timbre);
        assert!(ok, "xmllint refused {}: {stderr}", timbre.to_xml_element());
    }

    fn xmllint(timbre: &Timbre) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let xml = write_document(dir.path(), "tfd.xml", timbre);
        let xsd = sat_dir().join("TimbreFiscalDigitalv11.xsd");
        let (ok, _, stderr) = run(
            "xmllint",
            &[
                Path::new("--noout"),
                Path::new("--nonet"),
                Path::new("--schema"),
                &xsd,
                &xml,
            ],
        );
        (ok, stderr)
    }

    fn uuid(s: &str) -> Uuid {
        Uuid::parse_str(s).unwrap()
    }

    fn fecha(h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2024, 5, 1)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    fn sello_cfd() -> String {
        csd::seal(&eku_key(), "||4.0|A|1|2024-05-01T10:00:00|01||")
    }

    fn timbre(leyenda: Option<&str>) -> Timbre {
        let number = SandboxPac::new().unwrap().certificate().number().clone();
        Timbre::new(
            uuid("6f3e1c2a-0b7d-4e8f-9a1b-2c3d4e5f6a7b"),
            fecha(10, 0, 5),
            Rfc::parse("SBX010101PA2").unwrap(),
            leyenda.map(|l| Leyenda(l.to_owned())),
            "c2VsbG8gQ0ZE".to_owned(),
            number,
            "c2VsbG8gU0FU".to_owned(),
        )
        .unwrap()
    }

    #[test]
    fn cadena_original_has_sat_layout() {
        assert_eq!(
            timbre(None).cadena_original(),
            "||1.1|6F3E1C2A-0B7D-4E8F-9A1B-2C3D4E5F6A7B|2024-05-01T10:00:05|SBX010101PA2|c2VsbG8gQ0ZE|99999000000000000001||"
        );
        assert_eq!(
            timbre(Some("  Leyenda de\tprueba  ")).cadena_original(),
            "||1.1|6F3E1C2A-0B7D-4E8F-9A1B-2C3D4E5F6A7B|2024-05-01T10:00:05|SBX010101PA2|Leyenda de prueba|c2VsbG8gQ0ZE|99999000000000000001||"
        );
    }

    #[test]
    fn cadena_original_matches_sats_stylesheet() {
        let leyendas = [
            None,
            Some("Leyenda del SAT para los contribuyentes"),
            // Everything XML escapes, SAT's accented letters, and whitespace to normalize.
            Some("  Año fiscal:\t\"2024\" & <más> 'información' ´acento´ ÑÜüñ {x} `y` ~z  "),
            Some("Línea uno\nLínea dos\r\n  Línea   tres"),
            // Outside the schema, but the cadena must still follow the stylesheet: an empty
            // Leyenda adds an empty field, a no-break space is not XML whitespace.
            Some(""),
            Some("\u{a0}no-break\u{a0} space\u{a0}"),
            Some("€ 𝄞 emoji 😀 and ü"),
        ];
        for leyenda in leyendas {
            let timbre = timbre(leyenda);
            assert_eq!(
                timbre.cadena_original(),
                xsltproc_cadena(&timbre),
                "Leyenda {leyenda:?}"
            );
        }
        let pac = SandboxPac::new().unwrap();
        let stamped = pac
            .stamp(
                uuid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
                fecha(23, 59, 59),
                &sello_cfd(),
                None,
            )
            .unwrap();
        assert_eq!(stamped.cadena_original(), xsltproc_cadena(&stamped));
    }

    #[test]
    fn sandbox_stamps_validate_against_the_schema_and_verify() {
        let pac = SandboxPac::new().unwrap();
        assert_eq!(pac.rfc().as_str(), "SBX010101PA2");
        assert_eq!(pac.certificate().number().as_str(), "99999000000000000001");
        let sello = sello_cfd();
        for leyenda in [
            None,
            Some("Leyenda del SAT para los contribuyentes"),
            Some("  Año: \"2024\" & <más>\t'información' ´x´ ÑÜ  "),
        ] {
            let leyenda = leyenda.map(|l| Leyenda::parse(l).unwrap());
            let timbre = pac
                .stamp(
                    uuid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
                    fecha(10, 0, 5),
                    &sello,
                    leyenda,
                )
                .unwrap();
            assert_schema_valid(&timbre);
            assert_eq!(timbre.cadena_original(), xsltproc_cadena(&timbre));
            assert!(timbre.verify_sello_sat(pac.certificate()));
            assert_eq!(timbre.sello_cfd(), sello);
            assert_eq!(timbre.no_certificado_sat().as_str(), "99999000000000000001");
        }
    }

    #[test]
    fn the_schema_check_can_fail() {
        // Timbre fields built around Leyenda::parse, to show xmllint is really consulted.
        let (ok, stderr) = xmllint(&timbre(Some("Sin punto final.")));
        assert!(!ok);
        assert!(stderr.contains("Leyenda"), "{stderr}");
    }

    #[test]
    fn sello_sat_covers_every_field_of_the_cadena() {
        let pac = SandboxPac::new().unwrap();
        let timbre = pac
            .stamp(
                uuid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
                fecha(10, 0, 5),
                &sello_cfd(),
                None,
            )
            .unwrap();
        let mut changed = timbre.clone();
        changed.fecha_timbrado = fecha(10, 0, 6);
        assert!(!changed.verify_sello_sat(pac.certificate()));
        let mut changed = timbre.clone();
        changed.sello_cfd = "c2VsbG8gQ0ZE".to_owned();
        assert!(!changed.verify_sello_sat(pac.certificate()));
        // A CSD's certificate is not the PAC's.
        let eku =
            Certificate::from_der(&crate::csd::tests::test_csd("eku9003173c9_csd.cer")).unwrap();
        assert!(!timbre.verify_sello_sat(&eku));
    }

    #[test]
    fn the_element_is_self_contained() {
        let pac = SandboxPac::new().unwrap();
        let xml = pac
            .stamp(
                uuid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
                NaiveDate::from_ymd_opt(2024, 1, 2)
                    .unwrap()
                    .and_hms_nano_opt(3, 4, 5, 678_000_000)
                    .unwrap(),
                &sello_cfd(),
                Some(Leyenda::parse("A & B <c> \"d\"  ok").unwrap()),
            )
            .unwrap()
            .to_xml_element();
        assert!(xml.starts_with(
            "<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsi:schemaLocation=\"http://www.sat.gob.mx/TimbreFiscalDigital \
             http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd\" \
             Version=\"1.1\" UUID=\"0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D\" \
             FechaTimbrado=\"2024-01-02T03:04:05\" RfcProvCertif=\"SBX010101PA2\" \
             Leyenda=\"A &amp; B &lt;c&gt; &quot;d&quot;  ok\" SelloCFD=\""
        ));
        assert!(xml.ends_with("/>"));
    }

    #[test]
    fn leyenda_follows_the_schema() {
        assert!(Leyenda::parse("Doce letras").is_err(), "11 characters");
        assert!(Leyenda::parse("Doce  letras").is_err(), "collapses to 11");
        assert!(Leyenda::parse("Doce letras!").is_ok());
        assert!(Leyenda::parse(&"a".repeat(150)).is_ok());
        assert!(Leyenda::parse(&"a".repeat(151)).is_err());
        assert!(
            Leyenda::parse("Sin punto final.").is_err(),
            "'.' is not allowed"
        );
        assert!(Leyenda::parse("con\u{a0}no-break space").is_err());
    }

    #[test]
    fn seals_must_be_base64() {
        let pac = SandboxPac::new().unwrap();
        let at = fecha(1, 2, 3);
        let id = uuid("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
        assert_eq!(
            pac.stamp(id, at, "", None).unwrap_err(),
            TimbreError::SelloCfd
        );
        assert_eq!(
            pac.stamp(id, at, "no\"base64", None).unwrap_err(),
            TimbreError::SelloCfd
        );
    }

    #[test]
    fn debug_is_short() {
        let pac = SandboxPac::new().unwrap();
        let debug = format!("{pac:?}");
        assert!(
            debug.contains("PrivateKey { modulus_bits: 2048, .. }"),
            "{debug}"
        );
        let timbre = timbre(None);
        assert!(!format!("{timbre:?}").contains("c2VsbG8"));
    }

    fn leyenda_text() -> impl Strategy<Value = String> {
        // The schema's characters plus XML whitespace, to exercise escaping and
        // normalize-space together.
        let chars: Vec<char> = "aZ09 Ññ!\"%&'´-:;>=<@_,{}`~áéíóúÁÉÍÓÚüÜ\t\n\r  "
            .chars()
            .collect();
        proptest::collection::vec(proptest::sample::select(chars), 0..40)
            .prop_map(|cs| cs.into_iter().collect())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn any_leyenda_gives_the_stylesheets_cadena(text in leyenda_text()) {
            let timbre = timbre(Some(&text));
            prop_assert_eq!(timbre.cadena_original(), xsltproc_cadena(&timbre));
        }
    }
}
