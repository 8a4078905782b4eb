//! The tax engine: from invoice lines (quantity, unit price, discount, taxes) to every amount a
//! CFDI 4.0 carries — each concept's Importe, its Traslados and Retenciones, and the
//! Comprobante's SubTotal, Descuento, grouped Impuestos and Total — plus SAT's límites, the
//! tolerance a PAC applies when it checks those amounts.
//!
//! Money is [`Decimal`], never floating point. Rounding is half away from zero
//! ([`RoundingStrategy::MidpointAwayFromZero`]), the rounding SAT's documents use.
//!
//! # Decimals written
//! SAT's FAQ 39 says to round only at the end, so:
//! - concept amounts (Importe, Descuento, each tax's Base and Importe) keep [`LINE_DECIMALS`]
//!   (6, the most `t_Importe` allows): `Importe = round6(Cantidad × ValorUnitario)`,
//!   `tax Importe = round6(Base × TasaOCuota)`;
//! - the Comprobante's amounts (SubTotal, Descuento, each group's Base and Importe, the two tax
//!   totals, Total) are the sums of the concept amounts rounded once, at the currency's
//!   decimals (c_Moneda `decimales`), and Total is computed from those rounded figures so it
//!   reconciles exactly;
//! - TasaOCuota is written with 6 decimals (`0.160000`), as c_TasaOCuota lists it;
//! - Cantidad and ValorUnitario are written as the client gave them (at most 6 decimals).
//!
//! IEPS Cuota is computed like Tasa, `Importe = Base × TasaOCuota` (CFDI-RULES.md; SAT's
//! límite formula is the same for both factors).
//!
//! Rounding a value at d decimals always lands between its truncation and its ceiling at d
//! decimals, so amounts computed this way lie within SAT's límites whatever decimals the
//! inputs have (the property tests check it).
//!
//! # Bounds
//! Quantity and unit price are at most [`MAX_INPUT`] and a line's Importe at most
//! [`MAX_LINE_IMPORTE`]: with those, every product fits `Decimal`'s 28 digits exactly, so no
//! amount is ever silently rounded by the arithmetic itself. Larger values are rejected with a
//! violation, never a panic.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::validation::{Pointer, Violation, Violations};

/// Decimals of every concept-level amount (Importe, Descuento, tax Base and Importe).
pub const LINE_DECIMALS: u32 = 6;
/// Decimals of TasaOCuota as written.
pub const RATE_DECIMALS: u32 = 6;
/// The largest quantity or unit price accepted (10^12).
pub const MAX_INPUT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);
/// The largest Importe (quantity × unit price) of one line accepted (10^14).
pub const MAX_LINE_IMPORTE: Decimal = Decimal::from_parts(276_447_232, 23_283, 0, false, 0);
/// `t_Importe` allows at most 18 integer digits: every written amount is below 10^18.
const MAX_AMOUNT_EXCLUSIVE: Decimal = Decimal::from_parts(2_808_348_672, 232_830_643, 0, false, 0);
/// The highest IEPS Cuota in c_TasaOCuota.
const MAX_IEPS_CUOTA: Decimal = Decimal::from_parts(721_605, 0, 0, false, 4);
/// The highest IVA retention rate (c_TasaOCuota range 0–0.16).
const MAX_IVA_RETENCION: Decimal = Decimal::from_parts(16, 0, 0, false, 2);
/// The highest ISR retention rate (c_TasaOCuota range 0–0.35).
const MAX_ISR_RETENCION: Decimal = Decimal::from_parts(35, 0, 0, false, 2);

