//! De-identification by the DICOM PS3.15 Annex E **Basic Application Level Confidentiality
//! Profile**, for research exports.
//!
//! Every attribute of Table E.1-1 ([`table`]) gets its action, in every nested item:
//! - `X` removed; `Z` emptied; `D` a dummy of its VR; `U` a new UID, the same new UID for the
//!   same original everywhere in one export (a SEG still references its source, a study stays
//!   one study);
//! - the choices `Z/D`, `X/Z`, `X/D`, `X/Z/D` take the mildest action the objects vitscope
//!   writes or copies need to stay valid: a dummy for what they require with a value (Content
//!   Date and Time, Device Serial Number), empty for what they require present (Type 2), else
//!   removal (`Z` for `Z/D`);
//! - `X/Z/U*` sequences (Referenced Image, Source Image) are removed at the top level and kept,
//!   with their UIDs replaced, inside functional groups, where a SEG needs them;
//! - private attributes, curves (50xx) and overlay data and comments (60xx) are removed.
//!
//! Patient's Name and Patient ID hold the image's pseudonym (`case-0001`), a dummy the profile
//! allows. Then Patient Identity Removed = `YES`, Longitudinal Temporal Information Modified =
//! `REMOVED`, De-identification Method and its code sequence (DCM 113100) are set. Pixel data
//! is kept as it is: text burned into the pixels is not removed (the Clean Pixel Data option is
//! not claimed).

mod table;

pub use table::Action;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::seg::{self, DicomError};

/// The action of `tag` in the Basic Profile, `None` for an attribute the profile keeps.
pub fn action(tag: Tag) -> Option<Action> {
    let key = (tag.group() as u32) << 16 | tag.element() as u32;
    if let Ok(k) = table::BASIC.binary_search_by_key(&key, |&(t, _)| t) {
        return Some(table::BASIC[k].1);
    }
    let g = tag.group();
    let repeating = (0x5000..=0x50FF).contains(&g)
        || ((0x6000..=0x60FF).contains(&g) && matches!(tag.element(), 0x3000 | 0x4000));
    (repeating || g % 2 == 1).then_some(Action::X)
}

/// Required with a value in the objects an export writes or copies (Content Date and Time in
/// SEG and Secondary Capture images, Device Serial Number in the Enhanced General Equipment
/// module).
const NEED_VALUE: [Tag; 3] = [
    tags::CONTENT_DATE,
    tags::CONTENT_TIME,
    tags::DEVICE_SERIAL_NUMBER,
];

/// Required present, maybe empty (Type 2) in those objects.
const NEED_PRESENT: [Tag; 8] = [
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_SEX,
    tags::STUDY_DATE,
    tags::STUDY_TIME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::ACCESSION_NUMBER,
];

/// What was done to one element.
enum Step {
    Keep,
    Remove,
    Empty,
    Dummy,
    Uid,
    Inside,
}

fn step(tag: Tag, a: Action, nested: bool) -> Step {
    let value = NEED_VALUE.contains(&tag);
    let present = NEED_PRESENT.contains(&tag);
    match a {
        Action::D => Step::Dummy,
        Action::Z => Step::Empty,
        Action::X => Step::Remove,
        Action::U => Step::Uid,
        Action::ZD if value => Step::Dummy,
        Action::ZD => Step::Empty,
        Action::XD | Action::XZD if value => Step::Dummy,
        Action::XZ | Action::XZD if present => Step::Empty,
        Action::XZ | Action::XD | Action::XZD => Step::Remove,
        Action::XZU if nested => Step::Inside,
        Action::XZU => Step::Remove,
    }
}

/// A dummy value of `vr`.
fn dummy(vr: VR) -> PrimitiveValue {
    match vr {
        VR::DA => "19000101".into(),
        VR::TM => "000000".into(),
        VR::DT => "19000101000000".into(),
        VR::AS => "000Y".into(),
        VR::DS | VR::IS => "0".into(),
        VR::US => PrimitiveValue::from(0u16),
        VR::SS => PrimitiveValue::from(0i16),
        VR::UL => PrimitiveValue::from(0u32),
        VR::SL => PrimitiveValue::from(0i32),
        VR::FL => PrimitiveValue::from(0f32),
        VR::FD => PrimitiveValue::from(0f64),
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UT => {
            "ANONYMIZED".into()
        }
        _ => PrimitiveValue::Empty,
    }
}

/// One export's de-identification: the UID map it keeps consistent.
#[derive(Debug, Default)]
pub struct Deidentifier {
    uids: BTreeMap<String, String>,
    issued: HashSet<String>,
}

impl Deidentifier {
    /// A new export.
    pub fn new() -> Self {
        Self::default()
    }

    /// The replacement of `original`: the same for the same UID within this export; a UID this
    /// export issued stays as it is.
    pub fn uid(&mut self, original: &str) -> String {
        let original = original.trim_end_matches(['\0', ' ']);
        if original.is_empty() || self.issued.contains(original) {
            return original.to_string();
        }
        if let Some(u) = self.uids.get(original) {
            return u.clone();
        }
        let u = seg::new_uid();
        self.uids.insert(original.to_string(), u.clone());
        self.issued.insert(u.clone());
        u
    }

    /// Every (original, replacement) UID pair so far.
    pub fn uid_map(&self) -> &BTreeMap<String, String> {
        &self.uids
    }

