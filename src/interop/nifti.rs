//! NIfTI-1 label masks (single file, `.nii` or gzip-compressed `.nii.gz`), the format nnU-Net and
//! MONAI exchange. A 2-D image is a one-slice volume `[x = column, y = row, z = 0]` of unsigned
//! 8-bit class ids (0 = background), with no flip: voxel (i, j) is pixel (column i, row j).
//!
//! The affine (`sform`, code 1 with DICOM geometry, else 2) maps voxels to RAS millimetres: column
//! step `PixelSpacing[1] · IOP[0:3]`, row step `PixelSpacing[0] · IOP[3:6]`, origin
//! `ImagePositionPatient`, x and y negated (DICOM's LPS to NIfTI's RAS); without DICOM geometry
//! the pixel spacing (else 1 mm) on the diagonal. The header is the 348-byte NIfTI-1 header written
//! field by field (the format is a fixed C struct; no crate is needed for it), gzip by flate2.
//!
//! Reading takes the affine back (sform, else qform) and [`Placement`] lays the voxels onto the
//! matched image's grid by flips and transposes, refusing an oblique or misplaced grid.

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
    /// The voxel-to-RAS affine (sform when its code is > 0, else qform when its code is > 0);
    /// `None` when the file gives neither, and the voxels are taken in the image's own order.
    pub space: Option<Affine>,
}

/// A voxel-to-RAS matrix (rows x, y, z; columns i, j, k, translation).
pub type Affine = [[f64; 4]; 3];

/// The affine of a header: the sform when `sform_code > 0`, else the qform (quaternion, pixdim
/// and offsets, as the NIfTI-1 standard defines it) when `qform_code > 0`, else `None`.
fn header_affine(bytes: &[u8]) -> Result<Option<Affine>, String> {
    let i16_at = |at: usize| i16::from_le_bytes([bytes[at], bytes[at + 1]]);
    let f = |at: usize| f32::from_le_bytes(bytes[at..at + 4].try_into().unwrap_or([0; 4])) as f64;
    let (qform, sform) = (i16_at(252), i16_at(254));
    let m = if sform > 0 {
        let mut m = [[0.0; 4]; 3];
        for (r, row) in m.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = f(280 + 16 * r + 4 * c);
            }
        }
        m
    } else if qform > 0 {
        let (mut b, mut c, mut d) = (f(256), f(260), f(264));
        // b, c, d are stored as f32: a² = 1 − b² − c² − d² below their rounding (a 180°
        // rotation, as every flip of two axes is) is 0, and (b, c, d) a unit vector.
        let a2 = 1.0 - (b * b + c * c + d * d);
        let a = if a2 > 1e-6 {
            a2.sqrt()
        } else {
            let n = (b * b + c * c + d * d).sqrt();
            if n > 0.0 {
                (b, c, d) = (b / n, c / n, d / n);
            }
            0.0
        };
        let qfac = if f(76) < 0.0 { -1.0 } else { 1.0 };
        let (dx, dy, dz) = (f(80), f(84), f(88) * qfac);
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let o = [f(268), f(272), f(276)];
        let mut m = [[0.0; 4]; 3];
        for k in 0..3 {
            m[k] = [r[k][0] * dx, r[k][1] * dy, r[k][2] * dz, o[k]];
        }
        m
    } else {
        return Ok(None);
    };
    if m.iter().flatten().any(|v| !v.is_finite()) {
        return Err(format!(
            "its {} holds a value that is not finite",
            if sform > 0 { "sform" } else { "qform" }
        ));
    }
    Ok(Some(m))
}

/// How a file's voxel grid lies on an image's pixel grid: file axis `a` (i, then j) runs along
/// image axis `axis[a]` (0 = column, 1 = row), backwards when `reversed[a]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    axis: [usize; 2],
    reversed: [bool; 2],
}