/// IVA traslado rates of c_TasaOCuota (0.08 only in the northern and southern border zones).
const IVA_TRASLADO_RATES: [Decimal; 3] = [
    Decimal::from_parts(16, 0, 0, false, 2),
    Decimal::from_parts(8, 0, 0, false, 2),
    Decimal::ZERO,
];
/// IEPS Tasa values of c_TasaOCuota; the last two are valid only for traslados.
const IEPS_TASAS: [Decimal; 13] = [
    Decimal::from_parts(265, 0, 0, false, 3),
    Decimal::from_parts(30, 0, 0, false, 2),
    Decimal::from_parts(53, 0, 0, false, 2),
    Decimal::from_parts(50, 0, 0, false, 2),
    Decimal::from_parts(160, 0, 0, false, 2),
    Decimal::from_parts(304, 0, 0, false, 3),
    Decimal::from_parts(25, 0, 0, false, 2),
    Decimal::from_parts(9, 0, 0, false, 2),
    Decimal::from_parts(8, 0, 0, false, 2),
    Decimal::from_parts(7, 0, 0, false, 2),
    Decimal::from_parts(6, 0, 0, false, 2),
    Decimal::from_parts(3, 0, 0, false, 2),
    Decimal::ZERO,
];
/// How many of [`IEPS_TASAS`] (from the start) may also be retained.
const IEPS_TASAS_RETENIBLES: usize = 11;

/// `round(value)` at `decimals`, half away from zero, written with exactly `decimals` digits.
pub fn round_to(value: Decimal, decimals: u32) -> Decimal {
    let mut rounded =
        value.round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(decimals);
    rounded
}

/// Whether a tax is charged to the customer (traslado) or withheld by the customer (retención).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaxKind {
    /// Traslado.
    Transfer,
    /// Retención.
    Withholding,
}

/// c_Impuesto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Impuesto {
    /// `001` ISR (income tax), only ever withheld.
    Isr,
    /// `002` IVA (value added tax).
    Iva,
    /// `003` IEPS (excise tax).
    Ieps,
}

impl Impuesto {
    /// The c_Impuesto key: `001`, `002`, `003`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Isr => "001",
            Self::Iva => "002",
            Self::Ieps => "003",
        }
    }

    /// The tax for a c_Impuesto key.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "001" => Some(Self::Isr),
            "002" => Some(Self::Iva),
            "003" => Some(Self::Ieps),
            _ => None,
        }
    }
}

/// c_TipoFactor: how the tax is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TipoFactor {
    /// A rate applied to the base.
    Tasa,
    /// A fixed amount per unit of the base (IEPS on fuels, tobacco…).
    Cuota,
    /// Exempt: only the base is reported.
    Exento,
}

impl TipoFactor {
    /// The c_TipoFactor key, as written in the XML.
    pub fn code(self) -> &'static str {
        match self {
            Self::Tasa => "Tasa",
            Self::Cuota => "Cuota",
            Self::Exento => "Exento",
        }
    }

    /// The factor for a c_TipoFactor key.
    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "Tasa" => Some(Self::Tasa),
            "Cuota" => Some(Self::Cuota),
            "Exento" => Some(Self::Exento),
            _ => None,
        }
    }
}

/// c_ObjetoImp: whether, and how, a concept is subject to tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjetoImp {
    /// `01` not subject to tax: no taxes.
    NotSubject,
    /// `02` subject to tax: taxes required.
    Subject,
    /// `03` subject, no breakdown required: no taxes.
    SubjectNoBreakdown,
    /// `04` subject, no tax caused: no taxes.
    SubjectNotCaused,
    /// `05` subject, IVA credit PODEBI: no taxes.
    SubjectPodebi,
    /// `06` subject to IVA, IVA not transferred: no IVA or IEPS (ISR may be withheld).
    IvaNotTransferred,
    /// `07` IVA not transferred, IEPS broken down: IEPS traslado required, no IVA.
    IvaNotTransferredIepsBrokenDown,
    /// `08` IVA not transferred, IEPS not broken down: no IVA or IEPS.
    IvaNotTransferredIepsNotBrokenDown,
}

impl ObjetoImp {
    /// The c_ObjetoImp key, `01` to `08`.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotSubject => "01",
            Self::Subject => "02",
            Self::SubjectNoBreakdown => "03",
            Self::SubjectNotCaused => "04",
            Self::SubjectPodebi => "05",
            Self::IvaNotTransferred => "06",
            Self::IvaNotTransferredIepsBrokenDown => "07",
            Self::IvaNotTransferredIepsNotBrokenDown => "08",
        }
    }

    /// The value for a c_ObjetoImp key (unknown keys are SAT's CFDI40170).
    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "01" => Self::NotSubject,
            "02" => Self::Subject,
            "03" => Self::SubjectNoBreakdown,
            "04" => Self::SubjectNotCaused,
            "05" => Self::SubjectPodebi,
            "06" => Self::IvaNotTransferred,
            "07" => Self::IvaNotTransferredIepsBrokenDown,
            "08" => Self::IvaNotTransferredIepsNotBrokenDown,
            _ => return None,
        })
    }
}

