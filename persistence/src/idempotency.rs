//! Stored outcomes of POST requests carrying an `Idempotency-Key` (Brandur Leach's design, in
//! the small): the first request inserts a locked row, runs, then stores its response; a retry
//! with the same key and the same request replays that response.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::StoreError;
use crate::schema::idempotency_keys::dsl as ik;

/// A response as stored for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// Only the headers a replay must repeat (`Content-Type`, `Location`, `ETag`).
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

/// What to do with a request that carries an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is ours: run the request, then [`complete`] or [`release`] it.
    Acquired,
    /// The same request already ran: answer with its stored response.
    Replay(StoredResponse),
    /// The same key is being used by a request that has not finished.
    InFlight,
    /// The key was used for a different request.
    Mismatch,
}

#[derive(Queryable)]
struct Row {
    request_fingerprint: Vec<u8>,
    locked_at: Option<DateTime<Utc>>,
    response_status: Option<i16>,
    response_headers: serde_json::Value,
    response_body: Option<Vec<u8>>,
}

/// Claims `key` in `scope` for a request with `fingerprint`. A lock older than `stale_after`
/// belongs to a request that died without finishing (a crash): it is taken over.
pub fn claim(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
    stale_after: Duration,
) -> Result<Claim, StoreError> {
    conn.transaction(|conn| {
        // The row that made the insert conflict can be gone by the time it is read: a request
        // that failed validation releases its key as it ends, and the pruner deletes old ones.
        // Then the key is free, and the next insert takes it (each statement sees what was
        // committed before it).
        let mut found = None;
        for _ in 0..3 {
            let inserted = diesel::insert_into(ik::idempotency_keys)
                .values((
                    ik::scope.eq(scope),
                    ik::key.eq(key),
                    ik::request_fingerprint.eq(fingerprint),
                    ik::locked_at.eq(Utc::now()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)?;
            if inserted == 1 {
                return Ok(Claim::Acquired);
            }
            found = ik::idempotency_keys
                .filter(ik::scope.eq(scope).and(ik::key.eq(key)))
                .select((
                    ik::request_fingerprint,
                    ik::locked_at,
                    ik::response_status,
                    ik::response_headers,
                    ik::response_body,
                ))
                .for_update()
                .first::<Row>(conn)
                .optional()?;
            if found.is_some() {
                break;
            }
        }
        // Released three times in a row: requests with this key are racing; the caller retries.
        let Some(row) = found else {
            return Ok(Claim::InFlight);
        };
        if row.request_fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        if let Some(status) = row.response_status {
            let headers = serde_json::from_value(row.response_headers).unwrap_or_default();
            return Ok(Claim::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                headers,
                body: row.response_body.unwrap_or_default(),
            }));
        }
        let stale = chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::MAX);
        match row.locked_at {
            Some(at) if Utc::now() - at > stale => {
                diesel::update(ik::idempotency_keys.find((scope, key)))
                    .set(ik::locked_at.eq(Utc::now()))
                    .execute(conn)?;
                Ok(Claim::Acquired)
            }
            _ => Ok(Claim::InFlight),
        }
    })
}

/// Stores the response of the request that holds the key and unlocks it.
pub fn complete(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    let headers = serde_json::to_value(&response.headers).unwrap_or_default();
    diesel::update(ik::idempotency_keys.find((scope, key)))
        .set((
            ik::locked_at.eq(None::<DateTime<Utc>>),
            ik::response_status.eq(i16::try_from(response.status).unwrap_or(500)),
            ik::response_headers.eq(headers),
            ik::response_body.eq(&response.body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Forgets the key, so that a corrected request may use it again (the first one failed
/// validation, or failed for a reason worth retrying).
pub fn release(conn: &mut PgConnection, scope: &str, key: &str) -> Result<(), StoreError> {
    diesel::delete(ik::idempotency_keys.find((scope, key))).execute(conn)?;
    Ok(())
}

/// Deletes keys created more than `keep` ago; returns how many.
pub fn prune(conn: &mut PgConnection, keep: Duration) -> Result<usize, StoreError> {
    let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
    let cutoff = Utc::now() - keep;
    Ok(diesel::delete(ik::idempotency_keys.filter(ik::created_at.lt(cutoff))).execute(conn)?)
}
