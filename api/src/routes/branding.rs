//! The organization's branding, printed on its invoice PDFs and emails: a logo, an accent
//! colour and a footer line.
//!
//! | operation | owner | admin | accountant | viewer |
//! | --- | --- | --- | --- | --- |
//! | get the branding, get the logo | yes | yes | yes | yes |
//! | change the branding, upload or delete the logo | yes | yes | 403 | 403 |
//!
//! API clients act with their role. The branding is one resource with one `version` and
//! `ETag`, whichever part changes; every write honours `If-Match`. An organization that never
//! set any has version 0 and nothing set.
//!
//! A logo is raw `image/png` or `image/jpeg` of at most [`MAX_LOGO_BYTES`], checked by
//! decoding it completely ([`domain::branding::check_logo`]), never by its name or declared
//! type alone; what is stored is the original bytes. The PDF and email code read it with
//! [`persistence::branding::find`].

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, put, web};
use chrono::{DateTime, Utc};
pub use domain::branding::MAX_LOGO_BYTES;
use domain::branding::{self as rules, LogoError, LogoFormat};
use domain::identity::Role;
use domain::validation::{Pointer, Violation, Violations};
use persistence::branding::{self as store, BrandingSummary, NewLogo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::concurrency::{IfMatch, etag};
use crate::extract::{Json, MergePatch, read_body};
use crate::problem::{ApiError, BinaryFile, Problem};
use crate::routes::resource::merged;
use crate::state::AppState;

/// Who may change the branding: it is the organization's configuration.
const WRITER: Role = Role::Admin;

/// Where the logo is served and uploaded; its body limit is [`MAX_LOGO_BYTES`] whatever
/// `REQUEST_BODY_LIMIT` says (see [`crate::config::Config::body_limit_for`]).
pub const LOGO_PATH: &str = "/v1/organization/branding/logo";

/// The organization's branding.
#[derive(Debug, Serialize, ToSchema)]
pub struct BrandingView {
    /// The colour of headings and rules on the invoice PDF and in emails, `#RRGGBB` in upper
    /// case; null for the default.
    #[schema(example = "#1A73E8", pattern = "^#[0-9A-F]{6}$")]
    pub accent_color: Option<String>,
    /// One line printed at the bottom of every PDF page (bank details, a slogan); null for
    /// none.
    #[schema(
        example = "Pagos a BBVA, CLABE 012180001234567897",
        min_length = 1,
        max_length = 300
    )]
    pub footer_text: Option<String>,
    /// The logo printed on the PDF and in emails; null when there is none.
    pub logo: Option<LogoView>,
    /// Increases with every change; the `ETag` is this number in quotes. 0 while the
    /// organization has never set its branding.
    #[schema(example = 3, minimum = 0)]
    pub version: i32,
    /// When the branding last changed; null while it never has.
    pub updated_at: Option<DateTime<Utc>>,
}

/// What is known of the stored logo; its bytes are at `url`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogoView {
    /// `image/png` or `image/jpeg`: what the bytes decoded as.
    #[schema(example = "image/png", pattern = "^image/(png|jpeg)$")]
    pub content_type: String,
    /// In pixels.
    #[schema(example = 600, minimum = 1, maximum = 4096)]
    pub width: i32,
    #[schema(example = 200, minimum = 1, maximum = 4096)]
    pub height: i32,
    /// Size of the file as uploaded.
    #[schema(example = 18423, minimum = 1, maximum = 1048576)]
    pub size_bytes: i32,
    /// Where to download it (`GET`), relative to the API's base URL.
    #[schema(example = "/v1/organization/branding/logo")]
    pub url: String,
}

impl BrandingView {
    fn of(summary: Option<&BrandingSummary>) -> Self {
        let Some(s) = summary else {
            return Self {
                accent_color: None,
                footer_text: None,
                logo: None,
                version: 0,
                updated_at: None,
            };
        };
        let logo = match (
            &s.logo_content_type,
            s.logo_width,
            s.logo_height,
            s.logo_size,
        ) {
            (Some(content_type), Some(width), Some(height), Some(size_bytes)) => Some(LogoView {
                content_type: content_type.clone(),
                width,
                height,
                size_bytes,
                url: LOGO_PATH.to_string(),
            }),
            _ => None,
        };
        Self {
            accent_color: s.accent_color.clone(),
            footer_text: s.footer_text.clone(),
            logo,
            version: s.version,
            updated_at: Some(s.updated_at),
        }
    }
}

