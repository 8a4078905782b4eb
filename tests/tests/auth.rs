//! Registration, login, sessions and access tokens, over HTTP against the real service.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use serde_json::{Value, json};
use tests::{TestApp, json_of, problem_of};

const PASSWORD: &str = "correct horse battery staple";

fn registration(rfc: &str, email: &str) -> Value {
    json!({
        "organization": {
            "legal_name": "ESCUELA KEMPER URGATE",
            "rfc": rfc,
            "tax_regime": "601",
            "postal_code": "42501"
        },
        "owner": {"name": "Ana López", "email": email, "password": PASSWORD}
    })
}

async fn register(app: &TestApp, rfc: &str, email: &str) -> Value {
    let response = app
        .post("/v1/auth/register")
        .json(&registration(rfc, email))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post("/v1/auth/login")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn me(app: &TestApp, token: &str) -> reqwest::Response {
    app.get("/v1/me").bearer_auth(token).send().await.unwrap()
}

fn count(app: &TestApp, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<Count>(&mut app.db.connect())
        .unwrap()
        .n
}

#[tokio::test]
async fn registering_creates_the_organization_and_logs_the_owner_in() {
    let app = TestApp::spawn().await;
    let body = register(&app, "EKU9003173C9", "ana@example.com").await;
    assert_eq!(body["organization"]["rfc"], "EKU9003173C9");
    assert_eq!(body["organization"]["tax_regime"], "601");
    assert_eq!(body["user"]["role"], "owner");
    assert_eq!(body["user"]["email"], "ana@example.com");
    assert!(body["user"].get("password_hash").is_none());
    assert_eq!(body["session"]["token_type"], "Bearer");
    assert!(body["session"]["expires_in"].as_u64().unwrap() <= 900);

    let token = body["session"]["access_token"].as_str().unwrap();
    let me = json_of(me(&app, token).await, 200).await;
    assert_eq!(me["user"]["id"], body["user"]["id"]);
    assert_eq!(me["organization"]["legal_name"], "ESCUELA KEMPER URGATE");
}

#[tokio::test]
async fn every_invalid_field_is_reported_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/v1/auth/register")
        .json(&json!({
            "organization": {"legal_name": " ", "rfc": "EKU9003173C8", "tax_regime": "999", "postal_code": "00001"},
            "owner": {"name": "", "email": "not-an-email", "password": "short"}
        }))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    let mut pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    pointers.sort();
    assert_eq!(
        pointers,
        [
            "/organization/legal_name",
            "/organization/postal_code",
            "/organization/rfc",
            "/organization/tax_regime",
            "/owner/email",
            "/owner/name",
            "/owner/password"
        ]
    );
    assert_eq!(count(&app, "organizations"), 0);
    assert_eq!(count(&app, "users"), 0);
}

#[tokio::test]
async fn the_tax_regime_must_fit_the_kind_of_person() {
    let app = TestApp::spawn().await;
    // 605 (salaries) is for individuals; EKU9003173C9 is a company.
    let mut body = registration("EKU9003173C9", "ana@example.com");
    body["organization"]["tax_regime"] = json!("605");
    let response = app
        .post("/v1/auth/register")
        .json(&body)
        .send()
        .await
        .unwrap();
    let problem = problem_of(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/organization/tax_regime");
    assert_eq!(problem["errors"][0]["code"], "tax_regime_not_applicable");

    // An individual (13-character RFC) with a regime for individuals is fine.
    let mut body = registration("CACX7605101P8", "xochitl@example.com");
    body["organization"]["tax_regime"] = json!("612");
    let response = app
        .post("/v1/auth/register")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn a_taken_email_or_rfc_is_a_conflict_that_changes_nothing() {
    let app = TestApp::spawn().await;
    register(&app, "EKU9003173C9", "ana@example.com").await;
    let mut individual = registration("CACX7605101P8", "ANA@example.com");
    individual["organization"]["tax_regime"] = json!("612");
    let response = app
        .post("/v1/auth/register")
        .json(&individual)
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 409, "email_taken").await;
    assert_eq!(body["errors"][0]["pointer"], "/owner/email");
    let response = app
        .post("/v1/auth/register")
        .json(&registration("EKU9003173C9", "other@example.com"))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 409, "rfc_taken").await;
    assert_eq!(body["errors"][0]["pointer"], "/organization/rfc");
    assert_eq!(count(&app, "organizations"), 1);
    assert_eq!(count(&app, "users"), 1);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let app = TestApp::spawn().await;
    register(&app, "EKU9003173C9", "ana@example.com").await;
    let wrong = login(&app, "ana@example.com", "wrong password!!").await;
    let unknown = login(&app, "nobody@example.com", "wrong password!!").await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        unknown.headers()["www-authenticate"]
    );
    let mut a: Value = wrong.json().await.unwrap();
    let mut b: Value = unknown.json().await.unwrap();
    a["request_id"] = Value::Null;
    b["request_id"] = Value::Null;
    assert_eq!(a, b);
    assert_eq!(a["code"], "invalid_credentials");

    let ok = json_of(login(&app, "ANA@example.com", PASSWORD).await, 200).await;
    assert!(ok["access_token"].is_string() && ok["refresh_token"].is_string());
}

