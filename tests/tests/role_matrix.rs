//! The role matrix: every operation of the spec that needs a token, called by each kind of
//! caller — owner, admin, accountant, viewer, and an API client with the admin role (the most
//! a client can have, so whatever it is refused, every client is refused).
//!
//! The table is the README's permission matrix in executable form. An operation added to the
//! spec without a row here fails `every_secured_operation_has_a_row`.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;
use tests::{Team, TestApp, json_of, smtp::SmtpSink};

/// One call and the status each caller gets, in the order of [`Team::CALLERS`].
///
/// `path` and `body` may name fixtures, replaced before each call:
/// `{owner}` the owner's user id, `{self}` the caller's own user id, `{fresh_user}` a viewer
/// invited for this call only, `{fresh_client}` an API client created for this call only,
/// `{certificate}` the organization's test CSD uploaded afresh, `{csd_upload}` the body that
/// uploads it (with the organization's certificates deleted first), `{logo}` the path segment
/// `logo` with a logo uploaded first, and `{n}` a number unique to the call. The body `{png}`
/// is sent as a small `image/png`.
struct Case {
    operation: &'static str,
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    expect: [u16; 5],
}

const fn case(
    operation: &'static str,
    method: Method,
    path: &'static str,
    body: Option<&'static str>,
    expect: [u16; 5],
) -> Case {
    Case {
        operation,
        method,
        path,
        body,
        expect,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "getMe",
            Method::GET,
            "/v1/me",
            None,
            [200, 200, 200, 200, 403],
        ),
        case("listUsers", Method::GET, "/v1/users", None, [200; 5]),
        // Someone who may not see other users cannot learn they exist: 404.
        case(
            "getUser",
            Method::GET,
            "/v1/users/{owner}",
            None,
            [200, 200, 404, 404, 200],
        ),
        case("getUser", Method::GET, "/v1/users/{self}", None, [200; 5]),
        case(
            "updateUser",
            Method::PATCH,
            "/v1/users/{fresh_user}",
            Some(r#"{"role": "accountant"}"#),
            [200, 200, 404, 404, 403],
        ),
        case(
            "updateUser",
            Method::PATCH,
            "/v1/users/{fresh_user}",
            Some(r#"{"name": "Renamed"}"#),
            [200, 200, 404, 404, 403],
        ),
        case(
            "updateUser",
            Method::PATCH,
            "/v1/users/{self}",
            Some(r#"{"name": "Myself"}"#),
            [200, 200, 200, 200, 403],
        ),
        case(
            "removeUser",
            Method::DELETE,
            "/v1/users/{fresh_user}",
            None,
            [204, 204, 404, 404, 403],
        ),
        case(
            "inviteUser",
            Method::POST,
            "/v1/invitations",
            Some(r#"{"email": "invitee{n}@example.com", "role": "viewer"}"#),
            [201, 201, 403, 403, 403],
        ),
        case(
            "listSecurityEvents",
            Method::GET,
            "/v1/security-events",
            None,
            [200, 200, 403, 403, 200],
        ),
        case(
            "listApiClients",
            Method::GET,
            "/v1/api-clients",
            None,
            [200, 200, 403, 403, 200],
        ),
        case(
            "createApiClient",
            Method::POST,
            "/v1/api-clients",
            Some(r#"{"name": "ERP {n}", "role": "viewer"}"#),
            [201, 201, 403, 403, 403],
        ),
        case(
            "revokeApiClient",
            Method::DELETE,
            "/v1/api-clients/{fresh_client}",
            None,
            [204, 204, 403, 403, 403],
        ),
        // SAT catalogs are reference data: every caller reads them.
        case("listCatalogs", Method::GET, "/v1/catalogs", None, [200; 5]),
        case(
            "listCatalogEntries",
            Method::GET,
            "/v1/catalogs/c_UsoCFDI?q=gastos",
            None,
            [200; 5],
        ),
        case(
            "getCatalogEntry",
            Method::GET,
            "/v1/catalogs/c_CodigoPostal/22000",
            None,
            [200; 5],
        ),
        // Customers and contacts: every role reads; viewers do not write.
        case(
            "createCustomer",
            Method::POST,
            "/v1/customers",
            Some(CUSTOMER),
            [201, 201, 201, 403, 201],
        ),
        case(
            "listCustomers",
            Method::GET,
            "/v1/customers",
            None,
            [200; 5],
        ),
        case(
            "getCustomer",
            Method::GET,
            "/v1/customers/{customer}",
            None,
            [200; 5],
        ),
        case(
            "updateCustomer",
            Method::PATCH,
            "/v1/customers/{customer}",
            Some(r#"{"notes": "changed"}"#),
            [200, 200, 200, 403, 200],
        ),
        case(
            "deleteCustomer",
            Method::DELETE,
            "/v1/customers/{customer}",
            None,
            [204, 204, 204, 403, 204],
        ),
        case(
            "createCustomerContact",
            Method::POST,
            "/v1/customers/{customer}/contacts",
            Some(r#"{"name": "Contacto {n}"}"#),
            [201, 201, 201, 403, 201],
        ),
        case(
            "listCustomerContacts",
            Method::GET,
            "/v1/customers/{customer}/contacts",
            None,
            [200; 5],
        ),
        case(
            "getCustomerContact",
            Method::GET,
            "/v1/customers/{customer}/contacts/{contact}",
            None,
            [200; 5],
        ),
        case(
            "updateCustomerContact",
            Method::PATCH,
            "/v1/customers/{customer}/contacts/{contact}",
            Some(r#"{"role": "pagos"}"#),
            [200, 200, 200, 403, 200],
        ),
        case(
            "deleteCustomerContact",
            Method::DELETE,
            "/v1/customers/{customer}/contacts/{contact}",
            None,
            [204, 204, 204, 403, 204],
        ),
        case(
            "importCustomers",
            Method::POST,
            "/v1/customers/import",
            Some(
                "external_id,legal_name,rfc,tax_regime,tax_postal_code\nI{n},ESCUELA KEMPER URGATE,EKU9003173C9,601,42501\n",
            ),
            [200, 200, 200, 403, 200],
        ),
        // Products and services: every role reads; viewers do not write.
        case(
            "createProduct",
            Method::POST,
            "/v1/products",
            Some(PRODUCT),
            [201, 201, 201, 403, 201],
        ),
        case("listProducts", Method::GET, "/v1/products", None, [200; 5]),
        case(
            "importProducts",
            Method::POST,
            "/v1/products/import",
            Some(
                "external_id,name,product_key,unit_key,unit_price,tax_object\nI{n},Servicio,80101500,E48,10.00,01\n",
            ),
            [200, 200, 200, 403, 200],
        ),
        case(
            "getProduct",
            Method::GET,
            "/v1/products/{product}",
            None,
            [200; 5],
        ),
        case(
            "updateProduct",
            Method::PATCH,
            "/v1/products/{product}",
            Some(r#"{"unit_price": "99.50"}"#),
            [200, 200, 200, 403, 200],
        ),
        case(
            "deleteProduct",
            Method::DELETE,
            "/v1/products/{product}",
            None,
            [204, 204, 204, 403, 204],
        ),
        // Invoice series are the organization's numbering: every role reads; only owners and
        // admins write.
        case(
            "createSeries",
            Method::POST,
            "/v1/series",
            Some(r#"{"prefix": "S{n}", "document_type": "I"}"#),
            [201, 201, 403, 403, 201],
        ),
        case("listSeries", Method::GET, "/v1/series", None, [200; 5]),
        case(
            "getSeries",
            Method::GET,
            "/v1/series/{series}",
            None,
            [200; 5],
        ),
        case(
            "updateSeries",
            Method::PATCH,
            "/v1/series/{series}",
            Some(r#"{"next_folio": 100, "is_default": true}"#),
            [200, 200, 403, 403, 200],
        ),
        case(
            "deleteSeries",
            Method::DELETE,
            "/v1/series/{series}",
            None,
            [204, 204, 403, 403, 204],
        ),
        // The organization's CSDs: every role reads; owners and admins (and admin clients)
        // upload, activate and delete.
        case(
            "createCertificate",
            Method::POST,
            "/v1/organization/certificates",
            Some("{csd_upload}"),
            [201, 201, 403, 403, 201],
        ),
        case(
            "listCertificates",
            Method::GET,
            "/v1/organization/certificates",
            None,
            [200; 5],
        ),
        case(
            "getCertificate",
            Method::GET,
            "/v1/organization/certificates/{certificate}",
            None,
            [200; 5],
        ),
        case(
            "activateCertificate",
            Method::POST,
            "/v1/organization/certificates/{certificate}/activate",
            None,
            [200, 200, 403, 403, 200],
        ),
        case(
            "deleteCertificate",
            Method::DELETE,
            "/v1/organization/certificates/{certificate}",
            None,
            [204, 204, 403, 403, 204],
        ),
        // The organization's branding: every role reads; owners and admins (and admin clients)
        // change it.
        case(
            "getBranding",
            Method::GET,
            "/v1/organization/branding",
            None,
            [200; 5],
        ),
        case(
            "updateBranding",
            Method::PATCH,
            "/v1/organization/branding",
            Some(r##"{"accent_color": "#1A73E8", "footer_text": "Pie {n}"}"##),
            [200, 200, 403, 403, 200],
        ),
        case(
            "putBrandingLogo",
            Method::PUT,
            "/v1/organization/branding/logo",
            Some("{png}"),
            [200, 200, 403, 403, 200],
        ),
        case(
            "getBrandingLogo",
            Method::GET,
            "/v1/organization/branding/{logo}",
            None,
            [200; 5],
        ),
        case(
            "deleteBrandingLogo",
            Method::DELETE,
            "/v1/organization/branding/{logo}",
            None,
            [204, 204, 403, 403, 204],
        ),
        // Invoices: every role reads and validates; viewers do not write or issue; only owners
        // and admins cancel.
        case(
            "createInvoice",
            Method::POST,
            "/v1/invoices",
            Some(INVOICE),
            [201, 201, 201, 403, 201],
        ),
        case(
            "validateInvoice",
            Method::POST,
            "/v1/invoices/validate",
            Some(INVOICE),
            [200; 5],
        ),
        case("listInvoices", Method::GET, "/v1/invoices", None, [200; 5]),
        case(
            "getInvoice",
            Method::GET,
            "/v1/invoices/{invoice}",
            None,
            [200; 5],
        ),
        case(
            "updateInvoice",
            Method::PATCH,
            "/v1/invoices/{invoice}",
            Some(r#"{"notes": "Entrega parcial"}"#),
            [200, 200, 200, 403, 200],
        ),
        case(
            "deleteInvoice",
            Method::DELETE,
            "/v1/invoices/{invoice}",
            None,
            [204, 204, 204, 403, 204],
        ),
        case(
            "issueInvoice",
            Method::POST,
            "/v1/invoices/{issuable}/issue",
            None,
            [200, 200, 200, 403, 200],
        ),
        case(
            "getInvoiceXml",
            Method::GET,
            "/v1/invoices/{issued}/xml",
            None,
            [200; 5],
        ),
        case(
            "cancelInvoice",
            Method::POST,
            "/v1/invoices/{issued}/cancel",
            Some(r#"{"reason": "02"}"#),
            [200, 200, 403, 403, 200],
        ),
        case(
            "getInvoicePdf",
            Method::GET,
            "/v1/invoices/{issued}/pdf",
            None,
            [200; 5],
        ),
        case(
            "sendInvoice",
            Method::POST,
            "/v1/invoices/{issued}/send",
            Some(r#"{"to": ["pagos@cliente.example"]}"#),
            [202, 202, 202, 403, 202],
        ),
        case(
            "createInvoicePublicLink",
            Method::POST,
            "/v1/invoices/{issued}/public-link",
            Some("{}"),
            [201, 201, 201, 403, 201],
        ),
        case(
            "listInvoicePublicLinks",
            Method::GET,
            "/v1/invoices/{issued}/public-links",
            None,
            [200; 5],
        ),
        case(
            "revokeInvoicePublicLink",
            Method::DELETE,
            "/v1/invoices/{issued_link}",
            None,
            [204, 204, 204, 403, 204],
        ),
        case(
            "listInvoiceEvents",
            Method::GET,
            "/v1/invoices/{invoice}/events",
            None,
            [200; 5],
        ),
        case(
            "createExport",
            Method::POST,
            "/v1/exports",
            Some(r#"{"from": "2026-01-01", "to": "2026-01-31"}"#),
            [202, 202, 202, 403, 202],
        ),
        case("listExports", Method::GET, "/v1/exports", None, [200; 5]),
        case(
            "getExport",
            Method::GET,
            "/v1/exports/{export}",
            None,
            [200; 5],
        ),
        case(
            "downloadExport",
            Method::GET,
            "/v1/exports/{export}/download",
            None,
            [200; 5],
        ),
        // Last: it changes each user's password (their access tokens keep working).
        case(
            "changePassword",
            Method::POST,
            "/v1/auth/password/change",
            Some(
                r#"{"current_password": "correct horse battery staple", "new_password": "another horse battery staple"}"#,
            ),
            [204, 204, 204, 204, 403],
        ),
    ]
}

/// A valid customer; `{n}` keeps its `external_id` unique.
const CUSTOMER: &str = r#"{"legal_name": "ESCUELA KEMPER URGATE", "rfc": "EKU9003173C9",
    "tax_regime": "601", "tax_postal_code": "42501", "cfdi_use": "G03", "external_id": "E{n}"}"#;

/// A valid product; `{n}` keeps its `external_id` unique.
const PRODUCT: &str = r#"{"name": "Consultoría {n}", "product_key": "80101500", "unit_key": "HUR",
    "unit_price": "1500.00", "tax_object": "02",
    "taxes": [{"tax": "002", "factor": "Tasa", "rate": "0.160000"}], "external_id": "P{n}"}"#;

/// A valid invoice for `{customer}`.
const INVOICE: &str = r#"{"customer_id": "{customer}", "payment_method": "PUE", "payment_form": "03",
    "lines": [{"quantity": "1", "unit_price": "100.00", "description": "Servicio",
    "product_key": "84111506", "unit_key": "E48", "tax_object": "02",
    "taxes": [{"tax": "002", "factor": "Tasa", "rate": "0.160000"}]}]}"#;

/// A 2 x 2 PNG.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(2, 2, image::Rgb([26, 115, 232]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// Creates a draft invoice with `token` for a new customer; returns its id.
async fn invoice(app: &TestApp, token: &str, n: usize) -> String {
    let (customer, _) = customer_and_contact(app, token, n + 100_000).await;
    let response = app
        .post("/v1/invoices")
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(INVOICE.replace("{customer}", &customer))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Gives the organization (SAT's test company) its CSD if it has no active one.
async fn ensure_csd(app: &TestApp, token: &str) {
    let listed = json_of(
        app.get("/v1/organization/certificates?limit=100")
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let active = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["active"] == true);
    if !active {
        certificate(app, token, 0).await;
    }
}

/// Exports an empty range with `token` and waits until it is ready; returns its id.
async fn ready_export(app: &TestApp, token: &str) -> String {
    let response = app
        .post("/v1/exports")
        .bearer_auth(token)
        .json(&serde_json::json!({"from": "2020-01-01", "to": "2020-01-02"}))
        .send()
        .await
        .unwrap();
    let id = json_of(response, 202).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..600 {
        let response = app
            .get(&format!("/v1/exports/{id}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if json_of(response, 200).await["status"] == "ready" {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("export {id} was never ready");
}

/// Creates and issues an invoice with `token`; returns its id.
async fn issued_invoice(app: &TestApp, token: &str, n: usize) -> String {
    ensure_csd(app, token).await;
    let id = invoice(app, token, n).await;
    let response = app
        .post(&format!("/v1/invoices/{id}/issue"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    json_of(response, 200).await;
    id
}

/// Creates a product with `token`; returns its id.
async fn product(app: &TestApp, token: &str, n: usize) -> String {
    let response = app
        .post("/v1/products")
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(PRODUCT.replace("{n}", &format!("fixture-{n}")))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Creates a series with `token`; returns its id.
async fn series(app: &TestApp, token: &str, n: usize) -> String {
    let response = app
        .post("/v1/series")
        .bearer_auth(token)
        .json(&serde_json::json!({"prefix": format!("X{n}"), "document_type": "I"}))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Creates a customer (and a contact of it) with `token`; returns their ids.
async fn customer_and_contact(app: &TestApp, token: &str, n: usize) -> (String, String) {
    let response = app
        .post("/v1/customers")
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(CUSTOMER.replace("{n}", &format!("fixture-{n}")))
        .send()
        .await
        .unwrap();
    let customer = json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let response = app
        .post(&format!("/v1/customers/{customer}/contacts"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "Fixture"}))
        .send()
        .await
        .unwrap();
    let contact = json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    (customer, contact)
}

/// Deletes every certificate of the organization, so that the test CSD can be uploaded again.
async fn clear_certificates(app: &TestApp, token: &str) {
    let response = app
        .get("/v1/organization/certificates?limit=100")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    for certificate in json_of(response, 200).await["data"].as_array().unwrap() {
        let response = app
            .request(
                Method::DELETE,
                &format!(
                    "/v1/organization/certificates/{}",
                    certificate["id"].as_str().unwrap()
                ),
            )
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
    }
}

/// Uploads organization `n`'s test CSD with `token` (after deleting what it had); returns its
/// id.
async fn certificate(app: &TestApp, token: &str, n: usize) -> String {
    clear_certificates(app, token).await;
    let response = app
        .post("/v1/organization/certificates")
        .bearer_auth(token)
        .json(&tests::csd_upload(n))
        .send()
        .await
        .unwrap();
    json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The operations of the spec that need an access token.
fn secured_operations() -> BTreeSet<String> {
    let spec: Value = serde_json::from_str(&api::openapi::spec_json()).unwrap();
    let mut secured = BTreeSet::new();
    for item in spec["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let needs_token = op["security"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s.get("bearer_jwt").is_some());
            if needs_token {
                secured.insert(op["operationId"].as_str().unwrap().to_string());
            }
        }
    }
    secured
}

#[test]
fn every_secured_operation_has_a_row() {
    let covered: BTreeSet<String> = cases().iter().map(|c| c.operation.to_string()).collect();
    let secured = secured_operations();
    let missing: Vec<_> = secured.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "operations without a role-matrix row: {missing:?}"
    );
    let unknown: Vec<_> = covered.difference(&secured).collect();
    assert!(
        unknown.is_empty(),
        "rows for operations not in the spec: {unknown:?}"
    );
}

/// Replaces the fixtures a case names with fresh ones, made by the owner.
async fn expand(
    app: &TestApp,
    sink: &SmtpSink,
    team: &Team,
    caller: usize,
    n: usize,
    text: &str,
) -> String {
    let mut text = text
        .replace("{owner}", &team.owner.user_id)
        .replace("{n}", &n.to_string());
    if text.contains("{self}") {
        let me = [
            &team.owner.user_id,
            &team.admin.user_id,
            &team.accountant.user_id,
            &team.viewer.user_id,
            // A client has no user id; any id shows the refusal.
            &team.owner.user_id,
        ][caller];
        text = text.replace("{self}", me);
    }
    if text.contains("{fresh_user}") {
        let user = app
            .add_member(
                sink,
                &team.owner.access_token,
                &format!("fresh{n}@example.com"),
                "viewer",
            )
            .await;
        text = text.replace("{fresh_user}", &user.user_id);
    }
    if text.contains("{customer}") {
        let (customer, contact) = customer_and_contact(app, &team.owner.access_token, n).await;
        text = text
            .replace("{customer}", &customer)
            .replace("{contact}", &contact);
    }
    if text.contains("{product}") {
        let id = product(app, &team.owner.access_token, n).await;
        text = text.replace("{product}", &id);
    }
    if text.contains("{invoice}") {
        let id = invoice(app, &team.owner.access_token, n).await;
        text = text.replace("{invoice}", &id);
    }
    if text.contains("{issued}") {
        let id = issued_invoice(app, &team.owner.access_token, n).await;
        text = text.replace("{issued}", &id);
    }
    if text.contains("{export}") {
        let id = ready_export(app, &team.owner.access_token).await;
        text = text.replace("{export}", &id);
    }
    if text.contains("{issued_link}") {
        let id = issued_invoice(app, &team.owner.access_token, n).await;
        let response = app
            .post(&format!("/v1/invoices/{id}/public-link"))
            .bearer_auth(&team.owner.access_token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let link = json_of(response, 201).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        text = text.replace("{issued_link}", &format!("{id}/public-links/{link}"));
    }
    if text.contains("{issuable}") {
        ensure_csd(app, &team.owner.access_token).await;
        let id = invoice(app, &team.owner.access_token, n).await;
        text = text.replace("{issuable}", &id);
    }
    if text.contains("{series}") {
        let id = series(app, &team.owner.access_token, n).await;
        text = text.replace("{series}", &id);
    }
    if text.contains("{csd_upload}") {
        clear_certificates(app, &team.owner.access_token).await;
        text = text.replace("{csd_upload}", &tests::csd_upload(0).to_string());
    }
    if text.contains("{certificate}") {
        let id = certificate(app, &team.owner.access_token, 0).await;
        text = text.replace("{certificate}", &id);
    }
    if text.contains("{logo}") {
        let response = app
            .request(Method::PUT, "/v1/organization/branding/logo")
            .bearer_auth(&team.owner.access_token)
            .header("content-type", "image/png")
            .body(png())
            .send()
            .await
            .unwrap();
        json_of(response, 200).await;
        text = text.replace("{logo}", "logo");
    }
    if text.contains("{fresh_client}") {
        let response = app
            .post("/v1/api-clients")
            .bearer_auth(&team.owner.access_token)
            .json(&serde_json::json!({"name": format!("Fresh {n}"), "role": "viewer"}))
            .send()
            .await
            .unwrap();
        let id = json_of(response, 201).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        text = text.replace("{fresh_client}", &id);
    }
    text
}

#[tokio::test]
async fn every_operation_answers_each_role_as_the_matrix_says() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let team = app.team(&sink, 0, "admin").await;
    let mut mismatches = Vec::new();
    let mut n = 0;
    for case in cases() {
        for (caller, token) in team.tokens().into_iter().enumerate() {
            n += 1;
            let path = expand(&app, &sink, &team, caller, n, case.path).await;
            let mut request = app.request(case.method.clone(), &path).bearer_auth(token);
            if case.body == Some("{png}") {
                request = request.header("content-type", "image/png").body(png());
            } else if let Some(body) = case.body {
                let body = expand(&app, &sink, &team, caller, n, body).await;
                // Bodies are JSON objects, except the CSV of the imports.
                let media_type = if body.starts_with('{') {
                    "application/json"
                } else {
                    "text/csv"
                };
                request = request.header("content-type", media_type).body(body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let expected = case.expect[caller];
            if status != expected {
                let text = response.text().await.unwrap_or_default();
                mismatches.push(format!(
                    "{} {} {path} as {}: expected {expected}, got {status}: {text}",
                    case.operation,
                    case.method,
                    Team::CALLERS[caller]
                ));
                continue;
            }
            // A refusal is a problem document with a stable code.
            if let 403 | 404 = status {
                let problem: Value = response.json().await.unwrap();
                let code = if status == 403 {
                    "forbidden"
                } else {
                    "not_found"
                };
                if problem["code"] != code {
                    mismatches.push(format!(
                        "{} as {}: {status} with code {}",
                        case.operation,
                        Team::CALLERS[caller],
                        problem["code"]
                    ));
                }
            }
        }
        // And without a token, every one of them is a 401.
        let path = case
            .path
            .replace("{owner}", &team.owner.user_id)
            .replace("{self}", &team.owner.user_id)
            .replace("{fresh_user}", &team.viewer.user_id)
            .replace("{fresh_client}", &team.owner.user_id)
            .replace("{customer}", &team.owner.user_id)
            .replace("{contact}", &team.owner.user_id)
            .replace("{product}", &team.owner.user_id)
            .replace("{series}", &team.owner.user_id)
            .replace("{certificate}", &team.owner.user_id)
            .replace("{invoice}", &team.owner.user_id)
            .replace("{issued}", &team.owner.user_id)
            .replace("{export}", &team.owner.user_id)
            .replace(
                "{issued_link}",
                &format!("{0}/public-links/{0}", team.owner.user_id),
            )
            .replace("{issuable}", &team.owner.user_id)
            .replace("{logo}", "logo");
        let response = app
            .request(case.method.clone(), &path)
            .send()
            .await
            .unwrap();
        if response.status() != 401 {
            mismatches.push(format!(
                "{} without a token: {}",
                case.operation,
                response.status()
            ));
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

/// Operations that name a resource by id, with a resource of another organization in place of
/// it: `{their_user}` a user, `{their_client}` an API client. Callers whose role may not call
/// the operation at all get the same 403 as for their own ids; everyone else gets 404.
fn other_tenant_cases() -> Vec<Case> {
    vec![
        case(
            "getUser",
            Method::GET,
            "/v1/users/{their_user}",
            None,
            [404; 5],
        ),
        case(
            "updateUser",
            Method::PATCH,
            "/v1/users/{their_user}",
            Some(r#"{"name": "Hijacked"}"#),
            [404, 404, 404, 404, 403],
        ),
        case(
            "removeUser",
            Method::DELETE,
            "/v1/users/{their_user}",
            None,
            [404, 404, 404, 404, 403],
        ),
        case(
            "revokeApiClient",
            Method::DELETE,
            "/v1/api-clients/{their_client}",
            None,
            [404, 404, 403, 403, 403],
        ),
        case(
            "getCustomer",
            Method::GET,
            "/v1/customers/{their_customer}",
            None,
            [404; 5],
        ),
        case(
            "updateCustomer",
            Method::PATCH,
            "/v1/customers/{their_customer}",
            Some(r#"{"notes": "hijacked"}"#),
            [404, 404, 404, 403, 404],
        ),
        case(
            "deleteCustomer",
            Method::DELETE,
            "/v1/customers/{their_customer}",
            None,
            [404, 404, 404, 403, 404],
        ),
        case(
            "createCustomerContact",
            Method::POST,
            "/v1/customers/{their_customer}/contacts",
            Some(r#"{"name": "Intruso"}"#),
            [404, 404, 404, 403, 404],
        ),
        case(
            "listCustomerContacts",
            Method::GET,
            "/v1/customers/{their_customer}/contacts",
            None,
            [404; 5],
        ),
        case(
            "getCustomerContact",
            Method::GET,
            "/v1/customers/{their_customer}/contacts/{their_contact}",
            None,
            [404; 5],
        ),
        case(
            "updateCustomerContact",
            Method::PATCH,
            "/v1/customers/{their_customer}/contacts/{their_contact}",
            Some(r#"{"name": "Intruso"}"#),
            [404, 404, 404, 403, 404],
        ),
        case(
            "deleteCustomerContact",
            Method::DELETE,
            "/v1/customers/{their_customer}/contacts/{their_contact}",
            None,
            [404, 404, 404, 403, 404],
        ),
        case(
            "getProduct",
            Method::GET,
            "/v1/products/{their_product}",
            None,
            [404; 5],
        ),
        case(
            "updateProduct",
            Method::PATCH,
            "/v1/products/{their_product}",
            Some(r#"{"name": "Intruso"}"#),
            [404, 404, 404, 403, 404],
        ),
        case(
            "deleteProduct",
            Method::DELETE,
            "/v1/products/{their_product}",
            None,
            [404, 404, 404, 403, 404],
        ),
        case(
            "getInvoice",
            Method::GET,
            "/v1/invoices/{their_invoice}",
            None,
            [404; 5],
        ),
        case(
            "updateInvoice",
            Method::PATCH,
            "/v1/invoices/{their_invoice}",
            Some(r#"{"notes": "theirs"}"#),
            [404, 404, 404, 403, 404],
        ),
        case(
            "deleteInvoice",
            Method::DELETE,
            "/v1/invoices/{their_invoice}",
            None,
            [404, 404, 404, 403, 404],
        ),
        case(
            "issueInvoice",
            Method::POST,
            "/v1/invoices/{their_invoice}/issue",
            None,
            [404, 404, 404, 403, 404],
        ),
        case(
            "getInvoiceXml",
            Method::GET,
            "/v1/invoices/{their_invoice}/xml",
            None,
            [404; 5],
        ),
        case(
            "cancelInvoice",
            Method::POST,
            "/v1/invoices/{their_invoice}/cancel",
            Some(r#"{"reason": "02"}"#),
            [404, 404, 403, 403, 404],
        ),
        case(
            "getExport",
            Method::GET,
            "/v1/exports/{their_export}",
            None,
            [404; 5],
        ),
        case(
            "downloadExport",
            Method::GET,
            "/v1/exports/{their_export}/download",
            None,
            [404; 5],
        ),
        case(
            "getInvoicePdf",
            Method::GET,
            "/v1/invoices/{their_invoice}/pdf",
            None,
            [404; 5],
        ),
        case(
            "sendInvoice",
            Method::POST,
            "/v1/invoices/{their_invoice}/send",
            Some(r#"{"to": ["pagos@cliente.example"]}"#),
            [404, 404, 404, 403, 404],
        ),
        case(
            "createInvoicePublicLink",
            Method::POST,
            "/v1/invoices/{their_invoice}/public-link",
            Some("{}"),
            [404, 404, 404, 403, 404],
        ),
        case(
            "listInvoicePublicLinks",
            Method::GET,
            "/v1/invoices/{their_invoice}/public-links",
            None,
            [404; 5],
        ),
        case(
            "revokeInvoicePublicLink",
            Method::DELETE,
            "/v1/invoices/{their_invoice}/public-links/{their_invoice}",
            None,
            [404, 404, 404, 403, 404],
        ),
        case(
            "listInvoiceEvents",
            Method::GET,
            "/v1/invoices/{their_invoice}/events",
            None,
            [404; 5],
        ),
        case(
            "getSeries",
            Method::GET,
            "/v1/series/{their_series}",
            None,
            [404; 5],
        ),
        case(
            "updateSeries",
            Method::PATCH,
            "/v1/series/{their_series}",
            Some(r#"{"next_folio": 999}"#),
            [404, 404, 403, 403, 404],
        ),
        case(
            "deleteSeries",
            Method::DELETE,
            "/v1/series/{their_series}",
            None,
            [404, 404, 403, 403, 404],
        ),
        case(
            "getCertificate",
            Method::GET,
            "/v1/organization/certificates/{their_certificate}",
            None,
            [404; 5],
        ),
        case(
            "activateCertificate",
            Method::POST,
            "/v1/organization/certificates/{their_certificate}/activate",
            None,
            [404, 404, 403, 403, 404],
        ),
        case(
            "deleteCertificate",
            Method::DELETE,
            "/v1/organization/certificates/{their_certificate}",
            None,
            [404, 404, 403, 403, 404],
        ),
    ]
}

#[test]
fn every_operation_with_an_id_has_an_other_tenant_row() {
    let spec: Value = serde_json::from_str(&api::openapi::spec_json()).unwrap();
    let covered: BTreeSet<&str> = other_tenant_cases().iter().map(|c| c.operation).collect();
    for (path, item) in spec["paths"].as_object().unwrap() {
        // SAT catalogs belong to no tenant: every organization reads the same entries, so
        // there is no other tenant's catalog to be refused.
        if !path.contains('{') || path.starts_with("/public/") || path.starts_with("/v1/catalogs") {
            continue;
        }
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                covered.contains(id),
                "{id} ({path}) has no other-tenant row"
            );
        }
    }
}

/// Another organization's ids do not exist for the caller: 404, whatever the role, and the
/// resource is untouched.
#[tokio::test]
async fn another_tenants_ids_are_404_on_every_operation() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let us = app.team(&sink, 0, "admin").await;
    let them = app.register_tenant(1, "them@example.com").await;
    let response = app
        .post("/v1/api-clients")
        .bearer_auth(&them.access_token)
        .json(&serde_json::json!({"name": "Their ERP", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    let their_client = json_of(response, 201).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (their_customer, their_contact) = customer_and_contact(&app, &them.access_token, 0).await;
    let their_product = product(&app, &them.access_token, 0).await;
    let their_series = series(&app, &them.access_token, 0).await;
    let their_certificate = certificate(&app, &them.access_token, 1).await;
    let their_invoice = invoice(&app, &them.access_token, 0).await;
    let their_export = ready_export(&app, &them.access_token).await;
    let mut mismatches = Vec::new();
    for case in other_tenant_cases() {
        let path = case
            .path
            .replace("{their_user}", &them.user_id)
            .replace("{their_client}", &their_client)
            .replace("{their_customer}", &their_customer)
            .replace("{their_contact}", &their_contact)
            .replace("{their_product}", &their_product)
            .replace("{their_series}", &their_series)
            .replace("{their_certificate}", &their_certificate)
            .replace("{their_invoice}", &their_invoice)
            .replace("{their_export}", &their_export);
        for (caller, token) in us.tokens().into_iter().enumerate() {
            let mut request = app.request(case.method.clone(), &path).bearer_auth(token);
            if let Some(body) = case.body {
                request = request
                    .header("content-type", "application/json")
                    .body(body);
            }
            let response = request.send().await.unwrap();
            if response.status() != case.expect[caller] {
                mismatches.push(format!(
                    "{} as {}: expected {}, got {}",
                    case.operation,
                    Team::CALLERS[caller],
                    case.expect[caller],
                    response.status()
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
    // Nothing of theirs changed: their owner and client are still there, as they were.
    let me = json_of(
        app.get("/v1/me")
            .bearer_auth(&them.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(me["user"]["name"], "Owner");
    let clients = json_of(
        app.get("/v1/api-clients")
            .bearer_auth(&them.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    // Their customer and contact are as they were.
    let customer = json_of(
        app.get(&format!("/v1/customers/{their_customer}"))
            .bearer_auth(&them.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(customer["version"], 1);
    let contact = json_of(
        app.get(&format!(
            "/v1/customers/{their_customer}/contacts/{their_contact}"
        ))
        .bearer_auth(&them.access_token)
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(contact["name"], "Fixture");
    let product = json_of(
        app.get(&format!("/v1/products/{their_product}"))
            .bearer_auth(&them.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(product["version"], 1);
    let series = json_of(
        app.get(&format!("/v1/series/{their_series}"))
            .bearer_auth(&them.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(series["version"], 1);
    assert_eq!(series["next_folio"], 1);
    let certificate = json_of(
        app.get(&format!(
            "/v1/organization/certificates/{their_certificate}"
        ))
        .bearer_auth(&them.access_token)
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    assert_eq!(certificate["active"], true);
    assert_eq!(certificate["version"], 1);
    let invoice = json_of(
        app.get(&format!("/v1/invoices/{their_invoice}"))
            .bearer_auth(&them.access_token)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(invoice["version"], 1);
    assert_eq!(invoice["status"], "draft");
    // Revoked clients leave the list.
    assert!(
        clients["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == their_client.as_str()),
        "{clients}"
    );
}
