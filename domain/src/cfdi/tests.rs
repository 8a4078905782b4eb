//! The XML and the cadena against SAT's own tools: a seeded corpus of varied invoices is written
//! to a temporary folder, validated with `xmllint --schema cfdv40.xsd`, and turned into cadenas
//! with `xsltproc cadenaoriginal_4_0.xslt`, which must equal the Rust cadenas byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::taxes::{Impuesto, Line, ObjetoImp, TaxInput, TaxKind, TipoFactor};
use super::*;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// `<repo>/../shared/sat`: CI clones the repository next to `shared/`.
fn sat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/sat")
}

fn tool(name: &str) -> Command {
    let found = Command::new(name).arg("--version").output().is_ok();
    assert!(
        found,
        "{name} is required by this test (and by CI): apt-get install xsltproc libxml2-utils"
    );
    Command::new(name)
}

/// SplitMix64: a few lines of deterministic variety, so the corpus is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// A decimal of `digits` to `digits + spread - 1` digits, 0 to 6 of them decimals.
    fn decimal(&mut self, digits: u32, spread: usize) -> Decimal {
        let digits = digits + self.below(spread) as u32;
        let scale = self.below(7) as u32;
        let m = (self.next() % 10u64.pow(digits)).max(1);
        Decimal::new(m as i64, scale)
    }
}

const NAMES: &[&str] = &[
    "ESCUELA KEMPER URGATE",
    "JOSÉ PEÑA & HIJOS",
    "  ESPACIOS   AL   INICIO Y DOBLES  ",
    "COMILLAS \"DOBLES\" Y 'SIMPLES'",
    "MENOR < MAYOR > IGUAL =",
    "TABULADOR\tY\nSALTO\r\nDE LÍNEA",
    "Ñandú Über Crédito, S.A. de C.V.",
    "ESPACIO\u{A0}DURO (NBSP NO ES ESPACIO XML)",
    "EMOJI 🧾 Y SÍMBOLOS ©®™ € ¿¡",
    "&amp; literal y &#38; también",
];

fn t(kind: TaxKind, tax: Impuesto, factor: TipoFactor, rate: Option<&str>) -> TaxInput {
    TaxInput {
        kind,
        tax,
        factor,
        rate: rate.map(d),
    }
}

/// Every tax combination the corpus covers, with the ObjetoImp it needs.
fn tax_sets() -> Vec<(ObjetoImp, Vec<TaxInput>)> {
    use Impuesto::*;
    use TaxKind::*;
    use TipoFactor::*;
    vec![
        (
            ObjetoImp::Subject,
            vec![t(Transfer, Iva, Tasa, Some("0.16"))],
        ),
        (
            ObjetoImp::Subject,
            vec![t(Transfer, Iva, Tasa, Some("0.08"))],
        ),
        (ObjetoImp::Subject, vec![t(Transfer, Iva, Tasa, Some("0"))]),
        (ObjetoImp::Subject, vec![t(Transfer, Iva, Exento, None)]),
        (
            ObjetoImp::Subject,
            vec![
                t(Transfer, Ieps, Tasa, Some("0.265")),
                t(Transfer, Iva, Tasa, Some("0.16")),
            ],
        ),
        (
            ObjetoImp::Subject,
            vec![
                t(Transfer, Ieps, Cuota, Some("6.4555")),
                t(Transfer, Iva, Tasa, Some("0.16")),
            ],
        ),
        (
            ObjetoImp::Subject,
            vec![
                t(Transfer, Iva, Tasa, Some("0.16")),
                t(Withholding, Isr, Tasa, Some("0.10")),
                t(Withholding, Iva, Tasa, Some("0.106667")),
            ],
        ),
        (
            ObjetoImp::Subject,
            vec![
                t(Transfer, Iva, Tasa, Some("0.16")),
                t(Withholding, Isr, Tasa, Some("0.0125")),
            ],
        ),
        (
            ObjetoImp::Subject,
            vec![
                t(Transfer, Ieps, Tasa, Some("0.08")),
                t(Transfer, Iva, Tasa, Some("0.16")),
                t(Withholding, Ieps, Tasa, Some("0.08")),
                t(Withholding, Iva, Tasa, Some("0.04")),
            ],
        ),
        (ObjetoImp::NotSubject, vec![]),
        (ObjetoImp::SubjectNoBreakdown, vec![]),
        (
            ObjetoImp::IvaNotTransferred,
            vec![t(Withholding, Isr, Tasa, Some("0.10"))],
        ),
        (
            ObjetoImp::IvaNotTransferredIepsBrokenDown,
            vec![t(Transfer, Ieps, Tasa, Some("0.30"))],
        ),
        (ObjetoImp::IvaNotTransferredIepsNotBrokenDown, vec![]),
    ]
}

