//! How the workbench starts: the bundled demo, what a path on the command line opens, the GPU
//! device shared by eframe and burn, and eframe's run loop with the exit report.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

use super::state::Session;
use super::ui::Workbench;

use crate::project::CheckpointEntry;

/// Folder of the bundled demo (model, images, project): `$VITSCOPE_ASSETS/demo` if set; else the
/// checkout the binary was built from; else, for a checkout that moved after the build,
/// `assets/demo` in the current folder or beside the executable or one of its parents.
pub fn demo_dir() -> PathBuf {
    if let Some(a) = std::env::var_os("VITSCOPE_ASSETS") {
        return PathBuf::from(a).join("demo");
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let exe = std::env::current_exe().ok();
    let search = std::env::current_dir().ok().into_iter().chain(
        exe.iter()
            .flat_map(|e| e.ancestors().skip(1).map(Path::to_path_buf)),
    );
    locate_demo(built, search)
}

/// `built` if it holds the demo project, else the first `<folder>/assets/demo` that does (from
/// `search`), else `built` (whose absence the caller then reports).
fn locate_demo(built: PathBuf, search: impl Iterator<Item = PathBuf>) -> PathBuf {
    let has_demo = |d: &Path| d.join("project.ron").is_file();
    if has_demo(&built) {
        return built;
    }
    search
        .map(|d| d.join("assets/demo"))
        .find(|d| has_demo(d))
        .unwrap_or(built)
}

/// The bundled model as a project checkpoint.
pub fn bundled_checkpoint() -> CheckpointEntry {
    let d = demo_dir();
    CheckpointEntry {
        name: "bundled".into(),
        weights: d.join("model.safetensors"),
        config: Some(d.join("config.json")),
    }
}

/// The demo project, opened untitled so a demo never writes into the installed assets.
pub fn demo_session() -> Result<Session> {
    let file = demo_dir().join("project.ron");
    // Read only: no lock and no upgrade are written into the assets.
    let open = crate::project::OpenProject::read(&file)?;
    let mut s = Session::from_open(open, None);
    s.project_path = None;
    s.disk_hash = None;
    Ok(s)
}

/// A session for a project file (`.ron`), an image, or a folder of images (its `images/`
/// subfolder when it has the paper's layout).
pub fn session_for(path: &Path) -> Result<Session> {
    if path.as_os_str().is_empty() {
        bail!("no path given");
    }
    if path.is_dir() {
        let dir = if path.join("images").is_dir() {
            path.join("images")
        } else {
            path.to_path_buf()
        };
        let files = crate::io::image::list_supported(&dir)
            .with_context(|| format!("{}: cannot list folder", dir.display()))?;
        if files.is_empty() {
            bail!("{}: no images in this folder", dir.display());
        }
        let mut s = Session::from_images(&files, bundled_checkpoint());
        // Masks in the paper's layout come along.
        let masks = dir.parent().map(|p| p.join("masks"));
        if let Some(masks) = masks.filter(|m| m.is_dir() && dir.ends_with("images")) {
            for e in &mut s.project.images {
                let stem = e
                    .path
                    .file_stem()
                    .map(|s| s.to_os_string())
                    .unwrap_or_default();
                let m = masks.join(Path::new(&stem).with_extension("png"));
                if m.is_file() {
                    e.mask = Some(m);
                }
            }
        }
        return Ok(s);
    }
    if !path.exists() {
        bail!("{}: no such file or folder", path.display());
    }
    if path.extension().is_some_and(|e| e == "ron") {
        return Ok(Session::open_project(path)?);
    }
    if crate::io::image::is_supported(path) {
        return Ok(Session::from_images(
            &[path.to_path_buf()],
            bundled_checkpoint(),
        ));
    }
    bail!(
        "{}: not a project (.ron), image (png, jpg, tif, bmp, DICOM) or folder",
        path.display()
    )
}

/// How the GUI starts.
#[derive(Debug, Default, Clone)]
pub struct GuiOptions {
    /// A project file, image or folder (default: the bundled demo).
    pub open: Option<PathBuf>,
    /// Render the first fully loaded frame to this PNG, then exit.
    pub screenshot: Option<PathBuf>,
    /// Time this many frames once loaded, print the medians, then exit.
    pub bench_frames: Option<usize>,
    /// Budget of the maps cache in MiB (overrides the project's setting).
    pub map_cache_mb: Option<u64>,
    /// Paint one scripted brush stroke once loaded (and print its digest), then run on.
    pub paint_stroke: bool,
    /// Reader mode: (reader id, lock) on the study file `open`.
    pub reader: Option<(String, bool)>,
}

static SCREENSHOT_RESULT: Mutex<Option<Result<(), String>>> = Mutex::new(None);

/// Runs the GUI until the window closes.
pub fn run(opts: GuiOptions) -> Result<()> {
    if let Some((reader, lock)) = &opts.reader {
        // A wrong study or reader is said before anything about the display.
        let Some(study) = &opts.open else {
            bail!("--reader reads a study: give the study file (vitscope STUDY.ron --reader ID)");
        };
        crate::study::reading::Reading::open(study, reader, *lock)?;
    }
    if cfg!(target_os = "linux")
        && ["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"]
            .iter()
            .all(|v| std::env::var_os(v).is_none())
    {
        bail!(
            "no display to open the workbench on (DISPLAY and WAYLAND_DISPLAY are unset): run it in \
             a desktop session, or headless as `xvfb-run -a vitscope --screenshot FILE`; the \
             subcommands (explain, metrics, eval, ...) need no display"
        );
    }
    if let Some((reader, lock)) = &opts.reader {
        let Some(study) = &opts.open else {
            bail!("--reader reads a study: give the study file (vitscope STUDY.ron --reader ID)");
        };
        return run_reader(study, reader, *lock);
    }
    let session = match &opts.open {
        Some(p) => session_for(p)?,
        None => demo_session()?,
    };
    let native = native_options("vitscope", [1500.0, 950.0]);
    let wb_opts = super::ui::WorkbenchOptions {
        screenshot: opts.screenshot.clone(),
        data_dir: None,
        cache_mb: opts.map_cache_mb,
    };
    let (bench, stroke) = (opts.bench_frames, opts.paint_stroke);
    eframe::run_native(
        "vitscope",
        native,
        Box::new(move |cc| {
            let mut wb = Workbench::with_options(
                session,
                &cc.egui_ctx,
                cc.wgpu_render_state.clone(),
                wb_opts,
            );
            wb.automation.frame_bench = bench.map(super::harness::FrameBench::new);
            wb.automation.paint_stroke = stroke.then(super::harness::ScriptedStroke::default);
            Ok(Box::new(ExitReporter(wb)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open a window: {e}"))?;
    if let Some(path) = opts.screenshot {
        match SCREENSHOT_RESULT.lock().expect("lock").take() {
            Some(Ok(())) => eprintln!("wrote {}", path.display()),
            Some(Err(e)) => bail!("screenshot {}: {e}", path.display()),
            None => bail!("the window closed before the screenshot was taken"),
        }
    }
    Ok(())
}

/// A window of `size` titled `title`, drawn with wgpu.
fn native_options(title: &str, size: [f32; 2]) -> eframe::NativeOptions {
    eframe::NativeOptions {
        renderer: eframe::Renderer::Wgpu,
        wgpu_options: eframe::egui_wgpu::WgpuConfiguration {
            wgpu_setup: super::gpu::wgpu_setup(),
            ..Default::default()
        },
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size(size)
            .with_title(title),
        ..Default::default()
    }
}

/// The checkpoint a study shows: the project's entry of its name, else the bundled model.
fn study_checkpoint(study_file: &Path) -> Result<CheckpointEntry> {
    let study = crate::study::design::Study::load(study_file)?;
    let Some(name) = &study.checkpoint else {
        return Ok(bundled_checkpoint());
    };
    let project = study.project_path(study_file);
    let open = crate::project::OpenProject::read(&project)?;
    open.project
        .checkpoints
        .iter()
        .find(|c| &c.name == name)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("{}: no checkpoint '{name}'", project.display()))
}

/// Reader mode: the study's questions for `reader`, one at a time, blind.
fn run_reader(study_file: &Path, reader: &str, lock: bool) -> Result<()> {
    // Everything that can be refused is checked before a window opens.
    crate::study::reading::Reading::open(study_file, reader, lock)?;
    let checkpoint = study_checkpoint(study_file)?;
    let native = native_options("vitscope — reader study", [1200.0, 900.0]);
    let (file, reader) = (study_file.to_path_buf(), reader.to_string());
    eframe::run_native(
        "vitscope-reader",
        native,
        Box::new(move |cc| {
            let app =
                super::ui::reader::ReaderApp::new(&cc.egui_ctx, &file, &reader, lock, checkpoint)
                    .map_err(|e| e.to_string())?;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open a window: {e}"))
}

/// Passes the workbench's screenshot outcome out of eframe's run loop.
struct ExitReporter(Workbench);

impl eframe::App for ExitReporter {
    fn ui(&mut self, ui: &mut eframe::egui::Ui, frame: &mut eframe::Frame) {
        eframe::App::ui(&mut self.0, ui, frame);
        if let Some(r) = self.0.automation.finished.take() {
            *SCREENSHOT_RESULT.lock().expect("lock") = Some(r);
        }
    }

    fn raw_input_hook(
        &mut self,
        ctx: &eframe::egui::Context,
        raw_input: &mut eframe::egui::RawInput,
    ) {
        eframe::App::raw_input_hook(&mut self.0, ctx, raw_input);
    }

    fn on_exit(&mut self) {
        eframe::App::on_exit(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_is_found_after_the_checkout_moved() {
        let root = std::env::temp_dir().join(format!("vitscope-demo-dir-{}", std::process::id()));
        let moved = root.join("moved");
        std::fs::create_dir_all(moved.join("assets/demo")).unwrap();
        std::fs::write(moved.join("assets/demo/project.ron"), "()").unwrap();
        let gone = root.join("gone/assets/demo");
        // The build's checkout is gone: the search finds the moved one (here from a binary
        // in moved/target/release).
        let exe_dirs = moved
            .join("target/release")
            .ancestors()
            .map(Path::to_path_buf)
            .collect::<Vec<_>>();
        assert_eq!(
            locate_demo(gone.clone(), exe_dirs.into_iter()),
            moved.join("assets/demo")
        );
        // Nothing found: the built path comes back, so the error names it.
        assert_eq!(locate_demo(gone.clone(), std::iter::empty()), gone);
        // The build's checkout wins when it is there.
        assert_eq!(
            locate_demo(
                moved.join("assets/demo"),
                std::iter::once(root.join("gone"))
            ),
            moved.join("assets/demo")
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}
