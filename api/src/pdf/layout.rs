//! Places the view model on Letter pages, then has krilla write them.
//!
//! Layout first records drawing operations page by page ([`Op`]); only when every page is
//! known are they written, so each footer can say "Página N de M". Blocks that belong
//! together (the parties, the totals, the seals) move to a new page whole when they do not fit;
//! the concept and payment tables break between rows and repeat their header on every page.

use std::str::FromStr;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use rust_decimal::{Decimal, RoundingStrategy};

use super::catalogs::{self, Catalog};
use super::document::{Concepto, Invoice, Tax};
use super::text::{self, Face, Fonts};
use super::{Logo, PdfError, RenderOptions, qr};

// US Letter, the paper Mexican offices print on; 0.5 in margins.
const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const MARGIN: f32 = 36.0;
const LEFT: f32 = MARGIN;
const RIGHT: f32 = PAGE_W - MARGIN;
const WIDTH: f32 = RIGHT - LEFT;
/// Content stops here; the footer lives below.
const BOTTOM: f32 = PAGE_H - 46.0;

const DEFAULT_ACCENT: Rgb = Rgb(0x1F, 0x3A, 0x5F);
const BLACK: Rgb = Rgb(0x1A, 0x1A, 0x1A);
const GREY: Rgb = Rgb(0x5A, 0x5A, 0x5A);
const RULE: Rgb = Rgb(0xC8, 0xC8, 0xC8);
const STRIPE: Rgb = Rgb(0xF3, 0xF4, 0xF6);
const WHITE: Rgb = Rgb(0xFF, 0xFF, 0xFF);
const DRAFT_RED: Rgb = Rgb(0xC0, 0x1F, 0x1F);

/// Type size of table headers.
const HEADER_SIZE: f32 = 6.5;

const DRAFT_MARK: &str = "BORRADOR – SIN VALIDEZ FISCAL";
const LEGEND: &str = "Este documento es una representación impresa de un CFDI";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb(u8, u8, u8);

