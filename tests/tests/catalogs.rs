//! SAT catalogs over HTTP: search, pagination, CFDI-use filters, postal codes, errors, and
//! reloading a newer publication while the service answers.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::collections::BTreeSet;

use chrono::NaiveDate;
use persistence::catalogs::{self, EntryFilter};
use serde_json::Value;
use tests::{TestApp, json_of, problem_of};

/// A registered organization's owner token: catalogs need a login but no particular role.
async fn login(app: &TestApp) -> String {
    app.register_tenant(0, "owner@example.com")
        .await
        .access_token
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    json_of(app.get(path).bearer_auth(token).send().await.unwrap(), 200).await
}

fn keys(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_ignores_accents_and_case() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    let page = get(&app, &token, "/v1/catalogs/c_FormaPago?q=credito").await;
    let card = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "04")
        .unwrap_or_else(|| panic!("04 not found: {page}"));
    assert_eq!(card["description"], "Tarjeta de crédito");
    assert_eq!(card["valid_from"], "2022-01-01");
    assert_eq!(card["attributes"]["banked"], true);
    // Upper case with the accent finds the same entries; so does a key.
    let shouted = get(
        &app,
        &token,
        "/v1/catalogs/c_FormaPago?q=%20CR%C3%89DITO%20",
    )
    .await;
    assert_eq!(keys(&shouted), keys(&page));
    let by_key = get(&app, &token, "/v1/catalogs/c_UsoCFDI?q=g03").await;
    assert_eq!(keys(&by_key), ["G03"]);
    // LIKE wildcards in the text are plain characters.
    let percent = get(&app, &token, "/v1/catalogs/c_FormaPago?q=%25").await;
    assert_eq!(keys(&percent), Vec::<String>::new());
}

#[tokio::test]
async fn pages_walk_a_catalog_to_the_end_without_repeats() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    let mut seen = Vec::new();
    let mut path = "/v1/catalogs/c_UsoCFDI?limit=5".to_string();
    loop {
        let page = get(&app, &token, &path).await;
        let page_keys = keys(&page);
        assert!(page_keys.len() <= 5, "{page}");
        seen.extend(page_keys);
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["has_more"], true);
                path = format!("/v1/catalogs/c_UsoCFDI?limit=5&starting_after={cursor}");
            }
            None => {
                assert_eq!(page["has_more"], false);
                break;
            }
        }
    }
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "repeated keys: {seen:?}");
    let all = get(&app, &token, "/v1/catalogs/c_UsoCFDI?limit=100").await;
    assert_eq!(seen, keys(&all));
    assert_eq!(seen.len(), 24);

    // A cursor belongs to its catalog.
    let first = get(&app, &token, "/v1/catalogs/c_UsoCFDI?limit=5").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let response = app
        .get(&format!("/v1/catalogs/c_FormaPago?starting_after={cursor}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let problem = problem_of(response, 400, "invalid_query").await;
    assert_eq!(problem["errors"][0]["pointer"], "/starting_after");
}

#[tokio::test]
async fn cfdi_uses_filter_by_the_receivers_regime_and_person_type() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    let all = get(&app, &token, "/v1/catalogs/c_UsoCFDI?limit=100").await;
    let expected: Vec<String> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["attributes"]["natural_person"] == true
                && e["attributes"]["receiver_tax_regimes"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from("605"))
        })
        .map(|e| e["key"].as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty() && expected.len() < 24, "{expected:?}");
    let filtered = get(
        &app,
        &token,
        "/v1/catalogs/c_UsoCFDI?tax_regime=605&person_type=natural&limit=100",
    )
    .await;
    assert_eq!(keys(&filtered), expected);

    // Tax regimes of legal entities only.
    let legal = get(
        &app,
        &token,
        "/v1/catalogs/c_RegimenFiscal?person_type=legal",
    )
    .await;
    assert!(keys(&legal).contains(&"601".to_string()));
    assert!(!keys(&legal).contains(&"605".to_string()), "{legal}");
}

