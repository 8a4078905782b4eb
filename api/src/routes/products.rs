//! Products and services: what an organization's invoice lines (CFDI Conceptos) are made from.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | list, get | yes | yes | yes | yes |
//! | create, update, delete, import | yes | yes | yes | 403 |
//!
//! API clients act with their role. ClaveProdServ, ClaveUnidad, the currency and the tax
//! profile are checked against SAT's catalogs the service has loaded (c_TasaOCuota and the
//! c_ObjetoImp rules for the taxes), and every broken rule is reported at once.

use std::collections::BTreeMap;
use std::str::FromStr;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use domain::fields;
use domain::identity::Role;
use domain::tax_profile::{self, Tax};
use domain::validation::{Pointer, Violation, Violations};
use persistence::catalogs::Snapshot;
use persistence::products::{self as store, Product, ProductFilter};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::{Json, MergePatch};
use crate::pagination::{ListParams, Listed, Page, ResourceSort};
use crate::problem::{ApiError, Problem};
use crate::routes::imports::{
    self, Column, CsvBody, ImportQuery, ImportReport, Importable, Kind, column,
};
use crate::routes::resource::{RowBase, delete_guarded, merged, or_external_id_taken, search_text};
use crate::state::AppState;

/// How many taxes a product may carry (three taxes, each at most once per direction, fit).
pub const MAX_TAXES: usize = 10;

/// The most decimals SAT's `ValorUnitario` and `TasaOCuota` take.
const DECIMALS: u32 = 6;

/// c_TipoFactor: how a tax is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum TaxFactor {
    /// A rate on the base (`TasaOCuota` 0.160000 is 16 %).
    Tasa,
    /// A fixed amount per unit (IEPS on fuels, tobacco).
    Cuota,
    /// Exempt: no rate, no amount; only reported.
    Exento,
}

impl TaxFactor {
    fn as_str(self) -> &'static str {
        match self {
            TaxFactor::Tasa => "Tasa",
            TaxFactor::Cuota => "Cuota",
            TaxFactor::Exento => "Exento",
        }
    }
}

/// One tax of a product's profile: a CFDI `Concepto/Impuestos/Traslados/Traslado` or, with
/// `withholding`, a `Retenciones/Retencion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxLine {
    /// `@Impuesto`, a c_Impuesto key: `001` ISR, `002` IVA, `003` IEPS.
    #[schema(example = "002", pattern = "^[0-9]{3}$")]
    pub tax: String,
    /// `@TipoFactor` (c_TipoFactor).
    pub factor: TaxFactor,
    /// `@TasaOCuota`, a decimal string with up to 6 decimals that c_TasaOCuota allows for this
    /// tax, factor and direction; absent for `Exento`.
    #[schema(example = "0.160000", pattern = "^[0-9]{1,3}(\\.[0-9]{1,6})?$")]
    #[serde(default)]
    pub rate: Option<String>,
    /// `true` for a retención (the receiver withholds it), `false` for a traslado.
    #[serde(default)]
    pub withholding: bool,
}

