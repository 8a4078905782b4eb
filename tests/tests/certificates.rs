//! The organization's CSDs over HTTP: uploads checked as a whole, the active certificate, the
//! key encrypted at rest and never answered, other tenants' ids, and the CSD that issuing
//! invoices gets back from storage.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use diesel::prelude::*;
use domain::csd::{self, Certificate, PrivateKey, codes};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{
    CSD_ENCRYPTION_KEY, TEST_CSD_PASSWORD, Tenant, TestApp, csd_upload, json_of, pointers,
    problem_of, test_csd,
};
use uuid::Uuid;

const PATH: &str = "/v1/organization/certificates";

/// A file of `tests/testdata/` (CSD look-alikes) or of the domain's test data (the FIEL).
fn testdata(path: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn upload_of(certificate: &[u8], private_key: &[u8], password: &str) -> Value {
    json!({
        "certificate": BASE64.encode(certificate),
        "private_key": BASE64.encode(private_key),
        "password": password,
    })
}

async fn call(
    app: &TestApp,
    who: &Tenant,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> reqwest::Response {
    let mut request = app.request(method, path).bearer_auth(&who.access_token);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn upload(app: &TestApp, who: &Tenant, body: &Value) -> reqwest::Response {
    call(app, who, Method::POST, PATH, Some(body)).await
}

fn org_id(tenant: &Tenant) -> Uuid {
    tenant.organization_id.parse().unwrap()
}

/// The vault the test apps use (`CSD_ENCRYPTION_KEY` of `tests::base_vars`).
fn vault() -> api::vault::Vault {
    let key = api::vault::EncryptionKey::from_base64(CSD_ENCRYPTION_KEY).unwrap();
    api::vault::Vault::new(&key, &[])
}

/// The PKCS#8 DER (unencrypted) of a test CSD's key: what must never be stored in the clear.
fn plain_key(file: &str) -> Vec<u8> {
    let key = PrivateKey::from_encrypted_der(&test_csd(file), TEST_CSD_PASSWORD).unwrap();
    key.to_pkcs8_der().unwrap().as_bytes().to_vec()
}

/// `active_csd` as issuing calls it: in the organization's tenant transaction.
fn active_csd(app: &TestApp, org: Uuid) -> Result<Option<csd::Csd>, persistence::StoreError> {
    let mut conn = app.db.connect();
    persistence::tenant::transaction(&mut conn, org, |conn| {
        api::routes::certificates::active_csd(conn, &vault(), org)
    })
}

#[tokio::test]
async fn an_uploaded_csd_becomes_active_and_no_answer_shows_its_key() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let body = csd_upload(0);
    let mut texts = Vec::new();

    let response = upload(&app, &owner, &body).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let text = response.text().await.unwrap();
    let created: Value = serde_json::from_str(&text).unwrap();
    texts.push(text);
    assert_eq!(
        location,
        format!("{PATH}/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["number"], "30001000000400002434");
    assert_eq!(created["rfc"], "EKU9003173C9");
    assert_eq!(created["legal_name"], "ESCUELA KEMPER URGATE SA DE CV");
    assert_eq!(created["valid_from"], "2019-06-17T19:44:14Z");
    assert_eq!(created["valid_to"], "2023-06-17T19:44:14Z");
    assert_eq!(created["active"], true);
    assert_eq!(created["version"], 1);
    let mut members: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "active",
            "created_at",
            "id",
            "legal_name",
            "number",
            "rfc",
            "updated_at",
            "valid_from",
            "valid_to",
            "version"
        ]
    );

    let response = call(&app, &owner, Method::GET, &location, None).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let text = response.text().await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), created);
    texts.push(text);

    let response = call(&app, &owner, Method::GET, PATH, None).await;
    let text = response.text().await.unwrap();
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list["data"], json!([created]), "{list}");
    assert_eq!(list["has_more"], false);
    texts.push(text);

    // The same certificate again: 409 at /certificate, nothing changes.
    let response = upload(&app, &owner, &body).await;
    let problem = problem_of(response, 409, "certificate_exists").await;
    assert_eq!(pointers(&problem), ["/certificate certificate_exists"]);
    texts.push(problem.to_string());
    let list = json_of(call(&app, &owner, Method::GET, PATH, None).await, 200).await;
    assert_eq!(list["data"], json!([created]));

    // Neither the key (as uploaded, or opened) nor the password is in any answer.
    let secrets = [
        body["private_key"].as_str().unwrap().to_string(),
        BASE64.encode(plain_key("eku9003173c9_csd.key")),
        hex::encode(plain_key("eku9003173c9_csd.key")),
        TEST_CSD_PASSWORD.to_string(),
    ];
    for text in &texts {
        for secret in &secrets {
            assert!(!text.contains(&secret[..40.min(secret.len())]), "{text}");
        }
    }
}

