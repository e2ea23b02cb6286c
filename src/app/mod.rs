//! The desktop workbench (eframe/egui): three explanation maps side by side or overlaid, annotation
//! tools with undo, the project file, and live pointing-game / IoU scores.
//!
//! Plain data and logic, no egui: `state` (the session over the project core,
//! [`crate::project`]: annotations, edits and undo, the file, its lock, recovery copies),
//! `canvas_tool` (pointer input to edits), `commands` (the registry of labels, shortcuts and
//! help), `slots` (the three maps by name), `store` and `worker` (the map store, its workers and
//! bounded cache), `transfer` (the File menu's imports and exports through `interop`). Only
//! `ui/` (one file per panel), `harness` (screenshot, frame bench) and `overlay` (the wgpu paint
//! callback) know egui.

pub mod canvas_tool;
pub mod commands;
pub mod effect_preview;
pub mod gpu;
pub mod harness;
pub mod jobs;
pub mod launch;
pub mod loaded;
pub mod metrics_worker;
pub mod overlay;
pub mod session_save;
pub mod slots;
pub mod state;
pub mod store;
pub mod transfer;
pub mod ui;
pub mod worker;

pub use gpu::{burn_device_for, wgpu_setup};
pub use launch::{GuiOptions, bundled_checkpoint, demo_dir, demo_session, run, session_for};
pub use state::Session;
pub use ui::Workbench;