impl Rgb {
    /// Text colour that reads on this background (WCAG relative luminance, roughly).
    fn on(self) -> Rgb {
        let l =
            0.2126 * f32::from(self.0) + 0.7152 * f32::from(self.1) + 0.0722 * f32::from(self.2);
        if l > 150.0 { BLACK } else { WHITE }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FaceKind {
    Regular,
    Bold,
    Mono,
}

/// One drawing operation; y grows downwards, text is placed by its baseline.
#[derive(Debug, Clone)]
enum Op {
    Text {
        x: f32,
        y: f32,
        face: FaceKind,
        size: f32,
        color: Rgb,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        color: Rgb,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        color: Rgb,
    },
    Qr {
        x: f32,
        y: f32,
        size: f32,
        width: usize,
        dark: Vec<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// A column of a table: header label, width, alignment.
#[derive(Debug, Clone, Copy)]
struct Column {
    label: &'static str,
    width: f32,
    align: Align,
}

const fn col(label: &'static str, width: f32, align: Align) -> Column {
    Column {
        label,
        width,
        align,
    }
}

/// A table row: one text per column (wrapped), then detail lines in small type.
#[derive(Debug, Clone)]
struct Row {
    cells: Vec<String>,
    details: Vec<Vec<DetailCell>>,
}

/// A piece of a detail line: placed at `x` (its right edge when right-aligned), cut with "…"
/// past `max_width`.
#[derive(Debug, Clone)]
struct DetailCell {
    x: f32,
    align: Align,
    text: String,
    max_width: f32,
}

fn pair_height(labels: &[String], values: &[String]) -> f32 {
    (9.0 * labels.len().max(1) as f32).max(9.5 * values.len().max(1) as f32) + 1.5
}

struct Layout<'a> {
    fonts: &'a Fonts,
    accent: Rgb,
    pages: Vec<Vec<Op>>,
    y: f32,
    /// Printed at the top of pages after the first, so a loose page says what it belongs to.
    running_head: String,
}

impl<'a> Layout<'a> {
    fn face(&self, kind: FaceKind) -> &'a Face {
        match kind {
            FaceKind::Regular => &self.fonts.regular,
            FaceKind::Bold => &self.fonts.bold,
            FaceKind::Mono => &self.fonts.mono,
        }
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn text(&mut self, x: f32, y: f32, face: FaceKind, size: f32, color: Rgb, text: &str) {
        if text.is_empty() {
            return;
        }
        self.ops().push(Op::Text {
            x,
            y,
            face,
            size,
            color,
            text: text.to_owned(),
        });
    }

    fn text_right(&mut self, right: f32, y: f32, face: FaceKind, size: f32, color: Rgb, s: &str) {
        let w = self.face(face).width(s, size);
        self.text(right - w, y, face, size, color, s);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Rgb) {
        self.ops().push(Op::Rect { x, y, w, h, color });
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, width: f32, color: Rgb) {
        self.ops().push(Op::Line {
            x1,
            y1: y,
            x2,
            y2: y,
            width,
            color,
        });
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN;
        let head = self.running_head.clone();
        self.text(LEFT, self.y + 7.0, FaceKind::Regular, 7.0, GREY, &head);
        self.hline(LEFT, RIGHT, self.y + 11.0, 0.5, RULE);
        self.y += 20.0;
    }

    /// Starts a new page unless `height` more points fit on this one.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// A section heading: a thin accent bar with the title in the accent's contrast colour.
    fn heading(&mut self, x: f32, w: f32, title: &str) {
        let accent = self.accent;
        self.rect(x, self.y, w, 13.0, accent);
        self.text(
            x + 5.0,
            self.y + 9.3,
            FaceKind::Bold,
            7.5,
            accent.on(),
            title,
        );
    }

    /// Label/value pairs in a column, values wrapped; returns the height used.
    fn pairs(&mut self, x: f32, top: f32, w: f32, label_w: f32, pairs: &[(&str, String)]) -> f32 {
        let mut y = top;
        for (label, value) in pairs {
            let (labels, values) = self.pair_lines(w, label_w, label, value);
            for (i, line) in labels.iter().enumerate() {
                self.text(x, y + 7.5 + 9.0 * i as f32, FaceKind::Bold, 7.0, GREY, line);
            }
            for (i, line) in values.iter().enumerate() {
                let line_y = y + 7.5 + 9.5 * i as f32;
                self.text(x + label_w, line_y, FaceKind::Regular, 7.5, BLACK, line);
            }
            y += pair_height(&labels, &values);
        }
        y - top
    }

    /// A pair's label and value, each wrapped to its part of the width.
    fn pair_lines(
        &self,
        w: f32,
        label_w: f32,
        label: &str,
        value: &str,
    ) -> (Vec<String>, Vec<String>) {
        (
            text::wrap(self.face(FaceKind::Bold), label, 7.0, label_w - 4.0),
            text::wrap(self.face(FaceKind::Regular), value, 7.5, w - label_w),
        )
    }

    fn measure_pairs(&self, w: f32, label_w: f32, pairs: &[(&str, String)]) -> f32 {
        pairs
            .iter()
            .map(|(label, value)| {
                let (labels, values) = self.pair_lines(w, label_w, label, value);
                pair_height(&labels, &values)
            })
            .sum()
    }

    /// Draws the header of `columns` at the current y.
    fn table_header(&mut self, columns: &[Column]) {
        let accent = self.accent;
        let height = 20.0;
        self.rect(LEFT, self.y, WIDTH, height, accent);
        let mut x = LEFT;
        for c in columns {
            let lines = text::wrap(
                self.face(FaceKind::Bold),
                c.label,
                HEADER_SIZE,
                c.width - 6.0,
            );
            let top = self.y + if lines.len() > 1 { 8.0 } else { 12.5 };
            for (i, line) in lines.iter().enumerate() {
                let y = top + 7.5 * i as f32;
                match c.align {
                    Align::Left => {
                        self.text(x + 3.0, y, FaceKind::Bold, HEADER_SIZE, accent.on(), line)
                    }
                    Align::Right => self.text_right(
                        x + c.width - 3.0,
                        y,
                        FaceKind::Bold,
                        HEADER_SIZE,
                        accent.on(),
                        line,
                    ),
                }
            }
            x += c.width;
        }
        self.y += height;
    }

    /// A table that breaks between rows and repeats its header on every page.
    fn table(&mut self, columns: &[Column], rows: &[Row]) {
        const SIZE: f32 = 7.0;
        const LEADING: f32 = 8.6;
        const DETAIL: f32 = 6.0;
        const DETAIL_LEADING: f32 = 7.4;
        // Header plus one row at least, so a header never sits alone at a page's foot.
        self.ensure(20.0 + 2.0 * LEADING + 6.0);
        self.table_header(columns);
        for (index, row) in rows.iter().enumerate() {
            let wrapped: Vec<Vec<String>> = columns
                .iter()
                .zip(&row.cells)
                .map(|(c, cell)| {
                    text::wrap(self.face(FaceKind::Regular), cell, SIZE, c.width - 6.0)
                })
                .collect();
            let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
            let height =
                4.0 + LEADING * lines as f32 + DETAIL_LEADING * row.details.len() as f32 + 2.0;
            if self.ensure(height) {
                self.table_header(columns);
            }
            if index % 2 == 1 {
                self.rect(LEFT, self.y, WIDTH, height, STRIPE);
            }
            let mut x = LEFT;
            for (c, cell_lines) in columns.iter().zip(&wrapped) {
                for (i, line) in cell_lines.iter().enumerate() {
                    let y = self.y + 3.0 + LEADING * (i as f32 + 1.0) - 1.8;
                    match c.align {
                        Align::Left => self.text(x + 3.0, y, FaceKind::Regular, SIZE, BLACK, line),
                        Align::Right => self.text_right(
                            x + c.width - 3.0,
                            y,
                            FaceKind::Regular,
                            SIZE,
                            BLACK,
                            line,
                        ),
                    }
                }
                x += c.width;
            }
            let mut y = self.y + 3.0 + LEADING * lines as f32;
            for detail in &row.details {
                y += DETAIL_LEADING;
                for cell in detail {
                    let face = self.face(FaceKind::Regular);
                    let s = text::ellipsize(face, &cell.text, DETAIL, cell.max_width);
                    match cell.align {
                        Align::Left => {
                            self.text(cell.x, y - 1.2, FaceKind::Regular, DETAIL, GREY, &s)
                        }
                        Align::Right => {
                            self.text_right(cell.x, y - 1.2, FaceKind::Regular, DETAIL, GREY, &s)
                        }
                    }
                }
            }
            self.y += height;
            self.hline(LEFT, RIGHT, self.y, 0.4, RULE);
        }
        self.y += 8.0;
    }
}

/// Lays `invoice` out and writes the PDF.
pub(super) fn render(invoice: &Invoice, options: &RenderOptions) -> Result<Vec<u8>, PdfError> {
    let fonts = text::fonts().ok_or(PdfError::Fonts)?;
    let draft = options.draft || !invoice.is_stamped();
    let logo = match &options.logo {
        Some(Logo::Png(bytes)) => Some(Image::from_png(bytes.clone().into(), true)),
        Some(Logo::Jpeg(bytes)) => Some(Image::from_jpeg(bytes.clone().into(), true)),
        None => None,
    }
    .transpose()
    .map_err(PdfError::Logo)?;
    let accent = options
        .accent_color
        .map_or(DEFAULT_ACCENT, |[r, g, b]| Rgb(r, g, b));

    let title = title(&invoice.tipo_de_comprobante);
    let serie_folio = serie_folio(invoice.serie.as_deref(), invoice.folio.as_deref());
    let mut running_head = format!("{title} {}", serie_folio.as_deref().unwrap_or(""));
    if let Some(t) = invoice.timbre.as_ref().filter(|_| !draft) {
        running_head.push_str(&format!(" · Folio fiscal {}", t.uuid));
    }
    running_head.push_str(&format!(" · {}", invoice.emisor.nombre));

    let mut layout = Layout {
        fonts,
        accent,
        pages: vec![Vec::new()],
        y: MARGIN,
        running_head,
    };
    let logo_size = logo.as_ref().map(|image| fit(image.size(), 120.0, 60.0));
    header(
        &mut layout,
        invoice,
        title,
        serie_folio.as_deref(),
        logo_size,
        draft,
    );
    parties(&mut layout, invoice);
    related(&mut layout, invoice);
    if invoice.tipo_de_comprobante == "P" && !invoice.pagos.is_empty() {
        concepts(&mut layout, invoice);
        payments(&mut layout, invoice);
    } else {
        concepts(&mut layout, invoice);
        totals(&mut layout, invoice);
    }
    if draft {
        draft_notice(&mut layout);
    } else {
        seals(&mut layout, invoice);
    }
    write(
        &layout,
        logo,
        logo_size,
        options.footer.as_deref(),
        draft,
        invoice,
    )
}

fn title(tipo: &str) -> &'static str {
    match tipo {
        "I" => "FACTURA",
        "E" => "NOTA DE CRÉDITO",
        "P" => "RECIBO ELECTRÓNICO DE PAGO",
        "T" => "TRASLADO",
        "N" => "RECIBO DE NÓMINA",
        _ => "COMPROBANTE FISCAL",
    }
}

fn serie_folio(serie: Option<&str>, folio: Option<&str>) -> Option<String> {
    match (serie, folio) {
        (Some(s), Some(f)) => Some(format!("{s}-{f}")),
        (Some(x), None) | (None, Some(x)) => Some(x.to_owned()),
        (None, None) => None,
    }
}

/// The largest size of `(w, h)` pixels inside `max_w` × `max_h` points, aspect kept.
fn fit((w, h): (u32, u32), max_w: f32, max_h: f32) -> (f32, f32) {
    let (w, h) = (w.max(1) as f32, h.max(1) as f32);
    let scale = (max_w / w).min(max_h / h);
    (w * scale, h * scale)
}

fn header(
    l: &mut Layout<'_>,
    inv: &Invoice,
    title: &str,
    serie_folio: Option<&str>,
    logo: Option<(f32, f32)>,
    draft: bool,
) {
    let top = l.y;
    // Left: the logo, and the issuer under it with the column's whole width.
    let left_w = 236.0;
    let x = LEFT;
    let issuer_w = left_w;
    let mut y = top + 11.0 + logo.map_or(0.0, |(_, h)| h + 8.0);
    for line in text::wrap(l.face(FaceKind::Bold), &inv.emisor.nombre, 10.5, issuer_w) {
        l.text(x, y, FaceKind::Bold, 10.5, BLACK, &line);
        y += 12.5;
    }
    y -= 2.0;
    let issuer = [
        ("RFC: ", inv.emisor.rfc.clone()),
        (
            "Régimen fiscal: ",
            catalogs::regimen(&inv.emisor.regimen_fiscal),
        ),
        ("Lugar de expedición (C.P.): ", inv.lugar_expedicion.clone()),
    ];
    for (label, value) in issuer {
        let label_w = l.face(FaceKind::Bold).width(label, 7.5);
        let lines = text::wrap(l.face(FaceKind::Regular), &value, 7.5, issuer_w - label_w);
        l.text(x, y + 9.0, FaceKind::Bold, 7.5, GREY, label);
        for line in lines {
            y += 9.5;
            l.text(x + label_w, y - 0.5, FaceKind::Regular, 7.5, BLACK, &line);
        }
    }
    let left_bottom = y + 4.0;
    let logo_bottom = logo.map_or(top, |(_, h)| top + h);

    // Right: title and the document's identity.
    let rx = LEFT + left_w + 14.0;
    let rw = RIGHT - rx;
    let accent = l.accent;
    l.text_right(RIGHT, top + 14.0, FaceKind::Bold, 15.0, accent, title);
    let mut ry = top + 20.0;
    let mut ident: Vec<(&str, String)> = Vec::new();
    if let Some(sf) = serie_folio {
        ident.push(("Serie y folio", sf.to_owned()));
    }
    if let Some(t) = inv.timbre.as_ref().filter(|_| !draft) {
        ident.push(("Folio fiscal (UUID)", t.uuid.clone()));
    }
    ident.push(("Fecha de expedición", inv.fecha.replace('T', " ")));
    if let Some(t) = inv.timbre.as_ref().filter(|_| !draft) {
        ident.push(("Fecha de certificación", t.fecha_timbrado.replace('T', " ")));
    }
    ident.push((
        "Tipo de comprobante",
        format!(
            "{} - {}",
            inv.tipo_de_comprobante,
            type_name(&inv.tipo_de_comprobante)
        ),
    ));
    if let Some(n) = inv.no_certificado.as_ref().filter(|_| !draft) {
        ident.push(("No. de serie del CSD", n.clone()));
    }
    if let Some(t) = inv.timbre.as_ref().filter(|_| !draft) {
        ident.push((
            "No. de serie del certificado SAT",
            t.no_certificado_sat.clone(),
        ));
    }
    ry += 3.0;
    l.hline(rx, RIGHT, ry, 0.8, accent);
    ry += 2.0;
    ry += l.pairs(rx, ry, rw, 106.0, &ident);
    l.y = left_bottom.max(logo_bottom).max(ry) + 8.0;
}

fn type_name(tipo: &str) -> &'static str {
    match tipo {
        "I" => "Ingreso",
        "E" => "Egreso",
        "T" => "Traslado",
        "N" => "Nómina",
        "P" => "Pago",
        _ => "",
    }
}

fn parties(l: &mut Layout<'_>, inv: &Invoice) {
    let r = &inv.receptor;
    let mut receptor: Vec<(&str, String)> = vec![
        ("Nombre", r.nombre.clone()),
        ("RFC", r.rfc.clone()),
        ("Régimen fiscal", catalogs::regimen(&r.regimen_fiscal)),
        ("Domicilio fiscal (C.P.)", r.domicilio_fiscal.clone()),
        (
            "Uso del CFDI",
            catalogs::with_description(Catalog::UsoCfdi, &r.uso_cfdi),
        ),
    ];
    if let Some(v) = &r.residencia_fiscal {
        receptor.push(("Residencia fiscal", v.clone()));
    }
    if let Some(v) = &r.num_reg_id_trib {
        receptor.push(("NumRegIdTrib", v.clone()));
    }
    let mut data: Vec<(&str, String)> = Vec::new();
    if let Some(v) = &inv.metodo_pago {
        data.push((
            "Método de pago",
            catalogs::with_description(Catalog::MetodoPago, v),
        ));
    }
    if let Some(v) = &inv.forma_pago {
        data.push((
            "Forma de pago",
            catalogs::with_description(Catalog::FormaPago, v),
        ));
    }
    data.push(("Moneda", inv.moneda.clone()));
    if inv.moneda != "MXN"
        && let Some(v) = &inv.tipo_cambio
    {
        data.push(("Tipo de cambio", v.clone()));
    }
    if let Some(v) = &inv.exportacion {
        data.push((
            "Exportación",
            catalogs::with_description(Catalog::Exportacion, v),
        ));
    }
    if let Some(v) = &inv.condiciones_de_pago {
        data.push(("Condiciones de pago", v.clone()));
    }
    if let Some(v) = &inv.confirmacion {
        data.push(("Confirmación", v.clone()));
    }
    let half = (WIDTH - 14.0) / 2.0;
    let right_x = LEFT + half + 14.0;
    let height = l
        .measure_pairs(half, 88.0, &receptor)
        .max(l.measure_pairs(half, 88.0, &data));
    l.ensure(13.0 + 4.0 + height);
    l.heading(LEFT, half, "RECEPTOR");
    l.heading(right_x, half, "DATOS DEL COMPROBANTE");
    l.y += 16.0;
    let top = l.y;
    l.pairs(LEFT + 3.0, top, half - 3.0, 88.0, &receptor);
    l.pairs(right_x + 3.0, top, half - 3.0, 88.0, &data);
    l.y = top + height + 6.0;
}

fn related(l: &mut Layout<'_>, inv: &Invoice) {
    if let Some(g) = &inv.informacion_global {
        let pairs = [
            (
                "Periodicidad",
                catalogs::with_description(Catalog::Periodicidad, &g.periodicidad),
            ),
            (
                "Meses",
                catalogs::with_description(Catalog::Meses, &g.meses),
            ),
            ("Año", g.anio.clone()),
        ];
        let h = l.measure_pairs(WIDTH, 88.0, &pairs);
        l.ensure(17.0 + h);
        l.heading(LEFT, WIDTH, "INFORMACIÓN GLOBAL");
        l.y += 16.0;
        l.y += l.pairs(LEFT + 3.0, l.y, WIDTH - 3.0, 88.0, &pairs) + 6.0;
    }
    for group in &inv.relacionados {
        let pairs = [
            (
                "Tipo de relación",
                catalogs::with_description(Catalog::TipoRelacion, &group.tipo_relacion),
            ),
            ("CFDI relacionados", group.uuids.join("\n")),
        ];
        let h = l.measure_pairs(WIDTH, 88.0, &pairs);
        l.ensure(17.0 + h);
        l.heading(LEFT, WIDTH, "CFDI RELACIONADOS");
        l.y += 16.0;
        l.y += l.pairs(LEFT + 3.0, l.y, WIDTH - 3.0, 88.0, &pairs) + 6.0;
    }
}

const CONCEPT_COLUMNS: [Column; 9] = [
    col("Clave prod./serv.", 48.0, Align::Left),
    col("No. identificación", 60.0, Align::Left),
    col("Cantidad", 42.0, Align::Right),
    col("Clave unidad", 32.0, Align::Left),
    col("Unidad", 44.0, Align::Left),
    col("Descripción", 144.0, Align::Left),
    col("Valor unitario", 58.0, Align::Right),
    col("Descuento", 52.0, Align::Right),
    col("Importe", 60.0, Align::Right),
];

/// x where column `i` starts.
fn column_x(columns: &[Column], i: usize) -> f32 {
    LEFT + columns.iter().take(i).map(|c| c.width).sum::<f32>()
}

fn concepts(l: &mut Layout<'_>, inv: &Invoice) {
    let decimals = catalogs::currency_decimals(&inv.moneda);
    let c = &CONCEPT_COLUMNS;
    let desc_x = column_x(c, 5) + 3.0;
    let base_right = column_x(c, 7) - 3.0;
    let importe_right = RIGHT - 3.0;
    let rows: Vec<Row> = inv
        .conceptos
        .iter()
        .map(|concepto| concept_row(concepto, decimals, desc_x, base_right, importe_right))
        .collect();
    l.table(c, &rows);
}

fn concept_row(
    c: &Concepto,
    decimals: u32,
    desc_x: f32,
    base_right: f32,
    importe_right: f32,
) -> Row {
    // The ObjetoImp goes under the first columns, on the first tax line, to keep rows short.
    let objeto = DetailCell {
        x: LEFT + 3.0,
        align: Align::Left,
        text: format!(
            "Objeto de impuesto: {}",
            catalogs::with_description(Catalog::ObjetoImp, &c.objeto_imp)
        ),
        max_width: desc_x - LEFT - 9.0,
    };
    let cell = |x: f32, align: Align, text: String| DetailCell {
        x,
        align,
        text,
        max_width: f32::INFINITY,
    };
    let mut details: Vec<Vec<DetailCell>> = Vec::new();
    let taxes = c
        .traslados
        .iter()
        .map(|t| ("Traslado", t))
        .chain(c.retenciones.iter().map(|t| ("Retención", t)));
    for (kind, tax) in taxes {
        details.push(vec![
            cell(desc_x, Align::Left, kind.to_owned()),
            cell(
                desc_x + 44.0,
                Align::Left,
                catalogs::tax_name(&tax.impuesto).to_owned(),
            ),
            cell(
                desc_x + 70.0,
                Align::Left,
                tax.tipo_factor.clone().unwrap_or_default(),
            ),
            cell(desc_x + 102.0, Align::Left, rate(tax)),
            cell(
                base_right,
                Align::Right,
                tax.base
                    .as_deref()
                    .map_or(String::new(), |b| format!("Base {}", money(b, decimals))),
            ),
            cell(
                importe_right,
                Align::Right,
                tax.importe
                    .as_deref()
                    .map_or(String::new(), |i| format!("Importe {}", money(i, decimals))),
            ),
        ]);
    }
    match details.first_mut() {
        Some(first) => first.insert(0, objeto),
        None => details.push(vec![objeto]),
    }
    Row {
        cells: vec![
            c.clave_prod_serv.clone(),
            c.no_identificacion.clone().unwrap_or_default(),
            quantity(&c.cantidad),
            c.clave_unidad.clone(),
            c.unidad.clone().unwrap_or_default(),
            c.descripcion.clone(),
            unit_price(&c.valor_unitario, decimals),
            c.descuento
                .as_deref()
                .map(|d| money(d, decimals))
                .unwrap_or_default(),
            money(&c.importe, decimals),
        ],
        details,
    }
}

/// `16.00%` for a Tasa, the amount for a Cuota, nothing for Exento.
fn rate(tax: &Tax) -> String {
    let Some(value) = tax.tasa_o_cuota.as_deref() else {
        return String::new();
    };
    match (tax.tipo_factor.as_deref(), Decimal::from_str(value)) {
        (Some("Tasa"), Ok(rate)) => {
            let percent = (rate * Decimal::ONE_HUNDRED).normalize();
            let shown = if percent.scale() < 2 {
                format!("{percent:.2}")
            } else {
                percent.to_string()
            };
            format!("{shown}%")
        }
        _ => value.to_owned(),
    }
}

/// An amount at the currency's decimals with thousands separators: `14,654.24`.
fn money(value: &str, decimals: u32) -> String {
    match Decimal::from_str(value.trim()) {
        Ok(d) => group(
            d.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero),
            decimals,
        ),
        Err(_) => value.to_owned(),
    }
}

