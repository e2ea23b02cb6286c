//! NumPy `.npy` arrays of f32 (written) and f32/f64/integers (read), through `npyz`.

use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

/// Errors of `.npy` reading and writing; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// Unreadable, malformed or unsupported file.
    #[error("{path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// What is wrong.
        source: crate::error::Cause,
    },
    /// Write failure.
    #[error("{path}: cannot write .npy: {source}")]
    Write {
        /// File.
        path: PathBuf,
        /// Cause.
        source: crate::error::Cause,
    },
}

/// A dense array read from `.npy`, converted to f32, C order.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// Values in C order.
    pub data: Vec<f32>,
}

/// Writes `data` with `shape` as little-endian float32, C order, atomically.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    let err = |cause: crate::error::Cause| NpyError::Write {
        path: path.to_path_buf(),
        source: cause,
    };
    let mut bytes = Vec::new();
    {
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        let mut writer = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut bytes)
            .begin_nd()
            .map_err(|e| err(e.into()))?;
        writer
            .extend(data.iter().copied())
            .map_err(|e| err(e.into()))?;
        writer.finish().map_err(|e| err(e.into()))?;
    }
    super::write_atomic(path, &bytes).map_err(|e| err(e.into()))
}

/// Reads a `.npy` of any real numeric dtype into f32 (Fortran order is transposed to C order).
pub fn read_f32(path: &Path) -> Result<Array, NpyError> {
    let err = |cause: crate::error::Cause| NpyError::Read {
        path: path.to_path_buf(),
        source: cause,
    };
    let bytes = super::guard::read_bounded(path, u64::MAX).map_err(|e| err(e.into()))?;
    let mut cursor = std::io::Cursor::new(&bytes[..]);
    let header = super::guard::catch_panic(|| npyz::NpyHeader::from_reader(&mut cursor))
        .map_err(|e| err(e.into()))?
        .map_err(|e| err(format!("not a valid .npy file: {e}").into()))?;
    let header_size = cursor.position() as usize;
    let npy = npyz::NpyFile::with_header(header, &bytes[header_size..]);
    // The declared shape must describe exactly the bytes after the header (no overflow, no
    // allocation beyond the file).
    let n = super::guard::checked_product(npy.shape(), "shape").map_err(|e| err(e.into()))?;
    let item = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.size_field(),
        _ => return Err(err("structured arrays are not supported".into())),
    };
    let data_bytes = n.saturating_mul(item);
    let available = (bytes.len() - header_size) as u64;
    if data_bytes != available {
        return Err(err(format!(
            "its shape {:?} needs {data_bytes} bytes of data but the file holds {available}",
            npy.shape()
        )
        .into()));
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let fortran = npy.order() == npyz::Order::Fortran;
    let dtype = npy.dtype();
    let type_str = match &dtype {
        npyz::DType::Plain(ts) => ts.to_string(),
        _ => return Err(err("structured arrays are not supported".into())),
    };
    let kind = type_str.trim_start_matches(['<', '>', '|', '=']);
    let data: Vec<f32> = match kind {
        "f4" => collect(npy.data::<f32>(), |v| v),
        "f8" => collect(npy.data::<f64>(), |v| v as f32),
        "u1" => collect(npy.data::<u8>(), |v| v as f32),
        "b1" => collect(npy.data::<bool>(), |v| v as u8 as f32),
        "i1" => collect(npy.data::<i8>(), |v| v as f32),
        "u2" => collect(npy.data::<u16>(), |v| v as f32),
        "i2" => collect(npy.data::<i16>(), |v| v as f32),
        "i4" => collect(npy.data::<i32>(), |v| v as f32),
        "u4" => collect(npy.data::<u32>(), |v| v as f32),
        "i8" => collect(npy.data::<i64>(), |v| v as f32),
        _ => return Err(err(format!("unsupported dtype '{type_str}'").into())),
    }
    .map_err(|e| err(format!("corrupt data: {e}").into()))?;
    let n = n as usize;
    if data.len() != n {
        return Err(err(format!(
            "holds {} values but its shape {shape:?} needs {n}",
            data.len()
        )
        .into()));
    }
    let data = if fortran && shape.len() == 2 {
        let (r, c) = (shape[0], shape[1]);
        (0..r * c).map(|i| data[(i % c) * r + i / c]).collect()
    } else if fortran && shape.len() > 2 {
        return Err(err(
            "Fortran-ordered arrays above 2-D are not supported".into()
        ));
    } else {
        data
    };
    Ok(Array { shape, data })
}

fn collect<T: npyz::Deserialize, R: std::io::Read, E>(
    data: Result<npyz::NpyReader<T, R>, E>,
    f: impl Fn(T) -> f32,
) -> Result<Vec<f32>, crate::error::Cause>
where
    E: std::error::Error + Send + Sync + 'static,
{
    data.map_err(crate::error::Cause::from)?
        .map(|r| r.map(&f).map_err(crate::error::Cause::from))
        .collect()
}
