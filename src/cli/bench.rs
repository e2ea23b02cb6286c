//! `vitscope bench`: medians of repeated runs, beside the references that the issues quote for
//! these 2-core machines (the paper's Python for the metrics) or, with `--torch` / `--scipy`,
//! the reference libraries timed in the same run (`bench_model` for the model suite).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, ValueEnum};

use vitscope::metrics::{self, Mask, Rect};
use vitscope::model::device::{self, DeviceChoice};
use vitscope::model::{VitConfig, VitSize};

use super::bench_common::{TorchLoop, median, time};
use super::common::choice;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Suite {
    /// ViT-B/16 forward and explanation maps.
    Model,
    /// Pointing game + IoU at several map sizes.
    Metrics,
    /// The workbench's map store headless: score a generated phantom project, report peak RSS.
    App,
    /// Faithfulness tests: both perturbation tests of a ViT-B/16 map, deletion + insertion on
    /// the bundled model.
    Faithfulness,
    /// The mask effects on the assist fixture's 2048 × 2048 `speed-*` cases (inputs read
    /// outside the timing); with --scipy, scipy / scikit-image on the same inputs, alternating.
    Assist,
    /// Sharded eval: N shard processes one after another against one unsharded run, and the
    /// merge of 100,000 scored maps.
    Shard,
    /// Both.
    All,
}

#[derive(Args)]
pub struct BenchArgs {
    /// What to benchmark.
    #[arg(long, value_enum, default_value_t = Suite::All)]
    suite: Suite,
    /// Repetitions per case (the median is reported).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub iters: u32,
    /// Model size for the model suite.
    #[arg(long, value_parser = choice::<VitSize>(), default_value = "b")]
    model: VitSize,
    /// Device for the model suite.
    #[arg(long, value_parser = choice::<DeviceChoice>(), default_value = "cpu")]
    device: DeviceChoice,
    /// Map sides for the metrics suite.
    #[arg(long, value_delimiter = ',', default_value = "224,1024,2048,4096", value_parser = clap::value_parser!(u32).range(2..=8192))]
    sizes: Vec<u32>,
    /// Model cases to time (default: all of products, forward, attention, gradcam, gradcam-paper,
    /// chefer; `products` times the forward's layer products alone).
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Metric backends to time (cpu, gpu).
    #[arg(long, value_parser = choice::<DeviceChoice>(), value_delimiter = ',', default_value = "cpu,gpu")]
    backends: Vec<DeviceChoice>,
    /// Shard suite: the shard count.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub shards: u64,
    /// Shard suite: the checkpoint to evaluate, WEIGHTS[,CONFIG] (default: the bundled model).
    #[arg(long, value_delimiter = ',', num_args = 1..=2)]
    pub shard_checkpoint: Option<Vec<PathBuf>>,
    /// App suite: images of the generated project (shard suite: of the phantom dataset).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub images: u64,
    /// App suite: side of the generated images.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(32..=8192))]
    size: u64,
    /// App suite: budget of the maps cache in MiB (default 1024, as the workbench).
    #[arg(long, value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    map_cache_mb: Option<u64>,
    /// Model and faithfulness suites: also time PyTorch's own calls on the same threads,
    /// alternating with vitscope's (the model suite: timm, pytorch-grad-cam, and Chefer's code
    /// from `$CHEFER_DIR`; the faithfulness suite: timm ViT-B/16, 19 single forwards, and the
    /// goal set from it). Needs a Python with torch and timm: `$VITSCOPE_PYTHON`, else
    /// `python3`.
    #[arg(long)]
    torch: bool,
    /// Assist suite: the fixture folder (cases.json).
    #[arg(long, default_value = "../shared/fixtures/assist")]
    assist_cases: PathBuf,
    /// Assist suite: also time the reference calls of scipy and scikit-image on the same inputs
    /// (`$VITSCOPE_PYTHON`, else `python3`).
    #[arg(long)]
    scipy: bool,
}