/// A unit price keeps its significant decimals (up to the 6 SAT allows), at least the
/// currency's: `333.33`, `18.505`.
fn unit_price(value: &str, decimals: u32) -> String {
    match Decimal::from_str(value.trim()) {
        Ok(d) => {
            let d = d.normalize();
            group(d, d.scale().max(decimals))
        }
        Err(_) => value.to_owned(),
    }
}

fn quantity(value: &str) -> String {
    match Decimal::from_str(value.trim()) {
        Ok(d) => {
            let d = d.normalize();
            group(d, d.scale())
        }
        Err(_) => value.to_owned(),
    }
}

/// `d` with exactly `decimals` decimals and commas between thousands.
fn group(d: Decimal, decimals: u32) -> String {
    let text = format!("{:.*}", decimals as usize, d.abs());
    let (int, frac) = text
        .split_once('.')
        .map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    if d.is_sign_negative() && !d.is_zero() {
        out.push('-');
    }
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if let Some(frac) = frac {
        out.push('.');
        out.push_str(frac);
    }
    out
}

fn totals(l: &mut Layout<'_>, inv: &Invoice) {
    let decimals = catalogs::currency_decimals(&inv.moneda);
    let words = Decimal::from_str(inv.total.trim())
        .map(|t| domain::amount_in_words::amount_in_words(t, &inv.moneda, decimals))
        .unwrap_or_default();
    let left_w = 330.0;
    let right_x = LEFT + left_w + 20.0;

    // Right: the totals.
    let mut lines: Vec<(String, String, bool)> =
        vec![("Subtotal".into(), money(&inv.sub_total, decimals), false)];
    if let Some(d) = &inv.descuento {
        lines.push(("Descuento".into(), money(d, decimals), false));
    }
    if let Some(imp) = &inv.impuestos {
        if let Some(t) = &imp.total_trasladados {
            lines.push(("Impuestos trasladados".into(), money(t, decimals), false));
        }
        if let Some(t) = &imp.total_retenidos {
            lines.push((
                "Impuestos retenidos".into(),
                format!("-{}", money(t, decimals)),
                false,
            ));
        }
    }
    lines.push((
        format!("Total {}", inv.moneda),
        format!("${}", money(&inv.total, decimals)),
        true,
    ));

    // Left: the amount in words, then the tax summary.
    let word_lines = text::wrap(l.face(FaceKind::Bold), &words, 7.5, left_w - 6.0);
    let mut summary: Vec<[String; 5]> = Vec::new();
    if let Some(imp) = &inv.impuestos {
        for t in &imp.traslados {
            summary.push([
                format!("Traslado {}", catalogs::tax_name(&t.impuesto)),
                t.tipo_factor.clone().unwrap_or_default(),
                rate(t),
                t.base
                    .as_deref()
                    .map(|b| money(b, decimals))
                    .unwrap_or_default(),
                t.importe
                    .as_deref()
                    .map(|i| money(i, decimals))
                    .unwrap_or_else(|| "—".into()),
            ]);
        }
        for r in &imp.retenciones {
            summary.push([
                format!("Retención {}", catalogs::tax_name(&r.impuesto)),
                String::new(),
                String::new(),
                String::new(),
                r.importe
                    .as_deref()
                    .map(|i| money(i, decimals))
                    .unwrap_or_default(),
            ]);
        }
    }
    let left_h = 16.0
        + 9.5 * word_lines.len() as f32
        + 8.0
        + if summary.is_empty() {
            0.0
        } else {
            14.0 + 9.0 * summary.len() as f32
        };
    let right_h = 12.0 * lines.len() as f32 + 6.0;
    l.ensure(left_h.max(right_h));
    let top = l.y;

    let mut y = top;
    l.text(
        LEFT,
        y + 8.0,
        FaceKind::Bold,
        7.0,
        GREY,
        "IMPORTE CON LETRA",
    );
    y += 10.0;
    for line in &word_lines {
        y += 9.5;
        l.text(LEFT, y, FaceKind::Bold, 7.5, BLACK, line);
    }
    y += 10.0;
    if !summary.is_empty() {
        let cols: [(f32, Align, &str); 5] = [
            (LEFT, Align::Left, "Impuesto"),
            (LEFT + 95.0, Align::Left, "Tipo factor"),
            (LEFT + 150.0, Align::Left, "Tasa o cuota"),
            (LEFT + 260.0, Align::Right, "Base"),
            (LEFT + left_w, Align::Right, "Importe"),
        ];
        for (x, align, label) in cols {
            match align {
                Align::Left => l.text(x, y + 7.0, FaceKind::Bold, 6.5, GREY, label),
                Align::Right => l.text_right(x, y + 7.0, FaceKind::Bold, 6.5, GREY, label),
            }
        }
        y += 10.0;
        l.hline(LEFT, LEFT + left_w, y, 0.5, RULE);
        for row in &summary {
            y += 9.0;
            for ((x, align, _), value) in cols.iter().zip(row) {
                match align {
                    Align::Left => l.text(*x, y, FaceKind::Regular, 7.0, BLACK, value),
                    Align::Right => l.text_right(*x, y, FaceKind::Regular, 7.0, BLACK, value),
                }
            }
        }
        y += 4.0;
    }

    let mut ry = top;
    let accent = l.accent;
    for (label, value, strong) in &lines {
        ry += 12.0;
        if *strong {
            l.hline(right_x, RIGHT, ry - 9.5, 0.8, accent);
            ry += 3.0;
            l.text(right_x, ry, FaceKind::Bold, 9.0, accent, label);
            l.text_right(RIGHT, ry, FaceKind::Bold, 9.0, accent, value);
        } else {
            l.text(right_x, ry, FaceKind::Regular, 7.5, GREY, label);
            l.text_right(RIGHT, ry, FaceKind::Regular, 7.5, BLACK, value);
        }
    }
    l.y = y.max(ry + 6.0) + 6.0;
}

