//! Renders fixture CFDIs and reads the PDFs back with poppler's `pdftotext` and `pdftoppm`
//! (Debian package `poppler-utils`), decoding the QR code with `rqrr`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use base64::Engine as _;

use super::*;

// ---------------------------------------------------------------- fixtures

const EMISOR: &str =
    r#"<cfdi:Emisor Rfc="EKU9003173C9" Nombre="ESCUELA KEMPER URGATE" RegimenFiscal="601"/>"#;

/// A receptor whose RFC has the two characters SAT's QR rules care about: `&` and `Ñ`.
const RECEPTOR: &str = r#"<cfdi:Receptor Rfc="PÑ&amp;800101AB1" Nombre="PEÑA &amp; HIJOS DISEÑO GRÁFICO" DomicilioFiscalReceptor="06600" RegimenFiscalReceptor="601" UsoCFDI="G03"/>"#;
const RECEPTOR_RFC: &str = "PÑ&800101AB1";

const UUID: &str = "6128396F-C09B-4EC6-8699-43C5A8C3B8E2";

fn base64_of(seed: u8) -> String {
    let bytes: Vec<u8> = (0..=255u8)
        .map(|b| b.wrapping_mul(31).wrapping_add(seed))
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sello() -> String {
    base64_of(7)
}

/// A CFDI 4.0 as our XML writer lays it out: `attrs` are the Comprobante's own attributes
/// (without Sello/NoCertificado/Certificado), `body` its children up to cfdi:Impuestos.
/// Stamped documents get the seal attributes and a TimbreFiscalDigital; `extra_complement`
/// goes in cfdi:Complemento (pago20:Pagos).
fn cfdi(attrs: &str, body: &str, stamped: bool, extra_complement: &str) -> String {
    let seal = if stamped {
        format!(
            r#" Sello="{}" NoCertificado="30001000000500003416" Certificado="{}""#,
            sello(),
            base64_of(3)
        )
    } else {
        String::new()
    };
    let timbre = if stamped {
        format!(
            r#"<tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.sat.gob.mx/TimbreFiscalDigital http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd" Version="1.1" UUID="{UUID}" FechaTimbrado="2026-03-02T10:15:31" RfcProvCertif="SPR190613I52" SelloCFD="{}" NoCertificadoSAT="00001000000509846663" SelloSAT="{}"/>"#,
            sello(),
            base64_of(11)
        )
    } else {
        String::new()
    };
    let complemento = if stamped || !extra_complement.is_empty() {
        format!("<cfdi:Complemento>{extra_complement}{timbre}</cfdi:Complemento>")
    } else {
        String::new()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<cfdi:Comprobante xmlns:cfdi="http://www.sat.gob.mx/cfd/4" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.sat.gob.mx/cfd/4 http://www.sat.gob.mx/sitio_internet/cfd/4/cfdv40.xsd" Version="4.0"{attrs}{seal}>{body}{complemento}</cfdi:Comprobante>"#
    )
}

fn iva16(base: &str, importe: &str) -> String {
    format!(
        r#"<cfdi:Traslado Base="{base}" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="{importe}"/>"#
    )
}

#[expect(
    clippy::too_many_arguments,
    reason = "a fixture builder: one argument per XML attribute"
)]
fn concepto(
    clave: &str,
    no_id: &str,
    cantidad: &str,
    unidad: (&str, &str),
    descripcion: &str,
    valor: &str,
    importe: &str,
    descuento: Option<&str>,
    taxes: &str,
) -> String {
    let descuento = descuento.map_or(String::new(), |d| format!(r#" Descuento="{d}""#));
    let (objeto, impuestos) = if taxes.is_empty() {
        ("01", String::new())
    } else {
        ("02", format!("<cfdi:Impuestos>{taxes}</cfdi:Impuestos>"))
    };
    format!(
        r#"<cfdi:Concepto ClaveProdServ="{clave}" NoIdentificacion="{no_id}" Cantidad="{cantidad}" ClaveUnidad="{}" Unidad="{}" Descripcion="{descripcion}" ValorUnitario="{valor}" Importe="{importe}"{descuento} ObjetoImp="{objeto}">{impuestos}</cfdi:Concepto>"#,
        unidad.0, unidad.1
    )
}

const LONG_DESCRIPTION: &str = "Servicios de consultoría fiscal y contable: revisión de \
    declaraciones, conciliación bancaria, diseño de pólizas y atención a requerimientos del SAT \
    «urgente» – ¿incluye viáticos? ¡Sí! Pingüino Ñandú, cargo en € convertido.";

/// Three lines with IVA 16 %, a discount, and ISR and IVA withheld (the first three concepts
/// of CFDI-RULES.md's worked example).
fn ingreso(stamped: bool) -> String {
    let conceptos = [
        concepto(
            "43232408",
            "SOFT-001",
            "2",
            ("E48", "Servicio"),
            "Licencia anual de software de facturación",
            "1250.50",
            "2501.000000",
            None,
            &format!("<cfdi:Traslados>{}</cfdi:Traslados>", iva16("2501.000000", "400.160000")),
        ),
        concepto(
            "81112100",
            "HOST-12",
            "3",
            ("E48", "Servicio"),
            "Hospedaje en la nube, plan mensual",
            "333.33",
            "999.990000",
            Some("100.000000"),
            &format!("<cfdi:Traslados>{}</cfdi:Traslados>", iva16("899.990000", "143.998400")),
        ),
        concepto(
            "80101500",
            "CONS-2026",
            "1",
            ("E48", "Servicio"),
            LONG_DESCRIPTION,
            "10000.00",
            "10000.000000",
            None,
            &format!(
                r#"<cfdi:Traslados>{}</cfdi:Traslados><cfdi:Retenciones><cfdi:Retencion Base="10000.000000" Impuesto="001" TipoFactor="Tasa" TasaOCuota="0.100000" Importe="1000.000000"/><cfdi:Retencion Base="10000.000000" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.106667" Importe="1066.670000"/></cfdi:Retenciones>"#,
                iva16("10000.000000", "1600.000000")
            ),
        ),
    ]
    .concat();
    let body = format!(
        r#"{EMISOR}{RECEPTOR}<cfdi:Conceptos>{conceptos}</cfdi:Conceptos><cfdi:Impuestos TotalImpuestosRetenidos="2066.67" TotalImpuestosTrasladados="2144.16"><cfdi:Retenciones><cfdi:Retencion Impuesto="001" Importe="1000.00"/><cfdi:Retencion Impuesto="002" Importe="1066.67"/></cfdi:Retenciones><cfdi:Traslados><cfdi:Traslado Base="13400.99" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="2144.16"/></cfdi:Traslados></cfdi:Impuestos>"#
    );
    let serie = if stamped {
        r#" Serie="A" Folio="1024""#
    } else {
        ""
    };
    cfdi(
        &format!(
            r#"{serie} Fecha="2026-03-02T10:12:05" FormaPago="99" CondicionesDePago="30 días naturales" SubTotal="13500.99" Descuento="100.00" Moneda="MXN" Total="13478.48" TipoDeComprobante="I" Exportacion="01" MetodoPago="PPD" LugarExpedicion="20000""#
        ),
        &body,
        stamped,
        "",
    )
}

fn nota_de_credito() -> String {
    let conceptos = concepto(
        "84111506",
        "DEV-1",
        "1",
        ("ACT", "Actividad"),
        "Devolución parcial de la factura A-1024",
        "500.00",
        "500.000000",
        None,
        &format!(
            "<cfdi:Traslados>{}</cfdi:Traslados>",
            iva16("500.000000", "80.000000")
        ),
    );
    let body = format!(
        r#"<cfdi:CfdiRelacionados TipoRelacion="01"><cfdi:CfdiRelacionado UUID="{UUID}"/><cfdi:CfdiRelacionado UUID="0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"/></cfdi:CfdiRelacionados>{EMISOR}{RECEPTOR}<cfdi:Conceptos>{conceptos}</cfdi:Conceptos><cfdi:Impuestos TotalImpuestosTrasladados="80.00"><cfdi:Traslados><cfdi:Traslado Base="500.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="80.00"/></cfdi:Traslados></cfdi:Impuestos>"#
    );
    cfdi(
        r#" Serie="NC" Folio="7" Fecha="2026-03-05T09:00:00" FormaPago="03" SubTotal="500.00" Moneda="MXN" Total="580.00" TipoDeComprobante="E" Exportacion="01" MetodoPago="PUE" LugarExpedicion="20000""#,
        &body,
        true,
        "",
    )
}

fn factura_usd() -> String {
    let conceptos = concepto(
        "43232408",
        "SAAS-US",
        "1",
        ("E48", "Servicio"),
        "Suscripción anual",
        "1000.00",
        "1000.000000",
        None,
        &format!(
            "<cfdi:Traslados>{}</cfdi:Traslados>",
            iva16("1000.000000", "160.000000")
        ),
    );
    let body = format!(
        r#"{EMISOR}{RECEPTOR}<cfdi:Conceptos>{conceptos}</cfdi:Conceptos><cfdi:Impuestos TotalImpuestosTrasladados="160.00"><cfdi:Traslados><cfdi:Traslado Base="1000.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="160.00"/></cfdi:Traslados></cfdi:Impuestos>"#
    );
    cfdi(
        r#" Serie="USD" Folio="15" Fecha="2026-03-06T12:00:00" FormaPago="03" SubTotal="1000.00" Moneda="USD" TipoCambio="17.2345" Total="1160.00" TipoDeComprobante="I" Exportacion="01" MetodoPago="PUE" LugarExpedicion="20000""#,
        &body,
        true,
        "",
    )
}

fn factura_global() -> String {
    let conceptos: String = (1..=3)
        .map(|n| {
            concepto(
                "01010101",
                &format!("TICKET-{n}"),
                "1",
                ("ACT", "Actividad"),
                "Venta",
                "100.00",
                "100.000000",
                None,
                &format!(
                    "<cfdi:Traslados>{}</cfdi:Traslados>",
                    iva16("100.000000", "16.000000")
                ),
            )
        })
        .collect();
    let body = format!(
        r#"<cfdi:InformacionGlobal Periodicidad="04" Meses="02" Año="2026"/>{EMISOR}<cfdi:Receptor Rfc="XAXX010101000" Nombre="PUBLICO EN GENERAL" DomicilioFiscalReceptor="20000" RegimenFiscalReceptor="616" UsoCFDI="S01"/><cfdi:Conceptos>{conceptos}</cfdi:Conceptos><cfdi:Impuestos TotalImpuestosTrasladados="48.00"><cfdi:Traslados><cfdi:Traslado Base="300.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="48.00"/></cfdi:Traslados></cfdi:Impuestos>"#
    );
    cfdi(
        r#" Serie="G" Folio="2" Fecha="2026-03-01T08:00:00" FormaPago="01" SubTotal="300.00" Moneda="MXN" Total="348.00" TipoDeComprobante="I" Exportacion="01" MetodoPago="PUE" LugarExpedicion="20000""#,
        &body,
        true,
        "",
    )
}

fn factura_larga(lines: usize) -> String {
    let conceptos: String = (1..=lines)
        .map(|n| {
            let description = if n % 10 == 0 {
                format!("Artículo {n}: {LONG_DESCRIPTION}")
            } else {
                format!("Artículo número {n} del catálogo")
            };
            concepto(
                "43211500",
                &format!("ART-{n:04}"),
                "1",
                ("H87", "Pieza"),
                &description,
                "100.00",
                "100.000000",
                None,
                &format!(
                    "<cfdi:Traslados>{}</cfdi:Traslados>",
                    iva16("100.000000", "16.000000")
                ),
            )
        })
        .collect();
    let sub_total = 100 * lines;
    let iva = 16 * lines;
    let body = format!(
        r#"{EMISOR}{RECEPTOR}<cfdi:Conceptos>{conceptos}</cfdi:Conceptos><cfdi:Impuestos TotalImpuestosTrasladados="{iva}.00"><cfdi:Traslados><cfdi:Traslado Base="{sub_total}.00" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000" Importe="{iva}.00"/></cfdi:Traslados></cfdi:Impuestos>"#
    );
    cfdi(
        &format!(
            r#" Serie="L" Folio="99" Fecha="2026-03-07T16:45:00" FormaPago="03" SubTotal="{sub_total}.00" Moneda="MXN" Total="{}.00" TipoDeComprobante="I" Exportacion="01" MetodoPago="PUE" LugarExpedicion="20000""#,
            sub_total + iva
        ),
        &body,
        true,
        "",
    )
}

fn recibo_de_pago() -> String {
    let pagos = format!(
        r#"<pago20:Pagos xmlns:pago20="http://www.sat.gob.mx/Pagos20" Version="2.0"><pago20:Totales TotalTrasladosBaseIVA16="6896.55" TotalTrasladosImpuestoIVA16="1103.45" MontoTotalPagos="8000.00"/><pago20:Pago FechaPago="2026-03-20T12:00:00" FormaDePagoP="03" MonedaP="MXN" TipoCambioP="1" Monto="8000.00" NumOperacion="SPEI-123456"><pago20:DoctoRelacionado IdDocumento="{UUID}" Serie="A" Folio="1024" MonedaDR="MXN" EquivalenciaDR="1" NumParcialidad="1" ImpSaldoAnt="13478.48" ImpPagado="8000.00" ImpSaldoInsoluto="5478.48" ObjetoImpDR="02"/></pago20:Pago></pago20:Pagos>"#
    );
    let body = format!(
        r#"{EMISOR}{RECEPTOR}<cfdi:Conceptos><cfdi:Concepto ClaveProdServ="84111506" Cantidad="1" ClaveUnidad="ACT" Descripcion="Pago" ValorUnitario="0" Importe="0" ObjetoImp="01"/></cfdi:Conceptos>"#
    );
    cfdi(
        r#" Serie="P" Folio="3" Fecha="2026-03-20T13:00:00" SubTotal="0" Moneda="XXX" Total="0" TipoDeComprobante="P" Exportacion="01" LugarExpedicion="20000""#,
        &body,
        true,
        &pagos,
    )
}

// ---------------------------------------------------------------- poppler

fn tool(name: &str) -> Command {
    let found = Command::new(name)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "{name} is required by the PDF tests (and by CI): apt-get install poppler-utils"
    );
    Command::new(name)
}

fn write_pdf(pdf: &[u8]) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".pdf").tempfile().unwrap();
    file.write_all(pdf).unwrap();
    file
}

