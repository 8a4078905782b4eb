//! The committed contract matches the handlers, and documents what clients need.

use std::collections::HashSet;

#[test]
fn committed_spec_matches_the_handlers() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = api::openapi::spec_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `cargo xtask openapi` and commit the result"
    );
}

#[test]
fn every_operation_is_named_documented_and_secured_explicitly() {
    let spec: serde_json::Value = serde_json::from_str(&api::openapi::spec_json()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert!(spec["info"]["license"]["identifier"].is_string());
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer_jwt"]["scheme"],
        "bearer"
    );
    assert!(spec["components"]["schemas"]["Problem"].is_object());

    let mut ids = HashSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
            assert!(
                id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !id.contains('_'),
                "operationId {id} should be camelCase"
            );
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{id} is undocumented"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{id} has no tag"
            );
            assert!(
                op.get("security").is_some(),
                "{id} must say which security it needs"
            );
            for (status, response) in op["responses"].as_object().unwrap() {
                assert!(
                    response["description"].is_string(),
                    "{id} {status} has no description"
                );
                // OAuth's token endpoint answers errors in RFC 6749's format, as clients expect.
                if (status.starts_with('4') || status.starts_with('5'))
                    && !(id == "createOAuthToken" && (status == "400" || status == "401"))
                {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{id} {status} must be documented as a problem document"
                    );
                }
            }
        }
    }
}
