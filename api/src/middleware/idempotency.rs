//! `Idempotency-Key` for every POST (API.md): the same key with the same request replays the
//! stored status and body with `Idempotent-Replayed: true`; the same key with another request is
//! 422 `idempotency_key_reused`; the same key while the first request still runs is 409
//! `idempotency_key_in_use`. Responses worth replaying are stored (success, and outcomes that a
//! retry would only repeat); anything else, validation failures above all, stores nothing, so a
//! corrected request may reuse the key.
//!
//! Keys live in PostgreSQL, scoped per tenant ([`IdempotencyScope`], set by authentication) or
//! to the anonymous caller, and are pruned by [`prune_forever`] after [`KEEP_FOR`].

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, ResponseError, web};
use persistence::idempotency::{self, Claim, StoredResponse};
use sha2::{Digest, Sha256};

use crate::extract::read_body;
use crate::problem::{ApiError, REQUEST_ID};
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// How long a key and its response are kept (API.md promises at least 24 hours).
pub const KEEP_FOR: Duration = Duration::from_secs(24 * 60 * 60);
/// A key still locked after this long belongs to a request that died (a crash): a retry may
/// take it over. Longer than any request may run.
pub const STALE_LOCK_AFTER: Duration = Duration::from_secs(120);

/// The `Idempotency-Key` header as operations document it (`params(IdempotencyKey)`).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code, reason = "documents the header; the middleware reads it")]
pub struct IdempotencyKey {
    /// Makes a retried request safe: the same key and body replay the first answer. 1 to 255
    /// printable ASCII characters (inner spaces allowed); a UUID is a good choice.
    #[serde(rename = "Idempotency-Key")]
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]([ -~]{0,253}[!-~])?$",
        example = "4f8b2c1e-8a3d-4c5e-9f1a-2b3c4d5e6f70"
    )]
    idempotency_key: Option<String>,
}

/// Whose keys a request's key is compared with. Authentication sets it to the tenant; without
/// it, keys belong to the anonymous caller.
#[derive(Debug, Clone)]
pub struct IdempotencyScope(pub String);

const PUBLIC_SCOPE: &str = "public";
const REPLAYED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let key = req.headers().get(IDEMPOTENCY_KEY).cloned();
    let (Method::POST, Some(key)) = (req.method().clone(), key) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let scope = scope_of(&req, &state);
    let Some(key) = valid_key(&key) else {
        // Authentication answers first: an operation that needs a token refuses a caller
        // without a valid one (401) before anything else about the request is judged, and it
        // does so before touching anything, so handing the request over is safe.
        if scope == PUBLIC_SCOPE && state.routes.post_needs_token(req.path()) {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body);
        }
        let e = ApiError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
        );
        return Ok(req.into_response(e.error_response()));
    };

    let body = match read_body(req.take_payload(), state.config.body_limit_for(req.path())).await {
        Ok(body) => body,
        Err(e) => return Ok(req.into_response(e.error_response())),
    };
    let fingerprint = fingerprint(&req, &body);

    let claim = {
        let (scope, key, fingerprint) = (scope.clone(), key.clone(), fingerprint.clone());
        state
            .db(move |conn| idempotency::claim(conn, &scope, &key, &fingerprint, STALE_LOCK_AFTER))
            .await
    };
    match claim {
        Err(e) => Ok(req.into_response(e.error_response())),
        Ok(Claim::Mismatch) => Ok(req.into_response(
            ApiError::unprocessable(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request; use a new key for a new request",
            )
            .error_response(),
        )),
        Ok(Claim::InFlight) => Ok(req.into_response(
            ApiError::conflict(
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still being processed; retry later",
            )
            .error_response(),
        )),
        Ok(Claim::Replay(stored)) => Ok(req.into_response(replay(stored))),
        Ok(Claim::Acquired) => {
            let mut guard = Release::new(state.clone(), scope.clone(), key.clone());
            req.set_payload(Payload::from(body));
            let res = next.call(req).await?.map_into_boxed_body();
            if !is_stored(res.status()) {
                return Ok(res);
            }
            let (http_req, res) = res.into_parts();
            let (head, body) = res.into_parts();
            let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
            let stored = StoredResponse {
                status: head.status().as_u16(),
                headers: REPLAYED_HEADERS
                    .iter()
                    .filter_map(|name| {
                        let value = head.headers().get(name)?.to_str().ok()?;
                        Some((name.as_str().to_string(), value.to_string()))
                    })
                    .collect::<BTreeMap<_, _>>(),
                body: bytes.to_vec(),
            };
            let saved = state
                .db({
                    let (scope, key, stored) = (scope, key, stored);
                    move |conn| idempotency::complete(conn, &scope, &key, &stored)
                })
                .await;
            match saved {
                Ok(()) => guard.disarm(),
                // The request itself succeeded: answer it; the key is released by the guard so a
                // retry is not refused as in flight.
                Err(e) => log::warn!("could not store idempotent response: {e}"),
            }
            let res = head.set_body(BoxBody::new(bytes));
            Ok(ServiceResponse::new(http_req, res))
        }
    }
}

