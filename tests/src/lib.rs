//! Test harness for black-box tests: every test gets its own PostgreSQL database, cloned from a
//! migrated template, and the real application serving HTTP on a free port.
//!
//! The server is the one in `DATABASE_URL` (`cargo xtask test` starts a throwaway cluster and
//! sets it). Databases are named `test_<unix seconds>_<random>`; one left behind by a crashed
//! run is dropped by a later run once it is an hour old. `TEST_LOG=1` shows the server's logs.
#![expect(
    clippy::expect_used,
    reason = "test harness: a failed setup step aborts the test with its message"
)]

pub mod pdf;
pub mod smtp;
pub mod widgets;

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use sha2::{Digest, Sha256};

/// How old a test database must be before a later run may drop it as a leftover.
const LEFTOVER_AGE_SECS: u64 = 60 * 60;

/// The server every test database lives on.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run the tests with `cargo xtask test`, which starts a PostgreSQL \
         server for them, or point DATABASE_URL at a server you can create databases on",
    )
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (head, rest) = url.split_at(scheme_end);
    let query_start = rest.find('?').unwrap_or(rest.len());
    let (location, query) = rest.split_at(query_start);
    let authority = location.split('/').next().unwrap_or("");
    format!("{head}{authority}/{database}{query}")
}

fn init_logging() {
    static LOG: Once = Once::new();
    LOG.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ =
                env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                    .is_test(true)
                    .try_init();
        }
    });
}

/// Name of the template for the current migrations and catalogs.
fn template_name() -> String {
    // The template holds the migrations and the SAT catalogs: a change to either is a new one.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<_> = walk(&dir.join("migrations"));
    files.extend(walk(&dir.join("catalogs")));
    files.sort();
    let mut hash = Sha256::new();
    for file in files {
        hash.update(
            file.strip_prefix(&dir)
                .unwrap_or(&file)
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update(std::fs::read(&file).expect("read a migration file"));
    }
    format!("tmpl_{}", &hex::encode(hash.finalize())[..16])
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .expect("read the migrations directory")
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() {
                walk(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the migrated template once per server and migrations version (other test processes
/// wait on an advisory lock), and sweeps what crashed runs left behind.
fn ensure_template(admin: &mut PgConnection, admin_url: &str) -> String {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let template = template_name();
            // Any constant shared by every test process works as the lock key.
            admin
                .batch_execute("SELECT pg_advisory_lock(727274)")
                .expect("take the template lock");
            let exists: Exists = diesel::sql_query(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists",
            )
            .bind::<Text, _>(&template)
            .get_result(admin)
            .expect("look for the template");
            if !exists.exists {
                sweep_templates(admin);
                let building = format!("{template}_building");
                admin
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        quote(&building)
                    ))
                    .expect("drop a half-built template");
                admin
                    .batch_execute(&format!("CREATE DATABASE {}", quote(&building)))
                    .expect("create the template");
                {
                    let mut conn = PgConnection::establish(&with_database(admin_url, &building))
                        .expect("connect to the template");
                    persistence::run_migrations(&mut conn).expect("migrate the template");
                    persistence::catalogs::load_embedded(&mut conn)
                        .expect("load the catalogs into the template");
                }
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {} RENAME TO {}; ALTER DATABASE {} IS_TEMPLATE true",
                        quote(&building),
                        quote(&template),
                        quote(&template)
                    ))
                    .expect("publish the template");
            }
            sweep_leftovers(admin);
            admin
                .batch_execute("SELECT pg_advisory_unlock(727274)")
                .expect("release the template lock");
            template
        })
        .clone()
}

/// Drops templates of older migrations.
fn sweep_templates(admin: &mut PgConnection) {
    let old: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'tmpl\\_%'")
            .load(admin)
            .unwrap_or_default();
    for db in old {
        let name = quote(&db.datname);
        let _ = admin.batch_execute(&format!(
            "ALTER DATABASE {name} IS_TEMPLATE false; DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        ));
    }
}

/// Drops test databases older than an hour: no test runs that long, so their test crashed.
fn sweep_leftovers(admin: &mut PgConnection) {
    let now = unix_now();
    let dbs: Vec<Name> =
        diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
            .load(admin)
            .unwrap_or_default();
    for db in dbs {
        let created = db
            .datname
            .split('_')
            .nth(1)
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| now.saturating_sub(t) > LEFTOVER_AGE_SECS) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote(&db.datname)
            ));
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A database of one test's own, dropped when the test ends (also when it fails).
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl TestDb {
    pub fn create() -> Self {
        init_logging();
        let admin_url = admin_url();
        let mut admin = PgConnection::establish(&admin_url).expect("connect to DATABASE_URL");
        let template = ensure_template(&mut admin, &admin_url);
        let name = format!("test_{}_{}", unix_now(), uuid::Uuid::now_v7().simple());
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {} TEMPLATE {}",
                quote(&name),
                quote(&template)
            ))
            .expect("create the test database");
        Self {
            url: with_database(&admin_url, &name),
            name,
            admin_url,
        }
    }

    pub fn connect(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&self.admin_url) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote(&self.name)
            ));
        }
    }
}

