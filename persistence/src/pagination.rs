//! Keyset pagination: a page is the rows after the last one seen, in `(sort value, id)` order,
//! so pages stay stable when rows are inserted and deep pages cost what the first one does
//! (no OFFSET).

use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// Where the previous page ended: its last row's sort value and id.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyset<V> {
    pub value: V,
    pub id: Uuid,
}

/// What to fetch: `limit` rows after `after`, in `direction`.
#[derive(Debug, Clone)]
pub struct PageQuery<V> {
    pub limit: i64,
    pub direction: Direction,
    pub after: Option<Keyset<V>>,
}

/// A page of rows and whether more follow.
#[derive(Debug, Clone)]
pub struct Rows<T> {
    pub rows: Vec<T>,
    pub has_more: bool,
}

impl<T> Rows<T> {
    /// Queries fetch one row more than the limit; that row only tells that more follow.
    pub fn from_overfetch(mut rows: Vec<T>, limit: i64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, has_more }
    }
}

/// Filters and orders a boxed diesel query for one page: `$query` must be a
/// `BoxedSelectStatement`, `$sort` a non-null column, `$id` the primary key column, `$page` a
/// `&PageQuery<V>` whose `V` is the Rust type of `$sort`. Fetches `limit + 1` rows; pass the
/// result to [`Rows::from_overfetch`].
///
/// A composite index on `(sort column, id)` (per tenant: `(org_id, sort column, id)`) serves it.
#[macro_export]
macro_rules! keyset_page {
    ($query:expr, $sort:expr, $id:expr, $page:expr) => {{
        use diesel::prelude::*;
        let page = $page;
        let mut query = $query;
        match page.direction {
            $crate::pagination::Direction::Asc => {
                if let Some(after) = &page.after {
                    // The first condition is implied by the second; it is there because
                    // PostgreSQL can seek an index with it, not with the OR.
                    query = query.filter($sort.ge(after.value.clone())).filter(
                        $sort
                            .gt(after.value.clone())
                            .or($sort.eq(after.value.clone()).and($id.gt(after.id))),
                    );
                }
                query.order(($sort.asc(), $id.asc())).limit(page.limit + 1)
            }
            $crate::pagination::Direction::Desc => {
                if let Some(after) = &page.after {
                    query = query.filter($sort.le(after.value.clone())).filter(
                        $sort
                            .lt(after.value.clone())
                            .or($sort.eq(after.value.clone()).and($id.lt(after.id))),
                    );
                }
                query
                    .order(($sort.desc(), $id.desc()))
                    .limit(page.limit + 1)
            }
        }
    }};
}

/// A page of a business resource's list, in one of the sorts every such list offers: by name,
/// by creation or by last change (ERP sync). Each is served by an index
/// `(organization_id, column, id)`.
#[derive(Debug, Clone)]
pub enum ResourcePage {
    Name(PageQuery<String>),
    CreatedAt(PageQuery<chrono::DateTime<chrono::Utc>>),
    UpdatedAt(PageQuery<chrono::DateTime<chrono::Utc>>),
}

impl ResourcePage {
    pub fn limit(&self) -> i64 {
        match self {
            Self::Name(p) => p.limit,
            Self::CreatedAt(p) => p.limit,
            Self::UpdatedAt(p) => p.limit,
        }
    }
}

/// Runs `$action` (a macro taking a finished query) on the boxed query `$query!()` paged by a
/// [`ResourcePage`]: `$name`, `$created`, `$updated` and `$id` are the table's columns.
#[macro_export]
macro_rules! resource_page {
    ($page:expr, $query:ident, $name:expr, $created:expr, $updated:expr, $id:expr, $action:ident) => {
        match $page {
            $crate::pagination::ResourcePage::Name(page) => {
                $action!($crate::keyset_page!($query!(), $name, $id, page))
            }
            $crate::pagination::ResourcePage::CreatedAt(page) => {
                $action!($crate::keyset_page!($query!(), $created, $id, page))
            }
            $crate::pagination::ResourcePage::UpdatedAt(page) => {
                $action!($crate::keyset_page!($query!(), $updated, $id, page))
            }
        }
    };
}

/// Percent signs, underscores and backslashes in `text` match only themselves in a LIKE
/// pattern that finds `text` anywhere.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overfetched_row_only_signals_more() {
        let page = Rows::from_overfetch(vec![1, 2, 3], 2);
        assert_eq!(page.rows, vec![1, 2]);
        assert!(page.has_more);
        let last = Rows::from_overfetch(vec![1, 2], 2);
        assert!(!last.has_more);
    }
}
