//! Chefer et al.'s generic attention-model explainability (ICCV 2021), the rule of the
//! `generate_relevance` cell of their ViT notebook: no LRP, only attention and its gradient.
//!
//! `R = I`; for every block from the first to the last, `cam = mean_heads(clamp(∂y/∂A ⊙ A,
//! min = 0))` and `R = R + cam · R`; the map is the class-token row of `R` over the patch tokens
//! (after the class token and any registers; without a class token the mean of the patch
//! tokens' rows), not normalised. Since `R = (I + cam_L) ⋯ (I +
//! cam_0)`, only its first row is formed: a row vector times each factor, last block first.

use burn::tensor::Tensor;

use super::shared::{ExplainError, PatchMap, check_target, output_row, patch_row, to_vec};
use crate::model::{GradRequest, Probes, Vit};

/// Returns (target, logits, grid map, not normalised).
pub fn generic_map(
    vit: &Vit,
    input: Tensor<4>,
    target: Option<usize>,
) -> Result<(usize, Vec<f32>, PatchMap), ExplainError> {
    let trace = vit.forward_traced(input, Probes::NONE);
    let logits = to_vec(trace.logits.clone())?;
    let target = check_target(target, &logits)?;
    let request = GradRequest {
        attn_from: Some(0),
        last_norm1: false,
    };
    let grads = vit.logit_gradients(&trace, target, request)?.attn;
    let n = trace.normed.dims()[1];
    let device = trace.logits.device();
    let eye = Tensor::<2>::eye(n, &device);
    let mut row: Option<Tensor<2>> = None; // [1, N]
    for (i, g) in grads.iter().rev() {
        let block = trace
            .block(*i)
            .ok_or_else(|| ExplainError::Data(format!("block {i} was not kept")))?;
        let cam = (g.clone() * block.attn.clone())
            .clamp_min(0.0)
            .mean_dim(1)
            .reshape([n, n]);
        row = Some(match row {
            None => output_row(&vit.config, cam + eye.clone()),
            Some(r) => r.clone() + r.matmul(cam),
        });
    }
    let row = row.ok_or_else(|| ExplainError::Option("model has no blocks".into()))?;
    Ok((target, logits, patch_row(vit, row, trace.grid)?))
}