/// The real application, serving on a free port against its own database.
#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    pub server: Server,
    pub client: reqwest::Client,
    pub db: TestDb,
}

/// The CSD encryption key (`CSD_ENCRYPTION_KEY`) of every test app: base64 of 32 bytes.
pub const CSD_ENCRYPTION_KEY: &str = "wllEjbI+JvPOeZ3637jkyggockD40tZvXQHhzUiqqpY=";

/// Configuration every test app starts from; tests override entries with [`TestApp::spawn_with`].
pub fn base_vars(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", "test-secret-that-is-long-enough-0123456789"),
        ("CSD_ENCRYPTION_KEY", CSD_ENCRYPTION_KEY),
        ("DATABASE_POOL_SIZE", "4"),
        // Long enough that a loaded machine's slow new connection is not a 503, short because
        // each test's runtime waits that long at shutdown (see the note in the README). The
        // outage test sets its own, shorter one.
        ("DATABASE_POOL_TIMEOUT_MS", "2000"),
        ("HTTP_WORKERS", "1"),
        // Without SMTP the worker only counts what waits; tests that send email set their own.
        ("EMAIL_POLL_INTERVAL_MS", "600000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app after `customize` has changed its environment variables.
    pub async fn spawn_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> Self {
        let db = TestDb::create();
        let mut vars = base_vars(&db.url);
        customize(&mut vars);
        let server = start_server(&vars, &db.url, None);
        Self {
            address: server.address.clone(),
            server,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("build an HTTP client"),
            db,
        }
    }

    /// Starts the app with the test-only `/test/widgets` resource mounted, which exercises the
    /// shared API machinery (idempotency, pagination, ETags) on a real table.
    pub async fn spawn_with_widgets() -> Self {
        let db = TestDb::create();
        widgets::create_table(&mut db.connect());
        let vars = base_vars(&db.url);
        let server = start_server(&vars, &db.url, Some(widgets::configure));
        Self {
            address: server.address.clone(),
            server,
            client: reqwest::Client::new(),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path))
    }
}

/// Starts the server on the current Tokio runtime.
pub fn start_server(
    vars: &HashMap<String, String>,
    database_url: &str,
    extra: Option<fn(&mut actix_web::web::ServiceConfig)>,
) -> Server {
    let config = api::config::Config::from_vars(vars).expect("a valid test configuration");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("read the port").port();
    let pool = api::startup::pool(&config, database_url);
    let state = api::startup::state(config, pool).expect("build the application state");
    let running = api::startup::serve_with(state, listener, 1, extra).expect("start the server");
    let handle = running.handle();
    let background = running.background_tasks();
    tokio::spawn(running.run());
    Server {
        address: format!("http://127.0.0.1:{port}"),
        handle,
        background,
    }
}

/// A server started by [`start_server`].
#[derive(Debug)]
pub struct Server {
    pub address: String,
    handle: actix_web::dev::ServerHandle,
    background: Vec<tokio::task::AbortHandle>,
}

/// Background tasks end with the server handle, before the test's database is dropped: a task
/// still polling a dropped database would hold the runtime's shutdown for a pool timeout.
impl Drop for Server {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl Server {
    /// Stops it as SIGTERM would: in-flight requests finish, background tasks end.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
        for task in &self.background {
            task.abort();
        }
    }
}

/// The JSON body of a response, after checking its status.
pub async fn json_of(response: reqwest::Response, status: u16) -> serde_json::Value {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).expect("a JSON body")
}

/// Asserts that `response` is a problem document with `status` and `code`; returns its body.
pub async fn problem_of(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = json_of(response, status).await;
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["request_id"], request_id.as_str(), "{body}");
    assert!(
        body["title"].is_string() && body["detail"].is_string() && body["type"].is_string(),
        "{body}"
    );
    body
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_replaced_in_any_url_form() {
        assert_eq!(
            with_database("postgres://postgres@/postgres?host=/tmp/x&port=5432", "t1"),
            "postgres://postgres@/t1?host=/tmp/x&port=5432"
        );
        assert_eq!(
            with_database("postgres://u:p@db:5432/app", "t2"),
            "postgres://u:p@db:5432/t2"
        );
        assert_eq!(with_database("postgresql://db", "t3"), "postgresql://db/t3");
    }
}

