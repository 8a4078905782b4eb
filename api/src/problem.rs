//! Every error the API answers, and its one mapping to an RFC 9457 `application/problem+json`
//! response. Status, stable `code` and message stand side by side here; nothing else in the
//! crate builds an error body.

use std::borrow::Cow;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::validation::{Violation, Violations};
use persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// Seconds a client should wait before retrying when the database is unavailable.
const UNAVAILABLE_RETRY_AFTER: Duration = Duration::from_secs(5);

tokio::task_local! {
    /// The id of the request being served, so that error bodies can carry it.
    pub static REQUEST_ID: String;
}

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:facturacion:problem:validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "2 fields are invalid",
    "code": "validation_failed",
    "request_id": "0193a5f2-6c1e-7d3a-9b1e-2f4c5d6e7f80",
    "errors": [{"pointer": "/lines/2/quantity", "code": "must_be_positive", "message": "quantity must be greater than 0"}]
}))]
pub struct Problem {
    /// URI naming the kind of problem: `urn:facturacion:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short summary: the HTTP status phrase.
    pub title: String,
    /// HTTP status code, repeated for clients that only see the body.
    pub status: u16,
    /// What went wrong in this occurrence, for a human.
    pub detail: String,
    /// Stable snake_case code for programs (`not_found`, `validation_failed`, `idempotency_key_reused`).
    pub code: String,
    /// The `X-Request-Id` of the request, to quote when reporting a problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// One entry per invalid field, all at once (validation failures only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// RFC 6901 JSON pointer into the request body (`/lines/2/quantity`); for a query parameter,
    /// `/` followed by its name.
    #[schema(example = "/lines/2/quantity")]
    pub pointer: String,
    /// Stable snake_case code, or the SAT rule's code (`CFDI40105`).
    #[schema(example = "must_be_positive")]
    pub code: String,
    /// What is wrong, for a human.
    #[schema(example = "quantity must be greater than 0")]
    pub message: String,
}

impl From<Violation> for FieldError {
    fn from(v: Violation) -> Self {
        Self {
            pointer: v.pointer,
            code: v.code,
            message: v.message,
        }
    }
}

/// An error answered to the client. Boxed: it travels in every handler's `Result`, and most of
/// its fields are rare.
#[derive(Debug, thiserror::Error)]
#[error("{} {}: {}", .0.status, .0.code, .0.detail)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: String,
    errors: Vec<FieldError>,
    allow: Option<String>,
    retry_after: Option<Duration>,
    www_authenticate: Option<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<String>,
    ) -> Self {
        Self(Box::new(Inner {
            status,
            code: code.into(),
            detail: detail.into(),
            errors: Vec::new(),
            allow: None,
            retry_after: None,
            www_authenticate: None,
        }))
    }

    /// Keeps the field errors but answers with another status and code (a query string that
    /// fails validation is a 400 `invalid_query`, not a 422 body failure).
    pub fn set_status_and_code(&mut self, status: StatusCode, code: &'static str) {
        self.0.status = status;
        self.0.code = Cow::Borrowed(code);
    }

    pub fn status(&self) -> StatusCode {
        self.0.status
    }

    pub fn code(&self) -> &str {
        &self.0.code
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 401 with the RFC 6750 challenge; `error` is the challenge's error code (or none when the
    /// request carried no token at all).
    pub fn unauthorized(
        code: &'static str,
        detail: impl Into<String>,
        error: Option<&str>,
    ) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, code, detail);
        e.0.www_authenticate = Some(match error {
            Some(error) => format!("Bearer realm=\"facturacion\", error=\"{error}\""),
            None => "Bearer realm=\"facturacion\"".to_string(),
        });
        e
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn too_many_requests(
        code: &'static str,
        retry_after: Duration,
        detail: impl Into<String>,
    ) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail);
        e.0.retry_after = Some(retry_after.max(Duration::from_secs(1)));
        e
    }

    /// Adds a field error to a non-validation problem (a 409 naming the field that clashed).
    pub fn with_field(mut self, violation: Violation) -> Self {
        self.0.errors.push(violation.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no resource exists at this URL",
        )
    }

    pub fn method_not_allowed(allow: &[&str]) -> Self {
        let mut e = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("this URL accepts only {}", allow.join(", ")),
        );
        e.0.allow = Some(allow.join(", "));
        e
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn precondition_failed() -> Self {
        Self::new(
            StatusCode::PRECONDITION_FAILED,
            "precondition_failed",
            "the resource changed since you read it: fetch it again and retry with its current ETag",
        )
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds the limit of {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the request body must be sent as {expected}"),
        )
    }

    /// 422 with every violation, each with its JSON pointer.
    pub fn validation(violations: Violations) -> Self {
        let count = violations.len();
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            if count == 1 {
                "1 field is invalid".to_string()
            } else {
                format!("{count} fields are invalid")
            },
        );
        e.0.errors = violations.into_iter().map(FieldError::from).collect();
        e
    }

    /// Whether this is a 422 listing field violations.
    pub fn is_validation(&self) -> bool {
        self.0.status == StatusCode::UNPROCESSABLE_ENTITY && !self.0.errors.is_empty()
    }

    /// 422 for a well-formed request that cannot be processed as a whole.
    pub fn unprocessable(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    pub fn unavailable() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database is unavailable; retry after the time in Retry-After",
        );
        e.0.retry_after = Some(UNAVAILABLE_RETRY_AFTER);
        e
    }

    /// A fault of ours. The cause is logged with the request id; the client sees none of it.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        log::error!("request {request_id} failed: {chain}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server failed to handle this request; quote the request id when reporting it",
        )
    }

    /// The body, with the current request's id.
    pub fn problem(&self) -> Problem {
        Problem {
            type_uri: format!("urn:facturacion:problem:{}", self.0.code),
            title: self
                .0
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.0.status.as_u16(),
            detail: self.0.detail.clone(),
            code: self.0.code.to_string(),
            request_id: REQUEST_ID.try_with(Clone::clone).ok(),
            errors: self.0.errors.clone(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.0.status);
        response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)));
        if let Some(allow) = &self.0.allow {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if let Some(challenge) = &self.0.www_authenticate {
            response.insert_header((header::WWW_AUTHENTICATE, challenge.as_str()));
        }
        if let Some(after) = self.0.retry_after {
            response.insert_header((header::RETRY_AFTER, after.as_secs().to_string()));
        }
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        response.body(body)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(reason) => {
                log::warn!("database unavailable: {reason}");
                Self::unavailable()
            }
            StoreError::NotFound => Self::not_found(),
            StoreError::ForeignKeyViolation { constraint } => Self::conflict(
                "in_use",
                format!("other resources still refer to this one ({constraint})"),
            ),
            StoreError::UniqueViolation { constraint } => Self::conflict(
                "already_exists",
                format!("a resource with the same unique value already exists ({constraint})"),
            ),
            other => Self::internal(&other),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        Self::internal(&e)
    }
}

/// A generic code for a status that reached the client without a problem body (an error
/// raised by actix itself): the safety net keeps every error in one format.
pub fn code_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        409 => "conflict",
        411 => "length_required",
        412 => "precondition_failed",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        422 => "unprocessable_content",
        429 => "too_many_requests",
        431 => "request_header_fields_too_large",
        503 => "service_unavailable",
        s if s >= 500 => "internal_error",
        _ => "client_error",
    }
}

/// The bytes of a file (a PDF, a ZIP, an image), for the OpenAPI document: a binary string,
/// which client generators turn into a blob or a byte stream.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct BinaryFile(pub Vec<u8>);
