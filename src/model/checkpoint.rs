//! Checkpoint loading: timm state dicts (`.safetensors`, PyTorch `.pth`), the DINO release
//! format (backbone only), the MAE release format (`{"model": ...}`, `fc_norm.*` used as `norm.*`)
//! and fine-tuned timm state dicts with any head.
//!
//! Loading runs in three steps: read every tensor of the file into a [`StateDict`]; normalise
//! its key layout to timm's and infer the architecture from tensor shapes ([`infer_config`]);
//! then apply it to a freshly built [`Vit`] through burn-store (`SafetensorsStore` with
//! `PyTorchToBurnAdapter`), whose applied / missing / unused lists become the [`LoadReport`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::store::{ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;

use super::vit::{Arch, Family, Pool, Resample, Vit, VitConfig};

/// Errors raised while reading or applying a checkpoint. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read.
    #[error("{path}: cannot read checkpoint: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint this loader understands, or it is corrupt.
    #[error("{path}: {message}")]
    Format {
        /// File.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor has a shape other than the architecture needs.
    #[error("{path}: tensor '{key}' has shape {found:?}, expected {expected:?}")]
    Shape {
        /// File.
        path: PathBuf,
        /// Tensor name (timm layout).
        key: String,
        /// Shape the model needs.
        expected: Vec<usize>,
        /// Shape in the file.
        found: Vec<usize>,
    },
}

/// One tensor of a state dict, converted to f32.
#[derive(Debug, Clone)]
pub struct RawTensor {
    /// Extents, outermost first.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Tensors by name.
pub type StateDict = BTreeMap<String, RawTensor>;

/// The release layout a checkpoint was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointLayout {
    /// timm state dict with a classification head.
    Timm,
    /// Backbone without a head (DINO release): a new head is initialised.
    Backbone,
    /// MAE release (`model` key, `fc_norm.*` taken as the final norm).
    Mae,
    /// Hugging Face `Dinov2Model` (RAD-DINO, DINOv2): renamed, q/k/v fused.
    HfDinov2,
    /// Hugging Face `ViTModel` (Phikon): renamed, q/k/v fused.
    HfVit,
}

/// What loading did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadReport {
    /// File read.
    pub path: PathBuf,
    /// Recognised layout.
    pub layout: CheckpointLayout,
    /// Inferred hyper-parameters.
    pub config: VitConfig,
    /// Parameters set from the file.
    pub applied: Vec<String>,
    /// Parameters the file lacked (left at their initial values).
    pub missing: Vec<String>,
    /// Tensors of the file the model does not use.
    pub unused: Vec<String>,
    /// Human-readable remarks (new head, renamed norms, ...).
    pub notes: Vec<String>,
}

impl LoadReport {
    /// One line per fact, for the CLI's stderr.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {:?} layout, dim {} depth {} heads {} patch {} img {} classes {}; {} tensors applied",
            self.path.display(),
            self.layout,
            self.config.embed_dim,
            self.config.depth,
            self.config.num_heads,
            self.config.patch_size,
            self.config.img_size,
            self.config.num_classes,
            self.applied.len()
        );
        if !self.missing.is_empty() {
            s += &format!("; missing: {}", self.missing.join(", "));
        }
        if !self.unused.is_empty() {
            s += &format!("; unused: {}", self.unused.join(", "));
        }
        for n in &self.notes {
            s += &format!("\n  note: {n}");
        }
        s
    }
}

/// Options that the tensor shapes cannot tell.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Attention heads (else from `config`, else head_dim 64).
    pub heads: Option<usize>,
    /// A JSON config (the fixtures' `config.json` layout: `num_heads`, `num_classes`, ...).
    pub config_file: Option<PathBuf>,
    /// Classes of a new head when the checkpoint has none (default 2).
    pub classes: Option<usize>,
}

fn format_err(path: &Path, message: impl Into<String>) -> CheckpointError {
    CheckpointError::Format {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

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
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 10 {
        return false;
    }
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0xFF; 8]));
    n >= 2 && n <= bytes.len() as u64 - 8 && bytes[8] == b'{'
}

