//! Request extractors that answer every bad input with a problem document: the JSON body
//! (415, 413, 400 with the position, 422 with a pointer per field), path and query parameters.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use domain::validation::{Pointer, Violation, Violations};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::problem::ApiError;

mod strict;
use crate::state::AppState;

/// A JSON request body, deserialized and validated.
///
/// Unlike `actix_web::web::Json` it reports where the body is malformed (line and column), which
/// field has the wrong type (as a JSON pointer), and every failed validation rule at once.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> FromRequest for Json<T>
where
    T: DeserializeOwned + Validate + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.request_body_limit)
            .unwrap_or(1024 * 1024);
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        let payload = payload.take();
        Box::pin(async move {
            if !is_json {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            let body = read_body(payload, limit).await?;
            let value: T = parse_json(&body)?;
            value
                .validate()
                .map_err(|e| ApiError::validation(violations_from(&e)))?;
            Ok(Json(value))
        })
    }
}

/// The body of a `PATCH`: a JSON merge patch (RFC 7396). Handlers merge it into the stored
/// resource's document with [`MergePatch::apply_to`] and check the result like a new resource,
/// so partial updates obey every rule that spans several fields.
#[derive(Debug, Clone)]
pub struct MergePatch(pub serde_json::Map<String, serde_json::Value>);

/// Only an object is a patch of a resource: RFC 7396 reads `null` or a scalar as "replace the
/// whole resource with this", which no resource here can be (serde_json's own map would even
/// read `null` as an empty patch and change nothing while answering 200).
impl<'de> serde::Deserialize<'de> for MergePatch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Object(map) => Ok(MergePatch(map)),
            other => Err(serde::de::Error::invalid_type(
                match &other {
                    serde_json::Value::Null => serde::de::Unexpected::Unit,
                    serde_json::Value::Bool(b) => serde::de::Unexpected::Bool(*b),
                    serde_json::Value::Array(_) => serde::de::Unexpected::Seq,
                    serde_json::Value::String(s) => serde::de::Unexpected::Str(s),
                    serde_json::Value::Number(_) => serde::de::Unexpected::Other("a number"),
                    serde_json::Value::Object(_) => serde::de::Unexpected::Map,
                },
                &"a JSON object (a merge patch)",
            )),
        }
    }
}

impl Validate for MergePatch {
    fn validate(&self) -> Result<(), ValidationErrors> {
        Ok(())
    }
}

impl MergePatch {
    /// RFC 7396 §2: `null` removes a member, objects merge recursively, anything else replaces.
    pub fn apply_to(&self, target: &mut serde_json::Value) {
        merge(target, &self.0);
    }
}

fn merge(target: &mut serde_json::Value, patch: &serde_json::Map<String, serde_json::Value>) {
    if !target.is_object() {
        *target = serde_json::Value::Object(serde_json::Map::new());
    }
    let serde_json::Value::Object(map) = target else {
        return;
    };
    for (key, value) in patch {
        match value {
            serde_json::Value::Null => {
                map.remove(key);
            }
            serde_json::Value::Object(inner) => {
                merge(
                    map.entry(key.clone()).or_insert(serde_json::Value::Null),
                    inner,
                );
            }
            other => {
                map.insert(key.clone(), other.clone());
            }
        }
    }
}

/// Reads the whole body, refusing it as soon as it grows past `limit`.
pub async fn read_body(mut payload: Payload, limit: usize) -> Result<web::Bytes, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => ApiError::payload_too_large(limit),
            other => ApiError::bad_request(
                "unreadable_body",
                format!("the request body could not be read: {other}"),
            ),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Deserializes `body`, telling syntax errors (400, with line and column) from values of the
/// wrong shape (422, with the pointer of the field).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Parsed once into a document: syntax errors carry their line and column, and anything
    // after the document but white space is malformed.
    let document: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| json_error(e, Pointer::root()))?;
    from_document(document)
}

