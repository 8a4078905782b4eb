//! SAT's CFDI 4.0 catalogs (c_UsoCFDI, c_FormaPago, c_CodigoPostal, …): reference data shared
//! by every organization, so any authenticated caller reads them and no tenant scope applies.
//!
//! Entries are listed in key order with keyset pagination on the primary key, searched through
//! the trigram index on their folded text, and by default limited to the codes in force today:
//! a code that SAT has retired would have an invoice rejected.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use domain::rfc::PersonType;
use domain::validation::{Pointer, Violation, Violations};
use persistence::catalogs::{self as store, Entry, EntryFilter};
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::auth::Caller;
use crate::pagination::{Page, after_key, check_limit, invalid_query, key_cursor};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// The longest `q` accepted, in characters: longer text names no catalog entry anyway.
const MAX_QUERY_CHARS: usize = 100;

/// Mexico's central time (Tiempo del Centro) has been UTC−6 all year since 2022; "today" for a
/// catalog's validity is the day there, where most invoices are issued.
const CENTRAL_TIME_OFFSET: TimeDelta = TimeDelta::hours(-6);

/// A stored catalog and the SAT publication it comes from.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogView {
    /// SAT's name of the catalog.
    #[schema(example = "c_UsoCFDI")]
    pub name: String,
    /// The catalog publication the entries come from (`catalogs/sat/VERSION` or the directory
    /// given to `api catalogs load`).
    #[schema(example = "10.14.20260806")]
    pub version: String,
    /// How many entries the catalog has, in force or not.
    #[schema(example = 24)]
    pub row_count: i32,
    /// When this content was loaded.
    pub loaded_at: DateTime<Utc>,
}

/// One entry of a SAT catalog.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogEntryView {
    /// The SAT key: the value the CFDI attribute takes (`UsoCFDI="G03"`). c_Estado is keyed by
    /// state code (`NLE`), c_Municipio by state and municipality (`NLE-039`), c_TasaOCuota by
    /// tax, factor and rate or range (`IVA|Tasa|0.160000`, `ISR|Tasa|0.000000-0.350000`).
    #[schema(example = "G03")]
    pub key: String,
    /// SAT's description, in Spanish.
    #[schema(example = "Gastos en general.")]
    pub description: String,
    /// First day the key may be used (SAT's `vigencia_desde`); `null`: no start date.
    #[schema(required = true, example = "2022-01-01")]
    pub valid_from: Option<NaiveDate>,
    /// Last day the key may be used (SAT's `vigencia_hasta`); `null`: no end date.
    #[schema(required = true)]
    pub valid_to: Option<NaiveDate>,
    /// The catalog's other columns under English names: flags are booleans, lists are arrays,
    /// the rest strings (`natural_person`, `legal_entity`, `receiver_tax_regimes` on
    /// c_UsoCFDI; `state`, `municipality`, `border_region`, `time_zone` on c_CodigoPostal;
    /// `decimals` on c_Moneda …). An empty SAT cell is `null`.
    #[schema(value_type = Object, example = json!({
        "natural_person": true,
        "legal_entity": true,
        "receiver_tax_regimes": ["601", "603", "606", "612", "620", "621", "622", "623", "624", "625", "626"]
    }))]
    pub attributes: serde_json::Value,
    /// Only on `getCatalogEntry` of c_CodigoPostal: the place the postal code names, resolved
    /// through c_Estado and c_Municipio.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub postal_code: Option<PostalCodePlace>,
}

impl From<Entry> for CatalogEntryView {
    fn from(e: Entry) -> Self {
        Self {
            key: e.key,
            description: e.description,
            valid_from: e.valid_from,
            valid_to: e.valid_to,
            attributes: e.attributes,
            postal_code: None,
        }
    }
}

/// Where a postal code is (c_CodigoPostal): what an issuer's `LugarExpedicion` implies.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostalCodePlace {
    /// The state (c_Estado); `null` only if c_Estado lacks the code the postal code names.
    #[schema(required = true)]
    pub state: Option<Place>,
    /// The municipality (c_Municipio); `null` when SAT's publication names none for the code
    /// (many codes of Mexico City, for one).
    #[schema(required = true)]
    pub municipality: Option<Place>,
    /// The c_Localidad key within the state; `null` when SAT's publication names none.
    #[schema(required = true, example = "04")]
    pub locality: Option<String>,
    /// Whether the code lies in the northern or southern border region, whose issuers may
    /// apply the border VAT and income-tax incentives (SAT's `estimulo_franja_fronteriza`).
    pub border_region: bool,
    /// SAT's time zone name for the code, in which the CFDI `Fecha` is local time.
    #[schema(required = true, example = "Tiempo del Noroeste")]
    pub time_zone: Option<String>,
}

