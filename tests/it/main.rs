//! The integration tests: one crate (one link step), with a module per area of `src/` and one
//! support module of shared helpers.

mod app;
mod assist;
mod cli;
mod dataset;
mod explain;
mod faithfulness;
mod interop;
mod io;
mod metrics;
mod model;
mod project;
mod structure;
mod study;
mod support;
