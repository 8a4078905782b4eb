//! SAT's catalogs in PostgreSQL: loading the CSVs of `catalogs/sat/` and looking entries up.
//!
//! Every catalog is one set of rows in `sat_catalog_entries` keyed by `(catalog, key)`, with the
//! SAT description, a folded search text, validity dates and the other columns as JSON under
//! English names. Loading replaces a catalog in one transaction and only when its CSV's SHA-256
//! differs from the stored one, so a restart costs one small query and a reload while the
//! service runs never shows a half-loaded catalog.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::schema::{sat_catalog_entries, sat_catalogs};

/// The catalog publication compiled into the binary.
pub const EMBEDDED_VERSION: &str = include_str!("../../catalogs/sat/VERSION");

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../catalogs/sat/", $name, ".csv")))),*]
    };
}

/// Every catalog the service knows, with the CSV compiled into the binary.
pub const EMBEDDED: &[(&str, &[u8])] = embedded!(
    "c_ClaveProdServ",
    "c_ClaveUnidad",
    "c_CodigoPostal",
    "c_Estado",
    "c_Exportacion",
    "c_FormaPago",
    "c_Impuesto",
    "c_Meses",
    "c_MetodoPago",
    "c_Moneda",
    "c_MotivoCancelacion",
    "c_Municipio",
    "c_ObjetoImp",
    "c_Pais",
    "c_Periodicidad",
    "c_RegimenFiscal",
    "c_TasaOCuota",
    "c_TipoCadenaPago",
    "c_TipoDeComprobante",
    "c_TipoFactor",
    "c_TipoRelacion",
    "c_UsoCFDI",
);

/// The names of the known catalogs.
pub fn names() -> impl Iterator<Item = &'static str> {
    EMBEDDED.iter().map(|(name, _)| *name)
}

/// A catalog's stored state.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sat_catalogs)]
pub struct Catalog {
    pub name: String,
    pub version: String,
    pub sha256: Vec<u8>,
    pub row_count: i32,
    pub loaded_at: DateTime<Utc>,
}

/// One row of a catalog.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = sat_catalog_entries)]
pub struct Entry {
    pub catalog: String,
    pub key: String,
    pub description: String,
    pub search: String,
    pub attributes: Value,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    pub position: i32,
}

impl Entry {
    /// An attribute as text (`None` when absent or null).
    pub fn text(&self, attribute: &str) -> Option<&str> {
        self.attributes.get(attribute).and_then(Value::as_str)
    }

    /// A yes/no attribute (`false` when absent).
    pub fn flag(&self, attribute: &str) -> bool {
        self.attributes
            .get(attribute)
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether the entry is in force on `day` (SAT's vigencia).
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from.is_none_or(|from| from <= day) && self.valid_to.is_none_or(|to| day <= to)
    }
}

/// What a load did to one catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    pub name: String,
    /// `false` when the stored catalog already had this content.
    pub replaced: bool,
    pub rows: usize,
}

/// Why a CSV could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{catalog}: {message}")]
    Csv { catalog: String, message: String },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Io(String),
}

impl From<diesel::result::Error> for LoadError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Store(e.into())
    }
}

/// Loads the catalogs compiled into the binary where the database has other content.
pub fn load_embedded(conn: &mut PgConnection) -> Result<Vec<Loaded>, LoadError> {
    load(conn, EMBEDDED_VERSION.trim(), EMBEDDED)
}

