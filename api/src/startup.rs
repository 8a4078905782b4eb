//! Building and running the application: state, middleware stack, routes, server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{Method, header};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use persistence::{DbPool, PoolSettings};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::middleware::{idempotency, request_context};
use crate::openapi::RouteTable;
use crate::state::AppState;

/// Builds the pool from the configuration, without connecting.
pub fn pool(config: &Config, database_url: &str) -> DbPool {
    persistence::pool::build_pool(
        database_url,
        &PoolSettings {
            max_size: config.pool_size,
            connection_timeout: config.pool_timeout,
            statement_timeout: config.statement_timeout,
            application_name: "facturacion-api".into(),
        },
    )
}

/// Everything the handlers share; computed once.
pub fn state(config: Config, pool: DbPool) -> Result<AppState, String> {
    let jwt_keys = config.resolve_jwt_keys()?;
    let csd_keys = config.resolve_csd_keys()?;
    let spec = crate::openapi::spec();
    let openapi_json = spec
        .to_json()
        .map_err(|e| format!("cannot serialize the OpenAPI document: {e}"))?;
    let tokens = crate::auth::tokens::TokenKeys::new(&jwt_keys, &config.public_base_url)
        .map_err(|e| format!("cannot use the JWT signing keys: {e}"))?;
    Ok(AppState {
        tokens: Arc::new(tokens),
        vault: Arc::new(crate::vault::Vault::new(
            &csd_keys.current,
            &csd_keys.previous,
        )),
        pac: crate::pac::from_config(config.pac_sandbox_failure_rate)?,
        public_limiter: Arc::new(crate::rate_limit::RateLimiter::new(
            config.public_requests_per_minute,
            std::time::Duration::from_secs(60),
        )),
        pool,
        config: Arc::new(config),
        jwt_keys: Arc::new(jwt_keys),
        metrics: Metrics::new().map_err(|e| format!("cannot register metrics: {e}"))?,
        routes: Arc::new(RouteTable::from_spec(&spec)),
        openapi_json: Arc::new(openapi_json),
    })
}

/// Starts serving on `listener` with `workers` threads. The returned server runs until it is
/// awaited to completion; it stops gracefully on SIGINT/SIGTERM (in-flight requests finish).
pub fn serve(state: AppState, listener: TcpListener, workers: usize) -> std::io::Result<Running> {
    serve_with(state, listener, workers, None)
}

/// A started server and the background tasks that live as long as it does.
pub struct Running {
    server: Server,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("background_tasks", &self.background.len())
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Stops the server from elsewhere (gracefully: in-flight requests finish).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Handles to stop the background tasks early (tests stop them before dropping their
    /// database).
    pub fn background_tasks(&self) -> Vec<tokio::task::AbortHandle> {
        self.background.iter().map(|t| t.abort_handle()).collect()
    }

    /// Serves until the server stops (SIGINT/SIGTERM or [`Running::handle`]), then stops the
    /// background tasks.
    pub async fn run(self) -> std::io::Result<()> {
        let result = self.server.await;
        for task in self.background {
            task.abort();
        }
        log::debug!("server stopped; background tasks ended");
        result
    }
}

/// [`serve`], with `extra` routes mounted beside the API's (tests mount resources of their own
/// to exercise the shared machinery). Extra routes are not part of the OpenAPI document.
pub fn serve_with(
    state: AppState,
    listener: TcpListener,
    workers: usize,
    extra: Option<fn(&mut web::ServiceConfig)>,
) -> std::io::Result<Running> {
    let state = web::Data::new(state);
    let spec: utoipa::openapi::OpenApi = serde_json::from_str(&state.openapi_json)
        .map_err(|e| std::io::Error::other(format!("OpenAPI document does not round-trip: {e}")))?;
    let background = vec![
        tokio::spawn(idempotency::prune_forever(state.clone())),
        tokio::spawn(crate::email::deliver_forever(state.clone())),
        tokio::spawn(crate::routes::exports::run_forever(state.clone())),
    ];
    let server = HttpServer::new(move || {
        let cors = cors(&state.config.cors_allowed_origins);
        App::new()
            .app_data(state.clone())
            .app_data(crate::extract::path_config())
            .app_data(crate::extract::query_config())
            .wrap(from_fn(idempotency::idempotency))
            .wrap(cors)
            .wrap(from_fn(request_context::request_context))
            .into_utoipa_app()
            .configure(crate::routes::configure)
            .into_app()
            .configure(|cfg| {
                if let Some(extra) = extra {
                    extra(cfg);
                }
            })
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header((header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .default_service(web::to(crate::openapi::fallback))
    })
    .workers(workers)
    .listen(listener)?
    .run();
    Ok(Running { server, background })
}

/// CORS for the configured origins only; with none configured, browsers on other origins are
/// refused (server-to-server clients are unaffected).
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            idempotency::IDEMPOTENCY_KEY,
            request_context::X_REQUEST_ID,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            request_context::X_REQUEST_ID,
            idempotency::IDEMPOTENT_REPLAYED,
        ])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