/// Deserializes a parsed document, reporting every field of the wrong type, unknown or
/// missing at once: after each error the offending member is removed and deserialization runs
/// again, until it succeeds or the only errors left are the members removed on the way.
pub fn from_document<T: DeserializeOwned>(mut document: serde_json::Value) -> Result<T, ApiError> {
    // PostgreSQL text cannot hold NUL: refuse it here, with its pointer, rather than fail later.
    if let Some(pointer) = find_nul(&document, Pointer::root()) {
        return Err(ApiError::validation(
            Violation::new(
                pointer,
                "invalid_characters",
                "text must not contain NUL characters",
            )
            .into(),
        ));
    }
    let mut violations = Violations::new();
    let mut reported: Vec<Pointer> = Vec::new();
    // Members this loop filled in so deserialization can go on, and which kind of value each
    // holds now (an index into PLACEHOLDERS).
    let mut placeholders: Vec<(Pointer, usize)> = Vec::new();
    // Each round removes or fills one member, so a document cannot make this loop long.
    for _ in 0..200 {
        let error = match serde_path_to_error::deserialize(strict::Strict(document.clone())) {
            Ok(value) if violations.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(e) => e,
        };
        let pointer = pointer_of(error.path());
        let inner = error.into_inner();
        let message = strip_position(&inner.to_string());
        let missing = missing_field_name(&message).map(|name| pointer.field(name));
        let target = missing.clone().unwrap_or(pointer);
        if target == Pointer::root() {
            if violations.is_empty() {
                return Err(json_error(inner, target));
            }
            break;
        }
        // A placeholder of ours was refused: try the next kind of value.
        if let Some((_, kind)) = placeholders.iter_mut().find(|(p, _)| *p == target) {
            *kind += 1;
            match PLACEHOLDERS.get(*kind) {
                Some(make) if set_at(&mut document, &target, make()) => continue,
                _ => {
                    // No stand-in fits (an enum): drop the object holding the member, which
                    // is reported already, and look for the errors after it.
                    // An element of an array cannot be dropped without renumbering the ones
                    // after it: empty the whole array instead.
                    let tokens = target.tokens();
                    let up = |n: usize| {
                        tokens[..tokens.len().saturating_sub(n)]
                            .iter()
                            .fold(Pointer::root(), |p, t| p.field(t))
                    };
                    let parent = up(1);
                    let went_on = parent != Pointer::root()
                        && (remove_at(&mut document, &parent)
                            || (up(2) != Pointer::root()
                                && document
                                    .pointer(up(2).as_str())
                                    .is_some_and(|v| v.is_array())
                                && set_at(
                                    &mut document,
                                    &up(2),
                                    serde_json::Value::Array(Vec::new()),
                                )));
                    if went_on {
                        continue;
                    }
                    break;
                }
            }
        }
        if !reported.contains(&target) {
            let code = if missing.is_some() {
                "required"
            } else {
                problem_code(&message)
            };
            violations.push(Violation::new(target.clone(), code, message));
            reported.push(target.clone());
        }
        let went_on = if missing.is_some() {
            // Required: fill it in with some value, to find the errors after it.
            placeholders.push((target.clone(), 0));
            set_at(&mut document, &target, PLACEHOLDERS[0]())
        } else {
            remove_at(&mut document, &target)
        };
        if !went_on {
            break;
        }
    }
    Err(ApiError::validation(violations))
}

/// Stand-ins for a required member whose type is not known here, tried in turn.
const PLACEHOLDERS: [fn() -> serde_json::Value; 5] = [
    || serde_json::Value::String(String::new()),
    || serde_json::Value::from(0),
    || serde_json::Value::Bool(false),
    || serde_json::Value::Array(Vec::new()),
    || serde_json::Value::Object(serde_json::Map::new()),
];

/// Sets the member at `pointer` of an object; false when its parent is not an object.
fn set_at(document: &mut serde_json::Value, pointer: &Pointer, value: serde_json::Value) -> bool {
    let tokens = pointer.tokens();
    let Some((last, parents)) = tokens.split_last() else {
        return false;
    };
    match parent_of(document, parents) {
        Some(serde_json::Value::Object(map)) => {
            map.insert(last.clone(), value);
            true
        }
        _ => false,
    }
}

fn parent_of<'a>(
    document: &'a mut serde_json::Value,
    tokens: &[String],
) -> Option<&'a mut serde_json::Value> {
    let mut at = document;
    for token in tokens {
        at = match at {
            serde_json::Value::Object(map) => map.get_mut(token)?,
            serde_json::Value::Array(items) => items.get_mut(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

fn problem_code(message: &str) -> &'static str {
    if message.starts_with("unknown field") {
        "unknown_field"
    } else if message.starts_with("missing field") {
        "required"
    } else {
        "invalid_type"
    }
}

/// The field of serde's "missing field `name`" message.
fn missing_field_name(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// Removes the member at `pointer` of an object; false when there is none. (An element of a
/// list cannot be removed without renumbering the rest: the first bad element stops the loop.)
fn remove_at(document: &mut serde_json::Value, pointer: &Pointer) -> bool {
    let tokens = pointer.tokens();
    let Some((last, parents)) = tokens.split_last() else {
        return false;
    };
    match parent_of(document, parents) {
        Some(serde_json::Value::Object(map)) => map.remove(last).is_some(),
        _ => false,
    }
}

/// The pointer of the first string (or key) holding a NUL.
fn find_nul(value: &serde_json::Value, at: Pointer) -> Option<Pointer> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then_some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v, at.index(i))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(at.field(k))
            } else {
                find_nul(v, at.field(k))
            }
        }),
        _ => None,
    }
}

