//! The HTTP conventions of API.md that every endpoint shares: problem documents for every
//! error, request ids, body limits and media types.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use reqwest::StatusCode;
use serde_json::json;
use tests::{TestApp, problem_of};

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;
    let response = app.get("/v1/nothing-here").send().await.unwrap();
    problem_of(response, 404, "not_found").await;
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let app = TestApp::spawn().await;
    let response = app
        .request(reqwest::Method::DELETE, "/readyz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    problem_of(response, 405, "method_not_allowed").await;
}

#[tokio::test]
async fn a_literal_route_is_not_taken_for_its_templated_siblings_id() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    // `import` is no customer id: the route is POST /v1/customers/import.
    let response = app
        .request(reqwest::Method::PATCH, "/v1/customers/import")
        .bearer_auth(&owner.access_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    problem_of(response, 405, "method_not_allowed").await;
    let response = app
        .request(reqwest::Method::PATCH, "/v1/customers/not-an-id")
        .bearer_auth(&owner.access_token)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    problem_of(response, 404, "not_found").await;
}

#[tokio::test]
async fn nul_in_a_query_parameter_is_a_400_naming_it() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    for path in ["/v1/customers?q=a%00b", "/v1/products?sku=%00"] {
        let response = app
            .get(path)
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap();
        let problem = problem_of(response, 400, "invalid_query").await;
        assert_eq!(problem["errors"][0]["code"], "invalid_characters", "{path}");
    }
}

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_position() {
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .post("/test/widgets")
        .header("content-type", "application/json")
        .body("{\"name\": \"a\",\n \"quantity\": }")
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 400, "malformed_json").await;
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("line 2 column 14"), "{detail}");
}

#[tokio::test]
async fn wrong_media_type_is_a_415() {
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .post("/test/widgets")
        .header("content-type", "text/plain")
        .body(r#"{"name": "a"}"#)
        .send()
        .await
        .unwrap();
    problem_of(response, 415, "unsupported_media_type").await;
    let count: i64 = widget_count(&app);
    assert_eq!(count, 0, "nothing is written");
}

#[tokio::test]
async fn body_over_the_limit_is_a_413_whether_announced_or_streamed() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("REQUEST_BODY_LIMIT".into(), "2048".into());
    })
    .await;
    let big = json!({"name": "x".repeat(4096)}).to_string();
    let response = app
        .post("/readyz")
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    problem_of(response, 413, "payload_too_large").await;

    // Chunked, so no Content-Length announces the size: the reader must stop at the limit.
    let widgets = TestApp::spawn_with_widgets().await;
    let chunks =
        futures_util::stream::iter(std::iter::repeat_n(big, 300).map(Ok::<_, std::io::Error>));
    let response = widgets
        .post("/test/widgets")
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    problem_of(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn validation_reports_every_invalid_field_with_its_pointer() {
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .post("/test/widgets")
        .json(&json!({"name": "", "quantity": 11}))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    let mut pointers: Vec<(&str, &str)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pointer"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    pointers.sort();
    assert_eq!(
        pointers,
        [("/name", "length"), ("/quantity", "out_of_range")]
    );
    assert_eq!(widget_count(&app), 0, "nothing is written");
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_point_at_the_field() {
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .post("/test/widgets")
        .json(&json!({"name": "a", "quantity": "two"}))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["pointer"], "/quantity");
    assert_eq!(body["errors"][0]["code"], "invalid_type");

    let response = app
        .post("/test/widgets")
        .json(&json!({"name": "a", "colour": "red"}))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["pointer"], "/colour");
    assert_eq!(body["errors"][0]["code"], "unknown_field");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let response = app
        .get("/livez")
        .header("x-request-id", "erp-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "erp-42");

    let response = app.get("/livez").send().await.unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    // An id that cannot be logged safely is replaced, not echoed.
    let response = app
        .get("/livez")
        .header("x-request-id", "has spaces and\ttabs")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "has spaces and\ttabs");
}

#[tokio::test]
async fn server_faults_reveal_no_cause() {
    // The test resource does not check a rule its table enforces: the database refuses the
    // write, a fault of ours, which must reach the client as an opaque 500.
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .post("/test/widgets")
        .json(&json!({"name": "forbidden"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = response.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], "internal_error");
    for leak in [
        "constraint",
        "check",
        "INSERT",
        "widgets",
        "diesel",
        "panicked",
    ] {
        assert!(!text.contains(leak), "{leak} leaked: {text}");
    }
}

fn widget_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM widgets")
        .get_result::<Count>(&mut app.db.connect())
        .unwrap()
        .n
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let closed = TestApp::spawn().await;
    let response = closed
        .get("/livez")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open = TestApp::spawn_with(|vars| {
        vars.insert(
            "CORS_ALLOWED_ORIGINS".into(),
            "https://app.example.com".into(),
        );
    })
    .await;
    let preflight = open
        .request(reqwest::Method::OPTIONS, "/readyz")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let response = open
        .get("/livez")
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        exposed.contains("x-request-id") && exposed.contains("etag"),
        "{exposed}"
    );

    let response = open
        .get("/livez")
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
