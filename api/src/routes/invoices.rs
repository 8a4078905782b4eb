//! Invoices (CFDI type I) and credit notes (type E): drafts that can change, then issuing
//! (folio, seal, stamp) into an immutable CFDI, its XML, and cancellation.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | list, get, XML | yes | yes | yes | yes |
//! | validate | yes | yes | yes | yes |
//! | create, update, delete a draft, issue | yes | yes | yes | 403 |
//! | cancel | yes | yes | 403 | 403 |
//!
//! API clients act with their role. Every SAT rule that can be checked locally is checked when
//! a draft is written, again when it is issued (the customer or SAT's catalogs may have changed
//! since), and by `POST /v1/invoices/validate` without saving anything; every broken rule is
//! reported at once with its SAT code (`CFDI40105`) or our own, and a pointer to the field.
//!
//! Issuing takes the series' next folio, builds and seals the CFDI in one transaction, and only
//! then calls the PAC, outside any transaction: a PAC that fails leaves the invoice
//! `stamp_failed` with its folio and sealed XML kept, and issuing again retries the stamp.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use domain::cfdi::taxes::{self, Impuesto, Line, ObjetoImp, TaxInput, TaxKind, TipoFactor};
use domain::cfdi::{
    CfdiRelacionados, Comprobante, ConceptoInput, Emisor, Header, InformacionGlobal, Receptor,
    TipoDeComprobante,
};
use domain::fields;
use domain::identity::Role;
use domain::receiver::{self, Receiver};
use domain::validation::{Pointer, Violation, Violations};
use persistence::PgConnection;
use persistence::catalogs::Snapshot;
use persistence::customers::Customer;
use persistence::identity::Organization;
use persistence::invoice_activity::{self as activity, Tracking};
use persistence::invoices::{self as store, Invoice, InvoiceFilter, InvoicePage};
use persistence::products::Product;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::{Json, MergePatch};
use crate::middleware::idempotency::IdempotencyKey;
use crate::pagination::{ListParams, Page, SortKey};
use crate::problem::{ApiError, Problem};
use crate::routes::products::{DECIMALS, TaxLine, check_tax_profile, parse_amount, price_text};
use crate::routes::resource::{RowBase, merged, or_external_id_taken, search_text};
use crate::state::AppState;

/// The most lines one invoice takes.
pub const MAX_LINES: usize = 1000;

/// c_TipoDeComprobante of the documents this resource makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum DocumentType {
    /// Ingreso: an invoice.
    I,
    /// Egreso: a credit note (nota de crédito), related to the invoices it credits.
    E,
}

impl DocumentType {
    fn code(self) -> &'static str {
        match self {
            DocumentType::I => "I",
            DocumentType::E => "E",
        }
    }

    fn from_code(code: &str) -> Self {
        if code == "E" {
            DocumentType::E
        } else {
            DocumentType::I
        }
    }

    fn tipo(self) -> TipoDeComprobante {
        match self {
            DocumentType::I => TipoDeComprobante::Ingreso,
            DocumentType::E => TipoDeComprobante::Egreso,
        }
    }
}

/// Where an invoice is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Can be changed and deleted; no fiscal value.
    Draft,
    /// Folio taken and sealed; the PAC is being asked to stamp it.
    Stamping,
    /// The PAC did not stamp it; it keeps its folio and sealed XML. Issue again to retry.
    StampFailed,
    /// Stamped: a CFDI with its folio fiscal (UUID). Immutable.
    Issued,
    /// Cancelled before SAT.
    Cancelled,
}

impl InvoiceStatus {
    fn code(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Stamping => "stamping",
            InvoiceStatus::StampFailed => "stamp_failed",
            InvoiceStatus::Issued => "issued",
            InvoiceStatus::Cancelled => "cancelled",
        }
    }

    fn from_code(code: &str) -> Self {
        match code {
            "stamping" => InvoiceStatus::Stamping,
            "stamp_failed" => InvoiceStatus::StampFailed,
            "issued" => InvoiceStatus::Issued,
            "cancelled" => InvoiceStatus::Cancelled,
            _ => InvoiceStatus::Draft,
        }
    }
}

/// How much of an invoice is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Unpaid,
    PartiallyPaid,
    Paid,
    /// Issued, not fully paid, and its due date has passed.
    Overdue,
}

/// One line of an invoice as a client writes it: a CFDI `Concepto`. With `product_id` the
/// product's keys, unit, description, price and taxes fill the members left out (and are
/// copied: changing the product later does not change the invoice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    /// A product or service of this organization to fill the line from.
    #[serde(default)]
    pub product_id: Option<Uuid>,
    /// `Concepto/@Cantidad`: more than 0, up to 6 decimals.
    #[schema(example = "2", pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
    pub quantity: String,
    /// `Concepto/@ValorUnitario`, in the invoice's currency: up to 6 decimals. Required without
    /// `product_id`.
    #[schema(example = "1250.50", pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
    #[serde(default)]
    pub unit_price: Option<String>,
    /// `Concepto/@Descuento`: at most quantity × unit price.
    #[schema(example = "100.00", pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
    #[serde(default)]
    pub discount: Option<String>,
    /// `Concepto/@Descripcion`. Required without `product_id`.
    #[schema(example = "Consultoría fiscal", min_length = 1, max_length = 1000)]
    #[serde(default)]
    pub description: Option<String>,
    /// `Concepto/@ClaveProdServ` (c_ClaveProdServ). Required without `product_id`.
    #[schema(example = "80101500", pattern = "^[0-9]{8}$")]
    #[serde(default)]
    pub product_key: Option<String>,
    /// `Concepto/@ClaveUnidad` (c_ClaveUnidad). Required without `product_id`.
    #[schema(example = "E48", min_length = 1, max_length = 3)]
    #[serde(default)]
    pub unit_key: Option<String>,
    /// `Concepto/@Unidad`.
    #[schema(example = "Servicio", min_length = 1, max_length = 20)]
    #[serde(default)]
    pub unit_name: Option<String>,
    /// `Concepto/@NoIdentificacion`.
    #[schema(example = "CONS-FIS-01", min_length = 1, max_length = 100)]
    #[serde(default)]
    pub sku: Option<String>,
    /// `Concepto/@ObjetoImp` (c_ObjetoImp). Required without `product_id`.
    #[schema(example = "02", pattern = "^[0-9]{2}$")]
    #[serde(default)]
    pub tax_object: Option<String>,
    /// `Concepto/Impuestos`: the line's taxes. Without `product_id`, absent means none.
    #[schema(max_items = 10)]
    #[serde(default)]
    pub taxes: Option<Vec<TaxLine>>,
}

/// A relation to other CFDIs (`CfdiRelacionados`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelatedInput {
    /// `CfdiRelacionados/@TipoRelacion` (c_TipoRelacion): `01` credit note of the documents,
    /// `04` replaces them, `07` application of an advance...
    #[schema(example = "01", pattern = "^[0-9]{2}$")]
    pub relation_type: String,
    /// `CfdiRelacionado/@UUID` of each related CFDI of this organization.
    #[schema(min_items = 1, max_items = 100, example = json!(["5FB2822E-396D-4725-8521-CDC4BDD20CCF"]))]
    pub uuids: Vec<String>,
}

/// `InformacionGlobal` of a global invoice to the general public (XAXX010101000).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GlobalInformationInput {
    /// `@Periodicidad` (c_Periodicidad): `01` daily, `02` weekly, `03` fortnightly, `04`
    /// monthly, `05` bimonthly (régimen 621 only).
    #[schema(example = "04", pattern = "^[0-9]{2}$")]
    pub periodicity: String,
    /// `@Meses` (c_Meses): `01`–`12`, or `13`–`18` for bimonthly periods.
    #[schema(example = "11", pattern = "^[0-9]{2}$")]
    pub months: String,
    /// `@Año`: this year or the previous one.
    #[schema(example = 2026, minimum = 2021, maximum = 2099)]
    pub year: u16,
}

/// Declares a struct with every invoice field a client writes, so the request body and the view
/// share one list of fields and descriptions.
macro_rules! with_invoice_fields {
    ($(#[$meta:meta])* pub struct $name:ident { $($before:tt)* } lines: $lines:ty, { $($after:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($before)*
            /// The customer: `Receptor` (RFC, name, régimen, fiscal postal code) is taken from it
            /// when the invoice is issued.
            pub customer_id: Uuid,
            /// `@TipoDeComprobante`: `I` invoice or `E` credit note.
            #[serde(default = "default_document_type")]
            pub document_type: DocumentType,
            /// The series (`@Serie`) whose next folio (`@Folio`) the invoice takes when issued;
            /// without one, the organization's default series for the document type, if any.
            #[serde(default)]
            pub series_id: Option<Uuid>,
            /// `@Moneda`: a c_Moneda key; amounts are rounded to its decimals.
            #[schema(example = "MXN", pattern = "^[A-Z]{3}$", default = "MXN")]
            #[serde(default = "default_currency")]
            pub currency: String,
            /// `@TipoCambio`: pesos per unit of `currency`, up to 6 decimals; required unless
            /// MXN.
            #[schema(example = "17.2550", pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
            #[serde(default)]
            pub exchange_rate: Option<String>,
            /// `@MetodoPago` (c_MetodoPago): `PUE` paid in one payment, `PPD` in installments or
            /// later (payments then get payment receipts).
            #[schema(example = "PUE", pattern = "^(PUE|PPD)$", default = "PUE")]
            #[serde(default = "default_payment_method")]
            pub payment_method: String,
            /// `@FormaPago` (c_FormaPago): `03` transfer, `04` card, `01` cash...; with `PPD`
            /// always `99` (por definir), which is then the default.
            #[schema(example = "03", pattern = "^[0-9]{2}$")]
            #[serde(default)]
            pub payment_form: Option<String>,
            /// `Receptor/@UsoCFDI` (c_UsoCFDI, allowed for the customer's régimen); the
            /// customer's default when absent.
            #[schema(example = "G03", pattern = "^[A-Z0-9]{3,4}$")]
            #[serde(default)]
            pub cfdi_use: Option<String>,
            /// `@Exportacion` (c_Exportacion): `01` not an export.
            #[schema(example = "01", pattern = "^[0-9]{2}$", default = "01")]
            #[serde(default = "default_export")]
            pub export: String,
            /// `@CondicionesDePago`: the agreed terms, as printed.
            #[schema(example = "30 días", min_length = 1, max_length = 1000)]
            #[serde(default)]
            pub payment_terms: Option<String>,
            /// When payment is due (not part of the CFDI); invoices past it unpaid are overdue.
            #[schema(example = "2026-12-31")]
            #[serde(default)]
            pub due_date: Option<NaiveDate>,
            /// Notes printed on the invoice (not part of the CFDI).
            #[schema(min_length = 1, max_length = 2000)]
            #[serde(default)]
            pub notes: Option<String>,
            /// `CfdiRelacionados`: a credit note needs `01` with the invoices it credits.
            #[schema(max_items = 10)]
            #[serde(default)]
            pub related: Vec<RelatedInput>,
            /// `InformacionGlobal`: only and always for a global invoice to XAXX010101000
            /// PUBLICO EN GENERAL.
            #[serde(default)]
            pub global_information: Option<GlobalInformationInput>,
            /// The invoice's id in the client's own system (ERP); unique in the organization.
            #[schema(example = "SAP-F-2026-000123", min_length = 1, max_length = 100)]
            #[serde(default)]
            pub external_id: Option<String>,
            /// Up to 50 string pairs for the client's own use (keys ≤ 40, values ≤ 500 characters).
            #[schema(example = json!({"order": "PO-7781"}))]
            #[serde(default)]
            pub metadata: BTreeMap<String, String>,
            /// `Conceptos`: 1 to 1000 lines.
            #[schema(min_items = 1, max_items = 1000)]
            pub lines: $lines,
            $($after)*
        }
    };
}

