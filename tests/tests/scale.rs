//! Lists and searches at 100,000 customers and 100,000 products: PostgreSQL's plan for the
//! exact statements the API runs (its own bind parameters, inside a tenant transaction, so
//! row-level security is part of the plan) uses an index for every sort, filter and page —
//! never a sequential scan of the table. Plans, not timings: the machine is shared.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use chrono::Utc;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use persistence::customers::{self, CustomerFilter};
use persistence::pagination::{Direction, Keyset, PageQuery, ResourcePage};
use persistence::products::{self, ProductFilter};
use uuid::Uuid;

const ROWS: usize = 100_000;

/// Fills organization `org` with `ROWS` customers and products, in SQL (seconds, not minutes).
fn seed(conn: &mut diesel::PgConnection, org: Uuid) {
    conn.batch_execute(&format!(
        "INSERT INTO customers (id, organization_id, legal_name, rfc, tax_regime, tax_postal_code,
             emails, external_id, archived, search, created_at, updated_at)
         SELECT gen_random_uuid(), '{org}', 'CLIENTE ' || i, 'EKU9003173C9', '601', '42501',
             ARRAY['c' || i || '@cliente.example'], 'C-' || i, i % 10 = 0,
             'cliente ' || i || ' eku9003173c9 c' || i || '@cliente.example',
             now() - i * interval '1 second', now() - i * interval '1 second'
         FROM generate_series(1, {ROWS}) AS i;
         INSERT INTO products (id, organization_id, name, sku, product_key, unit_key, unit_price,
             currency, tax_object, taxes, external_id, archived, search, created_at, updated_at)
         SELECT gen_random_uuid(), '{org}', 'Producto ' || i, 'SKU-' || upper(substr(md5(i::text), 1, 10)),
             CASE WHEN i % 2 = 0 THEN '80101500' ELSE '50201706' END, 'H87', i,
             'MXN', '02', '[]', 'P-' || i, i % 10 = 0, 'producto ' || i || ' sku-' || substr(md5(i::text), 1, 10),
             now() - i * interval '1 second', now() - i * interval '1 second'
         FROM generate_series(1, {ROWS}) AS i;
         ANALYZE customers; ANALYZE products;"
    ))
    .unwrap();
}

fn pages<V: Clone>(value: V) -> Vec<PageQuery<V>> {
    let mut all = Vec::new();
    for direction in [Direction::Asc, Direction::Desc] {
        for after in [
            None,
            Some(Keyset {
                value: value.clone(),
                id: Uuid::now_v7(),
            }),
        ] {
            all.push(PageQuery {
                limit: 21,
                direction,
                after,
            });
        }
    }
    all
}

/// Every sort, in both directions, first and deeper pages.
fn resource_pages() -> Vec<ResourcePage> {
    let mut all: Vec<ResourcePage> = pages("CLIENTE 5".to_string())
        .into_iter()
        .map(ResourcePage::Name)
        .collect();
    all.extend(pages(Utc::now()).into_iter().map(ResourcePage::CreatedAt));
    all.extend(pages(Utc::now()).into_iter().map(ResourcePage::UpdatedAt));
    all
}

#[tokio::test]
async fn lists_and_searches_use_indexes_at_100k_rows() {
    let app = tests::TestApp::spawn().await;
    let ours = app.register_tenant(0, "owner@example.com").await;
    let theirs = app.register_tenant(1, "other@example.com").await;
    let org: Uuid = ours.organization_id.parse().unwrap();
    let mut conn = app.db.connect();
    seed(&mut conn, org);
    seed(&mut conn, theirs.organization_id.parse().unwrap());
    let count: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM customers) + (SELECT count(*) FROM products)",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(count, 4 * ROWS as i64);

    let since = Utc::now() - chrono::Duration::seconds(60);
    let customer_filters = [
        CustomerFilter::default(),
        CustomerFilter {
            search: Some("cliente 4242".into()),
            ..Default::default()
        },
        CustomerFilter {
            rfc: Some("EKU9003173C9".into()),
            ..Default::default()
        },
        CustomerFilter {
            archived: Some(true),
            ..Default::default()
        },
        CustomerFilter {
            updated_since: Some(since),
            ..Default::default()
        },
    ];
    let product_filters = [
        ProductFilter::default(),
        ProductFilter {
            // Product 4242's SKU: SKU-FE7ECC4DE2 (md5 of "4242").
            search: Some("fe7ecc4de2".into()),
            ..Default::default()
        },
        ProductFilter {
            sku: Some("SKU-FE7ECC4DE2".into()),
            ..Default::default()
        },
        ProductFilter {
            product_key: Some("80101500".into()),
            ..Default::default()
        },
        ProductFilter {
            archived: Some(false),
            updated_since: Some(since),
            ..Default::default()
        },
    ];
    let mut seq_scans = Vec::new();
    persistence::tenant::transaction(&mut conn, org, |conn| {
        for page in resource_pages() {
            for filter in &customer_filters {
                let plan = customers::explain_list(conn, org, filter, &page)?.join("\n");
                if plan.contains("Seq Scan") {
                    seq_scans.push(format!("customers {filter:?} {page:?}:\n{plan}"));
                }
            }
            for filter in &product_filters {
                let plan = products::explain_list(conn, org, filter, &page)?.join("\n");
                if plan.contains("Seq Scan") {
                    seq_scans.push(format!("products {filter:?} {page:?}:\n{plan}"));
                }
            }
        }
        Ok(())
    })
    .unwrap();
    assert!(seq_scans.is_empty(), "\n{}", seq_scans.join("\n\n"));

    // The searches' own statements (what customer_search_ids and product_search_ids run as the
    // tables' owner) use the trigram indexes.
    #[derive(diesel::QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    for (table, text) in [("customers", "cliente 4242"), ("products", "fe7ecc4de2")] {
        let plan: Vec<PlanLine> = persistence::transaction(&mut conn, |conn| {
            conn.batch_execute(&format!("SET LOCAL app.organization_id = '{org}'"))?;
            Ok(diesel::sql_query(format!(
                "EXPLAIN SELECT id FROM {table} \
                 WHERE organization_id = current_organization_id() AND search LIKE '%{text}%'"
            ))
            .load(conn)?)
        })
        .unwrap();
        let plan: Vec<String> = plan.into_iter().map(|l| l.line).collect();
        let plan = plan.join("\n");
        assert!(plan.contains(&format!("{table}_search_idx")), "{plan}");
    }

    // And the API answers a search at this size with the one match.
    // A new client: the pooled connection from registration idled out during the seeding.
    let found = reqwest::Client::new()
        .get(app.url("/v1/customers?q=cliente%2042424"))
        .bearer_auth(&ours.access_token)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = found.json().await.unwrap();
    let names: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["legal_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CLIENTE 42424"]);
}
