//! The CFDI 4.0 document as typed data: [`Comprobante`] and its nodes, named as Anexo 20 names
//! them, and [`Comprobante::build`], which turns header data and invoice lines into a
//! Comprobante whose amounts come from the tax engine ([`super::taxes`]).
//!
//! Sealing happens elsewhere, in this order: [`Comprobante::set_certificate`] (NoCertificado and
//! Certificado are part of the cadena original), then [`Comprobante::cadena_original`], then
//! [`Comprobante::set_sello`] with base64(RSA-SHA256(cadena)) — the Sello is not in the cadena.

use chrono::{Datelike, NaiveDateTime};
use rust_decimal::Decimal;

use super::taxes::{self, ImpuestosTotals, Line, ObjetoImp, Retencion, Traslado};
use crate::validation::{Pointer, Violation, Violations};

/// c_TipoDeComprobante.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TipoDeComprobante {
    /// `I` ingreso: an invoice.
    Ingreso,
    /// `E` egreso: a credit note.
    Egreso,
    /// `T` traslado: goods moved, no sale.
    Traslado,
    /// `P` pago: a payment receipt (Complemento de pagos 2.0).
    Pago,
}

impl TipoDeComprobante {
    /// The c_TipoDeComprobante key.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ingreso => "I",
            Self::Egreso => "E",
            Self::Traslado => "T",
            Self::Pago => "P",
        }
    }

    /// The type for a c_TipoDeComprobante key (N, nómina, is not supported).
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "I" => Some(Self::Ingreso),
            "E" => Some(Self::Egreso),
            "T" => Some(Self::Traslado),
            "P" => Some(Self::Pago),
            _ => None,
        }
    }
}

/// InformacionGlobal: the period a global invoice to the público en general covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InformacionGlobal {
    /// c_Periodicidad `01`–`05`.
    pub periodicidad: String,
    /// c_Meses `01`–`18`.
    pub meses: String,
    /// Año (written as the `Año` attribute).
    pub anio: u16,
}

/// One CfdiRelacionados node: a relation type and the CFDIs it relates to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfdiRelacionados {
    /// c_TipoRelacion, e.g. `01` credit note, `04` substitution.
    pub tipo_relacion: String,
    /// UUIDs of the related CFDIs.
    pub uuids: Vec<String>,
}

/// The issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emisor {
    pub rfc: String,
    pub nombre: String,
    pub regimen_fiscal: String,
    pub fac_atr_adquirente: Option<String>,
}

/// The receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receptor {
    pub rfc: String,
    pub nombre: String,
    pub domicilio_fiscal_receptor: String,
    pub residencia_fiscal: Option<String>,
    pub num_reg_id_trib: Option<String>,
    pub regimen_fiscal_receptor: String,
    pub uso_cfdi: String,
}

/// One Concepto with its amounts as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Concepto {
    pub clave_prod_serv: String,
    pub no_identificacion: Option<String>,
    pub cantidad: Decimal,
    pub clave_unidad: String,
    pub unidad: Option<String>,
    pub descripcion: String,
    pub valor_unitario: Decimal,
    pub importe: Decimal,
    pub descuento: Option<Decimal>,
    pub objeto_imp: ObjetoImp,
    /// The concept's Impuestos node exists when either list is non-empty.
    pub traslados: Vec<Traslado>,
    pub retenciones: Vec<Retencion>,
}

/// One child of cfdi:Complemento, kept as raw XML written verbatim (the PAC's
/// TimbreFiscalDigital, pago20:Pagos, …), with what it adds to the Comprobante's cadena.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complemento {
    /// One well-formed element declaring its own namespaces.
    pub xml: String,
    /// What `cadenaoriginal_4_0.xslt` outputs for this element (its `|…` fields).
    pub cadena: String,
}

impl Complemento {
    /// A complement SAT's stylesheet has a template for: `cadena` is that template's output,
    /// computed by whoever builds the complement (e.g. the Pagos 2.0 module).
    pub fn new(xml: impl Into<String>, cadena: impl Into<String>) -> Self {
        Self {
            xml: xml.into(),
            cadena: cadena.into(),
        }
    }

    /// The PAC's `tfd:TimbreFiscalDigital`. `cadenaoriginal_4_0.xslt` has no template for it,
    /// so XSLT's built-in rule applies, which outputs only text nodes: a TFD has none (it is
    /// an empty element with attributes), so it adds nothing to the CFDI's cadena (it has a
    /// cadena of its own, `cadenaoriginal_TFD_1_1.xslt`). Checked against xsltproc in tests.
    pub fn timbre_fiscal_digital(xml: impl Into<String>) -> Self {
        Self::new(xml, "")
    }
}

