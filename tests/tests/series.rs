//! Invoice series over HTTP (the CFDI Serie rules, folios that only move forward, one default
//! per document type, lists, optimistic concurrency, other tenants) and, straight on the
//! database, the folio counter the invoice code takes from inside its issue transactions.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::collections::BTreeMap;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use persistence::StoreError;
use persistence::series as store;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{Tenant, TestApp, call, json_of, pointers, problem_of};
use uuid::Uuid;

async fn created(app: &TestApp, who: &Tenant, body: Value) -> Value {
    json_of(
        call(app, who, Method::POST, "/v1/series", Some(body)).await,
        201,
    )
    .await
}

async fn get(app: &TestApp, who: &Tenant, id: &Value) -> Value {
    json_of(
        call(
            app,
            who,
            Method::GET,
            &format!("/v1/series/{}", id.as_str().unwrap()),
            None,
        )
        .await,
        200,
    )
    .await
}

async fn patch(app: &TestApp, who: &Tenant, id: &Value, body: Value) -> reqwest::Response {
    call(
        app,
        who,
        Method::PATCH,
        &format!("/v1/series/{}", id.as_str().unwrap()),
        Some(body),
    )
    .await
}

async fn prefixes(app: &TestApp, who: &Tenant, query: &str) -> Vec<String> {
    let list = json_of(
        call(app, who, Method::GET, &format!("/v1/series?{query}"), None).await,
        200,
    )
    .await;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["prefix"].as_str().unwrap().to_string())
        .collect()
}

fn org_of(tenant: &Tenant) -> Uuid {
    tenant.organization_id.parse().unwrap()
}

fn id_of(series: &Value) -> Uuid {
    series["id"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_series_round_trips_with_every_field() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let response = call(
        &app,
        &owner,
        Method::POST,
        "/v1/series",
        Some(json!({
            "prefix": "  Nota de crédito ",
            "document_type": "E",
            "next_folio": 1201,
            "is_default": true,
            "description": "Notas de crédito de mostrador",
            "archived": false
        })),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let body = json_of(response, 201).await;
    assert_eq!(
        location,
        format!("/v1/series/{}", body["id"].as_str().unwrap())
    );
    // The prefix is stored trimmed, as SAT's schema reads it.
    assert_eq!(body["prefix"], "Nota de crédito");
    assert_eq!(body["document_type"], "E");
    assert_eq!(body["next_folio"], 1201);
    assert_eq!(body["is_default"], true);
    assert_eq!(body["description"], "Notas de crédito de mostrador");
    assert_eq!(body["archived"], false);
    assert_eq!(body["version"], 1);
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "archived",
            "created_at",
            "description",
            "document_type",
            "id",
            "is_default",
            "next_folio",
            "prefix",
            "updated_at",
            "version"
        ]
    );
    let fetched = get(&app, &owner, &body["id"]).await;
    assert_eq!(fetched, body);

    // Only prefix and document_type are required.
    let minimal = created(&app, &owner, json!({"prefix": "F", "document_type": "I"})).await;
    assert_eq!(minimal["next_folio"], 1);
    assert_eq!(minimal["is_default"], false);
    assert!(minimal["description"].is_null());
    assert_eq!(minimal["archived"], false);

    // The invoice code finds the default by document type.
    let mut conn = app.db.connect();
    let org = org_of(&owner);
    let found = persistence::tenant::transaction(&mut conn, org, |conn| {
        Ok((
            store::default_for(conn, org, "E")?,
            store::default_for(conn, org, "I")?,
        ))
    })
    .unwrap();
    assert_eq!(found.0.map(|s| s.id), Some(id_of(&body)));
    assert_eq!(found.1, None);
}

