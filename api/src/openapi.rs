//! The OpenAPI 3.1 document, generated from the handlers registered in [`crate::routes`], and
//! what is derived from it: the route table that tells 405 from 404.

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::schema::{ArrayItems, KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, PathItem, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::problem::{ApiError, FieldError, Problem};

pub const BEARER_SCHEME: &str = "bearer_jwt";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Facturación API",
        description = "Self-hostable invoicing for Mexican businesses: customers, products, CFDI 4.0 \
invoices, payments and reports as a JSON REST API.\n\n\
Conventions: JSON with snake_case fields; money, quantities and rates as decimal strings; \
RFC 3339 UTC timestamps; cursor pagination (`limit`, `starting_after`, `sort`); errors as RFC 9457 \
`application/problem+json` with a stable `code` and a JSON pointer per invalid field; \
`Idempotency-Key` on every POST; `ETag`/`If-Match` on mutable resources; `X-Request-Id` on every response.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    modifiers(&Security),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "auth", description = "Registration, login, sessions and the caller's identity"),
        (name = "users", description = "The organization's users, invitations, roles and security log"),
        (name = "api-clients", description = "ERP integrations: OAuth 2.0 client credentials"),
        (name = "certificates", description = "The organization's CSDs (certificados de sello digital): SAT's certificate and private key that seal its CFDIs"),
        (name = "branding", description = "The organization's branding on its invoice PDFs and emails: logo, accent colour and footer"),
        (name = "catalogs", description = "SAT's CFDI 4.0 catalogs: tax regimes, CFDI uses, payment forms, product and unit keys, postal codes …"),
        (name = "customers", description = "Customers (CFDI Receptor), their contacts, and bulk import for ERP migrations"),
        (name = "products", description = "Products and services (what CFDI Conceptos are made from) with their SAT keys and tax profiles, and bulk import"),
        (name = "series", description = "Invoice series (CFDI Serie) and their gapless folio counters (CFDI Folio)"),
        (name = "invoices", description = "Invoices (CFDI type I) and credit notes (type E): drafts checked against SAT's rules, issuing (folio, seal, stamp), the stamped XML, cancellation, emailing, public links and the timeline"),
        (name = "exports", description = "Bulk exports for accountants: a ZIP of every CFDI (XML and PDF) issued in a date range"),
        (name = "public", description = "What a public link shows, without logging in: the invoice's summary, PDF and XML"),
        (name = "operations", description = "Health checks and metrics for operators"),
    ),
)]
struct ApiDoc;

