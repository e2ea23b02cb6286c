//! Architecture inference: the [`VitConfig`] a state dict's tensor shapes (and an optional
//! `config.json`) describe, and the shapes a config expects.

use std::collections::BTreeMap;
use std::path::Path;

use super::config_file::{ConfigFile, read_config_file};
use super::types::{CheckpointError, CheckpointLayout, LoadOptions, StateDict, format_err};
use crate::model::vit::{Arch, Family, Pool, Resample, VitConfig};

/// The architecture facts beyond plain shapes: registers, which prefix tokens have a position
/// entry, LayerScale, the resampling rule; also the native grid. `pos_len` is `pos_embed`'s
/// length.
pub(super) fn infer_arch(
    sd: &StateDict,
    layout: CheckpointLayout,
    file_cfg: &ConfigFile,
    pos_len: usize,
    patch: usize,
    path: &Path,
    cfg_path: &Path,
) -> Result<(Arch, usize), CheckpointError> {
    let (class_token, reg_tokens) = prefix_tokens(sd, file_cfg, path, cfg_path)?;
    let (global_pool, fc_norm) = head_pooling(sd, file_cfg, class_token, cfg_path)?;
    check_supported(file_cfg, cfg_path)?;
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
        position_prefix(
            file_cfg,
            pos_len,
            prefix,
            native,
            reg_tokens > 0 || layer_scale,
            reg_tokens,
        )
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

/// The class token (present or not) and the register count, from the tensors, checked against
/// the config file.
fn prefix_tokens(
    sd: &StateDict,
    file_cfg: &ConfigFile,
    path: &Path,
    cfg_path: &Path,
) -> Result<(bool, usize), CheckpointError> {
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
    Ok((class_token, reg_tokens))
}

/// The head's pooling and whether `fc_norm` replaces the final norm.
fn head_pooling(
    sd: &StateDict,
    file_cfg: &ConfigFile,
    class_token: bool,
    cfg_path: &Path,
) -> Result<(Pool, bool), CheckpointError> {
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
    Ok((global_pool, fc_norm))
}

/// Refuses what the forward pass does not implement: an activation other than the exact GELU,
/// SwiGLU MLPs.
fn check_supported(file_cfg: &ConfigFile, cfg_path: &Path) -> Result<(), CheckpointError> {
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
    Ok(())
}

/// How many prefix tokens have a `pos_embed` entry in a timm layout: from the config, else from
/// the length — grid² plus the prefix entries (timm's original layout), or grid² alone
/// (`no_embed_class`), checked against the config's grid if it has one.
fn position_prefix(
    file_cfg: &ConfigFile,
    pos_len: usize,
    prefix: usize,
    native: Option<usize>,
    dinov2_style: bool,
    reg_tokens: usize,
) -> usize {
    match file_cfg.pick(|c| c.no_embed_class) {
        Some(true) => 0,
        Some(false) => prefix,
        None => {
            let fits = |pp: usize| {
                pos_len
                    .checked_sub(pp)
                    .and_then(square_side)
                    .is_some_and(|g| native.is_none_or(|n| n == g))
            };
            // Without registers or LayerScale (a plain timm ViT) the class entry is
            // required: a grid-only `pos_embed` there is a damaged file, not a layout.
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
}

pub(super) fn shape_of<'a>(
    sd: &'a StateDict,
    key: &str,
    path: &Path,
) -> Result<&'a [usize], CheckpointError> {
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

/// `Some(g)` when `n` is the square `g²` (`g > 0`).
fn square_side(n: usize) -> Option<usize> {
    let g = (n as f64).sqrt().round() as usize;
    (g > 0 && g * g == n).then_some(g)
}
