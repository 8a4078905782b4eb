//! The server binary: configuration, database (ours or `DATABASE_URL`), migrations, serving,
//! and an orderly shutdown. Every failure is one line on stderr and a non-zero exit code.

use std::net::TcpListener;
use std::process::ExitCode;

use persistence::cluster::{Durability, LocalCluster};
use secrecy::ExposeSecret;

use crate::config::{Config, DatabaseSource};

/// Name of the application database inside the local cluster.
const LOCAL_DATABASE: &str = "facturacion";

const USAGE: &str = "usage: api [openapi]\n\n\
  (no argument)  serve the API (configuration from environment variables, see README)\n\
  openapi        print the OpenAPI document and exit";

pub fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("openapi") => {
            print!("{}", crate::openapi::spec_json());
            return ExitCode::SUCCESS;
        }
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("error: unknown argument `{other}`\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    // Bind first: a busy port is reported before anything is started.
    let listener = TcpListener::bind(config.bind_address).map_err(|e| {
        format!(
            "cannot listen on {}: {e}; set BIND_ADDRESS to a free address (e.g. 127.0.0.1:8081)",
            config.bind_address
        )
    })?;

    let (database_url, cluster) = match &config.database {
        DatabaseSource::Url(url) => (url.expose_secret().to_string(), None),
        DatabaseSource::Local { data_dir } => {
            let (url, cluster) = start_local_cluster(data_dir, config.pg_bindir.as_deref())?;
            (url, Some(cluster))
        }
    };
    let result = serve(config, listener, &database_url);
    if let Some((cluster, true)) = &cluster {
        log::info!("stopping the local PostgreSQL cluster");
        if let Err(e) = cluster.stop() {
            log::error!("could not stop the local PostgreSQL cluster: {e}");
        }
    }
    result
}

/// Returns the URL of the application database and the cluster, with whether we started it
/// (and so must stop it).
fn start_local_cluster(
    data_dir: &std::path::Path,
    bin_dir: Option<&std::path::Path>,
) -> Result<(String, (LocalCluster, bool)), String> {
    let cluster =
        LocalCluster::new(data_dir, bin_dir, Durability::Durable).map_err(|e| e.to_string())?;
    let fresh = !cluster.is_initialized();
    if fresh {
        log::info!(
            "creating a local PostgreSQL cluster in {}",
            cluster.data_dir().display()
        );
    }
    let started = cluster
        .ensure_running()
        .map_err(|e| format!("cannot start the local PostgreSQL cluster: {e}"))?;
    if started {
        log::info!(
            "started the local PostgreSQL cluster in {}",
            cluster.data_dir().display()
        );
    } else {
        log::info!(
            "using the PostgreSQL cluster already running in {}",
            cluster.data_dir().display()
        );
    }
    let stop_on_error = |message: String| {
        if started {
            let _ = cluster.stop();
        }
        message
    };
    persistence::pool::create_database_if_missing(&cluster.url("postgres"), LOCAL_DATABASE)
        .map_err(|e| stop_on_error(format!("cannot create database {LOCAL_DATABASE}: {e}")))?;
    Ok((cluster.url(LOCAL_DATABASE), (cluster, started)))
}

fn serve(config: Config, listener: TcpListener, database_url: &str) -> Result<(), String> {
    persistence::pool::check_connection(database_url).map_err(|reason| {
        format!(
            "cannot connect to the database ({reason}); check that DATABASE_URL is right and the server is running, \
             or unset DATABASE_URL to use a local cluster"
        )
    })?;
    let pool = crate::startup::pool(&config, database_url);
    let applied = persistence::pool::get(&pool)
        .and_then(|mut conn| persistence::run_migrations(&mut conn))
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    if applied > 0 {
        log::info!("applied {applied} database migrations");
    }
    // The catalogs compiled into this binary, where the database holds other content (first
    // start, or a new binary with a newer SAT publication).
    let loaded = persistence::pool::get(&pool)
        .map_err(persistence::catalogs::LoadError::from)
        .and_then(|mut conn| persistence::catalogs::load_embedded(&mut conn))
        .map_err(|e| format!("cannot load the SAT catalogs: {e}"))?;
    let replaced = loaded.iter().filter(|l| l.replaced).count();
    if replaced > 0 {
        log::info!("loaded {replaced} SAT catalogs");
    }

    let workers = config.workers;
    let base_url = config.public_base_url.clone();
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let state = crate::startup::state(config, pool)?;

    actix_web::rt::System::new().block_on(async move {
        let server = crate::startup::serve(state, listener, workers)
            .map_err(|e| format!("cannot start the HTTP server: {e}"))?;
        log::info!("listening on http://{address}");
        println!("Facturación API listening on http://{address}; Swagger UI: {base_url}/docs/");
        server
            .run()
            .await
            .map_err(|e| format!("the HTTP server failed: {e}"))
    })?;
    log::info!("server stopped");
    Ok(())
}
