//! Products and services. Every function takes the organization and filters by it, in
//! addition to row-level security (the second wall).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{ResourcePage, Rows, contains_pattern};
use crate::schema::products;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = products)]
#[diesel(treat_none_as_null = true)]
pub struct Product {
    #[diesel(skip_update)]
    pub id: Uuid,
    #[diesel(skip_update)]
    pub organization_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub sku: Option<String>,
    pub product_key: String,
    pub unit_key: String,
    pub unit_name: Option<String>,
    pub unit_price: Decimal,
    pub currency: String,
    pub tax_object: String,
    pub taxes: Value,
    pub external_id: Option<String>,
    pub metadata: Value,
    pub archived: bool,
    pub search: String,
    #[diesel(skip_update)]
    pub version: i32,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
}

/// The filters of the product list.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    /// Folded text (`domain::text::fold`) to find in name, SKU or description.
    pub search: Option<String>,
    pub sku: Option<String>,
    pub product_key: Option<String>,
    pub archived: Option<bool>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut PgConnection, product: &Product) -> Result<Product, StoreError> {
    Ok(diesel::insert_into(products::table)
        .values(product)
        .returning(Product::as_returning())
        .get_result(conn)?)
}

/// Writes several new rows in one statement (imports).
pub fn insert_many(conn: &mut PgConnection, rows: &[Product]) -> Result<(), StoreError> {
    diesel::insert_into(products::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Product, StoreError> {
    Ok(products::table
        .filter(products::organization_id.eq(org_id))
        .filter(products::id.eq(id))
        .select(Product::as_select())
        .first(conn)?)
}

/// The product, locked until the transaction ends (for read-modify-write).
pub fn lock(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Product, StoreError> {
    Ok(products::table
        .filter(products::organization_id.eq(org_id))
        .filter(products::id.eq(id))
        .select(Product::as_select())
        .for_update()
        .first(conn)?)
}

/// Products of the organization with these external ids, locked (for imports).
pub fn lock_by_external_ids(
    conn: &mut PgConnection,
    org_id: Uuid,
    external_ids: &[String],
) -> Result<Vec<Product>, StoreError> {
    Ok(products::table
        .filter(products::organization_id.eq(org_id))
        .filter(products::external_id.eq_any(external_ids))
        .select(Product::as_select())
        .for_update()
        .load(conn)?)
}

/// Writes every field of `product`, bumping its version; returns the stored row.
pub fn update(conn: &mut PgConnection, product: &Product) -> Result<Product, StoreError> {
    Ok(diesel::update(
        products::table
            .filter(products::organization_id.eq(product.organization_id))
            .filter(products::id.eq(product.id)),
    )
    .set((
        product,
        products::version.eq(products::version + 1),
        products::updated_at.eq(Utc::now()),
    ))
    .returning(Product::as_returning())
    .get_result(conn)?)
}

pub fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        products::table
            .filter(products::organization_id.eq(org_id))
            .filter(products::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The products of one organization matching `filter`, as a boxed query.
macro_rules! filtered {
    ($org:expr, $filter:expr) => {{
        let filter: &ProductFilter = $filter;
        let mut query = products::table
            .filter(products::organization_id.eq($org))
            .select(Product::as_select())
            .into_boxed();
        if let Some(text) = &filter.search {
            // Through the owner's function, so the trigram index is used under row-level
            // security (see migration 2026-12-04-000010_tenant_search).
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "products.id IN (SELECT product_search_ids(",
                )
                .bind::<diesel::sql_types::Text, _>(contains_pattern(text))
                .sql("))"),
            );
        }
        if let Some(sku) = &filter.sku {
            query = query.filter(products::sku.eq(sku.clone()));
        }
        if let Some(key) = &filter.product_key {
            query = query.filter(products::product_key.eq(key.clone()));
        }
        if let Some(archived) = filter.archived {
            query = query.filter(products::archived.eq(archived));
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(products::updated_at.ge(since));
        }
        query
    }};
}

/// One page of the organization's products matching `filter`.
pub fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &ProductFilter,
    page: &ResourcePage,
) -> Result<Rows<Product>, StoreError> {
    macro_rules! query {
        () => {
            filtered!(org_id, filter)
        };
    }
    macro_rules! load {
        ($q:expr) => {
            $q.load(conn)?
        };
    }
    let rows = crate::resource_page!(
        page,
        query,
        products::name,
        products::created_at,
        products::updated_at,
        products::id,
        load
    );
    Ok(Rows::from_overfetch(rows, page.limit()))
}

/// PostgreSQL's plan for the statement [`list`] runs, one line per plan line.
pub fn explain_list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &ProductFilter,
    page: &ResourcePage,
) -> Result<Vec<String>, StoreError> {
    macro_rules! query {
        () => {
            filtered!(org_id, filter)
        };
    }
    macro_rules! explain {
        ($q:expr) => {
            crate::explain::Explain($q).load::<String>(conn)?
        };
    }
    Ok(crate::resource_page!(
        page,
        query,
        products::name,
        products::created_at,
        products::updated_at,
        products::id,
        explain
    ))
}

/// The SQL [`list`] runs, for `EXPLAIN` in tests and benchmarks.
pub fn list_sql(org_id: Uuid, filter: &ProductFilter, page: &ResourcePage) -> String {
    macro_rules! query {
        () => {
            filtered!(org_id, filter)
        };
    }
    macro_rules! sql {
        ($q:expr) => {
            diesel::debug_query::<diesel::pg::Pg, _>(&$q).to_string()
        };
    }
    crate::resource_page!(
        page,
        query,
        products::name,
        products::created_at,
        products::updated_at,
        products::id,
        sql
    )
}