#[tokio::test]
async fn prefixes_are_unique_per_organization_and_retries_create_one() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let other = app.register_tenant(1, "other@example.com").await;
    let send = || {
        app.post("/v1/series")
            .bearer_auth(&owner.access_token)
            .header("idempotency-key", "setup-series-F")
            .json(&json!({"prefix": "F", "document_type": "I"}))
            .send()
    };
    let first = json_of(send().await.unwrap(), 201).await;
    let response = send().await.unwrap();
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(response, 201).await["id"], first["id"]);

    // Also for another document type, and also when only trimming tells them apart.
    for body in [
        json!({"prefix": "F", "document_type": "E"}),
        json!({"prefix": " F ", "document_type": "I"}),
    ] {
        let problem = problem_of(
            call(&app, &owner, Method::POST, "/v1/series", Some(body)).await,
            409,
            "prefix_taken",
        )
        .await;
        assert_eq!(pointers(&problem), ["/prefix prefix_taken"]);
    }
    // Another organization has prefixes of its own; case tells prefixes apart.
    created(&app, &other, json!({"prefix": "F", "document_type": "I"})).await;
    created(&app, &owner, json!({"prefix": "f", "document_type": "I"})).await;
    assert_eq!(prefixes(&app, &owner, "").await, ["F", "f"]);
}

#[tokio::test]
async fn every_invalid_field_is_reported_at_once_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::POST,
            "/v1/series",
            Some(json!({
                "prefix": "A|B",
                "document_type": "N",
                "next_folio": 0,
                "is_default": true,
                "description": "d".repeat(201),
                "archived": true
            })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        [
            "/description length",
            "/document_type unknown_document_type",
            "/is_default archived_default",
            "/next_folio out_of_range",
            "/prefix invalid_characters",
        ]
    );
    for (prefix, code) in [
        ("X".repeat(26), "length"),
        ("   ".to_string(), "length"),
        ("A\tB".to_string(), "invalid_characters"),
        ("A  B".to_string(), "repeated_spaces"),
    ] {
        let problem = problem_of(
            call(
                &app,
                &owner,
                Method::POST,
                "/v1/series",
                Some(json!({"prefix": prefix, "document_type": "I", "next_folio": 9007199254740992_i64})),
            )
            .await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(
            pointers(&problem),
            [
                "/next_folio out_of_range".to_string(),
                format!("/prefix {code}")
            ],
            "{prefix:?}"
        );
    }
    // Wrong types, unknown and missing members, all in one answer.
    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::POST,
            "/v1/series",
            Some(json!({"next_folio": "12", "is_default": "yes", "folio": 1})),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        [
            "/document_type required",
            "/folio unknown_field",
            "/is_default invalid_type",
            "/next_folio invalid_type",
            "/prefix required",
        ]
    );
    assert!(prefixes(&app, &owner, "").await.is_empty());
}