/// Loads `c_*.csv` files of `dir` (a newer SAT publication) with the version in `dir/VERSION`.
/// Only known catalogs are read; a missing file leaves that catalog as it is.
pub fn load_dir(conn: &mut PgConnection, dir: &Path) -> Result<Vec<Loaded>, LoadError> {
    let version = std::fs::read_to_string(dir.join("VERSION"))
        .map_err(|e| LoadError::Io(format!("{}: {e}", dir.join("VERSION").display())))?;
    let mut files = Vec::new();
    for name in names() {
        let path = dir.join(format!("{name}.csv"));
        match std::fs::read(&path) {
            Ok(bytes) => files.push((name, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(LoadError::Io(format!("{}: {e}", path.display()))),
        }
    }
    let borrowed: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    load(conn, version.trim(), &borrowed)
}

/// Replaces each catalog of `files` whose content differs from the stored one. Each catalog is
/// parsed completely before anything is written, and written in its own transaction.
pub fn load(
    conn: &mut PgConnection,
    version: &str,
    files: &[(&str, &[u8])],
) -> Result<Vec<Loaded>, LoadError> {
    let stored: HashMap<String, Vec<u8>> = sat_catalogs::table
        .select((sat_catalogs::name, sat_catalogs::sha256))
        .load::<(String, Vec<u8>)>(conn)?
        .into_iter()
        .collect();
    let mut report = Vec::new();
    for (name, bytes) in files {
        let sha256 = Sha256::digest(bytes).to_vec();
        if stored.get(*name) == Some(&sha256) {
            report.push(Loaded {
                name: name.to_string(),
                replaced: false,
                rows: 0,
            });
            continue;
        }
        let entries = parse(name, bytes)?;
        let rows = entries.len();
        conn.transaction::<_, LoadError, _>(|conn| {
            diesel::insert_into(sat_catalogs::table)
                .values((
                    sat_catalogs::name.eq(name),
                    sat_catalogs::version.eq(version),
                    sat_catalogs::sha256.eq(&sha256),
                    sat_catalogs::row_count.eq(i32::try_from(rows).unwrap_or(i32::MAX)),
                    sat_catalogs::loaded_at.eq(Utc::now()),
                ))
                .on_conflict(sat_catalogs::name)
                .do_update()
                .set((
                    sat_catalogs::version.eq(version),
                    sat_catalogs::sha256.eq(&sha256),
                    sat_catalogs::row_count.eq(i32::try_from(rows).unwrap_or(i32::MAX)),
                    sat_catalogs::loaded_at.eq(Utc::now()),
                ))
                .execute(conn)?;
            diesel::delete(
                sat_catalog_entries::table.filter(sat_catalog_entries::catalog.eq(name)),
            )
            .execute(conn)?;
            // PostgreSQL takes at most 65,535 bind parameters per statement: 8 columns a row.
            for chunk in entries.chunks(8000) {
                diesel::insert_into(sat_catalog_entries::table)
                    .values(chunk)
                    .execute(conn)?;
            }
            Ok(())
        })?;
        log::info!("loaded SAT catalog {name} ({rows} rows, version {version})");
        report.push(Loaded {
            name: name.to_string(),
            replaced: true,
            rows,
        });
    }
    Ok(report)
}

/// The stored catalogs.
pub fn list(conn: &mut PgConnection) -> Result<Vec<Catalog>, StoreError> {
    Ok(sat_catalogs::table
        .order(sat_catalogs::name.asc())
        .select(Catalog::as_select())
        .load(conn)?)
}

/// The entries of `catalog` with the given keys (unknown keys are simply absent).
pub fn find(
    conn: &mut PgConnection,
    catalog: &str,
    keys: &[&str],
) -> Result<Vec<Entry>, StoreError> {
    Ok(sat_catalog_entries::table
        .filter(sat_catalog_entries::catalog.eq(catalog))
        .filter(sat_catalog_entries::key.eq_any(keys))
        .select(Entry::as_select())
        .load(conn)?)
}

/// The entries a validation needs, fetched in one query and then consulted in memory.
#[derive(Debug, Default, Clone)]
pub struct Snapshot(HashMap<(String, String), Entry>);

impl Snapshot {
    /// Fetches the entries of `wanted` (catalog, key) pairs; unknown ones are simply absent.
    pub fn fetch(conn: &mut PgConnection, wanted: &[(&str, &str)]) -> Result<Self, StoreError> {
        if wanted.is_empty() {
            return Ok(Self::default());
        }
        // (catalog, key) pairs as two parallel arrays, matched in SQL with unnest.
        let catalogs: Vec<&str> = wanted.iter().map(|(c, _)| *c).collect();
        let keys: Vec<&str> = wanted.iter().map(|(_, k)| *k).collect();
        let entries: Vec<Entry> = diesel::sql_query(
            "SELECT e.* FROM sat_catalog_entries e \
             JOIN unnest($1::text[], $2::text[]) AS w(catalog, key) \
               ON e.catalog = w.catalog AND e.key = w.key",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&catalogs)
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&keys)
        .load(conn)?;
        Ok(Self(
            entries
                .into_iter()
                .map(|e| ((e.catalog.clone(), e.key.clone()), e))
                .collect(),
        ))
    }

    pub fn get(&self, catalog: &str, key: &str) -> Option<&Entry> {
        self.0.get(&(catalog.to_string(), key.to_string()))
    }
}

fn scope(entry: &Entry) -> domain::receiver::PersonScope {
    domain::receiver::PersonScope {
        natural: entry.flag("natural_person"),
        legal: entry.flag("legal_entity"),
    }
}

impl domain::receiver::ReceiverCatalogs for Snapshot {
    fn tax_regime(&self, code: &str) -> Option<domain::receiver::PersonScope> {
        self.get("c_RegimenFiscal", code).map(scope)
    }

    fn cfdi_use(&self, code: &str) -> Option<domain::receiver::CfdiUse> {
        self.get("c_UsoCFDI", code)
            .map(|e| domain::receiver::CfdiUse {
                scope: scope(e),
                receiver_regimes: e
                    .attributes
                    .get("receiver_tax_regimes")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
    }

    fn country(&self, code: &str) -> Option<domain::receiver::Country> {
        self.get("c_Pais", code).map(|e| domain::receiver::Country {
            tax_id_pattern: e.text("tax_id_pattern").map(str::to_string),
        })
    }

    fn postal_code_exists(&self, code: &str) -> bool {
        self.get("c_CodigoPostal", code).is_some()
    }
}

/// How a CSV column is stored: its English attribute name and kind.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Flag,
    Number,
    List,
}

/// SAT's column names (Spanish) → attribute names (English) and kinds.
const COLUMNS: &[(&str, &str, Kind)] = &[
    ("aplica_fisica", "natural_person", Kind::Flag),
    ("aplica_moral", "legal_entity", Kind::Flag),
    (
        "regimenes_fiscales_receptores",
        "receiver_tax_regimes",
        Kind::List,
    ),
    ("es_bancarizado", "banked", Kind::Flag),
    (
        "requiere_numero_operacion",
        "requires_operation_number",
        Kind::Flag,
    ),
    (
        "permite_banco_ordenante_rfc",
        "payer_bank_rfc_allowed",
        Kind::Flag,
    ),
    (
        "permite_cuenta_ordenante",
        "payer_account_allowed",
        Kind::Flag,
    ),
    (
        "patron_cuenta_ordenante",
        "payer_account_pattern",
        Kind::Text,
    ),
    (
        "permite_banco_beneficiario_rfc",
        "payee_bank_rfc_allowed",
        Kind::Flag,
    ),
    (
        "permite_cuenta_beneficiario",
        "payee_account_allowed",
        Kind::Flag,
    ),
    (
        "patron_cuenta_beneficiario",
        "payee_account_pattern",
        Kind::Text,
    ),
    (
        "permite_tipo_cadena_pago",
        "payment_chain_type_allowed",
        Kind::Flag,
    ),
    (
        "requiere_banco_ordenante_nombre_ext",
        "requires_foreign_payer_bank_name",
        Kind::Flag,
    ),
    ("decimales", "decimals", Kind::Number),
    ("porcentaje_variacion", "variation_percentage", Kind::Text),
    ("retencion", "withholding", Kind::Flag),
    ("traslado", "transfer", Kind::Flag),
    ("ambito", "scope", Kind::Text),
    ("tipo", "range_kind", Kind::Text),
    ("minimo", "minimum", Kind::Text),
    ("valor", "value", Kind::Text),
    ("impuesto", "tax", Kind::Text),
    ("factor", "factor", Kind::Text),
    ("descripcion", "details", Kind::Text),
    ("notas", "notes", Kind::Text),
    ("simbolo", "symbol", Kind::Text),
    ("valor_maximo", "maximum_value", Kind::Text),
    ("patron_codigo_postal", "postal_code_pattern", Kind::Text),
    ("patron_identidad_tributaria", "tax_id_pattern", Kind::Text),
    (
        "validacion_identidad_tributaria",
        "tax_id_validation",
        Kind::Text,
    ),
    ("agrupaciones", "groupings", Kind::Text),
    ("estado", "state", Kind::Text),
    ("pais", "country", Kind::Text),
    ("municipio", "municipality", Kind::Text),
    ("localidad", "locality", Kind::Text),
    ("estimulo_franja_fronteriza", "border_region", Kind::Flag),
    ("huso_horario", "time_zone", Kind::Text),
    (
        "requiere_folio_sustitucion",
        "requires_replacement_folio",
        Kind::Flag,
    ),
];

/// The key of a row. Most catalogs have an `id`; c_Estado is keyed by its state code,
/// c_Municipio by state and municipality (`NLE-039`), and c_TasaOCuota, which has no key in
/// SAT's publication, by tax, factor and value or range (`IVA|Tasa|0.160000`,
/// `ISR|Tasa|0.000000-0.350000`).
fn key_of(catalog: &str, row: &HashMap<&str, &str>) -> Option<String> {
    let get = |c: &str| row.get(c).copied().filter(|v| !v.is_empty());
    match catalog {
        "c_Estado" => get("estado").map(str::to_string),
        "c_Municipio" => Some(format!("{}-{}", get("estado")?, get("id")?)),
        "c_TasaOCuota" => {
            let value = match get("minimo") {
                Some(min) if get("tipo") == Some("Rango") => format!("{min}-{}", get("valor")?),
                _ => get("valor")?.to_string(),
            };
            Some(format!("{}|{}|{value}", get("impuesto")?, get("factor")?))
        }
        _ => get("id").map(str::to_string),
    }
}

fn description_of(catalog: &str, key: &str, row: &HashMap<&str, &str>) -> String {
    match (catalog, row.get("texto")) {
        (_, Some(text)) if !text.is_empty() => text.to_string(),
        ("c_TasaOCuota", _) => {
            let uses: Vec<&str> = [("traslado", "traslado"), ("retencion", "retención")]
                .iter()
                .filter(|(c, _)| row.get(c) == Some(&"1"))
                .map(|(_, label)| *label)
                .collect();
            format!("{} ({})", key.replace('|', " "), uses.join(", "))
        }
        _ => key.to_string(),
    }
}

fn date(catalog: &str, value: Option<&&str>) -> Result<Option<NaiveDate>, LoadError> {
    match value.copied().filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| LoadError::Csv {
                catalog: catalog.to_string(),
                message: format!("`{v}` is not a date (YYYY-MM-DD)"),
            }),
    }
}

