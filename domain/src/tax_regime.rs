//! SAT's c_RegimenFiscal catalog (CFDI 4.0): the tax regimes (regímenes fiscales) a taxpayer is
//! registered under, written in `Emisor/@RegimenFiscal` and `Receptor/@RegimenFiscalReceptor`.
//!
//! The catalog is the CSV in `catalogs/sat/`, compiled into the binary and read on first use.
//! Only the CFDI 4.0 catalog counts: `catCFDI.xsd` still lists 609, 628, 629 and 630, which
//! CFDI 4.0 dropped.

use std::fmt;
use std::sync::LazyLock;

use serde::{Serialize, Serializer};

use crate::rfc::PersonType;

const CATALOG_CSV: &str = include_str!("../../catalogs/sat/c_RegimenFiscal.csv");

const HEADER: [&str; 6] = [
    "id",
    "texto",
    "aplica_fisica",
    "aplica_moral",
    "vigencia_desde",
    "vigencia_hasta",
];

// The CSV is part of the source code and `catalog_is_complete` reads it in every test run, so a
// malformed file fails the tests instead of reaching production; panicking here only guards
// against a build that skipped them.
static CATALOG: LazyLock<Vec<TaxRegimeEntry>> = LazyLock::new(|| {
    parse_catalog(CATALOG_CSV)
        .unwrap_or_else(|e| panic!("the embedded c_RegimenFiscal.csv is malformed: {e}"))
});

/// Every row of c_RegimenFiscal, in SAT's order.
pub fn all() -> &'static [TaxRegimeEntry] {
    &CATALOG
}

/// One row of c_RegimenFiscal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TaxRegimeEntry {
    /// SAT's key (`id`), e.g. `601`.
    pub code: String,
    /// SAT's Spanish name (`texto`), e.g. "General de Ley Personas Morales".
    pub description: String,
    /// `aplica_fisica`: a persona física may be registered under it.
    pub applies_to_individual: bool,
    /// `aplica_moral`: a persona moral may be registered under it.
    pub applies_to_company: bool,
    /// `vigencia_desde`, as `YYYY-MM-DD`.
    pub valid_from: String,
    /// `vigencia_hasta`, as `YYYY-MM-DD`; `None` when the regime has no end date.
    pub valid_to: Option<String>,
}

/// A key of c_RegimenFiscal.
///
/// Any key of the catalog is accepted whatever its validity dates (today none has an end
/// date). Serializes as its code (`"601"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaxRegime(&'static TaxRegimeEntry);

impl TaxRegime {
    /// Looks `code` up exactly as given: `" 601"` and `"0601"` are unknown.
    pub fn parse(code: &str) -> Result<Self, TaxRegimeError> {
        all()
            .iter()
            .find(|entry| entry.code == code)
            .map(Self)
            .ok_or_else(|| TaxRegimeError::Unknown(code.to_owned()))
    }

    pub fn code(self) -> &'static str {
        &self.0.code
    }

    pub fn description(self) -> &'static str {
        &self.0.description
    }

    /// Whether a taxpayer of this kind may be registered under the regime. A receiver whose
    /// RFC kind the regime does not allow is SAT error CFDI40158.
    pub fn allows(self, person: PersonType) -> bool {
        match person {
            PersonType::Individual => self.0.applies_to_individual,
            PersonType::Company => self.0.applies_to_company,
        }
    }

    /// The whole catalog row, validity dates included.
    pub fn entry(self) -> &'static TaxRegimeEntry {
        self.0
    }
}

impl fmt::Display for TaxRegime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for TaxRegime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// Why a string is not a tax regime.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxRegimeError {
    #[error("{0:?} is not a key of SAT's c_RegimenFiscal catalog for CFDI 4.0")]
    Unknown(String),
}

impl TaxRegimeError {
    /// Stable machine-readable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unknown(_) => "unknown_tax_regime",
        }
    }
}

/// A defect of the catalog file; `record` counts CSV records from 1, the header included.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum CatalogError {
    #[error("record {record}: {problem}")]
    Csv {
        record: usize,
        problem: &'static str,
    },
    #[error("the header is {0:?}, expected {HEADER:?}")]
    Header(Vec<String>),
    #[error("record {record}: column {column} is {value:?}, expected {expected}")]
    Field {
        record: usize,
        column: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("record {record}: {found} fields, expected {}", HEADER.len())]
    Width { record: usize, found: usize },
    #[error("record {record}: the code {code} appears twice")]
    Duplicate { record: usize, code: String },
}