/// Declares a struct with every product field, so the request body and the view share one
/// list of fields, descriptions and limits.
macro_rules! with_product_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($before:tt)* } { $($after:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($before)*
            /// The name people pick the product by; CFDI `Concepto/@Descripcion` when there
            /// is no `description`.
            #[schema(example = "Consultoría fiscal (hora)", min_length = 1, max_length = 200)]
            pub name: String,
            /// CFDI `Concepto/@Descripcion` when set: the text printed on the invoice line.
            #[schema(example = "Hora de consultoría en materia fiscal", min_length = 1, max_length = 1000)]
            #[serde(default)]
            pub description: Option<String>,
            /// CFDI `Concepto/@NoIdentificacion`: the seller's own code (SKU).
            #[schema(example = "CONS-FIS-01", min_length = 1, max_length = 100)]
            #[serde(default)]
            pub sku: Option<String>,
            /// CFDI `Concepto/@ClaveProdServ`: a c_ClaveProdServ key (`01010101` when none fits).
            #[schema(example = "80101500", pattern = "^[0-9]{8}$")]
            pub product_key: String,
            /// CFDI `Concepto/@ClaveUnidad`: a c_ClaveUnidad key (`H87` piece, `E48` service
            /// unit, `HUR` hour, `KGM` kilogram).
            #[schema(example = "E48", min_length = 1, max_length = 3)]
            pub unit_key: String,
            /// CFDI `Concepto/@Unidad`: the seller's own name for the unit.
            #[schema(example = "Hora", min_length = 1, max_length = 20)]
            #[serde(default)]
            pub unit_name: Option<String>,
            /// CFDI `Concepto/@ValorUnitario`: the price of one unit before taxes, a decimal
            /// string with up to 6 decimals.
            #[schema(example = "1500.00", pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
            pub unit_price: String,
            /// The currency of `unit_price`, a c_Moneda key (CFDI `@Moneda` of invoices made
            /// from it); never `XXX`.
            #[schema(example = "MXN", pattern = "^[A-Z]{3}$", default = "MXN")]
            #[serde(default = "default_currency")]
            pub currency: String,
            /// CFDI `Concepto/@ObjetoImp`, a c_ObjetoImp key: `02` carries taxes, `01` none, ...
            #[schema(example = "02", pattern = "^[0-9]{2}$")]
            pub tax_object: String,
            /// The taxes every line of this product carries (`Concepto/Impuestos`).
            #[schema(max_items = 10, example = json!([{"tax": "002", "factor": "Tasa", "rate": "0.160000", "withholding": false}]))]
            #[serde(default)]
            pub taxes: Vec<TaxLine>,
            /// The product's id in the client's own system (ERP); unique in the organization.
            #[schema(example = "SAP-M-000042", min_length = 1, max_length = 100)]
            #[serde(default)]
            pub external_id: Option<String>,
            /// Up to 50 string pairs for the client's own use (keys ≤ 40, values ≤ 500 characters).
            #[schema(example = json!({"family": "services"}))]
            #[serde(default)]
            pub metadata: BTreeMap<String, String>,
            /// Archived products stay on their invoices but are hidden from pickers.
            #[serde(default)]
            pub archived: bool,
            $($after)*
        }
    };
}

fn default_currency() -> String {
    "MXN".to_string()
}

with_product_fields! {
    /// A product or service as a client writes it: the body of `POST /v1/products`, and what
    /// a `PATCH` is merged into.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, Validate)]
    #[serde(deny_unknown_fields)]
    pub struct ProductInput {} {}
}

with_product_fields! {
    /// A product or service.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct ProductView {
        pub id: Uuid,
    } {
        /// Increases with every change; the `ETag` is this number in quotes.
        #[schema(example = 1)]
        pub version: i32,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

/// The changes to a product, as a JSON merge patch (RFC 7396): members present replace the
/// stored ones, `null` clears an optional member, absent members stay as they are. `taxes`
/// is replaced as a whole; `metadata` merges key by key.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the PATCH body; the handler merges a JSON object"
)]
pub struct ProductPatch {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(min_length = 1, max_length = 1000)]
    description: Option<Option<String>>,
    #[schema(min_length = 1, max_length = 100)]
    sku: Option<Option<String>>,
    #[schema(pattern = "^[0-9]{8}$")]
    product_key: Option<String>,
    #[schema(min_length = 1, max_length = 3)]
    unit_key: Option<String>,
    #[schema(min_length = 1, max_length = 20)]
    unit_name: Option<Option<String>>,
    #[schema(example = "1650.00", pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
    unit_price: Option<String>,
    #[schema(pattern = "^[A-Z]{3}$")]
    currency: Option<String>,
    #[schema(pattern = "^[0-9]{2}$")]
    tax_object: Option<String>,
    #[schema(max_items = 10)]
    taxes: Option<Vec<TaxLine>>,
    #[schema(min_length = 1, max_length = 100)]
    external_id: Option<Option<String>>,
    /// Keys set to `null` are removed.
    metadata: Option<BTreeMap<String, Option<String>>>,
    #[schema(example = true)]
    archived: Option<bool>,
}

/// A decimal string as SAT writes amounts: digits, an optional point and at most `decimals`
/// decimals; no sign, exponent or separators.
fn parse_amount(value: &str, integer_digits: usize) -> Option<Decimal> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let fits = !whole.is_empty()
        && whole.len() <= integer_digits
        && digits(whole)
        && digits(fraction)
        && fraction.len() <= DECIMALS as usize
        && (!value.contains('.') || !fraction.is_empty());
    fits.then(|| Decimal::from_str(value).ok()).flatten()
}

