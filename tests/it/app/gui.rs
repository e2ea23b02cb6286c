//! The workbench driven as a user would, with egui_kittest: drawing, undo, the threshold slider,
//! save and reload, snapshots rendered on wgpu (lavapipe in CI), and the real binary under Xvfb.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eframe::egui;
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, SnapshotOptions};
use vitscope::app::slots::MapSlot;
use vitscope::app::state::Tool;
use vitscope::app::ui::WorkbenchOptions;
use vitscope::app::{Session, Workbench, demo_session};
use vitscope::project::{Layout, Threshold};

/// A workbench whose recovery copies live in a data folder of its own (`data`, or a fresh one).
fn harness_with(
    session: Session,
    data: Option<PathBuf>,
    cache_mb: Option<u64>,
) -> Harness<'static, Workbench> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let data = data.unwrap_or_else(|| {
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tempdir(&format!("data-{n}"))
    });
    let mut h = Harness::builder()
        .with_size([1500.0, 950.0])
        .wgpu()
        .build_eframe(move |cc| {
            let opts = WorkbenchOptions {
                screenshot: None,
                data_dir: Some(data),
                cache_mb,
            };
            let mut wb =
                Workbench::with_options(session, &cc.egui_ctx, cc.wgpu_render_state.clone(), opts);
            wb.show_timings = false;
            wb
        });
    settle(&mut h);
    h
}

fn harness(session: Session) -> Harness<'static, Workbench> {
    harness_with(session, None, None)
}

