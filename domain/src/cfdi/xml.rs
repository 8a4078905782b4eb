//! The CFDI 4.0 XML writer: [`Comprobante::to_xml`] writes straight into a `String` (no DOM),
//! elements in the order of `cfdv40.xsd`, attributes in the XSD's order, no indentation.
//!
//! The attribute lists below are shared with the cadena original ([`super::cadena`]), so the
//! XML and the cadena cannot disagree on a value. Amounts are written with the decimals the
//! tax engine gave them (`Decimal`'s own scale, never scientific notation).
//!
//! Attribute values are escaped so that a parser reads back exactly the model's text: `&`,
//! `<`, `>`, `"` as entities, and tab, line feed and carriage return as character references
//! (`&#9;`, `&#10;`, `&#13;`) because a literal one would be turned into a space by XML's
//! attribute-value normalization. Characters XML 1.0 cannot carry at all (other C0 controls,
//! U+FFFE, U+FFFF) are dropped; [`Comprobante::build`] refuses them up front.

use std::fmt::{self, Write as _};

use rust_decimal::Decimal;

use super::model::{Comprobante, Concepto, is_xml_char};
use super::taxes::{Retencion, RetencionTotal, Traslado};

const CFDI_NAMESPACE: &str = "http://www.sat.gob.mx/cfd/4";
const SCHEMA_LOCATION: &str =
    "http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd";

/// One attribute value of the model, formatted without allocating.
#[derive(Debug, Clone, Copy)]
pub(super) enum Value<'a> {
    Text(&'a str),
    Amount(Decimal),
    Year(u16),
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(s) => f.write_str(s),
            // A zero that came out of a subtraction may carry a sign; SAT's pattern has none.
            Self::Amount(d) if d.is_zero() => write!(f, "{}", d.abs()),
            Self::Amount(d) => write!(f, "{d}"),
            Self::Year(y) => write!(f, "{y}"),
        }
    }
}

/// An attribute: its name and its value, `None` when an optional attribute is absent.
pub(super) type Attr<'a> = (&'static str, Option<Value<'a>>);

fn text(s: &str) -> Option<Value<'_>> {
    Some(Value::Text(s))
}

fn opt_text(s: &Option<String>) -> Option<Value<'_>> {
    s.as_deref().map(Value::Text)
}

fn amount(d: Decimal) -> Option<Value<'static>> {
    Some(Value::Amount(d))
}

/// The Comprobante's attributes; `fecha` is [`fecha`]`(c)`, formatted once by the caller.
pub(super) fn comprobante_attrs<'a>(c: &'a Comprobante, fecha: &'a str) -> [Attr<'a>; 19] {
    [
        ("Version", text("4.0")),
        ("Serie", opt_text(&c.serie)),
        ("Folio", opt_text(&c.folio)),
        ("Fecha", text(fecha)),
        ("Sello", text(&c.sello)),
        ("FormaPago", opt_text(&c.forma_pago)),
        ("NoCertificado", text(&c.no_certificado)),
        ("Certificado", text(&c.certificado)),
        ("CondicionesDePago", opt_text(&c.condiciones_de_pago)),
        ("SubTotal", amount(c.sub_total)),
        ("Descuento", c.descuento.map(Value::Amount)),
        ("Moneda", text(&c.moneda)),
        ("TipoCambio", c.tipo_cambio.map(Value::Amount)),
        ("Total", amount(c.total)),
        ("TipoDeComprobante", text(c.tipo_de_comprobante.code())),
        ("Exportacion", text(&c.exportacion)),
        ("MetodoPago", opt_text(&c.metodo_pago)),
        ("LugarExpedicion", text(&c.lugar_expedicion)),
        ("Confirmacion", opt_text(&c.confirmacion)),
    ]
}

