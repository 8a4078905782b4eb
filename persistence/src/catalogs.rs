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
use diesel::connection::SimpleConnection;
use diesel::dsl::AsSelect;
use diesel::helper_types::SqlTypeOf;
use diesel::pg::Pg;
use diesel::prelude::*;
use domain::rfc::PersonType;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::explain::Explain;
use crate::pagination::Rows;
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

/// Loads the catalogs compiled into the binary where the database has other content, except
/// those stored from a newer publication: a catalog loaded with `api catalogs load` must
/// survive the restart of a binary built before it.
pub fn load_embedded(conn: &mut PgConnection) -> Result<Vec<Loaded>, LoadError> {
    let version = EMBEDDED_VERSION.trim();
    let newer: Vec<String> = sat_catalogs::table
        .select((sat_catalogs::name, sat_catalogs::version))
        .load::<(String, String)>(conn)?
        .into_iter()
        .filter(|(_, stored)| is_newer(stored, version))
        .map(|(name, stored)| {
            log::info!("keeping SAT catalog {name} of version {stored}, newer than {version}");
            name
        })
        .collect();
    let files: Vec<(&str, &[u8])> = EMBEDDED
        .iter()
        .filter(|(name, _)| !newer.iter().any(|n| n == name))
        .copied()
        .collect();
    load(conn, version, &files)
}

/// Whether publication `a` is newer than `b`, comparing their dot-separated numbers
/// (`10.14.20260806`: SAT's catalog version and the date of the snapshot).
fn is_newer(a: &str, b: &str) -> bool {
    let numbers = |v: &str| {
        v.split('.')
            .map(|part| part.parse::<u64>().ok())
            .collect::<Vec<_>>()
    };
    numbers(a) > numbers(b)
}

/// The publication version in `dir/VERSION` (an empty file is refused: every stored catalog
/// names its version).
pub fn dir_version(dir: &Path) -> Result<String, LoadError> {
    let path = dir.join("VERSION");
    let version = std::fs::read_to_string(&path)
        .map_err(|e| LoadError::Io(format!("{}: {e}", path.display())))?;
    match version.trim() {
        "" => Err(LoadError::Io(format!("{} is empty", path.display()))),
        version => Ok(version.to_string()),
    }
}

/// Loads `c_*.csv` files of `dir` (a newer SAT publication) with the version in `dir/VERSION`.
/// Only known catalogs are read; a missing file leaves that catalog as it is.
pub fn load_dir(conn: &mut PgConnection, dir: &Path) -> Result<Vec<Loaded>, LoadError> {
    let version = dir_version(dir)?;
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
    load(conn, &version, &borrowed)
}

/// Replaces each catalog of `files` whose content differs from the stored one. Every changed
/// catalog is parsed before anything is written, so a broken CSV changes nothing; then each is
/// written in its own transaction, so readers see a catalog's old rows or its new ones.
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
    let mut changed = Vec::new();
    for (name, bytes) in files {
        let sha256 = Sha256::digest(bytes).to_vec();
        if stored.get(*name) != Some(&sha256) {
            changed.push((*name, sha256, parse(name, bytes)?));
        }
    }
    for (name, sha256, entries) in &changed {
        replace(conn, name, version, sha256, entries)?;
        log::info!(
            "loaded SAT catalog {name} ({} rows, version {version})",
            entries.len()
        );
    }
    if !changed.is_empty() {
        // Fresh statistics at once, not at autovacuum's next pass: the planner picks the
        // trigram index for searches only when it knows how many rows a catalog has.
        conn.batch_execute("ANALYZE sat_catalogs, sat_catalog_entries")?;
    }
    Ok(files
        .iter()
        .map(|(name, _)| {
            let rows = changed
                .iter()
                .find(|(changed, _, _)| changed == name)
                .map(|(_, _, entries)| entries.len());
            Loaded {
                name: name.to_string(),
                replaced: rows.is_some(),
                rows: rows.unwrap_or(0),
            }
        })
        .collect())
}