#[tokio::test]
async fn repeated_failures_back_off_with_retry_after() {
    let app = TestApp::spawn().await;
    register(&app, "EKU9003173C9", "ana@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            login(&app, "ana@example.com", "wrong password!!")
                .await
                .status(),
            401
        );
    }
    // Blocked now, even with the right password.
    let response = login(&app, "ana@example.com", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    problem_of(response, 429, "too_many_attempts").await;
    assert!(count(&app, "security_events WHERE kind = 'login_failed'") >= 5);
}

async fn login_from(app: &TestApp, forwarded_for: &str, email: &str) -> reqwest::Response {
    app.post("/v1/auth/login")
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"email": email, "password": "wrong password!!"}))
        .send()
        .await
        .unwrap()
}

/// Per-address back-off behind a reverse proxy: the proxy's `X-Forwarded-For` names the client.
/// Every attempt uses another email, so only the address counter can trip.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_address_backs_off() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("TRUSTED_PROXIES".into(), "127.0.0.0/8, ::1".into());
    })
    .await;
    for n in 0..20 {
        let response = login_from(&app, "203.0.113.5", &format!("u{n}@example.com")).await;
        assert_eq!(response.status(), 401);
    }
    problem_of(
        login_from(&app, "203.0.113.5", "next@example.com").await,
        429,
        "too_many_attempts",
    )
    .await;
    // Another client behind the same proxy is not locked out with it.
    assert_eq!(
        login_from(&app, "203.0.113.6", "next@example.com")
            .await
            .status(),
        401
    );
    // The security log records the client, not the proxy.
    assert_eq!(
        count(
            &app,
            "security_events WHERE kind = 'login_failed' AND client_address = '203.0.113.5'"
        ),
        20
    );
}

