//! A ViT's hyper-parameters: [`VitConfig`] (sizes, prefix tokens, LayerScale, pooling, the
//! position-embedding rules of its checkpoint family), the named sizes, and the checks that a
//! configuration can be built and run.

use crate::error::Invalid;
use serde::{Deserialize, Serialize};

/// Hyper-parameters of a ViT. Usually inferred from a checkpoint's tensor shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VitConfig {
    /// Input side length in pixels (square inputs).
    pub img_size: usize,
    /// Patch side length in pixels.
    pub patch_size: usize,
    /// Input channels (3 for RGB).
    pub in_chans: usize,
    /// Number of output classes of the head.
    pub num_classes: usize,
    /// Token width.
    pub embed_dim: usize,
    /// Number of transformer blocks.
    pub depth: usize,
    /// Attention heads per block.
    pub num_heads: usize,
    /// Hidden width of each MLP.
    pub mlp_hidden: usize,
    /// LayerNorm epsilon (timm: 1e-6; Hugging Face ViT: 1e-12).
    pub eps: f64,
    /// Prefix tokens, LayerScale and the position-embedding rules (timm's original ViT by
    /// default).
    #[serde(default)]
    pub arch: Arch,
}

/// The named sizes of timm's ViTs.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
pub enum VitSize {
    /// ViT-Ti: width 192, 12 blocks, 3 heads.
    #[strum(to_string = "ti", serialize = "tiny")]
    Ti,
    /// ViT-S: width 384, 12 blocks, 6 heads.
    #[strum(to_string = "s", serialize = "small")]
    S,
    /// ViT-B: width 768, 12 blocks, 12 heads.
    #[strum(to_string = "b", serialize = "base")]
    B,
    /// ViT-L: width 1024, 24 blocks, 16 heads.
    #[strum(to_string = "l", serialize = "large")]
    L,
}

/// The checkpoint family a model was read from: it fixes the key names and, with them, how the
/// position embedding is resampled at other input sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// timm `VisionTransformer` (also the DINO and MAE releases, UNI, the DINOv2 timm models).
    #[default]
    Timm,
    /// Hugging Face `Dinov2Model` / `Dinov2WithRegistersModel` (RAD-DINO, the DINOv2 releases).
    HfDinov2,
    /// Hugging Face `ViTModel` (Phikon).
    HfVit,
}

/// How the patch part of the position embedding is resampled to another grid (PyTorch's
/// `interpolate(mode='bicubic', align_corners=False)` on the `[D, g0, g0]` image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resample {
    /// `antialias=True` (timm's `resample_abs_pos_embed`, HF `Dinov2WithRegisters`): Keys
    /// cubic with a = -0.5, support widened when shrinking, weights renormalised at the border.
    #[default]
    BicubicAntialias,
    /// `antialias=False` (HF `Dinov2Model` and `ViTModel`): Keys cubic with a = -0.75, four taps,
    /// border replicated.
    Bicubic,
}

/// What sets a foundation ViT apart from timm's original layout: register tokens, which prefix
/// tokens carry a position embedding, LayerScale, the resampling rule and whether the model
/// came without a classifier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Arch {
    /// Checkpoint family.
    pub family: Family,
    /// The model has a class token (timm `class_token`; false only with average pooling).
    pub class_token: bool,
    /// Register tokens after the class token (DINOv2 registers models).
    pub reg_tokens: usize,
    /// How many leading prefix tokens (class first, then registers) have an entry in
    /// `pos_embed`: 1 + registers for timm's original layout, 0 for timm's `no_embed_class`,
    /// 1 for Hugging Face (the registers get none).
    pub pos_prefix: usize,
    /// `x + γ ⊙ f(x)` residual branches (`lsK.gamma`, HF `layer_scaleK.lambda1`).
    pub layer_scale: bool,
    /// Position-embedding resampling at other input sizes.
    pub resample: Resample,
    /// The file had no classifier: the head is a direction (`--direction`) or a new one.
    pub headless: bool,
    /// What the head reads: the class token, or the mean of the patch tokens.
    pub global_pool: Pool,
    /// timm's `fc_norm`: the final norm is an identity and a LayerNorm (`fc_norm.*`) normalises
    /// the pooled features instead.
    pub fc_norm: bool,
}