/// One tax asked for on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxInput {
    pub kind: TaxKind,
    pub tax: Impuesto,
    pub factor: TipoFactor,
    /// TasaOCuota: required for Tasa and Cuota, absent for Exento.
    pub rate: Option<Decimal>,
}

/// One invoice line as the client describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Cantidad: more than 0, at most 6 decimals.
    pub quantity: Decimal,
    /// ValorUnitario: 0 or more, at most 6 decimals.
    pub unit_price: Decimal,
    /// Descuento: at most the line's Importe.
    pub discount: Option<Decimal>,
    pub tax_object: ObjetoImp,
    pub taxes: Vec<TaxInput>,
}

/// A Traslado node: of a concept, or a group of the Comprobante (same attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Traslado {
    pub base: Decimal,
    pub impuesto: Impuesto,
    pub tipo_factor: TipoFactor,
    /// Absent for Exento.
    pub tasa_o_cuota: Option<Decimal>,
    /// Absent for Exento.
    pub importe: Option<Decimal>,
}

/// A Retencion node of a concept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retencion {
    pub base: Decimal,
    pub impuesto: Impuesto,
    /// Tasa or Cuota, never Exento.
    pub tipo_factor: TipoFactor,
    pub tasa_o_cuota: Decimal,
    pub importe: Decimal,
}

/// A Retencion node of the Comprobante: retentions are grouped by tax only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetencionTotal {
    pub impuesto: Impuesto,
    pub importe: Decimal,
}

/// The amounts of one concept, as they are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAmounts {
    pub cantidad: Decimal,
    pub valor_unitario: Decimal,
    pub importe: Decimal,
    pub descuento: Option<Decimal>,
    pub objeto_imp: ObjetoImp,
    pub traslados: Vec<Traslado>,
    pub retenciones: Vec<Retencion>,
}

/// The Comprobante's Impuestos node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpuestosTotals {
    /// Ordered by Impuesto code.
    pub retenciones: Vec<RetencionTotal>,
    /// Present when there is any retention.
    pub total_impuestos_retenidos: Option<Decimal>,
    /// One per (Impuesto, TipoFactor, TasaOCuota), ordered by those.
    pub traslados: Vec<Traslado>,
    /// Present when any traslado is not Exento (SAT's CFDI40212).
    pub total_impuestos_trasladados: Option<Decimal>,
}

/// Everything the engine computes for an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxComputation {
    /// The currency decimals the totals were rounded to.
    pub currency_decimals: u32,
    pub lines: Vec<LineAmounts>,
    pub sub_total: Decimal,
    /// Present when any line has a discount (SAT's CFDI40111).
    pub descuento: Option<Decimal>,
    /// Absent when no line has a tax.
    pub impuestos: Option<ImpuestosTotals>,
    pub total: Decimal,
}

