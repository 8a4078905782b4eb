//! Products and services over HTTP: SAT keys and tax profiles checked against the catalogs,
//! merge patches, every list feature, idempotency, optimistic concurrency and ERP fields.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use reqwest::Method;
use serde_json::{Value, json};
use tests::{Tenant, TestApp, json_of, pointers, problem_of};

fn consulting() -> Value {
    json!({
        "name": "Consultoría fiscal (hora)",
        "description": "Hora de consultoría en materia fiscal",
        "sku": "CONS-FIS-01",
        "product_key": "80101500",
        "unit_key": "HUR",
        "unit_name": "Hora",
        "unit_price": "1500.123456",
        "currency": "MXN",
        "tax_object": "02",
        "taxes": [
            {"tax": "002", "factor": "Tasa", "rate": "0.160000", "withholding": false},
            {"tax": "002", "factor": "Tasa", "rate": "0.106667", "withholding": true},
            {"tax": "001", "factor": "Tasa", "rate": "0.100000", "withholding": true}
        ],
        "external_id": "SAP-M-1",
        "metadata": {"family": "services"},
        "archived": false
    })
}

async fn call(
    app: &TestApp,
    owner: &Tenant,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.request(method, path).bearer_auth(&owner.access_token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn create(app: &TestApp, owner: &Tenant, body: &Value) -> reqwest::Response {
    call(app, owner, Method::POST, "/v1/products", Some(body.clone())).await
}

async fn created(app: &TestApp, owner: &Tenant, body: &Value) -> Value {
    json_of(create(app, owner, body).await, 201).await
}

async fn names(app: &TestApp, owner: &Tenant, query: &str) -> Vec<String> {
    let list = json_of(
        call(
            app,
            owner,
            Method::GET,
            &format!("/v1/products?{query}"),
            None,
        )
        .await,
        200,
    )
    .await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_product_round_trips_with_every_field() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let response = create(&app, &owner, &consulting()).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body = json_of(response, 201).await;
    assert_eq!(
        location,
        format!("/v1/products/{}", body["id"].as_str().unwrap())
    );
    for (field, value) in consulting().as_object().unwrap() {
        assert_eq!(&body[field], value, "{field}");
    }
    assert_eq!(body["version"], 1);
    let fetched = json_of(call(&app, &owner, Method::GET, &location, None).await, 200).await;
    assert_eq!(fetched, body);

    // Rates are written as CFDI writes TasaOCuota, prices keep at least two decimals.
    let mut short = consulting();
    short["external_id"] = json!("SAP-M-2");
    short["unit_price"] = json!("99.5");
    short["taxes"] = json!([{"tax": "002", "factor": "Tasa", "rate": "0.16"}]);
    let body = created(&app, &owner, &short).await;
    assert_eq!(body["unit_price"], "99.50");
    assert_eq!(body["taxes"][0]["rate"], "0.160000");
    assert_eq!(body["taxes"][0]["withholding"], false);
}

#[tokio::test]
async fn every_broken_rule_is_reported_at_once_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let response = create(
        &app,
        &owner,
        &json!({
            "name": "",
            "sku": "x".repeat(101),
            "product_key": "99999999",
            "unit_key": "ZZZ",
            "unit_name": "u".repeat(21),
            "unit_price": "12.1234567",
            "currency": "XXX",
            "tax_object": "02",
            "taxes": [
                {"tax": "002", "factor": "Tasa", "rate": "0.170000"},
                {"tax": "001", "factor": "Exento", "withholding": true},
                {"tax": "009", "factor": "Tasa", "rate": "0.1"}
            ],
            "external_id": "",
            "metadata": {"k": "v".repeat(501)}
        }),
    )
    .await;
    let problem = problem_of(response, 422, "validation_failed").await;
    let found = pointers(&problem);
    for expected in [
        "/name length",
        "/sku length",
        "/product_key unknown_product_key",
        "/unit_key unknown_unit_key",
        "/unit_name length",
        "/unit_price invalid_amount",
        "/currency unknown_currency",
        "/taxes/0/rate",
        "/taxes/1/factor exempt_withholding",
        "/taxes/2/tax unknown_tax",
        "/external_id length",
        "/metadata/k length",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected} missing from {found:?}"
        );
    }
    let list = json_of(
        call(&app, &owner, Method::GET, "/v1/products", None).await,
        200,
    )
    .await;
    assert_eq!(list["data"], json!([]));
}

