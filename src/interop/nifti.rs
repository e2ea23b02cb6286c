//! NIfTI-1 label masks (single file, `.nii` or gzip-compressed `.nii.gz`), the format nnU-Net and
//! MONAI exchange. A 2-D image is a one-slice volume `[x = column, y = row, z = 0]` of unsigned
//! 8-bit class ids (0 = background), with no flip: voxel (i, j) is pixel (column i, row j).
//!
//! The affine (`sform`, code 1 with DICOM geometry, else 2) maps voxels to RAS millimetres: column
//! step `PixelSpacing[1] · IOP[0:3]`, row step `PixelSpacing[0] · IOP[3:6]`, origin
//! `ImagePositionPatient`, x and y negated (DICOM's LPS to NIfTI's RAS); without DICOM geometry
//! the pixel spacing (else 1 mm) on the diagonal. The header is the 348-byte NIfTI-1 header written
//! field by field (the format is a fixed C struct; no crate is needed for it), gzip by flate2.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A NIfTI error naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct NiftiError {
    /// File.
    pub path: PathBuf,
    /// What is wrong.
    pub source: crate::error::Cause,
}

fn err(path: &Path, message: impl Into<crate::error::Cause>) -> NiftiError {
    NiftiError {
        path: path.to_path_buf(),
        source: message.into(),
    }
}

/// Where the pixels sit in space.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Pixel Spacing (row, column), mm.
    pub spacing: [f64; 2],
    /// Image Orientation (Patient): row direction, then column direction (LPS).
    pub orientation: Option<[f64; 6]>,
    /// Image Position (Patient) (LPS).
    pub position: Option<[f64; 3]>,
}

