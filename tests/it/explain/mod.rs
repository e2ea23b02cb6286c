//! The explanation maps beyond the reference model case.

mod parity_chefer_shapes;
