//! The server binary: configuration, database (ours or `DATABASE_URL`), migrations, serving,
//! an orderly shutdown, and `catalogs load` for newer SAT catalogs. Every failure is one line on stderr and a non-zero exit code.

use std::net::TcpListener;
use std::process::ExitCode;

use persistence::catalogs::LoadError;
use persistence::cluster::{Durability, LocalCluster};
use secrecy::ExposeSecret;

use crate::config::{Config, DatabaseSource};

/// Name of the application database inside the local cluster.
const LOCAL_DATABASE: &str = "facturacion";

const USAGE: &str = "usage: api [openapi | catalogs load DIR]

  (no argument)      serve the API (configuration from environment variables, see README)
  openapi            print the OpenAPI document and exit
  catalogs load DIR  load a newer SAT publication (DIR/VERSION, DIR/c_*.csv) into the
                     database the server uses (same environment variables), while it serves";

pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] => {
            init_logging();
            run()
        }
        ["openapi"] => {
            print!("{}", crate::openapi::spec_json());
            return ExitCode::SUCCESS;
        }
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        ["catalogs", "load", dir] => {
            init_logging();
            load_catalogs(std::path::Path::new(dir))
        }
        _ => {
            eprintln!("error: unknown arguments `{}`\n{USAGE}", args.join(" "));
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// The database of the configuration: `DATABASE_URL`, or the local cluster (started if it is
/// not running) with whether we started it and so must stop it.
fn database(config: &Config) -> Result<(String, Option<(LocalCluster, bool)>), String> {
    match &config.database {
        DatabaseSource::Url(url) => Ok((url.expose_secret().to_string(), None)),
        DatabaseSource::Local { data_dir } => {
            let (url, cluster) = start_local_cluster(data_dir, config.pg_bindir.as_deref())?;
            Ok((url, Some(cluster)))
        }
    }
}

/// Stops the local cluster if we started it.
fn stop(cluster: Option<(LocalCluster, bool)>) {
    if let Some((cluster, true)) = &cluster {
        log::info!("stopping the local PostgreSQL cluster");
        if let Err(e) = cluster.stop() {
            log::error!("could not stop the local PostgreSQL cluster: {e}");
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
    let (database_url, cluster) = database(&config)?;
    let result = serve(config, listener, &database_url);
    stop(cluster);
    result
}

/// `api catalogs load DIR`: loads a newer SAT publication into the database the server uses.
/// Each changed catalog is swapped in one transaction, so a running server answers from the
/// old rows or the new ones, never from a mix; nothing is restarted.
fn load_catalogs(dir: &std::path::Path) -> Result<(), String> {
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let (database_url, cluster) = database(&config)?;
    let result = migrate(&config, &database_url).and_then(|pool| {
        let mut conn = persistence::pool::get(&pool)
            .map_err(|e| format!("cannot connect to the database: {e}"))?;
        // Every changed CSV is read and parsed before anything is written: only a database
        // failure can leave some catalogs loaded and others not.
        let refused = |e: LoadError| match e {
            LoadError::Store(_) => {
                format!("cannot load the SAT catalogs of {}: {e}", dir.display())
            }
            _ => format!(
                "cannot load the SAT catalogs of {}: {e}; no catalog was changed",
                dir.display()
            ),
        };
        let version = persistence::catalogs::dir_version(dir).map_err(refused)?;
        let loaded = persistence::catalogs::load_dir(&mut conn, dir).map_err(refused)?;
        for catalog in &loaded {
            if catalog.replaced {
                println!("{}: replaced with {} rows", catalog.name, catalog.rows);
            } else {
                println!("{}: unchanged", catalog.name);
            }
        }
        println!("version {version}");
        Ok(())
    });
    stop(cluster);
    result
}

/// Checks the connection, builds the pool and applies pending migrations.
fn migrate(config: &Config, database_url: &str) -> Result<persistence::DbPool, String> {
    persistence::pool::check_connection(database_url).map_err(|reason| {
        format!(
            "cannot connect to the database ({reason}); check that DATABASE_URL is right and the server is running, \
             or unset DATABASE_URL to use a local cluster"
        )
    })?;
    let pool = crate::startup::pool(config, database_url);
    let applied = persistence::pool::get(&pool)
        .and_then(|mut conn| persistence::run_migrations(&mut conn))
        .map_err(|e| format!("cannot migrate the database: {e}"))?;
    if applied > 0 {
        log::info!("applied {applied} database migrations");
    }
    Ok(pool)
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
    let pool = migrate(&config, database_url)?;
    // The catalogs compiled into this binary, where the database holds other content (first
    // start, or a new binary with a newer SAT publication).
    let loaded = persistence::pool::get(&pool)
        .map_err(LoadError::from)
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
    // Key rotation: what an older CSD_ENCRYPTION_KEY sealed is sealed again with the current one.
    let rotated = persistence::pool::get(&state.pool)
        .and_then(|mut conn| crate::routes::certificates::reencrypt_stored(&mut conn, &state.vault))
        .map_err(|e| format!("cannot re-encrypt the stored CSD keys: {e}"))?;
    if rotated.reencrypted > 0 {
        log::info!(
            "re-encrypted {} CSD private keys with the current CSD_ENCRYPTION_KEY",
            rotated.reencrypted
        );
    }
    if rotated.unreadable > 0 {
        log::error!(
            "{} CSD private keys open with no configured key: put the key that sealed them back in CSD_PREVIOUS_ENCRYPTION_KEYS",
            rotated.unreadable
        );
    }

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