/// A CFDI 4.0 (Version `4.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comprobante {
    pub serie: Option<String>,
    pub folio: Option<String>,
    /// Local time where the CFDI is issued, written `YYYY-MM-DDTHH:MM:SS`.
    pub fecha: NaiveDateTime,
    /// base64 signature; empty until [`Comprobante::set_sello`].
    pub sello: String,
    pub forma_pago: Option<String>,
    /// 20 digits; empty until [`Comprobante::set_certificate`].
    pub no_certificado: String,
    /// base64 DER certificate; empty until [`Comprobante::set_certificate`].
    pub certificado: String,
    pub condiciones_de_pago: Option<String>,
    pub sub_total: Decimal,
    pub descuento: Option<Decimal>,
    pub moneda: String,
    pub tipo_cambio: Option<Decimal>,
    pub total: Decimal,
    pub tipo_de_comprobante: TipoDeComprobante,
    pub exportacion: String,
    pub metodo_pago: Option<String>,
    pub lugar_expedicion: String,
    pub confirmacion: Option<String>,
    pub informacion_global: Option<InformacionGlobal>,
    pub cfdi_relacionados: Vec<CfdiRelacionados>,
    pub emisor: Emisor,
    pub receptor: Receptor,
    pub conceptos: Vec<Concepto>,
    pub impuestos: Option<ImpuestosTotals>,
    pub complementos: Vec<Complemento>,
}

/// Header data of an invoice, for [`Comprobante::build`]. Violations point at these field
/// names (`/fecha`, `/emisor/nombre`, `/cfdi_relacionados/0/uuids/1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub serie: Option<String>,
    pub folio: Option<String>,
    pub fecha: NaiveDateTime,
    pub forma_pago: Option<String>,
    pub condiciones_de_pago: Option<String>,
    /// c_Moneda key.
    pub moneda: String,
    /// c_Moneda `decimales` of [`Header::moneda`].
    pub currency_decimals: u32,
    pub tipo_cambio: Option<Decimal>,
    pub tipo_de_comprobante: TipoDeComprobante,
    pub exportacion: String,
    pub metodo_pago: Option<String>,
    pub lugar_expedicion: String,
    pub confirmacion: Option<String>,
    pub informacion_global: Option<InformacionGlobal>,
    pub cfdi_relacionados: Vec<CfdiRelacionados>,
    pub emisor: Emisor,
    pub receptor: Receptor,
}

/// One invoice line: what it is plus its amounts. Violations point at `/lines/{i}/…` with
/// the descriptive fields and the [`Line`] fields side by side (`/lines/0/descripcion`,
/// `/lines/0/quantity`), as a flat request object would have them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConceptoInput {
    pub clave_prod_serv: String,
    pub no_identificacion: Option<String>,
    pub clave_unidad: String,
    pub unidad: Option<String>,
    pub descripcion: String,
    pub line: Line,
}

/// The generic RFC of the público en general.
const PUBLICO_EN_GENERAL_RFC: &str = "XAXX010101000";

