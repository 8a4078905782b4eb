//! Configuration, read once from environment variables into a typed, validated [`Config`].
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `APP_ENV` | `development` | `development` or `production`; production refuses to start without `JWT_SECRET` and `CSD_ENCRYPTION_KEY` |
//! | `DATABASE_URL` | unset | PostgreSQL URL; unset starts a project-local cluster in `DATA_DIR/postgres` |
//! | `DATABASE_POOL_SIZE` | `10` | connections in the pool (1–500) |
//! | `DATABASE_POOL_TIMEOUT_MS` | `5000` | wait for a connection before answering 503 |
//! | `DATABASE_STATEMENT_TIMEOUT_MS` | `30000` | `statement_timeout` of every connection |
//! | `DATA_DIR` | `./data` | local cluster (`postgres/`), the development JWT secret and CSD encryption key |
//! | `PG_BINDIR` | found | directory of `initdb`/`pg_ctl`/`postgres` for the local cluster |
//! | `BIND_ADDRESS` | `127.0.0.1:8080` | where the server listens |
//! | `HTTP_WORKERS` | number of CPUs | HTTP worker threads (1–64) |
//! | `PUBLIC_BASE_URL` | `http://<BIND_ADDRESS>` | absolute URL clients use; links in emails are built from it |
//! | `JWT_SECRET` | generated in development | HMAC key that signs access tokens (≥ 32 bytes) |
//! | `JWT_PREVIOUS_SECRETS` | empty | comma-separated older keys still accepted while tokens signed with them expire |
//! | `CSD_ENCRYPTION_KEY` | generated in development | base64 of 32 bytes: the AES-256-GCM key that encrypts the CSD private keys at rest; in development generated once into `DATA_DIR/csd-encryption-key` |
//! | `CSD_PREVIOUS_ENCRYPTION_KEYS` | empty | comma-separated former keys: what they encrypted still opens, and is re-encrypted with the current key at start-up |
//! | `PAC` | `sandbox` | who stamps CFDIs; `sandbox` (the only one so far) also accepts SAT's expired test CSDs |
//! | `PAC_SANDBOX_FAILURE_RATE` | `0` | share (0–1) of sandbox stamps that fail as an unavailable PAC would, to exercise the retry path (tests, staging); refused in production |
//! | `CORS_ALLOWED_ORIGINS` | empty | comma-separated origins allowed by CORS; none by default |
//! | `TRUSTED_PROXIES` | empty | comma-separated addresses or CIDRs of reverse proxies whose `X-Forwarded-For` names the client; empty ignores the header |
//! | `REQUEST_BODY_LIMIT` | `1048576` | largest accepted request body in bytes |
//! | `SMTP_URL` | unset | SMTP server for outgoing email (`smtp://user:pass@host:587?tls=required`, `smtps://…`); unset keeps emails in the outbox |
//! | `EMAIL_FROM` | `Facturación <no-reply@localhost>` | sender of outgoing email |
//! | `EMAIL_POLL_INTERVAL_MS` | `1000` | how often the delivery worker looks for due emails |
//! | `INVOICE_EMAILS_PER_HOUR` | `200` | invoice emails one organization may queue per hour (429 beyond) |
//! | `PUBLIC_REQUESTS_PER_MINUTE` | `60` | requests one client address may make per minute to the public invoice links (429 beyond) |
//! | `RUST_LOG` | `info` | log filter (env_logger syntax) |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::vault::EncryptionKey;

/// Where the service runs; decides how strict start-up is about secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How the service reaches PostgreSQL.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    /// `DATABASE_URL`: an existing server.
    Url(SecretString),
    /// No URL: a cluster of our own in this data directory.
    Local { data_dir: PathBuf },
}

/// An HMAC key for access tokens with the `kid` that names it in token headers.
#[derive(Debug, Clone)]
pub struct SigningKey {
    pub kid: String,
    pub secret: SecretString,
}

