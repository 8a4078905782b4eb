//! The outermost middleware: gives each request an id (`X-Request-Id`, echoed when the client
//! sent a sane one), refuses bodies announced larger than the limit, turns any error response
//! that is not yet a problem document into one, records metrics and writes one access-log line.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};

use crate::problem::{ApiError, PROBLEM_JSON, REQUEST_ID, code_for_status};
use crate::state::AppState;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request, also in the request's extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// A client-sent id is kept if it is short printable ASCII (it goes into logs and headers).
fn client_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(X_REQUEST_ID)?.to_str().ok()?;
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| value.to_string())
}

/// The first query parameter whose name or value holds a NUL character (`%00`), which no
/// PostgreSQL text can store: refused here for every operation, so no filter reaches the
/// database with one.
fn nul_parameter(query: &str) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        .map(|(name, _)| name.replace('\0', ""))
}

fn nul_in_query(name: &str) -> ApiError {
    crate::pagination::invalid_query(
        domain::validation::Violation::new(
            domain::validation::Pointer::root().field(name),
            "invalid_characters",
            "query parameters must not contain NUL characters",
        )
        .into(),
    )
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = client_request_id(&req).unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = req.method().to_string();
    let path = req.path().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();

    let outcome = REQUEST_ID
        .scope(id.clone(), async {
            let limit = state.as_ref().map(|s| s.config.body_limit_for(req.path()));
            let declared = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            if let (Some(limit), Some(declared)) = (limit, declared)
                && declared > limit
            {
                return Ok(req.into_response(ApiError::payload_too_large(limit).error_response()));
            }
            if let Some(name) = nul_parameter(req.query_string()) {
                return Ok(req.into_response(nul_in_query(&name).error_response()));
            }
            match next.call(req).await {
                Ok(res) => Ok(as_problem(res.map_into_boxed_body())),
                Err(e) => {
                    // A middleware failed before any handler answered. The request is gone (it
                    // cannot be cloned before routing), so hand actix a finished problem response.
                    let status = e.as_response_error().status_code();
                    let mut response = ApiError::new(
                        status,
                        code_for_status(status),
                        status.canonical_reason().unwrap_or("error"),
                    )
                    .error_response();
                    if let Ok(value) = HeaderValue::from_str(&id) {
                        response.headers_mut().insert(X_REQUEST_ID, value);
                    }
                    Err(e).map_err(|e| {
                        actix_web::error::InternalError::from_response(e, response).into()
                    })
                }
            }
        })
        .await;

    let mut response: ServiceResponse<BoxBody> = match outcome {
        Ok(response) => response,
        Err(e) => {
            log::info!(target: "access", "{method} {path} failed before routing: {e} request_id={id}");
            return Err(e);
        }
    };
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    if let Some(state) = &state {
        state
            .metrics
            .observe(&method, &route, status, elapsed.as_secs_f64());
    }
    log::info!(
        target: "access",
        "{method} {path} {status} {:.1}ms request_id={id}",
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(response)
}

/// Error responses that actix or a library produced in another format (plain text, empty) are
/// rewritten as problem documents, keeping the headers that matter to the client. JSON error
/// bodies are ours on purpose (OAuth's token endpoint answers in RFC 6749's format).
fn as_problem(res: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON) || v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (req, old) = res.into_parts();
    let mut new = ApiError::new(
        status,
        code_for_status(status),
        status.canonical_reason().unwrap_or("error"),
    )
    .error_response();
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(value) = old.headers().get(&name) {
            new.headers_mut().insert(name, value.clone());
        }
    }
    ServiceResponse::new(req, new)
}