/// A catalog key and its description.
#[derive(Debug, Serialize, ToSchema)]
pub struct Place {
    /// The key in its catalog (`BCN` in c_Estado, `004` in c_Municipio).
    #[schema(example = "BCN")]
    pub code: String,
    /// SAT's name.
    #[schema(example = "Baja California")]
    pub name: String,
}

/// The `{name}` of a catalog path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CatalogPath {
    /// SAT's name of the catalog (`GET /v1/catalogs` lists them).
    #[param(value_type = CatalogName, inline, example = "c_UsoCFDI")]
    pub name: String,
}

/// The `{name}` and `{key}` of a catalog entry's path.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EntryPath {
    /// SAT's name of the catalog (`GET /v1/catalogs` lists them).
    #[param(value_type = CatalogName, inline, example = "c_UsoCFDI")]
    pub name: String,
    /// The entry's key, as `listCatalogEntries` shows it (`G03`, `22000`, `NLE-039`,
    /// `IVA|Tasa|0.160000` URL-encoded).
    #[param(example = "G03", pattern = "^[^\\u0000]*$")]
    pub key: String,
}

/// The schema of a catalog name: one of the catalogs the service knows, taken from that list,
/// so the spec cannot drift from it.
#[derive(Debug)]
pub struct CatalogName;

impl PartialSchema for CatalogName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(store::names()))
            .build()
            .into()
    }
}

impl ToSchema for CatalogName {}

/// The kind of taxpayer a CFDI's receiver (or issuer) is.
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PersonTypeParam {
    /// Persona física (13-character RFC): entries with `natural_person`.
    Natural,
    /// Persona moral (12-character RFC): entries with `legal_entity`.
    Legal,
}

impl PersonTypeParam {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "natural" => Some(Self::Natural),
            "legal" => Some(Self::Legal),
            _ => None,
        }
    }
}

impl From<PersonTypeParam> for PersonType {
    fn from(p: PersonTypeParam) -> Self {
        match p {
            PersonTypeParam::Natural => PersonType::Individual,
            PersonTypeParam::Legal => PersonType::Company,
        }
    }
}

/// The query of `listCatalogEntries`. Filters arrive as text and are checked here, so that every
/// bad one is reported at once with its pointer.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// How many entries to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page of the same catalog.
    #[param(max_length = 200, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// Text to find anywhere in the key or the description, ignoring accents and case
    /// ("credito" finds "Tarjeta de crédito", "8111" finds the 8111xxxx product keys);
    /// surrounding white space is ignored. At most 100 characters.
    #[param(max_length = 100, pattern = "^[^\\u0000]*$", example = "credito")]
    pub q: Option<String>,
    /// Only entries in force on this day (SAT's vigencia). Default: today in Mexico's central
    /// time, so that only codes usable in a CFDI issued now are listed; pass another date to
    /// see what was (or will be) valid then.
    #[param(value_type = Option<String>, format = Date, example = "2026-12-03")]
    pub valid_on: Option<String>,
    /// c_UsoCFDI only: the receiver's tax regime (c_RegimenFiscal key, the CFDI's
    /// `RegimenFiscalReceptor`); lists the uses SAT allows with it.
    #[param(pattern = "^[0-9]{3}$", example = "605")]
    pub tax_regime: Option<String>,
    /// c_UsoCFDI and c_RegimenFiscal only: the kind of taxpayer (`natural`: persona física,
    /// `legal`: persona moral); lists the entries that apply to it.
    #[param(value_type = Option<PersonTypeParam>, inline, example = "natural")]
    pub person_type: Option<String>,
}