impl SigningKey {
    /// The `kid` is derived from the secret so that rotating keys needs no extra naming, and it
    /// reveals nothing usable about the secret.
    pub fn new(secret: SecretString) -> Self {
        let digest = Sha256::digest(secret.expose_secret().as_bytes());
        Self {
            kid: hex::encode(&digest[..8]),
            secret,
        }
    }
}

#[derive(Debug, Clone)]
pub struct JwtKeys {
    /// Signs new tokens.
    pub current: SigningKey,
    /// Still verify tokens signed before a rotation.
    pub previous: Vec<SigningKey>,
}

/// The keys of the CSD vault ([`crate::vault::Vault`]).
#[derive(Debug, Clone)]
pub struct CsdKeys {
    /// Encrypts new CSD private keys.
    pub current: EncryptionKey,
    /// Still decrypt what they encrypted before a rotation.
    pub previous: Vec<EncryptionKey>,
}

/// The PAC (proveedor autorizado de certificación) that stamps CFDIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pac {
    /// The built-in sandbox PAC: stamps without fiscal value.
    Sandbox,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub environment: Environment,
    pub database: DatabaseSource,
    pub pool_size: u32,
    pub pool_timeout: Duration,
    pub statement_timeout: Duration,
    pub data_dir: PathBuf,
    pub pg_bindir: Option<PathBuf>,
    pub bind_address: SocketAddr,
    pub workers: usize,
    pub public_base_url: String,
    /// `None` in development until [`Config::resolve_jwt_keys`] generates or loads one.
    pub jwt_secret: Option<SecretString>,
    pub jwt_previous_secrets: Vec<SecretString>,
    /// `None` in development until [`Config::resolve_csd_keys`] generates or loads one.
    pub csd_encryption_key: Option<EncryptionKey>,
    pub csd_previous_encryption_keys: Vec<EncryptionKey>,
    pub pac: Pac,
    /// Share of sandbox stamps made to fail (`PAC_SANDBOX_FAILURE_RATE`).
    pub pac_sandbox_failure_rate: f64,
    pub cors_allowed_origins: Vec<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs or
    /// addresses). Empty: the TCP peer is the client, and the header is ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub request_body_limit: usize,
    /// The larger limit of the CSV bulk imports (`POST /v1/{customers,products}/import`), which
    /// carry thousands of rows in one request.
    pub import_body_limit: usize,
    pub smtp_url: Option<SecretString>,
    pub email_from: String,
    pub email_poll_interval: Duration,
    /// Invoice emails an organization may queue per hour (`INVOICE_EMAILS_PER_HOUR`).
    pub invoice_emails_per_hour: u32,
    /// Requests one client address may make per minute to `/public/...`
    /// (`PUBLIC_REQUESTS_PER_MINUTE`).
    pub public_requests_per_minute: u32,
}

/// Everything wrong with the environment, reported at once.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

const MIN_SECRET_LEN: usize = 32;

impl Config {
    /// The largest body a request to `path` may send: the bulk imports take more, and the
    /// logo upload has a limit of its own.
    pub fn body_limit_for(&self, path: &str) -> usize {
        if path == crate::routes::branding::LOGO_PATH {
            crate::routes::branding::MAX_LOGO_BYTES
        } else if path.ends_with("/import") {
            self.import_body_limit.max(self.request_body_limit)
        } else {
            self.request_body_limit
        }
    }