fn branding_response(summary: Option<&BrandingSummary>) -> HttpResponse {
    let view = BrandingView::of(summary);
    HttpResponse::Ok()
        .insert_header(("ETag", etag(view.version)))
        .json(view)
}

/// The members a `PATCH` changes, as they are merged and checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    accent_color: Option<String>,
    #[serde(default)]
    footer_text: Option<String>,
}

impl From<&BrandingSummary> for Settings {
    fn from(s: &BrandingSummary) -> Self {
        Self {
            accent_color: s.accent_color.clone(),
            footer_text: s.footer_text.clone(),
        }
    }
}

impl Settings {
    /// The settings as stored (the colour in upper case), or every broken rule at once.
    fn checked(self) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        let at = Pointer::root();
        let accent_color = self
            .accent_color
            .as_deref()
            .and_then(|c| rules::accent_color(c, at.field("accent_color"), &mut violations));
        if let Some(footer) = &self.footer_text {
            rules::footer_text(footer, at.field("footer_text"), &mut violations);
        }
        violations.into_result(Self {
            accent_color,
            footer_text: self.footer_text,
        })
    }
}

/// The changes to the branding, as a JSON merge patch (RFC 7396): members present replace the
/// stored ones, `null` clears one, absent members stay as they are. The logo has its own
/// operations (`PUT` and `DELETE /v1/organization/branding/logo`).
#[derive(Debug, Deserialize, ToSchema)]
#[allow(
    dead_code,
    reason = "documents the PATCH body; the handler merges a JSON object"
)]
pub struct BrandingPatch {
    /// `#RRGGBB` (hexadecimal digits in either case; stored in upper case); `null` for the
    /// default colour.
    #[schema(example = "#1a73e8", pattern = "^#[0-9A-Fa-f]{6}$")]
    accent_color: Option<Option<String>>,
    /// One line of 1 to 300 characters, without leading or trailing white space or control
    /// characters, printed at the bottom of every PDF page; `null` for none.
    #[schema(
        example = "Pagos a BBVA, CLABE 012180001234567897",
        min_length = 1,
        max_length = 300
    )]
    footer_text: Option<Option<String>>,
}

/// Runs `change` on the current branding (None: never set) with the organization's other
/// branding writers queued behind it, after checking `If-Match` against the current version.
async fn change_branding<F>(
    state: &AppState,
    caller: &Caller,
    if_match: IfMatch,
    change: F,
) -> Result<Option<BrandingSummary>, ApiError>
where
    F: FnOnce(
            &mut persistence::PgConnection,
            Option<BrandingSummary>,
        )
            -> Result<Result<Option<BrandingSummary>, ApiError>, persistence::StoreError>
        + Send
        + 'static,
{
    let org = caller.organization_id;
    state
        .tenant_db(org, move |conn| {
            let current = store::lock(conn, org)?;
            if !if_match.matches(current.as_ref().map_or(0, |c| c.version)) {
                return Ok(Err(ApiError::precondition_failed()));
            }
            change(conn, current)
        })
        .await?
}

