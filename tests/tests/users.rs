//! Users, invitations, roles and the security log: the finer role rules and tenant isolation of
//! every operation, over HTTP with real email.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use reqwest::Method;
use serde_json::{Value, json};
use tests::{TestApp, json_of, problem_of};

async fn call(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.request(method, path).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_invited_person_joins_with_the_role_they_were_given() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let member = app
        .add_member(&sink, &owner.access_token, "luis@example.com", "accountant")
        .await;
    assert_eq!(member.organization_id, owner.organization_id);
    let me = json_of(
        call(&app, &member.access_token, Method::GET, "/v1/me", None).await,
        200,
    )
    .await;
    assert_eq!(me["user"]["role"], "accountant");
    assert_eq!(me["user"]["email"], "luis@example.com");
    // The invitation works once.
    let message = sink.wait_for("luis@example.com").await;
    let token = tests::token_in_email(&message, "https://app.example.com/accept-invitation?token=");
    let response = app
        .post("/v1/auth/invitations/accept")
        .json(&json!({"token": token, "name": "Again", "password": "correct horse battery staple"}))
        .send()
        .await
        .unwrap();
    let body = problem_of(response, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["code"], "invalid_invitation_token");
}

#[tokio::test]
/// The finer rules of user management the matrix in `role_matrix.rs` does not show: what admins
/// may do to owners, and that nobody promotes themselves.
async fn admins_cannot_reach_owners_and_nobody_promotes_themselves() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.team(&sink, 0, "viewer").await;
    let users = format!("/v1/users/{}", t.viewer.user_id);
    let owner_path = format!("/v1/users/{}", t.owner.user_id);
    let accountant_path = format!("/v1/users/{}", t.accountant.user_id);
    let rows = [
        ("owner", &t.owner),
        ("admin", &t.admin),
        ("accountant", &t.accountant),
        ("viewer", &t.viewer),
    ];
    // (operation, expected status for owner, admin, accountant, viewer)
    let cases: Vec<(Method, String, Option<Value>, [u16; 4])> = vec![
        (
            Method::GET,
            "/v1/security-events".into(),
            None,
            [200, 200, 403, 403],
        ),
        (Method::GET, owner_path.clone(), None, [200, 200, 404, 404]),
        (
            Method::POST,
            "/v1/invitations".into(),
            Some(json!({"email": "x1@example.com", "role": "viewer"})),
            [201, 201, 403, 403],
        ),
        (
            Method::POST,
            "/v1/invitations".into(),
            Some(json!({"email": "x2@example.com", "role": "owner"})),
            [201, 403, 403, 403],
        ),
        (
            Method::PATCH,
            owner_path.clone(),
            Some(json!({"name": "Renamed"})),
            [200, 403, 404, 404],
        ),
        (
            Method::PATCH,
            accountant_path.clone(),
            Some(json!({"name": "Renamed"})),
            [200, 200, 200, 404],
        ),
    ];
    for (method, path, body, expected) in cases {
        for (i, (role, member)) in rows.iter().enumerate() {
            let response = call(
                &app,
                &member.access_token,
                method.clone(),
                &path,
                body.clone(),
            )
            .await;
            let status = response.status().as_u16();
            assert_eq!(
                status,
                expected[i],
                "{role} {method} {path}: {}",
                response.text().await.unwrap()
            );
        }
    }
    // Nobody promotes themselves.
    let response = call(
        &app,
        &t.viewer.access_token,
        Method::PATCH,
        &users,
        Some(json!({"role": "admin"})),
    )
    .await;
    problem_of(response, 403, "forbidden").await;
    let response = call(
        &app,
        &t.admin.access_token,
        Method::PATCH,
        &format!("/v1/users/{}", t.admin.user_id),
        Some(json!({"role": "owner"})),
    )
    .await;
    problem_of(response, 403, "forbidden").await;
    // Lists: managers see everyone, others only themselves.
    let all = json_of(
        call(&app, &t.admin.access_token, Method::GET, "/v1/users", None).await,
        200,
    )
    .await;
    assert_eq!(all["data"].as_array().unwrap().len(), 4);
    let mine = json_of(
        call(&app, &t.viewer.access_token, Method::GET, "/v1/users", None).await,
        200,
    )
    .await;
    assert_eq!(mine["data"].as_array().unwrap().len(), 1);
    assert_eq!(mine["data"][0]["id"], t.viewer.user_id.as_str());
    // Removal: accountants and viewers may not, admins not an owner, owners anyone.
    let response = call(
        &app,
        &t.accountant.access_token,
        Method::DELETE,
        &users,
        None,
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = call(
        &app,
        &t.admin.access_token,
        Method::DELETE,
        &owner_path,
        None,
    )
    .await;
    problem_of(response, 403, "forbidden").await;
    let response = call(&app, &t.admin.access_token, Method::DELETE, &users, None).await;
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn the_last_owner_stays() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let path = format!("/v1/users/{}", owner.user_id);
    let response = call(
        &app,
        &owner.access_token,
        Method::PATCH,
        &path,
        Some(json!({"role": "admin"})),
    )
    .await;
    problem_of(response, 409, "last_owner").await;
    let response = call(&app, &owner.access_token, Method::DELETE, &path, None).await;
    problem_of(response, 409, "last_owner").await;
    // With a second owner, the first may step down.
    app.add_member(&sink, &owner.access_token, "second@example.com", "owner")
        .await;
    let response = call(
        &app,
        &owner.access_token,
        Method::PATCH,
        &path,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!(json_of(response, 200).await["role"], "admin");
}

#[tokio::test]
async fn removal_and_demotion_take_effect_at_once() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let t = app.team(&sink, 0, "viewer").await;
    // Demoted: the same access token now carries the new role.
    let path = format!("/v1/users/{}", t.admin.user_id);
    let response = call(
        &app,
        &t.owner.access_token,
        Method::PATCH,
        &path,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    let response = call(
        &app,
        &t.admin.access_token,
        Method::GET,
        "/v1/security-events",
        None,
    )
    .await;
    problem_of(response, 403, "forbidden").await;
    // Removed: neither the access token nor the refresh token works any more.
    let path = format!("/v1/users/{}", t.accountant.user_id);
    assert_eq!(
        call(&app, &t.owner.access_token, Method::DELETE, &path, None)
            .await
            .status(),
        204
    );
    problem_of(
        call(
            &app,
            &t.accountant.access_token,
            Method::GET,
            "/v1/me",
            None,
        )
        .await,
        401,
        "invalid_token",
    )
    .await;
    let response = app
        .post("/v1/auth/refresh")
        .json(&json!({"refresh_token": t.accountant.refresh_token}))
        .send()
        .await
        .unwrap();
    problem_of(response, 401, "invalid_refresh_token").await;
    // Both changes are in the security log.
    let events = json_of(
        call(
            &app,
            &t.owner.access_token,
            Method::GET,
            "/v1/security-events?limit=100",
            None,
        )
        .await,
        200,
    )
    .await;
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"role_changed") && kinds.contains(&"user_removed"),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn stale_if_match_is_refused() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let member = app
        .add_member(&sink, &owner.access_token, "m@example.com", "viewer")
        .await;
    let path = format!("/v1/users/{}", member.user_id);
    let read = call(&app, &owner.access_token, Method::GET, &path, None).await;
    let tag = read.headers()["etag"].to_str().unwrap().to_string();
    let first = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", &tag)
        .json(&json!({"role": "accountant"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    let second = app
        .request(Method::PATCH, &path)
        .bearer_auth(&owner.access_token)
        .header("if-match", &tag)
        .json(&json!({"role": "admin"}))
        .send()
        .await
        .unwrap();
    problem_of(second, 412, "precondition_failed").await;
}

#[tokio::test]
async fn another_tenants_users_do_not_exist() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let a = app.register_tenant(0, "a@example.com").await;
    let b = app.register_tenant(1, "b@example.com").await;
    let b_member = app
        .add_member(&sink, &b.access_token, "bm@example.com", "viewer")
        .await;
    for path in [
        format!("/v1/users/{}", b.user_id),
        format!("/v1/users/{}", b_member.user_id),
    ] {
        problem_of(
            call(&app, &a.access_token, Method::GET, &path, None).await,
            404,
            "not_found",
        )
        .await;
        let response = call(
            &app,
            &a.access_token,
            Method::PATCH,
            &path,
            Some(json!({"role": "viewer"})),
        )
        .await;
        problem_of(response, 404, "not_found").await;
        problem_of(
            call(&app, &a.access_token, Method::DELETE, &path, None).await,
            404,
            "not_found",
        )
        .await;
    }
    let listed = json_of(
        call(&app, &a.access_token, Method::GET, "/v1/users", None).await,
        200,
    )
    .await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let events = json_of(
        call(
            &app,
            &a.access_token,
            Method::GET,
            "/v1/security-events?limit=100",
            None,
        )
        .await,
        200,
    )
    .await;
    for event in events["data"].as_array().unwrap() {
        assert_ne!(
            event["user_id"],
            b.user_id.as_str(),
            "another tenant's event leaked"
        );
        assert_ne!(
            event["user_id"],
            b_member.user_id.as_str(),
            "another tenant's event leaked"
        );
    }
}