/// PyTorch's eager loop of the perturbation pair, as a server: builds timm's ViT-B/16 (random
/// weights) on `THREADS` threads, warms up, prints `ready TORCH TIMM`, then for each `run` line
/// on stdin times 19 single forwards without gradient and prints the seconds.
const TORCH_LOOP: &str = r#"
import sys, time, torch, timm
torch.set_num_threads(int(sys.argv[1]))
m = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=2).eval()
x = torch.randn(1, 3, 224, 224)
with torch.no_grad():
    for _ in range(2):
        m(x)
    print("ready", torch.__version__, timm.__version__, flush=True)
    for line in sys.stdin:
        t = time.perf_counter()
        for _ in range(19):
            m(x)
        print(time.perf_counter() - t, flush=True)
"#;

/// Peak resident set of this process (VmHWM), MiB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Generates an N-image S² phantom project in a temp folder and scores all of it through the
/// workbench's map store and workers, headless.
fn app_suite(args: &BenchArgs) -> Result<()> {
    use vitscope::app::store::{self, DEFAULT_CACHE_MB, MapStore};
    let (n, size) = (args.images as usize, args.size as usize);
    let dir = std::env::temp_dir().join(format!("vitscope-bench-app-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let t = Instant::now();
    // The project is generated by a child `vitscope phantom`, so the peak RSS reported is the
    // scoring's alone (the generator's buffers would stay mapped in this process).
    let exe = std::env::current_exe()?;
    let status = std::process::Command::new(exe)
        .arg("phantom")
        .arg("--out")
        .arg(&dir)
        .args([
            "--n",
            &n.to_string(),
            "--seed",
            "1",
            "--size",
            &size.to_string(),
        ])
        .stderr(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        anyhow::bail!("generating the phantom project failed ({status})");
    }
    eprintln!(
        "app suite: {n} phantom images of {size}² written in {:.1} s to {}",
        t.elapsed().as_secs_f64(),
        dir.display()
    );
    let session = vitscope::app::session_for(&dir)?;
    let cache_mb = args.map_cache_mb.unwrap_or(DEFAULT_CACHE_MB);
    let mut st = MapStore::new(|| {}, None, cache_mb);
    let t = Instant::now();
    st.start_batch(store::batch_job(&session, 20.0));
    let mut max_cache = 0usize;
    while st.batch.running {
        std::thread::sleep(std::time::Duration::from_millis(20));
        st.poll();
        max_cache = max_cache.max(st.cache.bytes());
    }
    let secs = t.elapsed().as_secs_f64();
    let (scored, failed) = (st.batch.rows.len(), st.batch.failed.len());
    let _ = std::fs::remove_dir_all(&dir);
    if let Some((i, e)) = st.batch.failed.first() {
        eprintln!("image {i} failed: {e}");
    }
    eprintln!(
        "app suite: {scored} scored, {failed} failed in {secs:.1} s; maps cache peak {:.0} MiB of {cache_mb} MiB",
        max_cache as f64 / (1 << 20) as f64
    );
    if scored + failed != n {
        anyhow::bail!("the batch ended after {} of {n} images", scored + failed);
    }
    println!(
        "app bench: images={n} size={size} peak_rss_mb={:.0} images_per_s={:.2}",
        peak_rss_mb(),
        n as f64 / secs
    );
    Ok(())
}

fn faithfulness_suite(args: &BenchArgs) -> Result<()> {
    use vitscope::faithfulness::suite::{self, Input, Test};
    use vitscope::model::preprocess::{Normalization, ResizeMode};
    let device = device::resolve(args.device);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "faithfulness suite: device {}, {threads} threads, median of {}",
        device::describe(&device),
        args.iters
    );
    println!(
        "{:<40} {:>9} {:>10} {:>11} {:>7}",
        "case", "forwards", "median s", "goal s", "ratio"
    );
    // A smooth synthetic image and map (ties in neither).
    let image = |size: usize| vitscope::io::image::Image {
        width: size,
        height: size,
        planes: (0..3)
            .map(|c| {
                (0..size * size)
                    .map(|i| {
                        let (x, y) = ((i % size) as f32, (i / size) as f32);
                        0.5 + 0.4 * ((x * 0.05 + c as f32).sin() * (y * 0.07).cos())
                    })
                    .collect()
            })
            .collect(),
    };
    let map = |size: usize| -> Vec<f32> {
        (0..size * size)
            .map(|i| ((i % size) as f32 * 0.031).sin() + (i / size) as f32 * 1e-3 + i as f32 * 1e-9)
            .collect()
    };
    // Each case as the CLI runs it: the clean input's forward, then the tests' inputs. With
    // `torch`, each repetition follows one of PyTorch's loops, and the goal is half of their
    // median.
    let case = |name: &str,
                vit: &vitscope::model::Vit,
                tests: &[Test],
                goal: f64,
                mut torch: Option<&mut TorchLoop>|
     -> Result<()> {
        let s = vit.config.img_size;
        let input = Input::new(&image(s), s, ResizeMode::Resize, Normalization::default());
        let m = map(s);
        let forwards: usize = 1 + tests.iter().map(|t| t.forwards(s * s)).sum::<usize>();
        let once = || -> Result<f64> {
            let t = Instant::now();
            let clean = input.logits(vit)?;
            suite::run(vit, &input, &m, &clean, tests, |_, _| true)?;
            Ok(t.elapsed().as_secs_f64())
        };
        once()?;
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for _ in 0..args.iters.max(1) {
            if let Some(t) = torch.as_deref_mut() {
                theirs.push(t.run("run")?);
                // PyTorch's OpenMP threads spin for a while after a parallel region; let them
                // go idle before vitscope's turn.
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            ours.push(once()?);
        }
        let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
        let secs = median(ours);
        let goal = if theirs.is_empty() {
            goal
        } else {
            0.5 * median(theirs.clone())
        };
        println!(
            "{name:<40} {forwards:>9} {secs:>10.3} {goal:>11.3} {:>7.2}",
            secs / goal
        );
        if let Some(t) = torch {
            let (lo, hi) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
            println!(
                "  PyTorch's loop ({}, {threads} threads), alternating: median {:.3} s; \
                 vitscope / PyTorch per repetition: median {:.2}× ({lo:.2}–{hi:.2}), goal 0.5×",
                t.versions,
                median(theirs),
                median(ratios.clone()),
            );
        }
        Ok(())
    };
    let vit_b = VitConfig::sized(VitSize::B, 16, 2).init(&device);
    // Goal: half of PyTorch's eager loop on this machine: timed alongside with --torch, else
    // the issue's figure (19 forwards × 0.209 s).
    let mut torch = if args.torch {
        Some(TorchLoop::start(TORCH_LOOP, &[&threads.to_string()])?)
    } else {
        None
    };
    case(
        "ViT-B/16 perturb-pos + perturb-neg",
        &vit_b,
        &[Test::PerturbPos, Test::PerturbNeg],
        0.5 * 19.0 * 0.209,
        torch.as_mut(),
    )?;
    drop(torch);
    let (weights, config) = (
        vitscope::app::demo_dir().join("model.safetensors"),
        vitscope::app::demo_dir().join("config.json"),
    );
    let opts = vitscope::model::LoadOptions {
        config_file: Some(config),
        ..Default::default()
    };
    let (demo, _) = vitscope::model::load_vit(&weights, &opts, &device)?;
    case(
        "bundled model deletion + insertion",
        &demo,
        &[Test::Deletion, Test::Insertion],
        1.0,
        None,
    )?;
    Ok(())
}

fn metrics_suite(args: &BenchArgs) -> Result<()> {
    println!(
        "metrics suite: PG + IoU(rect, binary) + Dice + energy at top 5/10/20/40 %, median of {}; \
         the paper's Python takes ~122 ms at 224x224",
        args.iters.max(5)
    );
    println!(
        "{:<8} {:<8} {:>12} {:>14}",
        "side", "backend", "median ms", "vs Python@224"
    );
    let tops = metrics::PAPER_TOPS;
    for side in args.sizes.iter().map(|&s| s as usize) {
        // Smooth map with plateaus (ties) plus noise, and a box mask.
        let mut seed = 0x2545_f491_u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 24) as f32
        };
        let map: Vec<f32> = (0..side * side)
            .map(|i| {
                let (x, y) = (
                    (i % side) as f32 / side as f32,
                    (i / side) as f32 / side as f32,
                );
                let base = (-(((x - 0.6).powi(2) + (y - 0.4).powi(2)) * 8.0)).exp();
                (base * 64.0).floor() / 64.0 + rnd() * 0.01
            })
            .collect();
        let mask = Mask::from_rects(
            side,
            side,
            &[Rect {
                x0: side / 2,
                y0: side / 4,
                x1: side * 3 / 4,
                y1: side / 2,
            }],
        );
        for &backend in &args.backends {
            let label = match backend {
                DeviceChoice::Gpu => "gpu",
                DeviceChoice::Cpu => "cpu",
                DeviceChoice::Auto => "auto",
            };
            // First call builds pipelines; not timed.
            if let Err(e) = metrics::gpu::compute(&map, side, side, &mask, &tops, backend) {
                println!("{side:<8} {label:<8} unavailable: {e}");
                continue;
            }
            let ms = 1e3
                * time(args.iters.max(5), || {
                    metrics::gpu::compute(&map, side, side, &mask, &tops, backend)
                });
            println!("{side:<8} {label:<8} {ms:>12.3} {:>13.0}x", 122.0 / ms);
        }
    }
    Ok(())
}

