//! Bulk exports over HTTP: a date range's stamped documents as one ZIP, built in the
//! background, downloaded as a stream, and read back with a ZIP reader.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::io::Read;

use reqwest::Method;
use serde_json::{Value, json};
use tests::{Tenant, TestApp, call, json_of, problem_of};

/// Organization 0, ready to issue, with `n` issued invoices; returns their ids.
async fn issued_invoices(app: &TestApp, owner: &Tenant, n: usize) -> Vec<String> {
    let customer = tests::ready_to_issue(app, owner, &[]).await;
    let mut ids = Vec::new();
    for i in 0..n {
        let body = tests::one_line_invoice(&customer, &format!("{}.00", 100 + i));
        let issued = tests::issue_new(app, owner, body).await;
        ids.push(issued["id"].as_str().unwrap().to_string());
    }
    ids
}

/// An attribute of the first element that has it.
fn attribute_of<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
    &xml[start..start + xml[start..].find('"').unwrap()]
}

/// Waits (up to 60 s) for the export to be built.
async fn ready(app: &TestApp, who: &Tenant, id: &str) -> Value {
    for _ in 0..600 {
        let export = json_of(
            call(app, who, Method::GET, &format!("/v1/exports/{id}"), None).await,
            200,
        )
        .await;
        match export["status"].as_str().unwrap() {
            "ready" => return export,
            "failed" => panic!("export failed: {export}"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("export {id} was never ready");
}

#[tokio::test]
async fn a_date_range_is_exported_as_one_zip_of_its_documents() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@kemper.example").await;
    let ids = issued_invoices(&app, &owner, 3).await;
    let today = chrono::Utc::now().date_naive();
    let body = json!({
        "from": (today - chrono::Duration::days(1)).to_string(),
        "to": (today + chrono::Duration::days(1)).to_string(),
    });
    let queued = json_of(
        call(&app, &owner, Method::POST, "/v1/exports", Some(body)).await,
        202,
    )
    .await;
    assert!(queued["download_url"].is_null());
    let id = queued["id"].as_str().unwrap();
    let export = ready(&app, &owner, id).await;
    assert_eq!(export["document_count"], 3);
    let response = call(
        &app,
        &owner,
        Method::GET,
        export["download_url"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes.len() as i64, export["size_bytes"].as_i64().unwrap());
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    for (n, invoice) in ids.iter().enumerate() {
        let stamped = call(
            &app,
            &owner,
            Method::GET,
            &format!("/v1/invoices/{invoice}/xml"),
            None,
        )
        .await
        .text()
        .await
        .unwrap();
        let mut inside = String::new();
        zip.by_name(&format!("I/F{}.xml", n + 1))
            .unwrap()
            .read_to_string(&mut inside)
            .unwrap();
        assert_eq!(inside, stamped, "the stamped XML, byte for byte");
        let mut pdf = Vec::new();
        zip.by_name(&format!("I/F{}.pdf", n + 1))
            .unwrap()
            .read_to_end(&mut pdf)
            .unwrap();
        let uuid = attribute_of(&stamped, "UUID");
        assert!(tests::pdf::text(&pdf).contains(uuid), "its PDF");
    }
    let mut index = String::new();
    zip.by_name("index.csv")
        .unwrap()
        .read_to_string(&mut index)
        .unwrap();
    let lines: Vec<&str> = index.lines().collect();
    assert_eq!(lines.len(), 4, "a header and a line per document: {index}");
    assert!(lines[1].starts_with("I/F1.xml,"));

    // A range without documents is an empty export, not an error.
    let body = json!({"from": "2020-01-01", "to": "2020-01-31", "document_types": ["E"]});
    let empty = json_of(
        call(&app, &owner, Method::POST, "/v1/exports", Some(body)).await,
        202,
    )
    .await;
    let empty = ready(&app, &owner, empty["id"].as_str().unwrap()).await;
    assert_eq!(empty["document_count"], 0);
    let listed = json_of(
        call(&app, &owner, Method::GET, "/v1/exports", None).await,
        200,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0]["id"], empty["id"], "newest first");
}

#[tokio::test]
async fn bad_ranges_are_refused_with_their_pointers() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@kemper.example").await;
    for (body, pointer) in [
        (json!({"from": "2026-02-01", "to": "2026-01-31"}), "/to"),
        (json!({"from": "2024-01-01", "to": "2026-01-31"}), "/to"),
        (
            json!({"from": "2026-01-01", "to": "2026-01-31", "document_types": ["I", "P"]}),
            "/document_types/1",
        ),
        (
            json!({"from": "2026-01-01", "to": "2026-01-31", "document_types": []}),
            "/document_types",
        ),
        (json!({"from": "9999-12-31", "to": "9999-12-31"}), "/from"),
    ] {
        let response = call(&app, &owner, Method::POST, "/v1/exports", Some(body)).await;
        let problem = problem_of(response, 422, "validation_failed").await;
        assert_eq!(problem["errors"][0]["pointer"], pointer);
    }
    let listed = json_of(
        call(&app, &owner, Method::GET, "/v1/exports", None).await,
        200,
    )
    .await;
    assert_eq!(listed["data"], json!([]), "nothing was queued");
}
