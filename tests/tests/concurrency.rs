//! Optimistic concurrency with `version`, `ETag` and `If-Match` (API.md).

use serde_json::json;
use tests::{TestApp, json_of, problem_of};

#[tokio::test]
async fn stale_if_match_is_refused_and_changes_nothing() {
    let app = TestApp::spawn_with_widgets().await;
    let created = app
        .post("/test/widgets")
        .json(&json!({"name": "v1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.headers()["etag"], "\"1\"");
    let location = created.headers()["location"].to_str().unwrap().to_string();

    // First writer, holding version 1, succeeds and moves the resource to version 2.
    let updated = app
        .request(reqwest::Method::PATCH, &location)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "v2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.headers()["etag"], "\"2\"");
    let body = json_of(updated, 200).await;
    assert_eq!(body["version"], 2);

    // Second writer, still holding version 1, is told to re-read.
    let stale = app
        .request(reqwest::Method::PATCH, &location)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "lost update"}))
        .send()
        .await
        .unwrap();
    problem_of(stale, 412, "precondition_failed").await;

    let current = app.get(&location).send().await.unwrap();
    assert_eq!(current.headers()["etag"], "\"2\"");
    assert_eq!(json_of(current, 200).await["name"], "v2");
}

#[tokio::test]
async fn without_if_match_the_update_is_unconditional() {
    let app = TestApp::spawn_with_widgets().await;
    let created = app
        .post("/test/widgets")
        .json(&json!({"name": "v1"}))
        .send()
        .await
        .unwrap();
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let updated = app
        .request(reqwest::Method::PATCH, &location)
        .json(&json!({"name": "v2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.headers()["etag"], "\"2\"");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .get(&format!("/test/widgets/{}", uuid::Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    problem_of(response, 404, "not_found").await;
    let response = app.get("/test/widgets/not-a-uuid").send().await.unwrap();
    problem_of(response, 404, "not_found").await;
}
