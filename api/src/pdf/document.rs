//! The view model: what the printout shows, read from the CFDI XML exactly as stored.
//!
//! Values stay as the XML's text (amounts are parsed only where the layout computes or formats
//! them), so the printout cannot disagree with the document SAT holds. Only the structure is
//! checked: a root `cfdi:Comprobante` 4.0 with an Emisor and a Receptor; anything else that is
//! missing simply is not printed.

use roxmltree::{Document as XmlDocument, Node};

use super::PdfError;

const CFDI: &str = "http://www.sat.gob.mx/cfd/4";
const TFD: &str = "http://www.sat.gob.mx/TimbreFiscalDigital";
const PAGOS: &str = "http://www.sat.gob.mx/Pagos20";

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Invoice {
    pub serie: Option<String>,
    pub folio: Option<String>,
    pub fecha: String,
    pub sello: Option<String>,
    pub forma_pago: Option<String>,
    pub no_certificado: Option<String>,
    pub condiciones_de_pago: Option<String>,
    pub sub_total: String,
    pub descuento: Option<String>,
    pub moneda: String,
    pub tipo_cambio: Option<String>,
    pub total: String,
    pub tipo_de_comprobante: String,
    pub exportacion: Option<String>,
    pub metodo_pago: Option<String>,
    pub lugar_expedicion: String,
    pub confirmacion: Option<String>,
    pub informacion_global: Option<InformacionGlobal>,
    pub relacionados: Vec<Relacionados>,
    pub emisor: Emisor,
    pub receptor: Receptor,
    pub conceptos: Vec<Concepto>,
    pub impuestos: Option<Impuestos>,
    pub timbre: Option<Timbre>,
    pub pagos: Vec<Pago>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct InformacionGlobal {
    pub periodicidad: String,
    pub meses: String,
    pub anio: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Relacionados {
    pub tipo_relacion: String,
    pub uuids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Emisor {
    pub rfc: String,
    pub nombre: String,
    pub regimen_fiscal: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Receptor {
    pub rfc: String,
    pub nombre: String,
    pub domicilio_fiscal: String,
    pub residencia_fiscal: Option<String>,
    pub num_reg_id_trib: Option<String>,
    pub regimen_fiscal: String,
    pub uso_cfdi: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Concepto {
    pub clave_prod_serv: String,
    pub no_identificacion: Option<String>,
    pub cantidad: String,
    pub clave_unidad: String,
    pub unidad: Option<String>,
    pub descripcion: String,
    pub valor_unitario: String,
    pub importe: String,
    pub descuento: Option<String>,
    pub objeto_imp: String,
    pub traslados: Vec<Tax>,
    pub retenciones: Vec<Tax>,
}

/// A traslado or retención, of a concept or of the totals (where retenciones carry only
/// Impuesto and Importe).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tax {
    pub base: Option<String>,
    pub impuesto: String,
    pub tipo_factor: Option<String>,
    pub tasa_o_cuota: Option<String>,
    pub importe: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Impuestos {
    pub total_retenidos: Option<String>,
    pub total_trasladados: Option<String>,
    pub retenciones: Vec<Tax>,
    pub traslados: Vec<Tax>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Timbre {
    pub uuid: String,
    pub fecha_timbrado: String,
    pub rfc_prov_certif: String,
    pub leyenda: Option<String>,
    pub sello_cfd: String,
    pub no_certificado_sat: String,
    pub sello_sat: String,
}

impl Timbre {
    /// The cadena original del complemento de certificación digital del SAT, as
    /// `cadenaoriginal_TFD_1_1.xslt` builds it (the same rules as `domain::stamp`, which
    /// builds it from a typed timbre: this one comes from the stored XML).
    pub fn cadena_original(&self) -> String {
        let mut cadena = String::from("||1.1");
        let fields = [
            Some(&self.uuid),
            Some(&self.fecha_timbrado),
            Some(&self.rfc_prov_certif),
            self.leyenda.as_ref(),
            Some(&self.sello_cfd),
            Some(&self.no_certificado_sat),
        ];
        for field in fields.into_iter().flatten() {
            cadena.push('|');
            cadena.push_str(&normalize_space(field));
        }
        cadena.push_str("||");
        cadena
    }
}

/// XPath's `normalize-space`: XML whitespace only, as the stylesheet applies it.
fn normalize_space(value: &str) -> String {
    value
        .split([' ', '\t', '\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `pago20:Pago` of a recibo electrónico de pago.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pago {
    pub fecha_pago: String,
    pub forma_de_pago: String,
    pub moneda: String,
    pub tipo_cambio: Option<String>,
    pub monto: String,
    pub num_operacion: Option<String>,
    pub documentos: Vec<DoctoRelacionado>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct DoctoRelacionado {
    pub id_documento: String,
    pub serie: Option<String>,
    pub folio: Option<String>,
    pub moneda: String,
    pub equivalencia: Option<String>,
    pub num_parcialidad: String,
    pub saldo_anterior: String,
    pub pagado: String,
    pub saldo_insoluto: String,
    pub objeto_imp: String,
}

impl Invoice {
    pub fn parse(xml: &str) -> Result<Self, PdfError> {
        let doc = XmlDocument::parse(xml)?;
        let root = doc.root_element();
        if !is(root, CFDI, "Comprobante") {
            return Err(PdfError::NotACfdi(
                "the root element is not cfdi:Comprobante",
            ));
        }
        if root.attribute("Version") != Some("4.0") {
            return Err(PdfError::NotACfdi("only CFDI 4.0 is supported"));
        }
        let emisor = child(root, CFDI, "Emisor").ok_or(PdfError::NotACfdi("no cfdi:Emisor"))?;
        let receptor =
            child(root, CFDI, "Receptor").ok_or(PdfError::NotACfdi("no cfdi:Receptor"))?;
        let complemento = child(root, CFDI, "Complemento");
        let in_complemento = |ns: &'static str, name: &'static str| {
            complemento
                .into_iter()
                .flat_map(move |c| children(c, ns, name))
        };

        Ok(Self {
            serie: opt(root, "Serie"),
            folio: opt(root, "Folio"),
            fecha: req(root, "Fecha"),
            sello: opt(root, "Sello").filter(|s| !s.is_empty()),
            forma_pago: opt(root, "FormaPago"),
            no_certificado: opt(root, "NoCertificado").filter(|s| !s.is_empty()),
            condiciones_de_pago: opt(root, "CondicionesDePago"),
            sub_total: req(root, "SubTotal"),
            descuento: opt(root, "Descuento"),
            moneda: req(root, "Moneda"),
            tipo_cambio: opt(root, "TipoCambio"),
            total: req(root, "Total"),
            tipo_de_comprobante: req(root, "TipoDeComprobante"),
            exportacion: opt(root, "Exportacion"),
            metodo_pago: opt(root, "MetodoPago"),
            lugar_expedicion: req(root, "LugarExpedicion"),
            confirmacion: opt(root, "Confirmacion"),
            informacion_global: child(root, CFDI, "InformacionGlobal").map(|g| InformacionGlobal {
                periodicidad: req(g, "Periodicidad"),
                meses: req(g, "Meses"),
                anio: req(g, "Año"),
            }),
            relacionados: children(root, CFDI, "CfdiRelacionados")
                .map(|r| Relacionados {
                    tipo_relacion: req(r, "TipoRelacion"),
                    uuids: children(r, CFDI, "CfdiRelacionado")
                        .map(|u| req(u, "UUID"))
                        .collect(),
                })
                .collect(),
            emisor: Emisor {
                rfc: req(emisor, "Rfc"),
                nombre: req(emisor, "Nombre"),
                regimen_fiscal: req(emisor, "RegimenFiscal"),
            },
            receptor: Receptor {
                rfc: req(receptor, "Rfc"),
                nombre: req(receptor, "Nombre"),
                domicilio_fiscal: req(receptor, "DomicilioFiscalReceptor"),
                residencia_fiscal: opt(receptor, "ResidenciaFiscal"),
                num_reg_id_trib: opt(receptor, "NumRegIdTrib"),
                regimen_fiscal: req(receptor, "RegimenFiscalReceptor"),
                uso_cfdi: req(receptor, "UsoCFDI"),
            },
            conceptos: child(root, CFDI, "Conceptos")
                .into_iter()
                .flat_map(|c| children(c, CFDI, "Concepto"))
                .map(concepto)
                .collect(),
            impuestos: child(root, CFDI, "Impuestos").map(|i| Impuestos {
                total_retenidos: opt(i, "TotalImpuestosRetenidos"),
                total_trasladados: opt(i, "TotalImpuestosTrasladados"),
                retenciones: taxes(i, "Retenciones", "Retencion"),
                traslados: taxes(i, "Traslados", "Traslado"),
            }),
            timbre: in_complemento(TFD, "TimbreFiscalDigital")
                .next()
                .map(|t| Timbre {
                    uuid: req(t, "UUID"),
                    fecha_timbrado: req(t, "FechaTimbrado"),
                    rfc_prov_certif: req(t, "RfcProvCertif"),
                    leyenda: opt(t, "Leyenda"),
                    sello_cfd: req(t, "SelloCFD"),
                    no_certificado_sat: req(t, "NoCertificadoSAT"),
                    sello_sat: req(t, "SelloSAT"),
                }),
            pagos: in_complemento(PAGOS, "Pagos")
                .flat_map(|p| children(p, PAGOS, "Pago"))
                .map(pago)
                .collect(),
        })
    }

    /// Whether a PAC stamped this document (a draft has no timbre).
    pub fn is_stamped(&self) -> bool {
        self.timbre.is_some()
    }
}

fn concepto(c: Node<'_, '_>) -> Concepto {
    let impuestos = child(c, CFDI, "Impuestos");
    let taxes_of = |list, item| impuestos.map(|i| taxes(i, list, item)).unwrap_or_default();
    Concepto {
        clave_prod_serv: req(c, "ClaveProdServ"),
        no_identificacion: opt(c, "NoIdentificacion"),
        cantidad: req(c, "Cantidad"),
        clave_unidad: req(c, "ClaveUnidad"),
        unidad: opt(c, "Unidad"),
        descripcion: req(c, "Descripcion"),
        valor_unitario: req(c, "ValorUnitario"),
        importe: req(c, "Importe"),
        descuento: opt(c, "Descuento"),
        objeto_imp: req(c, "ObjetoImp"),
        traslados: taxes_of("Traslados", "Traslado"),
        retenciones: taxes_of("Retenciones", "Retencion"),
    }
}

fn taxes(impuestos: Node<'_, '_>, list: &'static str, item: &'static str) -> Vec<Tax> {
    child(impuestos, CFDI, list)
        .into_iter()
        .flat_map(|l| children(l, CFDI, item))
        .map(|t| Tax {
            base: opt(t, "Base"),
            impuesto: req(t, "Impuesto"),
            tipo_factor: opt(t, "TipoFactor"),
            tasa_o_cuota: opt(t, "TasaOCuota"),
            importe: opt(t, "Importe"),
        })
        .collect()
}

fn pago(p: Node<'_, '_>) -> Pago {
    Pago {
        fecha_pago: req(p, "FechaPago"),
        forma_de_pago: req(p, "FormaDePagoP"),
        moneda: req(p, "MonedaP"),
        tipo_cambio: opt(p, "TipoCambioP"),
        monto: req(p, "Monto"),
        num_operacion: opt(p, "NumOperacion"),
        documentos: children(p, PAGOS, "DoctoRelacionado")
            .map(|d| DoctoRelacionado {
                id_documento: req(d, "IdDocumento"),
                serie: opt(d, "Serie"),
                folio: opt(d, "Folio"),
                moneda: req(d, "MonedaDR"),
                equivalencia: opt(d, "EquivalenciaDR"),
                num_parcialidad: req(d, "NumParcialidad"),
                saldo_anterior: req(d, "ImpSaldoAnt"),
                pagado: req(d, "ImpPagado"),
                saldo_insoluto: req(d, "ImpSaldoInsoluto"),
                objeto_imp: req(d, "ObjetoImpDR"),
            })
            .collect(),
    }
}

fn is(node: Node<'_, '_>, namespace: &str, name: &str) -> bool {
    node.is_element()
        && node.tag_name().name() == name
        && node.tag_name().namespace() == Some(namespace)
}

fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    namespace: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |c| is(*c, namespace, name))
}

fn child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    namespace: &'static str,
    name: &'static str,
) -> Option<Node<'a, 'input>> {
    children(node, namespace, name).next()
}

fn opt(node: Node<'_, '_>, name: &str) -> Option<String> {
    node.attribute(name).map(str::to_owned)
}

/// A required attribute; a document without it prints an empty field rather than failing,
/// since the stored XML was validated before it was stored.
fn req(node: Node<'_, '_>, name: &str) -> String {
    node.attribute(name).unwrap_or_default().to_owned()
}
