//! SAT's descriptions of the codes a CFDI carries ("G03 - Gastos en general."), read from the
//! catalog CSVs in `catalogs/sat/` compiled into the binary.
//!
//! The renderer is a pure function of the XML, so it cannot ask the database (whose catalogs
//! an operator may have reloaded): the compiled-in publication is the one the application was
//! built with, and a code it does not know is printed without a description.

use std::collections::HashMap;
use std::sync::LazyLock;

/// A SAT catalog whose `texto` the printout shows next to the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Catalog {
    UsoCfdi,
    FormaPago,
    MetodoPago,
    TipoRelacion,
    Exportacion,
    ObjetoImp,
    Periodicidad,
    Meses,
    Impuesto,
}

impl Catalog {
    fn csv(self) -> &'static str {
        match self {
            Self::UsoCfdi => include_str!("../../../catalogs/sat/c_UsoCFDI.csv"),
            Self::FormaPago => include_str!("../../../catalogs/sat/c_FormaPago.csv"),
            Self::MetodoPago => include_str!("../../../catalogs/sat/c_MetodoPago.csv"),
            Self::TipoRelacion => include_str!("../../../catalogs/sat/c_TipoRelacion.csv"),
            Self::Exportacion => include_str!("../../../catalogs/sat/c_Exportacion.csv"),
            Self::ObjetoImp => include_str!("../../../catalogs/sat/c_ObjetoImp.csv"),
            Self::Periodicidad => include_str!("../../../catalogs/sat/c_Periodicidad.csv"),
            Self::Meses => include_str!("../../../catalogs/sat/c_Meses.csv"),
            Self::Impuesto => include_str!("../../../catalogs/sat/c_Impuesto.csv"),
        }
    }

    const ALL: [Self; 9] = [
        Self::UsoCfdi,
        Self::FormaPago,
        Self::MetodoPago,
        Self::TipoRelacion,
        Self::Exportacion,
        Self::ObjetoImp,
        Self::Periodicidad,
        Self::Meses,
        Self::Impuesto,
    ];
}

/// `id` → `texto` of every catalog; the `catalogs_are_readable` test checks no row is lost.
static DESCRIPTIONS: LazyLock<HashMap<(Catalog, String), String>> = LazyLock::new(|| {
    Catalog::ALL
        .into_iter()
        .flat_map(|catalog| {
            rows(catalog.csv())
                .filter_map(move |row| Some(((catalog, row.first()?.clone()), row.get(1)?.clone())))
        })
        .collect()
});

static CURRENCY_DECIMALS: LazyLock<HashMap<String, u32>> = LazyLock::new(|| {
    rows(include_str!("../../../catalogs/sat/c_Moneda.csv"))
        .filter_map(|row| Some((row.first()?.clone(), row.get(2)?.parse().ok()?)))
        .collect()
});

fn rows(csv_text: &'static str) -> impl Iterator<Item = Vec<String>> {
    csv::Reader::from_reader(csv_text.as_bytes())
        .into_records()
        .filter_map(Result::ok)
        .map(|record| record.iter().map(str::to_owned).collect())
}

/// SAT's description of `code`, if the catalog has it.
pub(super) fn describe(catalog: Catalog, code: &str) -> Option<&'static str> {
    DESCRIPTIONS
        .get(&(catalog, code.to_owned()))
        .map(String::as_str)
}

/// `"G03 - Gastos en general."`, or the code alone when the catalog does not know it.
pub(super) fn with_description(catalog: Catalog, code: &str) -> String {
    match describe(catalog, code) {
        Some(text) => format!("{code} - {text}"),
        None => code.to_owned(),
    }
}

/// The régimen fiscal with its name (c_RegimenFiscal lives in `domain`).
pub(super) fn regimen(code: &str) -> String {
    match domain::tax_regime::TaxRegime::parse(code) {
        Ok(regime) => format!("{code} - {}", regime.description()),
        Err(_) => code.to_owned(),
    }
}

/// c_Moneda `decimales` of `code`; 2 for a code the catalog does not have.
pub(super) fn currency_decimals(code: &str) -> u32 {
    CURRENCY_DECIMALS.get(code).copied().unwrap_or(2)
}

/// The printed name of a tax (c_Impuesto's `texto` is the short name: ISR, IVA, IEPS).
pub(super) fn tax_name(code: &str) -> &str {
    describe(Catalog::Impuesto, code).unwrap_or(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_are_readable() {
        for catalog in Catalog::ALL {
            let lines = catalog.csv().lines().count() - 1;
            let read = DESCRIPTIONS.keys().filter(|(c, _)| *c == catalog).count();
            assert_eq!(read, lines, "{catalog:?}");
        }
        assert_eq!(
            with_description(Catalog::UsoCfdi, "G03"),
            "G03 - Gastos en general."
        );
        assert_eq!(regimen("601"), "601 - General de Ley Personas Morales");
        assert_eq!(regimen("999"), "999");
        assert_eq!(tax_name("002"), "IVA");
        assert_eq!(currency_decimals("JPY"), 0);
        assert_eq!(currency_decimals("MXN"), 2);
        assert_eq!(currency_decimals("KWD"), 3);
    }
}
