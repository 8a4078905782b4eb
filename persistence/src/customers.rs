//! Customers and their contacts. Every function takes the organization and filters by it, in
//! addition to row-level security (the second wall).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::StoreError;
use crate::pagination::{PageQuery, ResourcePage, Rows, contains_pattern};
use crate::schema::{customer_contacts, customers};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = customers)]
#[diesel(treat_none_as_null = true)]
pub struct Customer {
    #[diesel(skip_update)]
    pub id: Uuid,
    #[diesel(skip_update)]
    pub organization_id: Uuid,
    pub legal_name: String,
    pub rfc: String,
    pub tax_regime: String,
    pub tax_postal_code: String,
    pub cfdi_use: Option<String>,
    pub tax_residence_country: Option<String>,
    pub foreign_tax_id: Option<String>,
    pub emails: Vec<String>,
    pub phone: Option<String>,
    pub address: Value,
    pub payment_terms_days: i32,
    pub notes: Option<String>,
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

/// The filters of the customer list.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Folded text (`domain::text::fold`) to find in name, RFC or emails.
    pub search: Option<String>,
    pub rfc: Option<String>,
    pub archived: Option<bool>,
    pub updated_since: Option<DateTime<Utc>>,
}

pub fn insert(conn: &mut PgConnection, customer: &Customer) -> Result<Customer, StoreError> {
    Ok(diesel::insert_into(customers::table)
        .values(customer)
        .returning(Customer::as_returning())
        .get_result(conn)?)
}

/// Writes several new rows in one statement (imports).
pub fn insert_many(conn: &mut PgConnection, rows: &[Customer]) -> Result<(), StoreError> {
    diesel::insert_into(customers::table)
        .values(rows)
        .execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Customer, StoreError> {
    Ok(customers::table
        .filter(customers::organization_id.eq(org_id))
        .filter(customers::id.eq(id))
        .select(Customer::as_select())
        .first(conn)?)
}

/// The customer, locked until the transaction ends (for read-modify-write).
pub fn lock(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Customer, StoreError> {
    Ok(customers::table
        .filter(customers::organization_id.eq(org_id))
        .filter(customers::id.eq(id))
        .select(Customer::as_select())
        .for_update()
        .first(conn)?)
}

/// Customers of the organization with these external ids, locked (for imports).
pub fn lock_by_external_ids(
    conn: &mut PgConnection,
    org_id: Uuid,
    external_ids: &[String],
) -> Result<Vec<Customer>, StoreError> {
    Ok(customers::table
        .filter(customers::organization_id.eq(org_id))
        .filter(customers::external_id.eq_any(external_ids))
        .select(Customer::as_select())
        .for_update()
        .load(conn)?)
}

/// Writes every field of `customer`, bumping its version; returns the stored row.
pub fn update(conn: &mut PgConnection, customer: &Customer) -> Result<Customer, StoreError> {
    Ok(diesel::update(
        customers::table
            .filter(customers::organization_id.eq(customer.organization_id))
            .filter(customers::id.eq(customer.id)),
    )
    .set((
        customer,
        customers::version.eq(customers::version + 1),
        customers::updated_at.eq(Utc::now()),
    ))
    .returning(Customer::as_returning())
    .get_result(conn)?)
}

pub fn delete(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        customers::table
            .filter(customers::organization_id.eq(org_id))
            .filter(customers::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The customers of one organization matching `filter`, as a boxed query.
macro_rules! filtered {
    ($org:expr, $filter:expr) => {{
        let filter: &CustomerFilter = $filter;
        let mut query = customers::table
            .filter(customers::organization_id.eq($org))
            .select(Customer::as_select())
            .into_boxed();
        if let Some(text) = &filter.search {
            // Through the owner's function, so the trigram index is used under row-level
            // security (see migration 2026-12-04-000010_tenant_search).
            query = query.filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "customers.id IN (SELECT customer_search_ids(",
                )
                .bind::<diesel::sql_types::Text, _>(contains_pattern(text))
                .sql("))"),
            );
        }
        if let Some(rfc) = &filter.rfc {
            query = query.filter(customers::rfc.eq(rfc.clone()));
        }
        if let Some(archived) = filter.archived {
            query = query.filter(customers::archived.eq(archived));
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(customers::updated_at.ge(since));
        }
        query
    }};
}

/// One page of the organization's customers matching `filter`.
pub fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &CustomerFilter,
    page: &ResourcePage,
) -> Result<Rows<Customer>, StoreError> {
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
        customers::legal_name,
        customers::created_at,
        customers::updated_at,
        customers::id,
        load
    );
    Ok(Rows::from_overfetch(rows, page.limit()))
}

