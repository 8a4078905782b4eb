//! `Idempotency-Key` on POST (API.md), driven through the test resource.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::time::Duration;

use serde_json::json;
use tests::{TestApp, json_of, problem_of};

async fn post(app: &TestApp, key: Option<&str>, body: serde_json::Value) -> reqwest::Response {
    let mut request = app.post("/test/widgets").json(&body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

async fn count(app: &TestApp) -> usize {
    let page = json_of(
        app.get("/test/widgets?limit=100").send().await.unwrap(),
        200,
    )
    .await;
    page["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn same_key_and_body_replays_the_first_response() {
    let app = TestApp::spawn_with_widgets().await;
    let first = post(&app, Some("key-1"), json!({"name": "gear"})).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let location = first.headers()["location"].clone();
    let first_body = first.text().await.unwrap();

    let again = post(&app, Some("key-1"), json!({"name": "gear"})).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(count(&app).await, 1, "the widget was created once");
}

#[tokio::test]
async fn same_key_with_another_body_is_refused() {
    let app = TestApp::spawn_with_widgets().await;
    assert_eq!(
        post(&app, Some("key-2"), json!({"name": "gear"}))
            .await
            .status(),
        201
    );
    let response = post(&app, Some("key-2"), json!({"name": "sprocket"})).await;
    problem_of(response, 422, "idempotency_key_reused").await;
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn same_key_while_the_first_runs_is_a_conflict() {
    let app = TestApp::spawn_with_widgets().await;
    let slow = {
        let request = app
            .post("/test/widgets")
            .header("idempotency-key", "key-3")
            .json(&json!({"name": "slow", "slow_ms": 4000}));
        tokio::spawn(async move { request.send().await.unwrap().status() })
    };
    // Wait until the first request holds the key (its row exists), then send the second.
    let mut conn = app.db.connect();
    for _ in 0..200 {
        if held_keys(&mut conn) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let response = post(
        &app,
        Some("key-3"),
        json!({"name": "slow", "slow_ms": 4000}),
    )
    .await;
    problem_of(response, 409, "idempotency_key_in_use").await;
    assert_eq!(slow.await.unwrap(), 201);
    assert_eq!(count(&app).await, 1);
}

#[tokio::test]
async fn a_request_that_failed_validation_stores_nothing() {
    let app = TestApp::spawn_with_widgets().await;
    let response = post(&app, Some("key-4"), json!({"name": ""})).await;
    problem_of(response, 422, "validation_failed").await;
    // Give the key's release (done after the response) a moment, then reuse the key corrected.
    let mut conn = app.db.connect();
    for _ in 0..200 {
        if held_keys(&mut conn) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        held_keys(&mut conn),
        0,
        "the failed request left its key behind"
    );
    let response = post(&app, Some("key-4"), json!({"name": "fixed"})).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn requests_without_a_key_are_not_deduplicated() {
    let app = TestApp::spawn_with_widgets().await;
    assert_eq!(post(&app, None, json!({"name": "a"})).await.status(), 201);
    assert_eq!(post(&app, None, json!({"name": "a"})).await.status(), 201);
    assert_eq!(count(&app).await, 2);
}

#[tokio::test]
async fn an_unusable_key_is_a_400() {
    let app = TestApp::spawn_with_widgets().await;
    let long = "k".repeat(256);
    let response = post(&app, Some(&long), json!({"name": "a"})).await;
    problem_of(response, 400, "invalid_idempotency_key").await;
    assert_eq!(count(&app).await, 0);
}

#[tokio::test]
async fn authentication_is_judged_before_the_key() {
    let app = TestApp::spawn().await;
    let long = "k".repeat(256);
    // An operation that needs a token refuses a caller without one first, whatever the key.
    let response = app
        .post("/v1/products")
        .header("idempotency-key", &long)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem_of(response, 401, "missing_token").await;
    // A public operation still judges the key.
    let response = app
        .post("/v1/auth/login")
        .header("idempotency-key", &long)
        .json(&json!({"email": "a@example.com", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    problem_of(response, 400, "invalid_idempotency_key").await;
}

#[tokio::test]
async fn keys_are_kept_a_day_then_pruned() {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn_with_widgets().await;
    assert_eq!(
        post(&app, Some("old"), json!({"name": "a"})).await.status(),
        201
    );
    assert_eq!(
        post(&app, Some("new"), json!({"name": "b"})).await.status(),
        201
    );
    let mut conn = app.db.connect();
    conn.batch_execute(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'",
    )
    .unwrap();
    let pruned =
        persistence::idempotency::prune(&mut conn, api::middleware::idempotency::KEEP_FOR).unwrap();
    assert_eq!(pruned, 1);
    // The young key still replays; the pruned one runs afresh.
    let replay = post(&app, Some("new"), json!({"name": "b"})).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let fresh = post(&app, Some("old"), json!({"name": "a"})).await;
    assert!(fresh.headers().get("idempotent-replayed").is_none());
}

fn held_keys(conn: &mut diesel::PgConnection) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM idempotency_keys")
        .get_result::<Count>(conn)
        .unwrap()
        .n
}

#[tokio::test]
async fn keys_belong_to_their_tenant() {
    let app = TestApp::spawn_with_widgets().await;
    let a = app.register_tenant(0, "a@example.com").await;
    let b = app.register_tenant(1, "b@example.com").await;
    for tenant in [&a, &b] {
        let response = app
            .post("/test/widgets")
            .bearer_auth(&tenant.access_token)
            .header("idempotency-key", "shared-key")
            .json(&json!({"name": "same"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        assert!(
            response.headers().get("idempotent-replayed").is_none(),
            "one tenant's key must not replay another tenant's response"
        );
    }
    assert_eq!(count(&app).await, 2);
}

/// A key released (a request that failed validation) or pruned between a claim's insert and
/// its read is free: the claim takes it, it does not fail. Two threads claim and release the
/// same key as fast as they can; before the claim retried, some claims ended in NotFound.
#[test]
fn a_key_released_while_it_is_claimed_is_taken() {
    use persistence::idempotency::{Claim, claim, release};
    let db = tests::TestDb::create();
    let race = |fingerprint: &'static [u8]| {
        let mut conn = db.connect();
        move || {
            for _ in 0..300 {
                match claim(&mut conn, "race", "k", fingerprint, Duration::from_secs(60)) {
                    Ok(Claim::Acquired) => release(&mut conn, "race", "k").unwrap(),
                    Ok(_) => {}
                    Err(e) => panic!("claim failed: {e}"),
                }
            }
        }
    };
    let (a, b) = (race(&[1; 32]), race(&[2; 32]));
    std::thread::scope(|s| {
        let a = s.spawn(a);
        let b = s.spawn(b);
        a.join().unwrap();
        b.join().unwrap();
    });
}
