//! Project files for `eval`.

use std::path::Path;

use vitscope::project::Threshold;

use super::helpers::*;
use super::{Base, Case, Expect, Gen, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base) {
    use Expect::*;
    let Base {
        good_png,
        png: _,
        map: _,
        ..
    } = b;
    // ---- projects (eval) ----
    let pdir = g.dir.join("in/project");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(pdir.join("img.png"), good_png).unwrap();
    std::fs::write(
        pdir.join("ct.dcm"),
        std::fs::read(data("dicom/CT_small.dcm")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        pdir.join("two.dcm"),
        std::fs::read(data("dicom/SC_rgb_rle_2frame.dcm")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        pdir.join("huge.png"),
        png_with_size(good_png, 100_000, 100_000),
    )
    .unwrap();
    let eval_args = |f: &Path| {
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods attention --out @OUT",
            &[&f],
        )
    };
    let ron_case = |g: &mut Gen, what: &str, text: String, expect: Expect| {
        let f = pdir.join(format!(
            "p_{}.ron",
            what.replace([' ', '<', '>', '(', ')', ','], "_")
        ));
        std::fs::write(&f, &text).unwrap();
        g.add(
            Reader::Projects,
            format!("project: {what}"),
            expect,
            Some(&f),
            eval_args(&f),
        );
        f
    };
    let good = project(vec![entry("img.png", vec![bx(5, 5, 30, 30)])]);
    let good_ron = good.to_ron();
    ron_case(g, "good", good_ron.clone(), Succeed);
    let f = pdir.join("cam_attn.ron");
    std::fs::write(&f, &good_ron).unwrap();
    g.add(
        Reader::Projects,
        "project scored with cam-attn (an all-zero map)",
        Succeed,
        None,
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods cam-attn,chefer --out @OUT",
            &[&f],
        ),
    );
    ron_case(
        g,
        "boxes on a DICOM",
        project(vec![entry("ct.dcm", vec![bx(10, 10, 60, 60)])]).to_ron(),
        Succeed,
    );
    let mut frame1 = entry("two.dcm", vec![bx(10, 10, 60, 60)]);
    frame1.frame = 1;
    ron_case(
        g,
        "frame 1 of a 2-frame DICOM",
        project(vec![frame1.clone()]).to_ron(),
        Succeed,
    );
    frame1.frame = 99;
    ron_case(
        g,
        "frame 99 of a 2-frame DICOM",
        project(vec![frame1]).to_ron(),
        Fail,
    );
    for (what, image, boxes) in [
        ("box x1 < x0", "img.png", vec![bx(30, 5, 5, 30)]),
        ("empty box", "img.png", vec![bx(5, 5, 5, 30)]),
        (
            "box outside the image",
            "img.png",
            vec![bx(50, 50, 500, 500)],
        ),
        ("missing image", "ghost.png", vec![bx(5, 5, 30, 30)]),
        (
            "box-only image whose header claims 100000x100000",
            "huge.png",
            vec![bx(5, 5, 30, 30)],
        ),
        ("no annotations", "img.png", vec![]),
    ] {
        ron_case(g, what, project(vec![entry(image, boxes)]).to_ron(), Fail);
    }
    let mut class9 = entry("img.png", vec![bx(5, 5, 30, 30)]);
    class9.boxes[0].class = 9;
    ron_case(g, "box of class 9", project(vec![class9]).to_ron(), Fail);
    let mut win = entry("ct.dcm", vec![bx(10, 10, 60, 60)]);
    win.window = Some((40.0, 0.0));
    ron_case(g, "window width 0", project(vec![win]).to_ron(), Fail);
    let mut view = good.clone();
    view.view.opacity = [7.0, 0.5, 0.5];
    ron_case(g, "opacity 7", view.to_ron(), Fail);
    let mut view = good.clone();
    view.view.threshold = Threshold::TopPercent(f64::NAN);
    ron_case(g, "threshold NaN", view.to_ron(), Fail);
    ron_case(
        g,
        "version 99",
        good_ron.replace(
            &format!("version: {}", vitscope::project::model::VERSION),
            "version: 99",
        ),
        Fail,
    );
    ron_case(
        g,
        "negative box coordinate",
        good_ron.replacen("x0: 5", "x0: -5", 1),
        Fail,
    );
    ron_case(
        g,
        "box coordinate above u32",
        good_ron.replacen("x1: 30", "x1: 99999999999", 1),
        Fail,
    );
    ron_case(g, "not RON", "<project>xml?</project>".into(), Fail);
    let zero_ron = pdir.join("zero.ron");
    let _ = std::fs::remove_file(&zero_ron);
    std::os::unix::fs::symlink("/dev/zero", &zero_ron).unwrap();
    g.add(
        Reader::Projects,
        "a .ron linked to /dev/zero",
        Fail,
        Some(&zero_ron),
        eval_args(&zero_ron),
    );
    let ron_bytes = good_ron.into_bytes();
    {
        // Truncations inside the project text: written beside the images so paths resolve.
        let n = ron_bytes.len();
        let step = if g.full { 1.max(n / 40) } else { 1.max(n / 10) };
        for cut in (0..n - 2).step_by(step) {
            let f = pdir.join(format!("cut{cut}.ron"));
            std::fs::write(&f, &ron_bytes[..cut]).unwrap();
            g.cases.push(Case {
                reader: Reader::Projects,
                name: format!("project truncated to {cut} bytes"),
                args: eval_args(&f),
                expect: Fail,
                names: Some(f.file_name().unwrap().to_string_lossy().into_owned()),
                group: Some("project truncations".into()),
                gui: false,
                writes: Vec::new(),
            });
        }
    }
}