fn read_safetensors(path: &Path, bytes: &[u8]) -> Result<StateDict, CheckpointError> {
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

trait DtypeName {
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

fn convert_bytes(bytes: &[u8], dtype: &str) -> Option<Vec<f32>> {
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

fn read_pytorch(path: &Path, file_len: u64) -> Result<StateDict, CheckpointError> {
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

/// Strips wrapper prefixes (`model.`, `state_dict.`, `module.`, `backbone.`, `teacher.`, ...)
/// shared by every key, maps MAE's `fc_norm.*` to `norm.*` when there is no `norm.*`, and tells
/// which layout the file had.
pub fn normalise_layout(
    sd: StateDict,
    path: &Path,
    opts: &LoadOptions,
) -> Result<(StateDict, CheckpointLayout, Vec<String>), CheckpointError> {
    // An average-pool model keeps its fc_norm; otherwise a file with fc_norm and no norm is
    // MAE's fine-tuning layout, whose fc_norm serves as the final norm.
    let avg = match &opts.config_file {
        Some(p) => read_config_file(p)?
            .pick(|c| c.global_pool.clone())
            .is_some_and(|g| g == "avg"),
        None => false,
    };
    if super::hf::is_hf(&sd) {
        let (sd, family, notes) = super::hf::to_timm(sd).map_err(|e| format_err(path, e))?;
        let layout = match family {
            Family::HfVit => CheckpointLayout::HfVit,
            _ => CheckpointLayout::HfDinov2,
        };
        return Ok((sd, layout, notes));
    }
    Ok(normalise_timm(sd, avg))
}

/// [`normalise_layout`] of a timm-named state dict.
fn normalise_timm(
    mut sd: StateDict,
    keep_fc_norm: bool,
) -> (StateDict, CheckpointLayout, Vec<String>) {
    let mut notes = Vec::new();
    let mut mae = false;
    // Peel wrappers until the patch embedding is at the top level (every ViT has one; the
    // class token is optional).
    const ANCHOR: &str = "patch_embed.proj.weight";
    for _ in 0..4 {
        if sd.contains_key(ANCHOR) {
            break;
        }
        let Some(key) = sd.keys().find(|k| k.ends_with(ANCHOR)).cloned() else {
            break;
        };
        let prefix = key.trim_end_matches(ANCHOR).to_string();
        if prefix.starts_with("model.") {
            mae = true;
        }
        notes.push(format!("stripped key prefix '{prefix}'"));
        sd = sd
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|s| (s.to_string(), v)))
            .collect();
    }
    let has_fc_norm = sd.contains_key("fc_norm.weight");
    if has_fc_norm && !keep_fc_norm && !sd.contains_key("norm.weight") {
        for p in ["weight", "bias"] {
            if let Some(t) = sd.remove(&format!("fc_norm.{p}")) {
                sd.insert(format!("norm.{p}"), t);
            }
        }
        notes.push("fc_norm.* used as the final norm.* (MAE fine-tuning layout)".into());
        mae = true;
    }
    // Decoder and mask-token tensors of MAE pre-training checkpoints are not part of the encoder.
    let before = sd.len();
    sd.retain(|k, _| !(k.starts_with("decoder") || k == "mask_token"));
    if sd.len() != before {
        notes.push(format!("dropped {} MAE decoder tensors", before - sd.len()));
        mae = true;
    }
    let layout = if !sd.contains_key("head.weight") {
        CheckpointLayout::Backbone
    } else if mae {
        CheckpointLayout::Mae
    } else {
        CheckpointLayout::Timm
    };
    let layout = if mae && layout == CheckpointLayout::Backbone {
        CheckpointLayout::Mae
    } else {
        layout
    };
    (sd, layout, notes)
}

/// The facts a `config.json` may add to the tensor shapes: the fixtures' and timm's flat fields,
/// timm's `model_args`, and Hugging Face's `save_pretrained` fields.
#[derive(serde::Deserialize, Default)]
struct ConfigFile {
    #[serde(alias = "heads", alias = "num_attention_heads")]
    num_heads: Option<usize>,
    #[serde(alias = "classes")]
    num_classes: Option<usize>,
    #[serde(alias = "layer_norm_eps", alias = "eps")]
    norm_eps: Option<f64>,
    #[serde(alias = "num_register_tokens")]
    reg_tokens: Option<usize>,
    no_embed_class: Option<bool>,
    class_token: Option<bool>,
    global_pool: Option<String>,
    fc_norm: Option<bool>,
    #[serde(alias = "image_size")]
    img_size: Option<serde_json::Value>,
    patch_size: Option<serde_json::Value>,
    hidden_act: Option<String>,
    act: Option<String>,
    use_swiglu_ffn: Option<bool>,
    model_type: Option<String>,
    /// The exact architecture, as vitscope writes it beside a checkpoint it saves.
    vitscope_arch: Option<Arch>,
    #[serde(default)]
    model: Option<Box<ConfigFile>>,
    #[serde(default)]
    model_args: Option<Box<ConfigFile>>,
}

impl ConfigFile {
    /// A field of the file, else of its `model_args`.
    fn pick<T: Clone>(&self, f: impl Fn(&ConfigFile) -> Option<T>) -> Option<T> {
        f(self).or_else(|| self.model_args.as_deref().and_then(&f))
    }

    /// A side length given as a number or a `[h, w]` list (square sizes only).
    fn side(v: &Option<serde_json::Value>) -> Option<usize> {
        match v.as_ref()? {
            serde_json::Value::Number(n) => n.as_u64().map(|n| n as usize),
            serde_json::Value::Array(a) => match &a[..] {
                [h, w] if h == w => h.as_u64().map(|n| n as usize),
                _ => None,
            },
            _ => None,
        }
    }
}

fn read_config_file(path: &Path) -> Result<ConfigFile, CheckpointError> {
    let text = crate::io::guard::read_text(path)
        .map_err(|e| format_err(path, format!("cannot read config: {e}")))?;
    let cfg: ConfigFile = serde_json::from_str(&text)
        .map_err(|e| format_err(path, format!("invalid JSON config: {e}")))?;
    Ok(match cfg.model {
        Some(inner) if cfg.num_heads.is_none() => *inner,
        _ => cfg,
    })
}

/// `Some(g)` when `n` is the square `g²` (`g > 0`).
fn square_side(n: usize) -> Option<usize> {
    let g = (n as f64).sqrt().round() as usize;
    (g > 0 && g * g == n).then_some(g)
}

/// The architecture facts beyond plain shapes: registers, which prefix tokens have a position
/// entry, LayerScale, the resampling rule; also the native grid. `pos_len` is `pos_embed`'s
/// length.
fn infer_arch(
    sd: &StateDict,
    layout: CheckpointLayout,
    file_cfg: &ConfigFile,
    pos_len: usize,
    patch: usize,
    path: &Path,
    cfg_path: &Path,
) -> Result<(Arch, usize), CheckpointError> {
    let reg_tokens = match sd.get("reg_token") {
        Some(t) => match t.shape[..] {
            [1, r, _] => r,
            _ => {
                return Err(format_err(
                    path,
                    format!(
                        "reg_token has shape {:?}, expected [1, registers, dim]",
                        t.shape
                    ),
                ));
            }
        },
        None => 0,
    };
    if let Some(r) = file_cfg.pick(|c| c.reg_tokens)
        && r != reg_tokens
    {
        return Err(format_err(
            cfg_path,
            format!("{r} register tokens, but the checkpoint has {reg_tokens}"),
        ));
    }
    let class_token = match sd.get("cls_token") {
        Some(t) if t.shape.len() == 3 && t.shape[..2] == [1, 1] => true,
        Some(t) => {
            return Err(format_err(
                path,
                format!("cls_token has shape {:?}, expected [1, 1, dim]", t.shape),
            ));
        }
        None => false,
    };
    if let Some(c) = file_cfg.pick(|c| c.class_token)
        && c != class_token
    {
        return Err(format_err(
            cfg_path,
            format!(
                "class_token: {c}, but the checkpoint {} a cls_token tensor",
                if class_token { "has" } else { "has no" }
            ),
        ));
    }
    let pool = file_cfg.pick(|c| c.global_pool.clone());
    let global_pool = match pool.as_deref() {
        // timm requires a pooled head without a class token; 'avg' is the one it defaults to.
        None if !class_token => Pool::Avg,
        None | Some("token") => Pool::Token,
        Some("avg") => Pool::Avg,
        Some(p) => {
            return Err(format_err(
                cfg_path,
                format!("global_pool '{p}': only 'token' and 'avg' heads are supported"),
            ));
        }
    };
    // timm: fc_norm defaults to on exactly for average pooling, and then replaces the final
    // norm; the tensors say which the file has.
    let fc_norm = sd.contains_key("fc_norm.weight")
        && file_cfg
            .pick(|c| c.fc_norm)
            .unwrap_or(global_pool == Pool::Avg);
    if !class_token && global_pool == Pool::Token {
        return Err(format_err(
            cfg_path,
            "global_pool 'token', but the checkpoint has no cls_token: a model without a class token needs global_pool 'avg'",
        ));
    }
    if fc_norm && global_pool == Pool::Token {
        return Err(format_err(
            cfg_path,
            "fc_norm with global_pool 'token': timm applies fc_norm to pooled patch tokens only",
        ));
    }
    let act = file_cfg.pick(|c| c.hidden_act.clone().or(c.act.clone()));
    if let Some(a) = act
        && !matches!(a.as_str(), "gelu" | "gelu_erf" | "gelu_python")
    {
        return Err(format_err(
            cfg_path,
            format!("activation '{a}': only the exact (erf) GELU is supported"),
        ));
    }
    if file_cfg.pick(|c| c.use_swiglu_ffn) == Some(true) {
        return Err(format_err(
            cfg_path,
            "use_swiglu_ffn: SwiGLU MLPs are not supported",
        ));
    }
    let layer_scale = sd.contains_key("blocks.0.ls1.gamma");
    let hf = matches!(layout, CheckpointLayout::HfDinov2 | CheckpointLayout::HfVit);
    let registers_model = file_cfg
        .model_type
        .as_deref()
        .is_some_and(|t| t == "dinov2_with_registers")
        || (hf && reg_tokens > 0);
    let native = match (
        file_cfg.pick(|c| ConfigFile::side(&c.img_size)),
        file_cfg.pick(|c| ConfigFile::side(&c.patch_size)),
    ) {
        (Some(img), Some(p)) if p == patch && img % p == 0 => Some(img / p),
        _ => None,
    };
    let prefix = usize::from(class_token) + reg_tokens;
    let headless = !sd.contains_key("head.weight");
    if let Some(saved) = &file_cfg.vitscope_arch {
        let arch = Arch {
            headless,
            layer_scale,
            class_token,
            reg_tokens,
            fc_norm: saved.fc_norm && sd.contains_key("fc_norm.weight"),
            ..saved.clone()
        };
        let grid = pos_len.checked_sub(arch.pos_prefix).and_then(square_side);
        return match grid {
            Some(g) if arch.pos_prefix <= prefix => Ok((arch, g)),
            _ => Err(format_err(
                cfg_path,
                format!(
                    "vitscope_arch: {} position prefix entries do not fit pos_embed's {pos_len}",
                    arch.pos_prefix
                ),
            )),
        };
    }
    let pos_prefix = if hf {
        1
    } else {
        match file_cfg.pick(|c| c.no_embed_class) {
            Some(true) => 0,
            Some(false) => prefix,
            None => {
                // From the length: grid² plus the prefix entries (timm's original layout), or
                // grid² alone (`no_embed_class`), checked against the config's grid if it has one.
                let fits = |pp: usize| {
                    pos_len
                        .checked_sub(pp)
                        .and_then(square_side)
                        .is_some_and(|g| native.is_none_or(|n| n == g))
                };
                // Without registers or LayerScale (a plain timm ViT) the class entry is
                // required: a grid-only `pos_embed` there is a damaged file, not a layout.
                let dinov2_style = reg_tokens > 0 || layer_scale;
                if fits(prefix) {
                    prefix
                } else if dinov2_style && fits(0) {
                    0
                } else if reg_tokens > 0 && fits(1) {
                    1
                } else {
                    prefix
                }
            }
        }
    };
    let grid = pos_len.checked_sub(pos_prefix).and_then(square_side);
    let Some(grid) = grid.filter(|&g| native.is_none_or(|n| n == g)) else {
        return Err(format_err(
            path,
            format!(
                "pos_embed has {pos_len} entries: not {pos_prefix} prefix entries plus a square grid{}",
                native.map(|n| format!(" of {n}×{n}")).unwrap_or_default()
            ),
        ));
    };
    let family = match layout {
        CheckpointLayout::HfDinov2 => Family::HfDinov2,
        CheckpointLayout::HfVit => Family::HfVit,
        _ => Family::Timm,
    };
    let resample = if hf && !registers_model {
        Resample::Bicubic
    } else {
        Resample::BicubicAntialias
    };
    let arch = Arch {
        family,
        class_token,
        reg_tokens,
        pos_prefix,
        layer_scale,
        resample,
        headless,
        global_pool,
        fc_norm,
    };
    Ok((arch, grid))
}

fn shape_of<'a>(sd: &'a StateDict, key: &str, path: &Path) -> Result<&'a [usize], CheckpointError> {
    sd.get(key).map(|t| t.shape.as_slice()).ok_or_else(|| {
        format_err(
            path,
            format!("missing tensor '{key}': not a ViT checkpoint"),
        )
    })
}