    fn items(&mut self, items: &[InMemDicomObject], nested: bool) -> Vec<InMemDicomObject> {
        items.iter().map(|i| self.data_set(i, nested)).collect()
    }

    fn data_set(&mut self, obj: &InMemDicomObject, nested: bool) -> InMemDicomObject {
        let mut out = InMemDicomObject::new_empty();
        for e in obj.iter() {
            let tag = e.header().tag;
            let vr = e.header().vr;
            let inside_groups = nested
                || tag == tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE
                || tag == tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE;
            let s = match action(tag) {
                Some(a) => step(tag, a, nested),
                None => Step::Keep,
            };
            let new = match (s, e.value()) {
                (Step::Remove, _) => continue,
                (Step::Keep | Step::Inside, Value::Sequence(seq)) => DataElement::new(
                    tag,
                    VR::SQ,
                    DataSetSequence::from(self.items(seq.items(), inside_groups)),
                ),
                (Step::Keep | Step::Inside, _) => e.clone(),
                (Step::Empty | Step::Dummy, Value::Sequence(_)) => {
                    DataElement::new(tag, VR::SQ, DataSetSequence::from(Vec::new()))
                }
                (Step::Empty, _) => DataElement::new(tag, vr, PrimitiveValue::Empty),
                (Step::Dummy, _) if vr == VR::UI => self.new_uids(e),
                (Step::Dummy, _) => DataElement::new(tag, vr, dummy(vr)),
                (Step::Uid, Value::Sequence(_)) => continue,
                (Step::Uid, _) => self.new_uids(e),
            };
            out.put(new);
        }
        out
    }

    fn new_uids(&mut self, e: &DataElement<InMemDicomObject>) -> DataElement<InMemDicomObject> {
        let tag = e.header().tag;
        let values: Vec<String> = e
            .to_multi_str()
            .map(|v| v.iter().map(|u| self.uid(u)).collect())
            .unwrap_or_default();
        DataElement::new(tag, VR::UI, PrimitiveValue::Strs(values.into()))
    }

    /// `obj` de-identified, with `pseudonym` as Patient's Name and Patient ID and the profile's
    /// markers set.
    pub fn object(&mut self, obj: &InMemDicomObject, pseudonym: &str) -> InMemDicomObject {
        let mut out = self.data_set(obj, false);
        for (tag, vr, value) in [
            (tags::PATIENT_NAME, VR::PN, pseudonym),
            (tags::PATIENT_ID, VR::LO, pseudonym),
            (tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES"),
            (
                tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
                VR::CS,
                "REMOVED",
            ),
            (
                tags::DEIDENTIFICATION_METHOD,
                VR::LO,
                "DICOM PS3.15 E.1 Basic Application Level Confidentiality Profile",
            ),
        ] {
            out.put(DataElement::new(tag, vr, value));
        }
        let code = seg::code("113100", "DCM", "Basic Application Confidentiality Profile");
        out.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));
        out
    }

    /// Reads `from` (through the DICOM guard), de-identifies it and writes it to `to` in its
    /// own transfer syntax, atomically.
    pub fn file(&mut self, from: &Path, to: &Path, pseudonym: &str) -> Result<(), DicomError> {
        let fail = |e: crate::error::Cause| DicomError {
            path: from.to_path_buf(),
            source: e,
        };
        let obj = crate::io::dicom::open_guarded(from).map_err(fail)?;
        let ts = obj.meta().transfer_syntax().to_string();
        let ts = ts.trim_end_matches(['\0', ' ']).to_string();
        let out = self.object(&obj, pseudonym);
        let text = |tag: Tag| {
            out.element_opt(tag)
                .ok()
                .flatten()
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
                .unwrap_or_default()
        };
        let (class, sop) = (text(tags::SOP_CLASS_UID), text(tags::SOP_INSTANCE_UID));
        seg::write_part10_as(out, &ts, &class, &sop, to)
    }
}

/// The pseudonym of the `k`-th image (0-based) of an export of `n`: `case-0001`, wider when
/// there are more than 9999.
pub fn pseudonym(k: usize, n: usize) -> String {
    let width = n.to_string().len().max(4);
    format!("case-{:0width$}", k + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_its_actions_are_found() {
        assert!(table::BASIC.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(action(tags::PATIENT_NAME), Some(Action::Z));
        assert_eq!(action(tags::SOP_INSTANCE_UID), Some(Action::U));
        assert_eq!(action(tags::ROWS), None);
        assert_eq!(action(Tag(0x0029, 0x1010)), Some(Action::X));
        assert_eq!(action(Tag(0x6002, 0x3000)), Some(Action::X));
        assert_eq!(action(Tag(0x6002, 0x0010)), None);
    }

    #[test]
    fn uids_are_replaced_consistently_and_issued_ones_stay() {
        let mut d = Deidentifier::new();
        let a = d.uid("1.2.3");
        assert_ne!(a, "1.2.3");
        assert_eq!(d.uid("1.2.3"), a);
        assert_eq!(d.uid(&a), a);
        assert_ne!(d.uid("1.2.4"), a);
        assert_eq!(pseudonym(0, 12), "case-0001");
        assert_eq!(pseudonym(10_000, 10_001), "case-10001");
    }
}