const PAYMENT_COLUMNS: [Column; 8] = [
    col("Documento relacionado (UUID)", 164.0, Align::Left),
    col("Serie-folio", 54.0, Align::Left),
    col("Moneda", 38.0, Align::Left),
    col("Equivalencia", 58.0, Align::Right),
    col("Parcialidad", 48.0, Align::Right),
    col("Saldo anterior", 60.0, Align::Right),
    col("Importe pagado", 60.0, Align::Right),
    col("Saldo insoluto", 58.0, Align::Right),
];

fn payments(l: &mut Layout<'_>, inv: &Invoice) {
    for (i, pago) in inv.pagos.iter().enumerate() {
        let decimals = catalogs::currency_decimals(&pago.moneda);
        let mut pairs: Vec<(&str, String)> = vec![
            ("Fecha de pago", pago.fecha_pago.replace('T', " ")),
            (
                "Forma de pago",
                catalogs::with_description(Catalog::FormaPago, &pago.forma_de_pago),
            ),
            ("Moneda", pago.moneda.clone()),
        ];
        if pago.moneda != "MXN"
            && let Some(tc) = &pago.tipo_cambio
        {
            pairs.push(("Tipo de cambio", tc.clone()));
        }
        pairs.push((
            "Monto",
            format!("${} {}", money(&pago.monto, decimals), pago.moneda),
        ));
        if let Some(n) = &pago.num_operacion {
            pairs.push(("Número de operación", n.clone()));
        }
        if let Ok(monto) = Decimal::from_str(pago.monto.trim()) {
            pairs.push((
                "Monto con letra",
                domain::amount_in_words::amount_in_words(monto, &pago.moneda, decimals),
            ));
        }
        let h = l.measure_pairs(WIDTH, 100.0, &pairs);
        l.ensure(17.0 + h + 40.0);
        l.heading(LEFT, WIDTH, &format!("PAGO {}", i + 1));
        l.y += 16.0;
        l.y += l.pairs(LEFT + 3.0, l.y, WIDTH - 3.0, 100.0, &pairs) + 4.0;
        let rows: Vec<Row> = pago
            .documentos
            .iter()
            .map(|d| {
                let dec = catalogs::currency_decimals(&d.moneda);
                Row {
                    cells: vec![
                        d.id_documento.clone(),
                        serie_folio(d.serie.as_deref(), d.folio.as_deref()).unwrap_or_default(),
                        d.moneda.clone(),
                        d.equivalencia.clone().unwrap_or_default(),
                        d.num_parcialidad.clone(),
                        money(&d.saldo_anterior, dec),
                        money(&d.pagado, dec),
                        money(&d.saldo_insoluto, dec),
                    ],
                    details: vec![vec![DetailCell {
                        x: LEFT + 3.0,
                        align: Align::Left,
                        text: format!(
                            "Objeto de impuesto: {}",
                            catalogs::with_description(Catalog::ObjetoImp, &d.objeto_imp)
                        ),
                        max_width: WIDTH,
                    }]],
                }
            })
            .collect();
        if !rows.is_empty() {
            l.table(&PAYMENT_COLUMNS, &rows);
        }
    }
}

