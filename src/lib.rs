//! vitscope: judge whether a Vision Transformer's explanation of a medical image can be trusted.
//!
//! The library is the core that the workbench ([`app`]) and the command line both drive:
//!
//! - [`io`]: images (PNG, JPEG, 16-bit, TIFF), DICOM, masks, npy, the read guard;
//! - [`model`]: the ViT, its checkpoints and preprocessing, devices;
//! - [`explain`]: the explanation maps (attention, rollout, GradCAM, Chefer's relevance) and
//!   the runner that takes an image to a map in its own frame;
//! - [`metrics`]: pointing game, IoU at top-k %, the localisation metrics, on CPU or GPU;
//! - [`faithfulness`]: perturbation, deletion/insertion, sanity checks, map similarity;
//! - [`project`]: the project file, image identities, annotations, locks, saves, recovery;
//! - [`interop`]: DICOM SEG, NIfTI, COCO, CSV, DICOMweb;
//! - [`dataset`]: datasets, evaluation, layer sweeps, training, probes;
//! - [`progress`]: how long jobs report progress and are cancelled.
//!
//! Long jobs take a [`progress::Progress`]; no module below [`app`] knows egui, clap or
//! indicatif. The types and functions most programs start from are re-exported here.

pub mod app;
pub mod assist;
pub mod dataset;
pub mod error;
pub mod explain;
pub mod faithfulness;
pub mod interop;
pub mod io;
pub mod metrics;
pub mod model;
pub mod progress;
pub mod project;
pub mod study;

pub use explain::run::{Setup, explain_image};
pub use explain::{Explanation, Method, Target, explain};
pub use faithfulness::sanity::{Cascade, Checkpoint, Checks};
pub use io::image::{Image, read_image};
pub use metrics::{Mask, MetricSet, Rect, compute_cpu};
pub use model::{LoadOptions, Vit, VitConfig, VitSize, load_vit};
pub use progress::{Progress, Silent};
pub use project::{OpenProject, Project};
