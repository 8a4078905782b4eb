//! Operational endpoints and the documentation served with the API.

use tests::{TestApp, json_of};

#[tokio::test]
async fn liveness_and_readiness_answer_ok() {
    let app = TestApp::spawn().await;
    let body = json_of(app.get("/livez").send().await.unwrap(), 200).await;
    assert_eq!(body["status"], "ok");
    let body = json_of(app.get("/readyz").send().await.unwrap(), 200).await;
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = TestApp::spawn().await;
    app.get("/readyz").send().await.unwrap();
    app.get("/no/such/route").send().await.unwrap();
    let response = app.get("/metrics").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{method="GET",route="/readyz",status="200"} 1"#,
        r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"http_request_duration_seconds_bucket{method="GET",route="/readyz",le="+Inf"} 1"#,
        r#"db_pool_connections{state="idle"}"#,
        r#"db_pool_connections{state="in_use"}"#,
        r#"db_pool_connections{state="max"} 4"#,
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_without_network() {
    let app = TestApp::spawn().await;
    let response = app.get("/docs").send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(response.headers()["location"], "/docs/");
    let page = app
        .get("/docs/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    // The UI's assets come from the binary, and it is pointed at our document.
    let bundle = app.get("/docs/swagger-ui-bundle.js").send().await.unwrap();
    assert_eq!(bundle.status(), 200);
    let init = app
        .get("/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let app = TestApp::spawn().await;
    let served = json_of(app.get("/openapi.json").send().await.unwrap(), 200).await;
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/openapi.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed);
}