/// `YYYY-MM-DDTHH:MM:SS`, SAT's t_FechaH (no fraction, no offset).
pub(super) fn fecha(c: &Comprobante) -> String {
    c.fecha.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub(super) fn concepto_attrs(c: &Concepto) -> [Attr<'_>; 10] {
    [
        ("ClaveProdServ", text(&c.clave_prod_serv)),
        ("NoIdentificacion", opt_text(&c.no_identificacion)),
        ("Cantidad", amount(c.cantidad)),
        ("ClaveUnidad", text(&c.clave_unidad)),
        ("Unidad", opt_text(&c.unidad)),
        ("Descripcion", text(&c.descripcion)),
        ("ValorUnitario", amount(c.valor_unitario)),
        ("Importe", amount(c.importe)),
        ("Descuento", c.descuento.map(Value::Amount)),
        ("ObjetoImp", text(c.objeto_imp.code())),
    ]
}

pub(super) fn traslado_attrs(t: &Traslado) -> [Attr<'_>; 5] {
    [
        ("Base", amount(t.base)),
        ("Impuesto", text(t.impuesto.code())),
        ("TipoFactor", text(t.tipo_factor.code())),
        ("TasaOCuota", t.tasa_o_cuota.map(Value::Amount)),
        ("Importe", t.importe.map(Value::Amount)),
    ]
}

pub(super) fn retencion_attrs(r: &Retencion) -> [Attr<'_>; 5] {
    [
        ("Base", amount(r.base)),
        ("Impuesto", text(r.impuesto.code())),
        ("TipoFactor", text(r.tipo_factor.code())),
        ("TasaOCuota", amount(r.tasa_o_cuota)),
        ("Importe", amount(r.importe)),
    ]
}

pub(super) fn retencion_total_attrs(r: &RetencionTotal) -> [Attr<'_>; 2] {
    [
        ("Impuesto", text(r.impuesto.code())),
        ("Importe", amount(r.importe)),
    ]
}

pub(super) fn emisor_attrs(c: &Comprobante) -> [Attr<'_>; 4] {
    let e = &c.emisor;
    [
        ("Rfc", text(&e.rfc)),
        ("Nombre", text(&e.nombre)),
        ("RegimenFiscal", text(&e.regimen_fiscal)),
        ("FacAtrAdquirente", opt_text(&e.fac_atr_adquirente)),
    ]
}

pub(super) fn receptor_attrs(c: &Comprobante) -> [Attr<'_>; 7] {
    let r = &c.receptor;
    [
        ("Rfc", text(&r.rfc)),
        ("Nombre", text(&r.nombre)),
        (
            "DomicilioFiscalReceptor",
            text(&r.domicilio_fiscal_receptor),
        ),
        ("ResidenciaFiscal", opt_text(&r.residencia_fiscal)),
        ("NumRegIdTrib", opt_text(&r.num_reg_id_trib)),
        ("RegimenFiscalReceptor", text(&r.regimen_fiscal_receptor)),
        ("UsoCFDI", text(&r.uso_cfdi)),
    ]
}

/// Appends `value` escaped for a double-quoted attribute (see the module docs).
pub fn escape_attribute(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => {}
        }
    }
}

/// Writes XML into one `String`; `fmt::Write` into a `String` cannot fail.
struct Writer {
    out: String,
}

