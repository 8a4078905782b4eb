//! The organization's branding over HTTP: logos checked by decoding them (real PNGs and
//! JPEGs made here with the `image` crate, and every way a file can lie about itself), the
//! accent colour and footer with their pointers, merge patches, `ETag`/`If-Match`, and other
//! tenants.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use std::io::Cursor;

use image::{ImageBuffer, ImageFormat, Rgb};
use reqwest::Method;
use serde_json::{Value, json};
use tests::{Tenant, TestApp, json_of, pointers, problem_of};

const BRANDING: &str = "/v1/organization/branding";
const LOGO: &str = "/v1/organization/branding/logo";

/// A real image of `width` x `height` pixels, encoded as `format`.
fn image(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = ImageBuffer::from_fn(width, height, |x, y| {
        Rgb([(x * 7 % 256) as u8, (y * 13 % 256) as u8, 90])
    });
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    image(width, height, ImageFormat::Png)
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    image(width, height, ImageFormat::Jpeg)
}

async fn put_logo(
    app: &TestApp,
    who: &Tenant,
    content_type: &str,
    bytes: Vec<u8>,
) -> reqwest::Response {
    app.request(Method::PUT, LOGO)
        .bearer_auth(&who.access_token)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn patch(app: &TestApp, who: &Tenant, body: Value) -> reqwest::Response {
    app.request(Method::PATCH, BRANDING)
        .bearer_auth(&who.access_token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn branding(app: &TestApp, who: &Tenant) -> (String, Value) {
    let response = app
        .get(BRANDING)
        .bearer_auth(&who.access_token)
        .send()
        .await
        .unwrap();
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    (etag, json_of(response, 200).await)
}

/// The logo's bytes and content type, or the status when there is none.
async fn logo(app: &TestApp, who: &Tenant) -> Result<(String, Vec<u8>), u16> {
    let response = app
        .get(LOGO)
        .bearer_auth(&who.access_token)
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        let status = response.status().as_u16();
        problem_of(response, status, "not_found").await;
        return Err(status);
    }
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    Ok((content_type, response.bytes().await.unwrap().to_vec()))
}

#[tokio::test]
async fn an_organization_starts_without_branding() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let (etag, body) = branding(&app, &owner).await;
    assert_eq!(etag, "\"0\"");
    assert_eq!(
        body,
        json!({"accent_color": null, "footer_text": null, "logo": null, "version": 0, "updated_at": null})
    );
    assert_eq!(logo(&app, &owner).await, Err(404));
}

#[tokio::test]
async fn png_and_jpeg_logos_are_stored_byte_for_byte() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;

    let first = png(60, 20);
    let response = put_logo(&app, &owner, "image/png", first.clone()).await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let body = json_of(response, 200).await;
    assert_eq!(
        body["logo"],
        json!({"content_type": "image/png", "width": 60, "height": 20,
               "size_bytes": first.len(), "url": LOGO})
    );
    assert_eq!(body["version"], 1);
    assert!(body["updated_at"].is_string(), "{body}");
    assert_eq!(
        logo(&app, &owner).await,
        Ok(("image/png".to_string(), first))
    );

    // A JPEG replaces it; a parameter on the media type is fine.
    let second = jpeg(33, 41);
    let body = json_of(
        put_logo(&app, &owner, "Image/JPEG; charset=binary", second.clone()).await,
        200,
    )
    .await;
    assert_eq!(body["logo"]["content_type"], "image/jpeg");
    assert_eq!(
        (
            body["logo"]["width"].clone(),
            body["logo"]["height"].clone()
        ),
        (json!(33), json!(41))
    );
    assert_eq!(body["version"], 2);
    assert_eq!(
        logo(&app, &owner).await,
        Ok(("image/jpeg".to_string(), second))
    );

    // The PDF and email code read it straight from the store.
    let org = owner.organization_id.parse().unwrap();
    let stored = persistence::tenant::transaction(&mut app.db.connect(), org, |conn| {
        persistence::branding::find(conn, org)
    })
    .unwrap()
    .unwrap();
    assert_eq!(stored.logo_content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(
        stored.logo.as_deref().map(<[u8]>::len),
        body["logo"]["size_bytes"].as_u64().map(|n| n as usize)
    );

    let response = app
        .request(Method::DELETE, LOGO)
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(logo(&app, &owner).await, Err(404));
    let (etag, body) = branding(&app, &owner).await;
    assert_eq!((etag.as_str(), &body["logo"]), ("\"3\"", &Value::Null));
    // Deleting when there is none changes nothing.
    let response = app
        .request(Method::DELETE, LOGO)
        .bearer_auth(&owner.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(branding(&app, &owner).await.0, "\"3\"");
}

/// A PNG whose header claims 100,000 x 100,000 pixels around one pixel of data.
fn decompression_bomb() -> Vec<u8> {
    let mut bytes = png(1, 1);
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

/// PNG's chunk checksum (ISO 3309 CRC-32).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn logos_are_checked_by_decoding_them() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let real = png(40, 40);
    let noise: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let refused_as_invalid = [
        // A PNG renamed as JPEG.
        ("image/jpeg", real.clone()),
        ("image/png", jpeg(8, 8)),
        ("image/png", noise.clone()),
        ("image/jpeg", noise),
        ("image/png", real[..real.len() / 2].to_vec()),
        ("image/png", real[..real.len() - 12].to_vec()),
        ("image/png", Vec::new()),
    ];
    for (content_type, bytes) in refused_as_invalid {
        let size = bytes.len();
        let response = put_logo(&app, &owner, content_type, bytes).await;
        let problem = problem_of(response, 422, "invalid_image").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("image/"),
            "{content_type} of {size} bytes: {problem}"
        );
    }
    let problem = problem_of(
        put_logo(&app, &owner, "image/jpeg", real.clone()).await,
        422,
        "invalid_image",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("image/png"),
        "names what the bytes are: {problem}"
    );

    for too_large in [png(4097, 1), png(1, 4097), decompression_bomb()] {
        let response = put_logo(&app, &owner, "image/png", too_large).await;
        problem_of(response, 422, "image_too_large").await;
    }
    // The largest size is fine.
    json_of(put_logo(&app, &owner, "image/png", png(4096, 1)).await, 200).await;
    let version_now = branding(&app, &owner).await.1["version"].clone();

    for content_type in [
        "text/plain",
        "image/gif",
        "application/octet-stream",
        "image/jpg",
    ] {
        let response = put_logo(&app, &owner, content_type, real.clone()).await;
        problem_of(response, 415, "unsupported_media_type").await;
    }
    let response = app
        .request(Method::PUT, LOGO)
        .bearer_auth(&owner.access_token)
        .body(real.clone())
        .send()
        .await
        .unwrap();
    problem_of(response, 415, "unsupported_media_type").await;

    // Over 1 MiB, announced by Content-Length or streamed without it.
    let mut big = real.clone();
    big.resize(1024 * 1024 + 1, 0);
    let response = put_logo(&app, &owner, "image/png", big.clone()).await;
    problem_of(response, 413, "payload_too_large").await;
    let chunks = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let response = app
        .request(Method::PUT, LOGO)
        .bearer_auth(&owner.access_token)
        .header("content-type", "image/png")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    problem_of(response, 413, "payload_too_large").await;

    // Nothing refused was stored.
    let (_, body) = branding(&app, &owner).await;
    assert_eq!(body["version"], version_now);
    assert_eq!(body["logo"]["width"], 4096);
}

#[tokio::test]
async fn the_logo_has_its_own_body_limit() {
    // A general limit below the logo's does not apply to the logo, and vice versa.
    let app = TestApp::spawn_with(|vars| {
        vars.insert("REQUEST_BODY_LIMIT".into(), "2048".into());
    })
    .await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let logo = png(300, 300);
    assert!(logo.len() > 2048, "{}", logo.len());
    json_of(put_logo(&app, &owner, "image/png", logo).await, 200).await;
    let response = patch(
        &app,
        &owner,
        json!({"footer_text": "x".repeat(200), "padding": "y".repeat(3000)}),
    )
    .await;
    problem_of(response, 413, "payload_too_large").await;
}

#[tokio::test]
async fn accent_colour_and_footer_are_checked_and_merged() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;

    let problem = problem_of(
        patch(
            &app,
            &owner,
            json!({"accent_color": "blue", "footer_text": "x".repeat(301)}),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        pointers(&problem),
        ["/accent_color invalid_color", "/footer_text length"]
    );
    for (body, expected) in [
        (
            json!({"accent_color": "#12345"}),
            "/accent_color invalid_color",
        ),
        (
            json!({"accent_color": "#12345G"}),
            "/accent_color invalid_color",
        ),
        (
            json!({"accent_color": "1A73E8"}),
            "/accent_color invalid_color",
        ),
        (
            json!({"accent_color": 0x1A73E8}),
            "/accent_color invalid_type",
        ),
        (json!({"footer_text": ""}), "/footer_text length"),
        (json!({"footer_text": " Gracias"}), "/footer_text untrimmed"),
        (
            json!({"footer_text": "Línea 1\nLínea 2"}),
            "/footer_text invalid_characters",
        ),
        (json!({"logo": null}), "/logo unknown_field"),
        (
            json!({"logo": "x", "footer_text": "Gracias"}),
            "/logo unknown_field",
        ),
    ] {
        let problem = problem_of(
            patch(&app, &owner, body.clone()).await,
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(pointers(&problem), [expected], "{body}");
    }
    assert_eq!(
        branding(&app, &owner).await.1["version"],
        0,
        "nothing was stored"
    );

    let footer = "Pagos a BBVA, CLABE 012180001234567897 · Gracias por su preferencia ".repeat(5);
    let footer = footer.trim_end();
    let footer: String = footer
        .chars()
        .take(300)
        .collect::<String>()
        .trim_end()
        .to_string();
    let response = patch(
        &app,
        &owner,
        json!({"accent_color": "#1a73e8", "footer_text": footer}),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"1\"");
    let body = json_of(response, 200).await;
    assert_eq!(body["accent_color"], "#1A73E8", "normalised to upper case");
    assert_eq!(body["footer_text"], footer.as_str());
    assert_eq!(branding(&app, &owner).await.1, body);

    // A merge patch: absent members stay, null clears.
    let body = json_of(patch(&app, &owner, json!({"footer_text": null})).await, 200).await;
    assert_eq!(body["accent_color"], "#1A73E8");
    assert_eq!(body["footer_text"], Value::Null);
    let body = json_of(
        patch(&app, &owner, json!({"footer_text": "Gracias"})).await,
        200,
    )
    .await;
    assert_eq!(
        (body["accent_color"].as_str(), body["footer_text"].as_str()),
        (Some("#1A73E8"), Some("Gracias"))
    );
    let body = json_of(
        patch(&app, &owner, json!({"accent_color": null})).await,
        200,
    )
    .await;
    assert_eq!(
        (&body["accent_color"], body["footer_text"].as_str()),
        (&Value::Null, Some("Gracias"))
    );
    assert_eq!(body["version"], 4);

    // A patch is an object.
    for not_an_object in [json!(null), json!([]), json!("#FFFFFF")] {
        problem_of(
            patch(&app, &owner, not_an_object).await,
            422,
            "validation_failed",
        )
        .await;
    }
}

#[tokio::test]
async fn if_match_guards_every_write() {
    let app = TestApp::spawn().await;
    let owner = app.register_tenant(0, "owner@example.com").await;
    let write = |method: Method, path: &'static str, if_match: &'static str| {
        app.request(method, path)
            .bearer_auth(&owner.access_token)
            .header("if-match", if_match)
    };
    // Version 0 is the organization without branding.
    let response = write(Method::PATCH, BRANDING, "\"0\"")
        .json(&json!({"accent_color": "#000000"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"], "\"1\"");
    json_of(response, 200).await;

    let stale = [
        write(Method::PATCH, BRANDING, "\"0\"").json(&json!({"accent_color": "#FFFFFF"})),
        write(Method::PUT, LOGO, "\"0\"")
            .header("content-type", "image/png")
            .body(png(2, 2)),
        write(Method::DELETE, LOGO, "\"0\""),
    ];
    for request in stale {
        problem_of(request.send().await.unwrap(), 412, "precondition_failed").await;
    }
    let (etag, body) = branding(&app, &owner).await;
    assert_eq!(
        (etag.as_str(), body["accent_color"].as_str()),
        ("\"1\"", Some("#000000"))
    );

    let response = write(Method::PUT, LOGO, "\"1\"")
        .header("content-type", "image/png")
        .body(png(2, 2))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(response, 200).await["version"], 2);
    let response = write(Method::DELETE, LOGO, "\"2\"").send().await.unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(branding(&app, &owner).await.0, "\"3\"");
}

#[tokio::test]
async fn another_tenant_never_sees_the_branding_or_the_logo() {
    let app = TestApp::spawn().await;
    let us = app.register_tenant(0, "us@example.com").await;
    let them = app.register_tenant(1, "them@example.com").await;
    let our_logo = png(10, 10);
    json_of(
        put_logo(&app, &us, "image/png", our_logo.clone()).await,
        200,
    )
    .await;
    json_of(
        patch(
            &app,
            &us,
            json!({"accent_color": "#AA0000", "footer_text": "Nuestro pie"}),
        )
        .await,
        200,
    )
    .await;

    let (etag, body) = branding(&app, &them).await;
    assert_eq!(etag, "\"0\"");
    assert_eq!(
        body,
        json!({"accent_color": null, "footer_text": null, "logo": null, "version": 0, "updated_at": null})
    );
    assert_eq!(logo(&app, &them).await, Err(404));

    // Their changes are theirs alone.
    json_of(put_logo(&app, &them, "image/jpeg", jpeg(4, 4)).await, 200).await;
    json_of(
        patch(&app, &them, json!({"accent_color": "#00AA00"})).await,
        200,
    )
    .await;
    let response = app
        .request(Method::DELETE, LOGO)
        .bearer_auth(&them.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let (etag, body) = branding(&app, &us).await;
    assert_eq!(etag, "\"2\"");
    assert_eq!(body["accent_color"], "#AA0000");
    assert_eq!(body["footer_text"], "Nuestro pie");
    assert_eq!(
        logo(&app, &us).await,
        Ok(("image/png".to_string(), our_logo))
    );

    // And row-level security holds even for a query naming our organization from theirs.
    let (ours, theirs) = (
        us.organization_id.parse().unwrap(),
        them.organization_id.parse().unwrap(),
    );
    let seen = persistence::tenant::transaction(&mut app.db.connect(), theirs, |conn| {
        persistence::branding::find(conn, ours)
    })
    .unwrap();
    assert!(seen.is_none(), "{seen:?}");
}