/// Swaps the stored rows of one catalog for `entries`, in one transaction.
fn replace(
    conn: &mut PgConnection,
    name: &str,
    version: &str,
    sha256: &[u8],
    entries: &[Entry],
) -> Result<(), LoadError> {
    let rows = i32::try_from(entries.len()).unwrap_or(i32::MAX);
    conn.transaction::<_, LoadError, _>(|conn| {
        diesel::insert_into(sat_catalogs::table)
            .values((
                sat_catalogs::name.eq(name),
                sat_catalogs::version.eq(version),
                sat_catalogs::sha256.eq(sha256),
                sat_catalogs::row_count.eq(rows),
                sat_catalogs::loaded_at.eq(Utc::now()),
            ))
            .on_conflict(sat_catalogs::name)
            .do_update()
            .set((
                sat_catalogs::version.eq(version),
                sat_catalogs::sha256.eq(sha256),
                sat_catalogs::row_count.eq(rows),
                sat_catalogs::loaded_at.eq(Utc::now()),
            ))
            .execute(conn)?;
        diesel::delete(sat_catalog_entries::table.filter(sat_catalog_entries::catalog.eq(name)))
            .execute(conn)?;
        // PostgreSQL takes at most 65,535 bind parameters per statement: 8 columns a row.
        for chunk in entries.chunks(8000) {
            diesel::insert_into(sat_catalog_entries::table)
                .values(chunk)
                .execute(conn)?;
        }
        Ok(())
    })
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

    /// Adds every entry of `catalog`: small catalogs consulted as a whole (c_TasaOCuota).
    pub fn add_catalog(
        &mut self,
        conn: &mut PgConnection,
        catalog: &str,
    ) -> Result<(), StoreError> {
        let entries: Vec<Entry> = sat_catalog_entries::table
            .filter(sat_catalog_entries::catalog.eq(catalog))
            .select(Entry::as_select())
            .load(conn)?;
        for e in entries {
            self.0.insert((e.catalog.clone(), e.key.clone()), e);
        }
        Ok(())
    }
}

impl domain::tax_profile::TaxCatalogs for Snapshot {
    fn tax_object_exists(&self, code: &str) -> bool {
        self.get("c_ObjetoImp", code).is_some()
    }