/// Get the organization's branding.
///
/// Every role. The accent colour, the footer and what is known of the logo (its bytes are at
/// `logo.url`). `ETag` carries the version for `If-Match`; an organization that never set its
/// branding has version 0 and every member null.
#[utoipa::path(
    operation_id = "getBranding",
    tag = "branding",
    security(("bearer_jwt" = [])),
    responses(
        (status = 200, description = "The branding; `ETag` carries its version", body = BrandingView,
            example = json!({
                "accent_color": "#1A73E8",
                "footer_text": "Pagos a BBVA, CLABE 012180001234567897",
                "logo": {"content_type": "image/png", "width": 600, "height": 200, "size_bytes": 18423, "url": "/v1/organization/branding/logo"},
                "version": 3,
                "updated_at": "2026-12-04T16:07:30Z"
            })),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/organization/branding")]
pub async fn get_branding(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let summary = state
        .tenant_db(org, move |conn| store::find_summary(conn, org))
        .await?;
    Ok(branding_response(summary.as_ref()))
}

/// Change the accent colour or the footer.
///
/// Owners and admins. The body is a JSON merge patch (RFC 7396): `accent_color` is `#RRGGBB`
/// (stored in upper case; otherwise 422 `invalid_color` at `/accent_color`), `footer_text` one
/// line of 1 to 300 characters (422 at `/footer_text`), and `null` clears either. Every broken
/// rule is reported at once. Send `If-Match` with the `ETag` you read to avoid overwriting
/// someone else's change.
#[utoipa::path(
    operation_id = "updateBranding",
    tag = "branding",
    security(("bearer_jwt" = [])),
    params(
        ("If-Match" = Option<String>, Header, description = "The `ETag` the change is based on"),
    ),
    request_body(content = BrandingPatch, example = json!({"accent_color": "#1a73e8", "footer_text": null})),
    responses(
        (status = 200, description = "The changed branding; `ETag` carries its new version", body = BrandingView),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins change the branding", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The branding changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, each with its pointer and code (`invalid_color`, `length`, `untrimmed`, `invalid_characters`, `unknown_field` …)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/v1/organization/branding")]
pub async fn update_branding(
    state: web::Data<AppState>,
    caller: Caller,
    if_match: IfMatch,
    Json(patch): Json<MergePatch>,
) -> Result<HttpResponse, ApiError> {
    caller.require(WRITER)?;
    unknown_members(&patch)?;
    let org = caller.organization_id;
    let summary = change_branding(&state, &caller, if_match, move |conn, current| {
        let current = current.as_ref().map(Settings::from).unwrap_or_default();
        let settings = match merged(&current, &patch).map(Settings::checked) {
            Ok(Ok(settings)) => settings,
            Ok(Err(violations)) => return Ok(Err(ApiError::validation(violations))),
            Err(e) => return Ok(Err(e)),
        };
        store::set_settings(
            conn,
            org,
            settings.accent_color.as_deref(),
            settings.footer_text.as_deref(),
        )
        .map(|s| Ok(Some(s)))
    })
    .await?;
    Ok(branding_response(summary.as_ref()))
}

/// 422 for members the branding does not have. Merging would drop a `null` one silently (RFC
/// 7396 reads it as "remove"), and `{"logo": null}` must not answer 200 leaving the logo there.
fn unknown_members(patch: &MergePatch) -> Result<(), ApiError> {
    let mut violations = Violations::new();
    for name in patch.0.keys() {
        if !matches!(name.as_str(), "accent_color" | "footer_text") {
            violations.push(Violation::new(
                Pointer::root().field(name),
                "unknown_field",
                format!(
                    "the branding has no member `{name}`: it has accent_color and footer_text \
                     (the logo is changed with PUT and DELETE {LOGO_PATH})"
                ),
            ));
        }
    }
    violations.into_result(()).map_err(ApiError::validation)
}

/// The declared format of a logo upload: 415 unless it is PNG or JPEG.
fn declared_format(req: &HttpRequest) -> Result<LogoFormat, ApiError> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .and_then(LogoFormat::from_media_type)
        .ok_or_else(|| ApiError::unsupported_media_type(&LogoFormat::MEDIA_TYPES.join(" or ")))
}

fn logo_refused(e: &LogoError) -> ApiError {
    match e {
        LogoError::TooManyBytes => ApiError::payload_too_large(MAX_LOGO_BYTES),
        other => ApiError::unprocessable(other.code(), other.to_string()),
    }
}

