//! What the SEG reader and writers share: the SOP classes, the error, new UIDs, small DICOM
//! element helpers.

use std::path::{Path, PathBuf};

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

/// Segmentation Storage.
pub const SEG_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.4";
/// Secondary Capture Image Storage.
pub const SC_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";
pub(super) const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// This implementation's UID (2.25 root, derived from a fixed UUID).
pub(super) const IMPLEMENTATION_UID: &str = "2.25.221143466720633372911264474311346186305";

/// A DICOM interoperability error naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct DicomError {
    /// File.
    pub path: PathBuf,
    /// What is wrong.
    pub source: crate::error::Cause,
}

pub(super) fn err(path: &Path, message: impl Into<crate::error::Cause>) -> DicomError {
    DicomError {
        path: path.to_path_buf(),
        source: message.into(),
    }
}

/// A fresh UID under the `2.25` root (a random 128-bit number, PS3.5 B.2).
pub fn new_uid() -> String {
    let v: u128 = rand::random();
    format!("2.25.{v}")
}

pub(super) fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .filter(|s| !s.is_empty())
}

pub(super) fn floats<const N: usize>(obj: &InMemDicomObject, tag: Tag) -> Option<[f64; N]> {
    let v = obj
        .element_opt(tag)
        .ok()
        .flatten()?
        .to_multi_float64()
        .ok()?;
    let a: [f64; N] = v.get(..N)?.try_into().ok()?;
    a.iter().all(|x| x.is_finite()).then_some(a)
}

pub(super) fn items(obj: &InMemDicomObject, tag: Tag) -> &[InMemDicomObject] {
    obj.element_opt(tag)
        .ok()
        .flatten()
        .and_then(|e| e.items())
        .unwrap_or(&[])
}

pub(super) fn uint(obj: &InMemDicomObject, tag: Tag) -> Option<u32> {
    obj.element_opt(tag).ok().flatten()?.to_int::<u32>().ok()
}
