//! Export and import of annotations: PNG masks in the paper's layout, COCO JSON (boxes and RLE
//! masks), and a CSV of metrics.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::annotate::{LabelBox, LabelMask};
use crate::io::mask as vmask;
use crate::metrics::Mask;

/// An export or import error naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ExportError {
    /// File.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

fn err(path: &Path, message: impl ToString) -> ExportError {
    ExportError {
        path: path.to_path_buf(),
        message: message.to_string(),
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

/// Writes `DIR/masks/<stem>.png` (0 / 255, inside = any class) for each item; returns the count.
pub fn export_png_masks(dir: &Path, items: &[ExportItem]) -> Result<usize, ExportError> {
    let masks = dir.join("masks");
    std::fs::create_dir_all(&masks).map_err(|e| err(&masks, e))?;
    for it in items {
        let stem = Path::new(&it.file_name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| it.file_name.clone());
        let path = masks.join(format!("{stem}.png"));
        let bin = if it.mask.count() > 0 {
            it.mask.binary()
        } else {
            let rects: Vec<_> = it.boxes.iter().map(LabelBox::rect).collect();
            Mask::from_rects(it.mask.width, it.mask.height, &rects)
        };
        vmask::write_mask(&path, &bin).map_err(|e| err(&path, e))?;
    }
    Ok(items.len())
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

/// The COCO document of the items.
pub fn coco_json(items: &[ExportItem], classes: &[String]) -> Value {
    let categories: Vec<Value> = classes
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
        for class in 1..=classes.len().max(1) as u8 {
            let bin: Vec<bool> = it.mask.data.iter().map(|&v| v == class).collect();
            let area = bin.iter().filter(|&&v| v).count();
            if area == 0 {
                continue;
            }
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

/// Annotations of one image read from a COCO file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ImportedAnnotations {
    /// Boxes.
    pub boxes: Vec<LabelBox>,
    /// Mask of class ids (`None` when the file has no segmentation for the image).
    pub mask: Option<LabelMask>,
}

/// Reads a COCO file's annotations for the image named `file_name` (matched by file name) of
/// size `width × height`.
pub fn import_coco(
    path: &Path,
    file_name: &str,
    width: usize,
    height: usize,
) -> Result<ImportedAnnotations, ExportError> {
    let text = crate::io::guard::read_text(path).map_err(|e| err(path, e))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| err(path, format!("not JSON: {e}")))?;
    let base = |s: &str| {
        Path::new(s)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let want = base(file_name);
    let images = doc["images"]
        .as_array()
        .ok_or_else(|| err(path, "no \"images\" list"))?;
    let Some(img) = images
        .iter()
        .find(|i| i["file_name"].as_str().map(base).as_deref() == Some(want.as_str()))
    else {
        return Ok(ImportedAnnotations::default());
    };
    let id = img["id"].clone();
    let mut out = ImportedAnnotations::default();
    let anns = doc["annotations"].as_array().cloned().unwrap_or_default();
    for a in anns.iter().filter(|a| a["image_id"] == id) {
        let class = a["category_id"].as_u64().unwrap_or(1).clamp(1, 255) as u8;
        let seg = &a["segmentation"];
        if seg.is_null() || seg.as_array().is_some_and(|v| v.is_empty()) {
            let b = a["bbox"]
                .as_array()
                .filter(|b| b.len() == 4)
                .ok_or_else(|| err(path, "an annotation has neither bbox nor segmentation"))?;
            let v = coordinates(path, b)?;
            if let Some(lb) = LabelBox::from_corners(
                (v[0], v[1]),
                (v[0] + v[2], v[1] + v[3]),
                width,
                height,
                class,
            ) {
                out.boxes.push(lb);
            }
            continue;
        }
        let mask = out
            .mask
            .get_or_insert_with(|| LabelMask::new(width, height));
        if let Some(polys) = seg.as_array() {
            for poly in polys {
                let v = coordinates(
                    path,
                    poly.as_array()
                        .ok_or_else(|| err(path, "a polygon is not a list of numbers"))?,
                )?;
                let pts: Vec<(f32, f32)> = v.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                super::annotate::fill_polygon(mask, &pts, class);
            }
        } else {
            let size = seg["size"]
                .as_array()
                .ok_or_else(|| err(path, "RLE without size"))?;
            let (h, w) = (
                size.first().and_then(Value::as_u64).unwrap_or(0) as usize,
                size.get(1).and_then(Value::as_u64).unwrap_or(0) as usize,
            );
            if (w, h) != (width, height) {
                return Err(err(
                    path,
                    format!("RLE mask is {w}×{h} but {file_name} is {width}×{height}"),
                ));
            }
            let counts = match &seg["counts"] {
                Value::String(s) => rle_from_string(s),
                Value::Array(v) => v.iter().map(|c| c.as_u64().map(|c| c as u32)).collect(),
                _ => None,
            }
            .ok_or_else(|| err(path, "RLE counts are not valid"))?;
            let bin = rle_decode(&counts, w, h)
                .ok_or_else(|| err(path, "RLE counts do not add up to the mask size"))?;
            for (m, b) in mask.data.iter_mut().zip(bin) {
                if b {
                    *m = class;
                }
            }
        }
    }
    Ok(out)
}

/// Finite pixel coordinates of a COCO bbox or polygon; anything else is an error naming the file.
fn coordinates(path: &Path, values: &[Value]) -> Result<Vec<f32>, ExportError> {
    values
        .iter()
        .map(|x| {
            x.as_f64()
                .filter(|v| v.is_finite() && v.abs() <= 1e9)
                .map(|v| v as f32)
                .ok_or_else(|| err(path, format!("coordinate {x} is not a pixel position")))
        })
        .collect()
}

/// Writes CSV text atomically.
pub fn write_csv(path: &Path, header: &str, rows: &[String]) -> Result<(), ExportError> {
    let mut text = String::from(header);
    text.push('\n');
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    crate::io::write_atomic(path, text.as_bytes()).map_err(|e| err(path, e))
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