fn default_document_type() -> DocumentType {
    DocumentType::I
}
fn default_currency() -> String {
    "MXN".to_string()
}
fn default_payment_method() -> String {
    "PUE".to_string()
}
fn default_export() -> String {
    "01".to_string()
}

with_invoice_fields! {
    /// An invoice as a client writes it: the body of `POST /v1/invoices` and of
    /// `POST /v1/invoices/validate`, and what a `PATCH` is merged into.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema, validator::Validate)]
    #[serde(deny_unknown_fields)]
    pub struct InvoiceInput {} lines: Vec<LineInput>, {}
}

/// One tax of a line with its amounts: a `Traslado` or `Retencion` of the `Concepto`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaxAmount {
    /// `@Impuesto`: `001` ISR, `002` IVA, `003` IEPS.
    #[schema(example = "002")]
    pub tax: String,
    /// `@TipoFactor`: `Tasa`, `Cuota` or `Exento`.
    #[schema(example = "Tasa")]
    pub factor: String,
    /// `@TasaOCuota`, absent for `Exento`.
    #[schema(example = "0.160000")]
    pub rate: Option<String>,
    /// A retención (withheld) rather than a traslado.
    pub withholding: bool,
    /// `@Base`.
    #[schema(example = "2501.00")]
    pub base: String,
    /// `@Importe`, absent for `Exento`.
    #[schema(example = "400.16")]
    pub amount: Option<String>,
}

/// A line as stored and shown: what was written (with the product's values filled in) and the
/// amounts the tax engine computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    #[serde(flatten)]
    pub input: LineInput,
    /// `Concepto/@Importe`: quantity × unit price.
    #[schema(example = "2501.00")]
    pub amount: String,
    /// The line's taxes with base and amount.
    pub tax_amounts: Vec<TaxAmount>,
}

/// The amounts of the whole invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// `@SubTotal`: the sum of the lines' amounts.
    #[schema(example = "14572.99")]
    pub subtotal: String,
    /// `@Descuento`, present when a line has a discount.
    #[schema(example = "100.00")]
    pub discount: Option<String>,
    /// `Impuestos/Traslados`, grouped by tax, factor and rate.
    pub taxes_transferred: Vec<TaxAmount>,
    /// `Impuestos/Retenciones`, grouped by tax (no base or rate).
    pub taxes_withheld: Vec<TaxAmount>,
    /// `Impuestos/@TotalImpuestosTrasladados`.
    #[schema(example = "2247.92")]
    pub total_taxes_transferred: Option<String>,
    /// `Impuestos/@TotalImpuestosRetenidos`.
    #[schema(example = "2066.67")]
    pub total_taxes_withheld: Option<String>,
    /// `@Total`.
    #[schema(example = "14654.24")]
    pub total: String,
}

/// The stamping state of an invoice that has been issued or is being issued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StampView {
    /// `@NoCertificado`: the CSD that sealed it.
    #[schema(example = "30001000000500003416")]
    pub certificate_number: String,
    /// The PAC that stamps it.
    #[schema(example = "sandbox")]
    pub pac: String,
    /// How many times the PAC was called.
    pub attempts: i32,
    /// Why the last attempt failed, while `stamp_failed`.
    pub last_error: Option<String>,
    /// `TimbreFiscalDigital/@FechaTimbrado`, as an instant.
    pub stamped_at: Option<DateTime<Utc>>,
}

/// A cancellation request and SAT's answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CancellationView {
    /// c_MotivoCancelacion.
    #[schema(example = "02")]
    pub reason: String,
    /// With motivo `01`, the UUID of the replacing CFDI (FolioSustitucion).
    pub replacement_uuid: Option<Uuid>,
    /// `pending` while the receiver may still accept or reject, then `accepted` or `rejected`.
    #[schema(example = "accepted")]
    pub status: String,
    pub requested_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// Where the latest email of an invoice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Never sent (it may still have been viewed through a link shared by other means).
    NotSent,
    /// Waiting in the outbox, or being retried.
    Queued,
    /// The customer's mail server accepted it.
    Sent,
    /// Failed for good; the timeline's `delivery_failed` event says why.
    Failed,
}

impl DeliveryStatus {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotSent => "not_sent",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn from_code(code: &str) -> Self {
        match code {
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            _ => Self::NotSent,
        }
    }
}

with_invoice_fields! {
    /// An invoice or credit note.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct InvoiceView {
        pub id: Uuid,
        /// Where the invoice is in its life.
        pub status: InvoiceStatus,
    } lines: Vec<LineView>, {
        /// The customer's legal name as on file now (the sort `customer_name`). An issued CFDI
        /// keeps the name it was issued with, in `Receptor/@Nombre`.
        #[schema(example = "ESCUELA KEMPER URGATE")]
        pub customer_name: String,
        /// The customer's RFC as on file now (`Receptor/@Rfc` of the documents issued from now on).
        #[schema(example = "EKU9003173C9")]
        pub customer_rfc: String,
        /// The computed amounts.
        pub totals: Totals,
        /// `@Serie`, once issued.
        #[schema(example = "F")]
        pub serie: Option<String>,
        /// `@Folio`, once issued: gapless within its series.
        #[schema(example = 1042)]
        pub folio: Option<i64>,
        /// `TimbreFiscalDigital/@UUID`: the folio fiscal, once stamped.
        pub uuid: Option<Uuid>,
        /// `@Fecha`: when it was issued (sealed), as an instant.
        pub issued_at: Option<DateTime<Utc>>,
        /// What remains to be paid, in the invoice's currency.
        #[schema(example = "14654.24")]
        pub balance: String,
        pub payment_status: PaymentStatus,
        /// Where the latest email of this invoice is (`POST /v1/invoices/{id}/send`).
        pub delivery_status: DeliveryStatus,
        /// When an email of this invoice first reached the customer's mail server.
        pub sent_at: Option<DateTime<Utc>>,
        /// When the invoice was first opened through a public link.
        pub viewed_at: Option<DateTime<Utc>>,
        pub stamp: Option<StampView>,
        pub cancellation: Option<CancellationView>,
        /// Increases with every change; the `ETag` is this number in quotes.
        #[schema(example = 1)]
        pub version: i32,
        pub created_at: DateTime<Utc>,
        pub updated_at: DateTime<Utc>,
    }
}

/// The answer of `POST /v1/invoices/validate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    /// Whether the invoice could be issued as it is (a CSD aside).
    pub valid: bool,
    /// Every broken rule: SAT's code where SAT has one, and a pointer into the request.
    pub violations: Vec<crate::problem::FieldError>,
    /// The amounts, when the lines could be computed.
    pub totals: Option<Totals>,
    /// The lines with their amounts, when they could be computed.
    pub lines: Option<Vec<LineView>>,
}

/// A decimal as the API and the XML write it: its own scale, zero without a sign.
fn amount_text(value: Decimal) -> String {
    if value.is_zero() {
        value.abs().to_string()
    } else {
        value.to_string()
    }
}

/// `value` (from a numeric(24,6) column) written with the decimals of `like`, an amount the
/// API wrote at the currency's decimals (the total).
fn with_decimals_of(value: Decimal, like: &str) -> String {
    let decimals = like.split_once('.').map_or(0, |(_, d)| d.len());
    let mut v = value;
    v.rescale(u32::try_from(decimals).unwrap_or(2));
    amount_text(v)
}

fn parse_decimal(value: &str) -> Option<Decimal> {
    parse_amount(value, 18)
}

/// The c_Moneda `decimales` of a currency entry.
fn currency_decimals(catalogs: &Snapshot, currency: &str) -> Option<u32> {
    catalogs
        .get("c_Moneda", currency)
        .and_then(|e| e.attributes.get("decimals"))
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|d| u32::try_from(d).ok())
}

/// Everything [`check`] reads besides the input: the organization, the customer, the products
/// the lines name and the catalog entries.
struct Context {
    organization: Organization,
    customer: Option<Customer>,
    products: HashMap<Uuid, Product>,
    catalogs: Snapshot,
    /// Folios fiscales of this organization's issued documents the input relates to.
    related: HashMap<String, Invoice>,
    today: NaiveDate,
}

