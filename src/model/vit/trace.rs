//! What [`super::Vit::forward_traced`] keeps: every block's activations, and the gradient
//! probes it can attach.

use burn::tensor::Tensor;

/// Activations of one block kept by [`Vit::forward_traced`].
#[derive(Debug, Clone)]
pub struct BlockTrace {
    /// Block input `[B, N, C]`.
    pub input: Tensor<3>,
    /// `norm1(input)` `[B, N, C]` (plus its gradient probe when probes are on).
    pub norm1: Tensor<3>,
    /// Output of `attn.qkv` `[B, N, 3C]` (q, k and v below are views of it).
    pub qkv: Tensor<3>,
    /// Unscaled queries `[B, H, N, Dh]`.
    pub q: Tensor<4>,
    /// Keys `[B, H, N, Dh]`.
    pub k: Tensor<4>,
    /// Values `[B, H, N, Dh]`.
    pub v: Tensor<4>,
    /// Attention probabilities `[B, H, N, N]` (plus its gradient probe when probes are on).
    pub attn: Tensor<4>,
    /// Heads concatenated, the input of `attn.proj` `[B, N, C]`.
    pub attn_heads: Tensor<3>,
    /// Output of `attn.proj` `[B, N, C]`.
    pub attn_out: Tensor<3>,
    /// What the attention branch adds to the residual: `attn_out`, times `ls1.gamma` with
    /// LayerScale `[B, N, C]`.
    pub attn_res: Tensor<3>,
    /// `input + attn_res` `[B, N, C]`.
    pub mid: Tensor<3>,
    /// `norm2(mid)` `[B, N, C]`.
    pub norm2: Tensor<3>,
    /// Output of `mlp.fc1` before the GELU `[B, N, hidden]`.
    pub fc1: Tensor<3>,
    /// GELU output, the input of `mlp.fc2` `[B, N, hidden]`.
    pub hidden: Tensor<3>,
    /// Output of `mlp.fc2` `[B, N, C]`.
    pub mlp_out: Tensor<3>,
    /// What the MLP branch adds: `mlp_out`, times `ls2.gamma` with LayerScale `[B, N, C]`.
    pub mlp_res: Tensor<3>,
    /// Block output `mid + mlp_res` `[B, N, C]`.
    pub output: Tensor<3>,
}

/// Zero-valued leaves added to intermediate tensors so that their gradients can be read.
#[derive(Debug, Clone)]
pub struct GradProbes {
    /// `(block, leaf)` added to that block's attention probabilities `[B, H, N, N]`.
    pub attn: Vec<(usize, Tensor<4>)>,
    /// Added to the last block's `norm1` output `[B, N, C]`, when requested.
    pub last_norm1: Option<Tensor<3>>,
}

/// Which intermediate tensors get gradient probes. Blocks before the first probe run without
/// autodiff, so a probe late in the network makes the backward pass cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Probes {
    /// Probe the attention probabilities of this block and every later one.
    pub attn_from: Option<usize>,
    /// Probe the last block's `norm1` output (GradCAM's target layer).
    pub last_norm1: bool,
}

impl Trace {
    /// The activations of block `i`, if they were kept.
    pub fn block(&self, i: usize) -> Option<&BlockTrace> {
        i.checked_sub(self.first_block)
            .and_then(|j| self.blocks.get(j))
    }
}

impl Probes {
    /// No gradients at all (plain inference).
    pub const NONE: Probes = Probes {
        attn_from: None,
        last_norm1: false,
    };

    pub(super) fn any(&self) -> bool {
        self.attn_from.is_some() || self.last_norm1
    }
}

/// Everything [`Vit::forward_traced`] records.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Index of the block whose activations are `blocks[0]`.
    pub first_block: usize,
    /// Activations of the kept blocks, `first_block..first_block + blocks.len()`.
    pub blocks: Vec<BlockTrace>,
    /// Patch grid `(rows, cols)` of the input.
    pub grid: (usize, usize),
    /// Final-norm output of every token `[B, N, C]`.
    pub normed: Tensor<3>,
    /// Final-norm output of the class token, the head's input `[B, C]`.
    pub pooled: Tensor<2>,
    /// Logits `[B, classes]`.
    pub logits: Tensor<2>,
    /// Gradient probes, when requested.
    pub probes: Option<GradProbes>,
}