fn parse_catalog(text: &str) -> Result<Vec<TaxRegimeEntry>, CatalogError> {
    let mut records = read_csv(text)?.into_iter().zip(1..);
    match records.next() {
        Some((header, _)) if header == HEADER => {}
        Some((header, _)) => return Err(CatalogError::Header(header)),
        None => return Err(CatalogError::Header(Vec::new())),
    }

    let mut entries: Vec<TaxRegimeEntry> = Vec::new();
    for (fields, record) in records {
        let [code, description, individual, company, valid_from, valid_to] =
            <[String; 6]>::try_from(fields).map_err(|fields| CatalogError::Width {
                record,
                found: fields.len(),
            })?;
        let field = |column, value: &str, expected| CatalogError::Field {
            record,
            column,
            value: value.to_owned(),
            expected,
        };
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field("id", &code, "three digits"));
        }
        if entries.iter().any(|entry| entry.code == code) {
            return Err(CatalogError::Duplicate { record, code });
        }
        let flag = |column, value: &str| match value {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(field(column, value, "0 or 1")),
        };
        // Kept as text, so the dates must have one shape for comparisons between them to hold.
        let date = |column, value: &str| {
            let bytes = value.as_bytes();
            let shaped = bytes.len() == 10
                && bytes.iter().enumerate().all(|(i, b)| match i {
                    4 | 7 => *b == b'-',
                    _ => b.is_ascii_digit(),
                });
            if shaped {
                Ok(())
            } else {
                Err(field(column, value, "a date YYYY-MM-DD"))
            }
        };
        date("vigencia_desde", &valid_from)?;
        if !valid_to.is_empty() {
            date("vigencia_hasta", &valid_to)?;
        }
        entries.push(TaxRegimeEntry {
            applies_to_individual: flag("aplica_fisica", &individual)?,
            applies_to_company: flag("aplica_moral", &company)?,
            code,
            description,
            valid_from,
            valid_to: Some(valid_to).filter(|d| !d.is_empty()),
        });
    }
    Ok(entries)
}