/// Steps until the maps and the scores of the current image are in (workers run in threads).
fn settle(h: &mut Harness<'static, Workbench>) {
    let t = Instant::now();
    loop {
        h.step();
        if h.state().fully_loaded() {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the workbench did not finish loading"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

/// Runs `vitscope ARGS`, which must succeed; returns its stdout.
fn vitscope_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Steps the harness until `done` holds (workers run in threads), at most `secs` seconds.
fn wait_until(
    h: &mut Harness<'static, Workbench>,
    secs: u64,
    what: &str,
    done: impl Fn(&Workbench) -> bool,
) {
    let t = Instant::now();
    while !done(h.state()) {
        h.step();
        assert!(
            t.elapsed() < Duration::from_secs(secs),
            "{what} did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

/// Opens image `i` of the demo (by clicking it in the list) and waits for it.
fn open_demo_image(h: &mut Harness<'static, Workbench>, name: &str) {
    h.get_by_label(name).click();
    h.run_steps(2);
    settle(h);
}

fn screen(h: &Harness<'static, Workbench>, pane: usize, p: (f32, f32)) -> egui::Pos2 {
    let wb = h.state();
    wb.view.to_screen(wb.pane_rects[pane], p)
}

fn drag(h: &mut Harness<'static, Workbench>, from: egui::Pos2, to: egui::Pos2) {
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for i in 1..=8 {
        h.hover_at(from + (to - from) * (i as f32 / 8.0));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    h.step();
}

fn mask_iou_at_threshold(wb: &Workbench, slot: MapSlot) -> f64 {
    let Threshold::TopPercent(p) = wb.session.project.view.threshold else {
        panic!("expected a top-k threshold");
    };
    let s = wb.scores()[slot].as_ref().expect("scores");
    s.truth
        .top
        .iter()
        .find(|t| t.top_perc == p)
        .expect("the slider's k is scored")
        .iou_binary
}

#[test]
fn drawing_a_box_adds_it_to_the_project_and_moves_the_metrics() {
    let mut h = harness(demo_session().unwrap());
    open_demo_image(&mut h, "polyp_00001.png");
    let before = h.state().scores()[MapSlot::Chefer].clone().expect("scores");
    assert_eq!(
        before.truth.mask_pixels, 0,
        "the negative polyp_00001.png starts unannotated"
    );
    h.get_by_label("Box (B)").click();
    h.step();
    assert_eq!(h.state().session.tool, Tool::Box);
    let (a, b) = (screen(&h, 0, (60.0, 70.0)), screen(&h, 0, (150.0, 160.0)));
    drag(&mut h, a, b);
    settle(&mut h);
    let wb = h.state();
    let i = wb.session.current;
    let boxes = &wb.session.project.images[i].boxes;
    assert_eq!(boxes.len(), 1, "the box is in the project");
    let bx = boxes[0];
    assert!(
        (bx.x0 as i32 - 60).abs() <= 1 && (bx.y1 as i32 - 160).abs() <= 1,
        "{bx:?}"
    );
    let after = wb.scores()[MapSlot::Chefer].as_ref().expect("scores");
    assert_eq!(after.truth.mask_pixels, bx.rect().area());
    assert_ne!(
        after.truth.top, before.truth.top,
        "the metrics panel changed"
    );
    assert!(wb.session.dirty);
}

#[test]
fn a_brush_stroke_then_undo_restores_the_mask() {
    let mut h = harness(demo_session().unwrap());
    let before = h.state().session.ann().unwrap().mask.clone();
    h.key_press(egui::Key::D);
    h.step();
    assert_eq!(h.state().session.tool, Tool::Brush);
    let (a, b) = (screen(&h, 0, (20.0, 20.0)), screen(&h, 0, (100.0, 60.0)));
    drag(&mut h, a, b);
    let painted = h.state().session.ann().unwrap().mask.clone();
    assert!(painted.count() > before.count() + 100, "the stroke painted");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.step();
    assert_eq!(h.state().session.ann().unwrap().mask, before);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Y);
    h.step();
    assert_eq!(h.state().session.ann().unwrap().mask, painted);
}

#[test]
fn the_threshold_slider_changes_the_iou() {
    let mut h = harness(demo_session().unwrap());
    let iou20 = mask_iou_at_threshold(h.state(), MapSlot::Chefer);
    h.get_by_role_and_label(Role::Slider, "Threshold top %")
        .set_value_accesskit(5.0);
    h.step();
    settle(&mut h);
    assert_eq!(
        h.state().session.project.view.threshold,
        Threshold::TopPercent(5.0)
    );
    let iou5 = mask_iou_at_threshold(h.state(), MapSlot::Chefer);
    assert_ne!(iou5, iou20);
}

fn tempdir(name: &str) -> PathBuf {
    let d = crate::support::scratch(&format!("gui-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn save_and_reload_gives_identical_annotations() {
    let dir = tempdir("save");
    let file = crate::support::copy_demo(&dir);
    let mut h = harness(Session::open_project(&file).unwrap());
    // Paint, draw a box, then save through the File menu with the in-app path field.
    h.key_press(egui::Key::D);
    h.step();
    let (a, b) = (screen(&h, 0, (30.0, 30.0)), screen(&h, 0, (90.0, 40.0)));
    drag(&mut h, a, b);
    h.key_press(egui::Key::B);
    h.step();
    assert_eq!(h.state().session.tool, Tool::Box);
    let (a, b) = (screen(&h, 0, (10.0, 100.0)), screen(&h, 0, (50.0, 180.0)));
    drag(&mut h, a, b);
    assert_eq!(
        h.state().session.ann().unwrap().boxes.len(),
        1,
        "{:?}",
        h.state().session.messages
    );
    let out = dir.join("saved.ron");
    h.state_mut().path_field = out.display().to_string();
    h.get_by_label("File").click();
    h.run_steps(3);
    h.get_by_label("Save as").click();
    h.run_steps(2);
    let wb = h.state();
    assert!(!wb.session.dirty, "{:?}", wb.session.messages);
    let mut back = Session::open_project(&out).unwrap();
    back.open_image(0).unwrap();
    let (a, b) = (wb.session.ann().unwrap(), back.ann().unwrap());
    assert_eq!(a, b);
    assert_eq!(a.boxes.len(), 1);
    assert_eq!(back.project.images, wb.session.project.images);
}

#[test]
fn a_corrupt_project_is_reported_and_left_alone() {
    let dir = tempdir("corrupt");
    let file = dir.join("broken.ron");
    std::fs::write(&file, "(version: 1, images: [ (path: ").unwrap();
    let err = vitscope::app::session_for(&file).err().expect("an error");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("broken.ron") && msg.contains("not a valid project"),
        "{msg}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "(version: 1, images: [ (path: "
    );
}

#[test]
fn snapshots_of_the_main_views() {
    let mut h = harness(demo_session().unwrap());
    let opts = SnapshotOptions::new().threshold(2.0).max_failed_pixels(200);
    h.remove_cursor();
    h.run_steps(2);
    h.snapshot_options("four_panes", &opts);
    h.state_mut().session.project.view.layout = Layout::Single;
    h.state_mut().session.project.view.hit_miss = true;
    h.run_steps(3);
    h.snapshot_options("single_hit_miss", &opts);
}

#[test]
fn the_binary_writes_a_screenshot_under_xvfb() {
    let dir = tempdir("shot");
    let png = dir.join("shot.png");
    let status = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(env!("CARGO_BIN_EXE_vitscope"))
        .arg("--screenshot")
        .arg(&png)
        .env("XDG_DATA_HOME", &dir)
        .status()
        .expect("xvfb-run is installed (.ci/run installs the xvfb package)");
    assert!(status.success(), "vitscope --screenshot failed: {status}");
    let img = image::open(&png).unwrap().to_rgb8();
    assert!(
        img.width() >= 800 && img.height() >= 500,
        "{}x{}",
        img.width(),
        img.height()
    );
    // Not blank: many distinct colours, and the colour-mapped panes differ from the plain image pane
    // (the same image region under an overlay).
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 1000, "only {} colours", colours.len());
    let luma: Vec<f64> = img
        .pixels()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let sd = (luma.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / luma.len() as f64).sqrt();
    assert!(sd > 20.0, "nearly uniform screenshot (sd {sd:.1})");
}

#[test]
fn the_frame_bench_paints_a_stroke_in_the_real_window() {
    let dir = tempdir("bench-frames");
    let out = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(env!("CARGO_BIN_EXE_vitscope"))
        .args(["--bench-frames", "8"])
        .env("XDG_DATA_HOME", &dir)
        .output()
        .expect("xvfb-run is installed (.ci/run installs the xvfb package)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "vitscope --bench-frames failed: {text}"
    );
    assert!(text.contains("idle: 7 frames"), "{text}");
    // The stroke from 20 % to 80 % of the first pane went through the brush into the mask.
    let counts: Vec<usize> = text
        .split("painting (mask px ")
        .nth(1)
        .and_then(|t| t.split(')').next())
        .map(|t| t.split(" -> ").filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    let [before, after] = counts[..] else {
        panic!("no painting line in {text}");
    };
    assert!(
        after > before + 500,
        "the stroke painted {before} -> {after} px: {text}"
    );
}

#[test]
fn an_autosave_is_offered_back_and_restores_the_work() {
    let dir = tempdir("autosave");
    let file = crate::support::copy_demo(&dir);
    // A session that edits and autosaves, then "crashes" (is dropped without saving).
    let mut s = Session::open_project(&file).unwrap();
    s.open_image(1).unwrap();
    let b = vitscope::project::annotation::LabelBox {
        x0: 5,
        y0: 6,
        x1: 50,
        y1: 60,
        class: 2,
    };
    s.add_box(b);
    std::thread::sleep(Duration::from_millis(20));
    let auto = s.autosave().unwrap();
    assert!(auto.is_file());
    drop(s);
    let mut h = harness(Session::open_project(&file).unwrap());
    h.get_by_label("Restore").click();
    h.run_steps(2);
    let wb = h.state();
    assert_eq!(wb.session.project.images[1].boxes, vec![b]);
    assert_eq!(wb.session.project_path.as_deref(), Some(file.as_path()));
    assert!(wb.session.dirty, "restored work is unsaved until saved");
}

#[test]
fn coco_export_imports_back() {
    use vitscope::interop::coco::{ExportItem, export_coco, parse_coco};
    use vitscope::project::annotation::{LabelBox, LabelMask, stamp};
    let dir = tempdir("coco");
    let mut mask = LabelMask::new(40, 30);
    stamp(&mut mask, 10.0, 10.0, 4.0, 1);
    stamp(&mut mask, 30.0, 20.0, 3.0, 2);
    let boxes = [LabelBox {
        x0: 2,
        y0: 3,
        x1: 20,
        y1: 25,
        class: 1,
    }];
    let items = [ExportItem {
        file_name: "scan.png".into(),
        boxes: &boxes,
        mask: &mask,
    }];
    let path = dir.join("coco.json");
    export_coco(&path, &items, &["lesion".into(), "other".into()]).unwrap();
    let back = parse_coco(&path).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].file_name, "scan.png");
    assert_eq!(back[0].boxes, boxes.to_vec());
    for (class, px) in &back[0].layers {
        let want: Vec<bool> = mask.data.iter().map(|&v| v == *class).collect();
        assert_eq!(px, &want, "class {class}");
    }
    assert_eq!(back[0].layers.len(), 2);
    // The RLE of another image size than the image's: an error naming the file and the sizes.
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["images"][0]["width"] = 41.into();
    std::fs::write(&path, doc.to_string()).unwrap();
    let err = parse_coco(&path).unwrap_err().to_string();
    assert!(err.contains("coco.json") && err.contains("40×30"), "{err}");
}

fn click_at(h: &mut Harness<'static, Workbench>, p: egui::Pos2) {
    crate::support::click_at(h, p);
}

/// Scrolls a control into view, as a user would, then clicks it.
fn click_label(h: &mut Harness<'static, Workbench>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    // Let the scroll animation settle.
    h.run_steps(30);
    h.get_by_label(label).click();
    h.step();
}

#[test]
fn polygon_fill_and_box_tools() {
    let mut h = harness(demo_session().unwrap());
    open_demo_image(&mut h, "polyp_00001.png");
    assert_eq!(h.state().session.ann().unwrap().mask.count(), 0);
    // Polygon: three clicks, Enter fills.
    h.key_press(egui::Key::G);
    h.step();
    for p in [(20.0, 20.0), (120.0, 20.0), (20.0, 120.0)] {
        let s = screen(&h, 0, p);
        click_at(&mut h, s);
    }
    h.key_press(egui::Key::Enter);
    h.step();
    let tri = h.state().session.ann().unwrap().mask.count();
    assert!(
        (4000..6000).contains(&tri),
        "triangle of ~5000 px, got {tri}"
    );
    // Fill the background around it with the second class.
    h.key_press(egui::Key::F);
    h.step();
    click_label(&mut h, "other");
    let s = screen(&h, 0, (200.0, 200.0));
    click_at(&mut h, s);
    let m = &h.state().session.ann().unwrap().mask;
    assert_eq!(m.count(), m.width * m.height, "the fill covered the rest");
    assert_eq!(
        m.data.iter().filter(|&&v| v == 2).count(),
        m.width * m.height - tri
    );
    // Undo the fill, make a box from the mask, select and delete it with the keyboard.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.step();
    click_label(&mut h, "Box from mask");
    let b = h.state().session.ann().unwrap().boxes[0];
    assert_eq!((b.x0, b.y0), (20, 20));
    assert!((118..=121).contains(&b.x1), "{b:?}");
    h.key_press(egui::Key::Delete);
    h.step();
    assert!(h.state().session.ann().unwrap().boxes.is_empty());
}

#[test]
fn each_frame_of_a_multi_frame_dicom_keeps_its_own_annotations() {
    let dcm = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dicom/SC_rgb_rle_2frame.dcm");
    let mut s = Session::from_images(&[dcm], vitscope::app::bundled_checkpoint());
    s.open_image(0).unwrap();
    let first = s.loaded.as_ref().unwrap().image.clone();
    let b = vitscope::project::annotation::LabelBox {
        x0: 1,
        y0: 1,
        x1: 4,
        y1: 4,
        class: 1,
    };
    s.add_box(b);
    // Frame 1 is an entry of its own: (instance, 1), without frame 0's box.
    let i = s.set_frame(1).unwrap();
    assert_eq!(i, 1);
    let second = s.loaded.as_ref().unwrap().image.clone();
    assert_ne!(first.planes, second.planes, "frame 1 differs from frame 0");
    assert_eq!(s.project.images.len(), 2);
    assert_eq!(s.project.images[1].frame, 1);
    let (id0, id1) = (
        s.project.images[0].identity.clone().unwrap(),
        s.project.images[1].identity.clone().unwrap(),
    );
    assert_eq!(id0.frame(), 0);
    assert_eq!(id1.frame(), 1);
    assert_eq!(id0.token(), id1.token(), "one SOP Instance");
    assert!(s.ann().unwrap().boxes.is_empty());
    // Back to frame 0: its box is there, on its entry.
    assert_eq!(s.set_frame(0).unwrap(), 0);
    assert_eq!(s.ann().unwrap().boxes, vec![b]);
    assert!(s.set_frame(2).is_err(), "there is no third frame");
    assert_eq!(s.project.images.len(), 2);
}

#[test]
fn the_display_device_runs_burn() {
    // The GUI's own wgpu device (requested as `wgpu_setup` asks), registered with burn, computes.
    let rs = egui_kittest::wgpu::create_render_state(
        vitscope::app::wgpu_setup(),
        eframe::egui_wgpu::RendererOptions::default(),
    );
    let dev = vitscope::app::burn_device_for(&rs).unwrap();
    use burn::tensor::{Tensor, TensorData};
    let a = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]), &dev);
    let b = vitscope::explain::to_vec(a.clone().matmul(a)).unwrap();
    assert_eq!(b, [7.0, 10.0, 15.0, 22.0]);
}

/// Steps until "Score all images" has finished.
fn wait_for_batch(h: &mut Harness<'static, Workbench>) {
    let t = Instant::now();
    while h.state().store.batch.busy() {
        h.step();
        std::thread::sleep(Duration::from_millis(10));
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "scoring did not finish"
        );
    }
    h.run_steps(2);
}

#[test]
fn scoring_all_images_fills_the_project_plots() {
    let mut h = harness(demo_session().unwrap());
    click_label(&mut h, "Score all images");
    wait_for_batch(&mut h);
    let wb = h.state();
    let n = wb.session.project.images.len();
    assert_eq!(wb.store.batch.rows.len(), n);
    // Images with a mask have a box-versus-mask difference; the unannotated one scores nothing.
    let masked = wb
        .store
        .batch
        .rows
        .iter()
        .filter(|(_, r)| r[MapSlot::Chefer].is_some_and(|s| s.box_delta.is_some()))
        .count();
    assert_eq!(masked, 4, "four demo images carry masks");
    let negative = n - 1;
    let (_, row) = wb
        .store
        .batch
        .rows
        .iter()
        .find(|(i, _)| *i == negative)
        .unwrap();
    assert!(row.all_none(), "{row:?}");
    let statuses: Vec<_> = wb.session.project.images.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == vitscope::project::Status::Todo)
            .count(),
        n - 1,
        "scoring does not mark images as opened: {statuses:?}"
    );
    h.remove_cursor();
    h.run_steps(2);
    let opts = SnapshotOptions::new().threshold(2.0).max_failed_pixels(200);
    h.snapshot_options("project_plots", &opts);
}

/// The mask's FNV-1a digest, as the binary prints it.
fn digest(data: &[u8]) -> String {
    format!("{:016x}", vitscope::app::harness::mask_digest(data))
}

#[test]
fn an_idle_edit_survives_sigkill_and_is_restored_exactly() {
    use std::io::BufRead;
    let dir = tempdir("kill9");
    // The real binary under Xvfb paints one stroke through pointer events, then sits idle.
    let mut child = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(env!("CARGO_BIN_EXE_vitscope"))
        .arg("--paint-stroke")
        .env("XDG_DATA_HOME", &dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("xvfb-run is installed (.ci/run installs the xvfb package)");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("edit: ") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(240))
        .expect("the scripted stroke was painted");
    let field = |k: &str| {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {line}"))
            .to_string()
    };
    let (pid, image, px, want) = (
        field("pid"),
        field("image"),
        field("mask_px"),
        field("digest"),
    );
    // No input at all for 36 s: the autosave must fire by time alone. Then the hard kill.
    std::thread::sleep(Duration::from_secs(36));
    let killed = std::process::Command::new("sh")
        .args(["-c", &format!("kill -9 {pid}")])
        .status()
        .unwrap();
    assert!(killed.success(), "kill -9 {pid}");
    let _ = child.wait();
    let data = dir.join("vitscope");
    let copies =
        vitscope::project::recovery::list(&vitscope::project::recovery::recovery_dir(&data), None);
    assert_eq!(copies.len(), 1, "one untitled recovery copy: {copies:?}");
    // Start again on the same data folder: the copy is offered; Restore brings the stroke back.
    let mut h = harness_with(demo_session().unwrap(), Some(data), None);
    assert_eq!(h.state().recovery_offer.len(), 1);
    h.get_by_label("Restore").click();
    h.run_steps(3);
    let wb = h.state();
    let i: usize = image.parse().unwrap();
    let ann = &wb.session.states[i].as_ref().expect("restored image").ann;
    assert_eq!(
        ann.mask.count().to_string(),
        px,
        "{:?}",
        wb.session.messages
    );
    assert_eq!(
        digest(&ann.mask.data),
        want,
        "the restored mask is the painted one"
    );
    assert!(wb.session.dirty, "restored work is unsaved until saved");
    assert!(wb.recovery_offer.is_empty());
}

#[test]
fn opening_something_else_asks_before_dropping_unsaved_work() {
    let mut h = harness(demo_session().unwrap());
    assert!(!h.state().session.dirty, "opening alone is no unsaved work");
    h.key_press(egui::Key::D);
    h.step();
    let (a, b) = (screen(&h, 0, (20.0, 20.0)), screen(&h, 0, (100.0, 60.0)));
    drag(&mut h, a, b);
    let painted = h.state().session.ann().unwrap().mask.clone();
    let n = h.state().session.project.images.len();
    let dcm = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/dicom/CT_small.dcm");
    h.state_mut().path_field = dcm.display().to_string();
    h.get_by_label("Open").click();
    h.run_steps(4);
    assert!(h.state().confirm.is_some(), "Open asks first");
    assert_eq!(
        h.state().session.project.images.len(),
        n,
        "nothing replaced yet"
    );
    h.get_by_label("Cancel").click();
    h.run_steps(4);
    let wb = h.state();
    assert!(wb.confirm.is_none());
    assert_eq!(
        wb.session.ann().unwrap().mask,
        painted,
        "the stroke is still there"
    );
    // A new project asks too; "Don't save" goes on.
    h.get_by_label("File").click();
    h.run_steps(3);
    h.get_by_label("New project").click();
    h.run_steps(4);
    assert!(h.state().confirm.is_some(), "New project asks first");
    h.get_by_label("Cancel").click();
    h.run_steps(4);
    h.get_by_label("Open").click();
    h.run_steps(4);
    h.get_by_label("Don't save").click();
    h.run_steps(4);
    settle(&mut h);
    let wb = h.state();
    assert_eq!(wb.session.project.images.len(), 1);
    assert_eq!(wb.session.project.images[0].path, dcm);
}

#[test]
fn save_in_the_question_saves_then_opens() {
    let dir = tempdir("ask-save");
    let file = crate::support::copy_demo(&dir);
    let mut h = harness(Session::open_project(&file).unwrap());
    h.state_mut()
        .session
        .add_box(vitscope::project::annotation::LabelBox {
            x0: 3,
            y0: 4,
            x1: 30,
            y1: 40,
            class: 1,
        });
    h.step();
    let other = dir.join("images/polyp_00002.png");
    h.state_mut().path_field = other.display().to_string();
    h.get_by_label("Open").click();
    h.run_steps(4);
    h.get_by_label("Save").click();
    h.run_steps(4);
    settle(&mut h);
    assert_eq!(h.state().session.project.images[0].path, other);
    let back = Session::open_project(&file).unwrap();
    assert_eq!(
        back.project.images[0].boxes.len(),
        1,
        "saved before opening"
    );
}

#[test]
fn untitled_sessions_keep_separate_recovery_copies_and_all_are_offered() {
    let data = tempdir("data-two-untitled");
    let mut boxes = Vec::new();
    for k in 0..2u32 {
        let mut h = harness_with(demo_session().unwrap(), Some(data.clone()), None);
        let wb = h.state_mut();
        let b = vitscope::project::annotation::LabelBox {
            x0: 1 + k,
            y0: 2,
            x1: 20 + k,
            y1: 30,
            class: 1,
        };
        wb.session.add_box(b);
        wb.session.autosave().unwrap();
        boxes.push(b);
        // Distinct modification times order the list.
        std::thread::sleep(Duration::from_millis(30));
    }
    let h = harness_with(demo_session().unwrap(), Some(data), None);
    let offer = &h.state().recovery_offer;
    assert_eq!(offer.len(), 2, "{offer:?}");
    // Newest first: Restore 1 brings back the second session's box.
    let mut h = h;
    h.get_by_label("Restore 1").click();
    h.run_steps(3);
    let wb = h.state();
    assert_eq!(wb.session.project.images[0].boxes, vec![boxes[1]]);
    assert_eq!(
        wb.recovery_offer.len(),
        1,
        "the other copy is still offered"
    );
}

#[test]
fn scoring_all_images_keeps_the_maps_cache_within_its_budget() {
    let mut h = harness_with(demo_session().unwrap(), None, Some(1));
    click_label(&mut h, "Score all images");
    wait_for_batch(&mut h);
    let wb = h.state();
    assert_eq!(wb.store.batch.rows.len(), wb.session.project.images.len());
    // Six 224² images × three maps would be ~1.2 MB: a 1 MiB budget holds fewer, never more
    // than the budget plus the three maps on screen.
    let on_screen = 3 * 224 * 224 * 4 + 3 * 200;
    assert!(
        wb.store.cache.bytes() <= (1 << 20) + on_screen,
        "{} bytes cached",
        wb.store.cache.bytes()
    );
    assert!(wb.store.cache.len() < 3 * wb.session.project.images.len());
    // The current image's maps are still there (pinned).
    assert!(wb.current_maps().values().all(Option::is_some));
}

#[test]
fn closing_the_window_with_unsaved_work_asks_first() {
    let mut h = harness(demo_session().unwrap());
    let close = |h: &mut Harness<'static, Workbench>| {
        h.input_mut()
            .viewports
            .entry(egui::ViewportId::ROOT)
            .or_default()
            .events
            .push(egui::ViewportEvent::Close);
        h.run_steps(4);
    };
    // Nothing unsaved: no question.
    close(&mut h);
    assert!(h.state().confirm.is_none());
    h.key_press(egui::Key::D);
    h.step();
    let (a, b) = (screen(&h, 0, (20.0, 20.0)), screen(&h, 0, (100.0, 60.0)));
    drag(&mut h, a, b);
    close(&mut h);
    assert_eq!(h.state().confirm, Some(vitscope::app::ui::Pending::Quit));
    h.get_by_label("Cancel").click();
    h.run_steps(4);
    assert!(h.state().confirm.is_none());
    assert!(h.state().session.dirty, "the work stays");
    close(&mut h);
    h.get_by_label("Don't save").click();
    h.run_steps(2);
    assert!(h.state().confirm.is_none());
    assert!(!h.state().session.dirty, "discarded on the user's word");
}

/// A project of the reference fixture's image with the reference model (the model case of
/// `../shared/fixtures/reference`, on which `../shared/fixtures/faithfulness` was made).
fn reference_project(tag: &str) -> PathBuf {
    // A fixed folder (not per process): its path shows in the status line of the snapshots.
    let dir = std::env::temp_dir().join(format!("vitscope-gui-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let r = crate::support::reference_dir();
    let project = format!(
        r#"(
    version: 1,
    classes: [(name: "lesion", color: (255, 64, 160))],
    checkpoints: [(name: "reference", weights: "{}", config: Some("{}"))],
    images: [(path: "{}")],
)"#,
        r.join("weights.safetensors").display(),
        r.join("config.json").display(),
        r.join("image.png").display(),
    );
    let p = dir.join("reference.ron");
    std::fs::write(&p, project).unwrap();
    drop(vitscope::project::OpenProject::write(&p, "test").unwrap());
    p
}

/// The records of `../shared/fixtures/faithfulness/results.json` with `test`, `method`, the
/// map's `class` (any when `None`), `metric` and `layer` (cascade steps; none otherwise).
fn faith_record(
    test: &str,
    method: &str,
    class: Option<u64>,
    metric: &str,
    layer: Option<&str>,
) -> serde_json::Value {
    let path = crate::support::reference_dir().join("../faithfulness/results.json");
    let recs: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    recs.into_iter()
        .find(|r| {
            r["test"] == test
                && r["method"] == method
                && class.is_none_or(|c| r["class"] == c)
                && r["metric"] == metric
                && match layer {
                    Some(l) => r["layer"] == l,
                    None => r["step"].is_null(),
                }
        })
        .unwrap_or_else(|| panic!("no record {test} {method} {class:?} {metric} {layer:?}"))
}

#[test]
fn the_faithfulness_view_matches_the_reference_perturbation_and_rise_curves() {
    let session = Session::open_project(&reference_project("faith")).unwrap();
    let mut h = harness(session);
    settle(&mut h);
    click_label(&mut h, "deletion");
    click_label(&mut h, "Run faithfulness tests");
    wait_until(&mut h, 300, "the faithfulness tests", |wb| {
        assert!(wb.store.faith.error.is_none(), "{:?}", wb.store.faith.error);
        !wb.store.faith.running && wb.faith_curves().present().count() == 3
    });
    let wb = h.state();
    let curves = wb.faith_curves();
    let mut checked = 0;
    for (slot, method, class) in [
        (MapSlot::Attention, "attention", None),
        // The maps of the predicted class, 0 here (the fixture has both classes' maps).
        (MapSlot::Gradcam, "gradcam", Some(0)),
        (MapSlot::Chefer, "chefer", Some(0)),
    ] {
        let of_slot = curves[slot].clone().expect("curves of every map");
        assert!(!of_slot.is_empty(), "{method}: no test ran");
        for (test, o) in of_slot.iter() {
            let metric = if test.name().starts_with("perturb") {
                "prob_auc"
            } else {
                "auc"
            };
            let want = faith_record(test.name(), method, class, metric, None)["value"]
                .as_f64()
                .unwrap();
            assert!(
                (o.auc() - want).abs() < 2e-5,
                "{method} {test}: view {} vs reference {want}",
                o.auc()
            );
            checked += 1;
        }
    }
    assert!(checked >= 3, "only {checked} curves checked");
    h.remove_cursor();
    h.run_steps(2);
    let opts = SnapshotOptions::new().threshold(2.0).max_failed_pixels(200);
    h.snapshot_options("faithfulness_view", &opts);
}

#[test]
fn the_sanity_view_matches_the_reference_cascade_and_random_logit_test() {
    let mut session = Session::open_project(&reference_project("sanity")).unwrap();
    // The fixture's maps explain class 1 (the model predicts 0).
    session.model.target = Some(1);
    let mut h = harness(session);
    settle(&mut h);
    click_label(&mut h, "Sanity check…");
    h.run_steps(3);
    h.state_mut().sanity.slot = MapSlot::Gradcam;
    h.run_steps(2);
    click_label(&mut h, "Run");
    wait_until(&mut h, 300, "the sanity check", |wb| {
        !wb.store.sanity.running
    });
    let wb = h.state();
    let st = &wb.store.sanity;
    assert!(st.error.is_none(), "{:?}", st.error);
    let labels: Vec<&str> = st.maps.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "original", "class 0", "head", "norm", "blocks.3", "blocks.2", "blocks.1", "blocks.0",
            "embed"
        ]
    );
    assert!(st.maps[0].sim.is_none());
    for m in &st.maps[1..] {
        let (test, layer) = match m.label.as_str() {
            "class 0" => ("random-logit", None),
            l => ("cascade", Some(l)),
        };
        let sim = m.sim.expect("a similarity to the original");
        for (got, metric) in [
            (sim.spearman, "spearman"),
            (sim.spearman_abs, "spearman_abs"),
            (sim.ssim, "ssim"),
        ] {
            let r = faith_record(test, "gradcam", Some(1), metric, layer);
            let want = r["value"].as_f64().unwrap();
            let tol = (3.0 * r["ref_spread"].as_f64().unwrap_or(0.0)).max(1e-5);
            let got = got.expect("defined");
            assert!(
                (got - want).abs() <= tol,
                "{}: {metric} {got} vs reference {want} (tolerance {tol:e})",
                m.label
            );
        }
    }
    h.remove_cursor();
    h.run_steps(2);
    let opts = SnapshotOptions::new().threshold(2.0).max_failed_pixels(200);
    h.snapshot_options("sanity_view", &opts);
}

