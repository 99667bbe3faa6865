//! The integration suite: one binary, black-box through the router, the store and the real executable.

mod support;

mod api_auth;
mod api_models;
mod api_sync;
mod cli;
mod completeness;
mod hub_client;
mod hubsim;
mod jwt;
mod operations;
mod schedule;
mod security;
mod store_conformance;
mod sync;
mod versions;
