//! Diesel table definitions, kept by hand in step with `migrations/`.

diesel::table! {
    idempotency_keys (scope, key) {
        scope -> Text,
        key -> Text,
        request_fingerprint -> Bytea,
        locked_at -> Nullable<Timestamptz>,
        response_status -> Nullable<SmallInt>,
        response_headers -> Jsonb,
        response_body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}
