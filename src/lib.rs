//! vitscope: judge whether a Vision Transformer's explanation of a medical image can be trusted.
//!
//! The library holds the model ([`model`]), the explanation maps ([`explain`]), the localisation
//! metrics ([`metrics`]) and file formats ([`io`]). The `vitscope` binary wraps them in a CLI.

pub mod app;
pub mod dataset;
pub mod explain;
pub mod faithfulness;
pub mod interop;
pub mod io;
pub mod metrics;
pub mod model;
pub mod probe;
pub mod project;
pub mod train;
