//! What the panels ask for: [`Action`]s, which the workbench carries out in one place
//! (`actions.rs`), and the answers of its modal dialogs.

use crate::app::commands::UiCommand;
use crate::app::transfer::{ExportKind, ImportKind};
use crate::project::recovery::RecoveryCopy;
use std::path::PathBuf;

/// Something a panel asks for; [`Workbench::apply`] carries it out.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub enum Action {
    /// A registered command (buttons, menus and shortcuts alike).
    Command(UiCommand),
    /// Show image `i` of the project.
    OpenImage(usize),
    /// Replace the session with a project, image or folder (asks when work is unsaved).
    OpenPath(PathBuf),
    /// Export.
    Export(ExportKind),
    /// Import into the current image.
    Import(ImportKind),
    /// Add the checkpoint named in the path field.
    AddCheckpoint,
    /// Set the DICOM window (centre, width).
    SetWindow((f64, f64)),
    /// Show another frame of a multi-frame DICOM.
    SetFrame(u32),
    /// Add a label class.
    AddClass,
    /// A class was renamed or recoloured in place.
    ClassEdited,
    /// Mask from the boxes.
    MaskFromBoxes,
    /// Box from the mask.
    BoxFromMask,
    /// Score every image (the project plots).
    ScoreAll,
    /// Stop scoring.
    CancelScoring,
    /// Run the faithfulness tests of the current image's maps.
    RunFaithfulness,
    /// Stop them.
    CancelFaithfulness,
    /// Open the Sanity window.
    ShowSanity,
    /// Open the Study window.
    ShowStudy,
    /// Open the PACS browser.
    ShowPacs,
    /// Open a reader study (asks which reader).
    OpenStudy,
    /// Run the sanity check of one map of the current image.
    RunSanity(crate::app::slots::MapSlot),
    /// Stop it.
    CancelSanity,
    /// Compute the current image's failed maps again.
    RetryMaps,
    /// Restore a recovery copy.
    Restore(RecoveryCopy),
    /// Delete a recovery copy.
    DiscardRecovery(RecoveryCopy),
    /// Close the recovery list, keeping the copies.
    KeepRecovery,
    /// Show the recovery list again (File → Recover unsaved work…).
    ShowRecovery,
    /// The answer to "save changes?".
    Confirm(Answer),
    /// The answer to "the project changed on disk".
    Conflict(ConflictAnswer),
    /// Close the "save failed" dialog.
    DismissSaveError,
    /// The current image's file changed on disk: take the file there now as the image.
    AcceptChangedImage,
    /// The current image's file changed on disk: point the entry at the file named in the path
    /// field (it must have the entry's identity).
    RelinkImage,
}

/// Answers to "the project file changed on disk since it was read".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictAnswer {
    /// Read the file again (this session's changes stay in its recovery copy).
    Reload,
    /// Save this session's content under another name (the path field).
    SaveAs,
    /// Write this session's content over the file on disk.
    Overwrite,
    /// Do nothing now.
    Cancel,
}

/// Answers to "save changes?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Save, then go on.
    Save,
    /// Go on without saving (the recovery copy is removed).
    Discard,
    /// Stay.
    Cancel,
}

/// What waits for the "save changes?" answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// Open a project, image or folder.
    Open(PathBuf),
    /// Start an empty project.
    NewProject,
    /// Restore a recovery copy.
    Restore(RecoveryCopy),
    /// Close the window.
    Quit,
}