/// A price as the API writes it: at least 2 decimals, no trailing zeros beyond them.
fn price_text(price: Decimal) -> String {
    let mut price = price.normalize();
    if price.scale() < 2 {
        price.rescale(2);
    }
    price.to_string()
}

/// A rate as CFDI writes `TasaOCuota`: always 6 decimals.
fn rate_text(rate: Decimal) -> String {
    let mut rate = rate;
    rate.rescale(DECIMALS);
    rate.to_string()
}

impl From<&Product> for ProductInput {
    fn from(p: &Product) -> Self {
        Self {
            name: p.name.clone(),
            description: p.description.clone(),
            sku: p.sku.clone(),
            product_key: p.product_key.clone(),
            unit_key: p.unit_key.clone(),
            unit_name: p.unit_name.clone(),
            unit_price: price_text(p.unit_price),
            currency: p.currency.clone(),
            tax_object: p.tax_object.clone(),
            taxes: serde_json::from_value(p.taxes.clone()).unwrap_or_default(),
            external_id: p.external_id.clone(),
            metadata: serde_json::from_value(p.metadata.clone()).unwrap_or_default(),
            archived: p.archived,
        }
    }
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        let ProductInput {
            name,
            description,
            sku,
            product_key,
            unit_key,
            unit_name,
            unit_price,
            currency,
            tax_object,
            taxes,
            external_id,
            metadata,
            archived,
        } = ProductInput::from(p);
        Self {
            id: p.id,
            name,
            description,
            sku,
            product_key,
            unit_key,
            unit_name,
            unit_price,
            currency,
            tax_object,
            taxes,
            external_id,
            metadata,
            archived,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl Listed for ProductView {
    fn id(&self) -> Uuid {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

impl ProductInput {
    /// The catalog entries [`ProductInput::check`] consults besides c_TasaOCuota and
    /// c_ObjetoImp, which it takes whole.
    pub fn catalog_keys<'a>(&'a self, issuer_postal_code: &'a str) -> Vec<(&'static str, &'a str)> {
        vec![
            ("c_ClaveProdServ", self.product_key.as_str()),
            ("c_ClaveUnidad", self.unit_key.as_str()),
            ("c_Moneda", self.currency.as_str()),
            ("c_CodigoPostal", issuer_postal_code),
        ]
    }

    /// Every rule: catalogs, tax profile and the limits of each field. Pointers start at `at`.
    pub fn check(&self, issuer_postal_code: &str, catalogs: &Snapshot, at: &Pointer) -> Violations {
        let mut v = Violations::new();
        let field = |name: &str| at.field(name);
        fields::text(&self.name, 1, 200, field("name"), &mut v);
        if let Some(description) = &self.description {
            fields::text(description, 1, 1000, field("description"), &mut v);
        }
        if let Some(sku) = &self.sku {
            fields::text(sku, 1, 100, field("sku"), &mut v);
        }
        if let Some(unit_name) = &self.unit_name {
            fields::text(unit_name, 1, 20, field("unit_name"), &mut v);
        }
        let known = |catalog: &str, key: &str| catalogs.get(catalog, key).is_some();
        if !(self.product_key.len() == 8 && known("c_ClaveProdServ", &self.product_key)) {
            v.push(Violation::new(
                field("product_key"),
                "unknown_product_key",
                "product_key is not a key of SAT's c_ClaveProdServ catalog",
            ));
        }
        if !known("c_ClaveUnidad", &self.unit_key) {
            v.push(Violation::new(
                field("unit_key"),
                "unknown_unit_key",
                "unit_key is not a key of SAT's c_ClaveUnidad catalog",
            ));
        }
        if self.currency == "XXX" || !known("c_Moneda", &self.currency) {
            v.push(Violation::new(
                field("currency"),
                "unknown_currency",
                "currency must be a key of SAT's c_Moneda catalog other than XXX",
            ));
        }
        if parse_amount(&self.unit_price, 18).is_none() {
            v.push(Violation::new(
                field("unit_price"),
                "invalid_amount",
                "unit_price is a decimal string with up to 18 digits before the point and 6 after",
            ));
        }
        self.check_taxes(issuer_postal_code, catalogs, at, &mut v);
        if let Some(external_id) = &self.external_id {
            fields::external_id(external_id, field("external_id"), &mut v);
        }
        fields::metadata(&self.metadata, field("metadata"), &mut v);
        v
    }

    fn check_taxes(
        &self,
        issuer_postal_code: &str,
        catalogs: &Snapshot,
        at: &Pointer,
        v: &mut Violations,
    ) {
        let taxes_at = at.field("taxes");
        if self.taxes.len() > MAX_TAXES {
            v.push(Violation::new(
                taxes_at,
                "too_many",
                format!("a product carries at most {MAX_TAXES} taxes"),
            ));
            return;
        }
        let mut parsed = Vec::with_capacity(self.taxes.len());
        let mut rates_ok = true;
        for (i, line) in self.taxes.iter().enumerate() {
            let rate = match &line.rate {
                None => None,
                Some(text) => match parse_amount(text, 3) {
                    Some(rate) => Some(rate),
                    None => {
                        rates_ok = false;
                        v.push(Violation::new(
                            taxes_at.index(i).field("rate"),
                            "invalid_rate",
                            "rate is a decimal string with up to 6 decimals, such as 0.160000",
                        ));
                        None
                    }
                },
            };
            parsed.push(Tax {
                tax: &line.tax,
                factor: line.factor.as_str(),
                rate,
                withholding: line.withholding,
            });
        }
        if !rates_ok {
            return;
        }
        tax_profile::check(&self.tax_object, &parsed, catalogs, at, v);
        // IVA at 8 % is the northern and southern border stimulus: only where the issuer's
        // postal code has it (c_CodigoPostal's estimulo_franja_fronteriza).
        let border = catalogs
            .get("c_CodigoPostal", issuer_postal_code)
            .is_some_and(|e| e.flag("border_region"));
        let eight = Decimal::new(8, 2);
        for (i, tax) in parsed.iter().enumerate() {
            if tax.tax == tax_profile::IVA && !tax.withholding && tax.rate == Some(eight) && !border
            {
                v.push(Violation::new(
                    taxes_at.index(i).field("rate"),
                    "border_rate_not_allowed",
                    "IVA at 0.08 applies only when the organization's postal code is in the border region",
                ));
            }
        }
    }

    /// The row for this input, which [`ProductInput::check`] passed; `id`, `version` and
    /// timestamps come from `base`.
    pub fn to_row(&self, base: RowBase) -> Product {
        let taxes: Vec<TaxLine> = self
            .taxes
            .iter()
            .map(|t| TaxLine {
                rate: t
                    .rate
                    .as_deref()
                    .and_then(|r| parse_amount(r, 3))
                    .map(rate_text),
                ..t.clone()
            })
            .collect();
        let mut search = self.name.clone();
        for extra in [&self.sku, &self.description].into_iter().flatten() {
            search.push(' ');
            search.push_str(extra);
        }
        Product {
            id: base.id,
            organization_id: base.organization_id,
            name: self.name.clone(),
            description: self.description.clone(),
            sku: self.sku.clone(),
            product_key: self.product_key.clone(),
            unit_key: self.unit_key.clone(),
            unit_name: self.unit_name.clone(),
            unit_price: parse_amount(&self.unit_price, 18).unwrap_or_default(),
            currency: self.currency.clone(),
            tax_object: self.tax_object.clone(),
            taxes: serde_json::to_value(taxes).unwrap_or_default(),
            external_id: self.external_id.clone(),
            metadata: serde_json::to_value(&self.metadata).unwrap_or_default(),
            archived: self.archived,
            search: domain::text::fold(&search),
            version: base.version,
            created_at: base.created_at,
            updated_at: base.updated_at,
        }
    }

    /// Checks the input inside a transaction: the organization's postal code and the
    /// catalog entries it needs, then every rule.
    pub fn validate_in(
        &self,
        conn: &mut persistence::PgConnection,
        org: Uuid,
        at: &Pointer,
    ) -> Result<Violations, persistence::StoreError> {
        let organization = persistence::identity::find_organization(conn, org)?;
        let mut catalogs = Snapshot::fetch(conn, &self.catalog_keys(&organization.postal_code))?;
        catalogs.add_catalog(conn, "c_TasaOCuota")?;
        catalogs.add_catalog(conn, "c_ObjetoImp")?;
        Ok(self.check(&organization.postal_code, &catalogs, at))
    }
}

fn product_response(status: StatusCode, product: &Product) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(product.version)))
        .insert_header(("Location", format!("/v1/products/{}", product.id)))
        .json(ProductView::from(product))
}

