//! The command line end to end, and its handling of bad input (`bad_input.rs`: named cases;
//! `harness/`: generated cases of every reader family).

mod bad_input;
mod commands;
mod harness;
