//! Optimistic concurrency (API.md): mutable resources carry a `version`, answered as a strong
//! `ETag` (`"3"`); a `PATCH` or `DELETE` with `If-Match` naming another version gets 412, so two
//! clients editing the same resource never overwrite each other unknowingly.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest};

use crate::problem::ApiError;

/// The ETag of a resource at `version`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// The `If-Match` header of a request: `None` when absent (no precondition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    /// Whether the precondition holds for a resource now at `version`.
    pub fn matches(&self, version: i32) -> bool {
        match &self.0 {
            None => true,
            Some(tags) => {
                let current = etag(version);
                tags.iter().any(|t| t == "*" || *t == current)
            }
        }
    }

    /// 412 unless the precondition holds for `version`.
    pub fn check(&self, version: i32) -> Result<(), ApiError> {
        if self.matches(version) {
            Ok(())
        } else {
            Err(ApiError::precondition_failed())
        }
    }

    /// The version the client claims to have read, when it named exactly one: lets an update
    /// check and write in one statement (`WHERE version = $expected`).
    pub fn expected_version(&self) -> Option<i32> {
        match self.0.as_deref() {
            Some([tag]) => tag.trim_matches('"').parse().ok(),
            _ => None,
        }
    }
}

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let values: Vec<String> = req
            .headers()
            .get_all(header::IF_MATCH)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        // A weak tag (W/"3") never matches for If-Match (RFC 9110 §13.1.1: strong comparison).
        ready(Ok(IfMatch(if values.is_empty() {
            None
        } else {
            Some(values)
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_comparison_of_versions() {
        let tags = |t: &[&str]| IfMatch(Some(t.iter().map(|s| s.to_string()).collect()));
        assert!(IfMatch(None).matches(3));
        assert!(tags(&["\"3\""]).matches(3));
        assert!(tags(&["*"]).matches(3));
        assert!(tags(&["\"2\"", "\"3\""]).matches(3));
        assert!(!tags(&["\"2\""]).matches(3));
        assert!(!tags(&["W/\"3\""]).matches(3));
        assert_eq!(tags(&["\"7\""]).expected_version(), Some(7));
        assert!(tags(&["\"2\""]).check(3).is_err());
    }
}