/// Create a product or service.
///
/// Owners, admins and accountants. ClaveProdServ, ClaveUnidad and the currency must be keys of
/// SAT's catalogs; the tax profile must follow the c_ObjetoImp rules (`02` carries taxes, `01`
/// none, `07` IEPS without IVA...) and every rate must be in c_TasaOCuota for its tax, factor
/// and direction (IVA 0.08 only in the border region). Every broken rule is reported at once.
/// Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "createProduct",
    tag = "products",
    security(("bearer_jwt" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the same key and body replay the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]{0,253}[!-~])?$")),
    request_body(content = ProductInput, example = json!({
        "name": "Consultoría fiscal (hora)",
        "sku": "CONS-FIS-01",
        "product_key": "80101500",
        "unit_key": "HUR",
        "unit_name": "Hora",
        "unit_price": "1500.00",
        "currency": "MXN",
        "tax_object": "02",
        "taxes": [
            {"tax": "002", "factor": "Tasa", "rate": "0.160000"},
            {"tax": "002", "factor": "Tasa", "rate": "0.106667", "withholding": true},
            {"tax": "001", "factor": "Tasa", "rate": "0.100000", "withholding": true}
        ],
        "external_id": "SAP-M-000042"
    })),
    responses(
        (status = 201, description = "Created; `ETag` and `Location` name it", body = ProductView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot create products", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`, or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/products")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let org = caller.organization_id;
    let product = state
        .tenant_db(org, move |conn| {
            let violations = input.validate_in(conn, org, &Pointer::root())?;
            if !violations.is_empty() {
                return Ok(Err(ApiError::validation(violations)));
            }
            let row = input.to_row(RowBase::new(org));
            or_external_id_taken(persistence::transaction(conn, |conn| {
                store::insert(conn, &row)
            }))
        })
        .await??;
    Ok(product_response(StatusCode::CREATED, &product))
}

