//! Attention rollout as Chefer's `Baselines.generate_rollout(start_layer=0)` computes it: per
//! block the mean over heads plus the identity, each row divided by its sum, the product from the
//! first block to the last (`A_L ... A_1 A_0`), class-token row, the patch keys (after the
//! class token and any registers; the row sums include the registers). Only row 0 of the
//! product is needed, so it is evaluated as a row vector times each matrix in turn. A model
//! without a class token reads the mean of the patch tokens: the mean of their rows.

use burn::tensor::Tensor;

use super::shared::{ExplainError, PatchMap, output_row, patch_row, to_vec};
use crate::model::{Probes, Vit};

/// Returns (logits, grid map, not normalised).
pub fn rollout_map(vit: &Vit, input: Tensor<4>) -> Result<(Vec<f32>, PatchMap), ExplainError> {
    let trace = vit.forward_traced(input, Probes::NONE);
    let n = trace.normed.dims()[1];
    let device = trace.logits.device();
    let eye = Tensor::<2>::eye(n, &device);
    let aug = |attn: Tensor<4>| {
        let a = attn.mean_dim(1).reshape([n, n]) + eye.clone();
        let sums = a.clone().sum_dim(1);
        a / sums
    };
    let mut row: Option<Tensor<2>> = None; // [1, N]
    for blk in trace.blocks.iter().rev() {
        let a = aug(blk.attn.clone());
        row = Some(match row {
            None => output_row(&vit.config, a),
            Some(r) => r.matmul(a),
        });
    }
    let row = row.ok_or_else(|| ExplainError::Option("model has no blocks".into()))?;
    Ok((to_vec(trace.logits)?, patch_row(vit, row, trace.grid)?))
}
