//! The second wall between tenants: row-level security. A query inside a tenant transaction
//! that forgets its organization filter still sees only that tenant.
#![expect(
    clippy::unwrap_used,
    reason = "test helpers abort the test with the error"
)]

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tests::TestApp;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

const TENANT_TABLES: [&str; 10] = [
    "organizations",
    "users",
    "refresh_tokens",
    "security_events",
    "invitations",
    "password_reset_tokens",
    "email_outbox",
    "api_clients",
    "customers",
    "customer_contacts",
];

#[tokio::test]
async fn an_unfiltered_query_in_a_tenant_transaction_sees_only_that_tenant() {
    let (app, sink) = TestApp::spawn_with_mail().await;
    let a = app.register_tenant(0, "a@example.com").await;
    let b = app.register_tenant(1, "b@example.com").await;
    app.add_member(&sink, &b.access_token, "b2@example.com", "viewer")
        .await;
    let a_id: uuid::Uuid = a.organization_id.parse().unwrap();

    let mut conn = app.db.connect();
    // As the service's owner role, every tenant's rows are there.
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM organizations"),
        2
    );
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM users"), 3);

    persistence::tenant::transaction(&mut conn, a_id, |conn| {
        assert_eq!(count(conn, "SELECT count(*) AS n FROM organizations"), 1);
        assert_eq!(count(conn, "SELECT count(*) AS n FROM users"), 1);
        for table in TENANT_TABLES {
            let others = count(
                conn,
                &format!("SELECT count(*) AS n FROM {table} WHERE {} <> '{a_id}'", if table == "organizations" { "id" } else { "organization_id" }),
            );
            assert_eq!(others, 0, "{table} shows another tenant's rows");
        }
        // Writing a row for another tenant is refused too.
        let err = diesel::sql_query(format!(
            "INSERT INTO security_events (id, organization_id, kind) VALUES (gen_random_uuid(), '{}', 'forged')",
            b.organization_id
        ))
        .execute(conn);
        assert!(err.is_err(), "a row for another tenant was written");
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));

    // A transaction that never named a tenant sees no tenant rows at all.
    persistence::transaction(&mut conn, |conn| {
        diesel::connection::SimpleConnection::batch_execute(
            conn,
            "SET LOCAL ROLE facturacion_app",
        )?;
        assert_eq!(count(conn, "SELECT count(*) AS n FROM users"), 0);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
}
