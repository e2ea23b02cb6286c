//! The faithfulness tests and sanity checks against the reference fixtures.

mod parity_faithfulness;
