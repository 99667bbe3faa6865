//! The integration suite: one binary, black-box through the router, the store and the real executable.

mod support;

mod api_auth;
mod api_models;
mod api_sync;
mod app_models;
mod architecture;
mod cli;
mod client_cards;
mod client_e2e;
mod clients;
mod completeness;
mod conditional;
mod crash;
mod dashboard;
mod deferred;
mod hub_client;
mod hubsim;
mod inspect;
mod jwt;
mod litertlm;
mod load;
mod operations;
mod packed;
mod portal_flows;
mod publishing;
mod readings;
mod replay;
mod schedule;
mod schemathesis;
mod security;
mod store_conformance;
mod sync;
mod trust;
mod uploads;
mod versions;