    /// How uploaded CSDs are checked: the sandbox PAC accepts SAT's own (expired) test CSDs.
    pub fn csd_mode(&self) -> domain::csd::Mode {
        match self.pac {
            Pac::Sandbox => domain::csd::Mode::Sandbox,
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads configuration from `vars` (the environment, or a map in tests).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let mut errors = Vec::new();
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let environment = match get("APP_ENV").unwrap_or("development") {
            "development" | "dev" => Environment::Development,
            "production" | "prod" => Environment::Production,
            other => {
                errors.push(format!(
                    "APP_ENV must be `development` or `production`, not `{other}`"
                ));
                Environment::Development
            }
        };
        let pool_size = whole_number("DATABASE_POOL_SIZE", 10, 1, 500, vars, &mut errors) as u32;
        let invoice_emails_per_hour = whole_number(
            "INVOICE_EMAILS_PER_HOUR",
            200,
            1,
            100_000,
            vars,
            &mut errors,
        ) as u32;
        let public_requests_per_minute = whole_number(
            "PUBLIC_REQUESTS_PER_MINUTE",
            60,
            1,
            100_000,
            vars,
            &mut errors,
        ) as u32;
        let pool_timeout = Duration::from_millis(whole_number(
            "DATABASE_POOL_TIMEOUT_MS",
            5000,
            100,
            600_000,
            vars,
            &mut errors,
        ));
        let statement_timeout = Duration::from_millis(whole_number(
            "DATABASE_STATEMENT_TIMEOUT_MS",
            30_000,
            100,
            3_600_000,
            vars,
            &mut errors,
        ));
        let cpus = std::thread::available_parallelism().map_or(2, |n| n.get() as u64);
        let workers = whole_number("HTTP_WORKERS", cpus, 1, 64, vars, &mut errors) as usize;
        let request_body_limit = whole_number(
            "REQUEST_BODY_LIMIT",
            1024 * 1024,
            1024,
            512 * 1024 * 1024,
            vars,
            &mut errors,
        ) as usize;
        let import_body_limit = whole_number(
            "IMPORT_BODY_LIMIT",
            32 * 1024 * 1024,
            1024,
            1024 * 1024 * 1024,
            vars,
            &mut errors,
        ) as usize;

        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or("./data"));
        let database = match get("DATABASE_URL") {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseSource::Url(SecretString::from(url.to_string()))
            }
            Some(_) => {
                errors.push("DATABASE_URL must start with postgres:// or postgresql://".into());
                DatabaseSource::Local {
                    data_dir: data_dir.join("postgres"),
                }
            }
            None => DatabaseSource::Local {
                data_dir: data_dir.join("postgres"),
            },
        };

