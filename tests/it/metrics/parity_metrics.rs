//! The 144 reference metric records and the binarisation diagnostics, reproduced exactly by the
//! CPU reference and by the WGSL kernels (on lavapipe in CI), plus randomised CPU == GPU parity.

use crate::support::*;
use serde::Deserialize;
use vitscope::io::mask::read_mask;
use vitscope::metrics::{self, Mask, MetricSet, Rect, gpu::GpuMetrics};
use vitscope::model::device::DeviceChoice;

const MAPS: [&str; 4] = [
    "attention_224",
    "chefer_224",
    "gradcam_plain_224",
    "gradcam_paper_224",
];
const MASKS: [&str; 4] = [
    "mask_cpchild.png",
    "mask_duke.png",
    "mask_kvasir.png",
    "mask_mura.png",
];

#[derive(Deserialize)]
struct Rec {
    map: String,
    mask: String,
    metric: String,
    top_perc: Option<f64>,
    value: f64,
}

#[derive(Deserialize)]
struct Bin {
    map: String,
    top_perc: f64,
    k: usize,
    threshold: f64,
    selected_pixels: usize,
    rect_rows: [usize; 2],
    rect_cols: [usize; 2],
}

fn records() -> Vec<Rec> {
    serde_json::from_str(&std::fs::read_to_string(reference("metrics.json")).unwrap()).unwrap()
}

fn lookup(set: &MetricSet, metric: &str, top: Option<f64>) -> f64 {
    match (metric, top) {
        ("pointing_game", None) => set.pointing_game as u8 as f64,
        (m, Some(p)) => {
            let t = set.top.iter().find(|t| t.top_perc == p).expect("top");
            match m {
                "iou_rect" => t.iou_rect,
                "iou_binary" => t.iou_binary,
                _ => panic!("unknown metric {m}"),
            }
        }
        _ => panic!("bad record"),
    }
}

