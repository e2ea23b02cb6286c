//! Reader studies.

mod design;
mod generated;
mod parity;
mod reader_ui;
mod reader_x11;
mod refusals;
