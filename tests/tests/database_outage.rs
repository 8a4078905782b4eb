//! When the database goes away, requests answer 503 with `Retry-After` within the pool timeout
//! instead of hanging, and the service recovers by itself when the database returns. The test
//! runs its own cluster, since it stops it.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use persistence::cluster::{Durability, LocalCluster};
use tests::{base_vars, problem_of, start_server};

#[tokio::test]
async fn requests_fail_fast_while_the_database_is_down_and_recover_after() {
    let dir = tempfile::Builder::new()
        .prefix("facturacion-outage-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin_dir = std::env::var_os("PG_BINDIR").map(std::path::PathBuf::from);
    let cluster = LocalCluster::new(
        &dir.path().join("pg"),
        bin_dir.as_deref(),
        Durability::Throwaway,
    )
    .unwrap();
    cluster.init().unwrap();
    cluster.start().unwrap();
    let url = cluster.url("postgres");
    {
        use diesel::Connection;
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        persistence::run_migrations(&mut conn).unwrap();
    }
    let mut vars = base_vars(&url);
    vars.insert("DATABASE_POOL_TIMEOUT_MS".into(), "1000".into());
    let server = start_server(&vars, &url, None);
    let address = server.address.clone();
    // A hang would show as this client's timeout, far beyond the pool's 1 s.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let ready = || client.get(format!("{address}/readyz")).send();

    assert_eq!(ready().await.unwrap().status(), 200);

    cluster.stop().unwrap();
    let response = ready().await.unwrap();
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            > 0
    );
    problem_of(response, 503, "database_unavailable").await;
    // Liveness does not depend on the database.
    assert_eq!(
        client
            .get(format!("{address}/livez"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    cluster.start().unwrap();
    let mut status = 0;
    for _ in 0..50 {
        status = ready().await.unwrap().status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        status, 200,
        "the service did not recover after the database came back"
    );

    cluster.stop().unwrap();
    cluster.remove().unwrap();
}
