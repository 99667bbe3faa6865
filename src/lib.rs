//! pocket-catalog: the Pocket AI model catalog, with every public LiteRT model of the Hugging Face Hub
//! mirrored into it. `main` parses the command line and calls into [`cli`]; [`app`] builds the service
//! from its configuration and runs it; tests call [`app::build`], [`app::run`] and [`http::app`]
//! directly. `ARCHITECTURE.md` maps the modules.

pub mod app;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod domain;
pub mod http;
pub mod hub;
pub mod hubsim;
pub mod inspect;
pub mod net;
pub mod obs;
pub mod pipeline;
pub mod schedule;
pub mod store;
pub mod sync;