impl Context {
    fn load(
        conn: &mut PgConnection,
        org: Uuid,
        input: &InvoiceInput,
    ) -> Result<Self, persistence::StoreError> {
        let organization = persistence::identity::find_organization(conn, org)?;
        let customer = match persistence::customers::find(conn, org, input.customer_id) {
            Ok(c) => Some(c),
            Err(persistence::StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let mut products = HashMap::new();
        for id in input.lines.iter().filter_map(|l| l.product_id) {
            if products.contains_key(&id) {
                continue;
            }
            match persistence::products::find(conn, org, id) {
                Ok(p) => {
                    products.insert(id, p);
                }
                Err(persistence::StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        let mut keys: Vec<(&str, String)> = vec![
            ("c_Moneda", input.currency.clone()),
            ("c_Exportacion", input.export.clone()),
            ("c_MetodoPago", input.payment_method.clone()),
            ("c_CodigoPostal", organization.postal_code.clone()),
            ("c_RegimenFiscal", organization.tax_regime.clone()),
        ];
        if let Some(form) = &input.payment_form {
            keys.push(("c_FormaPago", form.clone()));
        }
        if let Some(usage) = &input.cfdi_use {
            keys.push(("c_UsoCFDI", usage.clone()));
        }
        if let Some(c) = &customer {
            keys.push(("c_RegimenFiscal", c.tax_regime.clone()));
            keys.push(("c_CodigoPostal", c.tax_postal_code.clone()));
            if let Some(usage) = &c.cfdi_use {
                keys.push(("c_UsoCFDI", usage.clone()));
            }
            if let Some(country) = &c.tax_residence_country {
                keys.push(("c_Pais", country.clone()));
            }
        }
        if let Some(global) = &input.global_information {
            keys.push(("c_Periodicidad", global.periodicity.clone()));
            keys.push(("c_Meses", global.months.clone()));
        }
        for group in &input.related {
            keys.push(("c_TipoRelacion", group.relation_type.clone()));
        }
        for line in &input.lines {
            let product = line.product_id.and_then(|id| products.get(&id));
            if let Some(key) = line
                .product_key
                .clone()
                .or_else(|| product.map(|p| p.product_key.clone()))
            {
                keys.push(("c_ClaveProdServ", key));
            }
            if let Some(key) = line
                .unit_key
                .clone()
                .or_else(|| product.map(|p| p.unit_key.clone()))
            {
                keys.push(("c_ClaveUnidad", key));
            }
        }
        let wanted: Vec<(&str, &str)> = keys.iter().map(|(c, k)| (*c, k.as_str())).collect();
        let mut catalogs = Snapshot::fetch(conn, &wanted)?;
        catalogs.add_catalog(conn, "c_TasaOCuota")?;
        catalogs.add_catalog(conn, "c_ObjetoImp")?;
        let uuids: Vec<Uuid> = input
            .related
            .iter()
            .flat_map(|g| g.uuids.iter())
            .filter_map(|u| Uuid::parse_str(u).ok())
            .collect();
        let related = store::find_by_uuids(conn, org, &uuids)?
            .into_iter()
            .filter_map(|i| i.uuid.map(|u| (u.to_string(), i)))
            .collect();
        Ok(Self {
            organization,
            customer,
            products,
            catalogs,
            related,
            today: Utc::now().date_naive(),
        })
    }
}

/// What checking an input gives: the lines with the product's values filled in, every broken
/// rule, and the CFDI when none is broken.
struct Checked {
    lines: Vec<LineInput>,
    violations: Violations,
    comprobante: Option<Comprobante>,
}

/// The line with the product's values filled in where the client left them out.
fn resolve_line(line: &LineInput, product: Option<&Product>) -> LineInput {
    let Some(p) = product else {
        return line.clone();
    };
    let taxes = || serde_json::from_value::<Vec<TaxLine>>(p.taxes.clone()).unwrap_or_default();
    LineInput {
        product_id: line.product_id,
        quantity: line.quantity.clone(),
        unit_price: line
            .unit_price
            .clone()
            .or_else(|| Some(price_text(p.unit_price))),
        discount: line.discount.clone(),
        description: line
            .description
            .clone()
            .or_else(|| Some(p.description.clone().unwrap_or_else(|| p.name.clone()))),
        product_key: line
            .product_key
            .clone()
            .or_else(|| Some(p.product_key.clone())),
        unit_key: line.unit_key.clone().or_else(|| Some(p.unit_key.clone())),
        unit_name: line.unit_name.clone().or_else(|| p.unit_name.clone()),
        sku: line.sku.clone().or_else(|| p.sku.clone()),
        tax_object: line
            .tax_object
            .clone()
            .or_else(|| Some(p.tax_object.clone())),
        taxes: line.taxes.clone().or_else(|| Some(taxes())),
    }
}

/// An API pointer for a violation the CFDI model reported with its own field names.
fn api_pointer(pointer: &str) -> String {
    let renamed: Vec<String> = pointer
        .split('/')
        .map(|token| {
            match token {
                "forma_pago" => "payment_form",
                "metodo_pago" => "payment_method",
                "tipo_cambio" => "exchange_rate",
                "condiciones_de_pago" => "payment_terms",
                "serie" | "folio" => "series_id",
                "informacion_global" => "global_information",
                "meses" => "months",
                "cfdi_relacionados" => "related",
                "conceptos" => "lines",
                "clave_prod_serv" => "product_key",
                "no_identificacion" => "sku",
                "clave_unidad" => "unit_key",
                "unidad" => "unit_name",
                "descripcion" => "description",
                "importe" => "quantity",
                other => other,
            }
            .to_string()
        })
        .collect();
    let joined = renamed.join("/");
    // The parties come from the organization and the customer, not from the request.
    if joined.starts_with("/receptor") {
        "/customer_id".to_string()
    } else if joined.starts_with("/emisor") || joined == "/fecha" {
        String::new()
    } else {
        joined
    }
}

fn required(at: Pointer, what: &str, v: &mut Violations) {
    v.push(Violation::new(
        at,
        "required",
        format!("{what} is required (or a product_id to take it from)"),
    ));
}

/// Checks `input` against every rule that can be checked here and builds the CFDI. `fecha`
/// is the Fecha the CFDI would carry.
fn check(input: &InvoiceInput, ctx: &Context, fecha: chrono::NaiveDateTime) -> Checked {
    let mut v = Violations::new();
    let root = Pointer::root();
    let org = &ctx.organization;
    let catalogs = &ctx.catalogs;

    // Header fields and their catalogs.
    let decimals = currency_decimals(catalogs, &input.currency);
    if input.currency == "XXX" || decimals.is_none() {
        v.push(Violation::new(
            root.field("currency"),
            "CFDI40113",
            "currency must be a key of SAT's c_Moneda catalog other than XXX",
        ));
    }
    let exchange_rate = match &input.exchange_rate {
        None => None,
        Some(text) => match parse_decimal(text) {
            Some(rate) => Some(rate),
            None => {
                v.push(Violation::new(
                    root.field("exchange_rate"),
                    "CFDI40117",
                    "exchange_rate is a decimal string with up to 6 decimals",
                ));
                None
            }
        },
    };
    if catalogs
        .get("c_MetodoPago", &input.payment_method)
        .is_none()
    {
        v.push(Violation::new(
            root.field("payment_method"),
            "CFDI40124",
            "payment_method must be PUE or PPD (c_MetodoPago)",
        ));
    }
    let payment_form = match (&input.payment_form, input.payment_method.as_str()) {
        (Some(form), _) => Some(form.clone()),
        (None, "PPD") => Some("99".to_string()),
        (None, _) => {
            v.push(Violation::new(
                root.field("payment_form"),
                "required",
                "payment_form is required with payment_method PUE (how it was paid: 03 transfer, 04 card, 01 cash...)",
            ));
            None
        }
    };
    if let Some(form) = &payment_form {
        if catalogs.get("c_FormaPago", form).is_none() && form != "99" {
            v.push(Violation::new(
                root.field("payment_form"),
                "CFDI40104",
                "payment_form is not a key of SAT's c_FormaPago catalog",
            ));
        } else if form == "99" && input.payment_method == "PUE" {
            v.push(Violation::new(
                root.field("payment_form"),
                "payment_form_undefined",
                "with PUE the invoice is paid when issued: say how (payment_form other than 99), or use PPD",
            ));
        }
    }
    if catalogs.get("c_Exportacion", &input.export).is_none() {
        v.push(Violation::new(
            root.field("export"),
            "CFDI40123",
            "export is not a key of SAT's c_Exportacion catalog",
        ));
    } else if input.export == "02" {
        v.push(Violation::new(
            root.field("export"),
            "CFDI40122",
            "export 02 needs the Comercio Exterior complement, which this service does not issue yet",
        ));
    }
    if let Some(terms) = &input.payment_terms {
        fields::text(terms, 1, 1000, root.field("payment_terms"), &mut v);
    }
    if let Some(notes) = &input.notes {
        fields::text(notes, 1, 2000, root.field("notes"), &mut v);
    }
    if let Some(external_id) = &input.external_id {
        fields::external_id(external_id, root.field("external_id"), &mut v);
    }
    fields::metadata(&input.metadata, root.field("metadata"), &mut v);
    if catalogs.get("c_CodigoPostal", &org.postal_code).is_none() {
        v.push(Violation::new(
            root.clone(),
            "CFDI40126",
            "the organization's postal code (LugarExpedicion) is not in c_CodigoPostal",
        ));
    }

    // The receiver: the customer's data with this invoice's CFDI use.
    let cfdi_use = input
        .cfdi_use
        .clone()
        .or_else(|| ctx.customer.as_ref().and_then(|c| c.cfdi_use.clone()));
    let receptor = match &ctx.customer {
        None => {
            v.push(Violation::new(
                root.field("customer_id"),
                "unknown_customer",
                "no customer with this id in the organization",
            ));
            None
        }
        Some(c) => {
            if cfdi_use.is_none() {
                v.push(Violation::new(
                    root.field("cfdi_use"),
                    "required",
                    "cfdi_use is required: the customer has no default CFDI use",
                ));
            }
            let mut found = Violations::new();
            receiver::check(
                &Receiver {
                    legal_name: &c.legal_name,
                    rfc: &c.rfc,
                    tax_regime: &c.tax_regime,
                    tax_postal_code: &c.tax_postal_code,
                    cfdi_use: cfdi_use.as_deref(),
                    tax_residence_country: c.tax_residence_country.as_deref(),
                    foreign_tax_id: c.foreign_tax_id.as_deref(),
                },
                &org.postal_code,
                catalogs,
                &Pointer::root(),
                &mut found,
            );
            for violation in found {
                // The CFDI use is this invoice's; everything else is the customer's record.
                if violation.pointer == "/cfdi_use" {
                    v.push(violation);
                } else {
                    let field = violation.pointer.trim_start_matches('/').to_string();
                    v.push(Violation::new(
                        root.field("customer_id"),
                        violation.code,
                        format!("the customer's {field}: {}", violation.message),
                    ));
                }
            }
            Some(Receptor {
                rfc: c.rfc.clone(),
                nombre: c.legal_name.clone(),
                domicilio_fiscal_receptor: c.tax_postal_code.clone(),
                residencia_fiscal: c.tax_residence_country.clone(),
                num_reg_id_trib: c.foreign_tax_id.clone(),
                regimen_fiscal_receptor: c.tax_regime.clone(),
                uso_cfdi: cfdi_use.clone().unwrap_or_default(),
            })
        }
    };

    // Global invoice.
    let informacion_global = input.global_information.as_ref().map(|g| {
        let at = root.field("global_information");
        if ctx.catalogs.get("c_Periodicidad", &g.periodicity).is_none() {
            v.push(Violation::new(
                at.field("periodicity"),
                "CFDI40131",
                "periodicity is not a key of SAT's c_Periodicidad catalog",
            ));
        } else if g.periodicity == "05" && org.tax_regime != "621" {
            v.push(Violation::new(
                at.field("periodicity"),
                "CFDI40132",
                "periodicity 05 (bimonthly) is only for issuers in régimen 621",
            ));
        }
        if ctx.catalogs.get("c_Meses", &g.months).is_none() {
            v.push(Violation::new(
                at.field("months"),
                "CFDI40133",
                "months is not a key of SAT's c_Meses catalog",
            ));
        }
        let year = i32::from(g.year);
        if year != fecha.year() && year != fecha.year() - 1 {
            v.push(Violation::new(
                at.field("year"),
                "CFDI40136",
                "year must be the year of issue or the one before",
            ));
        }
        InformacionGlobal {
            periodicidad: g.periodicity.clone(),
            meses: g.months.clone(),
            anio: g.year,
        }
    });
    if informacion_global.is_some()
        && ctx
            .customer
            .as_ref()
            .is_some_and(|c| c.rfc != "XAXX010101000")
    {
        v.push(Violation::new(
            root.field("global_information"),
            "global_information_not_allowed",
            "global_information is only for invoices to XAXX010101000 PUBLICO EN GENERAL",
        ));
    }

    // Related documents.
    let at_related = root.field("related");
    let mut credits_invoices = false;
    for (i, group) in input.related.iter().enumerate() {
        let at = at_related.index(i);
        if ctx
            .catalogs
            .get("c_TipoRelacion", &group.relation_type)
            .is_none()
        {
            v.push(Violation::new(
                at.field("relation_type"),
                "CFDI40137",
                "relation_type is not a key of SAT's c_TipoRelacion catalog",
            ));
        }
        if group.uuids.len() > 100 {
            v.push(Violation::new(
                at.field("uuids"),
                "too_many",
                "at most 100 UUIDs per relation",
            ));
        }
        for (j, text) in group.uuids.iter().enumerate() {
            let Ok(uuid) = Uuid::parse_str(text) else {
                continue; // The CFDI model reports the format.
            };
            match ctx.related.get(&uuid.to_string()) {
                None => v.push(Violation::new(
                    at.field("uuids").index(j),
                    "unknown_related_cfdi",
                    "no issued document of this organization has this UUID",
                )),
                Some(other) if group.relation_type == "01" => {
                    credits_invoices = true;
                    if other.document_type != "I" || other.status != "issued" {
                        v.push(Violation::new(
                            at.field("uuids").index(j),
                            "related_not_creditable",
                            "a credit note (relation 01) credits issued, uncancelled invoices",
                        ));
                    } else if Some(other.customer_id) != ctx.customer.as_ref().map(|c| c.id) {
                        v.push(Violation::new(
                            at.field("uuids").index(j),
                            "related_other_customer",
                            "the related invoice belongs to another customer",
                        ));
                    } else if input.document_type == DocumentType::E
                        && other.currency != input.currency
                    {
                        v.push(Violation::new(
                            at.field("uuids").index(j),
                            "related_other_currency",
                            format!(
                                "a credit note reduces the balance of the invoices it credits: issue it in their currency ({})",
                                other.currency
                            ),
                        ));
                    }
                }
                Some(_) => {}
            }
        }
    }
    if input.document_type == DocumentType::E && !credits_invoices && !input.related.is_empty() {
        // Related by something other than 01: allowed (returns, advances), nothing to add.
    } else if input.document_type == DocumentType::E && input.related.is_empty() {
        v.push(Violation::new(
            at_related.clone(),
            "credit_note_unrelated",
            "a credit note must relate the invoices it credits (relation_type 01)",
        ));
    }
    if input.related.len() > 10 {
        v.push(Violation::new(
            at_related.clone(),
            "too_many",
            "at most 10 relations",
        ));
    }

    // Lines.
    let at_lines = root.field("lines");
    if input.lines.len() > MAX_LINES {
        v.push(Violation::new(
            at_lines.clone(),
            "too_many",
            format!("an invoice has at most {MAX_LINES} lines"),
        ));
    }
    let mut lines = Vec::with_capacity(input.lines.len());
    let mut conceptos = Vec::with_capacity(input.lines.len());
    let mut lines_ok = true;
    for (i, raw) in input.lines.iter().enumerate() {
        let at = at_lines.index(i);
        let product = raw.product_id.and_then(|id| ctx.products.get(&id));
        if raw.product_id.is_some() && product.is_none() {
            v.push(Violation::new(
                at.field("product_id"),
                "unknown_product",
                "no product with this id in the organization",
            ));
        }
        if let Some(p) = product
            && raw.unit_price.is_none()
            && p.currency != input.currency
        {
            v.push(Violation::new(
                at.field("product_id"),
                "currency_mismatch",
                format!(
                    "the product is priced in {}, the invoice is in {}: give unit_price",
                    p.currency, input.currency
                ),
            ));
        }
        let line = resolve_line(raw, product);
        let (ok, concepto) = check_line(&line, &at, &org.postal_code, catalogs, &mut v);
        lines_ok &= ok;
        if let Some(c) = concepto {
            conceptos.push(c);
        }
        lines.push(line);
    }

    // The CFDI's own rules and amounts, where the pieces it needs are sound.
    let mut comprobante = None;
    if let (Some(receptor), Some(decimals), true) = (receptor, decimals, lines_ok) {
        let header = Header {
            serie: None,
            folio: None,
            fecha,
            forma_pago: payment_form.clone(),
            condiciones_de_pago: input.payment_terms.clone(),
            moneda: input.currency.clone(),
            currency_decimals: decimals,
            tipo_cambio: exchange_rate,
            tipo_de_comprobante: input.document_type.tipo(),
            exportacion: input.export.clone(),
            metodo_pago: Some(input.payment_method.clone()),
            lugar_expedicion: org.postal_code.clone(),
            confirmacion: None,
            informacion_global,
            cfdi_relacionados: input
                .related
                .iter()
                .map(|g| CfdiRelacionados {
                    tipo_relacion: g.relation_type.clone(),
                    uuids: g.uuids.iter().map(|u| u.to_uppercase()).collect(),
                })
                .collect(),
            emisor: Emisor {
                rfc: org.rfc.clone(),
                nombre: org.legal_name.clone(),
                regimen_fiscal: org.tax_regime.clone(),
                fac_atr_adquirente: None,
            },
            receptor,
        };
        let already: std::collections::HashSet<String> =
            v.iter().map(|x| x.pointer.clone()).collect();
        let add = |found: Violations, v: &mut Violations| {
            for mut violation in found {
                violation.pointer = api_pointer(&violation.pointer);
                if !already.contains(&violation.pointer) {
                    v.push(violation);
                }
            }
        };
        match Comprobante::build(header, conceptos) {
            Ok(c) => {
                add(c.limit_violations(), &mut v);
                if c.total < Decimal::ZERO {
                    v.push(Violation::new(
                        at_lines.clone(),
                        "negative_total",
                        "the taxes withheld exceed what the invoice charges: Total would be negative",
                    ));
                }
                comprobante = Some(c);
            }
            Err(found) => add(found, &mut v),
        }
    }
    Checked {
        lines,
        violations: v,
        comprobante,
    }
}

/// Checks one resolved line; returns whether it is sound enough to compute, and its Concepto.
fn check_line(
    line: &LineInput,
    at: &Pointer,
    issuer_postal_code: &str,
    catalogs: &Snapshot,
    v: &mut Violations,
) -> (bool, Option<ConceptoInput>) {
    let before = v.len();
    let quantity = parse_decimal(&line.quantity);
    if quantity.is_none() {
        v.push(Violation::new(
            at.field("quantity"),
            "invalid_amount",
            "quantity is a decimal string with up to 6 decimals",
        ));
    }
    let unit_price = match &line.unit_price {
        None => {
            required(at.field("unit_price"), "unit_price", v);
            None
        }
        Some(text) => {
            let parsed = parse_decimal(text);
            if parsed.is_none() {
                v.push(Violation::new(
                    at.field("unit_price"),
                    "invalid_amount",
                    "unit_price is a decimal string with up to 18 digits before the point and 6 after",
                ));
            }
            parsed
        }
    };
    let discount = match &line.discount {
        None => Some(None),
        Some(text) => match parse_decimal(text) {
            Some(d) => Some(Some(d)),
            None => {
                v.push(Violation::new(
                    at.field("discount"),
                    "invalid_amount",
                    "discount is a decimal string with up to 6 decimals",
                ));
                None
            }
        },
    };
    match &line.description {
        None => required(at.field("description"), "description", v),
        Some(d) => fields::text(d, 1, 1000, at.field("description"), v),
    }
    match &line.product_key {
        None => required(at.field("product_key"), "product_key", v),
        Some(key) if key.len() != 8 || catalogs.get("c_ClaveProdServ", key).is_none() => {
            v.push(Violation::new(
                at.field("product_key"),
                "CFDI40162",
                "product_key is not a key of SAT's c_ClaveProdServ catalog",
            ))
        }
        Some(_) => {}
    }
    match &line.unit_key {
        None => required(at.field("unit_key"), "unit_key", v),
        Some(key) if catalogs.get("c_ClaveUnidad", key).is_none() => v.push(Violation::new(
            at.field("unit_key"),
            "CFDI40165",
            "unit_key is not a key of SAT's c_ClaveUnidad catalog",
        )),
        Some(_) => {}
    }
    if let Some(name) = &line.unit_name {
        fields::text(name, 1, 20, at.field("unit_name"), v);
    }
    if let Some(sku) = &line.sku {
        fields::text(sku, 1, 100, at.field("sku"), v);
    }
    let taxes_in = line.taxes.clone().unwrap_or_default();
    match &line.tax_object {
        None => required(at.field("tax_object"), "tax_object", v),
        Some(object) => {
            check_tax_profile(object, &taxes_in, issuer_postal_code, catalogs, at, v);
        }
    }
    if v.len() != before {
        return (false, None);
    }
    let tax_object = line
        .tax_object
        .as_deref()
        .and_then(ObjetoImp::from_code)
        .unwrap_or(ObjetoImp::NotSubject);
    let taxes: Vec<TaxInput> = taxes_in
        .iter()
        .filter_map(|t| {
            Some(TaxInput {
                kind: if t.withholding {
                    TaxKind::Withholding
                } else {
                    TaxKind::Transfer
                },
                tax: Impuesto::from_code(&t.tax)?,
                factor: TipoFactor::from_code(t.factor.as_str())?,
                rate: t.rate.as_deref().and_then(|r| parse_amount(r, 3)),
            })
        })
        .collect();
    let concepto = ConceptoInput {
        clave_prod_serv: line.product_key.clone().unwrap_or_default(),
        no_identificacion: line.sku.clone(),
        clave_unidad: line.unit_key.clone().unwrap_or_default(),
        unidad: line.unit_name.clone(),
        descripcion: line.description.clone().unwrap_or_default(),
        line: Line {
            quantity: quantity.unwrap_or_default(),
            unit_price: unit_price.unwrap_or_default(),
            discount: discount.flatten(),
            tax_object,
            taxes,
        },
    };
    (true, Some(concepto))
}

fn tax_amount_views(
    traslados: &[taxes::Traslado],
    retenciones: &[taxes::Retencion],
) -> Vec<TaxAmount> {
    let rate = |r: Decimal| {
        let mut r = r;
        r.rescale(DECIMALS);
        r.to_string()
    };
    traslados
        .iter()
        .map(|t| TaxAmount {
            tax: t.impuesto.code().to_string(),
            factor: t.tipo_factor.code().to_string(),
            rate: t.tasa_o_cuota.map(rate),
            withholding: false,
            base: amount_text(t.base),
            amount: t.importe.map(amount_text),
        })
        .chain(retenciones.iter().map(|r| TaxAmount {
            tax: r.impuesto.code().to_string(),
            factor: r.tipo_factor.code().to_string(),
            rate: Some(rate(r.tasa_o_cuota)),
            withholding: true,
            base: amount_text(r.base),
            amount: Some(amount_text(r.importe)),
        }))
        .collect()
}

/// The lines with their amounts and the totals of a built CFDI.
fn amounts_of(c: &Comprobante, lines: &[LineInput]) -> (Vec<LineView>, Totals) {
    let views = lines
        .iter()
        .zip(&c.conceptos)
        .map(|(input, concepto)| LineView {
            input: input.clone(),
            amount: amount_text(concepto.importe),
            tax_amounts: tax_amount_views(&concepto.traslados, &concepto.retenciones),
        })
        .collect();
    let impuestos = c.impuestos.as_ref();
    let totals = Totals {
        subtotal: amount_text(c.sub_total),
        discount: c.descuento.map(amount_text),
        taxes_transferred: impuestos
            .map(|i| tax_amount_views(&i.traslados, &[]))
            .unwrap_or_default(),
        taxes_withheld: impuestos
            .map(|i| {
                i.retenciones
                    .iter()
                    .map(|r| TaxAmount {
                        tax: r.impuesto.code().to_string(),
                        factor: "Tasa".to_string(),
                        rate: None,
                        withholding: true,
                        base: String::new(),
                        amount: Some(amount_text(r.importe)),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        total_taxes_transferred: impuestos
            .and_then(|i| i.total_impuestos_trasladados)
            .map(amount_text),
        total_taxes_withheld: impuestos
            .and_then(|i| i.total_impuestos_retenidos)
            .map(amount_text),
        total: amount_text(c.total),
    };
    (views, totals)
}

/// The stored line inputs of an invoice.
fn stored_lines(invoice: &Invoice) -> Vec<LineView> {
    serde_json::from_value(invoice.lines.clone()).unwrap_or_default()
}

impl From<&Invoice> for InvoiceInput {
    fn from(i: &Invoice) -> Self {
        Self {
            customer_id: i.customer_id,
            document_type: DocumentType::from_code(&i.document_type),
            series_id: i.series_id,
            currency: i.currency.clone(),
            // numeric(24,6) pads to 6 decimals; the rate is written back as the client gave it,
            // less trailing zeros.
            exchange_rate: i.exchange_rate.map(|r| amount_text(r.normalize())),
            payment_method: i
                .payment_method
                .clone()
                .unwrap_or_else(default_payment_method),
            payment_form: i.payment_form.clone(),
            cfdi_use: Some(i.cfdi_use.clone()),
            export: i.export.clone(),
            payment_terms: i.payment_terms.clone(),
            due_date: i.due_date,
            notes: i.notes.clone(),
            related: serde_json::from_value(i.related.clone()).unwrap_or_default(),
            global_information: i
                .global_information
                .clone()
                .and_then(|g| serde_json::from_value(g).ok()),
            external_id: i.external_id.clone(),
            metadata: serde_json::from_value(i.metadata.clone()).unwrap_or_default(),
            lines: stored_lines(i).into_iter().map(|l| l.input).collect(),
        }
    }
}

fn view_of(
    i: &Invoice,
    customer: (&str, &str),
    tracking: Option<&Tracking>,
    stamp: Option<&store::Stamp>,
    cancellation: Option<&store::Cancellation>,
) -> InvoiceView {
    let input = InvoiceInput::from(i);
    let today = Utc::now().date_naive();
    let payment_status = match i.payment_status.as_str() {
        "paid" => PaymentStatus::Paid,
        _ if i.status == "issued" && i.due_date.is_some_and(|d| d < today) => {
            PaymentStatus::Overdue
        }
        "partially_paid" => PaymentStatus::PartiallyPaid,
        _ => PaymentStatus::Unpaid,
    };
    let totals: Totals = serde_json::from_value(i.totals.clone()).unwrap_or(Totals {
        subtotal: String::new(),
        discount: None,
        taxes_transferred: Vec::new(),
        taxes_withheld: Vec::new(),
        total_taxes_transferred: None,
        total_taxes_withheld: None,
        total: amount_text(i.total),
    });
    InvoiceView {
        id: i.id,
        status: InvoiceStatus::from_code(&i.status),
        customer_id: input.customer_id,
        customer_name: customer.0.to_string(),
        customer_rfc: customer.1.to_string(),
        document_type: input.document_type,
        series_id: input.series_id,
        currency: input.currency,
        exchange_rate: input.exchange_rate,
        payment_method: input.payment_method,
        payment_form: input.payment_form,
        cfdi_use: input.cfdi_use,
        export: input.export,
        payment_terms: input.payment_terms,
        due_date: input.due_date,
        notes: input.notes,
        related: input.related,
        global_information: input.global_information,
        external_id: input.external_id,
        metadata: input.metadata,
        lines: stored_lines(i),
        serie: i.serie.clone(),
        folio: i.folio,
        uuid: i.uuid,
        issued_at: i.issued_at,
        balance: with_decimals_of(i.balance, &totals.total),
        totals,
        payment_status,
        delivery_status: tracking.map_or(DeliveryStatus::NotSent, |t| {
            DeliveryStatus::from_code(&t.delivery_status)
        }),
        sent_at: tracking.and_then(|t| t.sent_at),
        viewed_at: tracking.and_then(|t| t.viewed_at),
        stamp: stamp.map(|s| StampView {
            certificate_number: s.certificate_number.clone(),
            pac: s.pac.clone(),
            attempts: s.attempts,
            last_error: s.last_error.clone(),
            stamped_at: s.stamped_at,
        }),
        cancellation: cancellation.map(|c| CancellationView {
            reason: c.reason.clone(),
            replacement_uuid: c.replacement_uuid,
            status: c.status.clone(),
            requested_at: c.requested_at,
            answered_at: c.answered_at,
        }),
        version: i.version,
        created_at: i.created_at,
        updated_at: i.updated_at,
    }
}

/// The invoice with its stamp and cancellation, as the API shows it.
pub(crate) fn load_view(
    conn: &mut PgConnection,
    org: Uuid,
    invoice: &Invoice,
) -> Result<InvoiceView, persistence::StoreError> {
    let stamp = store::find_stamp(conn, org, invoice.id)?;
    let cancellation = store::find_cancellation(conn, org, invoice.id)?;
    let customer = persistence::customers::find(conn, org, invoice.customer_id)?;
    let tracking = activity::tracking(conn, org, invoice.id)?;
    Ok(view_of(
        invoice,
        (&customer.legal_name, &customer.rfc),
        tracking.as_ref(),
        stamp.as_ref(),
        cancellation.as_ref(),
    ))
}

/// The Fecha a CFDI issued now by `org` carries: local time at its LugarExpedicion.
fn fecha_now(catalogs: &Snapshot, org: &Organization) -> chrono::NaiveDateTime {
    let zone = catalogs
        .get("c_CodigoPostal", &org.postal_code)
        .and_then(|e| e.text("time_zone"))
        .unwrap_or(domain::local_time::ZONA_CENTRO);
    domain::local_time::local_time(zone, Utc::now())
}

/// The draft row for a checked input.
fn to_row(
    input: &InvoiceInput,
    checked: &Checked,
    ctx: &Context,
    base: RowBase,
) -> Option<Invoice> {
    let c = checked.comprobante.as_ref()?;
    let (lines, totals) = amounts_of(c, &checked.lines);
    let customer = ctx.customer.as_ref()?;
    let search = domain::text::fold(&format!("{} {}", customer.legal_name, customer.rfc));
    Some(Invoice {
        id: base.id,
        organization_id: base.organization_id,
        customer_id: input.customer_id,
        document_type: input.document_type.code().to_string(),
        status: InvoiceStatus::Draft.code().to_string(),
        series_id: input.series_id,
        serie: None,
        folio: None,
        currency: input.currency.clone(),
        exchange_rate: input.exchange_rate.as_deref().and_then(parse_decimal),
        payment_method: Some(input.payment_method.clone()),
        payment_form: c.forma_pago.clone(),
        cfdi_use: c.receptor.uso_cfdi.clone(),
        export: input.export.clone(),
        payment_terms: input.payment_terms.clone(),
        due_date: input.due_date.or_else(|| {
            let days = chrono::Duration::days(i64::from(customer.payment_terms_days));
            (customer.payment_terms_days > 0)
                .then(|| ctx.today.checked_add_signed(days))
                .flatten()
        }),
        notes: input.notes.clone(),
        external_id: input.external_id.clone(),
        metadata: serde_json::to_value(&input.metadata).unwrap_or_default(),
        lines: serde_json::to_value(lines).unwrap_or_default(),
        related: serde_json::to_value(&input.related).unwrap_or_default(),
        global_information: input
            .global_information
            .as_ref()
            .and_then(|g| serde_json::to_value(g).ok()),
        totals: serde_json::to_value(totals).unwrap_or_default(),
        total: c.total,
        balance: c.total,
        payment_status: "unpaid".to_string(),
        issued_at: None,
        uuid: None,
        search,
        version: base.version,
        created_at: base.created_at,
        updated_at: base.updated_at,
    })
}

/// Checks `input` for `org` inside the caller's transaction.
fn check_in(
    conn: &mut PgConnection,
    org: Uuid,
    input: &InvoiceInput,
) -> Result<(Context, Checked), persistence::StoreError> {
    let ctx = Context::load(conn, org, input)?;
    let fecha = fecha_now(&ctx.catalogs, &ctx.organization);
    let checked = check(input, &ctx, fecha);
    Ok((ctx, checked))
}

/// The unsealed CFDI XML a draft would be issued as now (for its PDF), or its violations.
pub(crate) fn draft_xml(
    conn: &mut PgConnection,
    org: Uuid,
    invoice: &Invoice,
) -> Result<Result<String, ApiError>, persistence::StoreError> {
    let input = InvoiceInput::from(invoice);
    let (_, checked) = check_in(conn, org, &input)?;
    match checked.comprobante {
        Some(cfdi) if checked.violations.is_empty() => Ok(Ok(cfdi.to_xml())),
        _ => Ok(Err(ApiError::validation(checked.violations))),
    }
}

/// Checks that the series exists in the organization and makes the right documents.
fn check_series(
    conn: &mut PgConnection,
    org: Uuid,
    input: &InvoiceInput,
    v: &mut Violations,
) -> Result<(), persistence::StoreError> {
    let Some(id) = input.series_id else {
        return Ok(());
    };
    match persistence::series::find(conn, org, id) {
        Ok(series) if series.document_type != input.document_type.code() => {
            v.push(Violation::new(
                Pointer::root().field("series_id"),
                "series_document_type",
                format!(
                    "this series numbers documents of type {}, not {}",
                    series.document_type,
                    input.document_type.code()
                ),
            ));
        }
        Ok(series) if series.archived => v.push(Violation::new(
            Pointer::root().field("series_id"),
            "series_archived",
            "this series is archived",
        )),
        Ok(_) => {}
        Err(persistence::StoreError::NotFound) => v.push(Violation::new(
            Pointer::root().field("series_id"),
            "unknown_series",
            "no series with this id in the organization",
        )),
        Err(e) => return Err(e),
    }
    Ok(())
}

fn invoice_response(status: StatusCode, view: &InvoiceView) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("ETag", etag(view.version)))
        .insert_header(("Location", format!("/v1/invoices/{}", view.id)))
        .json(view)
}

/// Writes a checked draft (new when `current` is `None`).
fn write_draft(
    conn: &mut PgConnection,
    org: Uuid,
    input: &InvoiceInput,
    current: Option<&Invoice>,
) -> Result<Result<InvoiceView, ApiError>, persistence::StoreError> {
    let (ctx, mut checked) = check_in(conn, org, input)?;
    check_series(conn, org, input, &mut checked.violations)?;
    if !checked.violations.is_empty() {
        return Ok(Err(ApiError::validation(checked.violations)));
    }
    let base = match current {
        None => RowBase::new(org),
        Some(c) => RowBase::of(
            c.id,
            c.organization_id,
            c.version,
            c.created_at,
            c.updated_at,
        ),
    };
    let Some(row) = to_row(input, &checked, &ctx, base) else {
        return Err(persistence::StoreError::NotFound);
    };
    let written = or_external_id_taken(persistence::transaction(conn, |conn| match current {
        None => store::insert(conn, &row),
        Some(_) => store::update(conn, &row),
    }))?;
    match written {
        Ok(invoice) => {
            let customer = (
                ctx.customer.as_ref().map_or("", |c| c.legal_name.as_str()),
                ctx.customer.as_ref().map_or("", |c| c.rfc.as_str()),
            );
            let tracking = activity::tracking(conn, org, invoice.id)?;
            Ok(Ok(view_of(
                &invoice,
                customer,
                tracking.as_ref(),
                None,
                None,
            )))
        }
        Err(e) => Ok(Err(e)),
    }
}

const EXAMPLE_INVOICE: &str = r#"{
  "customer_id": "01938f6e-7a10-7c3e-9a55-2b7e3d1c0a01",
  "currency": "MXN",
  "payment_method": "PPD",
  "payment_form": "99",
  "cfdi_use": "G03",
  "due_date": "2026-12-31",
  "lines": [
    {"quantity": "2", "unit_price": "1250.50", "description": "Consultoría", "product_key": "84111506", "unit_key": "E48", "tax_object": "02",
     "taxes": [{"tax": "002", "factor": "Tasa", "rate": "0.160000"}]},
    {"product_id": "01938f6e-7a10-7c3e-9a55-2b7e3d1c0b02", "quantity": "3", "discount": "100.00"}
  ]
}"#;

fn example_invoice() -> serde_json::Value {
    serde_json::from_str(EXAMPLE_INVOICE).unwrap_or_default()
}

/// Create a draft invoice or credit note.
///
/// Owners, admins and accountants. Lines take their values from a product (`product_id`) or
/// inline; amounts are computed by SAT's rules (see the response's `totals`). The draft is
/// checked like an issue would be: every broken rule comes back at once with its SAT code and
/// pointer, and nothing is saved. Honours `Idempotency-Key`.
#[utoipa::path(
    operation_id = "createInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(IdempotencyKey),
    request_body(content = InvoiceInput, example = example_invoice),
    responses(
        (status = 201, description = "The draft; `ETag` and `Location` name it", body = InvoiceView),
        (status = 400, description = "Malformed JSON or Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot create invoices", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`external_id_taken`, or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Broken rules, each with its SAT code or ours and its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invoices")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<InvoiceInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let org = caller.organization_id;
    let actor = caller.actor();
    let view = state
        .tenant_db(org, move |conn| {
            persistence::transaction(conn, |conn| {
                let view = write_draft(conn, org, &input, None)?;
                if let Ok(view) = &view {
                    activity::record(conn, org, view.id, "created", actor, json!({}))?;
                }
                Ok(view)
            })
        })
        .await??;
    Ok(invoice_response(StatusCode::CREATED, &view))
}

/// Check a would-be invoice without saving anything.
///
/// Every role. Answers 200 with `valid`, **every** broken rule (SAT's code where it has one,
/// and a pointer into the request) and, when the lines can be computed, the amounts the
/// invoice would have. Nothing is written, so it is also how a frontend shows totals as the
/// user types.
#[utoipa::path(
    operation_id = "validateInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    request_body(content = InvoiceInput, example = example_invoice),
    responses(
        (status = 200, description = "The verdict, the violations and the amounts", body = ValidationReport),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A member has the wrong type, so the body is not an invoice at all", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invoices/validate")]
pub async fn validate(
    state: web::Data<AppState>,
    caller: Caller,
    Json(input): Json<InvoiceInput>,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let report = state
        .tenant_db(org, move |conn| {
            let (_, mut checked) = check_in(conn, org, &input)?;
            check_series(conn, org, &input, &mut checked.violations)?;
            let amounts = checked
                .comprobante
                .as_ref()
                .map(|c| amounts_of(c, &checked.lines));
            Ok(ValidationReport {
                valid: checked.violations.is_empty(),

                violations: checked
                    .violations
                    .into_iter()
                    .map(crate::problem::FieldError::from)
                    .collect(),
                totals: amounts.as_ref().map(|(_, t)| t.clone()),
                lines: amounts.map(|(l, _)| l),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// Sorts of the invoice list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvoiceSort {
    CreatedAt,
    UpdatedAt,
    Total,
    Status,
    IssuedAt,
    DueDate,
    Folio,
    CustomerName,
}

impl SortKey for InvoiceSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("created_at", InvoiceSort::CreatedAt),
        ("updated_at", InvoiceSort::UpdatedAt),
        ("total", InvoiceSort::Total),
        ("status", InvoiceSort::Status),
        ("issued_at", InvoiceSort::IssuedAt),
        ("due_date", InvoiceSort::DueDate),
        ("folio", InvoiceSort::Folio),
        ("customer_name", InvoiceSort::CustomerName),
    ];
    const DEFAULT: &'static str = "-created_at";
}

/// Query parameters of `GET /v1/invoices`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceListQuery {
    /// How many invoices to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 500, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `created_at`, `updated_at`, `total`, `status`, `issued_at`, `due_date`, `folio` or
    /// `customer_name` (the customer's legal name); prefix `-` for descending (default
    /// `-created_at`, newest first). `issued_at`, `due_date` and `folio` list only the
    /// documents that have one: `issued_at` leaves drafts out.
    #[param(
        pattern = "^-?(created_at|updated_at|total|status|issued_at|due_date|folio|customer_name)$",
        example = "-issued_at"
    )]
    pub sort: Option<String>,
    /// Text in the customer's name or RFC, accent- and case-insensitive.
    #[param(min_length = 1, max_length = 100)]
    pub q: Option<String>,
    /// Only invoices in this state.
    pub status: Option<InvoiceStatus>,
    /// Only invoices with this payment status (`overdue`: issued, unpaid and past due).
    pub payment_status: Option<PaymentStatus>,
    /// Only invoices (`I`) or credit notes (`E`).
    pub document_type: Option<DocumentType>,
    /// Only this customer's.
    pub customer_id: Option<Uuid>,
    /// Only in this currency (c_Moneda).
    #[param(pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// The invoice with this folio fiscal.
    pub uuid: Option<Uuid>,
    /// Only this series prefix (`@Serie`).
    #[param(min_length = 1, max_length = 25)]
    pub serie: Option<String>,
    /// Only this folio (with `serie`).
    #[param(minimum = 1)]
    pub folio: Option<i64>,
    /// Issued at or after this instant.
    pub issued_from: Option<DateTime<Utc>>,
    /// Issued before this instant.
    pub issued_before: Option<DateTime<Utc>>,
    /// Due before this day.
    pub due_before: Option<NaiveDate>,
    /// Total at least this.
    #[param(pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
    pub total_min: Option<String>,
    /// Total at most this.
    #[param(pattern = "^[0-9]{1,18}(\\.[0-9]{1,6})?$")]
    pub total_max: Option<String>,
    /// Changed at or after this instant (ERP sync).
    pub updated_since: Option<DateTime<Utc>>,
    /// Only invoices whose latest email is in this state (`not_sent`: never emailed).
    pub delivery_status: Option<DeliveryStatus>,
    /// `true`: only invoices opened through a public link; `false`: only those never opened.
    pub viewed: Option<bool>,
}

/// List invoices and credit notes.
///
/// Every role. Filters combine; keyset pagination keeps deep pages as fast as the first.
#[utoipa::path(
    operation_id = "listInvoices",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(InvoiceListQuery),
    responses(
        (status = 200, description = "A page of invoices", body = Page<InvoiceView>),
        (status = 400, description = "Invalid query parameters, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/invoices")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<InvoiceListQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let mut violations = Violations::new();
    let search = search_text(query.q, &mut violations);
    let mut money = |value: &Option<String>, name: &str| {
        value.as_deref().and_then(|t| {
            let parsed = parse_decimal(t);
            if parsed.is_none() {
                violations.push(Violation::new(
                    Pointer::root().field(name),
                    "invalid_amount",
                    format!("{name} is a decimal string such as 1500.00"),
                ));
            }
            parsed
        })
    };
    let total_min = money(&query.total_min, "total_min");
    let total_max = money(&query.total_max, "total_max");
    if let Some(serie) = &query.serie
        && !(1..=25).contains(&serie.chars().count())
    {
        violations.push(Violation::new(
            Pointer::root().field("serie"),
            "length",
            "serie has 1 to 25 characters",
        ));
    }
    if let Some(currency) = &query.currency
        && !(currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()))
    {
        violations.push(Violation::new(
            Pointer::root().field("currency"),
            "invalid_format",
            "currency is a c_Moneda key: three capital letters",
        ));
    }
    if query.folio.is_some_and(|f| f < 1) {
        violations.push(Violation::new(
            Pointer::root().field("folio"),
            "out_of_range",
            "folio is 1 or more",
        ));
    }
    let request = ListParams {
        limit: query.limit,
        starting_after: query.starting_after,
        sort: query.sort,
    }
    .parse_with::<InvoiceSort>(violations)?;
    let today = Utc::now().date_naive();
    let filter = InvoiceFilter {
        search,
        status: query.status.map(|s| s.code().to_string()),
        payment_status: query.payment_status.map(|p| match p {
            PaymentStatus::Unpaid => store::PaymentStatusFilter::Unpaid,
            PaymentStatus::PartiallyPaid => store::PaymentStatusFilter::PartiallyPaid,
            PaymentStatus::Paid => store::PaymentStatusFilter::Paid,
            PaymentStatus::Overdue => store::PaymentStatusFilter::Overdue { today },
        }),
        document_type: query.document_type.map(|d| d.code().to_string()),
        customer_id: query.customer_id,
        currency: query.currency,
        uuid: query.uuid,
        serie: query.serie,
        folio: query.folio,
        issued_from: query.issued_from,
        issued_before: query.issued_before,
        due_before: query.due_before,
        total_min,
        total_max,
        updated_since: query.updated_since,
        delivery_status: query.delivery_status.map(|d| d.code().to_string()),
        viewed: query.viewed,
    };
    let page = match request.key {
        InvoiceSort::CreatedAt => InvoicePage::CreatedAt(request.query()?),
        InvoiceSort::UpdatedAt => InvoicePage::UpdatedAt(request.query()?),
        InvoiceSort::Total => InvoicePage::Total(request.query()?),
        InvoiceSort::Status => InvoicePage::Status(request.query()?),
        InvoiceSort::IssuedAt => InvoicePage::IssuedAt(request.query()?),
        InvoiceSort::DueDate => InvoicePage::DueDate(request.query()?),
        InvoiceSort::Folio => InvoicePage::Folio(request.query()?),
        InvoiceSort::CustomerName => InvoicePage::CustomerName(request.query()?),
    };
    let org = caller.organization_id;
    let (rows, customers, tracking) = state
        .tenant_db(org, move |conn| {
            let rows = store::list(conn, org, &filter, &page)?;
            let customers = store::customer_names(conn, org, &rows.rows)?;
            let ids: Vec<Uuid> = rows.rows.iter().map(|i| i.id).collect();
            let tracking = activity::tracking_of(conn, org, &ids)?;
            Ok((rows, customers, tracking))
        })
        .await?;
    let key = request.key;
    let views: Vec<InvoiceView> = rows
        .rows
        .iter()
        .map(|i| {
            let (name, rfc) = customers
                .get(&i.customer_id)
                .map_or(("", ""), |(n, r)| (n.as_str(), r.as_str()));
            view_of(i, (name, rfc), tracking.get(&i.id), None, None)
        })
        .collect();
    let answer = request.page(views, rows.has_more, |v| match key {
        InvoiceSort::CreatedAt => (serde_json::json!(v.created_at), v.id),
        InvoiceSort::UpdatedAt => (serde_json::json!(v.updated_at), v.id),
        InvoiceSort::Total => (serde_json::json!(v.totals.total), v.id),
        InvoiceSort::Status => (serde_json::json!(v.status), v.id),
        InvoiceSort::IssuedAt => (serde_json::json!(v.issued_at), v.id),
        InvoiceSort::DueDate => (serde_json::json!(v.due_date), v.id),
        InvoiceSort::Folio => (serde_json::json!(v.folio), v.id),
        InvoiceSort::CustomerName => (serde_json::json!(v.customer_name), v.id),
    });
    Ok(HttpResponse::Ok().json(answer))
}

/// Get an invoice or credit note.
///
/// Every role. `ETag` carries its version for `If-Match`.
#[utoipa::path(
    operation_id = "getInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The invoice's id")),
    responses(
        (status = 200, description = "The invoice", body = InvoiceView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/invoices/{id}")]
pub async fn get_one(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let view = state
        .tenant_db(org, move |conn| {
            let invoice = store::find(conn, org, id)?;
            load_view(conn, org, &invoice)
        })
        .await?;
    Ok(invoice_response(StatusCode::OK, &view))
}

fn immutable(invoice: &Invoice) -> ApiError {
    ApiError::conflict(
        "invoice_not_draft",
        format!(
            "the invoice is {}: only drafts change or are deleted (cancel an issued invoice instead)",
            invoice.status
        ),
    )
}

/// Change a draft.
///
/// Owners, admins and accountants. The body is a JSON merge patch (RFC 7396); `lines` and
/// `related` are replaced as a whole. The draft that results is checked like a new one. An
/// issued invoice cannot change (409 `invoice_not_draft`).
#[utoipa::path(
    operation_id = "updateInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body(content = Object, description = "A JSON merge patch of the invoice's writable members", example = json!({"due_date": "2027-01-15", "notes": "Entrega parcial"})),
    responses(
        (status = 200, description = "The changed draft", body = InvoiceView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot change invoices", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invoice_not_draft` or `external_id_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The invoice changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Broken rules, each with its code and pointer", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/invoices/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    Json(patch): Json<MergePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let view = state
        .tenant_db(org, move |conn| {
            let current = store::lock(conn, org, id)?;
            if !if_match.matches(current.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            if current.status != InvoiceStatus::Draft.code() {
                return Ok(Err(immutable(&current)));
            }
            let input = match merged(&InvoiceInput::from(&current), &patch) {
                Ok(input) => input,
                Err(e) => return Ok(Err(e)),
            };
            write_draft(conn, org, &input, Some(&current))
        })
        .await??;
    Ok(invoice_response(StatusCode::OK, &view))
}

/// Delete a draft.
///
/// Owners, admins and accountants. Only drafts: an issued invoice is a fiscal document and is
/// cancelled instead (409 `invoice_not_draft`).
#[utoipa::path(
    operation_id = "deleteInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the deletion is based on"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot delete invoices", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invoice_not_draft`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The invoice changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/invoices/{id}")]
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
            let current = store::lock(conn, org, id)?;
            if !if_match.matches(current.version) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            if current.status != InvoiceStatus::Draft.code() {
                return Ok(Err(immutable(&current)));
            }
            store::delete_draft(conn, org, id).map(Ok)
        })
        .await??;
    Ok(HttpResponse::NoContent().finish())
}

/// What the sealing step hands to the PAC.
struct Sealed {
    xml: String,
    sello: String,
    issuer_rfc: String,
}

/// How long a `stamping` invoice may wait for its PAC before issuing again may take it over
/// (the request that was stamping it died): longer than any PAC call may take.
const STALE_STAMPING: chrono::Duration = chrono::Duration::minutes(2);
/// SAT stamps a CFDI only within 72 hours of its `Fecha`; a retry later than this (an hour
/// short of it, for the PAC's clock and the request's own time) seals the document again.
const RESEAL_AFTER: chrono::Duration = chrono::Duration::hours(71);

/// The first step of issuing, in one transaction: check the draft, take the folio, build and
/// seal the CFDI and keep it; or pick up the sealed CFDI of an earlier attempt that failed.
fn seal_step(
    conn: &mut PgConnection,
    vault: &crate::vault::Vault,
    pac: &str,
    org: Uuid,
    id: Uuid,
    if_match: &IfMatch,
) -> Result<Result<Sealed, ApiError>, persistence::StoreError> {
    let invoice = store::lock(conn, org, id)?;
    if !if_match.matches(invoice.version) {
        return Ok(Err(ApiError::precondition_failed()));
    }
    let status = InvoiceStatus::from_code(&invoice.status);
    let stale = invoice.updated_at < Utc::now() - STALE_STAMPING;
    let mut reseal = false;
    match status {
        InvoiceStatus::Issued | InvoiceStatus::Cancelled => {
            return Ok(Err(ApiError::conflict(
                "already_issued",
                format!("the invoice is already {}", invoice.status),
            )));
        }
        InvoiceStatus::Stamping if !stale => {
            return Ok(Err(ApiError::conflict(
                "issue_in_progress",
                "the invoice is being stamped by another request; get it to see the outcome",
            )));
        }
        InvoiceStatus::Stamping | InvoiceStatus::StampFailed => {
            // A retry: the folio and the sealed document are kept; only the stamp is missing.
            let Some(stamp) = store::find_stamp(conn, org, id)? else {
                return Err(persistence::StoreError::NotFound);
            };
            if stamp.sealed_at < Utc::now() - RESEAL_AFTER {
                // Too old for SAT to stamp: sealed again below, with a new Fecha and the same
                // folio.
                reseal = true;
            } else {
                let mut row = invoice.clone();
                row.status = InvoiceStatus::Stamping.code().to_string();
                store::update(conn, &row)?;
                let organization = persistence::identity::find_organization(conn, org)?;
                return Ok(Ok(Sealed {
                    xml: String::from_utf8_lossy(&stamp.sealed_xml).into_owned(),
                    sello: stamp.sello,
                    issuer_rfc: organization.rfc,
                }));
            }
        }
        InvoiceStatus::Draft => {}
    }

    let input = InvoiceInput::from(&invoice);
    let (ctx, mut checked) = check_in(conn, org, &input)?;
    check_series(conn, org, &input, &mut checked.violations)?;
    if !checked.violations.is_empty() {
        return Ok(Err(ApiError::validation(checked.violations)));
    }
    let Some(csd) = crate::routes::certificates::active_csd(conn, vault, org)? else {
        return Ok(Err(ApiError::conflict(
            "certificate_required",
            "the organization has no active CSD to seal with: upload one at /v1/organization/certificates",
        )));
    };
    let series = match input.series_id {
        Some(series_id) => Some(persistence::series::find(conn, org, series_id)?),
        None => persistence::series::default_for(conn, org, input.document_type.code())?,
    };
    let base = RowBase::of(
        invoice.id,
        invoice.organization_id,
        invoice.version,
        invoice.created_at,
        invoice.updated_at,
    );
    let (Some(mut row), Some(mut cfdi)) = (
        to_row(&input, &checked, &ctx, base),
        checked.comprobante.clone(),
    ) else {
        return Err(persistence::StoreError::NotFound);
    };
    if reseal {
        cfdi.serie.clone_from(&invoice.serie);
        cfdi.folio = invoice.folio.map(|f| f.to_string());
        row.series_id = invoice.series_id;
        row.serie.clone_from(&invoice.serie);
        row.folio = invoice.folio;
    } else if let Some(series) = &series {
        // From here on the folio is taken: anything that fails rolls the transaction back and
        // returns it, so the series stays gapless.
        let folio = persistence::series::take_folio(conn, org, series.id)?;
        cfdi.serie = Some(series.prefix.clone());
        cfdi.folio = Some(folio.to_string());
        row.series_id = Some(series.id);
        row.serie = Some(series.prefix.clone());
        row.folio = Some(folio);
    }
    cfdi.set_certificate(
        csd.certificate().number().as_str(),
        csd.certificate().to_base64(),
    );
    let sello = domain::csd::seal(csd.key(), &cfdi.cadena_original());
    cfdi.set_sello(sello.clone());
    let xml = cfdi.to_xml();
    row.status = InvoiceStatus::Stamping.code().to_string();
    row.issued_at = Some(Utc::now());
    row.search = domain::text::fold(&format!(
        "{} {}{}",
        row.search,
        row.serie.clone().unwrap_or_default(),
        row.folio.map(|f| f.to_string()).unwrap_or_default()
    ));
    store::update(conn, &row)?;
    let now = Utc::now();
    let certificate_number = csd.certificate().number().as_str();
    if reseal {
        store::reseal(conn, org, id, certificate_number, xml.as_bytes(), &sello)?;
        return Ok(Ok(Sealed {
            xml,
            sello,
            issuer_rfc: ctx.organization.rfc,
        }));
    }
    store::insert_stamp(
        conn,
        &store::Stamp {
            invoice_id: id,
            organization_id: org,
            certificate_number: certificate_number.to_string(),
            sealed_xml: xml.clone().into_bytes(),
            sello: sello.clone(),
            pac: pac.to_string(),
            xml: None,
            uuid: None,
            stamped_at: None,
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
            sealed_at: now,
        },
    )?;
    Ok(Ok(Sealed {
        xml,
        sello,
        issuer_rfc: ctx.organization.rfc,
    }))
}

/// The last step of issuing: keep what the PAC answered.
fn record_step(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    outcome: &Result<domain::pac::Stamped, domain::pac::PacError>,
    actor: activity::Actor,
) -> Result<InvoiceView, persistence::StoreError> {
    let mut invoice = store::lock(conn, org, id)?;
    match outcome {
        Ok(stamped) => {
            let uuid = stamped.timbre.uuid();
            store::record_stamped(conn, org, id, stamped.xml.as_bytes(), uuid, Utc::now())?;
            invoice.status = InvoiceStatus::Issued.code().to_string();
            invoice.uuid = Some(uuid);
            invoice.search = domain::text::fold(&format!("{} {uuid}", invoice.search));
            if invoice.document_type == DocumentType::E.code() {
                invoice.balance = apply_credit(conn, org, &invoice)?;
            }
            let data = json!({ "uuid": uuid, "serie": invoice.serie, "folio": invoice.folio });
            activity::record(conn, org, id, "issued", actor, data)?;
        }
        Err(e) => {
            store::record_stamp_failure(conn, org, id, &e.to_string())?;
            invoice.status = InvoiceStatus::StampFailed.code().to_string();
            let data = json!({ "reason": e.to_string(), "folio": invoice.folio });
            activity::record(conn, org, id, "stamp_failed", actor, data)?;
        }
    }
    let invoice = store::update(conn, &invoice)?;
    load_view(conn, org, &invoice)
}

/// A stamped credit note reduces the balances of the invoices it relates with TipoRelacion 01,
/// in the order they are listed, each by at most what it still owes; returns what is left of
/// the credit. In the transaction that records the stamp, with the invoices locked.
fn apply_credit(
    conn: &mut PgConnection,
    org: Uuid,
    note: &Invoice,
) -> Result<Decimal, persistence::StoreError> {
    let mut credit = note.total;
    let related: Vec<RelatedInput> =
        serde_json::from_value(note.related.clone()).unwrap_or_default();
    let uuids: Vec<Uuid> = related
        .iter()
        .filter(|g| g.relation_type == "01")
        .flat_map(|g| g.uuids.iter())
        .filter_map(|u| Uuid::parse_str(u).ok())
        .collect();
    for uuid in uuids {
        let Some(found) = store::find_by_uuids(conn, org, &[uuid])?.into_iter().next() else {
            continue;
        };
        let mut invoice = store::lock(conn, org, found.id)?;
        if invoice.status != InvoiceStatus::Issued.code() || credit <= Decimal::ZERO {
            continue;
        }
        let applied = credit.min(invoice.balance);
        if applied <= Decimal::ZERO {
            continue;
        }
        credit -= applied;
        invoice.balance -= applied;
        invoice.payment_status = if invoice.balance.is_zero() {
            "paid"
        } else {
            "partially_paid"
        }
        .to_string();
        store::update(conn, &invoice)?;
    }
    Ok(credit)
}

/// 502 `pac_unavailable`: the PAC could not be reached; the same request may succeed later.
fn pac_unavailable(detail: String) -> ApiError {
    let mut problem = ApiError::conflict("pac_unavailable", detail);
    problem.set_status_and_code(StatusCode::BAD_GATEWAY, "pac_unavailable");
    problem
}

/// Issue an invoice: take its folio, seal it with the organization's CSD and have it stamped.
///
/// Owners, admins and accountants. The draft is checked again first (every broken rule at
/// once, 422). Then, in one transaction, the series' next folio is taken (the series given, or
/// the organization's default for the document type; none means no `Serie`/`Folio`), the CFDI
/// is built with `Fecha` in the local time of the organization's postal code, and sealed. The
/// PAC is called after that transaction: when it fails the invoice stays `stamp_failed` with
/// its folio and sealed XML (502 `pac_unavailable`, or 422 `stamp_rejected` when the PAC
/// refused the document), and calling this again retries the stamp with the same folio.
#[utoipa::path(
    operation_id = "issueInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` the issue is based on"),
        IdempotencyKey,
    ),
    responses(
        (status = 200, description = "Issued: the invoice with its serie, folio and UUID", body = InvoiceView),
        (status = 400, description = "Malformed Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Viewers cannot issue invoices", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_issued`, `issue_in_progress`, `certificate_required` (no active CSD) or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The invoice changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Broken rules, each with its code and pointer; or `stamp_rejected` by the PAC", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`pac_unavailable`: not stamped now, kept `stamp_failed` with its folio; retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invoices/{id}/issue")]
pub async fn issue(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Accountant)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let actor = caller.actor();
    let vault = state.vault.clone();
    let pac_name = state.pac.name().to_string();
    let sealed = state
        .tenant_db(org, move |conn| {
            seal_step(conn, &vault, &pac_name, org, id, &if_match)
        })
        .await??;
    let pac = state.pac.clone();
    let outcome = web::block(move || {
        let now = domain::local_time::local_time(domain::local_time::ZONA_CENTRO, Utc::now());
        pac.stamp(
            &domain::pac::SealedCfdi {
                xml: &sealed.xml,
                sello: &sealed.sello,
                issuer_rfc: &sealed.issuer_rfc,
            },
            Uuid::new_v4(),
            now,
        )
    })
    .await?;
    let error = outcome.as_ref().err().cloned();
    // A stamp the PAC gave must be kept: when the database is momentarily out of connections,
    // try again for a while rather than answer 503 with the stamp in hand.
    let mut delay = std::time::Duration::from_millis(50);
    let view = loop {
        let attempt = outcome.clone();
        match state
            .tenant_db(org, move |conn| record_step(conn, org, id, &attempt, actor))
            .await
        {
            Err(e) if e.status() == StatusCode::SERVICE_UNAVAILABLE && delay.as_secs() < 20 => {
                actix_web::rt::time::sleep(delay).await;
                delay *= 2;
            }
            other => break other?,
        }
    };
    match error {
        None => Ok(invoice_response(StatusCode::OK, &view)),
        Some(e) if e.is_retryable() => {
            log::warn!("invoice {id}: stamping failed: {e}");
            Err(pac_unavailable(format!(
                "{e}; the invoice keeps its folio as stamp_failed: issue it again to retry"
            )))
        }
        Some(e) => Err(ApiError::unprocessable(
            "stamp_rejected",
            format!("{e}; the invoice keeps its folio as stamp_failed"),
        )),
    }
}

/// Download the stamped CFDI.
///
/// Every role. The XML exactly as the PAC returned it when the invoice was issued, byte for
/// byte (never regenerated). Drafts and invoices not yet stamped have none (409 `not_stamped`).
#[utoipa::path(
    operation_id = "getInvoiceXml",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(("id" = Uuid, Path, description = "The invoice's id")),
    responses(
        (status = 200, description = "The stamped CFDI 4.0", content_type = "application/xml", body = String),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_stamped`: a draft, or not stamped yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/invoices/{id}/xml")]
pub async fn get_xml(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = (caller.organization_id, id.into_inner());
    let (invoice, stamp) = state
        .tenant_db(org, move |conn| {
            let invoice = store::find(conn, org, id)?;
            let stamp = store::find_stamp(conn, org, id)?;
            Ok((invoice, stamp))
        })
        .await?;
    let Some(xml) = stamp.and_then(|s| s.xml) else {
        return Err(ApiError::conflict(
            "not_stamped",
            format!("the invoice is {} and has no stamped XML", invoice.status),
        ));
    };
    let name = crate::routes::delivery::document_name(&invoice);
    Ok(HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}.xml\""),
        ))
        .body(xml))
}

