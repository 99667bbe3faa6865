//! pocket-catalog: the Pocket AI model catalog, with every public LiteRT model of the Hugging Face Hub
//! mirrored into it. `ARCHITECTURE.md` maps the wings and which may import which; in short:

// Entry points and the composition root: the command line, the one builder of long-lived services.
pub mod app;
pub mod cli;
pub mod config;
// The two HTTP dialects over one service layer, and who is calling.
pub mod auth;
pub mod catalog;
pub mod http;
// The mirror and its schedule; making a version runnable from its model file.
pub mod pipeline;
pub mod schedule;
pub mod sync;
// Persistence and the Hub.
pub mod hub;
pub mod store;
// The leaves: values and records, model-file parsers, the address guard, observability, the simulator.
pub mod domain;
pub mod hubsim;
pub mod inspect;
pub mod net;
pub mod obs;
