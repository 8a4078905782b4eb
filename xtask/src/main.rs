//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `test [ARGS…]`: runs every test (`cargo nextest run --workspace ARGS…`)
//!   against a real PostgreSQL: the server of `DATABASE_URL` if set, else a throwaway cluster
//!   started here and removed afterwards. Clusters of crashed earlier runs are swept first.
//! - `openapi`: writes `openapi/openapi.json` from the handlers (the drift test compares them).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use persistence::cluster::{Durability, LocalCluster};

const CLUSTER_PREFIX: &str = "facturacion-test-";
const OWNER_FILE: &str = "owner.pid";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("openapi") => openapi(),
        _ => Err("usage: cargo xtask test [NEXTEST ARGS…] | cargo xtask openapi".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

fn run(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})"))
    }
}

fn test(args: &[String]) -> Result<(), String> {
    let external = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (database_url, cluster) = match external {
        Some(url) => {
            eprintln!("xtask: testing against DATABASE_URL");
            (url, None)
        }
        None => {
            sweep_crashed_clusters();
            let cluster = Throwaway::start()?;
            eprintln!(
                "xtask: started a throwaway PostgreSQL cluster in {}",
                cluster.dir.path().display()
            );
            (cluster.cluster.url("postgres"), Some(cluster))
        }
    };

    let nextest_available = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    let mut tests = cargo();
    if nextest_available {
        tests.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        eprintln!("xtask: cargo-nextest not found; using cargo test");
        tests.args(["test", "--workspace", "--no-fail-fast"]);
    }
    let python = test_python()?;
    tests
        .args(args)
        .env("DATABASE_URL", &database_url)
        .env("TEST_PYTHON", &python);
    // The crates are not libraries for others and hold no doc tests; nextest runs every test.
    let result = run(&mut tests);
    drop(cluster);
    result
}

/// A Python with the servers the tests start (an SMTP sink), in a virtual environment under
/// `target/` made on first use from `tests/requirements.txt`.
fn test_python() -> Result<PathBuf, String> {
    let root = workspace_root();
    let requirements = root.join("tests/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    let venv = root.join("target/test-tools/venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) && python.exists() {
        return Ok(python);
    }
    eprintln!(
        "xtask: installing the test tools of tests/requirements.txt into {}",
        venv.display()
    );
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())?;
    Ok(python)
}

/// A cluster in a temporary directory, stopped and removed when dropped.
struct Throwaway {
    cluster: LocalCluster,
    dir: tempfile::TempDir,
}

impl Throwaway {
    fn start() -> Result<Self, String> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::Builder::new()
            .prefix(CLUSTER_PREFIX)
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        // When we are root the server runs as `postgres`, which must be able to enter here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| e.to_string())?;
        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())
            .map_err(|e| e.to_string())?;
        let bin_dir = std::env::var_os("PG_BINDIR").map(PathBuf::from);
        let cluster = LocalCluster::new(
            &dir.path().join("pg"),
            bin_dir.as_deref(),
            Durability::Throwaway,
        )
        .map_err(|e| e.to_string())?;
        cluster.init().map_err(|e| e.to_string())?;
        cluster.start().map_err(|e| e.to_string())?;
        Ok(Self { cluster, dir })
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        if let Err(e) = self.cluster.stop() {
            eprintln!("xtask: could not stop the test cluster: {e}");
        }
        if let Err(e) = self.cluster.remove() {
            eprintln!("xtask: could not remove the test cluster: {e}");
        }
    }
}

/// Stops and removes throwaway clusters whose `cargo xtask test` process no longer exists.
fn sweep_crashed_clusters() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(CLUSTER_PREFIX));
        if !is_ours {
            continue;
        }
        let owner_alive = std::fs::read_to_string(path.join(OWNER_FILE))
            .ok()
            .and_then(|pid| pid.trim().parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if owner_alive {
            continue;
        }
        eprintln!(
            "xtask: removing the cluster of a crashed run in {}",
            path.display()
        );
        if let Ok(cluster) = LocalCluster::new(&path.join("pg"), None, Durability::Throwaway) {
            if cluster.is_running() {
                let _ = cluster.stop();
            }
            let _ = cluster.remove();
        }
        let _ = std::fs::remove_dir_all(&path);
    }
}

fn openapi() -> Result<(), String> {
    let output = cargo()
        .args(["run", "--quiet", "--package", "api", "--", "openapi"])
        .output()
        .map_err(|e| format!("cannot run the api binary: {e}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let path = workspace_root().join("openapi/openapi.json");
    std::fs::write(&path, &output.stdout)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("xtask: wrote {}", path.display());
    Ok(())
}