fn check_all(mut eval: impl FnMut(&[f32], &Mask) -> MetricSet, label: &str) {
    let recs = records();
    assert_eq!(recs.len(), 144);
    let mut checked = 0;
    for map_name in MAPS {
        let (_, map) = expected(map_name);
        for mask_name in MASKS {
            let mask = read_mask(&reference(mask_name)).unwrap();
            let set = eval(&map, &mask);
            for r in recs
                .iter()
                .filter(|r| r.map == map_name && r.mask == mask_name)
            {
                let got = lookup(&set, &r.metric, r.top_perc);
                assert_eq!(
                    got, r.value,
                    "{label}: {map_name} {mask_name} {} {:?}",
                    r.metric, r.top_perc
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 144);
}

#[test]
fn mask_pixel_counts() {
    for (name, want) in [
        ("mask_cpchild.png", 15660),
        ("mask_duke.png", 1512),
        ("mask_kvasir.png", 24310),
        ("mask_mura.png", 9864),
    ] {
        assert_eq!(read_mask(&reference(name)).unwrap().count(), want, "{name}");
    }
}

#[test]
fn cpu_reproduces_all_144_records() {
    check_all(
        |map, mask| metrics::compute_cpu(map, 224, 224, mask, &metrics::PAPER_TOPS).unwrap(),
        "cpu",
    );
}

#[test]
fn gpu_reproduces_all_144_records() {
    let mut gpu = GpuMetrics::new_default().expect("a wgpu adapter (install mesa-vulkan-drivers)");
    eprintln!("adapter: {:?}", gpu.adapter_info);
    check_all(
        |map, mask| {
            gpu.compute(map, 224, 224, mask, &metrics::PAPER_TOPS)
                .unwrap()
        },
        "gpu",
    );
}

#[test]
fn binarisation_diagnostics() {
    let bins: Vec<Bin> =
        serde_json::from_str(&std::fs::read_to_string(reference("binarize.json")).unwrap())
            .unwrap();
    let empty = Mask::empty(224, 224);
    for b in &bins {
        let (_, map) = expected(&b.map);
        let set = metrics::compute_cpu(&map, 224, 224, &empty, &[b.top_perc]).unwrap();
        let t = &set.top[0];
        assert_eq!(t.k, b.k, "{} {}", b.map, b.top_perc);
        assert_eq!(t.threshold as f64, b.threshold, "{} {}", b.map, b.top_perc);
        assert_eq!(t.selected, b.selected_pixels, "{} {}", b.map, b.top_perc);
        let r = t.rect.unwrap();
        assert_eq!([r.y0, r.y1], b.rect_rows, "{} {}", b.map, b.top_perc);
        assert_eq!([r.x0, r.x1], b.rect_cols, "{} {}", b.map, b.top_perc);
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn assert_same(cpu: &MetricSet, gpu: &MetricSet, what: &str) {
    assert_eq!(cpu.max, gpu.max, "{what}: max");
    assert_eq!(cpu.pointing_game, gpu.pointing_game, "{what}: pg");
    assert_eq!(cpu.mask_pixels, gpu.mask_pixels, "{what}: mask");
    if cpu.energy.is_nan() {
        assert!(gpu.energy.is_nan(), "{what}: energy");
    } else {
        assert!(
            (cpu.energy - gpu.energy).abs() <= 1e-4,
            "{what}: energy {} vs {}",
            cpu.energy,
            gpu.energy
        );
    }
    for (a, b) in cpu.top.iter().zip(&gpu.top) {
        assert_eq!(a.k, b.k, "{what}");
        assert_eq!(
            a.threshold.to_bits() & 0x7fff_ffff,
            b.threshold.to_bits() & 0x7fff_ffff,
            "{what}: threshold"
        );
        assert_eq!(a.selected, b.selected, "{what}: selected");
        assert_eq!(a.rect, b.rect, "{what}: rect");
        assert_eq!(a.inter_binary, b.inter_binary, "{what}: inter");
        assert_eq!(a.inter_rect, b.inter_rect, "{what}: inter rect");
    }
}

#[test]
fn randomised_cpu_gpu_parity() {
    let mut gpu = GpuMetrics::new_default().expect("a wgpu adapter (install mesa-vulkan-drivers)");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let tops = [5.0, 10.0, 20.0, 40.0];
    let sizes = [(1, 1), (3, 5), (16, 16), (224, 224), (100, 37), (640, 480)];
    for (case, &(w, h)) in sizes.iter().cycle().take(24).enumerate() {
        let n = w * h;
        let kind = case % 6;
        let map: Vec<f32> = match kind {
            0 => (0..n).map(|_| rng.unit()).collect(),
            // tie-heavy: nearest-upsampled blocks
            1 => {
                let vals: Vec<f32> = (0..64).map(|_| rng.unit()).collect();
                (0..n)
                    .map(|i| vals[((i % w) / 8 + (i / w) / 8 * 8) % 64])
                    .collect()
            }
            2 => vec![0.0; n],
            // mostly zeros (ReLU'd), some negatives and -0.0
            3 => (0..n)
                .map(|_| match rng.below(4) {
                    0 => rng.unit(),
                    1 => -0.0,
                    2 => -rng.unit(),
                    _ => 0.0,
                })
                .collect(),
            // few distinct values
            4 => (0..n).map(|_| rng.below(3) as f32).collect(),
            _ => (0..n).map(|_| (rng.unit() - 0.5) * 1e6).collect(),
        };
        let mask = match case % 4 {
            0 => Mask::empty(w, h),
            1 => Mask {
                width: w,
                height: h,
                data: vec![1; n],
            },
            2 => Mask {
                width: w,
                height: h,
                data: (0..n).map(|_| (rng.below(5) == 0) as u8).collect(),
            },
            _ => Mask::from_rects(
                w,
                h,
                &[Rect {
                    x0: w / 4,
                    y0: h / 3,
                    x1: (w / 4 + 1 + w / 3).min(w),
                    y1: (h / 3 + 1 + h / 2).min(h),
                }],
            ),
        };
        let what = format!("case {case} ({w}x{h}, map kind {kind})");
        let c = metrics::compute_cpu(&map, w, h, &mask, &tops).unwrap();
        let g = gpu.compute(&map, w, h, &mask, &tops).unwrap();
        assert_same(&c, &g, &what);
        // The selection really is the (k+1)-th largest: compare with a sort.
        let mut sorted = map.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        for t in &c.top {
            assert_eq!(t.threshold, sorted[t.k.min(n - 1)], "{what}: sort check");
            let count = map.iter().filter(|&&v| v >= t.threshold).count();
            assert_eq!(t.selected, count, "{what}: count check");
        }
    }
}

#[test]
fn size_mismatch_is_an_error_naming_both_sizes() {
    let map = vec![0.0f32; 224 * 224];
    let mask = Mask::empty(100, 50);
    let err = metrics::compute_cpu(&map, 224, 224, &mask, &[5.0]).unwrap_err();
    let s = err.to_string();
    assert!(s.contains("224x224") && s.contains("100x50"), "{s}");
    let err = metrics::gpu::compute(&map, 224, 224, &mask, &[5.0], DeviceChoice::Cpu).unwrap_err();
    assert!(err.to_string().contains("100x50"));
}

#[test]
fn a_nan_or_an_infinity_in_the_map_is_an_error_on_both_backends() {
    let (w, h) = (640, 480);
    let mask = Mask::from_rects(
        w,
        h,
        &[Rect {
            x0: 10,
            y0: 10,
            x1: 90,
            y1: 60,
        }],
    );
    let mut gpu = GpuMetrics::new_default().expect("a wgpu adapter (install mesa-vulkan-drivers)");
    for (at, small) in [(w * h - 1, false), (3, false), (5, true)] {
        let n = if small { 224 * 224 } else { w * h };
        let (mw, mh) = if small { (224, 224) } else { (w, h) };
        let m = Mask::empty(mw, mh);
        let mut map: Vec<f32> = (0..n).map(|i| (i % 97) as f32).collect();
        map[at] = f32::NAN;
        let err = metrics::compute_cpu(&map, mw, mh, &m, &metrics::PAPER_TOPS).unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
        let err = gpu
            .compute(&map, mw, mh, &m, &metrics::PAPER_TOPS)
            .unwrap_err();
        assert!(err.to_string().contains("NaN"), "{err}");
    }
    // An infinity is refused as a NaN is (its energy would be inf/inf), on both backends, with
    // or without a NaN-free sum (+inf alone, and +inf with -inf).
    for pair in [false, true] {
        let mut map: Vec<f32> = (0..w * h).map(|i| (i % 97) as f32).collect();
        map[0] = f32::INFINITY;
        if pair {
            map[1] = f32::NEG_INFINITY;
        }
        let err = metrics::compute_cpu(&map, w, h, &mask, &metrics::PAPER_TOPS).unwrap_err();
        assert!(err.to_string().contains("infinite"), "{err}");
        let err = gpu
            .compute(&map, w, h, &mask, &metrics::PAPER_TOPS)
            .unwrap_err();
        assert!(err.to_string().contains("infinite"), "{err}");
    }
}

#[test]
fn box_metrics_match_mask_of_the_same_box() {
    let (_, map) = expected("chefer_224");
    let mask = read_mask(&reference("mask_kvasir.png")).unwrap();
    let bbox = mask.bbox().unwrap();
    let from_box = Mask::from_rects(224, 224, &[bbox]);
    // Each reference mask is one filled rectangle, so its box reproduces it.
    assert_eq!(from_box, mask);
    let a = metrics::compute_cpu(&map, 224, 224, &mask, &metrics::PAPER_TOPS).unwrap();
    let b = metrics::compute_cpu(&map, 224, 224, &from_box, &metrics::PAPER_TOPS).unwrap();
    assert_eq!(a, b);
}
