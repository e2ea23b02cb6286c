//! `vitscope bench --suite model`: a ViT's forward pass and the explanation maps a user waits
//! for on one image, each with the work of its products in GFLOP and the rate it ran at,
//! against the cores' measured FMA peak; with `--torch`, PyTorch's own calls of the same cases
//! (timm, pytorch-grad-cam, and Chefer's code when `CHEFER_DIR` names a checkout of it) on the
//! same threads, alternating with vitscope's case by case.

use std::time::Instant;

use anyhow::Result;
use burn::tensor::{Distribution, Tensor};

use vitscope::explain::{self, ExplainOptions, Method};
use vitscope::model::device::{self, DeviceChoice};
use vitscope::model::{VitConfig, VitSize};

use super::bench_common::{TorchLoop, median, pause};

/// The cases, in the order they run after the forward's products alone (`products`).
const CASES: [&str; 5] = ["forward", "attention", "gradcam", "gradcam-paper", "chefer"];

/// PyTorch's side: timm's model of the same size (2 classes, random weights), each case as the
/// reference code calls it, one call per request line (`CASE`), its seconds printed. The
/// forward and GradCAM run timm's default fused attention; the attention map is the paper's
/// `get_timm_attentions` (fused attention off, torchvision's feature extractor built on each
/// call, the last block's `attn.softmax` alone); GradCAM is pytorch-grad-cam on the last
/// `norm1` (paper: `eigen_smooth` and `aug_smooth`); Chefer's `transformer_attribution` runs
/// its own `ViT_LRP` model.
const TORCH_MODEL: &str = r#"
import os, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", sys.argv[1])
import numpy as np, torch, timm
torch.set_num_threads(int(sys.argv[1]))
name = {"ti": "vit_tiny_patch16_224", "s": "vit_small_patch16_224", "b": "vit_base_patch16_224", "l": "vit_large_patch16_224"}[sys.argv[2]]
torch.manual_seed(0)
x = torch.randn(1, 3, 224, 224)
fused = timm.create_model(name, pretrained=False, num_classes=2).eval()
timm.layers.set_fused_attn(False)
plain = timm.create_model(name, pretrained=False, num_classes=2).eval()
plain.load_state_dict(fused.state_dict())
from torchvision.models.feature_extraction import create_feature_extractor
last = len(plain.blocks) - 1
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
def reshape(t, h=14, w=14):
    r = t[:, 1:, :].reshape(t.size(0), h, w, t.size(2))
    return r.transpose(2, 3).transpose(1, 2)
cam = GradCAM(model=fused, target_layers=[fused.blocks[-1].norm1], reshape_transform=reshape)
targets = [ClassifierOutputTarget(1)]
lrp = None
if os.environ.get("CHEFER_DIR"):
    sys.path.insert(0, os.environ["CHEFER_DIR"])
    torch.Tensor.cuda = lambda self, *a, **k: self
    from baselines.ViT.ViT_LRP import VisionTransformer as LrpViT
    from baselines.ViT.ViT_explanation_generator import LRP
    dims = {"ti": (192, 12, 3), "s": (384, 12, 6), "b": (768, 12, 12), "l": (1024, 24, 16)}[sys.argv[2]]
    model = LrpViT(img_size=224, patch_size=16, num_classes=2, embed_dim=dims[0], depth=dims[1], num_heads=dims[2], mlp_ratio=4, qkv_bias=True)
    model.load_state_dict(fused.state_dict(), strict=False)
    lrp = LRP(model.eval())