/// A project of the demo images with three checkpoints: the bundled model, a linear probe on
/// it (same backbone, new head) and the foundation fixture's DINOv2-style timm model
/// (registers, LayerScale; its own 126-pixel input).
fn study_project() -> PathBuf {
    // A fixed folder (not per process): its path shows in the status line of the snapshots.
    let dir = std::env::temp_dir().join("vitscope-gui-study");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let demo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    for sub in ["images", "masks"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for f in ["polyp_00000.png", "polyp_00002.png"] {
            std::fs::copy(demo.join(sub).join(f), dir.join(sub).join(f)).unwrap();
        }
    }
    let data = dir.join("phantom");
    let run = |args: &[&std::ffi::OsStr]| {
        vitscope_ok(args);
    };
    run(&[
        "phantom".as_ref(),
        "--n".as_ref(),
        "20".as_ref(),
        "--out".as_ref(),
        data.as_os_str(),
    ]);
    let probe = dir.join("probe.safetensors");
    run(&[
        "train".as_ref(),
        "--probe".as_ref(),
        "--init".as_ref(),
        demo.join("model.safetensors").as_os_str(),
        "--config".as_ref(),
        demo.join("config.json").as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        probe.as_os_str(),
    ]);
    let reg4 = crate::support::reference_dir().join("../foundation/timm_reg4");
    let project = format!(
        r#"(
    version: 1,
    classes: [(name: "lesion", color: (255, 64, 160))],
    checkpoints: [
        (name: "bundled", weights: "{}", config: Some("{}")),
        (name: "probe", weights: "probe.safetensors", config: Some("probe.json")),
        (name: "timm-reg4", weights: "{}", config: Some("{}")),
    ],
    images: [
        (path: "images/polyp_00000.png", mask: Some("masks/polyp_00000.png")),
        (path: "images/polyp_00002.png", mask: Some("masks/polyp_00002.png")),
    ],
)"#,
        demo.join("model.safetensors").display(),
        demo.join("config.json").display(),
        reg4.join("weights.safetensors").display(),
        reg4.join("config.json").display(),
    );
    let p = dir.join("study.ron");
    std::fs::write(&p, project).unwrap();
    // Written in the version 1 format: the identities are recorded once here, so the snapshots
    // show the views, not the note that says so.
    drop(vitscope::project::OpenProject::write(&p, "test").unwrap());
    p
}