/// Query parameters of `GET /v1/products`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProductListQuery {
    /// How many products to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 500, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `name` (the default), `created_at` or `updated_at`; prefix `-` for descending.
    #[param(pattern = "^-?(name|created_at|updated_at)$", example = "-updated_at")]
    pub sort: Option<String>,
    /// Text to find in the name, SKU or description, ignoring case and accents
    /// ("consultoria" finds "Consultoría").
    #[param(min_length = 1, max_length = 100, example = "consultoria")]
    pub q: Option<String>,
    /// Only the product with exactly this SKU.
    #[param(min_length = 1, max_length = 100, example = "CONS-FIS-01")]
    pub sku: Option<String>,
    /// Only products with this ClaveProdServ.
    #[param(pattern = "^[0-9]{8}$", example = "80101500")]
    pub product_key: Option<String>,
    /// `true`: only archived products; `false`: only active ones; absent: both.
    pub archived: Option<bool>,
    /// Only products changed at or after this instant (RFC 3339), for ERP sync.
    #[param(example = "2026-12-01T00:00:00Z")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List and search products and services.
///
/// Every role. Sorted by name unless `sort` says otherwise.
#[utoipa::path(
    operation_id = "listProducts",
    tag = "products",
    security(("bearer_jwt" = [])),
    params(ProductListQuery),
    responses(
        (status = 200, description = "A page of products", body = Page<ProductView>),
        (status = 400, description = "Invalid query parameters, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/products")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ProductListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut violations = Violations::new();
    let search = search_text(query.q, &mut violations);
    if let Some(sku) = &query.sku
        && !(1..=100).contains(&sku.chars().count())
    {
        violations.push(Violation::new(
            Pointer::root().field("sku"),
            "length",
            "sku has 1 to 100 characters",
        ));
    }
    if let Some(key) = &query.product_key
        && !(key.len() == 8 && key.bytes().all(|b| b.is_ascii_digit()))
    {
        violations.push(Violation::new(
            Pointer::root().field("product_key"),
            "invalid_format",
            "product_key has 8 digits",
        ));
    }
    let request = ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
        sort: query.sort,
    }
    .parse_with::<ResourceSort>(violations)?;
    let filter = ProductFilter {
        search,
        sku: query.sku,
        product_key: query.product_key,
        archived: query.archived,
        updated_since: query.updated_since,
    };
    let page = request.resource_page()?;
    let org = caller.organization_id;
    let rows = state
        .tenant_db(org, move |conn| store::list(conn, org, &filter, &page))
        .await?;
    let views = rows.rows.iter().map(ProductView::from).collect();
    let page = request.resource_answer(views, rows.has_more);
    Ok(HttpResponse::Ok().json(page))
}