/// Declares the bearer-JWT scheme and requires it by default; public operations opt out with
/// `security(())`.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER_SCHEME,
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::from(Http::new(HttpAuthScheme::Bearer))
                    .bearer_format("JWT")
                    .description(Some(
                        "Access token from `POST /v1/auth/login` (or `POST /v1/oauth/token` for ERP clients), \
                         sent as `Authorization: Bearer <token>`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every string the API takes is refused if it holds a NUL character (PostgreSQL text cannot
/// store one; see `extract::parse_json`). Saying so in each string of every request schema
/// keeps the contract exact: a generated client or a fuzzer knows such a string is invalid.
/// Response schemas are left alone (a problem's pointer may quote a NUL the client sent).
struct NoNulInStrings;

pub const NO_NUL_PATTERN: &str = "^[^\\u0000]*$";

impl Modify for NoNulInStrings {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let mut pending = Vec::new();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                // Request bodies are inline here (utoipa writes them so); a referenced one would
                // be a component request body, which this API does not use.
                if let Some(RefOr::T(body)) = operation.request_body.as_mut() {
                    for content in body.content.values_mut() {
                        if let RefOr::T(content) = content
                            && let Some(schema) = content.schema.as_mut()
                        {
                            forbid_nul(schema, &mut pending);
                        }
                    }
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let mut done = std::collections::HashSet::new();
        while let Some(name) = pending.pop() {
            if done.insert(name.clone())
                && let Some(schema) = components.schemas.get_mut(&name)
            {
                forbid_nul(schema, &mut pending);
            }
        }
    }
}

/// Adds the pattern to the unconstrained strings of `schema`; names the component schemas it
/// refers to in `pending`.
fn forbid_nul(schema: &mut RefOr<Schema>, pending: &mut Vec<String>) {
    let schema = match schema {
        RefOr::Ref(r) => {
            if let Some(name) = r.ref_location.strip_prefix("#/components/schemas/") {
                pending.push(name.to_string());
            }
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            let is_string = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            let constrained = object.pattern.is_some()
                || object.enum_values.is_some()
                || matches!(
                    object.format,
                    Some(SchemaFormat::KnownFormat(
                        // A binary string is a file's bytes (a logo), which may hold NULs.
                        KnownFormat::Uuid
                            | KnownFormat::DateTime
                            | KnownFormat::Date
                            | KnownFormat::Binary
                    ))
                );
            if is_string && !constrained {
                object.pattern = Some(NO_NUL_PATTERN.to_string());
            }
            for property in object.properties.values_mut() {
                forbid_nul(property, pending);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                forbid_nul(items, pending);
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(|s| forbid_nul(s, pending)),
        Schema::OneOf(one) => one.items.iter_mut().for_each(|s| forbid_nul(s, pending)),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|s| forbid_nul(s, pending)),
        _ => {}
    }
}

/// The whole document, as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn spec() -> OpenApiDoc {
    let (_, mut api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    // After the routes: their request and response schemas only exist from here on.
    NoNulInStrings.modify(&mut api);
    api
}

/// The committed form: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut text = spec().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// Every served path and the methods it accepts, to answer 405 with `Allow` when the path
/// exists and 404 when it does not; and the POST operations that need a bearer token.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(ResourceDef, Vec<&'static str>)>,
    /// Paths without parameters (`/v1/customers/import`) and their methods: such a path is
    /// also matched by a templated sibling (`/v1/customers/{id}`), whose id it is not.
    literal: Vec<(String, Vec<&'static str>)>,
    secured_posts: Vec<ResourceDef>,
}

impl RouteTable {
    pub fn from_spec(spec: &OpenApiDoc) -> Self {
        let mut routes: Vec<(ResourceDef, Vec<&'static str>)> = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| (ResourceDef::new(path.as_str()), methods_of(item)))
            .collect();
        // Served outside the spec.
        routes.push((ResourceDef::new("/openapi.json"), vec!["GET"]));
        routes.push((ResourceDef::new("/docs"), vec!["GET"]));
        let secured_posts = spec
            .paths
            .paths
            .iter()
            .filter(|(_, item)| item.post.as_ref().is_some_and(needs_token))
            .map(|(path, _)| ResourceDef::new(path.as_str()))
            .collect();
        let literal = spec
            .paths
            .paths
            .iter()
            .filter(|(path, _)| !path.contains('{'))
            .map(|(path, item)| (path.clone(), methods_of(item)))
            .collect();
        Self {
            routes,
            literal,
            secured_posts,
        }
    }

    /// The methods of `path` when it is a route without parameters.
    pub fn literal(&self, path: &str) -> Option<&[&'static str]> {
        self.literal
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, methods)| methods.as_slice())
    }

    /// Whether `POST path` is an operation that requires a bearer token.
    pub fn post_needs_token(&self, path: &str) -> bool {
        self.secured_posts.iter().any(|def| def.is_match(path))
    }

    /// The methods of the route matching `path`, if any does.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        self.routes
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// Whether an operation lists a security requirement that is not the empty (anonymous) one.
fn needs_token(operation: &utoipa::openapi::path::Operation) -> bool {
    let requirements = serde_json::to_value(&operation.security).unwrap_or_default();
    requirements.as_array().is_some_and(|all| {
        all.iter()
            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
    })
}

fn methods_of(item: &PathItem) -> Vec<&'static str> {
    [
        ("GET", item.get.is_some()),
        ("POST", item.post.is_some()),
        ("PUT", item.put.is_some()),
        ("PATCH", item.patch.is_some()),
        ("DELETE", item.delete.is_some()),
    ]
    .into_iter()
    .filter_map(|(method, present)| present.then_some(method))
    .collect()
}

/// Answers requests no route took: 405 with `Allow` when the path exists under another method,
/// else 404.
pub async fn fallback(req: HttpRequest) -> HttpResponse {
    let table = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.routes.clone());
    let allowed = table.as_ref().and_then(|t| t.allowed(req.path()));
    match allowed {
        Some(methods) if !methods.is_empty() => {
            ApiError::method_not_allowed(methods).error_response()
        }
        _ => ApiError::not_found().error_response(),
    }
}
