//! [`Vit`]: a model's parameters and hyper-parameters, and the copies derived from its
//! parameters (transposed and absolute Linear weights, the plain buffers of the CPU pass). The
//! parameters are private: every change goes through [`Vit::set_weights`] or
//! [`Vit::update_weights`], which drop the derived copies, so they are never stale.

use crate::error::Invalid;
use burn::module::Param;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use std::sync::OnceLock;

use super::config::VitConfig;
use super::modules::{AbsoluteLinears, TransposedLinears, VitWeights, contiguous_transpose};
use super::trace::Probes;
use crate::model::infer::{CpuWeights, values};

/// A ViT: its parameters and its hyper-parameters.
#[derive(Debug)]
pub struct Vit {
    /// Parameters (a burn module); read with [`Vit::weights`], changed only through
    /// [`Vit::with_weights`] and [`Vit::set_head`], which drop the derived copies.
    pub(super) weights: VitWeights,
    /// Hyper-parameters.
    pub config: VitConfig,
    transposed: OnceLock<Vec<TransposedLinears>>,
    absolute: OnceLock<Vec<AbsoluteLinears>>,
    cpu: OnceLock<CpuWeights>,
}

impl VitConfig {
    /// Builds a model with fresh (random) parameters on `device`, initialised as timm does for
    /// training from scratch: Linear weights N(0, 0.02) with zero biases, LayerNorm 1 and 0,
    /// position embedding N(0, 0.02), class token N(0, 1e-6).
    pub fn init(&self, device: &Device) -> Vit {
        Vit::new(VitWeights::init(self, device), self.clone())
    }
}

impl Vit {
    /// A model from its parameters and hyper-parameters.
    pub fn new(weights: VitWeights, config: VitConfig) -> Self {
        Vit {
            weights,
            config,
            transposed: OnceLock::new(),
            absolute: OnceLock::new(),
            cpu: OnceLock::new(),
        }
    }

    /// The device the model's weights live on.
    pub fn device(&self) -> Device {
        self.weights.head.weight.val().device()
    }

    /// Replaces the head by a one-output linear map with weight `direction` and no bias, so the
    /// model's one output, the target every map explains, is `s = direction · cls` (the final
    /// class-token embedding; for an average-pool model the head's input, the pooled patch
    /// tokens after `fc_norm`). For headless encoders.
    pub fn set_direction(&mut self, direction: &[f32]) -> Result<(), Invalid> {
        let d = self.config.embed_dim;
        if direction.len() != d {
            return Err(Invalid::from(format!(
                "the direction has {} values, the model's embedding {d}",
                direction.len()
            )));
        }
        crate::io::guard::check_finite(direction, "the direction")?;
        let device = self.device();
        let mut head = LinearConfig::new(d, 1).with_bias(false).init(&device);
        head.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(direction.to_vec(), [d, 1]),
            &device,
        ));
        self.weights.head = head;
        self.config.num_classes = 1;
        Ok(())
    }

    /// The final class-token embedding (`None` for a model without one) and the mean of the
    /// patch tokens (registers excluded) after the final norm, for one `[1, 3, H, W]` input:
    /// `(cls, patch_mean)`.
    pub fn embeddings(&self, input: Tensor<4>) -> (Option<Tensor<1>>, Tensor<1>) {
        let depth = self.config.depth;
        let trace = self.forward_kept(input, Probes::NONE, depth..depth);
        let [_, n, d] = trace.normed.dims();
        let prefix = self.config.prefix();
        let cls = self
            .config
            .arch
            .class_token
            .then(|| trace.normed.clone().narrow(1, 0, 1).reshape([d]));
        let mean = trace
            .normed
            .narrow(1, prefix, n - prefix)
            .mean_dim(1)
            .reshape([d]);
        (cls, mean)
    }

    /// The parameters.
    pub fn weights(&self) -> &VitWeights {
        &self.weights
    }

    /// The model with its parameters replaced by `f` of them (an optimiser step, a randomised
    /// copy); the copies derived from the old ones are dropped.
    pub fn with_weights(self, f: impl FnOnce(VitWeights) -> VitWeights) -> Self {
        Vit::new(f(self.weights), self.config)
    }

    /// Replaces the classifier; the class count follows its outputs.
    pub fn set_head(&mut self, head: Linear) {
        self.config.num_classes = head.weight.dims()[1];
        self.weights.head = head;
    }

    /// The parameters and hyper-parameters.
    pub fn into_parts(self) -> (VitWeights, VitConfig) {
        (self.weights, self.config)
    }

    /// The logits `[b, classes]` of `b` normalised CHW images of `h × w` in `input`, by the
    /// plain-buffer pass on this thread ([`crate::model::infer`]).
    ///
    /// # Panics
    /// If `input` holds fewer than `b` images of the model's channels, or `h`, `w` are not
    /// multiples of the patch.
    pub fn forward_cpu(&self, input: &[f32], b: usize, h: usize, w: usize) -> Vec<f32> {
        let (gh, gw) = self.config.grid_for(h, w).expect("a grid of the patch");
        let pos = values(self.position(gh, gw));
        self.cpu_weights()
            .forward(&self.config, &self.weights.head, &pos, input, b, h, w)
    }

    /// Whether a pass on `input` runs over plain buffers ([`Vit::trace_cpu`]): on the CPU,
    /// with neither the input nor the parameters tracked for autodiff.
    pub fn on_plain_cpu(&self, input: &Tensor<4>) -> bool {
        input.device() == Device::flex()
            && !input.is_tracked()
            && !self.weights.head.weight.val().is_tracked()
            && !self.weights.patch_embed.proj.weight.val().is_tracked()
    }

    /// The parameters as plain buffers for [`Vit::forward_cpu`], built on first use and kept.
    pub fn cpu_weights(&self) -> &CpuWeights {
        self.cpu
            .get_or_init(|| CpuWeights::new(&self.weights, &self.config))
    }

    /// Every block's Linear weights transposed and contiguous, built on first use and kept
    /// (one more copy of those weights in memory).
    pub fn transposed_linears(&self) -> &[TransposedLinears] {
        self.transposed.get_or_init(|| {
            self.weights
                .blocks
                .iter()
                .map(|b| b.map_linears(contiguous_transpose))
                .collect()
        })
    }

    /// Every block's Linear weights as `|w|` and `|wᵀ|`, built on first use and kept (two more
    /// copies of those weights in memory; the relevance rules multiply by both on every call
    /// off the CPU, where the plain buffers' `|w|` serves instead).
    pub fn absolute_linears(&self) -> &[AbsoluteLinears] {
        self.absolute.get_or_init(|| {
            self.weights
                .blocks
                .iter()
                .map(|b| {
                    b.map_linears(|w| {
                        let abs = w.abs();
                        (abs.clone(), contiguous_transpose(abs))
                    })
                })
                .collect()
        })
    }
}
