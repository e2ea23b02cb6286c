//! The workbench.

mod effects_x11;
mod gui;
pub(crate) mod recovery_x11;
