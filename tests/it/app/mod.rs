//! The workbench.

mod gui;
mod recovery_x11;