/// What the head reads (timm `global_pool`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pool {
    /// The class token after the final norm (`'token'`).
    #[default]
    Token,
    /// The mean of the patch tokens (registers and class token excluded; `'avg'`).
    Avg,
}

impl Default for Arch {
    fn default() -> Self {
        Arch {
            family: Family::Timm,
            class_token: true,
            reg_tokens: 0,
            pos_prefix: 1,
            layer_scale: false,
            resample: Resample::BicubicAntialias,
            headless: false,
            global_pool: Pool::Token,
            fc_norm: false,
        }
    }
}

/// Bytes a model's f32 parameters, and separately its attention maps, may take: 4 GiB.
pub const MODEL_BUDGET: u64 = 4 << 30;

impl VitConfig {
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.img_size / self.patch_size
    }

    /// Tokens at the native input size, prefix (class and registers) included.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + self.prefix()
    }

    /// Prefix tokens before the patches: the class token (where the model has one) and the
    /// registers.
    pub fn prefix(&self) -> usize {
        usize::from(self.arch.class_token) + self.arch.reg_tokens
    }

    /// Entries of `pos_embed`: the prefix tokens that have one, then the native grid.
    pub fn pos_len(&self) -> usize {
        self.grid() * self.grid() + self.arch.pos_prefix
    }

    /// The patch grid `(rows, cols)` of an `h`×`w` input, or why the model cannot take it.
    pub fn grid_for(&self, h: usize, w: usize) -> Result<(usize, usize), Invalid> {
        let p = self.patch_size;
        if h < p || w < p || !h.is_multiple_of(p) || !w.is_multiple_of(p) {
            return Err(Invalid::from(format!(
                "{h}×{w} px is not a whole number of {p}-pixel patches in each direction"
            )));
        }
        let (gh, gw) = (h / p, w / p);
        if gh > 256 || gw > 256 {
            return Err(Invalid::from(format!(
                "a {gh}×{gw} patch grid is more than 256×256"
            )));
        }
        let t = (gh * gw + self.prefix()) as u64;
        let attention = (self.depth as u64 * self.num_heads as u64).saturating_mul(t * t * 4);
        if attention > MODEL_BUDGET {
            return Err(Invalid::from(format!(
                "{} blocks × {} heads of {t}×{t} attention at {h}×{w} px need more than the {} GiB a model may take",
                self.depth,
                self.num_heads,
                MODEL_BUDGET >> 30
            )));
        }
        Ok((gh, gw))
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.embed_dim / self.num_heads
    }

    /// Parameters of the model (weights and biases).
    pub fn parameter_count(&self) -> Option<u64> {
        let d = self.embed_dim as u64;
        let h = self.mlp_hidden as u64;
        let c = self.num_classes as u64;
        let p = self.patch_size as u64;
        let per_block = d
            .checked_mul(4)?
            .checked_add(3 * d * d + 3 * d)?
            .checked_add(d * d + d)?
            .checked_add(h.checked_mul(d)?.checked_mul(2)?)?
            .checked_add(h + d)?;
        let embed = d
            .checked_mul(3)?
            .checked_mul(p.checked_mul(p)?)?
            .checked_add(d)?
            .checked_add((self.pos_len() as u64 + self.prefix() as u64).checked_mul(d)?)?;
        let per_block = if self.arch.layer_scale {
            per_block.checked_add(2 * d)?
        } else {
            per_block
        };
        per_block
            .checked_mul(self.depth as u64)?
            .checked_add(embed)?
            .checked_add(c.checked_mul(d + 1)?)?
            .checked_add(2 * d)
    }

    /// Checks the architecture before any tensor is built: three input channels, a patch that
    /// tiles the input, non-zero widths, heads dividing the width, at least one class, and
    /// parameters and attention maps within [`MODEL_BUDGET`].
    pub fn validate(&self) -> Result<(), Invalid> {
        if self.in_chans != 3 {
            return Err(Invalid::from(format!(
                "the patch embedding takes {} input channel(s); vitscope feeds RGB images (3)",
                self.in_chans
            )));
        }
        if self.patch_size == 0 || self.img_size < self.patch_size {
            return Err(Invalid::from(format!(
                "patch size {} does not fit an input of {} px",
                self.patch_size, self.img_size
            )));
        }
        if !self.img_size.is_multiple_of(self.patch_size) {
            return Err(Invalid::from(format!(
                "input size {} is not a multiple of the patch size {}",
                self.img_size, self.patch_size
            )));
        }
        for (name, v) in [
            ("width", self.embed_dim),
            ("depth", self.depth),
            ("heads", self.num_heads),
            ("MLP width", self.mlp_hidden),
            ("classes", self.num_classes),
        ] {
            if v == 0 {
                return Err(Invalid::from(format!("{name} is 0")));
            }
        }
        if !self.embed_dim.is_multiple_of(self.num_heads) {
            return Err(Invalid::from(format!(
                "{} heads do not divide the width {}",
                self.num_heads, self.embed_dim
            )));
        }
        if self.arch.reg_tokens > 64 {
            return Err(Invalid::from(format!(
                "{} register tokens is more than 64",
                self.arch.reg_tokens
            )));
        }
        if !self.arch.class_token && self.arch.global_pool == Pool::Token {
            return Err(
                "a model without a class token needs an average-pool head (global_pool 'avg')"
                    .into(),
            );
        }
        if self.arch.pos_prefix > self.prefix() {
            return Err(Invalid::from(format!(
                "{} position entries for {} prefix tokens",
                self.arch.pos_prefix,
                self.prefix()
            )));
        }
        if self.num_classes > 100_000 {
            return Err(Invalid::from(format!(
                "{} classes is more than 100000",
                self.num_classes
            )));
        }
        if self.grid() > 256 {
            return Err(Invalid::from(format!(
                "a {}×{} patch grid is more than 256×256",
                self.grid(),
                self.grid()
            )));
        }
        let params = self.parameter_count().unwrap_or(u64::MAX);
        if params.saturating_mul(4) > MODEL_BUDGET {
            return Err(Invalid::from(format!(
                "{params} parameters need more than the {} GiB a model may take",
                MODEL_BUDGET >> 30
            )));
        }
        // The explanation maps keep every block's attention: depth × heads × tokens² floats.
        let t = self.tokens() as u64;
        let attention = (self.depth as u64)
            .saturating_mul(self.num_heads as u64)
            .saturating_mul(t * t)
            .saturating_mul(4);
        if attention > MODEL_BUDGET {
            return Err(Invalid::from(format!(
                "{} blocks × {} heads of {t}×{t} attention need more than the {} GiB a model may take (use a smaller input)",
                self.depth,
                self.num_heads,
                MODEL_BUDGET >> 30
            )));
        }
        Ok(())
    }

    /// A timm size at 224 px with the given patch size and classes.
    pub fn sized(size: VitSize, patch_size: usize, num_classes: usize) -> Self {
        let (embed_dim, depth, num_heads) = match size {
            VitSize::Ti => (192, 12, 3),
            VitSize::S => (384, 12, 6),
            VitSize::B => (768, 12, 12),
            VitSize::L => (1024, 24, 16),
        };
        Self::custom(224, patch_size, embed_dim, depth, num_heads, num_classes)
    }

    /// A timm-style ViT of any shape (MLP 4 × width, LayerNorm ε 1e-6, class token, learned
    /// position embedding); [`VitConfig::check`] says whether it can be built.
    pub fn custom(
        img_size: usize,
        patch_size: usize,
        embed_dim: usize,
        depth: usize,
        num_heads: usize,
        num_classes: usize,
    ) -> Self {
        Self {
            img_size,
            patch_size,
            in_chans: 3,
            num_classes,
            embed_dim,
            depth,
            num_heads,
            mlp_hidden: embed_dim * 4,
            eps: 1e-6,
            arch: Arch::default(),
        }
    }
}