#[test]
fn the_study_grid_and_the_layer_explorer_score_every_map() {
    let session = Session::open_project(&study_project()).unwrap();
    let mut h = harness(session);
    click_label(&mut h, "Study…");
    h.run_steps(3);
    wait_until(&mut h, 300, "the maps of every checkpoint", |wb| {
        let i = wb.session.current;
        (0..3).all(|c| {
            wb.session
                .map_keys_with(i, c)
                .is_some_and(|k| k.values().all(|k| wb.store.get(k).is_some()))
        })
    });
    h.run_steps(3);
    // The current checkpoint's cells score exactly as the live scores table does.
    let wb = h.state();
    let p = match wb.session.project.view.threshold {
        Threshold::TopPercent(p) => p,
        t => panic!("threshold {t:?}"),
    };
    let j = vitscope::app::ui::CURVE_TOPS
        .iter()
        .position(|&t| t == p)
        .unwrap();
    let keys = wb.session.map_keys(wb.session.current).unwrap();
    for s in MapSlot::ALL {
        let map = wb.store.get(&keys[s]).unwrap();
        let (hit, iou) = wb.grid_score(&map.values).flatten().expect("a cell score");
        let live = &wb.scores()[s].as_ref().expect("live scores").truth;
        assert_eq!(hit, live.pointing_game, "{s:?}");
        assert!((iou - live.top[j].iou_rect).abs() < 1e-9, "{s:?}: {iou}");
    }
    // Every checkpoint's cells are scored; the probe shares the bundled backbone, so its raw
    // attention is the bundled model's.
    for c in 0..3 {
        let k = wb.session.map_keys_with(wb.session.current, c).unwrap();
        for s in MapSlot::ALL {
            let m = wb.store.get(&k[s]).unwrap();
            assert!(wb.grid_score(&m.values).flatten().is_some(), "{c} {s:?}");
        }
    }
    let probe = wb.session.map_keys_with(wb.session.current, 1).unwrap();
    assert_eq!(
        *wb.store.get(&probe[MapSlot::Attention]).unwrap().values,
        *wb.store.get(&keys[MapSlot::Attention]).unwrap().values
    );
    h.remove_cursor();
    h.run_steps(2);
    let opts = SnapshotOptions::new().threshold(2.0).max_failed_pixels(300);
    h.snapshot_options("study_grid", &opts);

    // Layers × heads of the current image and checkpoint.
    click_label(&mut h, "Layers × heads");
    wait_until(&mut h, 300, "the layer sweep", |wb| {
        wb.store.layers.maps.is_some() && wb.layer_scores().is_some()
    });
    let wb = h.state();
    let cfg: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/demo/config.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (depth, heads) = (
        cfg["depth"].as_u64().unwrap() as usize,
        cfg["num_heads"].as_u64().unwrap() as usize,
    );
    let scores = wb.layer_scores().unwrap();
    assert_eq!(scores.len(), depth);
    assert!(scores.iter().all(|r| r.len() == heads + 1));
    // The last block's mean over heads is the attention pane's map: the same score.
    let last = scores[depth - 1][heads].expect("scored");
    let live = &wb.scores()[MapSlot::Attention].as_ref().unwrap().truth;
    assert_eq!(last.0, live.pointing_game);
    assert!((last.1 - live.top[j].iou_rect).abs() < 1e-9, "{last:?}");
    h.remove_cursor();
    h.run_steps(2);
    h.snapshot_options("study_layers", &opts);

    // "open" on a cell shows that checkpoint's map as the single view.
    click_label(&mut h, "Checkpoints × methods");
    h.run_steps(3);
    let open: Vec<_> = h.get_all_by_label("open").collect();
    assert_eq!(open.len(), 9, "one open button per cell");
    open[3 + 2].click();
    h.run_steps(3);
    let wb = h.state();
    assert_eq!(wb.session.model.checkpoint, 1);
    assert_eq!(wb.session.project.view.layout, Layout::Single);
    assert_eq!(wb.session.project.view.overlay, MapSlot::Chefer.index());
}

