//! COCO JSON (boxes and RLE masks) out and in, with COCO's run-length encodings (uncompressed
//! and pycocotools' compressed strings). The import reads the whole document and checks every
//! annotation before it gives anything back: one bad annotation refuses the file.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::metrics::Mask;
use crate::project::annotation::{LabelBox, LabelMask};

/// An export or import error naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct ExportError {
    /// File.
    pub path: PathBuf,
    /// What went wrong.
    pub source: crate::error::Cause,
}

fn err(path: &Path, message: impl Into<crate::error::Cause>) -> ExportError {
    ExportError {
        path: path.to_path_buf(),
        source: message.into(),
    }
}

/// One image's annotations for export.
pub struct ExportItem<'a> {
    /// Image file name (stem names the mask).
    pub file_name: String,
    /// Boxes.
    pub boxes: &'a [LabelBox],
    /// Mask.
    pub mask: &'a LabelMask,
}

/// COCO uncompressed RLE of a binary mask: column-major run lengths, starting with zeros.
pub fn rle_encode(mask: &[bool], width: usize, height: usize) -> Vec<u32> {
    let mut counts = Vec::new();
    let (mut current, mut run) = (false, 0u32);
    for x in 0..width {
        for y in 0..height {
            let v = mask[y * width + x];
            if v != current {
                counts.push(run);
                current = v;
                run = 0;
            }
            run += 1;
        }
    }
    counts.push(run);
    counts
}

/// Decodes uncompressed RLE counts into a row-major mask.
pub fn rle_decode(counts: &[u32], width: usize, height: usize) -> Option<Vec<bool>> {
    let n = width * height;
    let mut out = vec![false; n];
    let (mut pos, mut value) = (0usize, false);
    for &c in counts {
        let end = pos.checked_add(c as usize)?;
        if end > n {
            return None;
        }
        if value {
            for i in pos..end {
                out[(i % height) * width + i / height] = true;
            }
        }
        pos = end;
        value = !value;
    }
    (pos == n).then_some(out)
}

/// Decodes COCO's compressed RLE string (pycocotools' `rleToString` format).
pub fn rle_from_string(s: &str) -> Option<Vec<u32>> {
    let bytes = s.as_bytes();
    let mut counts: Vec<i64> = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let (mut x, mut k, mut more) = (0i64, 0, true);
        while more {
            let c = *bytes.get(p)? as i64 - 48;
            x |= (c & 0x1f) << (5 * k);
            more = c & 0x20 != 0;
            p += 1;
            k += 1;
            if !more && (c & 0x10) != 0 {
                x |= -1i64 << (5 * k);
            }
        }
        if counts.len() > 2 {
            x += counts[counts.len() - 2];
        }
        counts.push(x);
    }
    counts.into_iter().map(|c| u32::try_from(c).ok()).collect()
}

/// The class ids present in a mask, ascending.
pub fn present_classes(mask: &LabelMask) -> Vec<u8> {
    let mut seen = [false; 256];
    for &v in &mask.data {
        seen[v as usize] = true;
    }
    (1..=255u8).filter(|&c| seen[c as usize]).collect()
}

/// The COCO document of the items: a category per project class, and `class K` for an id a mask
/// holds beyond the class list (never folded into another class).
pub fn coco_json(items: &[ExportItem], classes: &[String]) -> Value {
    let mut names: Vec<String> = classes.to_vec();
    let top = items
        .iter()
        .flat_map(|it| {
            present_classes(it.mask)
                .last()
                .copied()
                .into_iter()
                .chain(it.boxes.iter().map(|b| b.class))
        })
        .max()
        .unwrap_or(0) as usize;
    while names.len() < top {
        names.push(format!("class {}", names.len() + 1));
    }
    let categories: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| json!({"id": i + 1, "name": n, "supercategory": "annotation"}))
        .collect();
    let mut images = Vec::new();
    let mut anns = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let (w, h) = (it.mask.width, it.mask.height);
        images.push(json!({"id": i + 1, "file_name": it.file_name, "width": w, "height": h}));
        for b in it.boxes {
            let (bw, bh) = (b.x1 - b.x0, b.y1 - b.y0);
            anns.push(json!({
                "id": anns.len() + 1, "image_id": i + 1, "category_id": b.class,
                "bbox": [b.x0, b.y0, bw, bh], "area": bw * bh, "iscrowd": 0,
            }));
        }
        for class in present_classes(it.mask) {
            let bin: Vec<bool> = it.mask.data.iter().map(|&v| v == class).collect();
            let area = bin.iter().filter(|&&v| v).count();
            let m = Mask {
                width: w,
                height: h,
                data: bin.iter().map(|&v| v as u8).collect(),
            };
            let r = m.bbox().expect("a non-empty mask has a box");
            anns.push(json!({
                "id": anns.len() + 1, "image_id": i + 1, "category_id": class,
                "segmentation": {"size": [h, w], "counts": rle_encode(&bin, w, h)},
                "bbox": [r.x0, r.y0, r.x1 - r.x0, r.y1 - r.y0], "area": area, "iscrowd": 1,
            }));
        }
    }
    json!({"images": images, "annotations": anns, "categories": categories})
}