impl EntriesQuery {
    /// The filter and page position, or 400 `invalid_query` naming every bad parameter.
    fn parse(self, catalog: &str) -> Result<(EntryFilter, Option<String>, u32), ApiError> {
        let mut violations = Violations::new();
        let limit = check_limit(self.limit, &mut violations);
        let after = self
            .starting_after
            .and_then(|cursor| after_key(catalog, &cursor, &mut violations));
        let at = |name: &str| Pointer::root().field(name);

        let text = self
            .q
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty());
        if let Some(q) = &text {
            if q.chars().count() > MAX_QUERY_CHARS {
                violations.push(Violation::new(
                    at("q"),
                    "too_long",
                    format!("q must have at most {MAX_QUERY_CHARS} characters"),
                ));
            } else if q.contains('\0') {
                violations.push(Violation::new(
                    at("q"),
                    "invalid_character",
                    "q must not contain NUL characters",
                ));
            }
        }

        let valid_on = match self.valid_on {
            None => Some(today_in_central_mexico()),
            Some(day) => match NaiveDate::parse_from_str(&day, "%Y-%m-%d") {
                Ok(day) => Some(day),
                Err(_) => {
                    violations.push(Violation::new(
                        at("valid_on"),
                        "invalid_date",
                        "valid_on must be a date as YYYY-MM-DD",
                    ));
                    None
                }
            },
        };

        let receiver_tax_regime = match self.tax_regime {
            None => None,
            Some(_) if !store::BY_RECEIVER_TAX_REGIME.contains(&catalog) => {
                violations.push(not_applicable("tax_regime", store::BY_RECEIVER_TAX_REGIME));
                None
            }
            Some(regime) if regime.len() == 3 && regime.bytes().all(|b| b.is_ascii_digit()) => {
                Some(regime)
            }
            Some(_) => {
                violations.push(Violation::new(
                    at("tax_regime"),
                    "invalid_tax_regime",
                    "tax_regime must be a c_RegimenFiscal key: three digits, such as 605",
                ));
                None
            }
        };

        let person_type = match self.person_type {
            None => None,
            Some(_) if !store::BY_PERSON_TYPE.contains(&catalog) => {
                violations.push(not_applicable("person_type", store::BY_PERSON_TYPE));
                None
            }
            Some(text) => {
                let parsed = PersonTypeParam::parse(&text);
                if parsed.is_none() {
                    violations.push(Violation::new(
                        at("person_type"),
                        "invalid_person_type",
                        "person_type must be natural or legal",
                    ));
                }
                parsed.map(PersonType::from)
            }
        };

        if !violations.is_empty() {
            return Err(invalid_query(violations));
        }
        let filter = EntryFilter {
            text,
            valid_on,
            person_type,
            receiver_tax_regime,
        };
        Ok((filter, after, limit))
    }
}

fn not_applicable(parameter: &str, catalogs: &[&str]) -> Violation {
    Violation::new(
        Pointer::root().field(parameter),
        "filter_not_applicable",
        format!("{parameter} filters only {}", catalogs.join(" and ")),
    )
}

fn today_in_central_mexico() -> NaiveDate {
    (Utc::now() + CENTRAL_TIME_OFFSET).date_naive()
}

/// The catalog named `name`, if the service knows it: an unknown one is 404 without a query.
fn known(name: &str) -> Result<&'static str, ApiError> {
    store::names()
        .find(|known| *known == name)
        .ok_or_else(ApiError::not_found)
}

