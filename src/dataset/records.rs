//! The per-image records of a shard on disk: one file per image (`records/<index>.msgpack`,
//! MessagePack through rmp-serde, already in the build through burn: every float's bits, NaN
//! included, and fast to read back), and the two operations the merge is made of: putting
//! records into the unsharded order, and adding them up.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::items::EvalError;
use super::run::Records;
use crate::error::Cause;
use crate::explain::Method;

/// An error naming `path`.
pub(super) fn layout(path: &Path, source: Cause) -> EvalError {
    EvalError::Layout {
        path: path.to_path_buf(),
        source,
    }
}

/// One image of a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageId {
    /// Its stem.
    pub stem: String,
    /// Its position in the unsharded order.
    pub index: usize,
}

/// The records file of image `index` in shard folder `dir`.
pub fn records_path(dir: &Path, index: usize) -> PathBuf {
    dir.join("records").join(format!("{index}.msgpack"))
}

/// One image's records file: the image it is of, and its records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecords {
    /// The image.
    pub image: ImageId,
    /// Its records.
    pub records: Records,
}

/// Reads one image's records.
pub fn read_records(path: &Path) -> Result<ImageRecords, EvalError> {
    let bytes = std::fs::read(path).map_err(|e| layout(path, e.into()))?;
    rmp_serde::from_slice(&bytes)
        .map_err(|e| layout(path, format!("not a shard's image records: {e}").into()))
}

/// Writes one image's records file (atomically).
pub fn write_records(path: &Path, r: &ImageRecords) -> Result<(), EvalError> {
    let bytes = rmp_serde::to_vec_named(r).map_err(|e| layout(path, format!("{e}").into()))?;
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).map_err(|e| layout(p, e.into()))?;
    }
    // Replaced by a rename, not synced: a record lost to a power cut (or left unreadable) is
    // computed again when the shard resumes, so one sync per image would buy nothing.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            layout(path, e.into())
        })
}

/// The unsharded order of every record list: checkpoints and methods in the order given,
/// images by their index, the records of one (checkpoint, image, method) as they came.
pub fn sort_records(
    r: &mut Records,
    checkpoints: &[String],
    methods: &[Method],
    index_of: &dyn Fn(&str) -> usize,
) {
    let c = |name: &str| {
        checkpoints
            .iter()
            .position(|n| n == name)
            .unwrap_or(usize::MAX)
    };
    let m = |x: Method| methods.iter().position(|&y| y == x).unwrap_or(usize::MAX);
    r.rows
        .sort_by_key(|x| (c(&x.checkpoint), m(x.method), index_of(&x.stem)));
    r.faith
        .sort_by_key(|x| (c(&x.checkpoint), index_of(&x.stem), m(x.method)));
    r.sanity
        .sort_by_key(|x| (c(&x.checkpoint), index_of(&x.stem), m(x.method)));
    r.layers
        .sort_by_key(|x| (c(&x.checkpoint), index_of(&x.stem)));
}

/// Adds `more` to `all` (accuracy counts summed per checkpoint).
pub fn extend_records(all: &mut Records, more: Records) {
    all.rows.extend(more.rows);
    all.faith.extend(more.faith);
    all.sanity.extend(more.sanity);
    all.layers.extend(more.layers);
    if let Some(acc) = more.accuracy {
        let sum = all.accuracy.get_or_insert_with(Vec::new);
        for a in acc {
            match sum.iter_mut().find(|s| s.checkpoint == a.checkpoint) {
                Some(s) => {
                    s.correct += a.correct;
                    s.total += a.total;
                    if s.per_class.len() < a.per_class.len() {
                        s.per_class.resize(a.per_class.len(), (0, 0));
                    }
                    for (x, y) in s.per_class.iter_mut().zip(&a.per_class) {
                        x.0 += y.0;
                        x.1 += y.1;
                    }
                }
                None => sum.push(a),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::eval::Row;

    #[test]
    fn records_keep_every_float_exactly() {
        let m = crate::metrics::MetricSet {
            max: 0.1f32 + 0.2f32,
            pointing_game: true,
            energy: f64::NAN,
            mask_pixels: 3,
            top: vec![crate::metrics::TopKScores {
                top_perc: 5.0,
                k: 1,
                threshold: f32::MIN_POSITIVE,
                selected: 2,
                rect: None,
                inter_binary: 1,
                inter_rect: 1,
                iou_rect: 1.0 / 3.0,
                iou_binary: f64::INFINITY,
                dice: 5e-324,
            }],
        };
        let r = Records {
            rows: vec![Row {
                checkpoint: "a".into(),
                method: Method::Chefer,
                stem: "x".into(),
                mask: m.clone(),
                boxed: m,
            }],
            ..Default::default()
        };
        let back: Records = rmp_serde::from_slice(&rmp_serde::to_vec_named(&r).unwrap()).unwrap();
        let (a, b) = (&r.rows[0].mask, &back.rows[0].mask);
        assert_eq!(a.max.to_bits(), b.max.to_bits());
        assert!(b.energy.is_nan());
        assert_eq!(a.top[0].threshold.to_bits(), b.top[0].threshold.to_bits());
        assert_eq!(a.top[0].iou_rect.to_bits(), b.top[0].iou_rect.to_bits());
        assert_eq!(b.top[0].iou_binary, f64::INFINITY);
        assert_eq!(a.top[0].dice.to_bits(), b.top[0].dice.to_bits());
    }
}