/// Writes the COCO file atomically.
pub fn export_coco(
    path: &Path,
    items: &[ExportItem],
    classes: &[String],
) -> Result<(), ExportError> {
    let text = serde_json::to_string(&coco_json(items, classes)).map_err(|e| err(path, e))?;
    crate::io::write_atomic(path, text.as_bytes()).map_err(|e| err(path, e))
}

/// One image of a COCO file with its annotations, every one checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CocoImage {
    /// `file_name`.
    pub file_name: String,
    /// `width`.
    pub width: usize,
    /// `height`.
    pub height: usize,
    /// Boxes of annotations without a segmentation (class = `category_id`).
    pub boxes: Vec<LabelBox>,
    /// Per category id, the pixels of its segmentations (polygons or RLE).
    pub layers: Vec<(u8, Vec<bool>)>,
}

fn dim(path: &Path, v: &Value, what: &str) -> Result<usize, ExportError> {
    v.as_u64()
        .filter(|&d| (1..=65_535).contains(&d))
        .map(|d| d as usize)
        .ok_or_else(|| err(path, format!("{what} {v} is not a size of 1 to 65535")))
}

/// Reads a COCO file: every image that has annotations, with them. Anything malformed — an
/// annotation of an unknown image, a category that is not 1 to 255, a box or polygon that is
/// not numbers, an RLE of the wrong size — refuses the whole file.
pub fn parse_coco(path: &Path) -> Result<Vec<CocoImage>, ExportError> {
    let text = crate::io::guard::read_text(path).map_err(|e| err(path, e))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| err(path, format!("not JSON: {e}")))?;
    let images = doc["images"]
        .as_array()
        .ok_or_else(|| err(path, "no \"images\" list"))?;
    let anns = match &doc["annotations"] {
        Value::Null => Vec::new(),
        Value::Array(a) => a.clone(),
        _ => return Err(err(path, "\"annotations\" is not a list")),
    };
    let mut out: Vec<(Value, CocoImage)> = Vec::new();
    for (k, img) in images.iter().enumerate() {
        let file_name = img["file_name"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| err(path, format!("image {}: no file_name", k + 1)))?
            .to_string();
        let width = dim(path, &img["width"], &format!("image {file_name}: width"))?;
        let height = dim(path, &img["height"], &format!("image {file_name}: height"))?;
        if img["id"].is_null() {
            return Err(err(path, format!("image {file_name}: no id")));
        }
        if out
            .iter()
            .any(|(id, o)| *id == img["id"] || o.file_name == file_name)
        {
            return Err(err(
                path,
                format!("image {file_name}: its id or file_name occurs twice"),
            ));
        }
        crate::io::guard::check_dimensions(width as u64, height as u64)
            .map_err(|e| err(path, format!("image {file_name}: {e}")))?;
        out.push((
            img["id"].clone(),
            CocoImage {
                file_name,
                width,
                height,
                boxes: Vec::new(),
                layers: Vec::new(),
            },
        ));
    }
    for (k, a) in anns.iter().enumerate() {
        let at = |m: String| err(path, format!("annotation {} (id {}): {m}", k + 1, a["id"]));
        let Some((_, img)) = out.iter_mut().find(|(id, _)| *id == a["image_id"]) else {
            return Err(at(format!("image_id {} names no image", a["image_id"])));
        };
        let class = a["category_id"]
            .as_u64()
            .filter(|c| (1..=255).contains(c))
            .ok_or_else(|| at(format!("category_id {} is not 1 to 255", a["category_id"])))?
            as u8;
        let (width, height) = (img.width, img.height);
        let seg = &a["segmentation"];
        if seg.is_null() || seg.as_array().is_some_and(|v| v.is_empty()) {
            let b = a["bbox"]
                .as_array()
                .filter(|b| b.len() == 4)
                .ok_or_else(|| at("neither a bbox of four numbers nor a segmentation".into()))?;
            let v = coordinates(b).map_err(at)?;
            let lb = LabelBox::from_corners(
                (v[0], v[1]),
                (v[0] + v[2], v[1] + v[3]),
                width,
                height,
                class,
            )
            .ok_or_else(|| {
                at(format!(
                    "bbox {v:?} is empty inside the {width}×{height} image"
                ))
            })?;
            img.boxes.push(lb);
            continue;
        }
        let mut mask = LabelMask::new(width, height);
        if let Some(polys) = seg.as_array() {
            for poly in polys {
                let v = coordinates(
                    poly.as_array()
                        .ok_or_else(|| at("a polygon is not a list of numbers".into()))?,
                )
                .map_err(at)?;
                if v.len() < 6 || v.len() % 2 == 1 {
                    return Err(at(format!(
                        "a polygon of {} numbers (at least three x,y pairs)",
                        v.len()
                    )));
                }
                let pts: Vec<(f32, f32)> = v.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                crate::project::annotation::fill_polygon(&mut mask, &pts, 1);
            }
        } else {
            let size = seg["size"]
                .as_array()
                .ok_or_else(|| at("RLE without size".into()))?;
            let (h, w) = (
                size.first().and_then(Value::as_u64).unwrap_or(0) as usize,
                size.get(1).and_then(Value::as_u64).unwrap_or(0) as usize,
            );
            if (w, h) != (width, height) {
                return Err(at(format!(
                    "RLE mask is {w}×{h} but {} is {width}×{height}",
                    img.file_name
                )));
            }
            let counts = match &seg["counts"] {
                Value::String(s) => rle_from_string(s),
                Value::Array(v) => v
                    .iter()
                    .map(|c| c.as_u64().and_then(|c| u32::try_from(c).ok()))
                    .collect(),
                _ => None,
            }
            .ok_or_else(|| at("RLE counts are not valid".into()))?;
            let bin = rle_decode(&counts, w, h)
                .ok_or_else(|| at("RLE counts do not add up to the mask size".into()))?;
            for (m, b) in mask.data.iter_mut().zip(bin) {
                if b {
                    *m = 1;
                }
            }
        }
        match img.layers.iter_mut().find(|(c, _)| *c == class) {
            Some((_, px)) => {
                for (p, &m) in px.iter_mut().zip(&mask.data) {
                    *p |= m != 0;
                }
            }
            None => img
                .layers
                .push((class, mask.data.iter().map(|&m| m != 0).collect())),
        }
    }
    Ok(out
        .into_iter()
        .map(|(_, i)| i)
        .filter(|i| !i.boxes.is_empty() || !i.layers.is_empty())
        .collect())
}

/// Finite pixel coordinates of a COCO bbox or polygon; anything else is an error saying which.
fn coordinates(values: &[Value]) -> Result<Vec<f32>, String> {
    values
        .iter()
        .map(|x| {
            x.as_f64()
                .filter(|v| v.is_finite() && v.abs() <= 1e9)
                .map(|v| v as f32)
                .ok_or_else(|| format!("coordinate {x} is not a pixel position"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rle_round_trip_is_column_major() {
        let (w, h) = (3, 2);
        // Row-major: [0 1 1 / 0 0 1] → column-major 0,0,1,0,1,1 → runs [2,1,1,2].
        let m = [false, true, true, false, false, true];
        let c = rle_encode(&m, w, h);
        assert_eq!(c, vec![2, 1, 1, 2]);
        assert_eq!(rle_decode(&c, w, h).unwrap(), m.to_vec());
    }

    #[test]
    fn compressed_rle_decodes_pycocotools_strings() {
        // pycocotools.mask.encode of a 4×4 mask with the 2×2 block at rows 1-2, cols 1-2
        // gives counts "52203" (runs 5,2,2,2,5).
        assert_eq!(rle_from_string("52203").unwrap(), vec![5, 2, 2, 2, 5]);
    }
}