#[tokio::test]
async fn the_key_is_stored_encrypted_and_opens_only_in_its_own_row() {
    let app = TestApp::spawn().await;
    let eku = app.register_tenant(0, "eku@example.com").await;
    let cacx = app.register_tenant(1, "cacx@example.com").await;
    assert_eq!(active_csd(&app, org_id(&eku)).unwrap().map(|_| ()), None);
    json_of(upload(&app, &eku, &csd_upload(0)).await, 201).await;
    json_of(upload(&app, &cacx, &csd_upload(1)).await, 201).await;

    // What the table holds (read as its owner, past row-level security).
    let mut conn = app.db.connect();
    let stored = persistence::certificates::find_active(&mut conn, org_id(&eku))
        .unwrap()
        .unwrap();
    assert_eq!(stored.certificate_der, test_csd("eku9003173c9_csd.cer"));
    assert_eq!(stored.encryption_key_id, vault().current_key_id());
    let plain = plain_key("eku9003173c9_csd.key");
    let uploaded = test_csd("eku9003173c9_csd.key");
    for secret in [&plain, &uploaded] {
        // No 16-byte stretch of the key is stored as it is.
        assert!(
            secret
                .windows(16)
                .all(|w| !stored.private_key_ciphertext.windows(16).any(|s| s == w)),
            "the stored key is not encrypted"
        );
    }
    // Nonce, then the key's PKCS#8 encrypted, then the tag.
    assert_eq!(stored.private_key_ciphertext.len(), 12 + plain.len() + 16);

    // active_csd opens it and seals what SAT's certificate verifies.
    let csd = active_csd(&app, org_id(&eku)).unwrap().unwrap();
    assert_eq!(csd.certificate().number().as_str(), "30001000000400002434");
    let cadena =
        "||4.0|A|1|2026-12-04T10:00:00|01|1000.00|MXN|1160.00|I|01|PUE|42501|EKU9003173C9||";
    let sello = csd::seal(csd.key(), cadena);
    let certificate = Certificate::from_der(&test_csd("eku9003173c9_csd.cer")).unwrap();
    assert!(csd::verify(&certificate, cadena, &sello));
    let cacx_csd = active_csd(&app, org_id(&cacx)).unwrap().unwrap();
    assert_eq!(cacx_csd.certificate().rfc().as_str(), "CACX7605101P8");
    assert!(!csd::verify(cacx_csd.certificate(), cadena, &sello));

    // A ciphertext moved to another organization's row does not open there.
    diesel::sql_query(
        "UPDATE certificates SET private_key_ciphertext = \
         (SELECT private_key_ciphertext FROM certificates WHERE organization_id = $1) \
         WHERE organization_id = $2",
    )
    .bind::<diesel::sql_types::Uuid, _>(org_id(&eku))
    .bind::<diesel::sql_types::Uuid, _>(org_id(&cacx))
    .execute(&mut conn)
    .unwrap();
    assert!(matches!(
        active_csd(&app, org_id(&cacx)),
        Err(persistence::StoreError::Unreadable(_))
    ));
    // Nor does it open without the key that sealed it.
    let other = api::vault::EncryptionKey::from_base64(&BASE64.encode([9u8; 32])).unwrap();
    let mut conn = app.db.connect();
    let opened = persistence::tenant::transaction(&mut conn, org_id(&eku), |conn| {
        api::routes::certificates::active_csd(
            conn,
            &api::vault::Vault::new(&other, &[]),
            org_id(&eku),
        )
    });
    assert!(matches!(
        opened,
        Err(persistence::StoreError::Unreadable(_))
    ));
}