fn column(m: &Affine, k: usize) -> [f64; 3] {
    [m[0][k], m[1][k], m[2][k]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

impl Placement {
    /// Where a file of `dims` (columns, rows) with voxel-to-RAS `file` lies on an image of
    /// `image_dims` (when known) and `image` geometry. Each file axis must run along one image axis (a flip
    /// or a transpose, never a rotation: an oblique affine is refused); with the image's DICOM
    /// geometry (orientation and position), the voxel size must be the pixel spacing and the
    /// grid must cover the image exactly, in its plane. Without it, only the directions count
    /// (the image's axes are RAS x = column, y = row, as [`write_mask`] writes them).
    pub fn find(
        file: &Affine,
        dims: (usize, usize),
        image: &Geometry,
        image_dims: Option<(usize, usize)>,
    ) -> Result<Placement, String> {
        let g = image.affine();
        let located = image.orientation.is_some() && image.position.is_some();
        let axes = [column(&g, 0), column(&g, 1)];
        let mut axis = [0usize; 2];
        let mut reversed = [false; 2];
        for a in 0..2 {
            let f = column(file, a);
            let nf = dot(f, f).sqrt();
            if nf.is_nan() || nf <= 0.0 {
                return Err(format!("its affine's axis {a} has no length"));
            }
            let aligned = (0..2).find_map(|b| {
                let gb = axes[b];
                let ng = dot(gb, gb).sqrt();
                let c = dot(f, gb) / (nf * ng);
                // sin of the angle below 1e-4: a flip or a transpose (f32 affines round).
                (1.0 - c * c < 1e-8).then_some((b, c < 0.0, ng))
            });
            let Some((b, back, ng)) = aligned else {
                return Err(format!(
                    "its affine is oblique to the image (voxel axis {a} runs along ({:.4}, {:.4}, {:.4}) in RAS, along neither the image's rows nor its columns): only flips and transposes are mapped",
                    f[0] / nf,
                    f[1] / nf,
                    f[2] / nf
                ));
            };
            if located && ((nf - ng).abs() > 1e-3 * ng.max(1e-6)) {
                return Err(format!(
                    "its voxels are {nf:.6} mm along axis {a} but the image's pixels are {ng:.6} mm: the mask does not fit the image's grid"
                ));
            }
            axis[a] = b;
            reversed[a] = back;
        }
        if axis[0] == axis[1] {
            return Err("both voxel axes of its affine run along one image axis".into());
        }
        let p = Placement { axis, reversed };
        let (w, h) = p.placed_dims(dims);
        let image_dims = image_dims.unwrap_or((w, h));
        if (w, h) != image_dims {
            return Err(format!(
                "its {}×{} grid lies on the image as {w}×{h}, but the image is {}×{}",
                dims.0, dims.1, image_dims.0, image_dims.1
            ));
        }
        if located {
            // Voxel (0, 0) must sit on the image's pixel where the placement puts it, in the
            // image's plane.
            let d: Vec<f64> = (0..3).map(|k| file[k][3] - g[k][3]).collect();
            let d = [d[0], d[1], d[2]];
            let n = column(&g, 2);
            let off_plane = dot(d, n) / dot(n, n).sqrt();
            let at = [
                dot(d, axes[0]) / dot(axes[0], axes[0]),
                dot(d, axes[1]) / dot(axes[1], axes[1]),
            ];
            let dims_img = [image_dims.0, image_dims.1];
            let mut want = [0.0; 2];
            for a in 0..2 {
                if reversed[a] {
                    want[axis[a]] = (dims_img[axis[a]] - 1) as f64;
                }
            }
            let tol = 1e-5 * dot(column(file, 3), column(file, 3)).sqrt() + 1e-3;
            if off_plane.abs() > tol + 1e-2 {
                return Err(format!(
                    "its slice lies {off_plane:.3} mm off the image's plane: the mask is of another slice"
                ));
            }
            if (0..2).any(|k| (at[k] - want[k]).abs() > 1e-2 + tol) {
                return Err(format!(
                    "its grid is shifted by ({:.2}, {:.2}) pixels from the image's: the mask does not fit the image's grid",
                    at[0] - want[0],
                    at[1] - want[1]
                ));
            }
        }
        Ok(p)
    }

    /// The identity: voxel (i, j) is pixel (column i, row j).
    pub const IDENTITY: Placement = Placement {
        axis: [0, 1],
        reversed: [false, false],
    };

    /// The (columns, rows) a file grid of `dims` becomes.
    pub fn placed_dims(&self, dims: (usize, usize)) -> (usize, usize) {
        if self.axis[0] == 0 {
            dims
        } else {
            (dims.1, dims.0)
        }
    }

    /// Row-major file values of `dims` (columns, rows) laid onto the image grid.
    pub fn apply<T: Copy + Default>(&self, values: &[T], dims: (usize, usize)) -> Vec<T> {
        let (w, _) = self.placed_dims(dims);
        let mut out = vec![T::default(); values.len()];
        let n = [dims.0, dims.1];
        for j in 0..dims.1 {
            for i in 0..dims.0 {
                let mut at = [0usize; 2];
                for (a, v) in [i, j].into_iter().enumerate() {
                    at[self.axis[a]] = if self.reversed[a] { n[a] - 1 - v } else { v };
                }
                out[at[1] * w + at[0]] = values[j * dims.0 + i];
            }
        }
        out
    }
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
    let space = header_affine(&bytes).map_err(|e| err(path, e))?;
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
        space,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FREE: Geometry = Geometry {
        spacing: [1.0, 1.0],
        orientation: None,
        position: None,
    };

    #[test]
    fn a_transposed_non_square_grid_lands_on_its_image() {
        // File 2 columns × 3 rows whose i axis runs down the image's rows: a 3×2 image.
        let file = [
            [0.0, 1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ];
        let p = Placement::find(&file, (2, 3), &FREE, Some((3, 2))).unwrap();
        assert_eq!(p.placed_dims((2, 3)), (3, 2));
        // File rows (i, j): [a b] [c d] [e f] → image pixel (column j, row i).
        assert_eq!(
            p.apply(&['a', 'b', 'c', 'd', 'e', 'f'], (2, 3)),
            vec!['a', 'c', 'e', 'b', 'd', 'f']
        );
        let wrong = Placement::find(&file, (2, 3), &FREE, Some((2, 3))).unwrap_err();
        assert!(wrong.contains("lies on the image as 3×2"), "{wrong}");
    }

    #[test]
    fn located_images_check_spacing_plane_and_origin() {
        let image = Geometry {
            spacing: [0.5, 0.5],
            orientation: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            position: Some([-10.0, -20.0, 5.0]),
        };
        let a = image.affine();
        assert_eq!(
            Placement::find(&a, (4, 4), &image, Some((4, 4))).unwrap(),
            Placement::IDENTITY
        );
        let mut coarse = a;
        coarse[0][0] *= 2.0;
        let e = Placement::find(&coarse, (4, 4), &image, Some((4, 4))).unwrap_err();
        assert!(e.contains("mm along axis 0"), "{e}");
        let mut other_slice = a;
        other_slice[2][3] += 2.5;
        let e = Placement::find(&other_slice, (4, 4), &image, Some((4, 4))).unwrap_err();
        assert!(e.contains("off the image's plane"), "{e}");
        // Columns reversed: voxel 0 must sit on the last column.
        let mut back = a;
        for r in 0..3 {
            back[r][0] = -a[r][0];
            back[r][3] = a[r][3] + 3.0 * a[r][0];
        }
        let p = Placement::find(&back, (4, 4), &image, Some((4, 4))).unwrap();
        assert_eq!(
            p.apply(&[1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], (4, 4))[..4],
            [4, 3, 2, 1]
        );
        back[0][3] = a[0][3];
        let e = Placement::find(&back, (4, 4), &image, Some((4, 4))).unwrap_err();
        assert!(e.contains("shifted by"), "{e}");
    }
}