    fn rate_rules(&self) -> Vec<domain::tax_profile::RateRule> {
        let decimal = |e: &Entry, name: &str| {
            e.text(name)
                .and_then(|v| v.parse::<rust_decimal::Decimal>().ok())
        };
        self.0
            .values()
            .filter(|e| e.catalog == "c_TasaOCuota")
            .filter_map(|e| {
                Some(domain::tax_profile::RateRule {
                    tax_name: e.text("tax")?.to_string(),
                    factor: e.text("factor")?.to_string(),
                    minimum: if e.text("range_kind") == Some("Rango") {
                        decimal(e, "minimum")
                    } else {
                        None
                    },
                    value: decimal(e, "value")?,
                    transfer: e.flag("transfer"),
                    withholding: e.flag("withholding"),
                })
            })
            .collect()
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

/// Catalogs whose entries say which kind of taxpayer may use them (`natural_person`,
/// `legal_entity`: SAT's `aplica_fisica`, `aplica_moral`).
pub const BY_PERSON_TYPE: &[&str] = &["c_RegimenFiscal", "c_UsoCFDI"];

/// Catalogs whose entries list the receiver's tax regimes they allow (`receiver_tax_regimes`).
pub const BY_RECEIVER_TAX_REGIME: &[&str] = &["c_UsoCFDI"];

/// Which entries of one catalog a list wants. Every field narrows the list; `None` does not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryFilter {
    /// Text to find anywhere in the key or the description, accent- and case-insensitive
    /// ("credito" finds "Tarjeta de crédito").
    pub text: Option<String>,
    /// Only entries in force on this day (SAT's vigencia).
    pub valid_on: Option<NaiveDate>,
    /// Only entries that apply to this kind of taxpayer (catalogs of [`BY_PERSON_TYPE`]).
    pub person_type: Option<PersonType>,
    /// Only entries allowed for a receiver with this c_RegimenFiscal key (catalogs of
    /// [`BY_RECEIVER_TAX_REGIME`]).
    pub receiver_tax_regime: Option<String>,
}

type EntryQuery<'a> = sat_catalog_entries::BoxedQuery<'a, Pg, SqlTypeOf<AsSelect<Entry, Pg>>>;

/// The query of one page of [`entries`]: `limit + 1` entries of `catalog` after the key `after`,
/// in key order. Keyset on the primary key `(catalog, key)`, so a deep page costs what the first
/// one does; with text, the trigram index on `search` finds the candidates.
fn entries_query<'a>(
    catalog: &'a str,
    filter: &EntryFilter,
    after: Option<&'a str>,
    limit: i64,
) -> EntryQuery<'a> {
    use sat_catalog_entries::dsl as e;
    let mut query = e::sat_catalog_entries
        .filter(e::catalog.eq(catalog))
        .select(Entry::as_select())
        .into_boxed();
    if let Some(text) = &filter.text {
        // `search` holds the folded key and description; `\` is PostgreSQL's LIKE escape.
        let pattern = format!("%{}%", escape_like(&domain::text::fold(text)));
        query = query.filter(e::search.like(pattern));
    }
    if let Some(day) = filter.valid_on {
        query = query
            .filter(e::valid_from.is_null().or(e::valid_from.le(day)))
            .filter(e::valid_to.is_null().or(e::valid_to.ge(day)));
    }
    // Attribute filters are JSON containment (`@>`): `{"natural_person": true}` matches an entry
    // whose attributes hold that pair, `{"receiver_tax_regimes": ["605"]}` one whose list
    // holds 605.
    if let Some(person) = filter.person_type {
        let flag = match person {
            PersonType::Individual => "natural_person",
            PersonType::Company => "legal_entity",
        };
        query = query.filter(PgJsonbExpressionMethods::contains(
            e::attributes,
            serde_json::json!({ flag: true }),
        ));
    }
    if let Some(regime) = &filter.receiver_tax_regime {
        query = query.filter(PgJsonbExpressionMethods::contains(
            e::attributes,
            serde_json::json!({ "receiver_tax_regimes": [regime] }),
        ));
    }
    if let Some(after) = after {
        query = query.filter(e::key.gt(after));
    }
    query.order(e::key.asc()).limit(limit.saturating_add(1))
}

/// Escapes LIKE's wildcards so that `%`, `_` and `\` in the searched text match themselves.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One page of the entries of `catalog` that pass `filter`, in key order, after the key
/// `after` (the last key of the previous page).
pub fn entries(
    conn: &mut PgConnection,
    catalog: &str,
    filter: &EntryFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Rows<Entry>, StoreError> {
    let rows = entries_query(catalog, filter, after, limit).load(conn)?;
    Ok(Rows::from_overfetch(rows, limit))
}

/// PostgreSQL's plan for the exact statement [`entries`] runs, one line per plan line: lets a
/// test (or an operator) check that searches use the trigram index.
pub fn explain_entries(
    conn: &mut PgConnection,
    catalog: &str,
    filter: &EntryFilter,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(Explain(entries_query(catalog, filter, after, limit)).load(conn)?)
}

/// One entry of `catalog`; [`StoreError::NotFound`] when it has no such key.
pub fn entry(conn: &mut PgConnection, catalog: &str, key: &str) -> Result<Entry, StoreError> {
    Ok(sat_catalog_entries::table
        .find((catalog, key))
        .select(Entry::as_select())
        .first(conn)?)
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
    fn versions_compare_by_their_numbers() {
        assert!(is_newer("10.14.20260901", "10.14.20260806"));
        assert!(is_newer("99.0.0", "10.14.20260806"));
        assert!(is_newer("10.15.1", "10.14.20260806"));
        assert!(!is_newer("10.14.20260806", "10.14.20260806"));
        assert!(!is_newer("9.99.99999999", "10.14.20260806"));
    }

    #[test]
    fn like_wildcards_in_searched_text_match_themselves() {
        assert_eq!(escape_like("100% a_b\\c"), "100\\% a\\_b\\\\c");
        assert_eq!(escape_like("crédito"), "crédito");
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