        let bind_address = match get("BIND_ADDRESS").unwrap_or("127.0.0.1:8080").parse() {
            Ok(addr) => addr,
            Err(_) => {
                errors.push(
                    "BIND_ADDRESS must be an IP address and port, like 127.0.0.1:8080".into(),
                );
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }
        };
        let public_base_url = match get("PUBLIC_BASE_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_string()
            }
            Some(_) => {
                errors.push("PUBLIC_BASE_URL must be an absolute http(s) URL".into());
                String::new()
            }
            None => format!("http://{bind_address}"),
        };

        let secret = |name: &str, value: &str, errors: &mut Vec<String>| {
            if value.len() < MIN_SECRET_LEN {
                errors.push(format!(
                    "{name} must be at least {MIN_SECRET_LEN} bytes long"
                ));
            }
            SecretString::from(value.to_string())
        };
        let jwt_secret = get("JWT_SECRET").map(|v| secret("JWT_SECRET", v, &mut errors));
        if jwt_secret.is_none() && environment == Environment::Production {
            errors.push("JWT_SECRET is required when APP_ENV=production".into());
        }
        let jwt_previous_secrets = get("JWT_PREVIOUS_SECRETS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| secret("JWT_PREVIOUS_SECRETS", s, &mut errors))
                    .collect()
            })
            .unwrap_or_default();

        let encryption_key = |name: &str, value: &str, errors: &mut Vec<String>| {
            EncryptionKey::from_base64(value)
                .map_err(|e| errors.push(format!("{name}: {e}")))
                .ok()
        };
        let csd_encryption_key = get("CSD_ENCRYPTION_KEY")
            .and_then(|v| encryption_key("CSD_ENCRYPTION_KEY", v, &mut errors));
        if get("CSD_ENCRYPTION_KEY").is_none() && environment == Environment::Production {
            errors.push("CSD_ENCRYPTION_KEY is required when APP_ENV=production".into());
        }
        let csd_previous_encryption_keys = get("CSD_PREVIOUS_ENCRYPTION_KEYS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .filter_map(|s| encryption_key("CSD_PREVIOUS_ENCRYPTION_KEYS", s, &mut errors))
                    .collect()
            })
            .unwrap_or_default();
        let pac = match get("PAC").unwrap_or("sandbox") {
            "sandbox" => Pac::Sandbox,
            other => {
                errors.push(format!(
                    "PAC must be `sandbox` (the only PAC so far), not `{other}`"
                ));
                Pac::Sandbox
            }
        };

        let pac_sandbox_failure_rate = match get("PAC_SANDBOX_FAILURE_RATE").map(str::parse::<f64>)
        {
            None => 0.0,
            Some(Ok(rate)) if (0.0..=1.0).contains(&rate) => rate,
            Some(_) => {
                errors.push("PAC_SANDBOX_FAILURE_RATE must be a number from 0 to 1".into());
                0.0
            }
        };
        if pac_sandbox_failure_rate > 0.0 && environment == Environment::Production {
            errors.push("PAC_SANDBOX_FAILURE_RATE is for tests and staging, not production".into());
        }

        let cors_allowed_origins: Vec<String> = get("CORS_ALLOWED_ORIGINS")
            .map(|list| {
                list.split(',')
                    .map(|s| s.trim().trim_end_matches('/').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for origin in &cors_allowed_origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://")) {
                errors.push(format!(
                    "CORS_ALLOWED_ORIGINS entries must be origins like https://app.example.com, not `{origin}`"
                ));
            }
        }

        let trusted_proxies = get("TRUSTED_PROXIES")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .filter_map(|entry| {
                        // A bare address is a network of one.
                        let parsed = entry.parse::<ipnet::IpNet>().or_else(|_| {
                            entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from)
                        });
                        parsed
                            .map_err(|_| {
                                errors.push(format!(
                                    "TRUSTED_PROXIES entries must be addresses or CIDRs like 10.0.0.0/8, not `{entry}`"
                                ))
                            })
                            .ok()
                    })
                    .collect()
            })
            .unwrap_or_default();

        let pg_bindir = get("PG_BINDIR").map(PathBuf::from);
        let smtp_url = match get("SMTP_URL") {
            Some(url) if url.starts_with("smtp://") || url.starts_with("smtps://") => {
                Some(SecretString::from(url.to_string()))
            }
            Some(_) => {
                errors.push("SMTP_URL must start with smtp:// or smtps://".into());
                None
            }
            None => None,
        };
        let email_from = get("EMAIL_FROM")
            .unwrap_or("Facturación <no-reply@localhost>")
            .to_string();
        if email_from.parse::<lettre::message::Mailbox>().is_err() {
            errors.push("EMAIL_FROM must be an address like `Name <name@example.com>`".into());
        }
        let email_poll_interval = Duration::from_millis(whole_number(
            "EMAIL_POLL_INTERVAL_MS",
            1000,
            50,
            600_000,
            vars,
            &mut errors,
        ));

        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        Ok(Self {
            environment,
            database,
            pool_size,
            pool_timeout,
            statement_timeout,
            data_dir,
            pg_bindir,
            bind_address,
            workers,
            public_base_url,
            jwt_secret,
            jwt_previous_secrets,
            csd_encryption_key,
            csd_previous_encryption_keys,
            pac,
            pac_sandbox_failure_rate,
            invoice_emails_per_hour,
            public_requests_per_minute,
            cors_allowed_origins,
            trusted_proxies,
            request_body_limit,
            import_body_limit,
            smtp_url,
            email_from,
            email_poll_interval,
        })
    }

    /// The signing keys: the configured secret, or in development one generated on first start
    /// and kept in `DATA_DIR/jwt-secret` so tokens survive restarts.
    pub fn resolve_jwt_keys(&self) -> Result<JwtKeys, String> {
        let current = match &self.jwt_secret {
            Some(secret) => secret.clone(),
            None if self.environment == Environment::Production => {
                return Err("JWT_SECRET is required when APP_ENV=production".into());
            }
            None => load_or_create(
                &self.data_dir.join("jwt-secret"),
                "JWT secret",
                || SecretString::from(hex::encode(rand::random::<[u8; 32]>())),
                |secret| SecretString::from(secret.expose_secret().to_string()),
                |text, path| {
                    if text.len() >= MIN_SECRET_LEN {
                        Ok(SecretString::from(text.to_string()))
                    } else {
                        Err(format!(
                            "{} is shorter than {MIN_SECRET_LEN} bytes; delete it to generate a new one",
                            path.display()
                        ))
                    }
                },
            )?,
        };
        Ok(JwtKeys {
            current: SigningKey::new(current),
            previous: self
                .jwt_previous_secrets
                .iter()
                .cloned()
                .map(SigningKey::new)
                .collect(),
        })
    }

    /// The CSD vault's keys: the configured key, or in development one generated on first
    /// start and kept in `DATA_DIR/csd-encryption-key`, so stored CSDs open after a restart.
    pub fn resolve_csd_keys(&self) -> Result<CsdKeys, String> {
        let current = match &self.csd_encryption_key {
            Some(key) => key.clone(),
            None if self.environment == Environment::Production => {
                return Err("CSD_ENCRYPTION_KEY is required when APP_ENV=production".into());
            }
            None => load_or_create(
                &self.data_dir.join("csd-encryption-key"),
                "CSD encryption key",
                EncryptionKey::generate,
                |key| SecretString::from(key.to_base64().as_str()),
                |text, path| {
                    EncryptionKey::from_base64(text).map_err(|_| {
                        format!(
                            "{} does not hold the base64 of 32 bytes; restore it from a backup \
                             (the CSD private keys stored with it open only with it)",
                            path.display()
                        )
                    })
                },
            )?,
        };
        Ok(CsdKeys {
            current,
            previous: self.csd_previous_encryption_keys.clone(),
        })
    }
}

