//! The OpenAPI 3.1 document, generated from the handlers registered in [`crate::routes`], and
//! what is derived from it: the route table that tells 405 from 404.

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, PathItem};
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

/// The whole document, as served at `/openapi.json` and committed in `openapi/openapi.json`.
pub fn spec() -> OpenApiDoc {
    let (_, api) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    api
}

/// The committed form: pretty JSON with a trailing newline.
pub fn spec_json() -> String {
    let mut text = spec().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

/// Every served path and the methods it accepts, to answer 405 with `Allow` when the path
/// exists and 404 when it does not.
#[derive(Debug, Default)]
pub struct RouteTable(Vec<(ResourceDef, Vec<&'static str>)>);

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
        Self(routes)
    }

    /// The methods of the route matching `path`, if any does.
    pub fn allowed(&self, path: &str) -> Option<&[&'static str]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
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