fn seals(l: &mut Layout<'_>, inv: &Invoice) {
    let Some(t) = &inv.timbre else { return };
    let sello = inv.sello.clone().unwrap_or_else(|| t.sello_cfd.clone());
    let url = qr::verification_url(
        &t.uuid,
        &inv.emisor.rfc,
        &inv.receptor.rfc,
        &inv.total,
        &sello,
    );
    let qr = qr::modules(&url);
    // Modules of a whole number of 1/150 in: they fall on device pixels at 150, 300 and
    // 600 dpi, so printers and decoders see sharp modules (SAT asks for at least 2.75 cm).
    let module = qr.as_ref().map_or(1.0, |(width, _)| {
        (104.0 / *width as f32 / QR_GRID).round().max(1.0) * QR_GRID
    });
    let qr_size = qr.as_ref().map_or(0.0, |(width, _)| module * *width as f32);
    let x = LEFT + 104.0_f32.max(qr_size) + 14.0;
    let w = RIGHT - x;
    let mono = l.face(FaceKind::Mono);
    let blocks = [
        ("Sello digital del CFDI", sello.clone()),
        ("Sello digital del SAT", t.sello_sat.clone()),
        (
            "Cadena original del complemento de certificación digital del SAT",
            t.cadena_original(),
        ),
    ];
    let wrapped: Vec<(&str, Vec<String>)> = blocks
        .iter()
        .map(|(label, value)| (*label, text::break_chars(mono, value, 5.6, w)))
        .collect();
    let info = format!(
        "RFC del proveedor de certificación: {}    Fecha y hora de certificación: {}    No. de serie del certificado del SAT: {}",
        t.rfc_prov_certif,
        t.fecha_timbrado.replace('T', " "),
        t.no_certificado_sat
    );
    let info_lines = text::wrap(l.face(FaceKind::Regular), &info, 6.5, w);
    let text_h: f32 = wrapped
        .iter()
        .map(|(_, lines)| 10.0 + 6.8 * lines.len() as f32 + 3.0)
        .sum::<f32>()
        + 8.0 * info_lines.len() as f32;
    let height = 17.0 + text_h.max(qr_size) + 20.0;
    l.ensure(height);
    l.heading(LEFT, WIDTH, "TIMBRE FISCAL DIGITAL");
    l.y += 17.0;
    let top = l.y;
    if let Some((width, dark)) = qr {
        l.ops().push(Op::Qr {
            x: LEFT,
            // Clear of the heading bar (a QR code needs a light quiet zone), on the grid.
            y: ((top + 6.0) / QR_GRID).ceil() * QR_GRID,
            size: qr_size,
            width,
            dark,
        });
    }
    let mut y = top;
    for (label, lines) in &wrapped {
        y += 8.0;
        l.text(x, y, FaceKind::Bold, 6.5, GREY, label);
        y += 1.0;
        for line in lines {
            y += 6.8;
            l.text(x, y, FaceKind::Mono, 5.6, BLACK, line);
        }
        y += 3.0;
    }
    for line in &info_lines {
        y += 8.0;
        l.text(x, y, FaceKind::Regular, 6.5, BLACK, line);
    }
    l.y = y.max(top + 7.0 + qr_size) + 12.0;
    let w = l.face(FaceKind::Bold).width(LEGEND, 7.5);
    l.text(
        LEFT + (WIDTH - w) / 2.0,
        l.y,
        FaceKind::Bold,
        7.5,
        GREY,
        LEGEND,
    );
    l.y += 8.0;
}

