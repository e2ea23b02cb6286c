//! The products of a ViT's forward pass timed alone: vitscope's ([`dense_product`], the one the
//! CPU passes run) against PyTorch's `matmul` (MKL) and NumPy's (OpenBLAS) on the same shapes
//! and threads, alternating; and what the forward's products cost at the fastest rate measured
//! for each shape, the rate the model cases are held to.

use std::time::Instant;

use anyhow::Result;

use vitscope::model::{VitConfig, dense_product};

use super::bench_common::{TorchLoop, median, pause};

/// The pause before each side's turn, in ms.
const PAUSE_MS: u64 = 100;

/// Calls of one product per timed round (their median is the round's time): enough for a
/// round to outlast the cores' wake-up after the pause before it (a few ms on this VM).
const CALLS: usize = 40;

/// One product shape of the forward: `[m, k] · [k, n]`, `count` times.
struct Product {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    count: usize,
}

impl Product {
    fn gflop(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64 / 1e9
    }
}

/// The forward's layer products as the CPU pass runs them (the attention's own products left
/// out): the patch embedding, and per block qkv, projection and MLP; with a class token the
/// last block's projection and MLP run on its row alone.
fn forward_products(cfg: &VitConfig) -> Vec<Product> {
    let (d, f, depth) = (cfg.embed_dim, cfg.mlp_hidden, cfg.depth);
    let n = cfg.tokens();
    let q_last = if cfg.arch.class_token { 1 } else { n };
    let full = if q_last == n { depth } else { depth - 1 };
    let mut all = vec![
        Product {
            name: "patch embed",
            m: n - cfg.prefix(),
            k: cfg.in_chans * cfg.patch_size.pow(2),
            n: d,
            count: 1,
        },
        Product {
            name: "qkv",
            m: n,
            k: d,
            n: 3 * d,
            count: depth,
        },
    ];
    for (name, k, cols) in [("projection", d, d), ("fc1", d, f), ("fc2", f, d)] {
        all.push(Product {
            name,
            m: n,
            k,
            n: cols,
            count: full,
        });
        if full < depth {
            all.push(Product {
                name,
                m: q_last,
                k,
                n: cols,
                count: depth - full,
            });
        }
    }
    all
}

/// The median time of [`CALLS`] calls of vitscope's product, after one untimed call (as
/// PyTorch's side does).
fn ours_once(a: &[f32], b: &[f32], p: &Product) -> f64 {
    std::hint::black_box(dense_product(a, p.m, p.k, b, p.n));
    let times = (0..CALLS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(dense_product(a, p.m, p.k, b, p.n));
            t.elapsed().as_secs_f64()
        })
        .collect();
    median(times)
}

/// Deterministic operands in [-1, 1).
fn operand(len: usize, seed: u32) -> Vec<f32> {
    (0..len as u32)
        .map(|i| {
            let h = (i ^ seed).wrapping_mul(0x9E37_79B1).rotate_left(13);
            (h >> 8) as f32 / (1u32 << 23) as f32 - 1.0
        })
        .collect()
}

/// Times the forward's products (see the module's text) over `rounds` rounds, PyTorch's and
/// NumPy's alternating with vitscope's when `torch` runs; prints a table and returns the rate
/// in GFLOP/s at which the forward's products run at the fastest measured rate of each shape.
pub fn products(cfg: &VitConfig, rounds: u32, mut torch: Option<&mut TorchLoop>) -> Result<f64> {
    println!(
        "the forward's products alone (median of {rounds} rounds of {CALLS} calls each; PyTorch's matmul runs MKL, NumPy's OpenBLAS):"
    );
    println!(
        "{:<12} {:>16} {:>5} {:>6} {:>9} {:>9} {:>9}",
        "product", "m×k · k×n", "count", "GFLOP", "vitscope", "PyTorch", "NumPy"
    );
    let (mut ours_s, mut best_s, mut total_gflop) = (0.0, 0.0, 0.0);
    for p in forward_products(cfg) {
        let a = operand(p.m * p.k, 1);
        let b = operand(p.k * p.n, 2);
        ours_once(&a, &b, &p); // warm
        let request = |lib: &str| format!("gemm {lib} {} {} {} {CALLS}", p.m, p.k, p.n);
        let (mut ours, mut mkl, mut blas) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds.max(1) {
            if let Some(t) = torch.as_deref_mut() {
                pause(PAUSE_MS);
                mkl.push(t.run(&request("torch"))?);
                pause(PAUSE_MS);
                blas.push(t.run(&request("numpy"))?);
            }
            pause(PAUSE_MS);
            ours.push(ours_once(&a, &b, &p));
        }
        let rate = |v: Vec<f64>| (!v.is_empty()).then(|| p.gflop() / median(v));
        let (ours, mkl, blas) = (rate(ours), rate(mkl), rate(blas));
        let best = [ours, mkl, blas].into_iter().flatten().fold(0.0, f64::max);
        let gflop = p.gflop() * p.count as f64;
        total_gflop += gflop;
        ours_s += gflop / ours.unwrap_or(f64::NAN);
        best_s += gflop / best;
        let show = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.0}"));
        println!(
            "{:<12} {:>16} {:>5} {:>6.2} {:>9} {:>9} {:>9}  GFLOP/s",
            p.name,
            format!("{}×{} · {}×{}", p.m, p.k, p.k, p.n),
            p.count,
            p.gflop(),
            show(ours),
            show(mkl),
            show(blas)
        );
    }
    let best_rate = total_gflop / best_s;
    println!(
        "the forward's {total_gflop:.1} GFLOP of products: vitscope's {ours_s:.3} s ({:.0} GFLOP/s); at the fastest measured rate of each shape {best_s:.3} s ({best_rate:.0} GFLOP/s)",
        total_gflop / ours_s
    );
    let cold = cold_products(cfg, rounds);
    println!(
        "the same products with a weight of its own each, read once from memory as in a forward: vitscope's {cold:.3} s ({:.0} GFLOP/s)",
        total_gflop / cold
    );
    Ok(best_rate)
}

/// The median time of the forward's products (see [`forward_products`]) with a weight of its
/// own each, so that every weight comes from memory once per round, as in a forward pass
/// (alone, a product's weight stays in cache from call to call).
fn cold_products(cfg: &VitConfig, rounds: u32) -> f64 {
    let products = forward_products(cfg);
    let weights: Vec<Vec<Vec<f32>>> = products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            (0..p.count)
                .map(|c| operand(p.k * p.n, (i * 64 + c) as u32 + 3))
                .collect()
        })
        .collect();
    let inputs: Vec<Vec<f32>> = products.iter().map(|p| operand(p.m * p.k, 1)).collect();
    let once = || {
        let t = Instant::now();
        for ((p, ws), a) in products.iter().zip(&weights).zip(&inputs) {
            for w in ws {
                std::hint::black_box(dense_product(a, p.m, p.k, w, p.n));
            }
        }
        t.elapsed().as_secs_f64()
    };
    once(); // warm
    median((0..rounds.max(1)).map(|_| once()).collect())
}
