//! ERP clients and the OAuth 2.0 client-credentials grant, over HTTP.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use tests::{TestApp, json_of, problem_of};

async fn create_client(app: &TestApp, token: &str, role: &str) -> Value {
    let response = app
        .post("/v1/api-clients")
        .bearer_auth(token)
        .json(&json!({"name": "SAP Business One", "role": role}))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await
}

async fn form_token(app: &TestApp, id: &str, secret: &str) -> reqwest::Response {
    app.post("/v1/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}"
        ))
        .send()
        .await
        .unwrap()
}

async fn oauth_error(response: reqwest::Response, status: u16, error: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
}

#[tokio::test]
async fn a_client_gets_tokens_that_act_with_its_role() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let created = create_client(&app, &owner.access_token, "accountant").await;
    let id = created["client_id"].as_str().unwrap();
    let secret = created["client_secret"].as_str().unwrap();
    assert_eq!(created["id"], created["client_id"]);
    assert!(secret.len() >= 43);

    // Form-encoded as RFC 6749 says, JSON, and HTTP Basic all work.
    let token = json_of(form_token(&app, id, secret).await, 200).await;
    assert_eq!(token["token_type"], "Bearer");
    assert!(token["expires_in"].as_u64().unwrap() <= 900);
    let response = app
        .post("/v1/oauth/token")
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let response = app
        .post("/v1/oauth/token")
        .header("authorization", format!("Basic {basic}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let access = token["access_token"].as_str().unwrap();
    // An accountant reads what accountants read, and no more.
    let response = app
        .get("/v1/security-events")
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    problem_of(response, 403, "forbidden").await;
    let users = json_of(
        app.get("/v1/users")
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(users["data"].as_array().unwrap().len(), 0);
    // It is not a user.
    problem_of(
        app.get("/v1/me").bearer_auth(access).send().await.unwrap(),
        403,
        "forbidden",
    )
    .await;

    let admin = create_client(&app, &owner.access_token, "admin").await;
    let admin_token = json_of(
        form_token(
            &app,
            admin["client_id"].as_str().unwrap(),
            admin["client_secret"].as_str().unwrap(),
        )
        .await,
        200,
    )
    .await;
    let response = app
        .get("/v1/security-events?limit=100")
        .bearer_auth(admin_token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let events = json_of(response, 200).await;
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"api_client_created"), "{kinds:?}");

    // The list is paginated like every list: two clients, one per page, oldest first.
    let first = json_of(
        app.get("/v1/api-clients?limit=1")
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(first["has_more"], true);
    assert_eq!(first["data"][0]["id"], created["id"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = json_of(
        app.get(&format!("/v1/api-clients?limit=1&starting_after={cursor}"))
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(second["has_more"], false);
    assert_eq!(second["data"][0]["id"], admin["id"]);
}

#[tokio::test]
async fn bad_token_requests_get_rfc_6749_errors() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let created = create_client(&app, &owner.access_token, "viewer").await;
    let id = created["client_id"].as_str().unwrap();

    let response = form_token(&app, id, "cs_wrong").await;
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"facturacion\""
    );
    oauth_error(response, 401, "invalid_client").await;
    oauth_error(
        form_token(&app, "not-a-uuid", "x").await,
        401,
        "invalid_client",
    )
    .await;
    let response = app
        .post("/v1/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=a&password=b")
        .send()
        .await
        .unwrap();
    oauth_error(response, 400, "unsupported_grant_type").await;
    let response = app
        .post("/v1/oauth/token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("client_id=x")
        .send()
        .await
        .unwrap();
    oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn revoking_a_client_stops_its_tokens_at_once() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let created = create_client(&app, &owner.access_token, "viewer").await;
    let (id, secret) = (
        created["client_id"].as_str().unwrap(),
        created["client_secret"].as_str().unwrap(),
    );
    let token = json_of(form_token(&app, id, secret).await, 200).await;
    let access = token["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/v1/users")
            .bearer_auth(access)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let response = app
        .request(Method::DELETE, &format!("/v1/api-clients/{id}"))
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    problem_of(
        app.get("/v1/users")
            .bearer_auth(access)
            .send()
            .await
            .unwrap(),
        401,
        "invalid_token",
    )
    .await;
    oauth_error(form_token(&app, id, secret).await, 401, "invalid_client").await;
    let listed = json_of(
        app.get("/v1/api-clients")
            .bearer_auth(&owner.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn only_owners_and_admins_manage_clients_and_only_their_own() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let other = app.register_tenant(1, "other@example.com").await;
    let accountant = app
        .add_member(&sink, &owner.access_token, "acc@example.com", "accountant")
        .await;
    let admin = app
        .add_member(&sink, &owner.access_token, "adm@example.com", "admin")
        .await;

    let response = app
        .post("/v1/api-clients")
        .bearer_auth(&accountant.access_token)
        .json(&json!({"name": "ERP", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    problem_of(response, 403, "forbidden").await;
    problem_of(
        app.get("/v1/api-clients")
            .bearer_auth(&accountant.access_token)
            .send()
            .await
            .unwrap(),
        403,
        "forbidden",
    )
    .await;
    let by_admin = create_client(&app, &admin.access_token, "admin").await;
    let response = app
        .post("/v1/api-clients")
        .bearer_auth(&owner.access_token)
        .json(&json!({"name": "ERP", "role": "owner"}))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["pointer"], "/role");

    // Another tenant cannot see or revoke it.
    let path = format!(
        "/v1/api-clients/{}",
        by_admin["client_id"].as_str().unwrap()
    );
    let response = app
        .request(Method::DELETE, &path)
        .bearer_auth(&other.access_token)
        .send()
        .await
        .unwrap();
    problem_of(response, 404, "not_found").await;
    let listed = json_of(
        app.get("/v1/api-clients")
            .bearer_auth(&other.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);
    let response = app
        .request(Method::DELETE, &path)
        .bearer_auth(&accountant.access_token)
        .send()
        .await
        .unwrap();
    problem_of(response, 403, "forbidden").await;
}
