//! The workbench under Xvfb (`--screenshot`).

use vitscope::project::Project;

use super::checkpoints::Checkpoints;
use super::helpers::*;
use super::{Base, Case, Expect, Gen, OUT, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base, ck: &Checkpoints) {
    let (st, pw) = (&ck.st, "patch_embed.proj.weight");
    use Expect::*;
    let Base {
        good_png, png: _, ..
    } = b;
    // ---- the workbench (under Xvfb) ----
    let gdir = g.dir.join("in/gui");
    std::fs::create_dir_all(&gdir).unwrap();
    let ct = std::fs::read(data("dicom/CT_small.dcm")).unwrap();
    std::fs::write(
        gdir.join("rows0.dcm"),
        set_value(&ct, 0x0028, 0x0010, &[0, 0]).unwrap(),
    )
    .unwrap();
    std::fs::write(gdir.join("cut.png"), &good_png[..good_png.len() / 2]).unwrap();
    std::fs::write(
        gdir.join("huge.png"),
        png_with_size(good_png, 100_000, 100_000),
    )
    .unwrap();
    std::fs::write(gdir.join("wide.png"), bomb_wide()).unwrap();
    std::fs::write(gdir.join("img.png"), good_png).unwrap();
    std::fs::write(
        gdir.join("four_channels.safetensors"),
        st_bytes(&resized(st, pw, &[(1, 4)])),
    )
    .unwrap();
    std::fs::write(
        gdir.join("nan.safetensors"),
        st_bytes(&edit(st, "pos_embed", |_, v| v[1] = f32::NAN)),
    )
    .unwrap();
    let gui_case = |g: &mut Gen, what: &str, p: Project, expect: Expect| {
        let f = gdir.join(format!("{}.ron", what.replace(' ', "_")));
        std::fs::write(&f, p.to_ron()).unwrap();
        g.cases.push(Case {
            reader: Reader::Projects,
            name: format!("workbench: {what}"),
            args: argv("{} --screenshot {}", &[&f, &format!("{OUT}/s.png")]),
            expect,
            names: Some(f.file_name().unwrap().to_string_lossy().into_owned()),
            group: None,
            gui: true,
            // The workbench opens the project for writing: it records the images' identities.
            writes: vec![f.clone()],
        });
    };
    let one = |path: &str| project(vec![entry(path, vec![bx(1, 1, 5, 5)])]);
    gui_case(g, "a DICOM with Rows 0", one("rows0.dcm"), Succeed);
    gui_case(g, "a truncated PNG", one("cut.png"), Succeed);
    gui_case(
        g,
        "a PNG header claiming 100000x100000",
        one("huge.png"),
        Succeed,
    );
    gui_case(g, "an image wider than a texture", one("wide.png"), Succeed);
    for ck in ["four_channels.safetensors", "nan.safetensors"] {
        let mut p = one("img.png");
        p.checkpoints.push(vitscope::project::CheckpointEntry {
            name: "bad".into(),
            weights: ck.into(),
            config: None,
        });
        gui_case(g, &format!("checkpoint {ck}"), p, Succeed);
    }
    gui_case(
        g,
        "box x1 < x0",
        project(vec![entry("img.png", vec![bx(9, 1, 5, 5)])]),
        Fail,
    );
}