/// (Moneda, decimales, TipoCambio).
const CURRENCIES: &[(&str, u32, Option<&str>)] = &[
    ("MXN", 2, None),
    ("MXN", 2, Some("1")),
    ("USD", 2, Some("17.2345")),
    ("EUR", 2, Some("19.873401")),
    ("JPY", 0, Some("0.1153")),
    ("CLP", 0, Some("0.0187")),
    ("KWD", 3, Some("56.25")),
];

fn invoice(n: usize, rng: &mut Rng) -> Comprobante {
    let (moneda, decimals, rate) = *rng.pick(CURRENCIES);
    let global = n % 7 == 3;
    let credit_note = n % 5 == 4;
    let traslado = n % 17 == 9;
    let kind = if traslado {
        TipoDeComprobante::Traslado
    } else if credit_note {
        TipoDeComprobante::Egreso
    } else {
        TipoDeComprobante::Ingreso
    };
    let lugar = *rng.pick(&["64000", "06600", "22000", "44100"]);
    let receptor = if global {
        Receptor {
            rfc: "XAXX010101000".into(),
            nombre: "PUBLICO EN GENERAL".into(),
            domicilio_fiscal_receptor: lugar.into(),
            residencia_fiscal: None,
            num_reg_id_trib: None,
            regimen_fiscal_receptor: "616".into(),
            uso_cfdi: "S01".into(),
        }
    } else if n % 11 == 6 {
        Receptor {
            rfc: "XEXX010101000".into(),
            nombre: (*rng.pick(NAMES)).into(),
            domicilio_fiscal_receptor: lugar.into(),
            residencia_fiscal: Some("USA".into()),
            num_reg_id_trib: Some("123456789".into()),
            regimen_fiscal_receptor: "616".into(),
            uso_cfdi: "S01".into(),
        }
    } else {
        Receptor {
            rfc: (*rng.pick(&["CACX7605101P8", "URE180429TM6", "IIA040805DZ4"])).into(),
            nombre: (*rng.pick(NAMES)).into(),
            domicilio_fiscal_receptor: (*rng.pick(&["26015", "86991", "65000"])).into(),
            residencia_fiscal: None,
            num_reg_id_trib: None,
            regimen_fiscal_receptor: (*rng.pick(&["601", "603", "612", "626"])).into(),
            uso_cfdi: (*rng.pick(&["G01", "G03", "I01"])).into(),
        }
    };
    let ppd = !traslado && rng.below(3) == 0;
    let mut cfdi_relacionados = Vec::new();
    if credit_note || n % 9 == 2 {
        for g in 0..=rng.below(2) {
            cfdi_relacionados.push(CfdiRelacionados {
                tipo_relacion: if credit_note { "01" } else { "04" }.into(),
                uuids: (0..=rng.below(3))
                    .map(|k| format!("{:08x}-0000-4000-8000-{:012x}", n, g * 10 + k))
                    .collect(),
            });
        }
    }
    let header = Header {
        serie: [None, Some("A".to_owned()), Some("F&E <2025>".to_owned())][n % 3].clone(),
        folio: (!n.is_multiple_of(4)).then(|| format!("{}", 1000 + n)),
        fecha: NaiveDate::from_ymd_opt(2025, 1 + (n % 12) as u32, 1 + (n % 28) as u32)
            .unwrap()
            .and_hms_opt((n % 24) as u32, (n * 7 % 60) as u32, (n * 13 % 60) as u32)
            .unwrap(),
        forma_pago: (!traslado).then(|| {
            if ppd {
                "99"
            } else {
                *rng.pick(&["01", "03", "04", "28"])
            }
            .into()
        }),
        condiciones_de_pago: (n % 6 == 1).then(|| "Neto 30 días — \"sin\" <recargos> & más".into()),
        moneda: moneda.into(),
        currency_decimals: decimals,
        tipo_cambio: rate.map(d),
        tipo_de_comprobante: kind,
        exportacion: "01".into(),
        metodo_pago: (!traslado).then(|| if ppd { "PPD" } else { "PUE" }.into()),
        lugar_expedicion: lugar.into(),
        confirmacion: (n % 13 == 5).then(|| "Ab3dE".into()),
        informacion_global: global.then(|| InformacionGlobal {
            periodicidad: "01".into(),
            meses: format!("{:02}", 1 + n % 12),
            anio: 2025,
        }),
        cfdi_relacionados,
        emisor: Emisor {
            rfc: "EKU9003173C9".into(),
            nombre: (*rng.pick(NAMES)).into(),
            regimen_fiscal: "601".into(),
            fac_atr_adquirente: (n % 8 == 7).then(|| "0123456789".into()),
        },
        receptor,
    };
    let sets = tax_sets();
    let lines = (0..1 + rng.below(6))
        .map(|k| {
            let (tax_object, taxes) = if traslado {
                (ObjetoImp::NotSubject, vec![])
            } else {
                // Walk through every combination across the corpus.
                sets[(n * 3 + k) % sets.len()].clone()
            };
            // At least 1 each, so that every Importe is a taxable amount.
            let quantity = rng.decimal(1, 5) + Decimal::ONE;
            let unit_price = if traslado {
                Decimal::ZERO
            } else {
                rng.decimal(2, 6) + Decimal::ONE
            };
            let importe = quantity * unit_price;
            let discount = (rng.below(4) == 0 && importe > Decimal::ONE)
                .then(|| (importe / Decimal::from(3 + rng.below(5))).round_dp(2));
            let (clave, unidad) = if global {
                ("01010101", "ACT")
            } else {
                *rng.pick(&[
                    ("84111506", "E48"),
                    ("43232408", "H87"),
                    ("50202306", "LTR"),
                    ("15101514", "LTR"),
                ])
            };
            ConceptoInput {
                clave_prod_serv: clave.into(),
                no_identificacion: (k % 2 == 0).then(|| format!("SKU-{n}-{k} & <x>")),
                clave_unidad: unidad.into(),
                unidad: (k % 3 == 0).then(|| "Pieza  \"uno\"".into()),
                descripcion: if global {
                    "Venta".into()
                } else {
                    (*rng.pick(NAMES)).into()
                },
                line: Line {
                    quantity,
                    unit_price,
                    discount,
                    tax_object,
                    taxes,
                },
            }
        })
        .collect();
    let mut c = Comprobante::build(header, lines).unwrap_or_else(|v| panic!("invoice {n}: {v}"));
    c.set_certificate(
        "30001000000500003416",
        "TUlJRitUQ0NBK0dnQXdJQkFnSVVNekF3TURFd01EQXdNREExTURBd01ETTBNVFk9",
    );
    c.set_sello("ZHVtbXkgc2VsbG8gZm9yIHNjaGVtYSB2YWxpZGF0aW9u");
    c
}

