//! Row-parallel evaluation of row-independent tensor work on the CPU backend.
//!
//! burn's CPU backend (Flex) runs element-wise ops on one thread; only its matrix products use
//! all cores. Work whose rows are independent (a Linear layer's relevance rule, the MLP's
//! backward pass) is therefore split into one block of rows per thread, each block evaluated
//! with ordinary tensor ops, and the blocks concatenated. Work that a product sums over (heads,
//! hidden features) is split along that dimension instead, and the parts added. On other
//! devices the work runs whole.

use burn::tensor::{Device, Tensor};

/// Row ranges `(start, len)` that split `m` rows across the CPU's threads; one range on other
/// devices.
pub fn row_chunks(m: usize, device: &Device) -> Vec<(usize, usize)> {
    let parts = if *device == Device::flex() {
        rayon::current_num_threads().clamp(1, m.max(1))
    } else {
        1
    };
    (0..parts)
        .map(|p| (p * m / parts, (p + 1) * m / parts - p * m / parts))
        .collect()
}

/// `f(start, len)` for the row blocks of [`row_chunks`] (in parallel), concatenated along
/// dimension 0.
pub fn par_rows<F>(m: usize, device: &Device, f: F) -> Tensor<2>
where
    F: Fn(usize, usize) -> Tensor<2> + Send + Sync,
{
    let chunks = row_chunks(m, device);
    if chunks.len() == 1 {
        return f(chunks[0].0, chunks[0].1);
    }
    use rayon::prelude::*;
    Tensor::cat(chunks.into_par_iter().map(|(s, l)| f(s, l)).collect(), 0)
}

/// `Σ f(start, len)` over the ranges of [`row_chunks`]`(units)`, evaluated in parallel: work
/// split along a dimension that a product sums over (attention heads before the output
/// projection, the MLP's hidden features), so each thread multiplies by its own part of the
/// weights and none packs the whole matrix.
pub fn par_sum<F>(units: usize, device: &Device, f: F) -> Tensor<2>
where
    F: Fn(usize, usize) -> Tensor<2> + Send + Sync,
{
    use rayon::prelude::*;
    row_chunks(units, device)
        .into_par_iter()
        .map(|(s, l)| f(s, l))
        .reduce_with(|a, b| a + b)
        .expect("at least one range")
}

/// [`par_rows`] for work with `K` outputs, each concatenated along dimension 0.
pub fn par_rows_each<const K: usize, F>(m: usize, device: &Device, f: F) -> [Tensor<2>; K]
where
    F: Fn(usize, usize) -> [Tensor<2>; K] + Send + Sync,
{
    let chunks = row_chunks(m, device);
    if chunks.len() == 1 {
        return f(chunks[0].0, chunks[0].1);
    }
    use rayon::prelude::*;
    let blocks: Vec<[Tensor<2>; K]> = chunks.into_par_iter().map(|(s, l)| f(s, l)).collect();
    let mut columns: Vec<Vec<Tensor<2>>> =
        (0..K).map(|_| Vec::with_capacity(blocks.len())).collect();
    for block in blocks {
        for (column, t) in columns.iter_mut().zip(block) {
            column.push(t);
        }
    }
    let mut columns = columns.into_iter();
    std::array::from_fn(|_| Tensor::cat(columns.next().unwrap_or_default(), 0))
}

/// `t` `[B, H, rows, K]` extended with zero rows (dimension 2) to `[B, H, n, K]`: the rows
/// beyond `rows` of a computation that only needed the first ones.
pub fn pad_rows(t: Tensor<4>, n: usize) -> Tensor<4> {
    let [b, h, rows, k] = t.dims();
    if rows == n {
        return t;
    }
    let zeros = Tensor::<4>::zeros([b, h, n - rows, k], &t.device());
    Tensor::cat(vec![t, zeros], 2)
}