/// Checks `lines` and computes every amount. `currency_decimals` is the c_Moneda `decimales` of
/// the invoice currency (2 for MXN and USD, 0 for JPY, 3 for KWD). Violations point at
/// `/lines/{i}/…` and `/lines/{i}/taxes/{j}/…`.
pub fn compute(lines: &[Line], currency_decimals: u32) -> Result<TaxComputation, Violations> {
    let mut violations = Violations::new();
    let at_lines = Pointer::root().field("lines");
    if currency_decimals > LINE_DECIMALS {
        violations.push(Violation::new(
            Pointer::root().field("currency"),
            "invalid_currency_decimals",
            format!("a currency has at most {LINE_DECIMALS} decimals, not {currency_decimals}"),
        ));
    }
    if lines.is_empty() {
        violations.push(Violation::new(
            at_lines.clone(),
            "no_lines",
            "an invoice needs at least one line",
        ));
    }
    let mut amounts = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        if let Some(line) = compute_line(line, &at_lines.index(i), &mut violations) {
            amounts.push(line);
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    totals(amounts, currency_decimals)
}

fn too_many_decimals(value: Decimal) -> bool {
    value.normalize().scale() > LINE_DECIMALS
}

/// The value as it is written: as given, only dropping zeros beyond the 6th decimal.
fn as_written(value: Decimal) -> Decimal {
    if value.scale() > LINE_DECIMALS {
        value.normalize()
    } else {
        value
    }
}

fn compute_line(line: &Line, at: &Pointer, violations: &mut Violations) -> Option<LineAmounts> {
    let before = violations.len();
    let at_quantity = at.field("quantity");
    if line.quantity <= Decimal::ZERO {
        violations.push(Violation::new(
            at_quantity,
            "not_positive",
            "quantity must be more than 0",
        ));
    } else if line.quantity > MAX_INPUT {
        violations.push(Violation::new(
            at_quantity,
            "too_large",
            "quantity must be at most 1000000000000",
        ));
    } else if too_many_decimals(line.quantity) {
        violations.push(Violation::new(
            at_quantity,
            "too_many_decimals",
            "quantity has at most 6 decimals",
        ));
    }
    let at_price = at.field("unit_price");
    if line.unit_price < Decimal::ZERO {
        violations.push(Violation::new(
            at_price,
            "negative",
            "unit price must not be negative",
        ));
    } else if line.unit_price > MAX_INPUT {
        violations.push(Violation::new(
            at_price,
            "too_large",
            "unit price must be at most 1000000000000",
        ));
    } else if too_many_decimals(line.unit_price) {
        violations.push(Violation::new(
            at_price,
            "too_many_decimals",
            "unit price has at most 6 decimals",
        ));
    }
    if let Some(discount) = line.discount {
        let at_discount = at.field("discount");
        if discount < Decimal::ZERO {
            violations.push(Violation::new(
                at_discount,
                "negative",
                "discount must not be negative",
            ));
        } else if too_many_decimals(discount) {
            violations.push(Violation::new(
                at_discount,
                "CFDI40168",
                "discount has more decimals than the line Importe (6)",
            ));
        }
    }
    check_tax_object(line, at, violations);
    for (j, tax) in line.taxes.iter().enumerate() {
        check_tax(tax, &at.field("taxes").index(j), violations);
    }
    check_duplicate_taxes(line, at, violations);
    if violations.len() > before {
        return None;
    }

    // Both inputs are at most 10^12 with 6 decimals: the product may need more than 28 digits
    // only when it exceeds MAX_LINE_IMPORTE, which is rejected right after.
    let exact = line.quantity.checked_mul(line.unit_price);
    let importe = match exact {
        Some(product) if product <= MAX_LINE_IMPORTE => round_to(product, LINE_DECIMALS),
        _ => {
            violations.push(Violation::new(
                at.field("unit_price"),
                "too_large",
                "quantity × unit price must be at most 100000000000000",
            ));
            return None;
        }
    };
    let descuento = match line.discount {
        Some(d) if d > importe => {
            violations.push(Violation::new(
                at.field("discount"),
                "CFDI40169",
                format!("discount must be at most the line Importe ({importe})"),
            ));
            return None;
        }
        Some(d) => Some(round_to(d, LINE_DECIMALS)),
        None => None,
    };
    let base = importe - descuento.unwrap_or(Decimal::ZERO);
    if base <= Decimal::ZERO {
        // The IVA base only adds IEPS to this one, so every tax's base is 0 too.
        for (j, tax) in line.taxes.iter().enumerate() {
            let (code, message) = match tax.kind {
                TaxKind::Transfer => (
                    "CFDI40174",
                    "the tax base (Importe − Descuento) must be more than 0",
                ),
                TaxKind::Withholding => (
                    "CFDI40181",
                    "the retention base (Importe − Descuento) must be more than 0",
                ),
            };
            violations.push(Violation::new(at.field("taxes").index(j), code, message));
        }
        if !line.taxes.is_empty() {
            return None;
        }
    }

    // IEPS first: when it is transferred, the IVA base includes it (Guía de llenado); the
    // same base serves IVA retained, which is a share of that IVA.
    let mut traslados: Vec<(usize, Traslado)> = Vec::new();
    let mut retenciones: Vec<(usize, Retencion)> = Vec::new();
    let mut iva_base = base;
    let order = |t: &TaxInput| u8::from(t.tax != Impuesto::Ieps);
    let mut indexed: Vec<(usize, &TaxInput)> = line.taxes.iter().enumerate().collect();
    indexed.sort_by_key(|(_, t)| order(t));
    for (j, tax) in indexed {
        let tax_base = if tax.tax == Impuesto::Iva {
            iva_base
        } else {
            base
        };
        let rate = tax.rate.map(|r| round_to(r, RATE_DECIMALS));
        // Bounded: base < 7.3·10^15 and rate ≤ 72.1605, so the product fits exactly.
        let importe = match rate {
            Some(r) if tax.factor != TipoFactor::Exento => {
                Some(round_to(tax_base * r, LINE_DECIMALS))
            }
            _ => None,
        };
        match tax.kind {
            TaxKind::Transfer => {
                if let (Impuesto::Ieps, Some(amount)) = (tax.tax, importe) {
                    iva_base += amount;
                }
                traslados.push((
                    j,
                    Traslado {
                        base: tax_base,
                        impuesto: tax.tax,
                        tipo_factor: tax.factor,
                        tasa_o_cuota: importe.and(rate),
                        importe,
                    },
                ));
            }
            TaxKind::Withholding => {
                if let (Some(r), Some(amount)) = (rate, importe) {
                    retenciones.push((
                        j,
                        Retencion {
                            base: tax_base,
                            impuesto: tax.tax,
                            tipo_factor: tax.factor,
                            tasa_o_cuota: r,
                            importe: amount,
                        },
                    ));
                }
            }
        }
    }
    // Written in the client's order, whatever order they were computed in.
    traslados.sort_by_key(|(j, _)| *j);
    retenciones.sort_by_key(|(j, _)| *j);
    Some(LineAmounts {
        cantidad: as_written(line.quantity),
        valor_unitario: as_written(line.unit_price),
        importe,
        descuento,
        objeto_imp: line.tax_object,
        traslados: traslados.into_iter().map(|(_, t)| t).collect(),
        retenciones: retenciones.into_iter().map(|(_, r)| r).collect(),
    })
}

fn check_tax_object(line: &Line, at: &Pointer, violations: &mut Violations) {
    let at_object = at.field("tax_object");
    let has = |kind: Option<TaxKind>, tax: Impuesto| {
        line.taxes
            .iter()
            .any(|t| t.tax == tax && kind.is_none_or(|k| t.kind == k))
    };
    match line.tax_object {
        ObjetoImp::Subject if line.taxes.is_empty() => violations.push(Violation::new(
            at_object,
            "CFDI40171",
            "tax object 02 requires at least one tax",
        )),
        ObjetoImp::NotSubject
        | ObjetoImp::SubjectNoBreakdown
        | ObjetoImp::SubjectNotCaused
        | ObjetoImp::SubjectPodebi
            if !line.taxes.is_empty() =>
        {
            violations.push(Violation::new(
                at.field("taxes"),
                "CFDI40172",
                "tax objects 01, 03, 04 and 05 allow no taxes",
            ))
        }
        ObjetoImp::IvaNotTransferred | ObjetoImp::IvaNotTransferredIepsNotBrokenDown
            if has(None, Impuesto::Iva) || has(None, Impuesto::Ieps) =>
        {
            violations.push(Violation::new(
                at.field("taxes"),
                "CFDI140226",
                "tax objects 06 and 08 allow no IVA (002) or IEPS (003), only ISR retention",
            ))
        }
        ObjetoImp::IvaNotTransferredIepsBrokenDown
            if has(None, Impuesto::Iva) || !has(Some(TaxKind::Transfer), Impuesto::Ieps) =>
        {
            violations.push(Violation::new(
                at.field("taxes"),
                "CFDI140227",
                "tax object 07 requires an IEPS (003) transfer and allows no IVA (002)",
            ))
        }
        _ => {}
    }
}

fn check_duplicate_taxes(line: &Line, at: &Pointer, violations: &mut Violations) {
    for (j, tax) in line.taxes.iter().enumerate() {
        let seen_before = line.taxes[..j]
            .iter()
            .any(|t| t.kind == tax.kind && t.tax == tax.tax && t.factor == tax.factor);
        if seen_before {
            violations.push(Violation::new(
                at.field("taxes").index(j),
                "duplicate_tax",
                "the same tax with the same factor is already on this line",
            ));
        }
    }
}

fn check_tax(tax: &TaxInput, at: &Pointer, violations: &mut Violations) {
    let at_rate = at.field("rate");
    let transfer = tax.kind == TaxKind::Transfer;
    if tax.factor == TipoFactor::Exento {
        if !transfer {
            violations.push(Violation::new(
                at.field("factor"),
                "CFDI40184",
                "a retention is never Exento",
            ));
        } else if tax.tax == Impuesto::Isr {
            violations.push(Violation::new(
                at.field("tax"),
                "CFDI40179",
                "ISR is only ever withheld, never transferred",
            ));
        } else if tax.rate.is_some() {
            violations.push(Violation::new(
                at_rate,
                "CFDI40177",
                "an Exento tax has no rate",
            ));
        }
        return;
    }
    let Some(rate) = tax.rate else {
        let message = if transfer {
            "a Tasa or Cuota tax needs its rate"
        } else {
            "a retention needs its TasaOCuota"
        };
        let code = if transfer { "CFDI40178" } else { "CFDI40185" };
        violations.push(Violation::new(at_rate, code, message));
        return;
    };
    if rate.normalize().scale() > RATE_DECIMALS || !rate_allowed(tax, rate) {
        let (code, message) = if transfer {
            (
                "CFDI40179",
                "rate is not one c_TasaOCuota allows for this tax and factor (IVA 0.16, 0.08, 0; IEPS Tasa values or Cuota 0–72.1605; ISR is never transferred)",
            )
        } else {
            (
                "CFDI40185",
                "rate is not one c_TasaOCuota allows for this retention (IVA 0–0.16, ISR 0–0.35, IEPS Tasa values or Cuota 0–72.1605)",
            )
        };
        let at = if tax.tax == Impuesto::Isr && transfer {
            at.field("tax")
        } else {
            at_rate
        };
        violations.push(Violation::new(at, code, message));
    }
}

/// c_TasaOCuota: the rates each (tax, factor, kind) allows.
fn rate_allowed(tax: &TaxInput, rate: Decimal) -> bool {
    let in_range = |max: Decimal| rate >= Decimal::ZERO && rate <= max;
    match (tax.kind, tax.tax, tax.factor) {
        (TaxKind::Transfer, Impuesto::Iva, TipoFactor::Tasa) => IVA_TRASLADO_RATES.contains(&rate),
        (TaxKind::Withholding, Impuesto::Iva, TipoFactor::Tasa) => in_range(MAX_IVA_RETENCION),
        (TaxKind::Withholding, Impuesto::Isr, TipoFactor::Tasa) => in_range(MAX_ISR_RETENCION),
        (TaxKind::Transfer, Impuesto::Ieps, TipoFactor::Tasa) => IEPS_TASAS.contains(&rate),
        (TaxKind::Withholding, Impuesto::Ieps, TipoFactor::Tasa) => {
            IEPS_TASAS[..IEPS_TASAS_RETENIBLES].contains(&rate)
        }
        (_, Impuesto::Ieps, TipoFactor::Cuota) => in_range(MAX_IEPS_CUOTA),
        _ => false,
    }
}

fn too_large(pointer: Pointer, what: &str) -> Violations {
    Violation::new(
        pointer,
        "amount_too_large",
        format!("{what} must be less than 10^18 (SAT's t_Importe)"),
    )
    .into()
}

fn sum<'a>(values: impl IntoIterator<Item = &'a Decimal>) -> Option<Decimal> {
    values
        .into_iter()
        .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v))
}