fn corpus() -> Vec<Comprobante> {
    let mut rng = Rng(0x00C0_FFEE_2025);
    let mut all: Vec<Comprobante> = (0..60).map(|n| invoice(n, &mut rng)).collect();
    // The worked example of CFDI-RULES.md, as an invoice.
    let mut example = all[0].clone();
    let lines = super::taxes::tests::worked_example();
    let c = super::taxes::compute(&lines, 2).unwrap();
    example.moneda = "MXN".into();
    example.tipo_cambio = None;
    example.sub_total = c.sub_total;
    example.descuento = c.descuento;
    example.total = c.total;
    example.impuestos = c.impuestos;
    example.conceptos = c
        .lines
        .into_iter()
        .map(|l| Concepto {
            clave_prod_serv: "84111506".into(),
            no_identificacion: None,
            cantidad: l.cantidad,
            clave_unidad: "E48".into(),
            unidad: None,
            descripcion: "Servicio".into(),
            valor_unitario: l.valor_unitario,
            importe: l.importe,
            descuento: l.descuento,
            objeto_imp: l.objeto_imp,
            traslados: l.traslados,
            retenciones: l.retenciones,
        })
        .collect();
    all.push(example);
    all
}

/// Writes each document to `dir` and returns the paths.
fn write_all(dir: &Path, docs: &[String]) -> Vec<PathBuf> {
    docs.iter()
        .enumerate()
        .map(|(i, xml)| {
            let path = dir.join(format!("cfdi-{i:03}.xml"));
            std::fs::write(&path, xml).unwrap();
            path
        })
        .collect()
}