impl Comprobante {
    /// Checks the header and lines and builds the Comprobante, with every amount computed by
    /// [`taxes::compute`]. Sello, NoCertificado and Certificado are left empty.
    ///
    /// Checked here: the CFDI's own structure rules (SAT codes CFDI40101, 40103, 40105,
    /// 40114–40117, 40125, 40130, 40134, 40135, 40166, 40201) and that text fits the XSD
    /// (length, no `|`, no character XML cannot carry). Catalog membership and the receiver's
    /// rules are checked by their own modules ([`crate::receiver`]).
    pub fn build(header: Header, lines: Vec<ConceptoInput>) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        check_header(&header, &mut violations);
        let at_lines = Pointer::root().field("lines");
        let kind = header.tipo_de_comprobante;
        for (i, c) in lines.iter().enumerate() {
            let at = at_lines.index(i);
            text(
                &c.clave_prod_serv,
                1,
                8,
                &at.field("clave_prod_serv"),
                &mut violations,
            );
            opt_text(
                &c.no_identificacion,
                100,
                &at.field("no_identificacion"),
                &mut violations,
            );
            text(
                &c.clave_unidad,
                1,
                3,
                &at.field("clave_unidad"),
                &mut violations,
            );
            opt_text(&c.unidad, 20, &at.field("unidad"), &mut violations);
            text(
                &c.descripcion,
                1,
                1000,
                &at.field("descripcion"),
                &mut violations,
            );
            let priced = matches!(kind, TipoDeComprobante::Ingreso | TipoDeComprobante::Egreso);
            if priced && c.line.unit_price <= Decimal::ZERO {
                violations.push(Violation::new(
                    at.field("unit_price"),
                    "CFDI40166",
                    "the unit price must be more than 0 on an invoice (I) or credit note (E)",
                ));
            }
            if !priced && !c.line.taxes.is_empty() {
                violations.push(Violation::new(
                    at.field("taxes"),
                    "CFDI40201",
                    "a CFDI of type T or P carries no taxes",
                ));
            }
        }
        let computed = taxes::compute(
            &lines.iter().map(|c| c.line.clone()).collect::<Vec<_>>(),
            header.currency_decimals,
        );
        let computed = match computed {
            Ok(c) if violations.is_empty() => c,
            Ok(_) => return Err(violations),
            Err(more) => {
                for v in more {
                    violations.push(v);
                }
                return Err(violations);
            }
        };
        let conceptos = lines
            .into_iter()
            .zip(computed.lines)
            .map(|(c, amounts)| Concepto {
                clave_prod_serv: c.clave_prod_serv,
                no_identificacion: c.no_identificacion,
                cantidad: amounts.cantidad,
                clave_unidad: c.clave_unidad,
                unidad: c.unidad,
                descripcion: c.descripcion,
                valor_unitario: amounts.valor_unitario,
                importe: amounts.importe,
                descuento: amounts.descuento,
                objeto_imp: amounts.objeto_imp,
                traslados: amounts.traslados,
                retenciones: amounts.retenciones,
            })
            .collect();
        Ok(Self {
            serie: header.serie,
            folio: header.folio,
            fecha: header.fecha,
            sello: String::new(),
            forma_pago: header.forma_pago,
            no_certificado: String::new(),
            certificado: String::new(),
            condiciones_de_pago: header.condiciones_de_pago,
            sub_total: computed.sub_total,
            descuento: computed.descuento,
            moneda: header.moneda,
            tipo_cambio: header.tipo_cambio,
            total: computed.total,
            tipo_de_comprobante: header.tipo_de_comprobante,
            exportacion: header.exportacion,
            metodo_pago: header.metodo_pago,
            lugar_expedicion: header.lugar_expedicion,
            confirmacion: header.confirmacion,
            informacion_global: header.informacion_global,
            cfdi_relacionados: header.cfdi_relacionados,
            emisor: header.emisor,
            receptor: header.receptor,
            conceptos,
            impuestos: computed.impuestos,
            complementos: Vec::new(),
        })
    }

    /// Sets NoCertificado (the CSD's 20-digit serial) and Certificado (base64 DER). Do this
    /// before computing the cadena original: both are part of it.
    pub fn set_certificate(
        &mut self,
        no_certificado: impl Into<String>,
        certificado: impl Into<String>,
    ) {
        self.no_certificado = no_certificado.into();
        self.certificado = certificado.into();
    }

    /// Sets the Sello: base64(RSA-SHA256(cadena original)). Not part of the cadena.
    pub fn set_sello(&mut self, sello: impl Into<String>) {
        self.sello = sello.into();
    }

    /// Every concept amount outside SAT's límites (CFDI40167, CFDI40180, CFDI40186), pointing
    /// at `/conceptos/{i}/importe`, `/conceptos/{i}/traslados/{j}/importe`, ….
    pub fn limit_violations(&self) -> Violations {
        let mut violations = Violations::new();
        let at = Pointer::root().field("conceptos");
        for (i, c) in self.conceptos.iter().enumerate() {
            taxes::check_limits(
                c.cantidad,
                c.valor_unitario,
                c.importe,
                &c.traslados,
                &c.retenciones,
                &at.index(i),
                &mut violations,
            );
        }
        violations
    }
}

/// Whether XML 1.0 can carry `c` at all, even as a character reference.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Text the XSD accepts: `min..=max` characters, no `|` (it separates the cadena's fields),
/// nothing XML cannot carry. White space is allowed: SAT's schema and cadena collapse it.
fn text(value: &str, min: usize, max: usize, at: &Pointer, violations: &mut Violations) {
    let len = value.chars().count();
    if len < min || len > max {
        violations.push(Violation::new(
            at.clone(),
            "length",
            format!("must have {min} to {max} characters"),
        ));
    } else if value.chars().any(|c| c == '|' || !is_xml_char(c)) {
        violations.push(Violation::new(
            at.clone(),
            "invalid_characters",
            "must not contain '|' or control characters other than tab and line breaks",
        ));
    } else if value.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) {
        violations.push(Violation::new(at.clone(), "blank", "must not be blank"));
    }
}