#[tokio::test]
async fn a_rotated_key_reencrypts_what_the_old_one_sealed() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    json_of(upload(&app, &owner, &csd_upload(0)).await, 201).await;
    let old = api::vault::EncryptionKey::from_base64(CSD_ENCRYPTION_KEY).unwrap();
    let new = api::vault::EncryptionKey::from_base64(&BASE64.encode([5u8; 32])).unwrap();
    let rotated = api::vault::Vault::new(&new, std::slice::from_ref(&old));

    let mut conn = app.db.connect();
    let done = api::routes::certificates::reencrypt_stored(&mut conn, &rotated).unwrap();
    assert_eq!(done.reencrypted, 1);
    assert_eq!(done.unreadable, 0);
    let stored = persistence::certificates::find_active(&mut conn, org_id(&owner))
        .unwrap()
        .unwrap();
    assert_eq!(stored.encryption_key_id, new.id());
    assert_eq!(stored.version, 1, "what the API shows did not change");
    // A second run finds nothing to do; the new key alone opens it now.
    let again = api::routes::certificates::reencrypt_stored(&mut conn, &rotated).unwrap();
    assert_eq!(again.reencrypted, 0);
    let only_new = api::vault::Vault::new(&new, &[]);
    let csd = persistence::tenant::transaction(&mut conn, org_id(&owner), |conn| {
        api::routes::certificates::active_csd(conn, &only_new, org_id(&owner))
    })
    .unwrap()
    .unwrap();
    assert_eq!(csd.certificate().number().as_str(), "30001000000400002434");

    // Without the key that sealed it, it is reported and left as it is.
    let forgotten = api::vault::Vault::new(&old, &[]);
    let done = api::routes::certificates::reencrypt_stored(&mut conn, &forgotten).unwrap();
    assert_eq!(done.unreadable, 1);
}