#[tokio::test]
async fn next_folio_may_be_raised_but_never_lowered() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    // Continuing a previous system's numbering.
    let series = created(
        &app,
        &owner,
        json!({"prefix": "A", "document_type": "I", "next_folio": 1200}),
    )
    .await;
    let problem = problem_of(
        patch(&app, &owner, &series["id"], json!({"next_folio": 1199})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/next_folio folio_would_repeat"]);
    let same = json_of(
        patch(&app, &owner, &series["id"], json!({"next_folio": 1200})).await,
        200,
    )
    .await;
    assert_eq!(same["next_folio"], 1200);
    let raised = json_of(
        patch(&app, &owner, &series["id"], json!({"next_folio": 5000})).await,
        200,
    )
    .await;
    assert_eq!(raised["next_folio"], 5000);
    assert_eq!(raised["version"], 3);

    // A folio taken moves the counter and the version; the old value is then "lower".
    let org = org_of(&owner);
    let mut conn = app.db.connect();
    let folio = persistence::tenant::transaction(&mut conn, org, |conn| {
        store::take_folio(conn, org, id_of(&series))
    })
    .unwrap();
    assert_eq!(folio, 5000);
    let now = get(&app, &owner, &series["id"]).await;
    assert_eq!(now["next_folio"], 5001);
    assert_eq!(now["version"], 4);
    let problem = problem_of(
        patch(&app, &owner, &series["id"], json!({"next_folio": 5000})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/next_folio folio_would_repeat"]);

    // The prefix is fixed; the rest changes; the whole is checked.
    let problem = problem_of(
        patch(
            &app,
            &owner,
            &series["id"],
            json!({"prefix": "B", "next_folio": 1, "document_type": "X"}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        [
            "/document_type unknown_document_type",
            "/next_folio folio_would_repeat",
            "/prefix immutable"
        ]
    );
    let problem = problem_of(
        patch(
            &app,
            &owner,
            &series["id"],
            json!({"document_type": "T", "version": 9}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/version unknown_field"]);
    let changed = json_of(
        patch(
            &app,
            &owner,
            &series["id"],
            json!({"prefix": " A ", "document_type": "T", "description": "Traslados"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["document_type"], "T");
    assert_eq!(changed["description"], "Traslados");
    let cleared = json_of(
        patch(&app, &owner, &series["id"], json!({"description": null})).await,
        200,
    )
    .await;
    assert!(cleared["description"].is_null());
    assert_eq!(cleared["next_folio"], 5001);
}

#[tokio::test]
async fn one_default_per_document_type() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let a = created(
        &app,
        &owner,
        json!({"prefix": "A", "document_type": "I", "is_default": true}),
    )
    .await;
    let e = created(
        &app,
        &owner,
        json!({"prefix": "NC", "document_type": "E", "is_default": true}),
    )
    .await;
    // A new default of type I takes over from A; E's default is another type's and stays.
    let b = created(
        &app,
        &owner,
        json!({"prefix": "B", "document_type": "I", "is_default": true}),
    )
    .await;
    let a_now = get(&app, &owner, &a["id"]).await;
    assert_eq!(a_now["is_default"], false);
    assert_eq!(a_now["version"], 2, "clearing the default is a change");
    assert_eq!(get(&app, &owner, &e["id"]).await["is_default"], true);

    // And back, by PATCH.
    let a_now = json_of(
        patch(&app, &owner, &a["id"], json!({"is_default": true})).await,
        200,
    )
    .await;
    assert_eq!(a_now["is_default"], true);
    assert_eq!(get(&app, &owner, &b["id"]).await["is_default"], false);

    // A default series that changes type becomes the default of its new type.
    json_of(
        patch(&app, &owner, &a["id"], json!({"document_type": "E"})).await,
        200,
    )
    .await;
    assert_eq!(get(&app, &owner, &e["id"]).await["is_default"], false);

    // An archived series is never the default.
    let problem = problem_of(
        patch(&app, &owner, &a["id"], json!({"archived": true})).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(pointers(&problem), ["/is_default archived_default"]);
    let archived = json_of(
        patch(
            &app,
            &owner,
            &a["id"],
            json!({"archived": true, "is_default": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(archived["archived"], true);

    let org = org_of(&owner);
    let mut conn = app.db.connect();
    let defaults = persistence::tenant::transaction(&mut conn, org, |conn| {
        Ok((
            store::default_for(conn, org, "I")?,
            store::default_for(conn, org, "E")?,
        ))
    })
    .unwrap();
    assert_eq!(defaults.0, None);
    assert_eq!(defaults.1, None);
}

#[tokio::test]
async fn concurrent_defaults_leave_exactly_one() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            created(
                &app,
                &owner,
                json!({"prefix": format!("S{i}"), "document_type": "I"}),
            )
            .await["id"]
                .clone(),
        );
    }
    let patches = ids
        .iter()
        .map(|id| patch(&app, &owner, id, json!({"is_default": true})));
    let creates = (0..6).map(|i| {
        call(
            &app,
            &owner,
            Method::POST,
            "/v1/series",
            Some(json!({"prefix": format!("N{i}"), "document_type": "I", "is_default": true})),
        )
    });
    let (patched, posted) = futures_util::future::join(
        futures_util::future::join_all(patches),
        futures_util::future::join_all(creates),
    )
    .await;
    for response in patched {
        assert_eq!(response.status(), 200);
    }
    for response in posted {
        assert_eq!(response.status(), 201);
    }
    let list = json_of(
        call(&app, &owner, Method::GET, "/v1/series?limit=100", None).await,
        200,
    )
    .await;
    let defaults = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["is_default"] == true)
        .count();
    assert_eq!(defaults, 1, "{list}");
}

#[tokio::test]
async fn lists_filter_sort_and_page() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let other = app.register_tenant(1, "other@example.com").await;
    created(&app, &other, json!({"prefix": "Z", "document_type": "I"})).await;
    let items = [("F", "I"), ("NC", "E"), ("A", "I"), ("P", "P"), ("T", "T")];
    let mut ids = Vec::new();
    for (prefix, document_type) in items {
        ids.push(
            created(
                &app,
                &owner,
                json!({"prefix": prefix, "document_type": document_type}),
            )
            .await["id"]
                .clone(),
        );
    }
    assert_eq!(prefixes(&app, &owner, "").await, ["A", "F", "NC", "P", "T"]);
    assert_eq!(prefixes(&app, &owner, "document_type=I").await, ["A", "F"]);
    json_of(
        patch(&app, &owner, &ids[0], json!({"archived": true})).await,
        200,
    )
    .await;
    assert_eq!(prefixes(&app, &owner, "archived=true").await, ["F"]);
    assert_eq!(
        prefixes(&app, &owner, "archived=false&document_type=I").await,
        ["A"]
    );

    let created_order: Vec<String> = items.iter().map(|i| i.0.to_string()).collect();
    for (sort, expected) in [
        ("prefix", vec!["A", "F", "NC", "P", "T"]),
        ("-prefix", vec!["T", "P", "NC", "F", "A"]),
        (
            "created_at",
            created_order.iter().map(String::as_str).collect(),
        ),
        (
            "-created_at",
            created_order.iter().rev().map(String::as_str).collect(),
        ),
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
                    &format!("/v1/series?{query}"),
                    None,
                )
                .await,
                200,
            )
            .await;
            let data = page["data"].as_array().unwrap();
            assert!(data.len() <= 2);
            seen.extend(
                data.iter()
                    .map(|s| s["prefix"].as_str().unwrap().to_string()),
            );
            assert_eq!(page["has_more"], page["next_cursor"].is_string());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{sort}");
    }

    let problem = problem_of(
        call(
            &app,
            &owner,
            Method::GET,
            "/v1/series?limit=0&sort=name&document_type=N&starting_after=garbage",
            None,
        )
        .await,
        400,
        "invalid_query",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        [
            "/document_type unknown_document_type",
            "/limit out_of_range",
            "/sort unknown_sort_field",
            "/starting_after invalid_cursor"
        ]
    );
}

#[tokio::test]
async fn stale_if_match_is_412_and_deleting_works() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let series = created(&app, &owner, json!({"prefix": "F", "document_type": "I"})).await;
    let path = format!("/v1/series/{}", series["id"].as_str().unwrap());
    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .json(&json!({"description": "Facturas"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"2\"");
    json_of(response, 200).await;
    let response = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"1\"")
        .json(&json!({"next_folio": 10}))
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
    problem_of(response, 412, "precondition_failed").await;
    let now = get(&app, &owner, &series["id"]).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["next_folio"], 1);

    let response = app
        .request(Method::DELETE, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"2\"")
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
    problem_of(
        call(&app, &owner, Method::DELETE, &path, None).await,
        404,
        "not_found",
    )
    .await;
    // The prefix is free again.
    created(&app, &owner, json!({"prefix": "F", "document_type": "I"})).await;
}

#[tokio::test]
async fn another_tenants_series_do_not_exist() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let them = app.register_tenant(1, "them@example.com").await;
    let theirs = created(
        &app,
        &them,
        json!({"prefix": "F", "document_type": "I", "is_default": true}),
    )
    .await;
    let path = format!("/v1/series/{}", theirs["id"].as_str().unwrap());
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"next_folio": 99}))),
        (Method::DELETE, None),
    ] {
        problem_of(
            call(&app, &owner, method, &path, body).await,
            404,
            "not_found",
        )
        .await;
    }
    // Our default of the same type leaves theirs alone.
    created(
        &app,
        &owner,
        json!({"prefix": "F", "document_type": "I", "is_default": true}),
    )
    .await;
    let still = get(&app, &them, &theirs["id"]).await;
    assert_eq!(still, theirs);
    assert!(prefixes(&app, &them, "").await == ["F"]);

    // Straight on the database: their series is not ours to number, and row-level security
    // hides it even from a query that forgets the organization.
    let (org, their_org) = (org_of(&owner), org_of(&them));
    let mut conn = app.db.connect();
    let result = persistence::tenant::transaction(&mut conn, org, |conn| {
        store::take_folio(conn, org, id_of(&theirs))
    });
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    let result = persistence::tenant::transaction(&mut conn, org, |conn| {
        store::take_folio(conn, their_org, id_of(&theirs))
    });
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let visible = persistence::tenant::transaction(&mut conn, org, |conn| {
        Ok(diesel::sql_query("SELECT count(*) AS n FROM series")
            .get_result::<Count>(conn)?
            .n)
    })
    .unwrap();
    assert_eq!(visible, 1);
    let forged = persistence::tenant::transaction(&mut conn, org, |conn| {
        Ok(diesel::sql_query(
            "INSERT INTO series (id, organization_id, prefix, document_type) VALUES (gen_random_uuid(), $1, 'X', 'I')",
        )
        .bind::<SqlUuid, _>(their_org)
        .execute(conn)?)
    });
    assert!(forged.is_err(), "a series for another tenant was written");
    assert_eq!(get(&app, &them, &theirs["id"]).await["next_folio"], 1);
}

/// SplitMix64: the test's randomness, reproducible from the seed it prints on failure.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// What one issue transaction does.
#[derive(Debug, Clone, Copy)]
struct Issue {
    series: usize,
    roll_back: bool,
    /// How long it keeps the row locked after taking its folio, so others queue behind it.
    hold_micros: u64,
}

const TRANSACTIONS: usize = 200;
const THREADS: usize = 20;

/// 200 issue transactions from 20 threads (a connection each) take folios from two
/// organizations' series at once, 20 % of them at random failing after taking theirs.
/// Afterwards each series' committed folios are exactly 1..N, with no gap and no repeat, and
/// its counter is at N + 1.
#[tokio::test]
async fn folios_are_gapless_under_concurrent_issues_that_roll_back() {
    let app = TestApp::spawn().await;
    let tenants = [
        app.register_tenant(0, "a@example.com").await,
        app.register_tenant(1, "b@example.com").await,
    ];
    let mut series = Vec::new();
    for tenant in &tenants {
        // The same prefix in both: counters are per series, and series per organization.
        let body = created(&app, tenant, json!({"prefix": "F", "document_type": "I"})).await;
        series.push((org_of(tenant), id_of(&body)));
    }
    // Where committed folios are recorded, in the issuing transaction as an invoice would be:
    // a folio recorded twice would break the primary key.
    app.db
        .connect()
        .batch_execute(
            "CREATE TABLE issued_folios (series_id uuid, folio bigint, PRIMARY KEY (series_id, folio));
             GRANT SELECT, INSERT ON issued_folios TO facturacion_app;",
        )
        .unwrap();

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = Random(seed);
    // Exactly 20 % roll back, in random places.
    let mut plan: Vec<Issue> = (0..TRANSACTIONS)
        .map(|i| Issue {
            series: i % 2,
            roll_back: i % 10 < 2,
            hold_micros: 0,
        })
        .collect();
    for i in (1..plan.len()).rev() {
        plan.swap(i, random.below(i + 1));
    }
    for issue in &mut plan {
        issue.hold_micros = random.below(1500) as u64;
    }

    let (url, shared) = (app.db.url.clone(), series.clone());
    let outcomes = tokio::task::spawn_blocking(move || {
        let barrier = std::sync::Barrier::new(THREADS);
        std::thread::scope(|scope| {
            let workers: Vec<_> = plan
                .chunks(TRANSACTIONS / THREADS)
                .map(|issues| {
                    let (barrier, url, series) = (&barrier, &url, &shared);
                    scope.spawn(move || {
                        let mut conn = PgConnection::establish(url).unwrap();
                        barrier.wait();
                        let mut outcomes = Vec::new();
                        for issue in issues {
                            let (org, series_id) = series[issue.series];
                            let result = persistence::tenant::transaction(&mut conn, org, |conn| {
                                let folio = store::take_folio(conn, org, series_id)?;
                                diesel::sql_query(
                                    "INSERT INTO issued_folios (series_id, folio) VALUES ($1, $2)",
                                )
                                .bind::<SqlUuid, _>(series_id)
                                .bind::<BigInt, _>(folio)
                                .execute(conn)?;
                                std::thread::sleep(Duration::from_micros(issue.hold_micros));
                                if issue.roll_back {
                                    // The issue fails after its folio was taken (the PAC refused
                                    // it, say): the transaction rolls back.
                                    return Err(StoreError::Query(
                                        diesel::result::Error::RollbackTransaction,
                                    ));
                                }
                                Ok(folio)
                            });
                            outcomes.push((*issue, result));
                        }
                        outcomes
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect::<Vec<_>>()
        })
    })
    .await
    .unwrap();

    let mut committed: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    let mut rolled_back = [0; 2];
    for (issue, result) in outcomes {
        match result {
            Ok(folio) => {
                assert!(!issue.roll_back, "seed {seed}: {issue:?} committed");
                committed.entry(issue.series).or_default().push(folio);
            }
            Err(StoreError::Query(diesel::result::Error::RollbackTransaction))
                if issue.roll_back =>
            {
                rolled_back[issue.series] += 1;
            }
            Err(e) => panic!("seed {seed}: {issue:?} failed: {e}"),
        }
    }
    assert_eq!(rolled_back, [20, 20], "seed {seed}");

    let mut conn = app.db.connect();
    #[derive(QueryableByName)]
    struct Folio {
        #[diesel(sql_type = BigInt)]
        folio: i64,
    }
    for (n, (org, series_id)) in series.iter().enumerate() {
        let mut folios = committed.remove(&n).unwrap_or_default();
        folios.sort_unstable();
        let expected: Vec<i64> = (1..=80).collect();
        assert_eq!(folios, expected, "seed {seed}: series {n}");
        let recorded: Vec<i64> = diesel::sql_query(
            "SELECT folio FROM issued_folios WHERE series_id = $1 ORDER BY folio",
        )
        .bind::<SqlUuid, _>(*series_id)
        .load::<Folio>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|f| f.folio)
        .collect();
        assert_eq!(recorded, expected, "seed {seed}: series {n}");
        let stored = persistence::tenant::transaction(&mut conn, *org, |conn| {
            store::find(conn, *org, *series_id)
        })
        .unwrap();
        assert_eq!(stored.next_folio, 81, "seed {seed}: series {n}");
        // Rolled-back takes left the version alone too.
        assert_eq!(stored.version, 81, "seed {seed}: series {n}");
    }
    // And the API shows the counter the invoice code left.
    let shown = get(&app, &tenants[0], &json!(series[0].1.to_string())).await;
    assert_eq!(shown["next_folio"], 81);
}