fn json_error(inner: serde_json::Error, pointer: Pointer) -> ApiError {
    use serde_json::error::Category;
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "malformed_json",
            format!(
                "the request body is not valid JSON: {} at line {} column {}",
                strip_position(&inner.to_string()),
                inner.line(),
                inner.column()
            ),
        ),
        Category::Data => {
            let message = strip_position(&inner.to_string());
            let code = if message.starts_with("unknown field") {
                "unknown_field"
            } else if message.starts_with("missing field") {
                "required"
            } else {
                "invalid_type"
            };
            ApiError::validation(Violation::new(pointer, code, message).into())
        }
    }
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn pointer_of(path: &serde_path_to_error::Path) -> Pointer {
    use serde_path_to_error::Segment;
    path.iter()
        .fold(Pointer::root(), |p, segment| match segment {
            Segment::Seq { index } => p.index(*index),
            Segment::Map { key } => p.field(key),
            Segment::Enum { variant } => p.field(variant),
            Segment::Unknown => p,
        })
}

/// Flattens `validator`'s nested errors into violations with JSON pointers. The rule's code
/// becomes the violation code; its message, or a generic one, the message.
pub fn violations_from(errors: &ValidationErrors) -> Violations {
    let mut out = Violations::new();
    collect(errors, &Pointer::root(), &mut out);
    out
}

fn collect(errors: &ValidationErrors, at: &Pointer, out: &mut Violations) {
    for (field, kind) in errors.errors() {
        let here = at.field(field);
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    let message = e
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format!("{field} is invalid ({})", e.code));
                    out.push(Violation::new(here.clone(), e.code.to_string(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &here, out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &here.index(*index), out);
                }
            }
        }
    }
}

/// Path parameters that do not parse (a malformed id) name no resource: 404. Unless the path
/// is a route of its own that lacks this method (`PATCH /v1/customers/import` reaches
/// `PATCH /v1/customers/{id}` with `import` as the id): then 405 with its `Allow`.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, req| {
        let literal = req
            .app_data::<web::Data<AppState>>()
            .and_then(|s| s.routes.literal(req.path()).map(<[&str]>::to_vec));
        match literal {
            Some(methods) if !methods.contains(&req.method().as_str()) => {
                ApiError::method_not_allowed(&methods).into()
            }
            _ => ApiError::not_found().into(),
        }
    })
}

/// Query parameters of the wrong type: 400 naming the parameter.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|e, _| {
        ApiError::bad_request("invalid_query", format!("invalid query string: {e}")).into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Line {
        quantity: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be deserialized")]
    struct Doc {
        lines: Vec<Line>,
    }

    fn problem_of(body: &str) -> (u16, String, String) {
        match parse_json::<Doc>(body.as_bytes()) {
            Ok(_) => (200, String::new(), String::new()),
            Err(e) => {
                let p = e.problem();
                let pointer = p
                    .errors
                    .first()
                    .map(|f| f.pointer.clone())
                    .unwrap_or_default();
                (p.status, pointer, p.detail)
            }
        }
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let (status, _, detail) = problem_of("{\"lines\": [\n{\"quantity\": }]}");
        assert_eq!(status, 400);
        assert!(detail.contains("line 2 column 14"), "{detail}");
    }

    #[test]
    fn wrong_types_point_at_the_field() {
        let (status, pointer, _) = problem_of(r#"{"lines": [{"quantity": 1}, {"quantity": "x"}]}"#);
        assert_eq!((status, pointer.as_str()), (422, "/lines/1/quantity"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let (status, pointer, _) = problem_of(r#"{"lines": [], "extra": 1}"#);
        assert_eq!(status, 422);
        assert_eq!(pointer, "/extra");
    }

    #[test]
    fn nul_characters_are_refused_with_their_pointer() {
        #[derive(Debug, Deserialize)]
        #[expect(dead_code, reason = "fields exist to be deserialized")]
        struct Named {
            names: Vec<String>,
        }
        let problem = parse_json::<Named>(br#"{"names": ["ok", "a\u0000b"]}"#)
            .err()
            .map(|e| e.problem());
        let problem = problem.unwrap_or_else(|| panic!("accepted a NUL"));
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].pointer, "/names/1");
        assert_eq!(problem.errors[0].code, "invalid_characters");
        assert!(
            parse_json::<Named>(br#"{"names": ["x\\u0000"]}"#).is_ok(),
            "an escaped backslash, then text"
        );
        let doc: serde_json::Value =
            serde_json::from_str(r#"{"a": [{"b": "x\u0000"}]}"#).unwrap_or_default();
        assert_eq!(
            find_nul(&doc, Pointer::root()).map(|p| p.to_string()),
            Some("/a/0/b".into())
        );
    }

    #[test]
    fn structs_must_be_objects_not_arrays() {
        let (status, pointer, _) = problem_of(r#"[[{"quantity": 1}]]"#);
        assert_eq!((status, pointer.as_str()), (422, ""));
        let (status, pointer, _) = problem_of(r#"{"lines": [[1]]}"#);
        assert_eq!((status, pointer.as_str()), (422, "/lines/0"));
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        assert_eq!(problem_of(r#"{"lines": []} x"#).0, 400);
    }
}