/// The text of pages `first..=last` (all when `None`).
fn pdf_text(pdf: &[u8], pages: Option<(usize, usize)>) -> String {
    let file = write_pdf(pdf);
    let mut command = tool("pdftotext");
    if let Some((first, last)) = pages {
        command.args(["-f", &first.to_string(), "-l", &last.to_string()]);
    }
    let out = command.arg(file.path()).arg("-").output().unwrap();
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn page_count(pdf: &[u8]) -> usize {
    // pdftotext separates pages with form feeds.
    pdf_text(pdf, None).matches('\u{c}').count()
}

/// Page `page` as 8-bit greyscale at 150 dpi: (width, height, pixels).
fn page_pixels(pdf: &[u8], page: usize) -> (usize, usize, Vec<u8>) {
    let file = write_pdf(pdf);
    let p = page.to_string();
    let out = tool("pdftoppm")
        .args(["-gray", "-r", "150", "-f", &p, "-l", &p])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_pgm(&out.stdout)
}

/// A binary PGM (`P5`): three whitespace-separated numbers after the magic, one whitespace
/// byte, then the pixels.
fn parse_pgm(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    assert_eq!(&bytes[..2], b"P5", "not a binary PGM");
    let mut fields = Vec::new();
    let mut i = 2;
    while fields.len() < 3 {
        while bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes[i] == b'#' {
            while bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(
            std::str::from_utf8(&bytes[start..i])
                .unwrap()
                .parse::<usize>()
                .unwrap(),
        );
    }
    let (w, h, max) = (fields[0], fields[1], fields[2]);
    assert_eq!(max, 255);
    let pixels = bytes[i + 1..i + 1 + w * h].to_vec();
    (w, h, pixels)
}

fn decode_qr(pdf: &[u8], page: usize) -> Vec<String> {
    let (w, h, pixels) = page_pixels(pdf, page);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().unwrap().1)
        .collect()
}

fn render_ok(xml: &str, options: &RenderOptions) -> Vec<u8> {
    render(xml, options).unwrap_or_else(|e| panic!("render failed: {e}"))
}

fn stamped_url() -> String {
    format!(
        "https://verificacfdi.facturaelectronica.sat.gob.mx/default.aspx?id={UUID}\
         &re=EKU9003173C9&rr=PÑ&amp;800101AB1&tt={{}}&fe={}",
        &sello()[sello().len() - 8..]
    )
}

// ---------------------------------------------------------------- tests

#[test]
fn stamped_invoice_prints_every_fiscal_field() {
    let pdf = render_ok(&ingreso(true), &RenderOptions::default());
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf, None);
    for expected in [
        "FACTURA",
        "A-1024",
        "EKU9003173C9",
        RECEPTOR_RFC,
        "PEÑA & HIJOS DISEÑO GRÁFICO",
        "601 - General de Ley Personas Morales",
        "G03 - Gastos en general.",
        "PPD - Pago en parcialidades o diferido",
        "99 - Por definir",
        "06600",
        "30 días naturales",
        UUID,
        "30001000000500003416",
        "00001000000509846663",
        "SPR190613I52",
        "2026-03-02 10:15:31",
        "TRECE MIL CUATROCIENTOS SETENTA Y OCHO PESOS 48/100 M.N.",
        "13,478.48",
        "2,144.16",
        "10.6667%",
        "ISR",
        "Este documento es una representación impresa de un CFDI",
        "Sello digital del CFDI",
        "Sello digital del SAT",
        "Cadena original del complemento de certificación digital del SAT",
        "||1.1|6128396F-C09B-4EC6-8699-43C5A8C3B8E2|2026-03-02T10:15:31|SPR190613I52|",
        "Página 1 de 1",
        // Accents, ñ, ü, guillemets, inverted marks, en dash, euro sign.
        "consultoría",
        "«urgente»",
        "¿incluye",
        "¡Sí!",
        "Pingüino",
        "Ñandú",
        "–",
        "€",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert!(!text.contains("BORRADOR"));
}

#[test]
fn qr_code_holds_the_verification_url() {
    let pdf = render_ok(&ingreso(true), &RenderOptions::default());
    let codes = decode_qr(&pdf, 1);
    assert_eq!(codes, vec![stamped_url().replace("{}", "13478.48")]);
}

#[test]
fn credit_note_lists_the_related_cfdis() {
    let pdf = render_ok(&nota_de_credito(), &RenderOptions::default());
    let text = pdf_text(&pdf, None);
    for expected in [
        "NOTA DE CRÉDITO",
        "NC-7",
        "CFDI RELACIONADOS",
        "01 - Nota de crédito de los documentos relacionados",
        UUID,
        "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D",
        "QUINIENTOS OCHENTA PESOS 00/100 M.N.",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(
        decode_qr(&pdf, 1),
        vec![stamped_url().replace("{}", "580.0")]
    );
}

#[test]
fn foreign_currency_prints_the_exchange_rate() {
    let text = pdf_text(&render_ok(&factura_usd(), &RenderOptions::default()), None);
    for expected in [
        "USD",
        "17.2345",
        "MIL CIENTO SESENTA DÓLARES 00/100 USD",
        "03 - Transferencia electrónica de fondos",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    let mxn = pdf_text(&render_ok(&ingreso(true), &RenderOptions::default()), None);
    assert!(!mxn.contains("Tipo de cambio"));
}

#[test]
fn global_invoice_prints_its_period() {
    let text = pdf_text(
        &render_ok(&factura_global(), &RenderOptions::default()),
        None,
    );
    for expected in [
        "INFORMACIÓN GLOBAL",
        "04 - Mensual",
        "02 - Febrero",
        "2026",
        "XAXX010101000",
        "PUBLICO EN GENERAL",
        "616 - Sin obligaciones fiscales",
        "TRESCIENTOS CUARENTA Y OCHO PESOS 00/100 M.N.",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[test]
fn long_invoices_break_across_pages_with_the_header_repeated() {
    let pdf = render_ok(&factura_larga(150), &RenderOptions::default());
    let pages = page_count(&pdf);
    assert!(pages >= 3, "150 lines on {pages} pages");
    for page in 2..=pages {
        let text = pdf_text(&pdf, Some((page, page)));
        assert!(
            text.contains(&format!("Página {page} de {pages}")),
            "page {page}:\n{text}"
        );
        assert!(text.contains("L-99"), "running head on page {page}");
        if page < pages {
            for label in ["Descripción", "Cantidad", "Importe", "Valor unitario"] {
                assert!(
                    text.contains(label),
                    "{label:?} missing on page {page}:\n{text}"
                );
            }
        }
    }
    let all = pdf_text(&pdf, None);
    for n in [1, 75, 150] {
        assert!(all.contains(&format!("ART-{n:04}")), "line {n} missing");
    }
    assert!(all.contains("DIECISIETE MIL CUATROCIENTOS PESOS 00/100 M.N."));
    // The seals and QR land on the last page, whole.
    assert_eq!(
        decode_qr(&pdf, pages),
        vec![stamped_url().replace("{}", "17400.0")]
    );
}

#[test]
fn drafts_carry_the_mark_on_every_page_and_no_seals() {
    let options = RenderOptions::default();
    let draft = render_ok(&ingreso(false), &options);
    let text = pdf_text(&draft, None);
    assert!(text.contains("BORRADOR"), "{text}");
    assert!(text.contains("SIN VALIDEZ FISCAL"));
    assert!(text.contains("TRECE MIL CUATROCIENTOS SETENTA Y OCHO PESOS 48/100 M.N."));
    assert!(!text.contains("Sello digital"));
    assert!(!text.contains("representación impresa"));
    assert!(!text.contains("Folio fiscal"));
    assert!(decode_qr(&draft, 1).is_empty(), "a draft has no QR code");

    // A stamped document printed as a draft on request, over several pages.
    let long = render_ok(
        &factura_larga(60),
        &RenderOptions {
            draft: true,
            ..RenderOptions::default()
        },
    );
    let pages = page_count(&long);
    assert!(pages >= 2);
    for page in 1..=pages {
        assert!(
            pdf_text(&long, Some((page, page))).contains("BORRADOR"),
            "page {page}"
        );
    }
    assert!(!pdf_text(&long, None).contains("Sello digital"));
}

#[test]
fn payment_receipt_lists_each_payment_and_document() {
    let pdf = render_ok(&recibo_de_pago(), &RenderOptions::default());
    let text = pdf_text(&pdf, None);
    for expected in [
        "RECIBO ELECTRÓNICO DE PAGO",
        "PAGO 1",
        "2026-03-20 12:00:00",
        "03 - Transferencia electrónica de fondos",
        "SPEI-123456",
        "OCHO MIL PESOS 00/100 M.N.",
        UUID,
        "A-1024",
        "13,478.48",
        "8,000.00",
        "5,478.48",
        "insoluto",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    assert_eq!(decode_qr(&pdf, 1), vec![stamped_url().replace("{}", "0.0")]);
}

#[test]
fn logo_accent_and_footer() {
    let png = tiny_png();
    let options = RenderOptions {
        draft: false,
        logo: Some(Logo::Png(png)),
        accent_color: Some([0xE0, 0xC0, 0x20]),
        footer: Some("Banco Ejemplo · CLABE 002180000000000000 · facturas@ejemplo.mx".into()),
    };
    let pdf = render_ok(&factura_larga(60), &options);
    let pages = page_count(&pdf);
    for page in 1..=pages {
        let text = pdf_text(&pdf, Some((page, page)));
        assert!(
            text.contains("CLABE 002180000000000000"),
            "footer on page {page}"
        );
    }
    let bad = RenderOptions {
        logo: Some(Logo::Jpeg(b"not a jpeg".to_vec())),
        ..RenderOptions::default()
    };
    assert!(matches!(
        render(&ingreso(true), &bad),
        Err(PdfError::Logo(_))
    ));
}

#[test]
fn fonts_are_embedded_as_subsets() {
    let pdf = render_ok(&ingreso(true), &RenderOptions::default());
    let file = write_pdf(&pdf);
    let out = tool("pdffonts").arg(file.path()).output().unwrap();
    let fonts = String::from_utf8(out.stdout).unwrap();
    assert!(fonts.contains("DejaVuSans"), "{fonts}");
    for line in fonts.lines().skip(2) {
        // Columns: name, type, encoding, emb, sub, uni, object ID.
        let cols: Vec<&str> = line.split_whitespace().collect();
        let n = cols.len();
        assert_eq!(&cols[n - 5..n - 2], ["yes", "yes", "yes"], "{line}");
    }
    // Three subset fonts, not three whole 700 KB files.
    assert!(pdf.len() < 150_000, "{} bytes", pdf.len());
}

#[test]
fn refuses_what_is_not_a_cfdi() {
    assert!(matches!(
        render("<a", &RenderOptions::default()),
        Err(PdfError::Xml(_))
    ));
    assert!(matches!(
        render("<a/>", &RenderOptions::default()),
        Err(PdfError::NotACfdi(_))
    ));
    let v33 = ingreso(true).replace("Version=\"4.0\"", "Version=\"3.3\"");
    assert!(matches!(
        render(&v33, &RenderOptions::default()),
        Err(PdfError::NotACfdi(_))
    ));
}

/// The cadena printed is the one `domain::stamp` seals, read back from a timbre's XML (with
/// a Leyenda, the optional field).
#[test]
fn cadena_matches_the_domain_timbre() {
    let pac = domain::stamp::SandboxPac::new().unwrap();
    let leyenda = domain::stamp::Leyenda::parse("Leyenda de prueba del PAC: ÁÉÍ ñ").unwrap();
    let fecha = chrono::NaiveDate::from_ymd_opt(2026, 3, 2)
        .unwrap()
        .and_hms_opt(10, 15, 31)
        .unwrap();
    let timbre = pac
        .stamp(UUID.parse().unwrap(), fecha, &sello(), Some(leyenda))
        .unwrap();
    let xml = ingreso(false).replace(
        "</cfdi:Comprobante>",
        &format!(
            "<cfdi:Complemento>{}</cfdi:Complemento></cfdi:Comprobante>",
            timbre.to_xml_element()
        ),
    );
    let invoice = document::Invoice::parse(&xml).unwrap();
    assert_eq!(
        invoice.timbre.unwrap().cadena_original(),
        timbre.cadena_original()
    );
}

/// A 4×2 RGB PNG, written by hand (stored zlib blocks) so no image crate is needed.
fn tiny_png() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc32(&body).to_be_bytes());
    }
    let (w, h) = (4u32, 2u32);
    let mut raw = Vec::new();
    for y in 0..h {
        raw.push(0);
        for x in 0..w {
            raw.extend([(x * 60) as u8, (y * 120) as u8, 200]);
        }
    }
    let adler = {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in &raw {
            a = (a + u32::from(byte)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    };
    let mut zlib = vec![0x78, 0x01, 0x01];
    zlib.extend((raw.len() as u16).to_le_bytes());
    zlib.extend((!(raw.len() as u16)).to_le_bytes());
    zlib.extend(&raw);
    zlib.extend(adler.to_be_bytes());
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(w.to_be_bytes());
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// Regenerates `docs/invoice-example.png` from the 3-line stamped fixture:
/// `cargo test -p api --lib pdf::tests::write_docs_example -- --ignored`.
#[test]
#[ignore = "writes docs/invoice-example.png"]
fn write_docs_example() {
    let pdf = render_ok(&ingreso(true), &RenderOptions::default());
    let file = write_pdf(&pdf);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/invoice-example");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let status = tool("pdftoppm")
        .args(["-png", "-r", "80", "-singlefile"])
        .arg(file.path())
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Prints render times (`-- --ignored --nocapture`); figures for the commit message.
#[test]
#[ignore = "a measurement, not a check"]
fn render_timing() {
    for (name, xml) in [
        ("3 lines", ingreso(true)),
        ("200 lines", factura_larga(200)),
    ] {
        let options = RenderOptions::default();
        render_ok(&xml, &options);
        let runs = 10;
        let start = Instant::now();
        let mut size = 0;
        for _ in 0..runs {
            size = render_ok(&xml, &options).len();
        }
        let each = start.elapsed() / runs;
        println!(
            "{name}: {each:?} per render, {size} bytes, {} pages",
            page_count(&render_ok(&xml, &options))
        );
    }
}

/// Writes every fixture's PDF to `$PDF_DUMP_DIR` for a look
/// (`PDF_DUMP_DIR=/tmp/pdfs cargo test -p api --lib pdf::tests::dump_fixtures -- --ignored`).
#[test]
#[ignore = "writes files for a human to look at"]
fn dump_fixtures() {
    let dir = std::path::PathBuf::from(std::env::var("PDF_DUMP_DIR").unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    let logo = RenderOptions {
        logo: Some(Logo::Png(tiny_png())),
        footer: Some("Banco Ejemplo · CLABE 002180000000000000 · facturas@ejemplo.mx".into()),
        ..RenderOptions::default()
    };
    for (name, xml, options) in [
        ("ingreso", ingreso(true), RenderOptions::default()),
        ("ingreso-logo", ingreso(true), logo),
        ("borrador", ingreso(false), RenderOptions::default()),
        ("nota", nota_de_credito(), RenderOptions::default()),
        ("usd", factura_usd(), RenderOptions::default()),
        ("global", factura_global(), RenderOptions::default()),
        ("larga", factura_larga(150), RenderOptions::default()),
        ("pago", recibo_de_pago(), RenderOptions::default()),
    ] {
        std::fs::write(dir.join(format!("{name}.pdf")), render_ok(&xml, &options)).unwrap();
    }
}