/// A total as written: the exact sum rounded once, at the currency's decimals, and below 10^18.
fn rounded_total<'a>(
    values: impl IntoIterator<Item = &'a Decimal>,
    decimals: u32,
    what: &str,
) -> Result<Decimal, Violations> {
    match sum(values) {
        Some(s) if round_to(s, decimals) < MAX_AMOUNT_EXCLUSIVE => Ok(round_to(s, decimals)),
        _ => Err(too_large(Pointer::root().field("lines"), what)),
    }
}

fn totals(lines: Vec<LineAmounts>, decimals: u32) -> Result<TaxComputation, Violations> {
    let sub_total = rounded_total(lines.iter().map(|l| &l.importe), decimals, "SubTotal")?;
    let any_discount = lines.iter().any(|l| l.descuento.is_some());
    let descuento = if any_discount {
        Some(rounded_total(
            lines.iter().filter_map(|l| l.descuento.as_ref()),
            decimals,
            "Descuento",
        )?)
    } else {
        None
    };

    // Group keys order the groups in the XML: by tax code, then factor, then rate.
    let mut traslado_groups: BTreeMap<(Impuesto, TipoFactor, Option<Decimal>), Vec<&Traslado>> =
        BTreeMap::new();
    let mut retencion_groups: BTreeMap<Impuesto, Vec<&Retencion>> = BTreeMap::new();
    for line in &lines {
        for t in &line.traslados {
            traslado_groups
                .entry((t.impuesto, t.tipo_factor, t.tasa_o_cuota))
                .or_default()
                .push(t);
        }
        for r in &line.retenciones {
            retencion_groups.entry(r.impuesto).or_default().push(r);
        }
    }
    let mut traslados = Vec::with_capacity(traslado_groups.len());
    for ((impuesto, tipo_factor, tasa_o_cuota), group) in traslado_groups {
        let base = rounded_total(group.iter().map(|t| &t.base), decimals, "Traslado Base")?;
        let importe = if tipo_factor == TipoFactor::Exento {
            None
        } else {
            Some(rounded_total(
                group.iter().filter_map(|t| t.importe.as_ref()),
                decimals,
                "Traslado Importe",
            )?)
        };
        traslados.push(Traslado {
            base,
            impuesto,
            tipo_factor,
            tasa_o_cuota,
            importe,
        });
    }
    let mut retenciones = Vec::with_capacity(retencion_groups.len());
    for (impuesto, group) in retencion_groups {
        retenciones.push(RetencionTotal {
            impuesto,
            importe: rounded_total(group.iter().map(|r| &r.importe), decimals, "Retencion")?,
        });
    }
    let total_impuestos_trasladados = if traslados.iter().any(|t| t.importe.is_some()) {
        Some(rounded_total(
            traslados.iter().filter_map(|t| t.importe.as_ref()),
            decimals,
            "TotalImpuestosTrasladados",
        )?)
    } else {
        None
    };
    let total_impuestos_retenidos = if retenciones.is_empty() {
        None
    } else {
        Some(rounded_total(
            retenciones.iter().map(|r| &r.importe),
            decimals,
            "TotalImpuestosRetenidos",
        )?)
    };
    let zero = Decimal::ZERO;
    // Each term is rounded and below 10^18, so this cannot overflow.
    let total = sub_total - descuento.unwrap_or(zero) + total_impuestos_trasladados.unwrap_or(zero)
        - total_impuestos_retenidos.unwrap_or(zero);
    if total < zero {
        return Err(Violation::new(
            Pointer::root().field("lines"),
            "negative_total",
            format!("retentions exceed the amount due (Total would be {total})"),
        )
        .into());
    }
    if total >= MAX_AMOUNT_EXCLUSIVE {
        return Err(too_large(Pointer::root().field("lines"), "Total"));
    }
    let impuestos = if traslados.is_empty() && retenciones.is_empty() {
        None
    } else {
        Some(ImpuestosTotals {
            retenciones,
            total_impuestos_retenidos,
            traslados,
            total_impuestos_trasladados,
        })
    };
    Ok(TaxComputation {
        currency_decimals: decimals,
        lines,
        sub_total,
        descuento,
        impuestos,
        total,
    })
}