/// Without trusted proxies the header is the client's own claim: changing it on every attempt
/// does not escape the back-off.
#[tokio::test]
async fn an_untrusted_forwarded_header_cannot_dodge_the_back_off() {
    let app = TestApp::spawn().await;
    for n in 0..20 {
        let response = login_from(
            &app,
            &format!("198.51.100.{n}"),
            &format!("u{n}@example.com"),
        )
        .await;
        assert_eq!(response.status(), 401);
    }
    problem_of(
        login_from(&app, "198.51.100.99", "next@example.com").await,
        429,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let registered = register(&app, "EKU9003173C9", "ana@example.com").await;
    let first = registered["session"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    let refresh = |token: String| {
        let request = app
            .post("/v1/auth/refresh")
            .json(&json!({ "refresh_token": token }));
        async move { request.send().await.unwrap() }
    };
    let rotated = json_of(refresh(first.clone()).await, 200).await;
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        me(&app, rotated["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // The first token was copied by someone: its reuse revokes the second too.
    problem_of(refresh(first).await, 401, "invalid_refresh_token").await;
    problem_of(refresh(second).await, 401, "invalid_refresh_token").await;
    assert_eq!(
        count(&app, "security_events WHERE kind = 'refresh_token_reused'"),
        1
    );
}

#[tokio::test]
async fn logout_revokes_the_refresh_token_and_can_be_repeated() {
    let app = TestApp::spawn().await;
    register(&app, "EKU9003173C9", "ana@example.com").await;
    let session = json_of(login(&app, "ana@example.com", PASSWORD).await, 200).await;
    let token = session["refresh_token"].clone();
    for _ in 0..2 {
        let response = app
            .post("/v1/auth/logout")
            .json(&json!({ "refresh_token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
    let response = app
        .post("/v1/auth/refresh")
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap();
    problem_of(response, 401, "invalid_refresh_token").await;
}

mod forged {
    //! Access tokens built by hand, to check every way a token can be wrong.
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use serde_json::{Value, json};

    pub const SECRET: &str = "test-secret-that-is-long-enough-0123456789";

    pub fn kid() -> String {
        api::config::SigningKey::new(secrecy::SecretString::from(SECRET.to_string())).kid
    }

    pub fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// Valid claims for `sub`/`org` that a test then spoils.
    pub fn claims(sub: &str, org: &str) -> Value {
        json!({
            "iss": "http://127.0.0.1:8080", "aud": "facturacion-api", "sub": sub, "org": org,
            "role": "owner", "iat": now(), "nbf": now(), "exp": now() + 600,
            "jti": uuid::Uuid::now_v7(), "token_use": "access"
        })
    }

    pub fn sign(claims: &Value, secret: &str, kid: Option<String>) -> String {
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some("at+jwt".into());
        header.kid = kid;
        encode(
            &header,
            claims,
            &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    pub fn unsigned(claims: &Value) -> String {
        let header = json!({"alg": "none", "typ": "at+jwt", "kid": kid()});
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.", part(&header), part(claims))
    }
}

#[tokio::test]
async fn every_kind_of_bad_token_is_a_401_problem() {
    let app = TestApp::spawn().await;
    let registered = register(&app, "EKU9003173C9", "ana@example.com").await;
    let sub = registered["user"]["id"].as_str().unwrap();
    let org = registered["organization"]["id"].as_str().unwrap();
    let good = forged::claims(sub, org);
    assert_eq!(
        me(
            &app,
            &forged::sign(&good, forged::SECRET, Some(forged::kid()))
        )
        .await
        .status(),
        200,
        "the forging helper itself makes valid tokens"
    );

    let response = app.get("/v1/me").send().await.unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"facturacion\""
    );
    problem_of(response, 401, "missing_token").await;

    let spoiled = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    let cases: Vec<(&str, String)> = vec![
        ("garbage", "not.a.jwt".to_string()),
        ("alg none", forged::unsigned(&good)),
        (
            "wrong signature",
            forged::sign(
                &good,
                "another-secret-another-secret-another",
                Some(forged::kid()),
            ),
        ),
        (
            "expired",
            forged::sign(
                &spoiled("exp", json!(forged::now() - 3600)),
                forged::SECRET,
                Some(forged::kid()),
            ),
        ),
        (
            "not yet valid",
            forged::sign(
                &spoiled("nbf", json!(forged::now() + 3600)),
                forged::SECRET,
                Some(forged::kid()),
            ),
        ),
        (
            "wrong audience",
            forged::sign(
                &spoiled("aud", json!("someone-else")),
                forged::SECRET,
                Some(forged::kid()),
            ),
        ),
        (
            "wrong issuer",
            forged::sign(
                &spoiled("iss", json!("https://evil.example")),
                forged::SECRET,
                Some(forged::kid()),
            ),
        ),
        (
            "unknown kid",
            forged::sign(&good, forged::SECRET, Some("0000000000000000".into())),
        ),
        ("no kid", forged::sign(&good, forged::SECRET, None)),
        (
            "not an access token",
            forged::sign(
                &spoiled("token_use", json!("refresh")),
                forged::SECRET,
                Some(forged::kid()),
            ),
        ),
        (
            "a refresh token",
            registered["session"]["refresh_token"]
                .as_str()
                .unwrap()
                .to_string(),
        ),
    ];
    for (case, token) in cases {
        let response = me(&app, &token).await;
        assert_eq!(response.status(), 401, "{case}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"facturacion\", error=\"invalid_token\"",
            "{case}"
        );
        problem_of(response, 401, "invalid_token").await;
    }
}
