//! A project-local PostgreSQL cluster, built from the server binaries installed on the machine.
//!
//! Used when `DATABASE_URL` is unset (the run command) and by the test runner for its throwaway
//! cluster. The cluster listens only on a Unix socket in a directory that only its owner can
//! enter, so `trust` authentication exposes it to nobody else and two clusters never fight over
//! a TCP port.
//!
//! PostgreSQL refuses to run as root: when this process is root, every server command runs as
//! the `postgres` system user (through `runuser`), and the directories it needs are given to it.
//!
//! No crate covered this: `pgtemp` and `postgresql_embedded` either download binaries (no
//! network here) or run `initdb` as the calling user, which fails as root.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nix::unistd::{Gid, Uid, User, chown};
use sha2::{Digest, Sha256};

/// Port number of the socket file (`.s.PGSQL.<port>`); it never touches TCP.
const SOCKET_PORT: u16 = 5432;
/// Settings file rewritten at every start and included from `postgresql.conf`.
const SETTINGS_FILE: &str = "facturacion.conf";
/// Unix socket paths are limited to 107 bytes; keep a margin for `.s.PGSQL.5432.lock`.
const MAX_SOCKET_DIR_LEN: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found{0}; install PostgreSQL \
         (Debian: apt-get install postgresql), set PG_BINDIR to their directory, or set DATABASE_URL \
         to an existing server"
    )]
    BinariesNotFound(String),
    #[error(
        "running as root, but the `postgres` system user that must own the cluster does not exist; \
         create it (Debian: apt-get install postgresql) or set DATABASE_URL to an existing server"
    )]
    NoPostgresUser,
    #[error(
        "the `postgres` user cannot write to {0}; choose a data directory it can reach with DATA_DIR \
         (every parent directory must be searchable by it) or set DATABASE_URL"
    )]
    DataDirNotAccessible(PathBuf),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed: {output}")]
    Command { command: String, output: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ClusterError + '_ {
    move |source| ClusterError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How the cluster should trade durability for speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Normal PostgreSQL settings: what the run command uses for data that must survive.
    Durable,
    /// `fsync = off` and friends: for throwaway test clusters only.
    Throwaway,
}

/// A PostgreSQL cluster in a data directory of ours.
#[derive(Debug)]
pub struct LocalCluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    /// `Some` when this process is root and the server runs as the `postgres` user.
    run_as: Option<User>,
    durability: Durability,
}