/// An organization registered through the API, with its owner's session.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub organization_id: String,
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl Tenant {
    /// Reads a `{organization, user, session}` answer (registration, accepted invitation).
    fn from_session_body(body: &serde_json::Value) -> Self {
        let text = |v: &serde_json::Value| v.as_str().expect("a string").to_string();
        Self {
            organization_id: text(&body["organization"]["id"]),
            user_id: text(&body["user"]["id"]),
            access_token: text(&body["session"]["access_token"]),
            refresh_token: text(&body["session"]["refresh_token"]),
        }
    }
}

/// Two organizations whose RFCs are valid: SAT's test company and test individual.
pub const TENANTS: [(&str, &str); 2] = [("EKU9003173C9", "601"), ("CACX7605101P8", "612")];

/// The password of SAT's test CSDs.
pub const TEST_CSD_PASSWORD: &str = "12345678a";

/// A file of SAT's public test CSDs (`shared/sat/test-csd/`, beside the repository), such as
/// `eku9003173c9_csd.cer`.
pub fn test_csd(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/sat/test-csd")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read SAT's test CSD {}: {e} (shared/ must be beside the repository)",
            path.display()
        )
    })
}

/// The body of `POST /v1/organization/certificates` with the test CSD of organization `n` of
/// [`TENANTS`].
pub fn csd_upload(n: usize) -> serde_json::Value {
    use base64::Engine as _;
    let name = TENANTS[n].0.to_lowercase();
    let b64 = |file: &str| base64::engine::general_purpose::STANDARD.encode(test_csd(file));
    serde_json::json!({
        "certificate": b64(&format!("{name}_csd.cer")),
        "private_key": b64(&format!("{name}_csd.key")),
        "password": TEST_CSD_PASSWORD,
    })
}

impl TestApp {
    /// Registers organization `n` of [`TENANTS`] with owner `email`.
    pub async fn register_tenant(&self, n: usize, email: &str) -> Tenant {
        let (rfc, regime) = TENANTS[n];
        let body = serde_json::json!({
            "organization": {"legal_name": format!("ORGANIZACION {n}"), "rfc": rfc, "tax_regime": regime, "postal_code": "42501"},
            "owner": {"name": "Owner", "email": email, "password": "correct horse battery staple"}
        });
        let response = self
            .post("/v1/auth/register")
            .json(&body)
            .send()
            .await
            .expect("send");
        Tenant::from_session_body(&json_of(response, 201).await)
    }
}