/// Splits RFC 4180 text into records. Quoted fields may hold commas, line breaks and doubled
/// quotes; lines end in LF or CRLF; a final line break is optional.
fn read_csv(text: &str) -> Result<Vec<Vec<String>>, CatalogError> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        /// A quote inside a quoted field: either the closing one or the first of a pair.
        QuoteInQuoted,
    }

    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut state = State::FieldStart;
    let mut chars = text.chars().peekable();
    let error = |records: &Vec<Vec<String>>, problem| CatalogError::Csv {
        record: records.len() + 1,
        problem,
    };

    while let Some(c) = chars.next() {
        let outside_quotes = state != State::Quoted;
        if outside_quotes && c == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        match (state, c) {
            (State::Quoted, '"') => state = State::QuoteInQuoted,
            (State::Quoted, c) => field.push(c),
            (State::QuoteInQuoted, '"') => {
                field.push('"');
                state = State::Quoted;
            }
            (_, ',') => {
                record.push(std::mem::take(&mut field));
                state = State::FieldStart;
            }
            (_, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
                state = State::FieldStart;
            }
            (State::QuoteInQuoted, _) => {
                return Err(error(&records, "text after a closing quote"));
            }
            (State::FieldStart, '"') => state = State::Quoted,
            (State::Unquoted, '"') => {
                return Err(error(&records, "a quote inside an unquoted field"));
            }
            (State::FieldStart | State::Unquoted, c) => {
                field.push(c);
                state = State::Unquoted;
            }
        }
    }

    match state {
        State::Quoted => return Err(error(&records, "a quoted field is not closed")),
        State::FieldStart if record.is_empty() => {}
        _ => {
            record.push(field);
            records.push(record);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rfc::{GENERIC_NATIONAL, Rfc};

    fn regime(code: &str) -> TaxRegime {
        TaxRegime::parse(code).unwrap()
    }

    #[test]
    fn catalog_is_complete() {
        // Parsed directly too, so a defect shows as an error rather than as a poisoned lock.
        assert_eq!(parse_catalog(CATALOG_CSV).unwrap().len(), 19);
        assert_eq!(all().len(), 19);
        assert_eq!(all()[0].code, "601");
        assert_eq!(all()[18].code, "626");
        assert!(
            all()
                .iter()
                .all(|e| e.valid_from == "2022-01-01" && e.valid_to.is_none())
        );
        assert!(
            all()
                .iter()
                .all(|e| e.applies_to_individual || e.applies_to_company)
        );
    }

    #[test]
    fn general_regime_for_companies_applies_to_companies_only() {
        let general = regime("601");
        assert_eq!(general.code(), "601");
        assert_eq!(general.description(), "General de Ley Personas Morales");
        assert!(general.allows(PersonType::Company));
        assert!(!general.allows(PersonType::Individual));
    }

    #[test]
    fn salaries_apply_to_individuals_only() {
        let salaries = regime("605");
        assert!(salaries.allows(PersonType::Individual));
        assert!(!salaries.allows(PersonType::Company));
    }

    #[test]
    fn resico_applies_to_both() {
        let resico = regime("626");
        assert_eq!(resico.description(), "Régimen Simplificado de Confianza");
        assert!(resico.allows(PersonType::Individual));
        assert!(resico.allows(PersonType::Company));
    }

    #[test]
    fn quoted_description_keeps_its_comma() {
        assert_eq!(
            regime("622").description(),
            "Actividades Agrícolas, Ganaderas, Silvícolas y Pesqueras"
        );
        assert!(regime("622").allows(PersonType::Company));
    }

    #[test]
    fn unknown_codes_are_refused() {
        // 609 is still in catCFDI.xsd but not in the CFDI 4.0 catalog.
        for code in ["999", "609", "", " 601", "601 ", "0601", "60"] {
            let err = TaxRegime::parse(code).unwrap_err();
            assert_eq!(err, TaxRegimeError::Unknown(code.to_owned()));
            assert_eq!(err.code(), "unknown_tax_regime");
        }
    }

    #[test]
    fn generic_rfcs_fit_the_regime_sat_requires_for_them() {
        // CFDI40159: a generic receiver is registered under 616.
        let rfc = Rfc::parse(GENERIC_NATIONAL).unwrap();
        assert!(regime("616").allows(rfc.person_type()));
    }

    #[test]
    fn displays_as_its_code() {
        assert_eq!(regime("612").to_string(), "612");
        assert_eq!(regime("612").entry().code, "612");
    }

    #[test]
    fn csv_reader_follows_rfc_4180() {
        let text = "a,\"b,\"\"c\"\"\",\r\n\"multi\nline\",,\"\"\nlast";
        assert_eq!(
            read_csv(text).unwrap(),
            vec![
                vec!["a", "b,\"c\"", ""],
                vec!["multi\nline", "", ""],
                vec!["last"],
            ]
        );
        assert_eq!(read_csv("").unwrap(), Vec::<Vec<String>>::new());
        assert_eq!(read_csv("x\n").unwrap(), vec![vec!["x"]]);
    }

    #[test]
    fn csv_reader_refuses_broken_quoting() {
        for (text, problem) in [
            ("a\n\"open", "a quoted field is not closed"),
            ("a\nb\"c", "a quote inside an unquoted field"),
            ("a\n\"b\"c", "text after a closing quote"),
        ] {
            assert_eq!(
                read_csv(text).unwrap_err(),
                CatalogError::Csv { record: 2, problem },
                "{text:?}"
            );
        }
    }

    #[test]
    fn catalog_reader_refuses_malformed_rows() {
        let header = HEADER.join(",");
        let row = |line: &str| format!("{header}\n{line}\n");
        assert!(matches!(
            parse_catalog("id,texto\n"),
            Err(CatalogError::Header(_))
        ));
        assert!(matches!(
            parse_catalog(&row("601,x,0,1,2022-01-01")),
            Err(CatalogError::Width {
                record: 2,
                found: 5
            })
        ));
        assert!(matches!(
            parse_catalog(&row("601,x,0,2,2022-01-01,")),
            Err(CatalogError::Field {
                column: "aplica_moral",
                ..
            })
        ));
        assert!(matches!(
            parse_catalog(&row("601,x,0,1,1/1/2022,")),
            Err(CatalogError::Field {
                column: "vigencia_desde",
                ..
            })
        ));
        assert!(matches!(
            parse_catalog(&row("6O1,x,0,1,2022-01-01,")),
            Err(CatalogError::Field { column: "id", .. })
        ));
        assert!(matches!(
            parse_catalog(&format!(
                "{header}\n601,x,0,1,2022-01-01,\n601,y,0,1,2022-01-01,\n"
            )),
            Err(CatalogError::Duplicate { record: 3, .. })
        ));
        let ended = parse_catalog(&row("601,x,0,1,2022-01-01,2023-12-31")).unwrap();
        assert_eq!(ended[0].valid_to.as_deref(), Some("2023-12-31"));
    }
}
