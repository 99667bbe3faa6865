//! The network policy of every outgoing request: the address guard (`guard`).

pub mod guard;