/// List the SAT catalogs.
///
/// Every catalog the service holds, by name, with the SAT publication it was loaded from and
/// its number of entries. All of them fit in one page: `has_more` is always false.
#[utoipa::path(
    operation_id = "listCatalogs",
    tag = "catalogs",
    security(("bearer_jwt" = [])),
    responses(
        (status = 200, description = "Every catalog, by name", body = Page<CatalogView>),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/catalogs")]
pub async fn list(state: web::Data<AppState>, _caller: Caller) -> Result<HttpResponse, ApiError> {
    let catalogs = state.db(store::list).await?;
    let data = catalogs
        .into_iter()
        .map(|c| CatalogView {
            name: c.name,
            version: c.version,
            row_count: c.row_count,
            loaded_at: c.loaded_at,
        })
        .collect();
    Ok(HttpResponse::Ok().json(Page {
        data,
        has_more: false,
        next_cursor: None,
    }))
}

/// List or search a catalog's entries.
///
/// In key order, paginated. By default only the entries in force today; `valid_on` asks about
/// another day. `q` searches keys and descriptions without regard to accents or case. For
/// c_UsoCFDI, `tax_regime` and `person_type` leave the uses a receiver may put in its CFDI;
/// `person_type` also filters c_RegimenFiscal. A filter the catalog does not have is 400.
#[utoipa::path(
    operation_id = "listCatalogEntries",
    tag = "catalogs",
    security(("bearer_jwt" = [])),
    params(CatalogPath, EntriesQuery),
    responses(
        (status = 200, description = "A page of entries, in key order", body = Page<CatalogEntryView>),
        (status = 400, description = "Invalid query parameters, or a filter the catalog does not have", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No catalog has this name", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/catalogs/{name}")]
pub async fn list_entries(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<CatalogPath>,
    query: web::Query<EntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let catalog = known(&path.name)?;
    let (filter, after, limit) = query.into_inner().parse(catalog)?;
    let rows = state
        .db(move |conn| store::entries(conn, catalog, &filter, after.as_deref(), limit.into()))
        .await?;
    let next_cursor = match rows.rows.last() {
        Some(last) if rows.has_more => key_cursor(catalog, &last.key),
        _ => None,
    };
    let page = Page {
        data: rows
            .rows
            .into_iter()
            .map(CatalogEntryView::from)
            .collect::<Vec<_>>(),
        has_more: rows.has_more,
        next_cursor,
    };
    Ok(HttpResponse::Ok().json(page))
}

/// Get one catalog entry.
///
/// Whatever its validity: `valid_from` and `valid_to` tell whether it may be used on a given
/// day (an old invoice may carry a key SAT has since retired). For c_CodigoPostal the answer
/// also has `postal_code`: the state, municipality, locality, border-region flag and time zone.
#[utoipa::path(
    operation_id = "getCatalogEntry",
    tag = "catalogs",
    security(("bearer_jwt" = [])),
    params(EntryPath),
    responses(
        (status = 200, description = "The entry", body = CatalogEntryView, example = json!({
            "key": "22000",
            "description": "22000",
            "valid_from": null,
            "valid_to": null,
            "attributes": {"state": "BCN", "municipality": "004", "locality": "04", "border_region": true, "time_zone": "Tiempo del Noroeste"},
            "postal_code": {
                "state": {"code": "BCN", "name": "Baja California"},
                "municipality": {"code": "004", "name": "Tijuana"},
                "locality": "04",
                "border_region": true,
                "time_zone": "Tiempo del Noroeste"
            }
        })),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No catalog has this name, or the catalog has no such key", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/catalogs/{name}/{key}")]
pub async fn get_entry(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<EntryPath>,
) -> Result<HttpResponse, ApiError> {
    let catalog = known(&path.name)?;
    let EntryPath { key, .. } = path.into_inner();
    // PostgreSQL text cannot hold NUL, so no key has one; asking would be a query error.
    if key.contains('\0') {
        return Err(ApiError::not_found());
    }
    let view = state
        .db(move |conn| {
            let entry = store::entry(conn, catalog, &key)?;
            let place = if catalog == "c_CodigoPostal" {
                Some(postal_code_place(conn, &entry)?)
            } else {
                None
            };
            Ok(CatalogEntryView {
                postal_code: place,
                ..CatalogEntryView::from(entry)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Resolves a c_CodigoPostal entry's state and municipality codes to their catalog entries.
fn postal_code_place(
    conn: &mut persistence::PgConnection,
    code: &Entry,
) -> Result<PostalCodePlace, persistence::StoreError> {
    let state = code.text("state");
    let municipality = code.text("municipality");
    let named = |conn: &mut persistence::PgConnection,
                 catalog: &str,
                 key: Option<String>,
                 code: Option<&str>| {
        let (Some(key), Some(code)) = (key, code) else {
            return Ok(None);
        };
        let found = store::find(conn, catalog, &[key.as_str()])?;
        Ok::<_, persistence::StoreError>(found.into_iter().next().map(|e| Place {
            code: code.to_string(),
            name: e.description,
        }))
    };
    Ok(PostalCodePlace {
        state: named(conn, "c_Estado", state.map(str::to_string), state)?,
        // c_Municipio numbers municipalities within their state: its key is `STATE-MUN`.
        municipality: named(
            conn,
            "c_Municipio",
            state.zip(municipality).map(|(s, m)| format!("{s}-{m}")),
            municipality,
        )?,
        locality: code.text("locality").map(str::to_string),
        border_region: code.flag("border_region"),
        time_zone: code.text("time_zone").map(str::to_string),
    })
}