// --- SAT's límites --------------------------------------------------------------------------

/// 10^−d / 2: half a unit in the last written decimal.
fn half_unit(decimals: u32) -> Decimal {
    Decimal::new(5, decimals + 1)
}

/// 10^−12, the term SAT subtracts from the upper limits.
const PICO: Decimal = Decimal::from_parts(1, 0, 0, false, 12);

fn truncate_at(value: Decimal, decimals: u32) -> Decimal {
    value.round_dp_with_strategy(decimals, RoundingStrategy::ToZero)
}

fn ceil_at(value: Decimal, decimals: u32) -> Decimal {
    value.round_dp_with_strategy(decimals, RoundingStrategy::ToPositiveInfinity)
}

/// SAT's [lower, upper] límites of a concept's Importe, evaluated with the decimals each value
/// is written with (its `Decimal` scale). `None` when the values are too large to evaluate.
pub fn importe_limits(
    cantidad: Decimal,
    valor_unitario: Decimal,
    importe_decimals: u32,
) -> Option<(Decimal, Decimal)> {
    let hc = half_unit(cantidad.scale());
    let hv = half_unit(valor_unitario.scale());
    let low = (cantidad.checked_sub(hc)?).checked_mul(valor_unitario.checked_sub(hv)?)?;
    let high = (cantidad.checked_add(hc)?.checked_sub(PICO)?)
        .checked_mul(valor_unitario.checked_add(hv)?.checked_sub(PICO)?)?;
    Some((
        truncate_at(low, importe_decimals),
        ceil_at(high, importe_decimals),
    ))
}

