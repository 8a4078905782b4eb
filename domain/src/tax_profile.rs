//! A product's tax profile: its CFDI `ObjetoImp` and the taxes its concept lines carry
//! (`Traslado` and `Retencion` nodes), checked against c_ObjetoImp's rules and c_TasaOCuota.
//!
//! The rules (Anexo 20, SAT's error matrix): `02` needs at least one tax; `01`, `03`, `04` and
//! `05` carry none; `06` and `08` carry no IVA or IEPS; `07` needs IEPS traslado and carries no
//! IVA. Every rate must be a value (or lie in a range) of c_TasaOCuota for that tax, factor and
//! direction; `Exento` carries no rate and is never a retención; a tax appears at most once per
//! direction.

use rust_decimal::Decimal;

use crate::validation::{Pointer, Violation, Violations};

pub const ISR: &str = "001";
pub const IVA: &str = "002";
pub const IEPS: &str = "003";

/// One tax of a profile, as the client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tax<'a> {
    /// c_Impuesto: `001` ISR, `002` IVA, `003` IEPS.
    pub tax: &'a str,
    /// c_TipoFactor: `Tasa`, `Cuota` or `Exento`.
    pub factor: &'a str,
    /// `TasaOCuota`; none for `Exento`.
    pub rate: Option<Decimal>,
    /// A retención (withheld by the receiver) rather than a traslado.
    pub withholding: bool,
}

/// A row of c_TasaOCuota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRule {
    /// The tax's SAT name in the catalog (`IVA`, `IEPS`, `ISR`, `IVA Crédito aplicado del 50%`).
    pub tax_name: String,
    pub factor: String,
    /// The fixed value, or the range's minimum and maximum.
    pub minimum: Option<Decimal>,
    pub value: Decimal,
    pub transfer: bool,
    pub withholding: bool,
}

impl RateRule {
    fn tax_code(&self) -> Option<&'static str> {
        // "IVA Crédito aplicado del 50%" is SAT's row for the 8 % border IVA.
        let name = self.tax_name.as_str();
        if name == "ISR" {
            Some(ISR)
        } else if name.starts_with("IVA") {
            Some(IVA)
        } else if name == "IEPS" {
            Some(IEPS)
        } else {
            None
        }
    }

    fn allows(&self, tax: &Tax<'_>, rate: Decimal) -> bool {
        self.tax_code() == Some(tax.tax)
            && self.factor == tax.factor
            && if tax.withholding {
                self.withholding
            } else {
                self.transfer
            }
            && match self.minimum {
                Some(min) => min <= rate && rate <= self.value,
                None => rate == self.value,
            }
    }
}

/// What the rules need from the catalogs.
pub trait TaxCatalogs {
    /// Whether `code` is a c_ObjetoImp key.
    fn tax_object_exists(&self, code: &str) -> bool;
    /// Every row of c_TasaOCuota.
    fn rate_rules(&self) -> Vec<RateRule>;
}

