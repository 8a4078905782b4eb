//! Getting an issued invoice to its customer, over HTTP and a real SMTP server: the email with
//! its XML (and PDF) attached, delivery states, public links that mark the invoice viewed, the
//! timeline, the limits, and bad input changing nothing.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use reqwest::Method;
use serde_json::{Value, json};
use tests::{Tenant, TestApp, call, json_of, pointers, problem_of};

/// Organization 0 ready to issue, and a customer with two invoice emails.
async fn issuer(app: &TestApp) -> (Tenant, String) {
    let owner = app.register_tenant(0, "owner@kemper.example").await;
    let emails = ["pagos@casas.example", "conta@casas.example"];
    let customer = tests::ready_to_issue(app, &owner, &emails).await;
    (owner, customer)
}

async fn draft(app: &TestApp, who: &Tenant, customer_id: &str) -> Value {
    let body = tests::one_line_invoice(customer_id, "1000.00");
    json_of(
        call(app, who, Method::POST, "/v1/invoices", Some(body)).await,
        201,
    )
    .await
}

async fn issued(app: &TestApp, who: &Tenant, customer_id: &str) -> Value {
    tests::issue_new(app, who, tests::one_line_invoice(customer_id, "1000.00")).await
}

async fn get(app: &TestApp, who: &Tenant, path: &str) -> Value {
    json_of(call(app, who, Method::GET, path, None).await, 200).await
}

/// The kinds of the invoice's timeline, oldest first.
async fn timeline(app: &TestApp, who: &Tenant, id: &str) -> Vec<Value> {
    let page = get(app, who, &format!("/v1/invoices/{id}/events?limit=100")).await;
    page["data"].as_array().unwrap().clone()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["kind"].as_str().unwrap()).collect()
}