impl Writer {
    fn open(&mut self, name: &str, attrs: &[Attr<'_>]) {
        self.out.push('<');
        self.out.push_str(name);
        self.attrs(attrs);
    }

    fn attrs(&mut self, attrs: &[Attr<'_>]) {
        for (name, value) in attrs {
            if let Some(value) = value {
                self.attr(name, *value);
            }
        }
    }

    fn attr(&mut self, name: &str, value: Value<'_>) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        match value {
            Value::Text(s) => escape_attribute(s, &mut self.out),
            // Digits and a point: nothing to escape.
            other => {
                let _ = write!(self.out, "{other}");
            }
        }
        self.out.push('"');
    }

    /// Ends the start tag: `/>` when the element has no children.
    fn end_start(&mut self, empty: bool) {
        self.out.push_str(if empty { "/>" } else { ">" });
    }

    fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    fn empty(&mut self, name: &str, attrs: &[Attr<'_>]) {
        self.open(name, attrs);
        self.end_start(true);
    }
}

impl Comprobante {
    /// The CFDI as UTF-8 XML (`cfdi` namespace, `xsi:schemaLocation`, deterministic order).
    pub fn to_xml(&self) -> String {
        let mut w = Writer {
            out: String::with_capacity(2048 + 1024 * self.conceptos.len()),
        };
        w.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        w.out.push_str("<cfdi:Comprobante xmlns:cfdi=\"");
        w.out.push_str(CFDI_NAMESPACE);
        w.out.push_str(
            "\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"",
        );
        w.out.push_str(SCHEMA_LOCATION);
        w.out.push('"');
        let fecha = fecha(self);
        w.attrs(&comprobante_attrs(self, &fecha));
        w.end_start(false);

        if let Some(g) = &self.informacion_global {
            w.empty(
                "cfdi:InformacionGlobal",
                &[
                    ("Periodicidad", text(&g.periodicidad)),
                    ("Meses", text(&g.meses)),
                    ("Año", Some(Value::Year(g.anio))),
                ],
            );
        }
        for group in &self.cfdi_relacionados {
            w.open(
                "cfdi:CfdiRelacionados",
                &[("TipoRelacion", text(&group.tipo_relacion))],
            );
            w.end_start(false);
            for uuid in &group.uuids {
                w.empty("cfdi:CfdiRelacionado", &[("UUID", text(uuid))]);
            }
            w.close("cfdi:CfdiRelacionados");
        }
        w.empty("cfdi:Emisor", &emisor_attrs(self));
        w.empty("cfdi:Receptor", &receptor_attrs(self));
        w.out.push_str("<cfdi:Conceptos>");
        for c in &self.conceptos {
            write_concepto(&mut w, c);
        }
        w.close("cfdi:Conceptos");
        if let Some(imp) = &self.impuestos {
            w.open(
                "cfdi:Impuestos",
                &[
                    (
                        "TotalImpuestosRetenidos",
                        imp.total_impuestos_retenidos.map(Value::Amount),
                    ),
                    (
                        "TotalImpuestosTrasladados",
                        imp.total_impuestos_trasladados.map(Value::Amount),
                    ),
                ],
            );
            w.end_start(false);
            if !imp.retenciones.is_empty() {
                w.out.push_str("<cfdi:Retenciones>");
                for r in &imp.retenciones {
                    w.empty("cfdi:Retencion", &retencion_total_attrs(r));
                }
                w.close("cfdi:Retenciones");
            }
            if !imp.traslados.is_empty() {
                w.out.push_str("<cfdi:Traslados>");
                for t in &imp.traslados {
                    w.empty("cfdi:Traslado", &traslado_attrs(t));
                }
                w.close("cfdi:Traslados");
            }
            w.close("cfdi:Impuestos");
        }
        if !self.complementos.is_empty() {
            w.out.push_str("<cfdi:Complemento>");
            for c in &self.complementos {
                w.out.push_str(&c.xml);
            }
            w.close("cfdi:Complemento");
        }
        w.close("cfdi:Comprobante");
        w.out
    }
}

fn write_concepto(w: &mut Writer, c: &Concepto) {
    w.open("cfdi:Concepto", &concepto_attrs(c));
    let has_taxes = !c.traslados.is_empty() || !c.retenciones.is_empty();
    w.end_start(!has_taxes);
    if !has_taxes {
        return;
    }
    w.out.push_str("<cfdi:Impuestos>");
    if !c.traslados.is_empty() {
        w.out.push_str("<cfdi:Traslados>");
        for t in &c.traslados {
            w.empty("cfdi:Traslado", &traslado_attrs(t));
        }
        w.close("cfdi:Traslados");
    }
    if !c.retenciones.is_empty() {
        w.out.push_str("<cfdi:Retenciones>");
        for r in &c.retenciones {
            w.empty("cfdi:Retencion", &retencion_attrs(r));
        }
        w.close("cfdi:Retenciones");
    }
    w.close("cfdi:Impuestos");
    w.close("cfdi:Concepto");
}
