//! Cursor pagination for every list (API.md): `?limit=` (1–100, default 20),
//! `&starting_after=<cursor>`, `&sort=field` or `-field` among a resource's allow-listed fields;
//! answers `{"data": [...], "has_more": bool, "next_cursor": string or null}`.
//!
//! The cursor is opaque to clients: base64url of the sort it belongs to and the last row's sort
//! value and id. A cursor from another sort is refused rather than silently misread.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::validation::{Pointer, Violation, Violations};
use persistence::pagination::{Direction, Keyset, PageQuery};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::problem::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// The sort fields a resource allows, by their API names.
pub trait SortKey: Sized + Copy + PartialEq + 'static {
    /// Every allowed field: its name in `?sort=` and its value.
    const FIELDS: &'static [(&'static str, Self)];
    /// The sort used without `?sort=` (`-created_at`: newest first).
    const DEFAULT: &'static str;
}

/// The pagination parameters of every list operation.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many items to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page, to get the page after it.
    pub starting_after: Option<String>,
    /// Field to sort by, ascending; prefix it with `-` for descending (`-created_at`).
    pub sort: Option<String>,
}

/// The query of a list sorted only by creation time (users, security events, API clients).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreatedAtListQuery {
    /// How many items to return, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 200, pattern = "^[A-Za-z0-9_-]*$")]
    pub starting_after: Option<String>,
    /// `created_at` (oldest first) or `-created_at` (newest first); the operation says which
    /// is the default.
    #[param(pattern = "^-?created_at$")]
    pub sort: Option<String>,
}

impl From<CreatedAtListQuery> for ListParams {
    fn from(q: CreatedAtListQuery) -> Self {
        Self {
            limit: q.limit,
            starting_after: q.starting_after,
            sort: q.sort,
        }
    }
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct PageRequest<K> {
    pub limit: u32,
    pub key: K,
    pub direction: Direction,
    /// The sort as written (`-created_at`), which cursors are tied to.
    pub sort: String,
    after: Option<(serde_json::Value, Uuid)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CursorData(String, serde_json::Value, Uuid);

impl ListParams {
    /// Checks every parameter, reporting all problems at once (400 `invalid_query`).
    pub fn parse<K: SortKey>(&self) -> Result<PageRequest<K>, ApiError> {
        self.parse_with(Violations::new())
    }

    /// [`ListParams::parse`], reporting `found` (the list's own filters' problems) with the
    /// paging parameters' problems in one answer.
    pub fn parse_with<K: SortKey>(&self, found: Violations) -> Result<PageRequest<K>, ApiError> {
        let mut violations = found;
        let limit = check_limit(self.limit, &mut violations);
        let sort = self.sort.clone().unwrap_or_else(|| K::DEFAULT.to_string());
        let (direction, name) = match sort.strip_prefix('-') {
            Some(name) => (Direction::Desc, name),
            None => (Direction::Asc, sort.as_str()),
        };
        let key = K::FIELDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k);
        if key.is_none() {
            let names: Vec<&str> = K::FIELDS.iter().map(|(n, _)| *n).collect();
            violations.push(Violation::new(
                Pointer::root().field("sort"),
                "unknown_sort_field",
                format!(
                    "sort must be one of {} (prefix - for descending)",
                    names.join(", ")
                ),
            ));
        }
        let after = match &self.starting_after {
            None => None,
            Some(cursor) => match decode(cursor) {
                Some(CursorData(cursor_sort, value, id)) if cursor_sort == sort => {
                    Some((value, id))
                }
                Some(_) => {
                    violations.push(Violation::new(
                        Pointer::root().field("starting_after"),
                        "cursor_sort_mismatch",
                        "this cursor belongs to a list with another sort; keep the same sort while paging",
                    ));
                    None
                }
                None => {
                    violations.push(Violation::new(
                        Pointer::root().field("starting_after"),
                        "invalid_cursor",
                        "starting_after must be a next_cursor returned by this list",
                    ));
                    None
                }
            },
        };
        match key {
            Some(key) if violations.is_empty() => Ok(PageRequest {
                limit,
                key,
                direction,
                sort,
                after,
            }),
            _ => Err(invalid_query(violations)),
        }
    }
}

/// Checks `?limit=` (1–100, default 20), adding a violation when it is out of range.
pub fn check_limit(limit: Option<u32>, violations: &mut Violations) -> u32 {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        violations.push(Violation::new(
            Pointer::root().field("limit"),
            "out_of_range",
            format!("limit must be from 1 to {MAX_LIMIT}"),
        ));
    }
    limit
}