/// A loopback HTTP server answering by path prefix, for as many requests as come.
fn fake_dicomweb(routes: Vec<(String, String, Vec<u8>)>) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/dicom-web", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = vec![0u8; 16384];
            let n = s.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
            let (ct, body) = routes
                .iter()
                .filter(|(p, _, _)| path.starts_with(p.as_str()))
                .max_by_key(|(p, _, _)| p.len())
                .map(|(_, c, b)| (c.clone(), b.clone()))
                .unwrap_or_else(|| ("text/plain".into(), b"nope".to_vec()));
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    url
}

#[test]
fn the_pacs_browser_fetches_a_study_and_the_window_presets_apply() {
    let ct = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/dicom/CT_small.dcm");
    let study = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322";
    let qido = format!(
        r#"[{{"0020000D":{{"vr":"UI","Value":["{study}"]}},"00100020":{{"vr":"LO","Value":["1CT1"]}},"00080020":{{"vr":"DA","Value":["20040119"]}}}}]"#
    );
    let series =
        r#"[{"0020000E":{"vr":"UI","Value":["1.2.3"]},"00080060":{"vr":"CS","Value":["CT"]}}]"#;
    let mut multipart = b"--b0\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
    multipart.extend(std::fs::read(&ct).unwrap());
    multipart.extend(b"\r\n--b0--\r\n");
    let url = fake_dicomweb(vec![
        (
            "/dicom-web/studies?".into(),
            "application/dicom+json".into(),
            qido.into_bytes(),
        ),
        (
            format!("/dicom-web/studies/{study}/series"),
            "application/dicom+json".into(),
            series.as_bytes().to_vec(),
        ),
        (
            format!("/dicom-web/studies/{study}"),
            "multipart/related; type=\"application/dicom\"; boundary=b0".into(),
            multipart,
        ),
    ]);
    let data = tempdir("pacs-data");
    let mut h = harness_with(demo_session().unwrap(), Some(data.clone()), None);
    let before = h.state().session.project.images.len();
    click_label(&mut h, "File");
    h.run_steps(2);
    click_label(&mut h, "PACS…");
    h.run_steps(3);
    h.state_mut().pacs.url = url;
    click_label(&mut h, "Search");
    wait_until(&mut h, 30, "the search", |wb| !wb.pacs.busy());
    assert_eq!(h.state().pacs.studies.len(), 1, "{}", h.state().pacs.status);
    assert_eq!(h.state().pacs.studies[0].patient_id, "1CT1");
    click_label(&mut h, "Fetch");
    wait_until(&mut h, 30, "the fetch", |wb| !wb.pacs.busy());
    let wb = h.state();
    assert_eq!(
        wb.session.project.images.len(),
        before + 1,
        "{}",
        wb.pacs.status
    );
    let added = wb.session.resolve(&wb.session.project.images[before].path);
    assert!(added.starts_with(data.join("pacs")), "{}", added.display());
    // Open it; the CT presets set the window by key.
    let i = before;
    h.state_mut().open_index(i);
    settle(&mut h);
    h.key_press(egui::Key::Num3);
    h.run_steps(2);
    assert_eq!(
        h.state().session.project.images[i].window,
        Some((-600.0, 1500.0))
    );
    h.key_press(egui::Key::Num2);
    h.run_steps(2);
    assert_eq!(
        h.state().session.project.images[i].window,
        Some((40.0, 80.0))
    );
    // The tools panel measures in millimetres (CT_small: 0.661468 mm pixels).
    h.get_by_label_contains("Pixel spacing 0.661 × 0.661 mm");
}

