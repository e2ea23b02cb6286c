//! The eframe application. Each panel lives in a file of its own under `ui/`, draws from state
//! and returns [`Action`]s, which [`Workbench::apply`] carries out in one place (`actions.rs`).
//! The workbench's state is in `workbench.rs`, one frame in `frame.rs`; each window owns its
//! state (Sanity, Study, PACS). The map store ([`super::store`]) owns the workers and the maps;
//! the canvas's tool logic is plain code ([`super::canvas_tool`]); shortcuts, tooltips and help
//! come from [`super::commands`].

mod action;
mod actions;
mod automation;
mod busy;
mod canvas;
mod dialogs;
mod effects;
mod effects_ui;
mod frame;
mod help;
mod image_list;
mod model;
mod overlay;
mod pacs;
mod pacs_window;
mod plots;
mod probe;
pub mod reader;
mod sanity;
mod scores;
mod study;
mod study_window;
mod tools;
mod top_bar;
mod view;
mod workbench;

pub use action::{Action, Answer, ConflictAnswer, Pending};
pub use study::{CellScore, StudyTab, StudyView};
pub use view::ViewTransform;
pub use workbench::{CURVE_TOPS, Workbench, WorkbenchOptions};