#[tokio::test]
async fn validity_defaults_to_today_and_can_ask_about_another_day() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    // Every c_UsoCFDI key has been in force since CFDI 4.0 began, 2022-01-01.
    let before = get(&app, &token, "/v1/catalogs/c_UsoCFDI?valid_on=2021-12-31").await;
    assert_eq!(keys(&before), Vec::<String>::new());
    let first_day = get(
        &app,
        &token,
        "/v1/catalogs/c_UsoCFDI?valid_on=2022-01-01&limit=100",
    )
    .await;
    assert_eq!(keys(&first_day).len(), 24);
}

#[tokio::test]
async fn a_postal_code_names_its_state_municipality_and_border_region() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    let tijuana = get(&app, &token, "/v1/catalogs/c_CodigoPostal/22000").await;
    assert_eq!(
        tijuana["postal_code"],
        serde_json::json!({
            "state": {"code": "BCN", "name": "Baja California"},
            "municipality": {"code": "004", "name": "Tijuana"},
            "locality": "04",
            "border_region": true,
            "time_zone": "Tiempo del Noroeste"
        })
    );
    let monterrey = get(&app, &token, "/v1/catalogs/c_CodigoPostal/64000").await;
    assert_eq!(monterrey["postal_code"]["state"]["name"], "Nuevo León");
    assert_eq!(
        monterrey["postal_code"]["municipality"]["name"],
        "Monterrey"
    );
    assert_eq!(monterrey["postal_code"]["border_region"], false);
    // Other catalogs' entries carry no postal_code.
    let use_g03 = get(&app, &token, "/v1/catalogs/c_UsoCFDI/G03").await;
    assert_eq!(use_g03["description"], "Gastos en general.");
    assert!(use_g03.get("postal_code").is_none(), "{use_g03}");
    // Keys with reserved characters, URL-encoded.
    let rate = get(
        &app,
        &token,
        "/v1/catalogs/c_TasaOCuota/IVA%7CTasa%7C0.160000",
    )
    .await;
    assert_eq!(rate["attributes"]["value"], "0.160000");
}

#[tokio::test]
async fn unknown_catalogs_and_keys_are_404_and_bad_queries_400() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    for path in [
        "/v1/catalogs/c_Nada",
        "/v1/catalogs/c_Nada/01",
        "/v1/catalogs/c_UsoCFDI/Z99",
        "/v1/catalogs/c_UsoCFDI/G%0003",
    ] {
        let response = app.get(path).bearer_auth(&token).send().await.unwrap();
        problem_of(response, 404, "not_found").await;
    }
    let cases = [
        ("/v1/catalogs/c_FormaPago?tax_regime=605", "/tax_regime"),
        (
            "/v1/catalogs/c_FormaPago?person_type=natural",
            "/person_type",
        ),
        ("/v1/catalogs/c_UsoCFDI?person_type=company", "/person_type"),
        ("/v1/catalogs/c_UsoCFDI?tax_regime=6050", "/tax_regime"),
        ("/v1/catalogs/c_UsoCFDI?valid_on=2026-02-30", "/valid_on"),
        ("/v1/catalogs/c_UsoCFDI?limit=101", "/limit"),
        ("/v1/catalogs/c_UsoCFDI?q=a%00b", "/q"),
    ];
    for (path, pointer) in cases {
        let response = app.get(path).bearer_auth(&token).send().await.unwrap();
        let problem = problem_of(response, 400, "invalid_query").await;
        assert_eq!(
            problem["errors"][0]["pointer"], pointer,
            "{path}: {problem}"
        );
    }
    let long = "x".repeat(101);
    let response = app
        .get(&format!("/v1/catalogs/c_ClaveProdServ?q={long}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let problem = problem_of(response, 400, "invalid_query").await;
    assert_eq!(problem["errors"][0]["pointer"], "/q");
}

fn months(label: &str) -> Vec<u8> {
    let mut csv = "id,texto,vigencia_desde,vigencia_hasta\n".to_string();
    for n in 1..=18 {
        csv.push_str(&format!("{n:02},{label} {n},2022-01-01,\n"));
    }
    csv.into_bytes()
}

#[tokio::test]
async fn a_newer_publication_is_loaded_and_served_with_its_version() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("VERSION"), "99.0.0\n").unwrap();
    std::fs::write(dir.path().join("c_Meses.csv"), months("Mes nuevo")).unwrap();
    let loaded = catalogs::load_dir(&mut app.db.connect(), dir.path()).unwrap();
    assert_eq!(
        loaded,
        [catalogs::Loaded {
            name: "c_Meses".into(),
            replaced: true,
            rows: 18
        }]
    );

    let list = get(&app, &token, "/v1/catalogs").await;
    let data = list["data"].as_array().unwrap();
    assert_eq!(data.len(), 22);
    for catalog in data {
        let expected = if catalog["name"] == "c_Meses" {
            "99.0.0"
        } else {
            catalogs::EMBEDDED_VERSION.trim()
        };
        assert_eq!(catalog["version"], expected, "{catalog}");
    }
    let january = get(&app, &token, "/v1/catalogs/c_Meses/01").await;
    assert_eq!(january["description"], "Mes nuevo 1");

    // A restart of the server, whose built-in catalogs are older, keeps the newer one.
    let at_start = catalogs::load_embedded(&mut app.db.connect()).unwrap();
    assert!(at_start.iter().all(|l| !l.replaced), "{at_start:?}");
    let january = get(&app, &token, "/v1/catalogs/c_Meses/01").await;
    assert_eq!(january["description"], "Mes nuevo 1");

    // Loading it again changes nothing; a broken CSV is refused and changes nothing either.
    let again = catalogs::load_dir(&mut app.db.connect(), dir.path()).unwrap();
    assert!(!again[0].replaced);
    std::fs::write(
        dir.path().join("c_Meses.csv"),
        "id,texto,vigencia_desde\n01,Uno,2022-01-01\n01,Otra vez,2022-01-01\n",
    )
    .unwrap();
    let err = catalogs::load_dir(&mut app.db.connect(), dir.path()).unwrap_err();
    assert_eq!(err.to_string(), "c_Meses: line 3 repeats key 01");
    let january = get(&app, &token, "/v1/catalogs/c_Meses/01").await;
    assert_eq!(january["description"], "Mes nuevo 1");
}