/// The message's body with quoted-printable soft breaks and `=3D` undone.
fn decoded(message: &str) -> String {
    message
        .replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// Waits (up to 30 s) until the invoice's `delivery_status` is `status`.
async fn wait_for_delivery(app: &TestApp, who: &Tenant, id: &str, status: &str) -> Value {
    for _ in 0..300 {
        let invoice = get(app, who, &format!("/v1/invoices/{id}")).await;
        if invoice["delivery_status"] == status {
            return invoice;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("invoice {id} never reached delivery_status {status}");
}

#[tokio::test]
async fn an_issued_invoice_is_emailed_with_its_documents_and_opened_through_its_link() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let (owner, customer) = issuer(&app).await;
    let invoice = issued(&app, &owner, &customer).await;
    let id = invoice["id"].as_str().unwrap();
    assert_eq!(invoice["delivery_status"], "not_sent");
    assert!(invoice["sent_at"].is_null() && invoice["viewed_at"].is_null());

    let body = json!({"cc": ["direccion@casas.example"], "message": "Gracias por su preferencia."});
    let path = format!("/v1/invoices/{id}/send");
    let queued = json_of(
        call(&app, &owner, Method::POST, &path, Some(body)).await,
        202,
    )
    .await;
    assert_eq!(queued["status"], "queued");
    assert_eq!(
        queued["to"],
        json!(["pagos@casas.example", "conta@casas.example"]),
        "the customer's emails by default"
    );
    assert_eq!(queued["subject"], "Factura F1 de ORGANIZACION 0");

    let message = sink.wait_for("direccion@casas.example").await;
    let text = decoded(&message);
    assert!(
        text.contains("To: pagos@casas.example, conta@casas.example"),
        "{text}"
    );
    assert!(text.contains("Cc: direccion@casas.example"), "{text}");
    assert!(text.contains("Gracias por su preferencia."), "{text}");
    assert!(text.contains("filename=\"F1.xml\""), "{text}");
    let uuid = invoice["uuid"].as_str().unwrap().to_uppercase();
    assert!(text.contains(&uuid), "the folio fiscal is in the body");
    // The XML attachment is the stamped document, byte for byte.
    let xml = call(
        &app,
        &owner,
        Method::GET,
        &format!("/v1/invoices/{id}/xml"),
        None,
    )
    .await
    .text()
    .await
    .unwrap();
    let attached = attachment(&message, "F1.xml");
    assert_eq!(attached, xml.as_bytes());
    let printed = attachment(&message, "F1.pdf");
    assert!(
        tests::pdf::text(&printed).contains(&uuid),
        "the PDF of this invoice"
    );

    let delivered = wait_for_delivery(&app, &owner, id, "sent").await;
    assert!(delivered["sent_at"].is_string());
    assert!(delivered["viewed_at"].is_null());

    // The public link of the email opens the invoice without logging in, and marks it viewed.
    let start = text
        .find("https://app.example.com/public/invoices/")
        .unwrap();
    let link = &text[start..];
    let token: String = link["https://app.example.com/public/invoices/".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(token.len(), 43);
    let public = json_of(
        app.get(&format!("/public/invoices/{token}"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(public["uuid"], invoice["uuid"]);
    assert_eq!(public["total"], "1160.00");
    assert_eq!(public["issuer"]["rfc"], "EKU9003173C9");
    assert_eq!(public["receiver"]["legal_name"], "XOCHILT CASAS CHAVEZ");
    let public_xml = app
        .get(&format!("/public/invoices/{token}/xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(public_xml.status(), 200);
    assert_eq!(public_xml.text().await.unwrap(), xml);
    let public_pdf = app
        .get(&format!("/public/invoices/{token}/pdf"))
        .send()
        .await
        .unwrap();
    assert_eq!(public_pdf.status(), 200);
    let public_pdf = public_pdf.bytes().await.unwrap();
    assert_eq!(tests::pdf::text(&public_pdf), tests::pdf::text(&printed));
    let viewed = get(&app, &owner, &format!("/v1/invoices/{id}")).await;
    assert!(viewed["viewed_at"].is_string());
    assert_eq!(viewed["delivery_status"], "sent");

    let events = timeline(&app, &owner, id).await;
    assert_eq!(
        kinds(&events),
        ["created", "issued", "send_requested", "sent", "viewed"],
        "viewed once, though the link was used three times"
    );
    assert_eq!(events[0]["actor"]["type"], "user");
    assert_eq!(events[0]["actor"]["name"], "Owner");
    assert_eq!(events[3]["actor"]["type"], "system");
    assert_eq!(
        events[3]["data"]["recipients"]["cc"],
        json!(["direccion@casas.example"])
    );
    assert_eq!(events[4]["actor"]["type"], "public");
    let newest_first = get(
        &app,
        &owner,
        &format!("/v1/invoices/{id}/events?sort=-occurred_at&limit=2"),
    )
    .await;
    assert_eq!(
        kinds(newest_first["data"].as_array().unwrap()),
        ["viewed", "sent"]
    );
    assert!(newest_first["next_cursor"].is_string());

    // The list filters by delivery and viewing.
    let other = issued(&app, &owner, &customer).await;
    let listed = |query: &'static str| {
        let (app, owner) = (&app, &owner);
        async move {
            let page = get(app, owner, &format!("/v1/invoices?{query}")).await;
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("delivery_status=sent").await, [id]);
    assert_eq!(listed("viewed=true").await, [id]);
    assert_eq!(
        listed("viewed=false").await,
        [other["id"].as_str().unwrap()]
    );
    assert_eq!(
        listed("delivery_status=not_sent").await,
        [other["id"].as_str().unwrap()]
    );
}

/// The bytes of the attachment `name` of a raw MIME message (base64 transfer encoding).
fn attachment(message: &str, name: &str) -> Vec<u8> {
    use base64::Engine;
    let at = message.find(&format!("filename=\"{name}\"")).unwrap();
    let rest = &message[at..];
    let body_start = rest
        .find("\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| rest.find("\n\n").map(|i| i + 2))
        .unwrap();
    let body = &rest[body_start..];
    let end = body.find("\n--").unwrap_or(body.len());
    let encoded: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap()
}

#[tokio::test]
async fn a_refused_address_fails_the_delivery_with_its_reason() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let (owner, customer) = issuer(&app).await;
    let invoice = issued(&app, &owner, &customer).await;
    let id = invoice["id"].as_str().unwrap();
    let path = format!("/v1/invoices/{id}/send");
    let body = json!({"to": ["bounce@casas.example"]});
    json_of(
        call(&app, &owner, Method::POST, &path, Some(body)).await,
        202,
    )
    .await;
    let failed = wait_for_delivery(&app, &owner, id, "failed").await;
    assert!(failed["sent_at"].is_null());
    let events = timeline(&app, &owner, id).await;
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "delivery_failed");
    assert!(
        last["data"]["reason"].as_str().unwrap().contains("550"),
        "{last}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn drafts_and_bad_addresses_are_refused_and_nothing_is_queued() {
    let app = TestApp::spawn().await;
    let (owner, customer) = issuer(&app).await;
    let draft = draft(&app, &owner, &customer).await;
    let draft_id = draft["id"].as_str().unwrap();
    let body = json!({"to": ["pagos@casas.example"]});
    let response = call(
        &app,
        &owner,
        Method::POST,
        &format!("/v1/invoices/{draft_id}/send"),
        Some(body),
    )
    .await;
    let problem = problem_of(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "not_stamped");
    let response = call(
        &app,
        &owner,
        Method::POST,
        &format!("/v1/invoices/{draft_id}/public-link"),
        Some(json!({})),
    )
    .await;
    problem_of(response, 422, "validation_failed").await;

    let invoice = issued(&app, &owner, &customer).await;
    let id = invoice["id"].as_str().unwrap();
    let body = json!({
        "to": ["pagos@casas.example", "not an address"],
        "cc": ["also@bad"],
        "subject": "two\nlines",
        "message": "x".repeat(5001)
    });
    let path = format!("/v1/invoices/{id}/send");
    let response = call(&app, &owner, Method::POST, &path, Some(body)).await;
    let problem = problem_of(response, 422, "validation_failed").await;
    assert_eq!(
        pointers(&problem),
        [
            "/cc/0 invalid_email",
            "/message too_long",
            "/subject invalid_subject",
            "/to/1 invalid_email"
        ]
    );
    let expiry = json!({"expires_at": "2020-01-01T00:00:00Z"});
    let response = call(
        &app,
        &owner,
        Method::POST,
        &format!("/v1/invoices/{id}/public-link"),
        Some(expiry),
    )
    .await;
    let problem = problem_of(response, 422, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/expires_at");
    // Nothing was queued, linked or recorded.
    let events = timeline(&app, &owner, id).await;
    assert_eq!(kinds(&events), ["created", "issued"]);
    let links = get(&app, &owner, &format!("/v1/invoices/{id}/public-links")).await;
    assert_eq!(links["data"], json!([]));
    assert_eq!(
        get(&app, &owner, &format!("/v1/invoices/{id}")).await["delivery_status"],
        "not_sent"
    );
}

#[tokio::test]
async fn each_organization_may_queue_a_limited_number_of_invoice_emails_per_hour() {
    let app = TestApp::spawn_with(|vars| {
        vars.insert("INVOICE_EMAILS_PER_HOUR".into(), "2".into());
    })
    .await;
    let (owner, customer) = issuer(&app).await;
    let invoice = issued(&app, &owner, &customer).await;
    let path = format!("/v1/invoices/{}/send", invoice["id"].as_str().unwrap());
    for _ in 0..2 {
        let response = call(&app, &owner, Method::POST, &path, Some(json!({}))).await;
        assert_eq!(response.status(), 202);
    }
    let response = call(&app, &owner, Method::POST, &path, Some(json!({}))).await;
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3500..=3600).contains(&wait), "{wait}");
    problem_of(response, 429, "send_limit_reached").await;
    // Another organization has its own allowance.
    let other = app.register_tenant(1, "owner@casas.example").await;
    let response = call(&app, &other, Method::GET, "/v1/invoices", None).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn public_links_can_expire_and_be_revoked_and_are_rate_limited() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn_with(|vars| {
        vars.insert("PUBLIC_REQUESTS_PER_MINUTE".into(), "5".into());
    })
    .await;
    let (owner, customer) = issuer(&app).await;
    let invoice = issued(&app, &owner, &customer).await;
    let id = invoice["id"].as_str().unwrap();
    let create = |body: Value| {
        let (app, owner) = (&app, &owner);
        let path = format!("/v1/invoices/{id}/public-link");
        async move { json_of(call(app, owner, Method::POST, &path, Some(body)).await, 201).await }
    };
    let lasting = create(json!({})).await;
    assert!(
        lasting["url"]
            .as_str()
            .unwrap()
            .ends_with(lasting["token"].as_str().unwrap())
    );
    assert_eq!(lasting["active"], true);
    let expiring = create(
        json!({"expires_at": (chrono::Utc::now() + chrono::Duration::days(7)).to_rfc3339()}),
    )
    .await;
    let public = |token: &str| app.get(&format!("/public/invoices/{token}"));

    assert_eq!(
        public(lasting["token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The expiring link expires (its expiry moved to the past).
    diesel::sql_query(format!(
        "UPDATE invoice_public_links SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        expiring["id"].as_str().unwrap()
    ))
    .execute(&mut app.db.connect())
    .unwrap();
    let expired = public(expiring["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    problem_of(expired, 404, "not_found").await;
    // Revoked: 404, and the list shows when.
    let path = format!(
        "/v1/invoices/{id}/public-links/{}",
        lasting["id"].as_str().unwrap()
    );
    let response = call(&app, &owner, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204);
    let revoked = public(lasting["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    problem_of(revoked, 404, "not_found").await;
    let links = get(&app, &owner, &format!("/v1/invoices/{id}/public-links")).await;
    let listed = links["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        listed
            .iter()
            .all(|l| l["active"] == false && l.get("token").is_none())
    );
    let revoked_row = listed.iter().find(|l| l["id"] == lasting["id"]).unwrap();
    assert_eq!(revoked_row["views"], 1);
    assert!(revoked_row["revoked_at"].is_string());
    // Unknown and malformed tokens look the same.
    let unknown = public(&"A".repeat(43)).send().await.unwrap();
    problem_of(unknown, 404, "not_found").await;
    // Five requests a minute from one address: this is the fifth, then 429.
    let malformed = public("short").send().await.unwrap();
    problem_of(malformed, 404, "not_found").await;
    let limited = public("short").send().await.unwrap();
    assert!(limited.headers().contains_key("retry-after"));
    problem_of(limited, 429, "too_many_requests").await;
    let events = timeline(&app, &owner, id).await;
    assert_eq!(
        kinds(&events),
        [
            "created",
            "issued",
            "public_link_created",
            "public_link_created",
            "viewed",
            "public_link_revoked"
        ]
    );
}