impl Geometry {
    /// The 3×4 voxel-to-RAS matrix (rows x, y, z).
    pub fn affine(&self) -> [[f64; 4]; 3] {
        let [dr, dc] = self.spacing;
        match (self.orientation, self.position) {
            (Some(o), Some(p)) => {
                let col = [o[0] * dc, o[1] * dc, o[2] * dc];
                let row = [o[3] * dr, o[4] * dr, o[5] * dr];
                let n = [
                    o[1] * o[5] - o[2] * o[4],
                    o[2] * o[3] - o[0] * o[5],
                    o[0] * o[4] - o[1] * o[3],
                ];
                let ras = |k: usize, v: f64| if k < 2 { -v } else { v };
                let mut m = [[0.0; 4]; 3];
                for (k, r) in m.iter_mut().enumerate() {
                    *r = [ras(k, col[k]), ras(k, row[k]), ras(k, n[k]), ras(k, p[k])];
                }
                m
            }
            _ => [
                [dc, 0.0, 0.0, 0.0],
                [0.0, dr, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ],
        }
    }
}

fn is_gz(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// Writes `labels` (`width × height`, row-major class ids) to `path` (`.nii` or `.nii.gz`),
/// atomically.
pub fn write_mask(
    path: &Path,
    labels: &[u8],
    width: usize,
    height: usize,
    geometry: &Geometry,
    description: &str,
) -> Result<(), NiftiError> {
    if labels.len() != width * height || width > i16::MAX as usize || height > i16::MAX as usize {
        return Err(err(
            path,
            format!("a {width}×{height} mask cannot be written"),
        ));
    }
    let mut h = vec![0u8; 352];
    let put_i16 =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 =
        |h: &mut Vec<u8>, at: usize, v: f32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    h[38] = b'r';
    for (k, v) in [3, width as i16, height as i16, 1, 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        put_i16(&mut h, 40 + 2 * k, *v);
    }
    put_i16(&mut h, 70, 2); // DT_UINT8
    put_i16(&mut h, 72, 8);
    let a = geometry.affine();
    let len = |c: usize| (0..3).map(|r| a[r][c] * a[r][c]).sum::<f64>().sqrt() as f32;
    for (k, v) in [1.0, len(0), len(1), len(2), 0.0, 0.0, 0.0, 0.0]
        .iter()
        .enumerate()
    {
        put_f32(&mut h, 76 + 4 * k, *v);
    }
    put_f32(&mut h, 108, 352.0);
    put_f32(&mut h, 112, 1.0);
    h[123] = 2; // mm
    let max = labels.iter().copied().max().unwrap_or(0);
    put_f32(&mut h, 124, max as f32);
    let d = description.as_bytes();
    h[148..148 + d.len().min(79)].copy_from_slice(&d[..d.len().min(79)]);
    let sform = if geometry.orientation.is_some() && geometry.position.is_some() {
        1
    } else {
        2
    };
    put_i16(&mut h, 254, sform);
    for (r, row) in a.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put_f32(&mut h, 280 + 16 * r + 4 * c, *v as f32);
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    h.extend_from_slice(labels);
    let bytes = if is_gz(path) {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&h)
            .and_then(|_| e.finish())
            .map_err(|e| err(path, format!("cannot compress: {e}")))?
    } else {
        h
    };
    crate::io::write_atomic(path, &bytes).map_err(|e| err(path, e.to_string()))
}

/// A mask read from a NIfTI file: `width × height` class ids and the affine.
#[derive(Debug, Clone)]
pub struct NiftiMask {
    /// Columns (dim 1).
    pub width: usize,
    /// Rows (dim 2).
    pub height: usize,
    /// Row-major values, rounded to class ids.
    pub labels: Vec<u8>,
}

/// Reads a 2-D (one-slice) NIfTI-1 mask of integer or float voxels.
pub fn read_mask(path: &Path) -> Result<NiftiMask, NiftiError> {
    // A label mask is at most max_pixels voxels of 8 bytes after its header (and 1 MiB of
    // header extensions): a larger file, or one that decompresses to more, is refused.
    let limit = crate::io::guard::max_pixels().saturating_mul(8) + 352 + (1 << 20);
    let raw = crate::io::guard::read_bounded(path, limit).map_err(|e| err(path, e))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .take(limit + 1)
            .read_to_end(&mut out)
            .map_err(|e| err(path, format!("corrupt gzip stream: {e}")))?;
        if out.len() as u64 > limit {
            return Err(err(path, "decompresses to more than a mask may take"));
        }
        out
    } else {
        raw
    };
    if bytes.len() < 352 {
        return Err(err(
            path,
            format!("{} bytes: shorter than a NIfTI-1 header", bytes.len()),
        ));
    }
    let i16_at = |at: usize| i16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let f32_at = |at: usize| f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4]));
    let size = i32::from_le_bytes(bytes[0..4].try_into().unwrap_or([0; 4]));
    if size != 348 {
        return Err(err(
            path,
            if i32::from_be_bytes(bytes[0..4].try_into().unwrap_or([0; 4])) == 348 {
                "big-endian NIfTI files are not supported".to_string()
            } else {
                format!("sizeof_hdr is {size}, not 348: not a NIfTI-1 file")
            },
        ));
    }
    if &bytes[344..347] != b"n+1" {
        return Err(err(path, "not a single-file NIfTI-1 image (magic n+1)"));
    }
    let nd = i16_at(40);
    let dims: Vec<i64> = (1..=7).map(|k| i16_at(40 + 2 * k) as i64).collect();
    if !(2..=7).contains(&nd) || dims[..nd as usize].iter().any(|&d| d < 1) {
        return Err(err(path, format!("invalid dimensions {nd}: {dims:?}")));
    }
    let (w, h) = (dims[0] as usize, dims[1] as usize);
    let rest: i64 = dims[2..nd as usize].iter().product();
    if rest != 1 {
        return Err(err(
            path,
            format!("a {w}×{h}×{rest} volume: a 2-D image's mask has one slice"),
        ));
    }
    let n = w
        .checked_mul(h)
        .filter(|&n| n as u64 <= crate::io::guard::max_pixels())
        .ok_or_else(|| err(path, format!("{w}×{h} voxels is more than the pixel limit")))?;
    let (datatype, bitpix) = (i16_at(70), i16_at(72));
    let size = match (datatype, bitpix) {
        (2, 8) | (256, 8) => 1,
        (4, 16) | (512, 16) => 2,
        (8, 32) | (768, 32) | (16, 32) => 4,
        (64, 64) => 8,
        _ => {
            return Err(err(
                path,
                format!(
                    "datatype {datatype} with {bitpix} bits: not an integer or float mask type"
                ),
            ));
        }
    };
    let offset = f32_at(108);
    if !(offset.is_finite() && offset >= 352.0) {
        return Err(err(path, format!("vox_offset {offset}")));
    }
    let start = offset as usize;
    let end = start
        .checked_add(n * size)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            err(
                path,
                format!(
                    "{w}×{h} voxels of {size} byte(s) do not fit the {}-byte file",
                    bytes.len()
                ),
            )
        })?;
    let (slope, inter) = (f32_at(112), f32_at(116));
    let scale = |v: f64| {
        if slope != 0.0 && slope.is_finite() && inter.is_finite() {
            v * slope as f64 + inter as f64
        } else {
            v
        }
    };
    let data = &bytes[start..end];
    let mut labels = Vec::with_capacity(n);
    for k in 0..n {
        let c = &data[k * size..(k + 1) * size];
        let v = match (datatype, size) {
            (2, _) => c[0] as f64,
            (256, _) => c[0] as i8 as f64,
            (4, _) => i16::from_le_bytes([c[0], c[1]]) as f64,
            (512, _) => u16::from_le_bytes([c[0], c[1]]) as f64,
            (8, _) => i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
            (768, _) => u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
            (16, _) => f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64,
            _ => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
        };
        let v = scale(v);
        if !(0.0..=255.0).contains(&v) {
            return Err(err(
                path,
                format!("voxel {k} holds {v}: a label mask holds class ids 0 to 255"),
            ));
        }
        labels.push(v.round() as u8);
    }
    Ok(NiftiMask {
        width: w,
        height: h,
        labels,
    })
}