/// Reads a catalog CSV (header row, RFC 4180 quoting) into entries.
pub fn parse(catalog: &str, bytes: &[u8]) -> Result<Vec<Entry>, LoadError> {
    let err = |message: String| LoadError::Csv {
        catalog: catalog.to_string(),
        message,
    };
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect::<Vec<_>>();
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| err(e.to_string()))?;
        let row: HashMap<&str, &str> = headers
            .iter()
            .map(String::as_str)
            .zip(record.iter())
            .collect();
        let line = i + 2;
        let key = key_of(catalog, &row).ok_or_else(|| err(format!("line {line} has no key")))?;
        if !seen.insert(key.clone()) {
            return Err(err(format!("line {line} repeats key {key}")));
        }
        let description = description_of(catalog, &key, &row);
        let mut attributes = Map::new();
        for (column, value) in headers.iter().zip(record.iter()) {
            let Some((_, name, kind)) = COLUMNS.iter().find(|(c, _, _)| c == column) else {
                continue;
            };
            let value = match (kind, value.trim()) {
                (_, "") => Value::Null,
                (Kind::Text, v) => Value::String(v.to_string()),
                (Kind::Flag, v) => Value::Bool(v == "1"),
                (Kind::Number, v) => v
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| err(format!("line {line}: {column} `{v}` is not a number")))?,
                (Kind::List, v) => Value::Array(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ),
            };
            attributes.insert(name.to_string(), value);
        }
        entries.push(Entry {
            catalog: catalog.to_string(),
            search: domain::text::fold(&format!("{key} {description}")),
            description,
            key,
            attributes: Value::Object(attributes),
            valid_from: date(catalog, row.get("vigencia_desde"))?,
            valid_to: date(catalog, row.get("vigencia_hasta"))?,
            position: i32::try_from(i).unwrap_or(i32::MAX),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_catalog_parses_with_unique_keys() -> Result<(), LoadError> {
        for (name, bytes) in EMBEDDED {
            let entries = parse(name, bytes)?;
            assert!(!entries.is_empty(), "{name} is empty");
        }
        Ok(())
    }

    #[test]
    fn rows_become_keys_descriptions_and_english_attributes() -> Result<(), LoadError> {
        let uses = parse(
            "c_UsoCFDI",
            include_bytes!("../../catalogs/sat/c_UsoCFDI.csv"),
        )?;
        let g03 = uses
            .iter()
            .find(|e| e.key == "G03")
            .ok_or_else(|| LoadError::Io("G03 missing".into()))?;
        assert_eq!(g03.description, "Gastos en general.");
        assert!(g03.flag("natural_person") && g03.flag("legal_entity"));
        assert!(
            g03.attributes["receiver_tax_regimes"]
                .as_array()
                .is_some_and(|r| r.contains(&Value::from("601")))
        );
        assert_eq!(g03.valid_from, NaiveDate::from_ymd_opt(2022, 1, 1));

        let rates = parse(
            "c_TasaOCuota",
            include_bytes!("../../catalogs/sat/c_TasaOCuota.csv"),
        )?;
        let keys: Vec<&str> = rates.iter().map(|e| e.key.as_str()).collect();
        assert!(keys.contains(&"IVA|Tasa|0.160000"), "{keys:?}");
        assert!(keys.contains(&"ISR|Tasa|0.000000-0.350000"), "{keys:?}");

        let towns = parse(
            "c_Municipio",
            include_bytes!("../../catalogs/sat/c_Municipio.csv"),
        )?;
        assert!(towns.iter().any(|e| e.key == "NLE-039"));

        let codes = parse(
            "c_CodigoPostal",
            include_bytes!("../../catalogs/sat/c_CodigoPostal.csv"),
        )?;
        let tijuana = codes
            .iter()
            .find(|e| e.key == "22000")
            .ok_or_else(|| LoadError::Io("22000 missing".into()))?;
        assert!(tijuana.flag("border_region"));
        assert_eq!(tijuana.text("state"), Some("BCN"));
        Ok(())
    }

    #[test]
    fn a_broken_csv_names_the_catalog_and_line() {
        let broken = b"id,texto,vigencia_desde\n01,Uno,2022-01-01\n01,Otra vez,2022-01-01\n";
        let err = parse("c_Meses", broken).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("c_Meses: line 3 repeats key 01"));
        let bad_date = b"id,texto,vigencia_desde\n01,Uno,ayer\n";
        assert!(parse("c_Meses", bad_date).is_err());
    }
}