#[tokio::test]
async fn tax_profiles_follow_the_objeto_imp_rules() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let with = |object: &str, taxes: Value, n: usize| {
        let mut p = consulting();
        p["tax_object"] = json!(object);
        p["taxes"] = taxes;
        p["external_id"] = json!(format!("T{n}"));
        p
    };
    // 02 needs taxes; 01 carries none; 07 needs IEPS traslado without IVA.
    let problem = problem_of(
        create(&app, &owner, &with("02", json!([]), 1)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/taxes tax_object_mismatch"]);
    let iva = json!([{"tax": "002", "factor": "Tasa", "rate": "0.160000"}]);
    let problem = problem_of(
        create(&app, &owner, &with("01", iva.clone(), 2)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/taxes tax_object_mismatch"]);
    let problem = problem_of(
        create(&app, &owner, &with("07", iva.clone(), 3)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/taxes tax_object_mismatch"]);
    let problem = problem_of(
        create(&app, &owner, &with("10", json!([]), 4)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/tax_object unknown_tax_object"]);
    // A tax appears once per direction.
    let twice = json!([
        {"tax": "002", "factor": "Tasa", "rate": "0.160000"},
        {"tax": "002", "factor": "Tasa", "rate": "0.000000"}
    ]);
    let problem = problem_of(
        create(&app, &owner, &with("02", twice, 5)).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/taxes/1/tax duplicate"]);

    // What SAT allows is accepted: exempt IVA, IVA 0, IEPS tasa and cuota, ISR withheld.
    for (n, (object, taxes)) in [
        ("02", json!([{"tax": "002", "factor": "Exento"}])),
        (
            "02",
            json!([{"tax": "002", "factor": "Tasa", "rate": "0.000000"}]),
        ),
        (
            "02",
            json!([
                {"tax": "003", "factor": "Tasa", "rate": "0.265000"},
                {"tax": "002", "factor": "Tasa", "rate": "0.160000"}
            ]),
        ),
        (
            "02",
            json!([{"tax": "003", "factor": "Cuota", "rate": "6.445500"}]),
        ),
        (
            "07",
            json!([{"tax": "003", "factor": "Tasa", "rate": "0.080000"}]),
        ),
        ("01", json!([])),
    ]
    .into_iter()
    .enumerate()
    {
        let response = create(&app, &owner, &with(object, taxes.clone(), 10 + n)).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 201, "{object} {taxes}: {text}");
    }
}

#[tokio::test]
async fn iva_at_eight_percent_needs_an_issuer_in_the_border_region() {
    let app = TestApp::spawn().await;
    let inland = app.register_tenant(0, "owner@example.com").await;
    let mut border_product = consulting();
    border_product["taxes"] = json!([{"tax": "002", "factor": "Tasa", "rate": "0.080000"}]);
    let problem = problem_of(
        create(&app, &inland, &border_product).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        ["/taxes/0/rate border_rate_not_allowed"]
    );

    // Tijuana (22000) is in the northern border region.
    let response = app
        .post("/v1/auth/register")
        .json(&json!({
            "organization": {"legal_name": "TIJUANA", "rfc": "CACX7605101P8", "tax_regime": "612", "postal_code": "22000"},
            "owner": {"name": "Owner", "email": "tj@example.com", "password": "correct horse battery staple"}
        }))
        .send()
        .await
        .unwrap();
    let body = json_of(response, 201).await;
    let border = Tenant {
        organization_id: body["organization"]["id"].as_str().unwrap().to_string(),
        user_id: body["user"]["id"].as_str().unwrap().to_string(),
        access_token: body["session"]["access_token"]
            .as_str()
            .unwrap()
            .to_string(),
        refresh_token: body["session"]["refresh_token"]
            .as_str()
            .unwrap()
            .to_string(),
    };
    created(&app, &border, &border_product).await;
}

#[tokio::test]
async fn wrong_types_unknown_and_missing_fields_are_all_reported() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let mut body = consulting();
    body["unit_price"] = json!(1500.5);
    body["colour"] = json!("blue");
    body["taxes"][0]["factor"] = json!("Percent");
    let problem = problem_of(create(&app, &owner, &body).await, 422, "validation_failed").await;
    assert_eq!(
        pointers(&problem),
        [
            "/colour unknown_field",
            "/taxes/0/factor invalid_type",
            "/unit_price invalid_type"
        ]
    );
    let problem = problem_of(
        create(&app, &owner, &json!({"name": "X"})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        [
            "/product_key required",
            "/tax_object required",
            "/unit_key required",
            "/unit_price required"
        ]
    );
}

#[tokio::test]
async fn a_merge_patch_changes_what_it_names_and_is_checked_as_a_whole() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let product = created(&app, &owner, &consulting()).await;
    let path = format!("/v1/products/{}", product["id"].as_str().unwrap());

    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .json(&json!({"unit_price": "1650", "sku": null, "metadata": {"family": null, "line": "tax"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed = json_of(response, 200).await;
    assert_eq!(changed["unit_price"], "1650.00");
    assert!(changed["sku"].is_null());
    assert_eq!(changed["metadata"], json!({"line": "tax"}));
    assert_eq!(changed["name"], "Consultoría fiscal (hora)");
    assert_eq!(changed["taxes"], consulting()["taxes"]);

    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "stale"}))
        .send()
        .await
        .unwrap();
    problem_of(response, 412, "precondition_failed").await;

    // Taking the taxes away leaves ObjetoImp 02 without taxes: the whole is refused.
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::PATCH,
            &path,
            Some(json!({"taxes": []})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/taxes tax_object_mismatch"]);
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::PATCH,
            &path,
            Some(json!({"version": 9, "name": null})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        ["/name required", "/version unknown_field"]
    );
    let now = json_of(call(&app, &owner, Method::GET, &path, None).await, 200).await;
    assert_eq!(now["version"], 2);
}

#[tokio::test]
async fn external_ids_are_unique_per_organization_and_retries_create_one() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let other = app.register_tenant(1, "other@example.com").await;
    let send = || {
        app.post("/v1/products")
            .bearer_auth(&owner.access_token)
            .header("idempotency-key", "sync-products-1")
            .json(&consulting())
            .send()
    };
    let first = json_of(send().await.unwrap(), 201).await;
    let response = send().await.unwrap();
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(response, 201).await["id"], first["id"]);

    let mut again = consulting();
    again["name"] = json!("Otro");
    let problem = problem_of(create(&app, &owner, &again).await, 409, "external_id_taken").await;
    assert_eq!(pointers(&problem), ["/external_id external_id_taken"]);
    created(&app, &other, &consulting()).await;
    assert_eq!(names(&app, &owner, "").await, ["Consultoría fiscal (hora)"]);
}

#[tokio::test]
async fn lists_search_filter_sort_and_page() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let items = [
        ("Café de Chiapas", "CAF-1", "50201706"),
        ("Pan dulce", "PAN-1", "50181900"),
        ("Asesoría contable", "ASE-1", "80101500"),
        ("Diseño gráfico", "DIS-1", "80101500"),
        ("Éclair de chocolate", "ECL-1", "50181900"),
    ];
    let mut ids = Vec::new();
    for (i, (name, sku, key)) in items.iter().enumerate() {
        let body = json!({
            "name": name, "sku": sku, "product_key": key, "unit_key": "H87",
            "unit_price": format!("{}.00", 10 + i), "tax_object": "02",
            "taxes": [{"tax": "002", "factor": "Tasa", "rate": "0.000000"}],
            "external_id": format!("E{i}")
        });
        ids.push(
            created(&app, &owner, &body).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // Accent- and case-insensitive search over name, SKU and description.
    assert_eq!(names(&app, &owner, "q=cafe").await, ["Café de Chiapas"]);
    assert_eq!(
        names(&app, &owner, "q=ECLAIR").await,
        ["Éclair de chocolate"]
    );
    assert_eq!(names(&app, &owner, "q=dis-1").await, ["Diseño gráfico"]);
    assert!(names(&app, &owner, "q=_").await.is_empty());
    assert_eq!(names(&app, &owner, "sku=PAN-1").await, ["Pan dulce"]);
    assert_eq!(
        names(&app, &owner, "product_key=80101500").await,
        ["Asesoría contable", "Diseño gráfico"]
    );

    let path = format!("/v1/products/{}", ids[1]);
    let archived = json_of(
        call(
            &app,
            &owner,
            Method::PATCH,
            &path,
            Some(json!({"archived": true})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(names(&app, &owner, "archived=true").await, ["Pan dulce"]);
    assert_eq!(names(&app, &owner, "archived=false").await.len(), 4);
    let since = archived["updated_at"].as_str().unwrap();
    assert_eq!(
        names(&app, &owner, &format!("updated_since={since}")).await,
        ["Pan dulce"]
    );

    for sort in [
        "name",
        "-name",
        "created_at",
        "-created_at",
        "updated_at",
        "-updated_at",
    ] {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = format!("limit=2&sort={sort}");
            if let Some(c) = &cursor {
                query.push_str(&format!("&starting_after={c}"));
            }
            let page = json_of(
                call(
                    &app,
                    &owner,
                    Method::GET,
                    &format!("/v1/products?{query}"),
                    None,
                )
                .await,
                200,
            )
            .await;
            for p in page["data"].as_array().unwrap() {
                seen.push(p["name"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 5, "{sort}: {seen:?}");
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5, "{sort}: {seen:?}");
        if sort == "created_at" {
            let expected: Vec<String> = items.iter().map(|i| i.0.to_string()).collect();
            assert_eq!(seen, expected);
        }
    }

    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::GET,
            "/v1/products?limit=101&sort=price&product_key=12",
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    let found = pointers(&problem);
    for expected in [
        "/limit out_of_range",
        "/sort unknown_sort_field",
        "/product_key invalid_format",
    ] {
        assert!(found.contains(&expected.to_string()), "{found:?}");
    }
}

#[tokio::test]
async fn deleting_honours_if_match() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let product = created(&app, &owner, &consulting()).await;
    let path = format!("/v1/products/{}", product["id"].as_str().unwrap());
    let response = app
        .request(Method::DELETE, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    problem_of(response, 412, "precondition_failed").await;
    let response = app
        .request(Method::DELETE, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    problem_of(
        call(&app, &owner, Method::GET, &path, None).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn a_patch_is_an_object() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let product = created(&app, &owner, &consulting()).await;
    let path = format!("/v1/products/{}", product["id"].as_str().unwrap());
    for body in ["null", "[]", "\"name\"", "3"] {
        let response = app
            .request(Method::PATCH, &path)
            .bearer_auth(&owner.access_token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{body}");
    }
    let after = json_of(call(&app, &owner, Method::GET, &path, None).await, 200).await;
    assert_eq!(after["version"], 1);
}