/// Get a product or service.
///
/// Every role. `ETag` carries its version for `If-Match`.
#[utoipa::path(
    operation_id = "getProduct",
    tag = "products",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The product's id")),
    responses(
        (status = 200, description = "The product", body = ProductView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/products/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let product = state
        .tenant_db(org, move |conn| store::find(conn, org, id))
        .await?;
    Ok(product_response(StatusCode::OK, &product))
}

/// Change a product or service.
///
/// Owners, admins and accountants. The body is a JSON merge patch (RFC 7396); the product that
/// results is checked as a whole, like a new one. Invoices already issued keep the values they
/// were issued with. Send `If-Match` with the `ETag` you read to avoid overwriting someone
/// else's change.
#[utoipa::path(
    operation_id = "updateProduct",
    tag = "products",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The product's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body(content = ProductPatch, example = json!({"unit_price": "1650.00", "metadata": {"family": null}})),
    responses(
        (status = 200, description = "The changed product", body = ProductView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot change products", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The product changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/products/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    Json(patch): Json<MergePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let product = state
        .tenant_db(org, move |conn| {
            let current = store::lock(conn, org, id)?;
            if !if_match.matches(current.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            let input = match merged(&ProductInput::from(&current), &patch) {
                Ok(input) => input,
                Err(e) => return Ok(Err(e)),
            };
            let violations = input.validate_in(conn, org, &Pointer::root())?;
            if !violations.is_empty() {
                return Ok(Err(ApiError::validation(violations)));
            }
            let row = input.to_row(RowBase::of(
                current.id,
                current.organization_id,
                current.version,
                current.created_at,
                current.updated_at,
            ));
            or_external_id_taken(persistence::transaction(conn, |conn| {
                store::update(conn, &row)
            }))
        })
        .await??;
    Ok(product_response(StatusCode::OK, &product))
}

/// Delete a product or service.
///
/// Owners, admins and accountants. Invoices keep their own copy of each line, so deleting a
/// product never changes an invoice; archive it (`PATCH` with `{"archived": true}`) to keep it
/// out of pickers while keeping its history.
#[utoipa::path(
    operation_id = "deleteProduct",
    tag = "products",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The product's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot delete products", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such product in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Other records refer to the product (`in_use`): archive it instead", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The product changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/products/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    state
        .tenant_db(org, move |conn| {
            let version = store::lock(conn, org, id).map(|p| p.version);
            delete_guarded(
                conn,
                version,
                &if_match,
                "other records refer to this product: archive it instead (PATCH {\"archived\": true})",
                |conn| store::delete(conn, org, id),
            )
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

impl Importable for Product {
    type Input = ProductInput;
    const COLUMNS: &'static [Column] = &[
        column("external_id", Kind::Text),
        column("name", Kind::Text),
        column("description", Kind::Text),
        column("sku", Kind::Text),
        column("product_key", Kind::Text),
        column("unit_key", Kind::Text),
        column("unit_name", Kind::Text),
        column("unit_price", Kind::Text),
        column("currency", Kind::Text),
        column("tax_object", Kind::Text),
        column("taxes", Kind::Taxes),
        column("archived", Kind::Bool),
    ];

    fn locked(
        conn: &mut persistence::PgConnection,
        org: Uuid,
        external_ids: &[String],
    ) -> Result<Vec<Self>, persistence::StoreError> {
        store::lock_by_external_ids(conn, org, external_ids)
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn base(&self) -> RowBase {
        RowBase::of(
            self.id,
            self.organization_id,
            self.version,
            self.created_at,
            self.updated_at,
        )
    }
    fn id(&self) -> Uuid {
        self.id
    }
    fn input(&self) -> ProductInput {
        ProductInput::from(self)
    }
    fn catalog_keys(input: &ProductInput, issuer: &str) -> Vec<(&'static str, String)> {
        input
            .catalog_keys(issuer)
            .into_iter()
            .map(|(c, k)| (c, k.to_string()))
            .collect()
    }
    fn whole_catalogs() -> &'static [&'static str] {
        &["c_TasaOCuota", "c_ObjetoImp"]
    }
    fn check(input: &ProductInput, issuer: &str, catalogs: &Snapshot, at: &Pointer) -> Violations {
        input.check(issuer, catalogs, at)
    }
    fn to_row(input: &ProductInput, base: RowBase) -> Self {
        input.to_row(base)
    }
    fn insert_all(
        conn: &mut persistence::PgConnection,
        rows: &[Self],
    ) -> Result<(), persistence::StoreError> {
        store::insert_many(conn, rows)
    }
    fn update(
        conn: &mut persistence::PgConnection,
        row: &Self,
    ) -> Result<(), persistence::StoreError> {
        store::update(conn, row).map(drop)
    }
}

/// Import products and services from CSV (ERP migrations and syncs).
///
/// Owners, admins and accountants. The body is `text/csv` (UTF-8, comma-separated, quoted
/// as RFC 4180, a header line first) with up to 20,000 records; each is upserted by
/// `external_id`, which every record needs.
///
/// **Columns** (any order; only `external_id` is required as a column): `external_id`, `name`,
/// `description`, `sku`, `product_key`, `unit_key`, `unit_name`, `unit_price`, `currency`,
/// `tax_object`, `taxes`, `archived` (`true` or `false`), and `metadata.<key>` for each
/// metadata key. Each has the meaning and rules of the member of the same name of
/// `POST /v1/products`. `taxes` lists the taxes separated by `;`, each
/// `tax:factor[:rate][:withholding]`: `002:Tasa:0.160000;002:Tasa:0.106667:withholding;001:Tasa:0.100000:withholding`,
/// or `002:Exento`.
///
/// **Upsert**: a record whose `external_id` is new creates a product (then `name`,
/// `product_key`, `unit_key`, `unit_price` and `tax_object` are required); a known one
/// changes that product like a JSON merge patch: the file's columns replace the stored values,
/// an empty cell clears an optional field, and columns the file lacks keep their values. A
/// record equal to what is stored is `unchanged` and keeps its version.
///
/// **Errors**: each record is checked like `POST /v1/products`; pointers are
/// `/rows/<index>/<field>`, `index` counting records from 0 (`line` in the report is the CSV
/// line). By default the valid records are written and the invalid ones reported as
/// `failed` (200); with `atomic=true` nothing is written unless every record is valid (422
/// `import_failed` with every error). A malformed file, an unknown column or more than 20,000
/// records is refused as a whole. Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "importProducts",
    tag = "products",
    security(("bearer_jwt" = [])),
    params(
        ImportQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retried request safe: the same key and body replay the first answer", min_length = 1, max_length = 255, pattern = "^[!-~]([ -~]{0,253}[!-~])?$"),
    ),
    request_body(content = String, content_type = "text/csv", description = "A header line, then one product per line",
        example = "external_id,name,sku,product_key,unit_key,unit_price,tax_object,taxes\nSAP-M-1,Consultoría fiscal (hora),CONS-FIS-01,80101500,HUR,1500.00,02,002:Tasa:0.160000\n"),
    responses(
        (status = 200, description = "What happened to each record", body = ImportReport),
        (status = 400, description = "Malformed CSV (with its line) or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot import", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body larger than IMPORT_BODY_LIMIT", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not text/csv", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown or repeated columns, no external_id column, no records or too many (`too_many_rows`), or with `atomic=true` any invalid record (`import_failed`, every error with its pointer)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/products/import")]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<ImportQuery>,
    body: CsvBody,
) -> Result<HttpResponse, ApiError> {
    imports::handle::<Product>(state, caller, query.into_inner(), body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_plain_decimal_strings() {
        assert_eq!(parse_amount("1500.00", 18), Decimal::from_str("1500").ok());
        assert_eq!(
            parse_amount("0.123456", 18),
            Decimal::from_str("0.123456").ok()
        );
        for bad in [
            "",
            ".5",
            "5.",
            "1e3",
            "-1",
            "+1",
            "1,000",
            "0.1234567",
            " 1",
            "1.2.3",
        ] {
            assert_eq!(parse_amount(bad, 18), None, "{bad:?}");
        }
        assert_eq!(parse_amount("1234", 3), None);
    }

    #[test]
    fn prices_and_rates_print_as_sat_writes_them() {
        let d = |s: &str| Decimal::from_str(s).unwrap_or_default();
        assert_eq!(price_text(d("1500.000000")), "1500.00");
        assert_eq!(price_text(d("0.123400")), "0.1234");
        assert_eq!(rate_text(d("0.16")), "0.160000");
    }
}
