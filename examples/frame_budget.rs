//! Measures the workbench's own CPU time per frame while painting a brush stroke on a 2048² image
//! with three overlays (the frame budget: under 8 ms here). Each frame is one egui pass of
//! the app, including its texture uploads, driven by egui_kittest; no window, no presentation.
//!
//! `cargo run --release --example frame_budget [-- SIZE]`

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use vitscope::app::state::Tool;
use vitscope::app::{Session, Workbench, bundled_checkpoint};

fn main() {
    let size: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2048);
    let dir = std::env::temp_dir().join("vitscope-frame-budget");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("scan_{size}.png"));
    let img = image::GrayImage::from_fn(size, size, |x, y| {
        let (u, v) = (x as f32 / size as f32 - 0.5, y as f32 / size as f32 - 0.5);
        let r = (u * u + v * v).sqrt();
        image::Luma([(128.0 + 100.0 * (r * 40.0).sin() * (1.0 - r)) as u8])
    });
    img.save(&path).unwrap();
    let session = Session::from_images(std::slice::from_ref(&path), bundled_checkpoint());
    let mut h = Harness::builder()
        .with_size([1500.0, 950.0])
        .wgpu()
        .build_eframe(move |cc| {
            Workbench::new(session, &cc.egui_ctx, cc.wgpu_render_state.clone(), None)
        });
    let t = Instant::now();
    while !h.state().fully_loaded() {
        h.step();
        std::thread::sleep(Duration::from_millis(20));
        assert!(t.elapsed() < Duration::from_secs(300), "loading timed out");
    }
    h.run_steps(5);
    let idle = time_frames(&mut h, 60, |_, _| {});
    h.key_press(egui::Key::D);
    h.step();
    assert_eq!(h.state().session.tool, Tool::Brush);
    let pane = h.state().pane_rects[0];
    let (a, b) = (
        pane.left_top() + pane.size() * 0.2,
        pane.left_top() + pane.size() * 0.8,
    );
    h.hover_at(a);
    h.step();
    h.drag_at(a);
    h.step();
    let n = 120;
    let stroke = time_frames(&mut h, n, |h, i| {
        let f = i as f32 / n as f32;
        let wobble = egui::vec2(0.0, (f * 25.0).sin() * 40.0);
        h.hover_at(a + (b - a) * f + wobble);
    });
    h.drop_at(b);
    let painted = h.state().session.ann().map(|a| a.mask.count()).unwrap_or(0);
    println!("image {size}x{size}, three overlays, {painted} mask pixels painted");
    report("idle frame", &idle);
    report("painting frame", &stroke);
}

fn time_frames(
    h: &mut Harness<'static, Workbench>,
    n: usize,
    mut before: impl FnMut(&mut Harness<'static, Workbench>, usize),
) -> Vec<f64> {
    (0..n)
        .map(|i| {
            before(h, i);
            let t = Instant::now();
            h.step();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn report(name: &str, ms: &[f64]) {
    let mut v = ms.to_vec();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms over {} frames",
        q(0.5),
        q(0.95),
        v[v.len() - 1],
        v.len()
    );
}