/// SAT's [lower, upper] límites of a tax Importe for `base` (at its written decimals) and
/// TasaOCuota `rate`. `None` when the values are too large to evaluate.
pub fn tax_limits(
    base: Decimal,
    rate: Decimal,
    importe_decimals: u32,
) -> Option<(Decimal, Decimal)> {
    let hb = half_unit(base.scale());
    let low = base.checked_sub(hb)?.checked_mul(rate)?;
    let high = base.checked_add(hb)?.checked_sub(PICO)?.checked_mul(rate)?;
    Some((
        truncate_at(low, importe_decimals),
        ceil_at(high, importe_decimals),
    ))
}

fn within(value: Decimal, limits: Option<(Decimal, Decimal)>) -> bool {
    limits.is_some_and(|(low, high)| low <= value && value <= high)
}

/// Checks one concept's Importe and tax Importes against SAT's límites (CFDI40167, CFDI40180,
/// CFDI40186), pushing a violation at `at` (`…/importe`, `…/traslados/{j}/importe`, …) for
/// each amount outside them. Usable on any CFDI's numbers, not only on computed ones.
pub fn check_limits(
    cantidad: Decimal,
    valor_unitario: Decimal,
    importe: Decimal,
    traslados: &[Traslado],
    retenciones: &[Retencion],
    at: &Pointer,
    violations: &mut Violations,
) {
    if !within(
        importe,
        importe_limits(cantidad, valor_unitario, importe.scale()),
    ) {
        violations.push(Violation::new(
            at.field("importe"),
            "CFDI40167",
            "Importe is outside SAT's límites for Cantidad × ValorUnitario",
        ));
    }
    for (j, t) in traslados.iter().enumerate() {
        if let (Some(rate), Some(amount)) = (t.tasa_o_cuota, t.importe)
            && !within(amount, tax_limits(t.base, rate, amount.scale()))
        {
            violations.push(Violation::new(
                at.field("traslados").index(j).field("importe"),
                "CFDI40180",
                "the traslado Importe is outside SAT's límites for Base × TasaOCuota",
            ));
        }
    }
    for (j, r) in retenciones.iter().enumerate() {
        if !within(
            r.importe,
            tax_limits(r.base, r.tasa_o_cuota, r.importe.scale()),
        ) {
            violations.push(Violation::new(
                at.field("retenciones").index(j).field("importe"),
                "CFDI40186",
                "the retention Importe is outside SAT's límites for Base × TasaOCuota",
            ));
        }
    }
}

impl TaxComputation {
    /// Every concept amount outside SAT's límites; empty for anything [`compute`] returns.
    pub fn limit_violations(&self) -> Violations {
        let mut violations = Violations::new();
        let at = Pointer::root().field("lines");
        for (i, l) in self.lines.iter().enumerate() {
            check_limits(
                l.cantidad,
                l.valor_unitario,
                l.importe,
                &l.traslados,
                &l.retenciones,
                &at.index(i),
                &mut violations,
            );
        }
        violations
    }
}

#[cfg(test)]
pub(crate) mod tests;
