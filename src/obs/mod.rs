//! What an operator observes of the process: log setup (`logging`), Prometheus metrics (`metrics`),
//! and handing freed memory back after each batch (`memory`).

pub mod logging;
pub mod memory;
pub mod metrics;
