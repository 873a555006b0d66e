//! The web face: the versioned JSON API for site builds, visitors' thumbs and staff, and the
//! server-rendered review page, on axum.

mod api;
pub mod auth;
mod charts;
mod client;
mod error;
mod headers;
mod limiter;
mod openapi;
mod pages;
mod public_api;
mod server;
mod state;
pub mod visitor;

pub use api::valid_name;
pub use auth::{issue_token, IssuedToken, Role, Staff};
pub use client::{client_addr, ClientAddr};
pub use error::ApiError;
pub use limiter::AddressLimiter;
pub use public_api::NEXT_HEADER;
pub use server::{router, serve, serve_connections, Limits, BODY_LIMIT};
pub use state::{AppState, FAILED_SIGN_INS_PER_MINUTE};
