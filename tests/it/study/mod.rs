//! Reader studies.

mod generated;
mod parity;
mod refusals;
