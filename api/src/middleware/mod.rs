//! Middleware that every request passes through.

pub mod idempotency;
pub mod request_context;