fn draft_notice(l: &mut Layout<'_>) {
    l.ensure(30.0);
    l.y += 6.0;
    let notice = "Borrador: este documento no ha sido timbrado y no es un comprobante fiscal.";
    let w = l.face(FaceKind::Bold).width(notice, 8.0);
    l.text(
        LEFT + (WIDTH - w) / 2.0,
        l.y + 8.0,
        FaceKind::Bold,
        8.0,
        DRAFT_RED,
        notice,
    );
    l.y += 16.0;
}

/// Writes the recorded pages with krilla, adding what every page carries: the footer, the page
/// number and, on drafts, the mark.
fn write(
    l: &Layout<'_>,
    logo: Option<Image>,
    logo_size: Option<(f32, f32)>,
    footer: Option<&str>,
    draft: bool,
    inv: &Invoice,
) -> Result<Vec<u8>, PdfError> {
    let mut document = Document::new();
    let mut title = format!(
        "{} {}",
        title(&inv.tipo_de_comprobante),
        serie_folio(inv.serie.as_deref(), inv.folio.as_deref()).unwrap_or_default()
    );
    if let Some(t) = &inv.timbre {
        title.push_str(&format!(" {}", t.uuid));
    }
    document.set_metadata(
        Metadata::new()
            .title(title.trim().to_owned())
            .authors(vec![inv.emisor.nombre.clone()])
            .language("es-MX".to_owned())
            .creator("CFDI API".to_owned()),
    );
    let settings =
        PageSettings::from_wh(PAGE_W, PAGE_H).ok_or(PdfError::Pdf("page size".into()))?;
    let total = l.pages.len();
    for (index, ops) in l.pages.iter().enumerate() {
        let mut page = document.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            draw(&mut surface, l.fonts, op);
        }
        if index == 0
            && let (Some(image), Some((w, h))) = (logo.clone(), logo_size)
            && let Some(size) = Size::from_wh(w, h)
        {
            surface.push_transform(&Transform::from_translate(LEFT, MARGIN));
            surface.draw_image(image, size);
            surface.pop();
        }
        let footer_y = PAGE_H - 26.0;
        draw(
            &mut surface,
            l.fonts,
            &Op::Line {
                x1: LEFT,
                y1: footer_y - 9.0,
                x2: RIGHT,
                y2: footer_y - 9.0,
                width: 0.5,
                color: RULE,
            },
        );
        let number = format!("Página {} de {}", index + 1, total);
        let number_w = l.fonts.regular.width(&number, 7.0);
        draw(
            &mut surface,
            l.fonts,
            &Op::Text {
                x: RIGHT - number_w,
                y: footer_y,
                face: FaceKind::Regular,
                size: 7.0,
                color: GREY,
                text: number,
            },
        );
        if let Some(footer) = footer.filter(|f| !f.trim().is_empty()) {
            let one_line = footer.split_whitespace().collect::<Vec<_>>().join(" ");
            let fitted = text::ellipsize(&l.fonts.regular, &one_line, 7.0, WIDTH - number_w - 20.0);
            draw(
                &mut surface,
                l.fonts,
                &Op::Text {
                    x: LEFT,
                    y: footer_y,
                    face: FaceKind::Regular,
                    size: 7.0,
                    color: GREY,
                    text: fitted,
                },
            );
        }
        if draft {
            draft_mark(&mut surface, l.fonts);
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PdfError::Pdf(format!("{e:?}")))
}