fn xsltproc(path: &Path) -> String {
    let out = tool("xsltproc")
        .arg(sat_dir().join("cadenaoriginal_4_0.xslt"))
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xsltproc {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn xmllint(schema: &str, paths: &[PathBuf]) {
    let out = tool("xmllint")
        .args(["--noout", "--schema"])
        .arg(sat_dir().join(schema))
        .args(paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "xmllint --schema {schema}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_corpus_is_schema_valid_and_its_cadenas_match_sats_stylesheet() {
    let corpus = corpus();
    assert!(corpus.len() >= 50);
    let dir = tempfile::tempdir().unwrap();
    let xmls: Vec<String> = corpus.iter().map(Comprobante::to_xml).collect();
    let paths = write_all(dir.path(), &xmls);

    // One xmllint for every file: loading catCFDI.xsd (5 MB) once keeps this fast.
    xmllint("cfdv40.xsd", &paths);

    // One xsltproc for every file too: it prints the cadenas one after another, so the output
    // must be exactly the Rust cadenas concatenated; on a mismatch, find the culprit.
    let out = tool("xsltproc")
        .arg(sat_dir().join("cadenaoriginal_4_0.xslt"))
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rust: Vec<String> = corpus.iter().map(Comprobante::cadena_original).collect();
    if out.stdout != rust.concat().as_bytes() {
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(rust[i], xsltproc(path), "cadena of {}", path.display());
        }
    }
    for (i, c) in corpus.iter().enumerate() {
        assert!(
            c.limit_violations().is_empty(),
            "invoice {i}: {}",
            c.limit_violations()
        );
    }
}

#[test]
fn the_corpus_covers_what_it_claims() {
    let corpus = corpus();
    let xml: String = corpus.iter().map(Comprobante::to_xml).collect();
    for needle in [
        "TasaOCuota=\"0.160000\"",
        "TasaOCuota=\"0.080000\"",
        "TasaOCuota=\"0.000000\"",
        "TipoFactor=\"Exento\"",
        "TipoFactor=\"Cuota\"",
        "Impuesto=\"003\" TipoFactor=\"Tasa\"",
        "<cfdi:Retencion Base=",
        "Moneda=\"USD\"",
        "Moneda=\"EUR\"",
        "Moneda=\"JPY\"",
        "Moneda=\"KWD\"",
        "TipoDeComprobante=\"E\"",
        "TipoDeComprobante=\"T\"",
        "<cfdi:InformacionGlobal",
        "<cfdi:CfdiRelacionados TipoRelacion=\"01\"",
        "Nombre=\"PUBLICO EN GENERAL\"",
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&#9;",
        "&#10;",
        "&#13;",
        "ObjetoImp=\"06\"",
        "ObjetoImp=\"07\"",
        "ObjetoImp=\"08\"",
        "Descuento=",
        "Confirmacion=",
        "ResidenciaFiscal=\"USA\"",
    ] {
        assert!(
            xml.contains(needle),
            "no invoice in the corpus has {needle}"
        );
    }
    let relaciones = corpus.iter().map(|c| c.cfdi_relacionados.len()).max();
    assert_eq!(
        relaciones,
        Some(2),
        "some invoice has two CfdiRelacionados groups"
    );
}

#[test]
fn a_stamp_adds_nothing_to_the_cadena() {
    let mut c = corpus().swap_remove(1);
    let before = c.cadena_original();
    c.complementos.push(Complemento::timbre_fiscal_digital(
        "<tfd:TimbreFiscalDigital xmlns:tfd=\"http://www.sat.gob.mx/TimbreFiscalDigital\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" \
         xsi:schemaLocation=\"http://www.sat.gob.mx/TimbreFiscalDigital http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd\" \
         Version=\"1.1\" UUID=\"6F3E2D1C-0000-4000-8000-00000000ABCD\" FechaTimbrado=\"2025-02-02T10:00:00\" \
         RfcProvCertif=\"SPR190613I52\" SelloCFD=\"ZHVtbXk=\" NoCertificadoSAT=\"30001000000500003456\" \
         SelloSAT=\"ZHVtbXk=\"/>",
    ));
    assert_eq!(c.cadena_original(), before);
    let dir = tempfile::tempdir().unwrap();
    let paths = write_all(dir.path(), &[c.to_xml()]);
    xmllint("cfdv40_tfd11.xsd", &paths);
    assert_eq!(xsltproc(&paths[0]), before);
}

#[test]
fn sello_and_certificado_are_not_in_the_cadena_but_no_certificado_is() {
    let mut c = corpus().swap_remove(0);
    let cadena = c.cadena_original();
    assert!(cadena.starts_with("||4.0|"));
    assert!(cadena.ends_with("||") && !cadena.ends_with("\n"));
    assert!(cadena.contains("|30001000000500003416|"));
    c.set_sello("b3RybyBzZWxsbw==");
    assert_eq!(c.cadena_original(), cadena);
    c.set_certificate("30001000000500003417", "b3Rybw==");
    assert_ne!(c.cadena_original(), cadena);
}

#[test]
fn attribute_values_survive_escaping_and_normalize_like_xpath() {
    let mut out = String::new();
    escape_attribute("a&b<c>d\"e'f\tg\nh\ri\u{1}j\u{FFFE}k", &mut out);
    assert_eq!(out, "a&amp;b&lt;c&gt;d&quot;e'f&#9;g&#10;h&#13;ijk");
    let mut cadena = String::new();
    push_field(&mut cadena, " \t uno \n\r dos\u{A0}tres  ");
    assert_eq!(cadena, "|uno dos\u{A0}tres");
}

#[test]
fn build_reports_header_rules_with_sat_codes() {
    let mut rng = Rng(1);
    let good = invoice(0, &mut rng);
    let header = Header {
        serie: Some("A|B".into()),
        folio: None,
        fecha: NaiveDate::from_ymd_opt(2009, 12, 31)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
        forma_pago: Some("03".into()),
        condiciones_de_pago: None,
        moneda: "USD".into(),
        currency_decimals: 2,
        tipo_cambio: None,
        tipo_de_comprobante: TipoDeComprobante::Ingreso,
        exportacion: "01".into(),
        metodo_pago: Some("PPD".into()),
        lugar_expedicion: "64000".into(),
        confirmacion: None,
        informacion_global: None,
        cfdi_relacionados: vec![CfdiRelacionados {
            tipo_relacion: "04".into(),
            uuids: vec!["not-a-uuid".into()],
        }],
        emisor: good.emisor.clone(),
        receptor: Receptor {
            rfc: "XAXX010101000".into(),
            nombre: "PUBLICO EN GENERAL".into(),
            ..good.receptor.clone()
        },
    };
    let line = ConceptoInput {
        clave_prod_serv: "01010101".into(),
        no_identificacion: None,
        clave_unidad: "ACT".into(),
        unidad: None,
        descripcion: "   ".into(),
        line: Line {
            quantity: d("1"),
            unit_price: d("0"),
            discount: None,
            tax_object: ObjetoImp::NotSubject,
            taxes: vec![],
        },
    };
    let got: Vec<(String, String)> = Comprobante::build(header, vec![line])
        .unwrap_err()
        .into_iter()
        .map(|v| (v.pointer, v.code))
        .collect();
    let want = [
        ("/serie", "invalid_characters"),
        ("/fecha", "CFDI40101"),
        ("/forma_pago", "CFDI40105"),
        ("/tipo_cambio", "CFDI40115"),
        ("/informacion_global", "CFDI40130"),
        ("/cfdi_relacionados/0/uuids/0", "invalid_uuid"),
        ("/lines/0/descripcion", "blank"),
        ("/lines/0/unit_price", "CFDI40166"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn writing_is_fast() {
    let corpus = corpus();
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..20 {
        for c in &corpus {
            bytes += c.to_xml().len() + c.cadena_original().len();
        }
    }
    let elapsed = start.elapsed();
    // ~1200 documents; generous so a loaded CI machine does not fail it.
    assert!(elapsed.as_secs() < 5, "{bytes} bytes in {elapsed:?}");
}