/// Infers the architecture from tensor shapes (heads from options or head_dim 64).
pub fn infer_config(
    sd: &StateDict,
    layout: CheckpointLayout,
    path: &Path,
    opts: &LoadOptions,
) -> Result<VitConfig, CheckpointError> {
    // A Hugging Face checkpoint comes with the `config.json` that `save_pretrained` wrote beside
    // it (the head count and eps are only there): used when no other config is given.
    let beside = path.with_file_name("config.json");
    let hf = matches!(layout, CheckpointLayout::HfDinov2 | CheckpointLayout::HfVit);
    let implicit = (opts.config_file.is_none() && opts.heads.is_none() && hf && beside.is_file())
        .then_some(beside);
    let opts = &LoadOptions {
        config_file: opts.config_file.clone().or(implicit),
        ..opts.clone()
    };
    let file_cfg = match &opts.config_file {
        Some(p) => read_config_file(p)?,
        None => ConfigFile::default(),
    };
    let pw = shape_of(sd, "patch_embed.proj.weight", path)?;
    let [embed_dim, in_chans, patch_size, patch_w] = pw[..] else {
        return Err(format_err(
            path,
            format!("patch_embed.proj.weight has rank {}, expected 4", pw.len()),
        ));
    };
    if patch_size != patch_w {
        return Err(format_err(path, "non-square patches are not supported"));
    }
    let pos = shape_of(sd, "pos_embed", path)?;
    let pos_len = match pos[..] {
        [1, n, d] if d == embed_dim => n,
        _ => {
            return Err(format_err(
                path,
                format!("pos_embed shape {pos:?} is not [1, tokens, {embed_dim}]"),
            ));
        }
    };
    let cfg_path = opts.config_file.as_deref().unwrap_or(path);
    let (arch, grid) = infer_arch(sd, layout, &file_cfg, pos_len, patch_size, path, cfg_path)?;
    // Blocks are numbered 0..depth without gaps: a missing block is an error, not a shallower model.
    let depth = sd
        .keys()
        .filter_map(|k| {
            k.strip_prefix("blocks.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |m| m + 1);
    if depth == 0 {
        return Err(format_err(
            path,
            "no 'blocks.N.attn.qkv.weight' tensors: not a ViT checkpoint",
        ));
    }
    if let Some(gap) = (0..depth).find(|i| !sd.contains_key(&format!("blocks.{i}.attn.qkv.weight")))
    {
        return Err(format_err(
            path,
            format!(
                "block {gap} is missing (blocks.{gap}.attn.qkv.weight) but the file has blocks up to {}",
                depth - 1
            ),
        ));
    }
    let mlp_hidden = match shape_of(sd, "blocks.0.mlp.fc1.weight", path)? {
        [h, _] => *h,
        other => {
            return Err(format_err(
                path,
                format!("blocks.0.mlp.fc1.weight has shape {other:?}, expected [hidden, dim]"),
            ));
        }
    };
    let (num_heads, heads_from) = match (opts.heads, file_cfg.num_heads, &opts.config_file) {
        (Some(h), _, _) => (h, "--heads".to_string()),
        (None, Some(h), Some(c)) => (h, format!("num_heads in {}", c.display())),
        _ => ((embed_dim / 64).max(1), "head width 64".to_string()),
    };
    if num_heads == 0 || embed_dim % num_heads != 0 {
        let msg = format!("{num_heads} heads ({heads_from}) do not divide the width {embed_dim}");
        return Err(match (opts.heads, &opts.config_file) {
            (None, Some(c)) if file_cfg.num_heads.is_some() => format_err(c, msg),
            _ => format_err(path, msg),
        });
    }
    let num_classes = match sd.get("head.weight") {
        Some(t) => match t.shape[..] {
            [c, _] => c,
            _ => {
                return Err(format_err(
                    path,
                    format!(
                        "head.weight has shape {:?}, expected [classes, dim]",
                        t.shape
                    ),
                ));
            }
        },
        // timm writes num_classes 0 for a headless encoder: a new head of 2 classes then.
        None => opts
            .classes
            .or(file_cfg.pick(|c| c.num_classes))
            .filter(|&c| c > 0)
            .unwrap_or(2),
    };
    let cfg = VitConfig {
        img_size: grid * patch_size,
        patch_size,
        in_chans,
        num_classes,
        embed_dim,
        depth,
        num_heads,
        mlp_hidden,
        eps: file_cfg.pick(|c| c.norm_eps).unwrap_or(match arch.family {
            Family::HfVit => 1e-12,
            _ => 1e-6,
        }),
        arch,
    };
    if !(cfg.eps.is_finite() && cfg.eps > 0.0 && cfg.eps < 1.0) {
        return Err(format_err(
            cfg_path,
            format!("LayerNorm eps {} is not in (0, 1)", cfg.eps),
        ));
    }
    cfg.validate().map_err(|e| format_err(path, e))?;
    Ok(cfg)
}

/// Expected timm shape of every parameter of `cfg`.
pub fn expected_shapes(cfg: &VitConfig) -> BTreeMap<String, Vec<usize>> {
    let d = cfg.embed_dim;
    let mut m = BTreeMap::new();
    if cfg.arch.class_token {
        m.insert("cls_token".into(), vec![1, 1, d]);
    }
    if cfg.arch.reg_tokens > 0 {
        m.insert("reg_token".into(), vec![1, cfg.arch.reg_tokens, d]);
    }
    m.insert("pos_embed".into(), vec![1, cfg.pos_len(), d]);
    m.insert(
        "patch_embed.proj.weight".into(),
        vec![d, cfg.in_chans, cfg.patch_size, cfg.patch_size],
    );
    m.insert("patch_embed.proj.bias".into(), vec![d]);
    for i in 0..cfg.depth {
        let b = format!("blocks.{i}");
        for n in ["norm1", "norm2"] {
            m.insert(format!("{b}.{n}.weight"), vec![d]);
            m.insert(format!("{b}.{n}.bias"), vec![d]);
        }
        m.insert(format!("{b}.attn.qkv.weight"), vec![3 * d, d]);
        m.insert(format!("{b}.attn.qkv.bias"), vec![3 * d]);
        m.insert(format!("{b}.attn.proj.weight"), vec![d, d]);
        m.insert(format!("{b}.attn.proj.bias"), vec![d]);
        m.insert(format!("{b}.mlp.fc1.weight"), vec![cfg.mlp_hidden, d]);
        m.insert(format!("{b}.mlp.fc1.bias"), vec![cfg.mlp_hidden]);
        m.insert(format!("{b}.mlp.fc2.weight"), vec![d, cfg.mlp_hidden]);
        m.insert(format!("{b}.mlp.fc2.bias"), vec![d]);
        if cfg.arch.layer_scale {
            m.insert(format!("{b}.ls1.gamma"), vec![d]);
            m.insert(format!("{b}.ls2.gamma"), vec![d]);
        }
    }
    let last = if cfg.arch.fc_norm { "fc_norm" } else { "norm" };
    m.insert(format!("{last}.weight"), vec![d]);
    m.insert(format!("{last}.bias"), vec![d]);
    m.insert("head.weight".into(), vec![cfg.num_classes, d]);
    m.insert("head.bias".into(), vec![cfg.num_classes]);
    m
}

/// Reads and normalises a checkpoint and infers its architecture, without building the model
/// (the randomisation cascade edits the tensors, then applies them with [`apply_state_dict`]).
pub fn load_state(
    path: &Path,
    opts: &LoadOptions,
) -> Result<(StateDict, VitConfig, CheckpointLayout), CheckpointError> {
    let sd = read_state_dict(path)?;
    let (sd, layout, _) = normalise_layout(sd, path, opts)?;
    let config = infer_config(&sd, layout, path, opts)?;
    Ok((sd, config, layout))
}

/// Reads, normalises and applies a checkpoint.
pub fn load_vit(
    path: &Path,
    opts: &LoadOptions,
    device: &Device,
) -> Result<(Vit, LoadReport), CheckpointError> {
    let sd = read_state_dict(path)?;
    let (sd, layout, mut notes) = normalise_layout(sd, path, opts)?;
    let config = infer_config(&sd, layout, path, opts)?;
    apply_state_dict(sd, config, layout, path, device).map(|(vit, mut report)| {
        notes.append(&mut report.notes);
        report.notes = notes;
        (vit, report)
    })
}

/// Checks shapes against `config` and applies the tensors to a new model through burn-store.
pub fn apply_state_dict(
    sd: StateDict,
    config: VitConfig,
    layout: CheckpointLayout,
    path: &Path,
    device: &Device,
) -> Result<(Vit, LoadReport), CheckpointError> {
    let expected = expected_shapes(&config);
    for (key, t) in &sd {
        if let Some(want) = expected.get(key)
            && *want != t.shape
        {
            return Err(CheckpointError::Shape {
                path: path.to_path_buf(),
                key: key.clone(),
                expected: want.clone(),
                found: t.shape.clone(),
            });
        }
    }
    // Only the head may be absent (a backbone release): any other parameter left at its random
    // initial value would make the maps meaningless.
    let absent: Vec<&String> = expected
        .keys()
        .filter(|k| !k.starts_with("head.") && !sd.contains_key(*k))
        .collect();
    if !absent.is_empty() {
        let names: Vec<&str> = absent.iter().take(8).map(|s| s.as_str()).collect();
        return Err(format_err(
            path,
            format!(
                "{} parameter tensor(s) missing: {}{}",
                absent.len(),
                names.join(", "),
                if absent.len() > 8 { ", ..." } else { "" }
            ),
        ));
    }
    for (key, t) in sd.iter().filter(|(k, _)| expected.contains_key(*k)) {
        crate::io::guard::check_finite(&t.data, &format!("tensor '{key}'"))
            .map_err(|e| format_err(path, e))?;
    }
    let mut notes = Vec::new();
    if layout != CheckpointLayout::Timm && !sd.contains_key("head.weight") {
        notes.push(format!(
            "no classification head in the file: a new {}-class head was initialised (fine-tune it before trusting predictions)",
            config.num_classes
        ));
    }
    let unused: Vec<String> = sd
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    let bytes = serialize_safetensors(&sd, &expected)
        .map_err(|e| format_err(path, format!("cannot re-encode tensors: {e}")))?;
    let mut vit = config.init(device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true);
    let result = vit
        .weights
        .load_from(&mut store)
        .map_err(|e| format_err(path, format!("cannot apply tensors: {e}")))?;
    if let Some(err) = result.errors.first() {
        return Err(format_err(path, err.to_string()));
    }
    let mut missing: Vec<String> = result
        .missing
        .iter()
        .map(|(k, _)| k.clone())
        // An fc_norm model has no final norm (timm: an identity); the module's is unused.
        .filter(|k| !(config.arch.fc_norm && k.starts_with("norm.")))
        .collect();
    missing.sort();
    let report = LoadReport {
        path: path.to_path_buf(),
        layout,
        config,
        applied: result.applied.clone(),
        missing,
        unused,
        notes,
    };
    Ok((vit, report))
}

fn serialize_safetensors(
    sd: &StateDict,
    expected: &BTreeMap<String, Vec<usize>>,
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = sd
        .iter()
        .filter(|(k, _)| expected.contains_key(*k))
        .map(|(k, t)| {
            let b: Vec<u8> = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k.clone(), t.shape.clone(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = bytes
        .iter()
        .map(|(k, s, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b)
                .map(|v| (k.clone(), v))
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, None)
}
