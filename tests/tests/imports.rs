//! CSV bulk import of customers and products: upsert by external_id, per-record reports with
//! pointers, all-or-nothing mode, and a 10,000-record file in one request.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use serde_json::{Value, json};
use tests::{Tenant, TestApp, json_of, problem_of};

async fn import(
    app: &TestApp,
    owner: &Tenant,
    resource: &str,
    query: &str,
    csv: &str,
) -> reqwest::Response {
    app.post(&format!("/v1/{resource}/import{query}"))
        .bearer_auth(&owner.access_token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
}

async fn list(app: &TestApp, owner: &Tenant, path: &str) -> Vec<Value> {
    let page = json_of(
        app.get(path)
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    page["data"].as_array().unwrap().clone()
}

fn errors(row: &Value) -> Vec<String> {
    let mut found: Vec<String> = row["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["pointer"].as_str().unwrap(),
                        e["code"].as_str().unwrap()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

const CUSTOMERS: &str = "\u{feff}external_id,legal_name,rfc,tax_regime,tax_postal_code,cfdi_use,emails,payment_terms_days,address.street,address.country,metadata.segment,archived
SAP-C-1,ESCUELA KEMPER URGATE,EKU9003173C9,601,42501,G03,pagos@kemper.example;cxp@kemper.example,30,\"Av. Constitución 1500, Centro\",MEX,education,false
SAP-C-2,XOCHILT CASAS CHAVEZ,CACX7605101P8,601,42501,G03,,15,,,,
SAP-C-3,XOCHILT CASAS CHAVEZ,CACX7605101P8,612,42501,D01,xochilt@example.com,quince,,XYZ,,maybe
";

#[tokio::test]
async fn customers_import_creates_reports_each_record_and_upserts_by_external_id() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let report = json_of(import(&app, &owner, "customers", "", CUSTOMERS).await, 200).await;
    assert_eq!(
        (
            &report["created"],
            &report["updated"],
            &report["unchanged"],
            &report["failed"]
        ),
        (&json!(1), &json!(0), &json!(0), &json!(2)),
        "{report}"
    );
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(rows[0]["status"], "created");
    assert_eq!(rows[0]["line"], 2);
    assert_eq!(rows[0]["external_id"], "SAP-C-1");
    // A persona física in the companies' régimen: SAT's code, pointed into the file.
    assert_eq!(rows[1]["status"], "failed");
    assert_eq!(errors(&rows[1]), ["/rows/1/tax_regime CFDI40158"]);
    assert!(rows[1]["id"].is_null());
    // Cells of the wrong type are reported like a POST body's (the rules that need the
    // record's values run once its types are right).
    assert_eq!(
        errors(&rows[2]),
        [
            "/rows/2/archived invalid_type",
            "/rows/2/payment_terms_days invalid_type",
        ]
    );

    let id = rows[0]["id"].as_str().unwrap();
    let customer = json_of(
        app.get(&format!("/v1/customers/{id}"))
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        customer["emails"],
        json!(["pagos@kemper.example", "cxp@kemper.example"])
    );
    assert_eq!(customer["payment_terms_days"], 30);
    assert_eq!(
        customer["address"]["street"],
        "Av. Constitución 1500, Centro"
    );
    assert_eq!(customer["metadata"], json!({"segment": "education"}));
    assert_eq!(customer["external_id"], "SAP-C-1");

    // The same file again: the one created is unchanged (same version); the others still fail.
    let again = json_of(import(&app, &owner, "customers", "", CUSTOMERS).await, 200).await;
    assert_eq!(again["unchanged"], 1, "{again}");
    assert_eq!(again["rows"][0]["id"], id);

    // A file with only some columns changes those, clears empty cells, keeps the rest.
    let sync = "external_id,payment_terms_days,metadata.segment\nSAP-C-1,45,\nNEW-1,,\n";
    let report = json_of(import(&app, &owner, "customers", "", sync).await, 200).await;
    assert_eq!(report["rows"][0]["status"], "updated", "{report}");
    // A new external_id needs the required members.
    assert_eq!(
        errors(&report["rows"][1]),
        [
            "/rows/1/legal_name required",
            "/rows/1/rfc required",
            "/rows/1/tax_postal_code required",
            "/rows/1/tax_regime required",
        ]
    );
    let customer = json_of(
        app.get(&format!("/v1/customers/{id}"))
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(customer["payment_terms_days"], 45);
    assert_eq!(customer["metadata"], json!({}));
    assert_eq!(customer["legal_name"], "ESCUELA KEMPER URGATE");
    assert_eq!(customer["version"], 2);

    // Another organization's external ids are its own: its import creates, never updates ours.
    let other = app.register_tenant(1, "other@example.com").await;
    let report = json_of(
        import(
            &app,
            &other,
            "customers",
            "",
            "external_id,legal_name,rfc,tax_regime,tax_postal_code\nSAP-C-1,OTRA,EKU9003173C9,601,42501\n",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["rows"][0]["status"], "created");
    assert_ne!(report["rows"][0]["id"], id);
    assert_eq!(list(&app, &owner, "/v1/customers").await.len(), 1);
}

#[tokio::test]
async fn an_atomic_import_writes_everything_or_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let problem = problem_of(
        import(&app, &owner, "customers", "?atomic=true", CUSTOMERS).await,
        422,
        "import_failed",
    )
    .await;
    let mut found: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap().to_string())
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "/rows/1/tax_regime",
            "/rows/2/archived",
            "/rows/2/payment_terms_days"
        ]
    );
    assert!(list(&app, &owner, "/v1/customers").await.is_empty());

    let valid: String = CUSTOMERS
        .lines()
        .take(2)
        .map(|l| format!("{l}\n"))
        .collect();
    let report = json_of(
        import(&app, &owner, "customers", "?atomic=true", &valid).await,
        200,
    )
    .await;
    assert_eq!(report["atomic"], true);
    assert_eq!(report["created"], 1);
    assert_eq!(list(&app, &owner, "/v1/customers").await.len(), 1);
}

#[tokio::test]
async fn malformed_files_are_refused_as_a_whole() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    // Unknown and repeated columns, and no external_id column.
    let problem = problem_of(
        import(
            &app,
            &owner,
            "customers",
            "",
            "legal_name,colour,legal_name\nA,b,c\n",
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let found: Vec<String> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["pointer"].as_str().unwrap(),
                e["code"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            "/columns/1 unknown_column",
            "/columns/2 duplicate",
            "/columns required"
        ]
    );
    // A record with more cells than the header: the line is named.
    let problem = problem_of(
        import(
            &app,
            &owner,
            "customers",
            "",
            "external_id,legal_name\nA,B\nC,D,E\n",
        )
        .await,
        400,
        "invalid_csv",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("line 3"),
        "{problem}"
    );
    problem_of(
        import(&app, &owner, "customers", "", "external_id,legal_name\n").await,
        422,
        "empty_import",
    )
    .await;
    // JSON is not CSV.
    let response = app
        .post("/v1/customers/import")
        .bearer_auth(&owner.access_token)
        .json(&json!({"external_id": "x"}))
        .send()
        .await
        .unwrap();
    problem_of(response, 415, "unsupported_media_type").await;
    // Repeated external ids in one file: the later record fails.
    let report = json_of(
        import(
            &app,
            &owner,
            "customers",
            "",
            "external_id,legal_name,rfc,tax_regime,tax_postal_code\nX,A,EKU9003173C9,601,42501\nX,B,EKU9003173C9,601,42501\n",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["rows"][0]["status"], "created");
    assert_eq!(
        errors(&report["rows"][1]),
        ["/rows/1/external_id duplicate"]
    );
    assert!(list(&app, &owner, "/v1/products").await.is_empty());
}

#[tokio::test]
async fn products_import_reads_taxes_and_upserts() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let csv = "external_id,name,sku,product_key,unit_key,unit_price,tax_object,taxes,metadata.family
P-1,Consultoría fiscal,CONS-1,80101500,HUR,1500.00,02,002:Tasa:0.160000;002:Tasa:0.106667:withholding;001:Tasa:0.100000:withholding,services
P-2,Libro,LIB-1,55101500,H87,350.5,02,002:Tasa:0.000000,
P-3,Exento,EXE-1,80101500,E48,10,02,002:Exento,
P-4,Mal,MAL-1,99999999,ZZZ,1.1234567,02,002:Tasa,
P-5,Formato,FOR-1,80101500,E48,10,02,IVA 16,
";
    let report = json_of(import(&app, &owner, "products", "", csv).await, 200).await;
    assert_eq!(report["created"], 3, "{report}");
    let rows = report["rows"].as_array().unwrap();
    assert_eq!(
        errors(&rows[3]),
        [
            "/rows/3/product_key unknown_product_key",
            "/rows/3/taxes/0/rate required",
            "/rows/3/unit_key unknown_unit_key",
            "/rows/3/unit_price invalid_amount",
        ]
    );
    assert_eq!(errors(&rows[4]), ["/rows/4/taxes invalid_format"]);
    let consulting = json_of(
        app.get(&format!("/v1/products/{}", rows[0]["id"].as_str().unwrap()))
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        consulting["taxes"],
        json!([
            {"tax": "002", "factor": "Tasa", "rate": "0.160000", "withholding": false},
            {"tax": "002", "factor": "Tasa", "rate": "0.106667", "withholding": true},
            {"tax": "001", "factor": "Tasa", "rate": "0.100000", "withholding": true}
        ])
    );
    assert_eq!(consulting["metadata"], json!({"family": "services"}));
    let report = json_of(
        import(
            &app,
            &owner,
            "products",
            "",
            "external_id,unit_price\nP-2,360.00\nP-3,10.00\n",
        )
        .await,
        200,
    )
    .await;
    assert_eq!(report["rows"][0]["status"], "updated", "{report}");
    assert_eq!(report["rows"][1]["status"], "unchanged", "{report}");
}

#[tokio::test]
async fn ten_thousand_records_import_in_one_request() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let mut csv = String::from("external_id,legal_name,rfc,tax_regime,tax_postal_code,emails\n");
    for i in 0..10_000 {
        csv.push_str(&format!(
            "ERP-{i:05},CLIENTE NÚMERO {i},EKU9003173C9,601,42501,c{i}@cliente.example\n"
        ));
    }
    let report = json_of(
        import(&app, &owner, "customers", "?atomic=true", &csv).await,
        200,
    )
    .await;
    assert_eq!(report["created"], 10_000, "{}", report["failed"]);
    assert_eq!(report["rows"].as_array().unwrap().len(), 10_000);
    let found = list(&app, &owner, "/v1/customers?q=numero%209999").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["external_id"], "ERP-09999");
    // Re-sending the master file changes nothing.
    let report = json_of(import(&app, &owner, "customers", "", &csv).await, 200).await;
    assert_eq!(report["unchanged"], 10_000);
}