#[tokio::test]
async fn every_problem_of_an_upload_is_reported_at_its_field() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let eku_cer = test_csd("eku9003173c9_csd.cer");
    let eku_key = test_csd("eku9003173c9_csd.key");
    let cacx_cer = test_csd("cacx7605101p8_csd.cer");
    let cacx_key = test_csd("cacx7605101p8_csd.key");
    let cases: Vec<(&str, Value, Vec<String>)> = vec![
        (
            "the key of another RFC's certificate",
            upload_of(&eku_cer, &cacx_key, TEST_CSD_PASSWORD),
            vec![format!("/private_key {}", codes::KEY_CERTIFICATE_MISMATCH)],
        ),
        (
            "the other tenant's certificate and key",
            upload_of(&cacx_cer, &cacx_key, TEST_CSD_PASSWORD),
            vec![format!("/certificate {}", codes::CERTIFICATE_RFC_MISMATCH)],
        ),
        (
            "a wrong password",
            upload_of(&eku_cer, &eku_key, "12345678A"),
            vec![format!("/password {}", codes::WRONG_PASSWORD)],
        ),
        (
            "files that are no certificate or key",
            upload_of(b"not a certificate", b"not a key", TEST_CSD_PASSWORD),
            vec![
                format!("/certificate {}", codes::CERTIFICATE_UNREADABLE),
                format!("/private_key {}", codes::PRIVATE_KEY_UNREADABLE),
            ],
        ),
        (
            "an e.firma (FIEL) with its own key",
            upload_of(
                &testdata("../domain/testdata/fiel-like.cer"),
                &testdata("../domain/testdata/fiel-like.key"),
                TEST_CSD_PASSWORD,
            ),
            vec![format!("/certificate {}", codes::CERTIFICATE_IS_FIEL)],
        ),
        (
            "an expired certificate that is not one of SAT's test CSDs",
            upload_of(
                &testdata("testdata/expired-csd-like.cer"),
                &testdata("testdata/expired-csd-like.key"),
                TEST_CSD_PASSWORD,
            ),
            vec![format!("/certificate {}", codes::CERTIFICATE_EXPIRED)],
        ),
        (
            "garbage that is not base64, and no password",
            json!({"certificate": "not base64!", "private_key": "@@@@", "password": ""}),
            vec![
                "/certificate invalid_base64".to_string(),
                "/password length".to_string(),
                "/private_key invalid_base64".to_string(),
            ],
        ),
        (
            "files too large",
            json!({"certificate": "A".repeat(16 * 1024 + 4), "private_key": "", "password": "x"}),
            vec![
                "/certificate length".to_string(),
                "/private_key length".to_string(),
            ],
        ),
    ];
    for (what, body, expected) in cases {
        let response = upload(&app, &owner, &body).await;
        let problem = problem_of(response, 422, "validation_failed").await;
        let mut expected = expected;
        expected.sort();
        assert_eq!(pointers(&problem), expected, "{what}: {problem}");
        let text = problem.to_string();
        assert!(!text.contains(TEST_CSD_PASSWORD), "{what}: {text}");
    }

    // Unknown, missing and mistyped members are reported at once too.
    let response = upload(
        &app,
        &owner,
        &json!({"certificate": 1, "password": "x", "pfx": "…"}),
    )
    .await;
    let problem = problem_of(response, 422, "validation_failed").await;
    let found = pointers(&problem);
    for pointer in ["/certificate ", "/private_key ", "/pfx "] {
        assert!(found.iter().any(|p| p.starts_with(pointer)), "{found:?}");
    }

    // Nothing was stored.
    let list = json_of(call(&app, &owner, Method::GET, PATH, None).await, 200).await;
    assert_eq!(list["data"], json!([]));
    assert!(active_csd(&app, org_id(&owner)).unwrap().is_none());
}