/// The cursor of a list ordered by a unique text key rather than `(sort value, id)` (SAT catalog
/// entries have no id): the list it belongs to and the last key of the page.
pub fn key_cursor(list: &str, key: &str) -> Option<String> {
    serde_json::to_vec(&(list, key))
        .ok()
        .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
}

/// The key a [`key_cursor`] of `list` carries; a violation when `cursor` is not one (a cursor
/// of another list included).
pub fn after_key(list: &str, cursor: &str, violations: &mut Violations) -> Option<String> {
    let decoded = URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<(String, String)>(&bytes).ok());
    match decoded {
        Some((cursor_list, key)) if cursor_list == list => Some(key),
        _ => {
            violations.push(Violation::new(
                Pointer::root().field("starting_after"),
                "invalid_cursor",
                "starting_after must be a next_cursor returned by this list",
            ));
            None
        }
    }
}

/// 400 `invalid_query` with every violation of the query string.
pub fn invalid_query(violations: Violations) -> ApiError {
    let mut e = ApiError::validation(violations);
    e.set_status_and_code(actix_web::http::StatusCode::BAD_REQUEST, "invalid_query");
    e
}

fn decode(cursor: &str) -> Option<CursorData> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl<K> PageRequest<K> {
    /// The query for persistence, with the cursor's value read as the sort column's type `V`.
    pub fn query<V: DeserializeOwned>(&self) -> Result<PageQuery<V>, ApiError> {
        let after = match &self.after {
            None => None,
            Some((value, id)) => Some(Keyset {
                value: serde_json::from_value(value.clone()).map_err(|_| {
                    invalid_query(
                        Violation::new(
                            Pointer::root().field("starting_after"),
                            "invalid_cursor",
                            "starting_after must be a next_cursor returned by this list",
                        )
                        .into(),
                    )
                })?,
                id: *id,
            }),
        };
        Ok(PageQuery {
            limit: i64::from(self.limit),
            direction: self.direction,
            after,
        })
    }

    /// The answer: `rows` with a cursor after the last one when more follow. `position` gives
    /// a row's sort value and id.
    pub fn page<T, V: Serialize>(
        &self,
        rows: Vec<T>,
        has_more: bool,
        position: impl Fn(&T) -> (V, Uuid),
    ) -> Page<T> {
        let next_cursor = match rows.last() {
            Some(last) if has_more => {
                let (value, id) = position(last);
                let data = CursorData(
                    self.sort.clone(),
                    serde_json::to_value(value).unwrap_or_default(),
                    id,
                );
                serde_json::to_vec(&data)
                    .ok()
                    .map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
            }
            _ => None,
        };
        Page {
            data: rows,
            has_more,
            next_cursor,
        }
    }
}

/// The sorts every business resource's list offers: by name (the default), by creation, and
/// by last change (what an ERP sync with `updated_since` pages by).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ResourceSort {
    Name,
    CreatedAt,
    UpdatedAt,
}

impl SortKey for ResourceSort {
    const FIELDS: &'static [(&'static str, Self)] = &[
        ("name", ResourceSort::Name),
        ("created_at", ResourceSort::CreatedAt),
        ("updated_at", ResourceSort::UpdatedAt),
    ];
    const DEFAULT: &'static str = "name";
}

