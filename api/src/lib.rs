//! The HTTP API of the invoicing service.
//!
//! `main.rs` only calls [`cli::main`]; everything a test needs to start the real application on
//! port 0 lives in [`startup`].

pub mod auth;
pub mod cli;
pub mod client_address;
pub mod concurrency;
pub mod config;
pub mod email;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pac;
pub mod pagination;
pub mod pdf;
pub mod problem;
pub mod rate_limit;
pub mod routes;
pub mod startup;
pub mod state;
pub mod vault;
