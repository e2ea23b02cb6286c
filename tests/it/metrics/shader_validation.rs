//! Every WGSL kernel parses and validates with naga, without a GPU.

use vitscope::metrics::gpu::{KERNELS, kernel_source};

#[test]
fn every_kernel_validates() {
    let dir =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run under cargo"))
            .join("shaders");
    let on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "wgsl")
                .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))?
        })
        .filter(|n| n != "types")
        .collect();
    for name in &on_disk {
        assert!(
            KERNELS.iter().any(|(k, _)| k == name),
            "shaders/{name}.wgsl is not dispatched by src/metrics/gpu.rs"
        );
    }
    for (name, src) in KERNELS {
        let full = kernel_source(src);
        let module = naga::front::wgsl::parse_str(&full)
            .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&full)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(&full)));
        assert!(
            module.entry_points.iter().any(|e| e.name == "main"),
            "{name}: no main entry point"
        );
    }
}

#[test]
fn the_overlay_shader_validates() {
    let src = vitscope::app::overlay::OVERLAY_WGSL;
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("overlay.wgsl: {}", e.emit_to_string(src)));
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    )
    .validate(&module)
    .unwrap_or_else(|e| panic!("overlay.wgsl: {}", e.emit_to_string(src)));
    let names: Vec<&str> = module
        .entry_points
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(names, ["vs_main", "fs_main"]);
    // The uniform block the shader reads has the size of the Rust mirror.
    let pane = module
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some("Pane"))
        .expect("Pane struct");
    assert_eq!(
        pane.1.inner.size(module.to_ctx()) as usize,
        std::mem::size_of::<vitscope::app::overlay::PaneUniform>()
    );
}