#[test]
fn a_project_in_use_opens_read_only_with_a_banner_and_takes_no_edit() {
    let dir = tempdir("in-use");
    let file = crate::support::copy_demo(&dir);
    // The first session holds the project (as another workbench would).
    let holder = Session::open_project(&file).unwrap();
    assert!(holder.read_only.is_none());
    let mut h = harness(Session::open_project(&file).unwrap());
    // The banner names the holder (the query fails when no such text is on screen).
    h.get_by_label_contains("Edits are off; Save as writes a copy.");
    assert!(
        h.get_all_by_label_contains("is locked (in use) by vitscope workbench (pid")
            .count()
            >= 1
    );
    let before_file = std::fs::read(&file).unwrap();
    let before = h.state().session.ann().unwrap().mask.clone();
    h.key_press(egui::Key::D);
    h.step();
    let (a, b) = (screen(&h, 0, (20.0, 20.0)), screen(&h, 0, (100.0, 60.0)));
    drag(&mut h, a, b);
    assert_eq!(h.state().session.ann().unwrap().mask, before, "no edit");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.run_steps(3);
    assert_eq!(std::fs::read(&file).unwrap(), before_file, "nothing saved");
    drop(holder);
}

#[test]
fn a_project_changed_on_disk_is_not_overwritten_without_asking() {
    let dir = tempdir("conflict");
    let file = crate::support::copy_demo(&dir);
    let mut h = harness(Session::open_project(&file).unwrap());
    h.state_mut()
        .session
        .add_box(vitscope::project::annotation::LabelBox {
            x0: 3,
            y0: 4,
            x1: 30,
            y1: 40,
            class: 1,
        });
    h.step();
    // Another program rewrites the file meanwhile.
    let mut other = vitscope::project::Project::load(&file).unwrap();
    other.classes[1].name = "edited elsewhere".into();
    std::fs::write(&file, other.to_ron()).unwrap();
    let edited = std::fs::read(&file).unwrap();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.run_steps(3);
    assert!(h.state().conflict, "{:?}", h.state().session.messages);
    assert_eq!(std::fs::read(&file).unwrap(), edited, "nothing overwritten");
    h.get_by_label("Reload");
    h.get_by_label("Save as");
    h.get_by_label("Overwrite").click();
    h.run_steps(3);
    assert!(!h.state().conflict);
    let back = vitscope::project::Project::load(&file).unwrap();
    assert_eq!(
        back.images[0].boxes.len(),
        1,
        "overwritten on the user's word"
    );
}