fn opt_text(value: &Option<String>, max: usize, at: &Pointer, violations: &mut Violations) {
    if let Some(v) = value {
        text(v, 1, max, at, violations);
    }
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

fn check_header(h: &Header, violations: &mut Violations) {
    let root = Pointer::root();
    opt_text(&h.serie, 25, &root.field("serie"), violations);
    opt_text(&h.folio, 40, &root.field("folio"), violations);
    opt_text(
        &h.condiciones_de_pago,
        1000,
        &root.field("condiciones_de_pago"),
        violations,
    );
    text(
        &h.emisor.nombre,
        1,
        300,
        &root.field("emisor").field("nombre"),
        violations,
    );
    text(
        &h.receptor.nombre,
        1,
        300,
        &root.field("receptor").field("nombre"),
        violations,
    );
    opt_text(
        &h.receptor.num_reg_id_trib,
        40,
        &root.field("receptor").field("num_reg_id_trib"),
        violations,
    );
    if !(2010..=2099).contains(&h.fecha.year()) {
        violations.push(Violation::new(
            root.field("fecha"),
            "CFDI40101",
            "the date must be in the years 2010 to 2099",
        ));
    }
    let kind = h.tipo_de_comprobante;
    let no_payment_fields = matches!(kind, TipoDeComprobante::Traslado | TipoDeComprobante::Pago);
    if no_payment_fields && h.forma_pago.is_some() {
        violations.push(Violation::new(
            root.field("forma_pago"),
            "CFDI40103",
            "a CFDI of type T or P has no forma_pago",
        ));
    }
    if no_payment_fields && h.metodo_pago.is_some() {
        violations.push(Violation::new(
            root.field("metodo_pago"),
            "CFDI40125",
            "a CFDI of type T or P has no metodo_pago",
        ));
    }
    if h.metodo_pago.as_deref() == Some("PPD") && h.forma_pago.as_deref() != Some("99") {
        violations.push(Violation::new(
            root.field("forma_pago"),
            "CFDI40105",
            "with metodo_pago PPD the forma_pago must be 99 (por definir)",
        ));
    }
    let at_rate = root.field("tipo_cambio");
    match (h.moneda.as_str(), h.tipo_cambio) {
        ("XXX", Some(_)) => violations.push(Violation::new(
            at_rate,
            "CFDI40116",
            "no exchange rate with currency XXX",
        )),
        ("MXN", Some(rate)) if rate != Decimal::ONE => violations.push(Violation::new(
            at_rate,
            "CFDI40114",
            "with currency MXN the exchange rate is 1 or absent",
        )),
        ("MXN" | "XXX", _) => {}
        (_, None) => violations.push(Violation::new(
            at_rate,
            "CFDI40115",
            "an exchange rate is required for a currency other than MXN and XXX",
        )),
        (_, Some(rate)) if rate <= Decimal::ZERO || rate.normalize().scale() > 6 => violations
            .push(Violation::new(
                at_rate,
                "CFDI40117",
                "the exchange rate must be more than 0 with at most 6 decimals",
            )),
        _ => {}
    }
    let public = h.receptor.rfc == PUBLICO_EN_GENERAL_RFC
        && h.receptor.nombre.trim() == "PUBLICO EN GENERAL";
    if kind == TipoDeComprobante::Ingreso && public && h.informacion_global.is_none() {
        violations.push(Violation::new(
            root.field("informacion_global"),
            "CFDI40130",
            "an invoice to XAXX010101000 PUBLICO EN GENERAL needs informacion_global",
        ));
    }
    if let Some(global) = &h.informacion_global {
        let at = root.field("informacion_global").field("meses");
        let month: u8 = global.meses.parse().unwrap_or(0);
        let bimonthly = global.periodicidad == "05";
        if bimonthly && !(13..=18).contains(&month) {
            violations.push(Violation::new(
                at,
                "CFDI40135",
                "with periodicidad 05 the meses must be 13 to 18",
            ));
        } else if !bimonthly && (!(1..=12).contains(&month) || global.meses.len() != 2) {
            violations.push(Violation::new(
                at,
                "CFDI40134",
                "meses must be 01 to 12 unless periodicidad is 05",
            ));
        }
    }
    for (i, group) in h.cfdi_relacionados.iter().enumerate() {
        let at = root.field("cfdi_relacionados").index(i);
        if group.uuids.is_empty() {
            violations.push(Violation::new(
                at.field("uuids"),
                "no_uuids",
                "a relation needs at least one UUID",
            ));
        }
        for (j, uuid) in group.uuids.iter().enumerate() {
            if !is_uuid(uuid) {
                violations.push(Violation::new(
                    at.field("uuids").index(j),
                    "invalid_uuid",
                    "must be a UUID (8-4-4-4-12 hexadecimal digits)",
                ));
            }
        }
    }
}