/// An item of such a list: what its cursors are made of.
pub trait Listed {
    fn id(&self) -> Uuid;
    fn name(&self) -> &str;
    fn created_at(&self) -> chrono::DateTime<chrono::Utc>;
    fn updated_at(&self) -> chrono::DateTime<chrono::Utc>;
}

impl PageRequest<ResourceSort> {
    /// The page to ask persistence for.
    pub fn resource_page(&self) -> Result<persistence::pagination::ResourcePage, ApiError> {
        use persistence::pagination::ResourcePage;
        Ok(match self.key {
            ResourceSort::Name => ResourcePage::Name(self.query()?),
            ResourceSort::CreatedAt => ResourcePage::CreatedAt(self.query()?),
            ResourceSort::UpdatedAt => ResourcePage::UpdatedAt(self.query()?),
        })
    }

    /// The answer, with a cursor in this sort.
    pub fn resource_answer<T: Listed>(&self, rows: Vec<T>, has_more: bool) -> Page<T> {
        match self.key {
            ResourceSort::Name => self.page(rows, has_more, |r| (r.name().to_string(), r.id())),
            ResourceSort::CreatedAt => self.page(rows, has_more, |r| (r.created_at(), r.id())),
            ResourceSort::UpdatedAt => self.page(rows, has_more, |r| (r.updated_at(), r.id())),
        }
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
    /// Whether more items follow this page.
    pub has_more: bool,
    /// Pass as `starting_after` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Sort {
        Name,
        CreatedAt,
    }

    impl SortKey for Sort {
        const FIELDS: &'static [(&'static str, Self)] =
            &[("name", Sort::Name), ("created_at", Sort::CreatedAt)];
        const DEFAULT: &'static str = "-created_at";
    }

    fn params(limit: Option<u32>, sort: Option<&str>, after: Option<&str>) -> ListParams {
        ListParams {
            limit,
            sort: sort.map(str::to_string),
            starting_after: after.map(str::to_string),
        }
    }

    #[test]
    fn defaults_to_twenty_newest_first() {
        let page = params(None, None, None)
            .parse::<Sort>()
            .map_err(|e| e.to_string());
        let page = page.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(page.limit, 20);
        assert_eq!(page.key, Sort::CreatedAt);
        assert_eq!(page.direction, Direction::Desc);
    }

    #[test]
    fn every_bad_parameter_is_reported() {
        let err = params(Some(0), Some("price"), Some("garbage"))
            .parse::<Sort>()
            .err();
        let problem = err
            .map(|e| e.problem())
            .unwrap_or_else(|| panic!("accepted"));
        assert_eq!(problem.status, 400);
        let pointers: Vec<&str> = problem.errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/limit", "/sort", "/starting_after"]);
    }

    #[test]
    fn cursors_round_trip_and_stay_tied_to_their_sort() {
        let request = params(Some(1), Some("name"), None)
            .parse::<Sort>()
            .unwrap_or_else(|e| panic!("{e}"));
        let id = Uuid::now_v7();
        let page = request.page(vec![("b".to_string(), id)], true, |(n, id)| {
            (n.clone(), *id)
        });
        let cursor = page.next_cursor.unwrap_or_default();
        let next = params(Some(1), Some("name"), Some(&cursor))
            .parse::<Sort>()
            .unwrap_or_else(|e| panic!("{e}"));
        let query = next.query::<String>().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            query.after,
            Some(Keyset {
                value: "b".to_string(),
                id
            })
        );
        assert!(
            params(Some(1), Some("-name"), Some(&cursor))
                .parse::<Sort>()
                .is_err()
        );
    }

    #[test]
    fn last_page_has_no_cursor() {
        let request = params(None, None, None)
            .parse::<Sort>()
            .unwrap_or_else(|e| panic!("{e}"));
        let page = request.page(vec![1], false, |_| (0, Uuid::nil()));
        assert!(page.next_cursor.is_none());
    }
}