/// The body of `POST /v1/invoices/{id}/cancel`.
#[derive(Debug, Clone, Deserialize, ToSchema, validator::Validate)]
#[serde(deny_unknown_fields)]
pub struct CancelInput {
    /// c_MotivoCancelacion: `01` issued with errors, replaced (needs `replacement_uuid`);
    /// `02` with errors, not replaced; `03` the operation did not happen; `04` nominative
    /// operation included in a global invoice.
    #[schema(example = "02", pattern = "^0[1-4]$")]
    pub reason: String,
    /// With `01`: the UUID of the issued CFDI that replaces this one, which must relate it with
    /// TipoRelacion `04` (FolioSustitucion).
    #[serde(default)]
    pub replacement_uuid: Option<Uuid>,
}

/// Checks a cancellation request against the invoice; returns the problem to answer, if any.
fn check_cancellation(
    conn: &mut PgConnection,
    org: Uuid,
    invoice: &Invoice,
    input: &CancelInput,
) -> Result<Option<ApiError>, persistence::StoreError> {
    if invoice.status != InvoiceStatus::Issued.code() {
        return Ok(Some(ApiError::conflict(
            "not_cancellable",
            format!(
                "only issued invoices are cancelled; this one is {}",
                invoice.status
            ),
        )));
    }
    let root = Pointer::root();
    let mut v = Violations::new();
    if !matches!(input.reason.as_str(), "01" | "02" | "03" | "04") {
        v.push(Violation::new(
            root.field("reason"),
            "unknown_reason",
            "reason is a c_MotivoCancelacion key: 01, 02, 03 or 04",
        ));
    }
    match (input.reason.as_str(), input.replacement_uuid) {
        ("01", None) => v.push(Violation::new(
            root.field("replacement_uuid"),
            "replacement_required",
            "motivo 01 needs the UUID of the CFDI that replaces this one (issue it first, related with TipoRelacion 04)",
        )),
        ("01", Some(replacement)) => {
            let found = store::find_by_uuids(conn, org, &[replacement])?;
            let relates = found.first().is_some_and(|r| {
                r.status == InvoiceStatus::Issued.code()
                    && serde_json::from_value::<Vec<RelatedInput>>(r.related.clone())
                        .unwrap_or_default()
                        .iter()
                        .any(|g| {
                            g.relation_type == "04"
                                && g.uuids.iter().any(|u| {
                                    Uuid::parse_str(u).ok() == invoice.uuid
                                })
                        })
            });
            if !relates {
                v.push(Violation::new(
                    root.field("replacement_uuid"),
                    "replacement_not_related",
                    "the replacement must be an issued CFDI of this organization relating this one with TipoRelacion 04",
                ));
            }
        }
        (_, Some(_)) => v.push(Violation::new(
            root.field("replacement_uuid"),
            "replacement_not_allowed",
            "only motivo 01 names a replacement",
        )),
        _ => {}
    }
    Ok((!v.is_empty()).then(|| ApiError::validation(v)))
}

