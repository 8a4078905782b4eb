//! Forgotten and changed passwords, with the email delivered by a real SMTP server.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use serde_json::json;
use tests::smtp::SmtpSink;
use tests::{TestApp, json_of, problem_of};

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn app_with_mail(sink: &SmtpSink) -> TestApp {
    let url = sink.url();
    TestApp::spawn_with(move |vars| {
        vars.insert("SMTP_URL".into(), url);
        vars.insert("EMAIL_POLL_INTERVAL_MS".into(), "100".into());
        vars.insert("PUBLIC_BASE_URL".into(), "https://app.example.com".into());
    })
    .await
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/v1/auth/password/forgot")
        // The link must ignore what the client claims the host is.
        .header("host", "evil.example.com")
        .json(&json!({ "email": email }))
        .send()
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post("/v1/auth/login")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

fn reset_token(message: &str) -> String {
    let token = tests::token_in_email(message, "https://app.example.com/reset-password?token=");
    assert!(token.len() >= 43, "a 256-bit token: {token}");
    token
}

#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_emailed_link() {
    let sink = SmtpSink::start();
    let app = app_with_mail(&sink).await;
    let owner = app.register_tenant(0, "ana@example.com").await;

    let known = forgot(&app, "ana@example.com").await;
    let unknown = forgot(&app, "nobody@example.com").await;
    assert_eq!(known.status(), 202);
    assert_eq!(unknown.status(), 202);
    assert_eq!(
        known.text().await.unwrap(),
        unknown.text().await.unwrap(),
        "the answer reveals nothing"
    );

    let message = sink.wait_for("ana@example.com").await;
    assert!(
        !message.contains("evil.example.com"),
        "the link must come from PUBLIC_BASE_URL"
    );
    let token = reset_token(&message);

    let response = app
        .post("/v1/auth/password/reset")
        .json(&json!({"token": token, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);

    assert_eq!(login(&app, "ana@example.com", PASSWORD).await.status(), 401);
    assert_eq!(
        login(&app, "ana@example.com", NEW_PASSWORD).await.status(),
        200
    );
    // Every earlier session ended.
    let response = app
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": owner.refresh_token}))
        .send()
        .await
        .unwrap();
    problem_of(response, 401, "invalid_refresh_token").await;
    // The link works once.
    let response = app
        .post("/v1/auth/password/reset")
        .json(&json!({"token": token, "new_password": "yet another passphrase"}))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "invalid_reset_token");
    assert_eq!(sink.messages().len(), 1, "no email for the unknown address");
}

#[tokio::test]
async fn reset_requests_are_rate_limited_per_email() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        assert_eq!(forgot(&app, "someone@example.com").await.status(), 202);
    }
    let response = forgot(&app, "someone@example.com").await;
    assert!(response.headers().contains_key("retry-after"));
    problem_of(response, 429, "too_many_requests").await;
}

#[tokio::test]
async fn without_smtp_emails_wait_in_the_outbox() {
    let app = TestApp::spawn().await;
    app.register_tenant(0, "ana@example.com").await;
    assert_eq!(forgot(&app, "ana@example.com").await.status(), 202);
    let pending = outbox_statuses(&app);
    assert_eq!(pending, [("pending".to_string(), 0)]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_survive_a_restart() {
    use diesel::connection::SimpleConnection;
    // First the SMTP server is unreachable: the attempt fails and is scheduled again.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(move |vars| {
        vars.insert("SMTP_URL".into(), format!("smtp://127.0.0.1:{closed}"));
        vars.insert("EMAIL_POLL_INTERVAL_MS".into(), "100".into());
    })
    .await;
    app.register_tenant(0, "ana@example.com").await;
    assert_eq!(forgot(&app, "ana@example.com").await.status(), 202);
    let mut statuses = Vec::new();
    for _ in 0..100 {
        statuses = outbox_statuses(&app);
        if statuses.first().is_some_and(|(_, attempts)| *attempts > 0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        statuses,
        [("pending".to_string(), 1)],
        "one failed attempt, still pending"
    );

    // The instance stops; a new one (a restart) with a working SMTP server delivers the email
    // once its retry is due.
    app.server.stop().await;
    app.db
        .connect()
        .batch_execute("UPDATE email_outbox SET next_attempt_at = now()")
        .unwrap();
    let sink = SmtpSink::start();
    let vars = {
        let mut vars = tests::base_vars(&app.db.url);
        vars.insert("SMTP_URL".into(), sink.url());
        vars.insert("EMAIL_POLL_INTERVAL_MS".into(), "100".into());
        vars
    };
    let _restarted = tests::start_server(&vars, &app.db.url, None);
    sink.wait_for("ana@example.com").await;
    for _ in 0..100 {
        statuses = outbox_statuses(&app);
        if statuses.first().is_some_and(|(status, _)| status == "sent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(statuses, [("sent".to_string(), 2)]);
    assert_eq!(sink.messages().len(), 1, "delivered once");
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "ana@example.com").await;
    let other = json_of(login(&app, "ana@example.com", PASSWORD).await, 200).await;

    let change = |current: &str| {
        app.post("/v1/auth/password/change")
            .bearer_auth(&owner.access_token)
            .json(&json!({"current_password": current, "new_password": NEW_PASSWORD}))
            .send()
    };
    let body = problem_of(
        change("not my password").await.unwrap(),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/current_password");
    assert_eq!(body["errors"][0]["code"], "wrong_password");
    assert_eq!(change(PASSWORD).await.unwrap().status(), 204);

    let refresh = |token: serde_json::Value| {
        app.post("/v1/auth/refresh")
            .json(&json!({ "refresh_token": token }))
            .send()
    };
    // The session that changed it goes on; the other one ended.
    assert_eq!(
        refresh(json!(owner.refresh_token)).await.unwrap().status(),
        200
    );
    problem_of(
        refresh(other["refresh_token"].clone()).await.unwrap(),
        401,
        "invalid_refresh_token",
    )
    .await;
    assert_eq!(
        login(&app, "ana@example.com", NEW_PASSWORD).await.status(),
        200
    );
}

fn outbox_statuses(app: &TestApp) -> Vec<(String, i32)> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
        #[diesel(sql_type = diesel::sql_types::Integer)]
        attempts: i32,
    }
    diesel::sql_query("SELECT status, attempts FROM email_outbox ORDER BY created_at")
        .load::<Row>(&mut app.db.connect())
        .unwrap()
        .into_iter()
        .map(|r| (r.status, r.attempts))
        .collect()
}
