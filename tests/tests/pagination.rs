//! Cursor pagination (API.md), driven through the test resource.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use serde_json::{Value, json};
use tests::{TestApp, json_of, problem_of};

async fn create(app: &TestApp, name: &str) {
    let response = app
        .post("/test/widgets")
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn page(app: &TestApp, query: &str) -> Value {
    json_of(
        app.get(&format!("/test/widgets?{query}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await
}

fn names(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap().to_string())
        .collect()
}

/// Walks every page of `sort` with `limit`, returning the names in order.
async fn walk(app: &TestApp, sort: &str, limit: u32) -> Vec<String> {
    let mut all = Vec::new();
    let mut query = format!("limit={limit}&sort={sort}");
    loop {
        let p = page(app, &query).await;
        assert!(names(&p).len() <= limit as usize);
        all.extend(names(&p));
        if !p["has_more"].as_bool().unwrap() {
            assert!(p["next_cursor"].is_null());
            return all;
        }
        let cursor = p["next_cursor"].as_str().unwrap();
        query = format!("limit={limit}&sort={sort}&starting_after={cursor}");
    }
}

#[tokio::test]
async fn pages_cover_every_row_once_in_each_sort() {
    let app = TestApp::spawn_with_widgets().await;
    // Duplicate names check that ties are broken by id.
    let mut expected: Vec<String> = (0..23).map(|i| format!("w{:02}", i % 17)).collect();
    for name in &expected {
        create(&app, name).await;
    }
    let by_creation = expected.clone();
    expected.sort();

    assert_eq!(walk(&app, "name", 5).await, expected);
    let mut descending = expected.clone();
    descending.reverse();
    assert_eq!(walk(&app, "-name", 7).await, descending);
    assert_eq!(walk(&app, "created_at", 10).await, by_creation);
    let mut newest_first = by_creation.clone();
    newest_first.reverse();
    assert_eq!(walk(&app, "-created_at", 100).await, newest_first);
    // The default sort is newest first, 20 a page.
    let first = page(&app, "").await;
    assert_eq!(names(&first), newest_first[..20]);
    assert_eq!(first["has_more"], true);
}

#[tokio::test]
async fn pages_are_stable_when_rows_are_inserted_between_them() {
    let app = TestApp::spawn_with_widgets().await;
    for name in ["b", "d", "f", "h"] {
        create(&app, name).await;
    }
    let first = page(&app, "limit=2&sort=name").await;
    assert_eq!(names(&first), ["b", "d"]);
    // Inserted before the cursor: must not shift the next page; after it: must show up.
    create(&app, "a").await;
    create(&app, "c").await;
    create(&app, "g").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = page(&app, &format!("limit=10&sort=name&starting_after={cursor}")).await;
    assert_eq!(names(&second), ["f", "g", "h"]);
}

#[tokio::test]
async fn bad_parameters_are_reported_with_pointers() {
    let app = TestApp::spawn_with_widgets().await;
    let response = app
        .get("/test/widgets?limit=0&sort=price")
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 400, "invalid_query").await;
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/limit", "/sort"]);

    let response = app.get("/test/widgets?limit=101").send().await.unwrap();
    problem_of(response, 400, "invalid_query").await;
    let response = app.get("/test/widgets?limit=ten").send().await.unwrap();
    problem_of(response, 400, "invalid_query").await;
    let response = app
        .get("/test/widgets?starting_after=not-a-cursor")
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 400, "invalid_query").await;
    assert_eq!(body["errors"][0]["code"], "invalid_cursor");
}

#[tokio::test]
async fn a_cursor_only_works_with_its_own_sort() {
    let app = TestApp::spawn_with_widgets().await;
    for name in ["a", "b", "c"] {
        create(&app, name).await;
    }
    let first = page(&app, "limit=1&sort=name").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let response = app
        .get(&format!(
            "/test/widgets?limit=1&sort=-created_at&starting_after={cursor}"
        ))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 400, "invalid_query").await;
    assert_eq!(body["errors"][0]["code"], "cursor_sort_mismatch");
}