mats = {}
def gemm(lib, m, k, n, calls):
    # The median of `calls` calls of one product after an untimed one; operands and output
    # made once per shape.
    if (m, k, n) not in mats:
        a, b = torch.rand(m, k) * 2 - 1, torch.rand(k, n) * 2 - 1
        mats[(m, k, n)] = (a, b, torch.empty(m, n), a.numpy(), b.numpy(), np.empty((m, n), np.float32))
    a, b, c, an, bn, cn = mats[(m, k, n)]
    f = (lambda: torch.matmul(a, b, out=c)) if lib == "torch" else (lambda: np.matmul(an, bn, out=cn))
    f()
    ts = []
    for _ in range(calls):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[calls // 2]
def run(case):
    if case.startswith("gemm "):
        lib, m, k, n, calls = case.split()[1:]
        return gemm(lib, int(m), int(k), int(n), int(calls))
    if case == "forward":
        with torch.no_grad():
            fused(x)
    elif case == "attention":
        # The paper's get_timm_attentions: the extractor built on each call, the softmax only.
        fe = create_feature_extractor(plain, return_nodes=[f"blocks.{last}.attn.softmax"])
        with torch.no_grad():
            out = fe(x)
        out[f"blocks.{last}.attn.softmax"][0, :, 0, 1:].mean(0).reshape(14, 14)
    elif case == "gradcam":
        cam(input_tensor=x, targets=targets)
    elif case == "gradcam-paper":
        cam(input_tensor=x, targets=targets, eigen_smooth=True, aug_smooth=True)
    elif case == "chefer":
        if lrp is None:
            return float("nan")
        lrp.generate_LRP(x, method="transformer_attribution", index=1)
    return None
for case in ["forward", "attention", "gradcam", "gradcam-paper"] + (["chefer"] if lrp else []):
    run(case)
print("ready", torch.__version__, timm.__version__, flush=True)
for line in sys.stdin:
    t = time.perf_counter()
    r = run(line.strip())
    print(r if r is not None else time.perf_counter() - t, flush=True)
"#;

/// Multiply-adds of the products of each case on a ViT of `cfg` at its own input size, as
/// vitscope computes it (element-wise work left out): with a class token, the last block's
/// queries, projection and MLP run on it alone in the plain-buffer pass and in the backward;
/// Chefer's relevance runs on the tensor path, whose forward keeps every row.
fn case_macs(cfg: &VitConfig, case: &str) -> f64 {
    let (d, f, depth) = (
        cfg.embed_dim as f64,
        cfg.mlp_hidden as f64,
        cfg.depth as f64,
    );
    let n = cfg.tokens() as f64;
    let embed = (n - cfg.prefix() as f64) * d * (cfg.in_chans * cfg.patch_size.pow(2)) as f64;
    // One block's forward with `q` rows past the attention's keys and values.
    let block = |q: f64| n * 3.0 * d * d + 2.0 * q * n * d + q * (d * d + 2.0 * d * f);
    let q_last = if cfg.arch.class_token { 1.0 } else { n };
    let forward = embed + (depth - 1.0) * block(n) + block(q_last);
    // The backward through the last block to its norm1 (GradCAM), rows `q` past the attention.
    let back_last = q_last * (2.0 * d * f + d * d) + 4.0 * q_last * n * d + n * 3.0 * d * d;
    match case {
        "forward" | "attention" => forward,
        "gradcam" => forward + back_last,
        "gradcam-paper" => 6.0 * (forward + back_last),
        "chefer" => {
            let full = embed + depth * block(n);
            let back = |q: f64| q * (2.0 * d * f + d * d) + 4.0 * q * n * d + n * 3.0 * d * d;
            let grads = back(q_last) + (depth - 1.0) * back(n);
            // Linear rule: three products of each layer's size; the attention's rules ~6 q·n·d.
            let lrp =
                |q: f64| 3.0 * (q * (d * d + 2.0 * d * f) + n * 3.0 * d * d) + 6.0 * q * n * d;
            full + grads + lrp(q_last) + (depth - 1.0) * lrp(n)
        }
        _ => f64::NAN,
    }
}

/// Independent chains of fused multiply-adds on the widest vectors the CPU has.
struct FmaChains(usize);

impl pulp::WithSimd for FmaChains {
    /// (a value that depends on every step, lanes per vector)
    type Output = (f32, usize);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> (f32, usize) {
        let a = simd.splat_f32s(std::hint::black_box(0.999_999));
        let b = simd.splat_f32s(std::hint::black_box(1e-7));
        let mut acc = [simd.splat_f32s(1.0); CHAINS];
        for _ in 0..self.0 {
            for c in acc.iter_mut() {
                *c = simd.mul_add_f32s(*c, a, b);
            }
        }
        let sum = acc.iter().map(|&c| simd.reduce_sum_f32s(c)).sum();
        (sum, std::mem::size_of::<S::f32s>() / 4)
    }
}

/// Chains per thread: enough independent ones to cover two FMA units' latency.
const CHAINS: usize = 12;

/// FMA rate of this machine's cores in GFLOP/s: every thread runs [`FmaChains`] in the widest
/// SIMD the CPU has; the best of three.
fn fma_peak() -> f64 {
    use rayon::prelude::*;
    const ITERS: usize = 20_000_000;
    let threads = rayon::current_num_threads();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            let runs: Vec<(f32, usize)> = (0..threads)
                .into_par_iter()
                .map(|_| pulp::Arch::new().dispatch(FmaChains(ITERS)))
                .collect();
            let secs = t.elapsed().as_secs_f64();
            let lanes = runs.first().map_or(1, |r| r.1);
            std::hint::black_box(runs);
            (threads * ITERS * CHAINS * lanes * 2) as f64 / secs / 1e9
        })
        .fold(0.0, f64::max)
}

