//! The workbench.

mod gui;
pub(crate) mod recovery_x11;