/// Cancel an issued invoice before SAT.
///
/// Owners and admins. Motivo `01` needs the replacing CFDI, issued first and related with
/// TipoRelacion `04`. SAT may require the receiver's acceptance: `cancellation.status` is
/// `pending` until it answers, then `accepted` (the invoice becomes `cancelled` and takes no
/// more payments) or `rejected` (it stays issued). The sandbox PAC accepts at once.
#[utoipa::path(
    operation_id = "cancelInvoice",
    tag = "invoices",
    security(("bearer_jwt" = [])),
    params(
        ("id" = Uuid, Path, description = "The invoice's id"),
        IdempotencyKey,
    ),
    request_body(content = CancelInput, example = json!({"reason": "02"})),
    responses(
        (status = 200, description = "The invoice with its cancellation", body = InvoiceView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins cancel invoices", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such invoice in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not_cancellable` (not issued, or already cancelled) or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason or replacement, each with its pointer", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`pac_unavailable`: SAT could not be asked; nothing changed, retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/v1/invoices/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    Json(input): Json<CancelInput>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Admin)?;
    let (org, id) = (caller.organization_id, id.into_inner());
    let checked_input = input.clone();
    let (uuid, issuer_rfc) = state
        .tenant_db(org, move |conn| {
            let invoice = store::find(conn, org, id)?;
            if let Some(problem) = check_cancellation(conn, org, &invoice, &checked_input)? {
                return Ok(Err(problem));
            }
            let organization = persistence::identity::find_organization(conn, org)?;
            Ok(Ok((invoice.uuid.unwrap_or_default(), organization.rfc)))
        })
        .await??;
    let pac = state.pac.clone();
    let request_input = input.clone();
    let answer = web::block(move || {
        pac.cancel(&domain::pac::Cancellation {
            issuer_rfc: &issuer_rfc,
            uuid,
            reason: &request_input.reason,
            replacement: request_input.replacement_uuid,
        })
    })
    .await?;
    let answer = match answer {
        Ok(answer) => answer,
        Err(e) => return Err(pac_unavailable(e.to_string())),
    };
    let requested_by = caller.user_id;
    let actor = caller.actor();
    let view = state
        .tenant_db(org, move |conn| {
            // Checked again under the lock: a concurrent cancellation may have won.
            let mut invoice = store::lock(conn, org, id)?;
            if let Some(problem) = check_cancellation(conn, org, &invoice, &input)? {
                return Ok(Err(problem));
            }
            let now = Utc::now();
            let status = match answer {
                domain::pac::CancellationAnswer::Accepted => "accepted",
                domain::pac::CancellationAnswer::Pending => "pending",
                domain::pac::CancellationAnswer::Rejected => "rejected",
            };
            store::insert_cancellation(
                conn,
                &store::Cancellation {
                    invoice_id: id,
                    organization_id: org,
                    reason: input.reason.clone(),
                    replacement_uuid: input.replacement_uuid,
                    status: status.to_string(),
                    requested_by: Some(requested_by),
                    requested_at: now,
                    answered_at: (status != "pending").then_some(now),
                },
            )?;
            let data =
                json!({ "reason": input.reason, "replacement_uuid": input.replacement_uuid });
            activity::record(conn, org, id, "cancellation_requested", actor, data.clone())?;
            match status {
                "accepted" => {
                    invoice.status = InvoiceStatus::Cancelled.code().to_string();
                    invoice = store::update(conn, &invoice)?;
                    activity::record(conn, org, id, "cancelled", activity::Actor::SYSTEM, data)?;
                }
                "rejected" => {
                    let kind = "cancellation_rejected";
                    activity::record(conn, org, id, kind, activity::Actor::SYSTEM, data)?;
                }
                _ => {}
            }
            load_view(conn, org, &invoice).map(Ok)
        })
        .await??;
    Ok(invoice_response(StatusCode::OK, &view))
}
