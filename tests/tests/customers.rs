//! Customers and contacts over HTTP: CFDI receiver rules, merge patches, every list feature,
//! idempotency, optimistic concurrency and ERP fields.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use reqwest::Method;
use serde_json::{Value, json};
use tests::{Tenant, TestApp, json_of, problem_of};

fn kemper() -> Value {
    json!({
        "legal_name": "ESCUELA KEMPER URGATE",
        "rfc": "EKU9003173C9",
        "tax_regime": "601",
        "tax_postal_code": "42501",
        "cfdi_use": "G03",
        "emails": ["pagos@kemper.example"],
        "phone": "+52 81 1234 5678",
        "address": {"street": "Av. Constitución", "exterior_number": "1500", "locality": "Monterrey", "state": "Nuevo León", "postal_code": "64000", "country": "MEX"},
        "payment_terms_days": 30,
        "notes": "Pide factura el día 1.\nSiempre por transferencia.",
        "external_id": "SAP-C-1",
        "metadata": {"segment": "education"}
    })
}

async fn create(app: &TestApp, owner: &Tenant, body: &Value) -> reqwest::Response {
    app.post("/v1/customers")
        .bearer_auth(&owner.access_token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn created(app: &TestApp, owner: &Tenant, body: &Value) -> Value {
    json_of(create(app, owner, body).await, 201).await
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

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"]
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
        .collect()
}

async fn count(app: &TestApp, owner: &Tenant) -> usize {
    let list = json_of(
        call(app, owner, Method::GET, "/v1/customers?limit=100", None).await,
        200,
    )
    .await;
    list["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_customer_round_trips_with_every_field() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let response = create(&app, &owner, &kemper()).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body = json_of(response, 201).await;
    assert_eq!(
        location,
        format!("/v1/customers/{}", body["id"].as_str().unwrap())
    );
    let fetched = json_of(call(&app, &owner, Method::GET, &location, None).await, 200).await;
    assert_eq!(fetched, body);
    for (field, value) in kemper().as_object().unwrap() {
        if field == "address" {
            // The view shows every address member, null when not given.
            for (part, value) in value.as_object().unwrap() {
                assert_eq!(&body["address"][part], value, "address {part}");
            }
            assert!(body["address"]["neighborhood"].is_null());
        } else {
            assert_eq!(&body[field], value, "{field}");
        }
    }
    assert_eq!(body["archived"], false);
    assert_eq!(body["version"], 1);
}

#[tokio::test]
async fn every_broken_rule_is_reported_at_once_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let response = create(
        &app,
        &owner,
        &json!({
            "legal_name": " ESCUELA",
            "rfc": "EKU9003173C8",
            "tax_regime": "612",
            "tax_postal_code": "00001",
            "cfdi_use": "ZZZ",
            "emails": ["ok@example.com", "not-an-email", "OK@example.com"],
            "phone": "call me",
            "address": {"country": "XYZ", "street": ""},
            "payment_terms_days": -1,
            "external_id": "",
            "metadata": {"k": "x".repeat(501)},
            "tax_residence_country": "MEX"
        }),
    )
    .await;
    let problem = problem_of(response, 422, "validation_failed").await;
    let mut found = pointers(&problem);
    found.sort();
    let mut expected = vec![
        "/legal_name untrimmed",
        "/rfc invalid_rfc_check_digit",
        "/tax_postal_code unknown_postal_code",
        "/cfdi_use CFDI40160",
        "/tax_residence_country CFDI40152",
        "/emails/1 invalid_email",
        "/emails/2 duplicate",
        "/phone invalid_phone",
        "/address/street length",
        "/address/country unknown_country",
        "/payment_terms_days out_of_range",
        "/external_id length",
        "/metadata/k length",
    ];
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(count(&app, &owner).await, 0);
}

#[tokio::test]
async fn wrong_types_and_unknown_fields_are_all_reported() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let mut body = kemper();
    body["legal_name"] = json!(42);
    body["payment_terms_days"] = json!("thirty");
    body["colour"] = json!("blue");
    let problem = problem_of(create(&app, &owner, &body).await, 422, "validation_failed").await;
    let mut found = pointers(&problem);
    found.sort();
    assert_eq!(
        found,
        [
            "/colour unknown_field",
            "/legal_name invalid_type",
            "/payment_terms_days invalid_type"
        ]
    );
    let missing = problem_of(
        create(&app, &owner, &json!({"legal_name": "X"})).await,
        422,
        "validation_failed",
    )
    .await;
    // Every missing member, not only the first.
    assert_eq!(
        pointers(&missing),
        [
            "/rfc required",
            "/tax_regime required",
            "/tax_postal_code required"
        ]
    );
}

#[tokio::test]
async fn sat_receiver_rules_hold_for_regimes_uses_and_generic_rfcs() {
    let app = TestApp::spawn().await;
    // Organization 0 issues from 42501.
    let owner = app.register_tenant(0, "owner@example.com").await;
    // A persona física cannot be in the companies' régimen, nor use D01 with 601.
    let mut person = kemper();
    person["rfc"] = json!("CACX7605101P8");
    person["external_id"] = json!("P-1");
    let problem = problem_of(
        create(&app, &owner, &person).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/tax_regime CFDI40158"]);
    person["tax_regime"] = json!("612");
    person["cfdi_use"] = json!("D01");
    created(&app, &owner, &person).await;
    let mut company = kemper();
    company["cfdi_use"] = json!("D01");
    let problem = problem_of(
        create(&app, &owner, &company).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/cfdi_use CFDI40161"]);

    // Público en general: 616, S01 and the organization's own postal code.
    let public = json!({
        "legal_name": "PUBLICO EN GENERAL", "rfc": "XAXX010101000", "tax_regime": "616",
        "tax_postal_code": "42501", "cfdi_use": "S01"
    });
    created(&app, &owner, &public).await;
    let problem = problem_of(
        create(
            &app,
            &owner,
            &json!({
                "legal_name": "PUBLICO EN GENERAL", "rfc": "XAXX010101000", "tax_regime": "601",
                "tax_postal_code": "64000", "cfdi_use": "G03"
            }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        ["/tax_regime CFDI40159", "/tax_postal_code CFDI40149"]
    );
    let problem = problem_of(
        create(
            &app,
            &owner,
            &json!({
                "legal_name": "Público en General", "rfc": "EKU9003173C9", "tax_regime": "601",
                "tax_postal_code": "42501"
            }),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/rfc CFDI40146"]);

    // A foreign customer: residence abroad and a tax id in its country's format.
    let foreign = json!({
        "legal_name": "ACME INC", "rfc": "XEXX010101000", "tax_regime": "616",
        "tax_postal_code": "42501", "cfdi_use": "S01",
        "tax_residence_country": "USA", "foreign_tax_id": "123456789"
    });
    let body = created(&app, &owner, &foreign).await;
    assert_eq!(body["tax_residence_country"], "USA");
    let mut bad = foreign.clone();
    bad["foreign_tax_id"] = json!("12-345");
    let problem = problem_of(create(&app, &owner, &bad).await, 422, "validation_failed").await;
    assert_eq!(pointers(&problem), ["/foreign_tax_id CFDI40156"]);
}

#[tokio::test]
async fn a_merge_patch_changes_what_it_names_and_is_checked_as_a_whole() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let customer = created(&app, &owner, &kemper()).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());

    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .json(&json!({"cfdi_use": "G01", "phone": null, "metadata": {"segment": null, "tier": "gold"}, "address": {"interior_number": "3"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed = json_of(response, 200).await;
    assert_eq!(changed["cfdi_use"], "G01");
    assert!(changed.get("phone").is_none_or(Value::is_null));
    assert_eq!(changed["metadata"], json!({"tier": "gold"}));
    assert_eq!(changed["address"]["interior_number"], "3");
    assert_eq!(changed["address"]["street"], "Av. Constitución");
    assert_eq!(changed["legal_name"], "ESCUELA KEMPER URGATE");
    assert_eq!(changed["version"], 2);

    // A stale ETag changes nothing.
    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .json(&json!({"notes": "stale"}))
        .send()
        .await
        .unwrap();
    problem_of(response, 412, "precondition_failed").await;

    // An RFC of a persona física does not fit the stored régimen 601: refused as a whole.
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::PATCH,
            &path,
            Some(json!({"rfc": "CACX7605101P8"})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/tax_regime CFDI40158"]);
    // Fields the resource does not have, or required ones set to null, are refused.
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::PATCH,
            &path,
            Some(json!({"id": "x", "legal_name": null})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    let mut found = pointers(&problem);
    found.sort();
    assert_eq!(found, ["/id unknown_field", "/legal_name required"]);
    let now = json_of(call(&app, &owner, Method::GET, &path, None).await, 200).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["rfc"], "EKU9003173C9");
}

#[tokio::test]
async fn external_ids_are_unique_per_organization() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let other = app.register_tenant(1, "other@example.com").await;
    created(&app, &owner, &kemper()).await;
    let mut again = kemper();
    again["legal_name"] = json!("OTRA ESCUELA");
    let problem = problem_of(create(&app, &owner, &again).await, 409, "external_id_taken").await;
    assert_eq!(pointers(&problem), ["/external_id external_id_taken"]);
    // Another organization has its own ids; its issuer postal code does not matter here.
    created(&app, &other, &kemper()).await;
}

#[tokio::test]
async fn a_retried_create_with_the_same_idempotency_key_creates_one_customer() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let send = || {
        app.post("/v1/customers")
            .bearer_auth(&owner.access_token)
            .header("idempotency-key", "import-2026-12-03-row-1")
            .json(&kemper())
            .send()
    };
    let first = json_of(send().await.unwrap(), 201).await;
    let response = send().await.unwrap();
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    let second = json_of(response, 201).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(count(&app, &owner).await, 1);
}

async fn names(app: &TestApp, owner: &Tenant, query: &str) -> Vec<String> {
    let list = json_of(
        call(
            app,
            owner,
            Method::GET,
            &format!("/v1/customers?{query}"),
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
        .map(|c| c["legal_name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn lists_search_filter_sort_and_page() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let people = [
        "JOSÉ PÉREZ LÓPEZ",
        "ÁNGELA NÚÑEZ",
        "BERTA DÍAZ",
        "CARLOS GÓMEZ",
        "DANIELA RUIZ",
    ];
    let mut ids = Vec::new();
    for (i, name) in people.iter().enumerate() {
        // Valid RFCs with check digits are scarce: vary SAT's test RFC's name only.
        let body = json!({
            "legal_name": name, "rfc": "CACX7605101P8", "tax_regime": "612",
            "tax_postal_code": "42501", "emails": [format!("c{i}@cliente.example")],
            "external_id": format!("E{i}")
        });
        ids.push(
            created(&app, &owner, &body).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut company = kemper();
    company["legal_name"] = json!("ESCUELA KEMPER URGATE");
    created(&app, &owner, &company).await;

    // Accent- and case-insensitive search over name, RFC and emails.
    assert_eq!(names(&app, &owner, "q=jose").await, ["JOSÉ PÉREZ LÓPEZ"]);
    assert_eq!(names(&app, &owner, "q=nunez").await, ["ÁNGELA NÚÑEZ"]);
    assert_eq!(
        names(&app, &owner, "q=c3%40cliente").await,
        ["CARLOS GÓMEZ"]
    );
    assert_eq!(
        names(&app, &owner, "q=eku9003").await,
        ["ESCUELA KEMPER URGATE"]
    );
    // LIKE wildcards in q are plain characters.
    assert!(names(&app, &owner, "q=%25").await.is_empty());
    assert_eq!(
        names(&app, &owner, "rfc=EKU9003173C9").await,
        ["ESCUELA KEMPER URGATE"]
    );

    // Archive one; filter both ways.
    let path = format!("/v1/customers/{}", ids[4]);
    json_of(
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
    assert_eq!(names(&app, &owner, "archived=true").await, ["DANIELA RUIZ"]);
    assert_eq!(names(&app, &owner, "archived=false").await.len(), 5);

    // updated_since sees only what changed since.
    let archived = json_of(call(&app, &owner, Method::GET, &path, None).await, 200).await;
    let since = archived["updated_at"].as_str().unwrap();
    assert_eq!(
        names(
            &app,
            &owner,
            &format!("updated_since={since}&sort=updated_at")
        )
        .await,
        ["DANIELA RUIZ"]
    );

    // Every sort pages through all six without repeats, in order.
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
            let mut query = format!("limit=4&sort={sort}");
            if let Some(c) = &cursor {
                query.push_str(&format!("&starting_after={c}"));
            }
            let page = json_of(
                call(
                    &app,
                    &owner,
                    Method::GET,
                    &format!("/v1/customers?{query}"),
                    None,
                )
                .await,
                200,
            )
            .await;
            for c in page["data"].as_array().unwrap() {
                seen.push(c["legal_name"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 6, "{sort}: {seen:?}");
        if sort == "name" {
            let mut sorted = seen.clone();
            sorted.sort();
            assert_eq!(seen, sorted);
        }
    }

    // Bad parameters: each named.
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::GET,
            "/v1/customers?limit=0&sort=rfc&rfc=X",
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    let found = pointers(&problem);
    assert!(
        found.contains(&"/limit out_of_range".to_string()),
        "{found:?}"
    );
    assert!(
        found.contains(&"/sort unknown_sort_field".to_string()),
        "{found:?}"
    );
}

#[tokio::test]
async fn deleting_removes_the_customer_and_its_contacts() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let customer = created(&app, &owner, &kemper()).await;
    let path = format!("/v1/customers/{}", customer["id"].as_str().unwrap());
    let contact = json_of(
        call(
            &app,
            &owner,
            Method::POST,
            &format!("{path}/contacts"),
            Some(json!({"name": "María Fernández", "email": "maria@kemper.example", "role": "cuentas por pagar"})),
        )
        .await,
        201,
    )
    .await;
    let response = app
        .request(Method::DELETE, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"7\"")
        .send()
        .await
        .unwrap();
    problem_of(response, 412, "precondition_failed").await;
    assert_eq!(
        call(&app, &owner, Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    problem_of(
        call(&app, &owner, Method::GET, &path, None).await,
        404,
        "not_found",
    )
    .await;
    problem_of(
        call(
            &app,
            &owner,
            Method::GET,
            &format!("{path}/contacts/{}", contact["id"].as_str().unwrap()),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn contacts_are_a_sub_resource_with_the_same_conventions() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let a = created(&app, &owner, &kemper()).await;
    let mut other = kemper();
    other["external_id"] = json!("SAP-C-2");
    let b = created(&app, &owner, &other).await;
    let contacts = format!("/v1/customers/{}/contacts", a["id"].as_str().unwrap());

    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::POST,
            &contacts,
            Some(json!({"name": "", "email": "nope", "phone": "1"})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        [
            "/name length",
            "/email invalid_email",
            "/phone invalid_phone"
        ]
    );
    for i in 0..3 {
        json_of(
            call(
                &app,
                &owner,
                Method::POST,
                &contacts,
                Some(json!({"name": format!("Contacto {i}"), "phone": "81 1234 5678"})),
            )
            .await,
            201,
        )
        .await;
    }
    let page = json_of(
        call(
            &app,
            &owner,
            Method::GET,
            &format!("{contacts}?limit=2"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["has_more"], true);
    let first = &page["data"][0];
    assert_eq!(first["name"], "Contacto 0");
    let one = format!("{contacts}/{}", first["id"].as_str().unwrap());

    let changed = json_of(
        call(
            &app,
            &owner,
            Method::PATCH,
            &one,
            Some(json!({"phone": null, "role": "pagos"})),
        )
        .await,
        200,
    )
    .await;
    assert!(changed["phone"].is_null());
    assert_eq!(changed["role"], "pagos");
    assert_eq!(changed["version"], 2);

    // The contact belongs to customer a: under customer b it does not exist.
    let wrong = format!(
        "/v1/customers/{}/contacts/{}",
        b["id"].as_str().unwrap(),
        first["id"].as_str().unwrap()
    );
    problem_of(
        call(&app, &owner, Method::GET, &wrong, None).await,
        404,
        "not_found",
    )
    .await;
    problem_of(
        call(&app, &owner, Method::DELETE, &wrong, None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        call(&app, &owner, Method::DELETE, &one, None)
            .await
            .status(),
        204
    );
    let unknown = format!("/v1/customers/{}/contacts", uuid::Uuid::now_v7());
    problem_of(
        call(&app, &owner, Method::GET, &unknown, None).await,
        404,
        "not_found",
    )
    .await;
}
