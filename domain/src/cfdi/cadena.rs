//! The cadena original of a CFDI 4.0, computed from the model: byte for byte what
//! `xsltproc cadenaoriginal_4_0.xslt` gives for the XML [`Comprobante::to_xml`] writes.
//!
//! What SAT's stylesheet does, and this mirrors:
//! - `||` opens the cadena (`|` of the root template and the `|` of Version) and `||` closes
//!   it; every field is `|` + its value; no trailing newline.
//! - "Requerido" fields are always written (empty if absent), "Opcional" ones only when the
//!   attribute exists. The model has a value for every required field, so both come down to
//!   "write what the XML has".
//! - Each value goes through XPath's `normalize-space`: leading and trailing white space
//!   removed, inner runs collapsed to one space. XPath's white space is only space, tab, CR
//!   and LF (not NBSP or other Unicode spaces).
//! - Sello and Certificado are not in the cadena; NoCertificado is.
//! - Node order: Comprobante, InformacionGlobal, each CfdiRelacionados (TipoRelacion, UUIDs),
//!   Emisor, Receptor, each Concepto (its attributes, then its Traslados, then its Retenciones),
//!   then the Comprobante's Impuestos in the stylesheet's order: each Retencion (Impuesto,
//!   Importe), TotalImpuestosRetenidos, each Traslado, TotalImpuestosTrasladados.
//! - Complemento: each child contributes what its own stylesheet outputs
//!   ([`super::model::Complemento::cadena`]); the TimbreFiscalDigital contributes nothing.

use super::model::{Comprobante, is_xml_char};
use super::xml::{
    Attr, Value, comprobante_attrs, concepto_attrs, emisor_attrs, fecha, receptor_attrs,
    retencion_attrs, retencion_total_attrs, traslado_attrs,
};

/// XPath 1.0 white space.
fn is_xpath_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Appends `|` and `value` as SAT's `Requerido`/`Opcional` templates write it (XPath
/// `normalize-space`), for modules that compute a complement's part of the cadena. Characters
/// the XML writer drops are dropped here too, so the cadena matches the XML actually written.
pub fn push_field(out: &mut String, value: &str) {
    out.push('|');
    let mut words = value
        .split(is_xpath_space)
        .filter(|w| !w.is_empty())
        .peekable();
    while let Some(word) = words.next() {
        out.extend(word.chars().filter(|c| is_xml_char(*c)));
        if words.peek().is_some() {
            out.push(' ');
        }
    }
}

fn fields(out: &mut String, attrs: &[Attr<'_>]) {
    for (_, value) in attrs {
        if let Some(value) = value {
            push_field(out, &value.to_string());
        }
    }
}

impl Comprobante {
    /// The cadena original (`||4.0|…||`), the text the Sello signs.
    pub fn cadena_original(&self) -> String {
        let mut out = String::with_capacity(1024 + 512 * self.conceptos.len());
        out.push('|');
        let fecha = fecha(self);
        let attrs = comprobante_attrs(self, &fecha);
        let in_cadena = attrs
            .iter()
            .filter(|(name, _)| !matches!(*name, "Sello" | "Certificado"))
            .copied()
            .collect::<Vec<_>>();
        fields(&mut out, &in_cadena);
        if let Some(g) = &self.informacion_global {
            push_field(&mut out, &g.periodicidad);
            push_field(&mut out, &g.meses);
            push_field(&mut out, &g.anio.to_string());
        }
        for group in &self.cfdi_relacionados {
            push_field(&mut out, &group.tipo_relacion);
            for uuid in &group.uuids {
                push_field(&mut out, uuid);
            }
        }
        fields(&mut out, &emisor_attrs(self));
        fields(&mut out, &receptor_attrs(self));
        for c in &self.conceptos {
            fields(&mut out, &concepto_attrs(c));
            for t in &c.traslados {
                fields(&mut out, &traslado_attrs(t));
            }
            for r in &c.retenciones {
                fields(&mut out, &retencion_attrs(r));
            }
        }
        if let Some(imp) = &self.impuestos {
            for r in &imp.retenciones {
                fields(&mut out, &retencion_total_attrs(r));
            }
            if let Some(total) = imp.total_impuestos_retenidos {
                push_field(&mut out, &Value::Amount(total).to_string());
            }
            for t in &imp.traslados {
                fields(&mut out, &traslado_attrs(t));
            }
            if let Some(total) = imp.total_impuestos_trasladados {
                push_field(&mut out, &Value::Amount(total).to_string());
            }
        }
        for complemento in &self.complementos {
            out.push_str(&complemento.cadena);
        }
        out.push_str("||");
        out
    }
}
