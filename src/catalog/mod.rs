//! The catalog's service layer, under both HTTP dialects (issue #29 starts it; issue #30 moves the
//! shared operations here). For now it owns the rule every route applies before it reads or changes
//! a model, a version, a hosted file, stats or telemetry: [`visibility`].

pub mod visibility;

pub use visibility::{Access, Looker};