#[tokio::test]
async fn one_certificate_is_active_at_a_time() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let sat = json_of(upload(&app, &owner, &csd_upload(0)).await, 201).await;
    let second = upload_of(
        &testdata("testdata/csd-like.cer"),
        &testdata("testdata/csd-like.key"),
        TEST_CSD_PASSWORD,
    );
    // Padding is optional.
    let mut unpadded = second.clone();
    let key = second["private_key"].as_str().unwrap();
    assert!(key.ends_with('='));
    unpadded["private_key"] = json!(key.trim_end_matches('='));
    let newer = json_of(upload(&app, &owner, &unpadded).await, 201).await;
    assert_eq!(newer["number"], "99999000000000000003");
    assert_eq!(newer["active"], true);

    let list = json_of(call(&app, &owner, Method::GET, PATH, None).await, 200).await;
    let rows: Vec<(String, bool)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["number"].as_str().unwrap().to_string(),
                c["active"].as_bool().unwrap(),
            )
        })
        .collect();
    // Newest first; the one active before was deactivated by the upload.
    assert_eq!(
        rows,
        [
            ("99999000000000000003".to_string(), true),
            ("30001000000400002434".to_string(), false)
        ]
    );
    let old_path = format!("{PATH}/{}", sat["id"].as_str().unwrap());
    let old = json_of(call(&app, &owner, Method::GET, &old_path, None).await, 200).await;
    assert_eq!(old["version"], 2);
    let csd = active_csd(&app, org_id(&owner)).unwrap().unwrap();
    assert_eq!(csd.certificate().number().as_str(), "99999000000000000003");

    // Paging, oldest first when asked.
    let page = json_of(
        call(
            &app,
            &owner,
            Method::GET,
            &format!("{PATH}?limit=1&sort=created_at"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["data"][0]["number"], "30001000000400002434");
    assert_eq!(page["has_more"], true);
    let cursor = page["next_cursor"].as_str().unwrap();
    let page = json_of(
        call(
            &app,
            &owner,
            Method::GET,
            &format!("{PATH}?limit=1&sort=created_at&starting_after={cursor}"),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["data"][0]["number"], "99999000000000000003");
    assert_eq!(page["has_more"], false);

    // Activating SAT's test CSD again (sandbox accepts its expiry) switches back.
    let activate = format!("{old_path}/activate");
    let response = call(&app, &owner, Method::POST, &activate, None).await;
    assert_eq!(response.headers()["etag"], "\"3\"");
    let activated = json_of(response, 200).await;
    assert_eq!(activated["active"], true);
    let newer_path = format!("{PATH}/{}", newer["id"].as_str().unwrap());
    let newer = json_of(
        call(&app, &owner, Method::GET, &newer_path, None).await,
        200,
    )
    .await;
    assert_eq!(newer["active"], false);
    let csd = active_csd(&app, org_id(&owner)).unwrap().unwrap();
    assert_eq!(csd.certificate().number().as_str(), "30001000000400002434");
    // Once more changes nothing.
    let again = json_of(call(&app, &owner, Method::POST, &activate, None).await, 200).await;
    assert_eq!(again["version"], 3);

    // Deleting the active one leaves none active; a stale If-Match is refused first.
    let response = app
        .request(Method::DELETE, &old_path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    problem_of(response, 412, "precondition_failed").await;
    let response = app
        .request(Method::DELETE, &old_path)
        .bearer_auth(&owner.access_token)
        .header("if-match", "\"3\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    problem_of(
        call(&app, &owner, Method::GET, &old_path, None).await,
        404,
        "not_found",
    )
    .await;
    problem_of(
        call(&app, &owner, Method::DELETE, &old_path, None).await,
        404,
        "not_found",
    )
    .await;
    assert!(active_csd(&app, org_id(&owner)).unwrap().is_none());
    let list = json_of(call(&app, &owner, Method::GET, PATH, None).await, 200).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["active"], false);

    // A deleted certificate can be uploaded again.
    let back = json_of(upload(&app, &owner, &csd_upload(0)).await, 201).await;
    assert_eq!(back["active"], true);
}

#[tokio::test]
async fn uploads_honour_idempotency_keys() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let send = || {
        app.post(PATH)
            .bearer_auth(&owner.access_token)
            .header("idempotency-key", "csd-upload-1")
            .json(&csd_upload(0))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let replay = send().await.unwrap();
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(replay, 201).await, first);
}

#[tokio::test]
async fn another_tenants_certificates_do_not_exist_for_the_caller() {
    let app = TestApp::spawn().await;
    let us = app.register_tenant(0, "us@example.com").await;
    let them = app.register_tenant(1, "them@example.com").await;
    let theirs = json_of(upload(&app, &them, &csd_upload(1)).await, 201).await;
    let path = format!("{PATH}/{}", theirs["id"].as_str().unwrap());
    for (method, path) in [
        (Method::GET, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::POST, format!("{path}/activate")),
    ] {
        problem_of(call(&app, &us, method, &path, None).await, 404, "not_found").await;
    }
    let ours = json_of(call(&app, &us, Method::GET, PATH, None).await, 200).await;
    assert_eq!(ours["data"], json!([]));
    // Theirs is as it was.
    let after = json_of(call(&app, &them, Method::GET, &path, None).await, 200).await;
    assert_eq!(after, theirs);
}