/// A whole number from `vars`, `default` when unset; out of range is reported in `errors`.
fn whole_number(
    name: &str,
    default: u64,
    min: u64,
    max: u64,
    vars: &HashMap<String, String>,
    errors: &mut Vec<String>,
) -> u64 {
    match vars
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .map(str::parse::<u64>)
    {
        None => default,
        Some(Ok(n)) if (min..=max).contains(&n) => n,
        Some(_) => {
            errors.push(format!("{name} must be a whole number from {min} to {max}"));
            default
        }
    }
}

/// A development secret kept in the file `path` (mode 0600): read when it exists, else
/// made with `generate` and written (`to_text` gives what the file holds).
fn load_or_create<T>(
    path: &Path,
    what: &str,
    generate: impl FnOnce() -> T,
    to_text: impl FnOnce(&T) -> SecretString,
    parse: impl FnOnce(&str, &Path) -> Result<T, String>,
) -> Result<T, String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    match std::fs::read_to_string(path) {
        Ok(text) => return parse(text.trim(), path),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("cannot read {}: {e}", path.display()));
        }
        Err(_) => {}
    }
    let secret = generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(to_text(&secret).expose_secret().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    log::info!("generated a development {what} in {}", path.display());
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() -> Result<(), ConfigError> {
        let config = Config::from_vars(&HashMap::new())?;
        assert_eq!(config.environment, Environment::Development);
        assert!(
            matches!(config.database, DatabaseSource::Local { ref data_dir } if data_dir == Path::new("./data/postgres"))
        );
        assert_eq!(config.bind_address.to_string(), "127.0.0.1:8080");
        assert_eq!(config.public_base_url, "http://127.0.0.1:8080");
        assert!(config.cors_allowed_origins.is_empty());
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(config.request_body_limit, 1024 * 1024);
        assert_eq!(config.body_limit_for("/v1/customers"), 1024 * 1024);
        assert_eq!(
            config.body_limit_for("/v1/customers/import"),
            32 * 1024 * 1024
        );
        assert_eq!(config.pool_size, 10);
        Ok(())
    }

    #[test]
    fn every_invalid_variable_is_reported_at_once() {
        let err = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("DATABASE_POOL_SIZE", "0"),
            ("BIND_ADDRESS", "nowhere"),
            ("CORS_ALLOWED_ORIGINS", "app.example.com"),
            ("JWT_PREVIOUS_SECRETS", "short"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
            ("CSD_PREVIOUS_ENCRYPTION_KEYS", "c2hvcnQ="),
            ("PAC", "finkok"),
        ]))
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
        assert_eq!(err.len(), 9, "{err:?}");
        assert!(err.iter().any(|e| e.contains("proxy.internal")));
        assert!(err.iter().any(|e| e.contains("JWT_SECRET is required")));
        assert!(
            err.iter()
                .any(|e| e.contains("CSD_ENCRYPTION_KEY is required"))
        );
        assert!(
            err.iter()
                .any(|e| e.starts_with("CSD_PREVIOUS_ENCRYPTION_KEYS: "))
        );
        assert!(err.iter().any(|e| e.contains("`finkok`")));
    }

    #[test]
    fn secrets_never_show_in_debug_output() -> Result<(), ConfigError> {
        let secret = "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t";
        let csd_key = "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=";
        let config = Config::from_vars(&vars(&[
            ("JWT_SECRET", secret),
            ("DATABASE_URL", "postgres://app:hunter2@db/app"),
            ("CSD_ENCRYPTION_KEY", csd_key),
            ("CSD_PREVIOUS_ENCRYPTION_KEYS", csd_key),
        ]))?;
        let shown = format!("{config:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(csd_key), "{shown}");
        assert!(!shown.contains("171, 205"), "{shown}");
        assert_eq!(config.csd_mode(), domain::csd::Mode::Sandbox);
        Ok(())
    }

    #[test]
    fn development_secret_is_generated_once_and_kept() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir_str = dir.path().to_string_lossy().to_string();
        let config =
            Config::from_vars(&vars(&[("DATA_DIR", &dir_str)])).map_err(|e| e.to_string())?;
        let first = config.resolve_jwt_keys()?;
        let second = config.resolve_jwt_keys()?;
        assert_eq!(first.current.kid, second.current.kid);
        assert_eq!(
            first.current.secret.expose_secret(),
            second.current.secret.expose_secret()
        );
        let mode = std::fs::metadata(dir.path().join("jwt-secret"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .map_err(|e| e.to_string())?;
        assert_eq!(mode, 0o600);
        Ok(())
    }

    #[test]
    fn development_csd_key_is_generated_once_and_kept() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir_str = dir.path().to_string_lossy().to_string();
        let config =
            Config::from_vars(&vars(&[("DATA_DIR", &dir_str)])).map_err(|e| e.to_string())?;
        let first = config.resolve_csd_keys()?;
        let second = config.resolve_csd_keys()?;
        assert_eq!(first.current.id(), second.current.id());
        let path = dir.path().join("csd-encryption-key");
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let read = EncryptionKey::from_base64(&text).map_err(|e| e.to_string())?;
        assert_eq!(read.id(), first.current.id());
        let mode = std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .map_err(|e| e.to_string())?;
        assert_eq!(mode, 0o600);

        // A damaged file is refused, never silently replaced.
        std::fs::write(&path, "not a key").map_err(|e| e.to_string())?;
        let err = config.resolve_csd_keys().err().unwrap_or_default();
        assert!(err.contains("restore it from a backup"), "{err}");

        // A configured key is used as it is, the file is not read.
        let configured = Config::from_vars(&vars(&[
            ("DATA_DIR", &dir_str),
            ("CSD_ENCRYPTION_KEY", &first.current.to_base64()),
        ]))
        .map_err(|e| e.to_string())?;
        assert_eq!(
            configured.resolve_csd_keys()?.current.id(),
            first.current.id()
        );
        Ok(())
    }

    #[test]
    fn production_needs_the_csd_key() {
        let err = Config::from_vars(&vars(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t"),
        ]))
        .err()
        .map(|e| e.0)
        .unwrap_or_default();
        assert_eq!(
            err,
            ["CSD_ENCRYPTION_KEY is required when APP_ENV=production"]
        );
    }
}