#[tokio::test]
async fn readers_never_see_a_half_loaded_catalog() {
    let app = TestApp::spawn().await;
    let token = login(&app).await;
    let url = app.db.url.clone();
    // Two publications of c_Meses, swapped in again and again while another task reads.
    let writer = tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        for round in 0..12 {
            let label = if round % 2 == 0 { "Par" } else { "Non" };
            let bytes = months(label);
            let loaded = catalogs::load(&mut conn, "test", &[("c_Meses", &bytes)]).unwrap();
            assert!(loaded[0].replaced);
        }
    });
    let mut reads = 0;
    while !writer.is_finished() || reads == 0 {
        let page = get(&app, &token, "/v1/catalogs/c_Meses?limit=100").await;
        let descriptions: Vec<&str> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["description"].as_str().unwrap())
            .collect();
        assert_eq!(descriptions.len(), 18, "{page}");
        // All from the same publication: the original, or one of the two being swapped.
        let publications: BTreeSet<&str> = descriptions
            .iter()
            .map(|d| d.split(' ').next().filter(|w| ["Par", "Non"].contains(w)))
            .map(|label| label.unwrap_or("original"))
            .collect();
        assert_eq!(publications.len(), 1, "a mix: {descriptions:?}");
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 1, "the reader ran only {reads} time(s)");
}

#[test]
fn a_search_of_the_largest_catalog_uses_the_trigram_index() {
    let db = tests::TestDb::create();
    let filter = EntryFilter {
        text: Some("crédito".into()),
        valid_on: NaiveDate::from_ymd_opt(2026, 12, 3),
        ..EntryFilter::default()
    };
    let plan = catalogs::explain_entries(&mut db.connect(), "c_ClaveProdServ", &filter, None, 20)
        .unwrap()
        .join("\n");
    assert!(
        plan.contains("sat_catalog_entries_search_idx"),
        "no trigram index in:\n{plan}"
    );
    assert!(!plan.contains("Seq Scan on sat_catalog_entries"), "{plan}");
}