/// The diagonal "BORRADOR – SIN VALIDEZ FISCAL" across the page, translucent so the content
/// stays readable, plus a banner at the top that survives photocopying.
fn draft_mark(surface: &mut Surface<'_>, fonts: &Fonts) {
    let size = 44.0;
    let w = fonts.bold.width(DRAFT_MARK, size);
    let angle = -(PAGE_H - 2.0 * MARGIN).atan2(PAGE_W).to_degrees();
    surface.push_transform(&Transform::from_rotate_at(
        angle,
        PAGE_W / 2.0,
        PAGE_H / 2.0,
    ));
    surface.set_stroke(None);
    surface.set_fill(Some(Fill {
        paint: rgb::Color::new(DRAFT_RED.0, DRAFT_RED.1, DRAFT_RED.2).into(),
        opacity: NormalizedF32::new(0.16).unwrap_or(NormalizedF32::ONE),
        rule: FillRule::NonZero,
    }));
    surface.draw_glyphs(
        Point::from_xy((PAGE_W - w) / 2.0, PAGE_H / 2.0 + size / 3.0),
        &fonts.bold.glyphs(DRAFT_MARK),
        fonts.bold.pdf.clone(),
        DRAFT_MARK,
        size,
        false,
    );
    surface.pop();
    let banner = 8.0;
    let bw = fonts.bold.width(DRAFT_MARK, banner);
    draw(
        surface,
        fonts,
        &Op::Text {
            x: (PAGE_W - bw) / 2.0,
            y: 20.0,
            face: FaceKind::Bold,
            size: banner,
            color: DRAFT_RED,
            text: DRAFT_MARK.to_owned(),
        },
    );
}

