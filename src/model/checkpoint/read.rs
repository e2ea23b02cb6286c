//! Reading a checkpoint file into a [`StateDict`]: safetensors (f32, f16, bf16, f64) and
//! PyTorch `.pth` pickles, both checked against the read limits first.

use std::path::Path;

use super::types::{CheckpointError, RawTensor, StateDict, format_err};

/// Reads every floating-point tensor of a `.safetensors` or PyTorch `.pth`/`.pt` file.
pub fn read_state_dict(path: &Path) -> Result<StateDict, CheckpointError> {
    let bytes = crate::io::guard::read_bounded(path, u64::MAX)
        .map_err(|e| format_err(path, format!("cannot read checkpoint: {e}")))?;
    if looks_like_safetensors(&bytes) {
        return read_safetensors(path, &bytes);
    }
    let is_zip = bytes.starts_with(b"PK\x03\x04");
    // A pickle starts with the PROTO opcode (0x80) and a protocol number of 2 to 5.
    let is_pickle = bytes.len() > 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]);
    if is_zip || is_pickle {
        let len = bytes.len() as u64;
        drop(bytes);
        crate::io::guard::catch_panic(|| read_pytorch(path, len))
            .map_err(|e| format_err(path, format!("cannot parse PyTorch checkpoint: {e}")))?
    } else {
        read_safetensors(path, &bytes)
    }
}

/// A safetensors file: an 8-byte little-endian header length that fits the file, then a JSON
/// header starting with `{`.
pub(super) fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 10 {
        return false;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0xFF; 8]));
    n >= 2 && n <= bytes.len() as u64 - 8 && bytes[8] == b'{'
}

pub(super) fn read_safetensors(path: &Path, bytes: &[u8]) -> Result<StateDict, CheckpointError> {
    let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
        format_err(
            path,
            format!("not a safetensors or PyTorch checkpoint ({e})"),
        )
    })?;
    let mut out = StateDict::new();
    for (name, view) in st.tensors() {
        let data = convert_bytes(view.data(), view.dtype_name()).ok_or_else(|| {
            format_err(
                path,
                format!("tensor '{name}': unsupported dtype {:?}", view.dtype()),
            )
        })?;
        out.insert(
            name,
            RawTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

pub(super) trait DtypeName {
    fn dtype_name(&self) -> &'static str;
}

impl DtypeName for safetensors::tensor::TensorView<'_> {
    fn dtype_name(&self) -> &'static str {
        use safetensors::Dtype;
        match self.dtype() {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            Dtype::F16 => "f16",
            Dtype::BF16 => "bf16",
            _ => "other",
        }
    }
}

pub(super) fn convert_bytes(bytes: &[u8], dtype: &str) -> Option<Vec<f32>> {
    let chunks = |n: usize| bytes.chunks_exact(n);
    Some(match dtype {
        "f32" => chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        "f64" => chunks(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
            .collect(),
        "f16" => chunks(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        "bf16" => chunks(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        _ => return None,
    })
}

pub(super) fn read_pytorch(path: &Path, file_len: u64) -> Result<StateDict, CheckpointError> {
    use burn::store::pytorch_reader::PytorchReader;
    let reader = PytorchReader::new(path)
        .map_err(|e| format_err(path, format!("cannot parse PyTorch checkpoint: {e}")))?;
    let mut out = StateDict::new();
    for (name, t) in reader.into_tensors() {
        let (dtype, size) = match format!("{:?}", t.dtype()).to_lowercase().as_str() {
            "f32" | "float32" => ("f32", 4),
            "f64" | "float64" => ("f64", 8),
            "f16" | "float16" => ("f16", 2),
            "bf16" | "bfloat16" => ("bf16", 2),
            _ => continue, // integer buffers (e.g. counters) are not parameters
        };
        // torch stores tensors uncompressed: one whose declared size exceeds the file is corrupt,
        // and is refused before anything is allocated for it.
        let dims: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
        let bytes_needed = crate::io::guard::checked_product(
            &dims,
            &format!("tensor '{name}' shape"),
        )
        .ok()
        .and_then(|n| n.checked_mul(size))
        .filter(|&n| n <= file_len)
        .ok_or_else(|| {
            format_err(
                path,
                format!(
                    "tensor '{name}' declares shape {:?}, larger than the {file_len}-byte file",
                    t.shape()
                ),
            )
        })?;
        let bytes = t
            .read()
            .map_err(|e| format_err(path, format!("tensor '{name}': {e}")))?;
        if (bytes.len() as u64) < bytes_needed {
            return Err(format_err(
                path,
                format!(
                    "tensor '{name}': {} bytes of data for shape {:?}",
                    bytes.len(),
                    t.shape()
                ),
            ));
        }
        let data = convert_bytes(&bytes[..bytes_needed as usize], dtype)
            .ok_or_else(|| format_err(path, format!("tensor '{name}': unsupported dtype")))?;
        out.insert(
            name,
            RawTensor {
                shape: t.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}