/// The tenant of a valid access token, else whatever scope authentication set, else the
/// anonymous caller. An invalid token is not an error here: the handler will refuse it.
fn scope_of(req: &ServiceRequest, state: &AppState) -> String {
    if let Some(claims) =
        crate::auth::bearer_token(req.request()).and_then(|t| state.tokens.verify(t).ok())
    {
        return format!("org:{}", claims.org);
    }
    req.extensions()
        .get::<IdempotencyScope>()
        .map(|s| s.0.clone())
        .unwrap_or_else(|| PUBLIC_SCOPE.to_string())
}

fn valid_key(value: &HeaderValue) -> Option<String> {
    let key = value.to_str().ok()?;
    let ok = !key.is_empty()
        && key.len() <= 255
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    ok.then(|| key.to_string())
}

/// Same key, same request: method, path with query, media type and body.
fn fingerprint(req: &ServiceRequest, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [
        req.method().as_str().as_bytes(),
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("")
            .as_bytes(),
        req.headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or(b""),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    hash.finalize().to_vec()
}

/// Outcomes a retry would only repeat are stored; the rest (validation, auth, rate limits,
/// server faults) leave the key free.
fn is_stored(status: StatusCode) -> bool {
    status.is_success() || status.is_redirection() || matches!(status.as_u16(), 404 | 409 | 410)
}

fn replay(stored: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.insert_header((IDEMPOTENT_REPLAYED, "true"));
    response.body(stored.body)
}

/// Frees the key if the request ends without storing a response (validation failure, error,
/// or the client went away and the handler was dropped).
struct Release {
    state: Option<web::Data<AppState>>,
    scope: String,
    key: String,
}

impl Release {
    fn new(state: web::Data<AppState>, scope: String, key: String) -> Self {
        Self {
            state: Some(state),
            scope,
            key,
        }
    }

    fn disarm(&mut self) {
        self.state = None;
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        let Some(state) = self.state.take() else {
            return;
        };
        let (scope, key) = (
            std::mem::take(&mut self.scope),
            std::mem::take(&mut self.key),
        );
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        tokio::spawn(async move {
            if let Err(e) = state
                .db(move |conn| idempotency::release(conn, &scope, &key))
                .await
            {
                log::warn!("request {request_id}: could not release idempotency key: {e}");
            }
        });
    }
}

/// Deletes expired keys every hour until the server stops.
pub async fn prune_forever(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(60 * 60));
    loop {
        tick.tick().await;
        match state.db(|conn| idempotency::prune(conn, KEEP_FOR)).await {
            Ok(0) => {}
            Ok(n) => log::info!("pruned {n} expired idempotency keys"),
            Err(e) => log::warn!("pruning idempotency keys failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outcomes_a_retry_would_repeat_are_stored() {
        assert!(is_stored(StatusCode::CREATED));
        assert!(is_stored(StatusCode::CONFLICT));
        assert!(!is_stored(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(!is_stored(StatusCode::BAD_REQUEST));
        assert!(!is_stored(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_stored(StatusCode::INTERNAL_SERVER_ERROR));
    }

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(valid_key(&HeaderValue::from_static("6a1f0c1e-2b7c")).is_some());
        assert!(valid_key(&HeaderValue::from_static("")).is_none());
        let long = "k".repeat(256);
        assert!(
            valid_key(&HeaderValue::from_str(&long).unwrap_or(HeaderValue::from_static("")))
                .is_none()
        );
    }
}