/// 1/150 inch in points: the QR code's grid.
const QR_GRID: f32 = 72.0 / 150.0;

fn fill(color: Rgb) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

fn draw(surface: &mut Surface<'_>, fonts: &Fonts, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            face,
            size,
            color,
            text,
        } => {
            let face = match face {
                FaceKind::Regular => &fonts.regular,
                FaceKind::Bold => &fonts.bold,
                FaceKind::Mono => &fonts.mono,
            };
            surface.set_stroke(None);
            surface.set_fill(Some(fill(*color)));
            surface.draw_glyphs(
                Point::from_xy(*x, *y),
                &face.glyphs(text),
                face.pdf.clone(),
                text,
                *size,
                false,
            );
        }
        Op::Rect { x, y, w, h, color } => {
            let mut path = PathBuilder::new();
            if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                path.push_rect(rect);
            }
            if let Some(path) = path.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(fill(*color)));
                surface.draw_path(&path);
            }
        }
        Op::Line {
            x1,
            y1,
            x2,
            y2,
            width,
            color,
        } => {
            let mut path = PathBuilder::new();
            path.move_to(*x1, *y1);
            path.line_to(*x2, *y2);
            if let Some(path) = path.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: rgb::Color::new(color.0, color.1, color.2).into(),
                    width: *width,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
            }
        }
        Op::Qr {
            x,
            y,
            size,
            width,
            dark,
        } => {
            // One path of rectangles, adjacent dark modules of a row merged: crisp at any
            // zoom and a few hundred bytes. Placed on the 1/150 in grid, shared edges fall
            // between device pixels and leave no anti-aliased seams for decoders to trip on.
            let module = size / *width as f32;
            let mut path = PathBuilder::new();
            for row in 0..*width {
                let mut col = 0;
                while col < *width {
                    if dark.get(row * width + col).copied().unwrap_or(false) {
                        let start = col;
                        while col < *width && dark.get(row * width + col).copied().unwrap_or(false)
                        {
                            col += 1;
                        }
                        if let Some(rect) = Rect::from_xywh(
                            x + start as f32 * module,
                            y + row as f32 * module,
                            (col - start) as f32 * module,
                            module,
                        ) {
                            path.push_rect(rect);
                        }
                    } else {
                        col += 1;
                    }
                }
            }
            if let Some(path) = path.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(fill(Rgb(0, 0, 0))));
                surface.draw_path(&path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header labels wrap between words only: a label cut inside a word ("Cantida / d") means
    /// its column is too narrow.
    #[test]
    fn table_headers_break_between_words() {
        let fonts = text::fonts().unwrap();
        for columns in [&CONCEPT_COLUMNS[..], &PAYMENT_COLUMNS[..]] {
            let total: f32 = columns.iter().map(|c| c.width).sum();
            assert!((total - WIDTH).abs() < 0.01, "columns add up to {total}");
            for c in columns {
                let words: Vec<&str> = c.label.split_whitespace().collect();
                for line in text::wrap(&fonts.bold, c.label, HEADER_SIZE, c.width - 6.0) {
                    for word in line.split_whitespace() {
                        assert!(words.contains(&word), "{:?} cut into {line:?}", c.label);
                    }
                }
            }
        }
        // A folio fiscal fits its column on one line.
        let uuid = "6128396F-C09B-4EC6-8699-43C5A8C3B8E2";
        assert!(fonts.regular.width(uuid, 7.0) <= PAYMENT_COLUMNS[0].width - 6.0);
    }

    #[test]
    fn numbers_as_printed() {
        assert_eq!(money("14654.24", 2), "14,654.24");
        assert_eq!(money("999.990000", 2), "999.99");
        assert_eq!(money("143.998400", 2), "144.00");
        assert_eq!(money("1234567.5", 0), "1,234,568");
        assert_eq!(money("-100", 2), "-100.00");
        assert_eq!(money("abc", 2), "abc");
        assert_eq!(unit_price("18.505000", 2), "18.505");
        assert_eq!(unit_price("1250.5", 2), "1,250.50");
        assert_eq!(quantity("2.000000"), "2");
        assert_eq!(quantity("1500.25"), "1,500.25");
        let tax = |factor: &str, rate: &str| Tax {
            base: None,
            impuesto: "002".into(),
            tipo_factor: Some(factor.into()),
            tasa_o_cuota: Some(rate.into()),
            importe: None,
        };
        assert_eq!(rate(&tax("Tasa", "0.160000")), "16.00%");
        assert_eq!(rate(&tax("Tasa", "0.106667")), "10.6667%");
        assert_eq!(rate(&tax("Tasa", "0.000000")), "0.00%");
        assert_eq!(rate(&tax("Cuota", "6.4555")), "6.4555");
    }
}