/// The token in a link `…?token=<token>` of an email (quoted-printable bodies are decoded).
pub fn token_in_email(message: &str, link_prefix: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let mut text = Vec::new();
    let bytes = joined.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            text.push(b);
            i += 3;
            continue;
        }
        text.push(bytes[i]);
        i += 1;
    }
    let text = String::from_utf8_lossy(&text);
    let start = text
        .find(link_prefix)
        .unwrap_or_else(|| panic!("no link {link_prefix} in {text}"));
    text[start + link_prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

impl TestApp {
    /// An app that sends email to a real SMTP server, and that server.
    pub async fn spawn_with_mail() -> (Self, smtp::SmtpSink) {
        let sink = smtp::SmtpSink::start();
        let url = sink.url();
        let app = Self::spawn_with(move |vars| {
            vars.insert("SMTP_URL".into(), url);
            vars.insert("EMAIL_POLL_INTERVAL_MS".into(), "50".into());
            vars.insert("PUBLIC_BASE_URL".into(), "https://app.example.com".into());
        })
        .await;
        (app, sink)
    }

    /// Invites `email` as `role` with `inviter`'s token, follows the emailed link, and returns
    /// the new member's session.
    pub async fn add_member(
        &self,
        sink: &smtp::SmtpSink,
        inviter: &str,
        email: &str,
        role: &str,
    ) -> Tenant {
        let response = self
            .post("/v1/invitations")
            .bearer_auth(inviter)
            .json(&serde_json::json!({ "email": email, "role": role }))
            .send()
            .await
            .expect("send");
        json_of(response, 201).await;
        let message = sink.wait_for(email).await;
        let token = token_in_email(&message, "https://app.example.com/accept-invitation?token=");
        let response = self
            .post("/v1/auth/invitations/accept")
            .json(&serde_json::json!({ "token": token, "name": role, "password": "correct horse battery staple" }))
            .send()
            .await
            .expect("send");
        Tenant::from_session_body(&json_of(response, 201).await)
    }
}

/// One organization with a caller of every kind: the four user roles and an API client.
#[derive(Debug, Clone)]
pub struct Team {
    pub owner: Tenant,
    pub admin: Tenant,
    pub accountant: Tenant,
    pub viewer: Tenant,
    /// An access token of an API client created with the `client_role` role.
    pub client_token: String,
    pub client_role: String,
}

impl Team {
    /// The access tokens in the order of [`Team::CALLERS`].
    pub fn tokens(&self) -> [&str; 5] {
        [
            &self.owner.access_token,
            &self.admin.access_token,
            &self.accountant.access_token,
            &self.viewer.access_token,
            &self.client_token,
        ]
    }

    /// The callers' names, for messages.
    pub const CALLERS: [&'static str; 5] = ["owner", "admin", "accountant", "viewer", "client"];
}

impl TestApp {
    /// Registers organization `n` of [`TENANTS`] and adds an admin, an accountant, a viewer and
    /// an API client with `client_role`.
    pub async fn team(&self, sink: &smtp::SmtpSink, n: usize, client_role: &str) -> Team {
        let owner = self
            .register_tenant(n, &format!("owner{n}@example.com"))
            .await;
        let mut members = Vec::new();
        for role in ["admin", "accountant", "viewer"] {
            members.push(
                self.add_member(
                    sink,
                    &owner.access_token,
                    &format!("{role}{n}@example.com"),
                    role,
                )
                .await,
            );
        }
        let client_token = self.client_token(&owner.access_token, client_role).await;
        let [admin, accountant, viewer] = <[Tenant; 3]>::try_from(members).expect("three members");
        Team {
            owner,
            admin,
            accountant,
            viewer,
            client_token,
            client_role: client_role.to_string(),
        }
    }

    /// Creates an API client with `role` and returns an access token of it.
    pub async fn client_token(&self, owner_token: &str, role: &str) -> String {
        let response = self
            .post("/v1/api-clients")
            .bearer_auth(owner_token)
            .json(&serde_json::json!({"name": format!("ERP {role}"), "role": role}))
            .send()
            .await
            .expect("send");
        let created = json_of(response, 201).await;
        let response = self
            .post("/v1/oauth/token")
            .json(&serde_json::json!({
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            }))
            .send()
            .await
            .expect("send");
        json_of(response, 200).await["access_token"]
            .as_str()
            .expect("an access token")
            .to_string()
    }
}

/// A request as `who`, with `body` as its JSON body when given.
pub async fn call(
    app: &TestApp,
    who: &Tenant,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> reqwest::Response {
    let mut request = app.request(method, path).bearer_auth(&who.access_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("send the request")
}

/// The `pointer code` of every error of a validation problem, sorted.
pub fn pointers(problem: &serde_json::Value) -> Vec<String> {
    let mut found: Vec<String> = problem["errors"]
        .as_array()
        .expect("a validation problem has errors")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["pointer"].as_str().unwrap_or(""),
                e["code"].as_str().unwrap_or("")
            )
        })
        .collect();
    found.sort();
    found
}

/// Makes organization 0 (owner `owner`) ready to issue: its test CSD, a default series `F`
/// for invoices, and a customer (SAT's test individual, régimen 612) with `emails`; returns
/// the customer's id.
pub async fn ready_to_issue(app: &TestApp, owner: &Tenant, emails: &[&str]) -> String {
    let post = |path: &'static str, body: serde_json::Value| async move {
        let response = call(app, owner, reqwest::Method::POST, path, Some(body)).await;
        json_of(response, 201).await
    };
    post("/v1/organization/certificates", csd_upload(0)).await;
    post(
        "/v1/series",
        serde_json::json!({"prefix": "F", "document_type": "I", "is_default": true}),
    )
    .await;
    let customer = post(
        "/v1/customers",
        serde_json::json!({
            "legal_name": "XOCHILT CASAS CHAVEZ", "rfc": "CACX7605101P8", "tax_regime": "612",
            "tax_postal_code": "42501", "cfdi_use": "G03", "emails": emails
        }),
    )
    .await;
    customer["id"].as_str().expect("a customer id").to_string()
}

/// A PUE invoice for `customer_id` with one line of `unit_price` plus IVA 16 %.
pub fn one_line_invoice(customer_id: &str, unit_price: &str) -> serde_json::Value {
    serde_json::json!({
        "customer_id": customer_id, "payment_method": "PUE", "payment_form": "03",
        "lines": [{"quantity": "1", "unit_price": unit_price, "description": "Consultoría",
                   "product_key": "84111506", "unit_key": "E48", "tax_object": "02",
                   "taxes": [{"tax": "002", "factor": "Tasa", "rate": "0.160000"}]}]
    })
}

/// Creates and issues `body` as `owner`; returns the issued invoice.
pub async fn issue_new(
    app: &TestApp,
    owner: &Tenant,
    body: serde_json::Value,
) -> serde_json::Value {
    let draft = json_of(
        call(
            app,
            owner,
            reqwest::Method::POST,
            "/v1/invoices",
            Some(body),
        )
        .await,
        201,
    )
    .await;
    let id = draft["id"].as_str().expect("an invoice id");
    let path = format!("/v1/invoices/{id}/issue");
    json_of(
        call(app, owner, reqwest::Method::POST, &path, None).await,
        200,
    )
    .await
}