/// The assist suite: each `speed-*` case's effect, median of `iters`, beside the reference.
fn assist_suite(args: &BenchArgs) -> Result<()> {
    use clap::Parser;
    let root = &args.assist_cases;
    let cases: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("cases.json"))
            .map_err(|e| anyhow::anyhow!("{}: {e}", root.join("cases.json").display()))?,
    )?;
    let tmp = tempfile::tempdir()?;
    println!(
        "assist suite: 2048 × 2048 cases, median of {} (ms); reference = scipy / scikit-image, the same inputs, alternating",
        args.iters
    );
    println!(
        "{:<18} {:>10} {:>12} {:>8}",
        "case", "vitscope", "reference", "ratio"
    );
    for case in cases["cases"].as_array().into_iter().flatten() {
        let name = case["name"].as_str().unwrap_or_default();
        if !case["speed"].as_bool().unwrap_or(false) {
            continue;
        }
        let argv = super::mask::fixture_argv(case, root, tmp.path())?;
        let prepared = super::mask::prepare(super::mask::MaskCommand::try_parse_from(&argv)?.args)?;
        let mut times = Vec::new();
        let mut refs = Vec::new();
        for _ in 0..args.iters {
            let t = std::time::Instant::now();
            std::hint::black_box(prepared.run());
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if args.scipy {
                refs.push(reference_ms(case, root, tmp.path())?);
            }
        }
        let med = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let (ours, theirs) = (med(&mut times).unwrap_or(f64::NAN), med(&mut refs));
        match theirs {
            Some(r) => println!("{name:<18} {ours:>10.1} {r:>12.1} {:>8.2}", ours / r),
            None => println!("{name:<18} {ours:>10.1} {:>12} {:>8}", "–", "–"),
        }
    }
    Ok(())
}

/// One timing of the case's reference call in Python (`scripts/assist_reference.py`), ms.
fn reference_ms(
    case: &serde_json::Value,
    root: &std::path::Path,
    tmp: &std::path::Path,
) -> Result<f64> {
    let py = std::env::var("VITSCOPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/assist_reference.py");
    let out = std::process::Command::new(py)
        .arg(script)
        .arg(root)
        .arg(case["name"].as_str().unwrap_or_default())
        .arg(tmp)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "assist_reference.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.suite == Suite::Shard {
        return super::bench_shard::shard_suite(
            args.iters,
            args.images as usize,
            args.shards as usize,
            args.shard_checkpoint.as_deref(),
        );
    }
    if args.suite == Suite::Assist {
        return assist_suite(&args);
    }
    if args.suite == Suite::App {
        return app_suite(&args);
    }
    if args.suite == Suite::Faithfulness {
        return faithfulness_suite(&args);
    }
    if matches!(args.suite, Suite::Metrics | Suite::All) {
        metrics_suite(&args)?;
    }
    if matches!(args.suite, Suite::Model | Suite::All) {
        super::bench_model::model_suite(
            args.model,
            args.device,
            &args.cases,
            args.iters,
            args.torch,
        )?;
    }
    Ok(())
}