/// Checks a profile; pointers are `at/tax_object` and `at/taxes/<i>/...`.
pub fn check(
    tax_object: &str,
    taxes: &[Tax<'_>],
    catalogs: &impl TaxCatalogs,
    at: &Pointer,
    violations: &mut Violations,
) {
    let object_at = at.field("tax_object");
    let taxes_at = at.field("taxes");
    if !catalogs.tax_object_exists(tax_object) {
        violations.push(Violation::new(
            object_at,
            "unknown_tax_object",
            "tax_object is not a key of SAT's c_ObjetoImp catalog",
        ));
    } else {
        let has = |code: &str, withholding: Option<bool>| {
            taxes
                .iter()
                .any(|t| t.tax == code && withholding.is_none_or(|w| t.withholding == w))
        };
        let problem = match tax_object {
            "02" if taxes.is_empty() => {
                Some("tax_object 02 (sí objeto de impuesto) needs at least one tax")
            }
            "01" | "03" | "04" | "05" if !taxes.is_empty() => {
                Some("this tax_object carries no taxes: remove them or use 02")
            }
            "06" | "08" if has(IVA, None) || has(IEPS, None) => {
                Some("this tax_object carries no IVA or IEPS")
            }
            "07" if !has(IEPS, Some(false)) || has(IVA, None) => {
                Some("tax_object 07 needs IEPS traslado and carries no IVA")
            }
            _ => None,
        };
        if let Some(message) = problem {
            violations.push(Violation::new(
                taxes_at.clone(),
                "tax_object_mismatch",
                message,
            ));
        }
    }

    let rules = catalogs.rate_rules();
    for (i, tax) in taxes.iter().enumerate() {
        let here = taxes_at.index(i);
        if ![ISR, IVA, IEPS].contains(&tax.tax) {
            violations.push(Violation::new(
                here.field("tax"),
                "unknown_tax",
                "tax must be 001 (ISR), 002 (IVA) or 003 (IEPS)",
            ));
            continue;
        }
        if taxes[..i]
            .iter()
            .any(|t| t.tax == tax.tax && t.withholding == tax.withholding)
        {
            violations.push(Violation::new(
                here.field("tax"),
                "duplicate",
                "each tax appears once as traslado and once as retención at most",
            ));
        }
        match (tax.factor, tax.rate) {
            ("Exento", None) if tax.withholding => violations.push(Violation::new(
                here.field("factor"),
                "exempt_withholding",
                "a retención is never Exento",
            )),
            ("Exento", None) => {}
            ("Exento", Some(_)) => violations.push(Violation::new(
                here.field("rate"),
                "rate_not_allowed",
                "an Exento tax carries no rate",
            )),
            ("Tasa" | "Cuota", None) => violations.push(Violation::new(
                here.field("rate"),
                "required",
                "a Tasa or Cuota tax needs its rate",
            )),
            ("Tasa" | "Cuota", Some(rate)) => {
                if !rules.iter().any(|rule| rule.allows(tax, rate)) {
                    violations.push(Violation::new(
                        here.field("rate"),
                        "unknown_rate",
                        format!(
                            "{rate} is not a {} of this tax in SAT's c_TasaOCuota catalog for a {}",
                            tax.factor.to_lowercase(),
                            if tax.withholding {
                                "retención"
                            } else {
                                "traslado"
                            }
                        ),
                    ));
                }
            }
            _ => violations.push(Violation::new(
                here.field("factor"),
                "unknown_factor",
                "factor must be Tasa, Cuota or Exento (c_TipoFactor)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    struct Catalogs;

    fn rule(
        name: &str,
        factor: &str,
        min: Option<&str>,
        value: &str,
        t: bool,
        w: bool,
    ) -> RateRule {
        RateRule {
            tax_name: name.into(),
            factor: factor.into(),
            minimum: min.map(|m| Decimal::from_str(m).unwrap_or_default()),
            value: Decimal::from_str(value).unwrap_or_default(),
            transfer: t,
            withholding: w,
        }
    }

    impl TaxCatalogs for Catalogs {
        fn tax_object_exists(&self, code: &str) -> bool {
            ["01", "02", "03", "04", "05", "06", "07", "08"].contains(&code)
        }
        fn rate_rules(&self) -> Vec<RateRule> {
            vec![
                rule("IVA", "Tasa", None, "0.160000", true, false),
                rule("IVA", "Tasa", None, "0.000000", true, false),
                rule("IVA", "Tasa", Some("0.000000"), "0.160000", false, true),
                rule(
                    "IVA Crédito aplicado del 50%",
                    "Tasa",
                    None,
                    "0.080000",
                    true,
                    false,
                ),
                rule("IEPS", "Tasa", None, "0.265000", true, true),
                rule("IEPS", "Cuota", Some("0.000000"), "72.160500", true, true),
                rule("ISR", "Tasa", Some("0.000000"), "0.350000", false, true),
            ]
        }
    }

    fn rate(s: &str) -> Option<Decimal> {
        Decimal::from_str(s).ok()
    }

    fn codes(object: &str, taxes: &[Tax<'_>]) -> Vec<String> {
        let mut v = Violations::new();
        check(object, taxes, &Catalogs, &Pointer::root(), &mut v);
        v.into_iter()
            .map(|v| format!("{} {}", v.pointer, v.code))
            .collect()
    }

    fn iva(r: &str) -> Tax<'_> {
        Tax {
            tax: IVA,
            factor: "Tasa",
            rate: rate(r),
            withholding: false,
        }
    }

    #[test]
    fn common_profiles_pass() {
        assert!(codes("02", &[iva("0.16")]).is_empty());
        assert!(codes("02", &[iva("0.080000")]).is_empty());
        // Professional services to a company: IVA 16 %, two thirds withheld, ISR 10 % withheld.
        let services = [
            iva("0.160000"),
            Tax {
                tax: IVA,
                factor: "Tasa",
                rate: rate("0.106667"),
                withholding: true,
            },
            Tax {
                tax: ISR,
                factor: "Tasa",
                rate: rate("0.10"),
                withholding: true,
            },
        ];
        assert!(codes("02", &services).is_empty());
        let exempt = Tax {
            tax: IVA,
            factor: "Exento",
            rate: None,
            withholding: false,
        };
        assert!(codes("02", &[exempt]).is_empty());
        assert!(codes("01", &[]).is_empty());
    }

    #[test]
    fn tax_object_rules() {
        assert_eq!(codes("02", &[]), ["/taxes tax_object_mismatch"]);
        assert_eq!(codes("01", &[iva("0.16")]), ["/taxes tax_object_mismatch"]);
        assert_eq!(codes("06", &[iva("0.16")]), ["/taxes tax_object_mismatch"]);
        assert_eq!(codes("07", &[iva("0.16")]), ["/taxes tax_object_mismatch"]);
        assert_eq!(codes("99", &[]), ["/tax_object unknown_tax_object"]);
    }

    #[test]
    fn rates_come_from_the_catalog() {
        assert_eq!(codes("02", &[iva("0.15")]), ["/taxes/0/rate unknown_rate"]);
        let withheld_too_much = Tax {
            tax: ISR,
            factor: "Tasa",
            rate: rate("0.40"),
            withholding: true,
        };
        assert_eq!(
            codes("02", &[iva("0.16"), withheld_too_much]),
            ["/taxes/1/rate unknown_rate"]
        );
        let isr_transfer = Tax {
            tax: ISR,
            factor: "Tasa",
            rate: rate("0.10"),
            withholding: false,
        };
        assert_eq!(codes("02", &[isr_transfer]), ["/taxes/0/rate unknown_rate"]);
        let exempt_withheld = Tax {
            tax: IVA,
            factor: "Exento",
            rate: None,
            withholding: true,
        };
        assert_eq!(
            codes("02", &[exempt_withheld]),
            ["/taxes/0/factor exempt_withholding"]
        );
        assert_eq!(
            codes("02", &[iva("0.16"), iva("0.0")]),
            ["/taxes/1/tax duplicate"]
        );
        let no_rate = Tax {
            tax: IEPS,
            factor: "Cuota",
            rate: None,
            withholding: false,
        };
        assert_eq!(codes("02", &[no_rate]), ["/taxes/0/rate required"]);
    }
}