#[test]
fn a_failed_save_keeps_a_dialog_up_and_the_autosave_moves_to_the_recovery_folder() {
    let dir = tempdir("full-disk");
    let fs = crate::support::Tmpfs::mount(&dir.join("fs"), "1m");
    // The project and its images on the small file system; the model stays outside.
    let src = vitscope::app::demo_dir();
    let proj = fs.path.join("p.ron");
    std::fs::create_dir_all(fs.path.join("images")).unwrap();
    let mut p = vitscope::project::Project::load(&src.join("project.ron")).unwrap();
    for e in &mut p.images {
        let name = e.path.file_name().unwrap().to_owned();
        std::fs::copy(src.join(&e.path), fs.path.join("images").join(&name)).unwrap();
        e.path = PathBuf::from("images").join(name);
        e.mask = None;
    }
    for c in &mut p.checkpoints {
        c.weights = src.join(&c.weights);
        c.config = c.config.as_ref().map(|f| src.join(f));
    }
    std::fs::write(&proj, p.to_ron()).unwrap();
    let data = dir.join("data");
    let mut h = harness_with(
        Session::open_project(&proj).unwrap(),
        Some(data.clone()),
        None,
    );
    h.key_press(egui::Key::D);
    h.step();
    let (a, b) = (screen(&h, 0, (20.0, 20.0)), screen(&h, 0, (150.0, 120.0)));
    drag(&mut h, a, b);
    fs.fill(0);
    let before = std::fs::read(&proj).unwrap();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::S);
    h.run_steps(3);
    let wb = h.state();
    assert!(wb.save_error.is_some(), "{:?}", wb.session.messages);
    assert!(wb.session.dirty, "the work stays in the session");
    assert_eq!(std::fs::read(&proj).unwrap(), before);
    assert!(
        !std::fs::read_dir(&fs.path)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp")),
        "the failed save left a temp file"
    );
    // The dialog stays across frames until dismissed.
    h.run_steps(5);
    h.get_by_label("Save failed");
    // The autosave now goes to the recovery folder, and names the project.
    let copy = h.state_mut().session.autosave().unwrap();
    assert!(
        copy.starts_with(data.join("recovery")),
        "{}",
        copy.display()
    );
    let meta = std::fs::read_to_string(format!("{}.meta", copy.display())).unwrap();
    assert!(
        meta.contains("project=") && meta.contains("p.ron"),
        "{meta}"
    );
    let restored = Session::from_copy(&copy, Some(&proj)).unwrap();
    assert_eq!(
        restored.states[0].as_ref().unwrap().ann.mask,
        h.state().session.ann().unwrap().mask,
        "the copy holds the stroke"
    );
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert!(h.state().save_error.is_none());
    drop(h);
    drop(fs);
}