/// Times the model cases; see the module's text.
pub fn model_suite(
    size: VitSize,
    choice: DeviceChoice,
    cases: &[String],
    iters: u32,
    torch: bool,
) -> Result<()> {
    if let Some(bad) = cases
        .iter()
        .find(|c| c.as_str() != "products" && !CASES.contains(&c.as_str()))
    {
        anyhow::bail!("unknown case '{bad}' (products, {})", CASES.join(", "));
    }
    let wanted = |case: &str| cases.is_empty() || cases.iter().any(|c| c == case);
    let threads = rayon::current_num_threads();
    let name = <&str>::from(size);
    // PyTorch first: a missing interpreter is said before any work.
    let mut torch = if torch {
        Some(TorchLoop::start(
            TORCH_MODEL,
            &[&threads.to_string(), name],
        )?)
    } else {
        None
    };
    let device = device::resolve(choice);
    let cfg = VitConfig::sized(size, 16, 2);
    let vit = cfg.init(&device);
    let input = Tensor::<4>::random([1, 3, 224, 224], Distribution::Normal(0.0, 1.0), &device);
    println!(
        "model suite: ViT-{}/16 at 224, random weights, device {}, {threads} threads, median of {iters}",
        name.to_uppercase(),
        device::describe(&device),
    );
    let peak = fma_peak();
    println!("measured FMA peak of the {threads} threads: {peak:.0} GFLOP/s");
    if let Some(t) = &torch {
        println!(
            "PyTorch: {} ({}), alternating case by case",
            t.versions,
            t.python_name()
        );
    }
    // The rate the forward's products reach at the fastest measured rate of each shape.
    let gemm_rate = if wanted("products") {
        Some(super::bench_products::products(
            &vit.config,
            iters,
            torch.as_mut(),
        )?)
    } else {
        None
    };
    // Warm-up (allocator, kernels, the plain buffers of the weights).
    let _ = explain::to_vec(vit.forward(input.clone()));
    println!(
        "{:<14} {:>7} {:>9} {:>9} {:>10} {:>10} {:>9} {:>7}",
        "case", "GFLOP", "median s", "GFLOP/s", "of peak", "of GEMM", "PyTorch s", "ratio"
    );
    for name in CASES {
        if !wanted(name) {
            continue;
        }
        let method = Method::ALL.into_iter().find(|m| m.name() == name);
        let opts = ExplainOptions {
            target: Some(1),
            ..Default::default()
        };
        let once = || -> Result<f64> {
            let t = Instant::now();
            match method {
                None => {
                    std::hint::black_box(explain::to_vec(vit.forward(input.clone()))?);
                }
                Some(m) => {
                    std::hint::black_box(explain::explain(&vit, input.clone(), m, &opts)?);
                }
            }
            Ok(t.elapsed().as_secs_f64())
        };
        once()?; // warm
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..iters.max(1) {
            if let Some(t) = torch.as_mut() {
                pause(300);
                theirs.push(t.run(name)?);
                pause(300);
            }
            ours.push(once()?);
        }
        let secs = median(ours);
        let gflop = 2.0 * case_macs(&vit.config, name) / 1e9;
        let rate = gflop / secs;
        let (torch_s, ratio) = if theirs.is_empty() || theirs.iter().any(|t| t.is_nan()) {
            ("-".to_string(), "-".to_string())
        } else {
            let t = median(theirs);
            (format!("{t:.3}"), format!("{:.2}", secs / t))
        };
        let of_gemm = gemm_rate.map_or("-".to_string(), |g| format!("{:.0} %", 100.0 * rate / g));
        println!(
            "{name:<14} {gflop:>7.1} {secs:>9.3} {rate:>9.0} {:>8.0} % {of_gemm:>10} {torch_s:>9} {ratio:>7}",
            100.0 * rate / peak
        );
    }
    Ok(())
}
