//! DICOM Segmentation objects (binary SEG, PS3.3 A.51) out and in, with dicom-rs
//! (`dicom-object` builds and writes the data set; no DICOM encoding is written by hand).
//!
//! **Out.** One SEG per annotated image: one frame and one segment per class that occurs
//! (label = class name, colour = the class's, as CIELab), on the source image's pixel grid, in
//! the source's Patient, Study and Frame of Reference, in a series of its own. Every frame refers
//! to the source image (Derivation Image Sequence) and the Common Instance Reference module names
//! it too. A PNG/JPEG source first becomes a Secondary Capture object that the SEG references.
//!
//! **In.** The frames are 1-bit packed without byte alignment between frames (frame k starts at
//! bit k · rows · columns, least significant bit first); 8-bit (fractional) frames count as
//! inside above half their maximum. Each frame's referenced SOP Instance UID matches it to an
//! image; segments map to classes by label.
//!
//! **Frames.** A mask of frame k of a multi-frame image is a SEG of (instance, k): each SEG frame
//! names the source frame (Referenced Frame Number, 1-based, in the Derivation Image and Source
//! Image sequences and in the Common Instance Reference) and carries that frame's own Plane
//! Position; on import the frame number brings the mask back to frame k.

mod common;
mod read;
mod source;
mod write;

pub use common::{DicomError, SC_SOP_CLASS, SEG_SOP_CLASS, new_uid};
pub use read::{SegRead, SegSource, read_seg};
pub use source::{SourceImage, source_frame, source_from_dicom};
pub(crate) use write::code;
pub use write::{
    Segment, pack_bits, rgb_to_dicom_lab, write_part10_as, write_secondary_capture, write_seg,
};