/// PostgreSQL's plan for the statement [`list`] runs, one line per plan line.
pub fn explain_list(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &CustomerFilter,
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
        customers::legal_name,
        customers::created_at,
        customers::updated_at,
        customers::id,
        explain
    ))
}

/// The SQL [`list`] runs, for `EXPLAIN` in tests and benchmarks.
pub fn list_sql(org_id: Uuid, filter: &CustomerFilter, page: &ResourcePage) -> String {
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
        customers::legal_name,
        customers::created_at,
        customers::updated_at,
        customers::id,
        sql
    )
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = customer_contacts)]
#[diesel(treat_none_as_null = true)]
pub struct Contact {
    #[diesel(skip_update)]
    pub id: Uuid,
    #[diesel(skip_update)]
    pub organization_id: Uuid,
    #[diesel(skip_update)]
    pub customer_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: Option<String>,
    #[diesel(skip_update)]
    pub version: i32,
    #[diesel(skip_update)]
    pub created_at: DateTime<Utc>,
    #[diesel(skip_update)]
    pub updated_at: DateTime<Utc>,
}

pub fn insert_contact(conn: &mut PgConnection, contact: &Contact) -> Result<Contact, StoreError> {
    Ok(diesel::insert_into(customer_contacts::table)
        .values(contact)
        .returning(Contact::as_returning())
        .get_result(conn)?)
}

pub fn find_contact(
    conn: &mut PgConnection,
    org_id: Uuid,
    customer_id: Uuid,
    id: Uuid,
) -> Result<Contact, StoreError> {
    Ok(customer_contacts::table
        .filter(customer_contacts::organization_id.eq(org_id))
        .filter(customer_contacts::customer_id.eq(customer_id))
        .filter(customer_contacts::id.eq(id))
        .select(Contact::as_select())
        .first(conn)?)
}

pub fn lock_contact(
    conn: &mut PgConnection,
    org_id: Uuid,
    customer_id: Uuid,
    id: Uuid,
) -> Result<Contact, StoreError> {
    Ok(customer_contacts::table
        .filter(customer_contacts::organization_id.eq(org_id))
        .filter(customer_contacts::customer_id.eq(customer_id))
        .filter(customer_contacts::id.eq(id))
        .select(Contact::as_select())
        .for_update()
        .first(conn)?)
}

pub fn update_contact(conn: &mut PgConnection, contact: &Contact) -> Result<Contact, StoreError> {
    Ok(diesel::update(
        customer_contacts::table
            .filter(customer_contacts::organization_id.eq(contact.organization_id))
            .filter(customer_contacts::id.eq(contact.id)),
    )
    .set((
        contact,
        customer_contacts::version.eq(customer_contacts::version + 1),
        customer_contacts::updated_at.eq(Utc::now()),
    ))
    .returning(Contact::as_returning())
    .get_result(conn)?)
}

pub fn delete_contact(
    conn: &mut PgConnection,
    org_id: Uuid,
    customer_id: Uuid,
    id: Uuid,
) -> Result<(), StoreError> {
    let deleted = diesel::delete(
        customer_contacts::table
            .filter(customer_contacts::organization_id.eq(org_id))
            .filter(customer_contacts::customer_id.eq(customer_id))
            .filter(customer_contacts::id.eq(id)),
    )
    .execute(conn)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// A customer's contacts, oldest first, one keyset page.
pub fn list_contacts(
    conn: &mut PgConnection,
    org_id: Uuid,
    customer_id: Uuid,
    page: &PageQuery<DateTime<Utc>>,
) -> Result<Rows<Contact>, StoreError> {
    let query = customer_contacts::table
        .filter(customer_contacts::organization_id.eq(org_id))
        .filter(customer_contacts::customer_id.eq(customer_id))
        .select(Contact::as_select())
        .into_boxed();
    let rows = crate::keyset_page!(
        query,
        customer_contacts::created_at,
        customer_contacts::id,
        page
    )
    .load(conn)?;
    Ok(Rows::from_overfetch(rows, page.limit))
}

/// How many contacts a customer has (they are capped per customer).
pub fn count_contacts(
    conn: &mut PgConnection,
    org_id: Uuid,
    customer_id: Uuid,
) -> Result<i64, StoreError> {
    Ok(customer_contacts::table
        .filter(customer_contacts::organization_id.eq(org_id))
        .filter(customer_contacts::customer_id.eq(customer_id))
        .count()
        .get_result(conn)?)
}