impl LocalCluster {
    /// Describes the cluster in `data_dir` (made absolute), finding the server binaries in
    /// `bin_dir` or, when `None`, in the usual places. Nothing is created yet.
    pub fn new(
        data_dir: &Path,
        bin_dir: Option<&Path>,
        durability: Durability,
    ) -> Result<Self, ClusterError> {
        let bin_dir = find_bin_dir(bin_dir)?;
        let data_dir = std::path::absolute(data_dir).map_err(io_err(data_dir))?;
        let run_as = if Uid::effective().is_root() {
            Some(
                User::from_name("postgres")
                    .ok()
                    .flatten()
                    .ok_or(ClusterError::NoPostgresUser)?,
            )
        } else {
            None
        };
        let socket_dir = socket_dir_for(&data_dir);
        Ok(Self {
            bin_dir,
            data_dir,
            socket_dir,
            run_as,
            durability,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The libpq URL of database `database` as superuser `postgres` over the Unix socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@/{database}?host={}&port={SOCKET_PORT}",
            self.socket_dir.display()
        )
    }

    /// Whether `initdb` has already run in the data directory.
    pub fn is_initialized(&self) -> bool {
        self.data_dir.join("PG_VERSION").is_file()
    }

    /// Runs `initdb` unless the data directory already holds a cluster.
    pub fn init(&self) -> Result<(), ClusterError> {
        if self.is_initialized() {
            return Ok(());
        }
        self.prepare_dir(&self.data_dir)?;
        self.check_writable(&self.data_dir)?;
        let pgdata = self.data_dir.as_os_str();
        self.run(
            &self.bin_dir.join("initdb"),
            [
                OsStr::new("--pgdata"),
                pgdata,
                OsStr::new("--username=postgres"),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--locale=C.UTF-8"),
                OsStr::new("--no-instructions"),
            ],
        )?;
        let conf = self.data_dir.join("postgresql.conf");
        let mut text = fs::read_to_string(&conf).map_err(io_err(&conf))?;
        text.push_str(&format!("\ninclude_if_exists = '{SETTINGS_FILE}'\n"));
        fs::write(&conf, text).map_err(io_err(&conf))?;
        Ok(())
    }

    /// Whether a server is running on the data directory.
    pub fn is_running(&self) -> bool {
        self.pg_ctl(&["status"]).is_ok()
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<(), ClusterError> {
        self.prepare_dir(&self.socket_dir)?;
        let settings = self.data_dir.join(SETTINGS_FILE);
        let mut text = format!(
            "# Written by facturacion at every start; edit postgresql.conf instead.\n\
             listen_addresses = ''\n\
             port = {SOCKET_PORT}\n\
             unix_socket_directories = '{}'\n\
             unix_socket_permissions = 0700\n\
             max_connections = 200\n",
            self.socket_dir.display()
        );
        if self.durability == Durability::Throwaway {
            text.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        fs::write(&settings, text).map_err(io_err(&settings))?;
        self.give_to_server_user(&settings)?;
        let log = self.data_dir.join("server.log");
        let log = log.to_string_lossy();
        self.pg_ctl(&["start", "--wait", "--timeout=60", "--log", &log])?;
        Ok(())
    }

    /// Stops the server, letting sessions end cleanly (`fast` mode: rolls back open
    /// transactions, disconnects clients, writes a checkpoint).
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["stop", "--wait", "--timeout=60", "--mode=fast"])?;
        Ok(())
    }

    /// Initializes the cluster if needed and starts it unless it already runs. Returns whether
    /// this call started it (and so whoever called it should stop it).
    pub fn ensure_running(&self) -> Result<bool, ClusterError> {
        self.init()?;
        if self.is_running() {
            return Ok(false);
        }
        self.start()?;
        Ok(true)
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<Output, ClusterError> {
        let pgdata = self.data_dir.as_os_str();
        let args = [OsStr::new("--pgdata"), pgdata]
            .into_iter()
            .chain(args.iter().map(OsStr::new));
        self.run(&self.bin_dir.join("pg_ctl"), args)
    }

    /// Runs a server command as the user that owns the cluster, in its own process group so a
    /// Ctrl-C in our terminal reaches us (to shut down in order) and not the server.
    fn run<I, S>(&self, program: &Path, args: I) -> Result<Output, ClusterError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        use std::os::unix::process::CommandExt;
        let mut command = match &self.run_as {
            Some(user) => {
                let mut wrapped = Command::new("runuser");
                wrapped.arg("-u").arg(&user.name).arg("--").arg(program);
                wrapped
            }
            None => Command::new(program),
        };
        command.args(args);
        let printable = format!("{command:?}");
        let output = command
            .current_dir("/")
            .stdin(Stdio::null())
            .process_group(0)
            .output()
            .map_err(|source| ClusterError::Command {
                command: printable.clone(),
                output: source.to_string(),
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            let mut text = String::from_utf8_lossy(&output.stderr).trim().to_string();
            if text.is_empty() {
                text = String::from_utf8_lossy(&output.stdout).trim().to_string();
            }
            Err(ClusterError::Command {
                command: printable,
                output: text,
            })
        }
    }

    /// Creates `dir` (mode 0700) and, when running as root, hands it to the server user.
    fn prepare_dir(&self, dir: &Path) -> Result<(), ClusterError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
        self.give_to_server_user(dir)
    }

    fn give_to_server_user(&self, path: &Path) -> Result<(), ClusterError> {
        if let Some(user) = &self.run_as {
            chown(path, Some(user.uid), Some(user.gid))
                .map_err(|errno| io_err(path)(io::Error::from(errno)))?;
        }
        Ok(())
    }

    /// As root, our own access proves nothing: ask the server user whether it can write there.
    fn check_writable(&self, dir: &Path) -> Result<(), ClusterError> {
        if self.run_as.is_none() {
            return Ok(());
        }
        self.run(Path::new("test"), [OsStr::new("-w"), dir.as_os_str()])
            .map(|_| ())
            .map_err(|_| ClusterError::DataDirNotAccessible(dir.to_path_buf()))
    }

    /// Removes the data directory and the socket directory. The server must be stopped.
    pub fn remove(&self) -> Result<(), ClusterError> {
        for dir in [&self.data_dir, &self.socket_dir] {
            match fs::remove_dir_all(dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(io_err(dir)(e)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The socket lives in the data directory when the path is short enough, else in a directory
/// under `/tmp` named after the data directory.
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    if data_dir.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        return data_dir.to_path_buf();
    }
    let digest = Sha256::digest(data_dir.as_os_str().as_encoded_bytes());
    PathBuf::from(format!(
        "/tmp/facturacion-pg-{}",
        &hex::encode(digest)[..16]
    ))
}

/// Finds a directory with `initdb`, `pg_ctl` and `postgres`: the explicit one, else
/// `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`, else `$PATH`.
pub fn find_bin_dir(explicit: Option<&Path>) -> Result<PathBuf, ClusterError> {
    let has_server = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    if let Some(dir) = explicit {
        return if has_server(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(ClusterError::BinariesNotFound(format!(
                " in PG_BINDIR={}",
                dir.display()
            )))
        };
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let mut debian: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    debian.sort();
    let from_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    from_pg_config
        .into_iter()
        .chain(debian.into_iter().rev().map(|(_, dir)| dir))
        .chain(from_path)
        .find(|dir| has_server(dir))
        .ok_or_else(|| ClusterError::BinariesNotFound(String::new()))
}

/// The user and group ids that will own the cluster's files (for callers creating files in it).
pub fn server_owner(cluster: &LocalCluster) -> Option<(Uid, Gid)> {
    cluster.run_as.as_ref().map(|u| (u.uid, u.gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_bindir_without_binaries_is_a_clear_error() {
        let err = find_bin_dir(Some(Path::new("/nonexistent"))).err();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(text.contains("PG_BINDIR=/nonexistent"), "{text}");
        assert!(text.contains("DATABASE_URL"), "{text}");
    }

    #[test]
    fn long_data_dirs_put_the_socket_under_tmp() {
        let short = Path::new("/srv/data/postgres");
        assert_eq!(socket_dir_for(short), short);
        let long = PathBuf::from(format!("/srv/{}/postgres", "x".repeat(100)));
        let dir = socket_dir_for(&long);
        assert!(
            dir.to_string_lossy().starts_with("/tmp/facturacion-pg-"),
            "{}",
            dir.display()
        );
        assert_eq!(
            dir,
            socket_dir_for(&long),
            "the same data dir maps to the same socket"
        );
    }

    #[test]
    fn url_points_at_the_socket_directory() {
        let cluster = LocalCluster {
            bin_dir: PathBuf::from("/usr/bin"),
            data_dir: PathBuf::from("/srv/pg"),
            socket_dir: PathBuf::from("/srv/pg"),
            run_as: None,
            durability: Durability::Durable,
        };
        assert_eq!(
            cluster.url("app"),
            "postgres://postgres@/app?host=/srv/pg&port=5432"
        );
    }
}