/// The Effects section: a threshold over the image's whole range previews every pixel as added,
/// "Apply effect" makes it one edit of the selected class, and Undo takes it back.
#[test]
fn an_effect_previews_applies_as_one_edit_and_undoes() {
    let mut h = harness(demo_session().unwrap());
    let before = h.state().session.ann().unwrap().mask.clone();
    click_label(&mut h, "Effects");
    h.run_steps(5);
    h.get_by_label("Apply effect").scroll_to_me();
    // The preview is computed off the UI thread: wait for it.
    let t = std::time::Instant::now();
    let preview = loop {
        h.run_steps(2);
        let preview: Vec<String> = h
            .query_all_by(|_| true)
            .filter_map(|n| n.accesskit_node().label().or(n.accesskit_node().value()))
            .filter(|l| l.starts_with("preview: +"))
            .collect();
        if !preview.is_empty() || t.elapsed().as_secs() > 30 {
            break preview;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let n = before.data.len();
    let others = before.data.iter().filter(|&&v| v > 1).count();
    let ones = before.data.iter().filter(|&&v| v == 1).count();
    let want = format!("preview: +{} px, −0 px", n - others - ones);
    assert!(
        !preview.is_empty() && preview.iter().all(|p| *p == want),
        "a full-range threshold adds every pixel not of another class: {preview:?}, want {want}"
    );
    click_label(&mut h, "Apply effect");
    h.run_steps(3);
    let after = h.state().session.ann().unwrap().mask.clone();
    assert_eq!(after.count(), n);
    assert!(h.state().session.dirty);
    click_label(&mut h, "Undo");
    h.run_steps(3);
    assert_eq!(
        h.state().session.ann().unwrap().mask,
        before,
        "Undo restores the mask"
    );
}