/// Upload the logo.
///
/// Owners and admins. The body is the image itself, `image/png` or `image/jpeg` as its
/// `Content-Type` says (415 otherwise), at most 1 MiB (1,048,576 bytes; 413 beyond). It is
/// decoded completely before it is accepted: bytes that do not decode, or that are another
/// format than the declared one (a PNG sent as `image/jpeg`), are 422 `invalid_image`; an
/// image wider or taller than 4096 pixels is 422 `image_too_large` (refused from its header,
/// before its pixels are decoded). The bytes are stored as sent and replace the previous
/// logo. Send `If-Match` with the `ETag` you read to avoid overwriting someone else's change.
#[utoipa::path(
    operation_id = "putBrandingLogo",
    tag = "branding",
    security(("bearer_jwt" = [])),
    params(
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the branding the change is based on"),
    ),
    request_body(description = "The PNG or JPEG file, at most 1 MiB and 4096 x 4096 pixels",
        content((BinaryFile = "image/png"), (BinaryFile = "image/jpeg"))),
    responses(
        (status = 200, description = "The branding with its new logo; `ETag` carries its new version", body = BrandingView),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins change the branding", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The branding changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The image is larger than 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`Content-Type` is neither `image/png` nor `image/jpeg`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_image` (does not decode, truncated, or another format than declared) or `image_too_large` (over 4096 pixels a side)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[put("/v1/organization/branding/logo")]
pub async fn put_logo(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(WRITER)?;
    let declared = declared_format(&req)?;
    let body = read_body(
        payload.into_inner(),
        state.config.body_limit_for(req.path()),
    )
    .await?;
    // Decoding a large image takes a while: off the async workers.
    let checked = {
        let body = body.clone();
        web::block(move || rules::check_logo(&body, declared)).await?
    }
    .map_err(|e| logo_refused(&e))?;
    // At most MAX_LOGO_SIDE (4096) each, checked by the decoding.
    let width = i32::try_from(checked.width).unwrap_or(i32::MAX);
    let height = i32::try_from(checked.height).unwrap_or(i32::MAX);
    let org = caller.organization_id;
    let summary = change_branding(&state, &caller, if_match, move |conn, _| {
        let logo = NewLogo {
            bytes: &body,
            content_type: checked.format.media_type(),
            width,
            height,
        };
        store::set_logo(conn, org, logo).map(|s| Ok(Some(s)))
    })
    .await?;
    Ok(branding_response(summary.as_ref()))
}

/// Download the logo.
///
/// Every role. The image exactly as it was uploaded, with its `Content-Type`; `ETag` is the
/// branding's. 404 when the organization has no logo.
#[utoipa::path(
    operation_id = "getBrandingLogo",
    tag = "branding",
    security(("bearer_jwt" = [])),
    responses(
        (status = 200, description = "The logo, as uploaded", content((BinaryFile = "image/png"), (BinaryFile = "image/jpeg"))),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The organization has no logo", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/v1/organization/branding/logo")]
pub async fn get_logo(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let org = caller.organization_id;
    let branding = state
        .tenant_db(org, move |conn| store::find(conn, org))
        .await?;
    let Some((logo, content_type, version)) =
        branding.and_then(|b| Some((b.logo?, b.logo_content_type?, b.version)))
    else {
        return Err(ApiError::not_found());
    };
    let extension = LogoFormat::from_media_type(&content_type).map_or("bin", LogoFormat::extension);
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("ETag", etag(version)))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"logo.{extension}\""),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(logo))
}

/// Delete the logo.
///
/// Owners and admins. The PDFs and emails made afterwards carry no logo. Deleting when there
/// is none changes nothing and is 204 too. Send `If-Match` with the `ETag` you read to be sure
/// of what you delete.
#[utoipa::path(
    operation_id = "deleteBrandingLogo",
    tag = "branding",
    security(("bearer_jwt" = [])),
    params(
        ("If-Match" = Option<String>, Header, description = "The `ETag` of the branding the deletion is based on"),
    ),
    responses(
        (status = 204, description = "The organization has no logo now"),
        (status = 401, description = "Missing, invalid or expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only owners and admins change the branding", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The branding changed since the `ETag` in `If-Match`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/v1/organization/branding/logo")]
pub async fn delete_logo(
    state: web::Data<AppState>,
    caller: Caller,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    caller.require(WRITER)?;
    let org = caller.organization_id;
    change_branding(&state, &caller, if_match, move |conn, current| {
        match current {
            Some(current) if current.logo_content_type.is_some() => {
                store::clear_logo(conn, org).map(|s| Ok(Some(s)))
            }
            // Nothing to delete: the version stays.
            other => Ok(Ok(other)),
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
