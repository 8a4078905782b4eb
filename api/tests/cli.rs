//! The server binary as a new user meets it: started with no configuration it creates and runs
//! its own PostgreSQL cluster, serves, and shuts down in order; misconfigured, it says what to do
//! in one line and exits non-zero, without a panic.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_api");

/// The binary with a clean environment: nothing inherited from the test runner's configuration.
fn api() -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "DATABASE_URL",
        "JWT_SECRET",
        "BIND_ADDRESS",
        "DATA_DIR",
        "APP_ENV",
        "PG_BINDIR",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Exits non-zero with exactly one line on stderr, starting with `error:` and containing
/// `hint`, and nothing that looks like a panic.
fn assert_one_line_failure(output: &Output, hint: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exited successfully: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line: {stderr}");
    assert!(lines[0].contains(hint), "{hint} not in: {stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
}

#[test]
fn missing_postgresql_binaries_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let output = api()
        .env("DATA_DIR", dir.path())
        .env("PG_BINDIR", "/nonexistent")
        .env("BIND_ADDRESS", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_one_line_failure(&output, "PostgreSQL server binaries");
}

#[test]
fn unreachable_database_url_is_explained() {
    let output = api()
        .env(
            "DATABASE_URL",
            "postgres://nobody@127.0.0.1:1/nothing?connect_timeout=2",
        )
        .env("BIND_ADDRESS", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert_one_line_failure(&output, "cannot connect to the database");
}

#[test]
fn port_in_use_is_explained() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let output = api()
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
        .env("BIND_ADDRESS", busy.local_addr().unwrap().to_string())
        .output()
        .unwrap();
    assert_one_line_failure(&output, "BIND_ADDRESS");
}

#[test]
fn production_requires_a_jwt_secret() {
    let output = api()
        .env("APP_ENV", "production")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
        .output()
        .unwrap();
    assert_one_line_failure(&output, "JWT_SECRET is required");
}

#[test]
fn production_requires_a_csd_encryption_key() {
    let output = api()
        .env("APP_ENV", "production")
        .env("JWT_SECRET", "a-production-secret-of-at-least-32-bytes")
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/nothing")
        .output()
        .unwrap();
    assert_one_line_failure(&output, "CSD_ENCRYPTION_KEY is required");
}

/// Starts the server on `port` with its data in `data_dir`; returns once it prints its address.
fn start(data_dir: &Path, port: u16) -> (Child, String) {
    let mut child = api()
        .env("DATA_DIR", data_dir)
        .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    BufReader::new(stdout).read_line(&mut banner).unwrap();
    (child, banner)
}

fn stop(mut child: Child) -> (bool, String) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.success(), stderr)
}

#[test]
fn runs_with_no_configuration_on_its_own_cluster_and_keeps_data_across_restarts() {
    use diesel::prelude::*;
    let dir = tempfile::Builder::new()
        .prefix("facturacion-cli-")
        .tempdir()
        .unwrap();
    // As root the cluster runs as `postgres`, which must be able to reach the data directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    let (child, banner) = start(dir.path(), port);
    assert!(
        banner.contains(&format!("{base}/docs/")),
        "banner: {banner}"
    );
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        client.get(format!("{base}/docs/")).send().unwrap().status(),
        200
    );
    let cluster = persistence::cluster::LocalCluster::new(
        &dir.path().join("postgres"),
        None,
        persistence::cluster::Durability::Durable,
    )
    .unwrap();
    let mut conn = PgConnection::establish(&cluster.url("facturacion")).unwrap();
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        "CREATE TABLE survives (note text); INSERT INTO survives VALUES ('kept')",
    )
    .unwrap();
    drop(conn);

    let (clean, stderr) = stop(child);
    assert!(clean, "did not exit cleanly: {stderr}");
    assert!(
        stderr.contains("GET /readyz 200"),
        "no access log line: {stderr}"
    );
    assert!(stderr.contains("request_id="), "{stderr}");
    assert!(
        !cluster.is_running(),
        "the cluster it started is still running"
    );
    let secret = std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap();
    assert!(secret.len() >= 32);
    assert!(
        !stderr.contains(secret.trim()),
        "the JWT secret was logged: {stderr}"
    );
    let csd_key = std::fs::read_to_string(dir.path().join("csd-encryption-key")).unwrap();
    assert!(api::vault::EncryptionKey::from_base64(&csd_key).is_ok());
    assert!(
        !stderr.contains(csd_key.trim()),
        "the CSD encryption key was logged: {stderr}"
    );

    let (child, _) = start(dir.path(), port);
    assert_eq!(
        client
            .get(format!("{base}/readyz"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let mut conn = PgConnection::establish(&cluster.url("facturacion")).unwrap();
    #[derive(QueryableByName)]
    struct Note {
        #[diesel(sql_type = diesel::sql_types::Text)]
        note: String,
    }
    let notes: Vec<Note> = diesel::sql_query("SELECT note FROM survives")
        .load(&mut conn)
        .unwrap();
    assert_eq!(
        notes.iter().map(|n| n.note.as_str()).collect::<Vec<_>>(),
        ["kept"]
    );
    drop(conn);
    let (clean, stderr) = stop(child);
    assert!(clean, "{stderr}");
    assert!(!cluster.is_running());
    // The development CSD key is kept, or the stored CSDs would no longer open.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("csd-encryption-key")).unwrap(),
        csd_key
    );
}
