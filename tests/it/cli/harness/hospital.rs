//! Hospital transfers: DICOM SEG and NIfTI masks for `import`, PACS URLs.

use std::path::Path;

use std::process::Command;

use vitscope::project::Project;

use super::helpers::*;
use super::{Expect, Gen, Reader};

/// DICOM SEG and NIfTI masks for `import`, and PACS URLs: truncations and flips of valid files
/// (made by vitscope's own export of a CT with a two-class mask), a SEG of an image the project
/// lacks, and unreachable or malformed servers.
pub(super) fn cases(g: &mut Gen) {
    use Expect::*;
    let dir = g.dir.join("in/hosp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("dicom/CT_small.dcm"), dir.join("ct.dcm")).unwrap();
    let mask = image::GrayImage::from_fn(128, 128, |x, y| {
        image::Luma([if x < 40 && y < 50 {
            1
        } else if x > 80 {
            2
        } else {
            0
        }])
    });
    mask.save(dir.join("ct_mask.png")).unwrap();
    let project = dir.join("p.ron");
    std::fs::write(
        &project,
        "(version: 1, classes: [(name: \"a\", color: (255, 0, 0)), (name: \"b\", color: (0, 255, 0))], checkpoints: [], images: [(path: \"ct.dcm\", mask: Some(\"ct_mask.png\"))])\n",
    )
    .unwrap();
    let out = dir.join("export");
    vitscope::interop::export_project(
        &project,
        vitscope::interop::Format::Seg,
        &out,
        &Default::default(),
    )
    .unwrap();
    vitscope::interop::export_project(
        &project,
        vitscope::interop::Format::Nifti,
        &out,
        &Default::default(),
    )
    .unwrap();
    let seg = std::fs::read(out.join("ct.seg.dcm")).unwrap();
    let nii = std::fs::read(out.join("ct.nii.gz")).unwrap();
    let proj = project.clone();
    let import = move |format: &'static str| {
        let proj = proj.clone();
        // A dry run: a flipped file that still reads and matches changes nothing either.
        move |f: &Path| {
            argv(
                &format!("import --dry-run --project {{}} --format {format} --from {{}}"),
                &[&proj, &f],
            )
        }
    };
    g.bulk(Reader::Hospital, "ct.seg.dcm", &seg, Fail, &import("seg"));
    g.bulk(Reader::Hospital, "ct.nii.gz", &nii, Fail, &import("nifti"));
    // NIfTI files that must not land: a rotated (oblique) affine, a grid shifted off the CT, a
    // header declaring 40000 × 40000 voxels; a SEG declaring a 4 GiB pixel element.
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&nii[..]), &mut raw).unwrap();
    let f32_at = |b: &[u8], at: usize| f32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let mut rotated = raw.clone();
    let (a, c) = (f32_at(&raw, 280), 0.5f32.sqrt());
    for (at, v) in [(280, a * c), (284, -a * c), (296, a * c), (300, a * c)] {
        rotated[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    let mut shifted = raw.clone();
    let x = f32_at(&raw, 292) + 10.0 * a;
    shifted[292..296].copy_from_slice(&x.to_le_bytes());
    let mut huge = raw.clone();
    for at in [42, 44] {
        huge[at..at + 2].copy_from_slice(&40000u16.to_le_bytes());
    }
    for (what, bytes) in [
        ("an oblique affine", rotated),
        ("a grid shifted off the image", shifted),
        ("40000 x 40000 voxels declared", huge),
    ] {
        let f = dir.join(format!("bad_{}", what.replace(' ', "_")));
        std::fs::create_dir_all(&f).unwrap();
        let f = f.join("ct.nii");
        std::fs::write(&f, bytes).unwrap();
        g.add(
            Reader::Hospital,
            format!("a NIfTI with {what}"),
            Fail,
            Some(&f),
            import("nifti")(&f),
        );
    }
    if let Some(b) = set_length(&seg, 0x7FE0, 0x0010, 0xFFFF_FFF0) {
        let f = dir.join("seg_4gib.dcm");
        std::fs::write(&f, b).unwrap();
        g.add(
            Reader::Hospital,
            "a SEG declaring a 4 GiB pixel element",
            Fail,
            Some(&f),
            import("seg")(&f),
        );
    }
    let liver = data("dicom/liver_1frame.dcm");
    g.add(
        Reader::Hospital,
        "import of a SEG of an image not in the project",
        Fail,
        Some(&liver),
        argv("import --project {} --from {}", &[&project, &liver]),
    );
    // The one case that writes: into a project of its own.
    let writable = dir.join("p_ok.ron");
    std::fs::copy(&project, &writable).unwrap();
    g.add(
        Reader::Hospital,
        "import of the exported SEG",
        Succeed,
        None,
        argv(
            "import --project {} --from {}",
            &[&writable, &out.join("ct.seg.dcm")],
        ),
    );
    g.cases.last_mut().unwrap().writes = vec![writable.clone(), dir.join("p_ok_masks")];

    // Integrity: every refusal names its file and changes nothing.
    let png_dir = dir.join("png_in");
    std::fs::create_dir_all(&png_dir).unwrap();
    image::GrayImage::from_fn(128, 128, |x, _| image::Luma([if x < 9 { 7 } else { 0 }]))
        .save(png_dir.join("ct.png"))
        .unwrap();
    g.add(
        Reader::Hospital,
        "a PNG mask with class id 7 in a two-class project",
        Fail,
        Some(&png_dir.join("ct.png")),
        argv(
            "import --project {} --from {}",
            &[&project, &png_dir.join("ct.png")],
        ),
    );
    let wide16 = dir.join("wide16");
    std::fs::create_dir_all(&wide16).unwrap();
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(128, 128, |x, _| {
        image::Luma([if x < 9 { 1000 } else { 1 }])
    })
    .save(wide16.join("ct.png"))
    .unwrap();
    g.add(
        Reader::Hospital,
        "a 16-bit label PNG holding 1000",
        Fail,
        Some(&wide16.join("ct.png")),
        argv(
            "import --add-classes --project {} --from {}",
            &[&project, &wide16.join("ct.png")],
        ),
    );
    let coco = dir.join("one_bad.json");
    std::fs::write(
        &coco,
        serde_json::json!({
            "images": [{"id": 1, "file_name": "ct.dcm", "width": 128, "height": 128}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9]},
                {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5]]},
            ],
        })
        .to_string(),
    )
    .unwrap();
    g.add(
        Reader::Hospital,
        "a COCO file with one bad polygon",
        Fail,
        Some(&coco),
        argv("import --project {} --from {}", &[&project, &coco]),
    );
    let nomatch = dir.join("nomatch");
    std::fs::create_dir_all(&nomatch).unwrap();
    std::fs::copy(out.join("ct.nii.gz"), nomatch.join("other.nii.gz")).unwrap();
    g.add(
        Reader::Hospital,
        "a NIfTI whose stem names no image",
        Fail,
        Some(&nomatch.join("other.nii.gz")),
        argv(
            "import --project {} --from {}",
            &[&project, &nomatch.join("other.nii.gz")],
        ),
    );
    let badman = dir.join("badmanifest");
    std::fs::create_dir_all(&badman).unwrap();
    std::fs::copy(out.join("ct.nii.gz"), badman.join("ct.nii.gz")).unwrap();
    std::fs::write(badman.join("manifest.csv"), "file,image\nct.nii.gz\n").unwrap();
    g.add(
        Reader::Hospital,
        "a malformed manifest.csv beside the mask",
        Fail,
        Some(&badman.join("manifest.csv")),
        argv(
            "import --project {} --from {}",
            &[&project, &badman.join("ct.nii.gz")],
        ),
    );
    let wrongid = dir.join("wrongid");
    std::fs::create_dir_all(&wrongid).unwrap();
    std::fs::copy(out.join("ct.nii.gz"), wrongid.join("ct.nii.gz")).unwrap();
    std::fs::write(
        wrongid.join("manifest.csv"),
        "file,image,identity,frame,class_ids\nct.nii.gz,ct,dicom:1.2.3.4,0,1;2\n",
    )
    .unwrap();
    g.add(
        Reader::Hospital,
        "a manifest naming an image the project does not have",
        Fail,
        Some(&wrongid.join("ct.nii.gz")),
        argv(
            "import --project {} --from {}",
            &[&project, &wrongid.join("ct.nii.gz")],
        ),
    );
    // A project held by a live process (this test): refused as locked.
    let held = dir.join("held.ron");
    std::fs::copy(&project, &held).unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let host = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    std::fs::write(
        dir.join(".held.ron.lock"),
        format!(
            "host={}\npid={}\nstart={start}\nboot={}\nprogram=the bad-input harness\nsince=0\n",
            host.trim(),
            std::process::id(),
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .unwrap()
                .trim()
        ),
    )
    .unwrap();
    g.add(
        Reader::Hospital,
        "import into a project another process holds",
        Fail,
        Some(&held),
        argv(
            "import --project {} --from {}",
            &[&held, &out.join("ct.seg.dcm")],
        ),
    );
    let mut badid = Project::load(&project).unwrap();
    badid.images[0].identity = Some(vitscope::project::Identity::Sha256("xyz".into()));
    let badid_file = dir.join("bad_identity.ron");
    std::fs::write(&badid_file, badid.to_ron()).unwrap();
    g.add(
        Reader::Hospital,
        "a project whose identity is not a SHA-256",
        Fail,
        Some(&badid_file),
        argv(
            "export --format png --project {} --out @OUT",
            &[&badid_file],
        ),
    );
    g.add_arg_case(
        "pacs fetch of a study UID that is a path",
        Fail,
        "../x",
        &[
            "pacs",
            "--url",
            "http://127.0.0.1:9/dicom-web",
            "fetch",
            "--study",
            "../x",
            "--project",
            "/nonexistent/p.ron",
        ],
    );
    let inside = dir.join("deid_out");
    g.add_arg_case(
        "a de-identified export whose linkage would lie inside it",
        Fail,
        "link.csv",
        &[
            "export",
            "--format",
            "nifti",
            "--deidentify",
            "--linkage",
            inside.join("link.csv").to_str().unwrap(),
            "--project",
            project.to_str().unwrap(),
            "--out",
            inside.to_str().unwrap(),
        ],
    );
    for (name, url) in [
        ("a PACS URL that is not http", "ftp://127.0.0.1/dicom-web"),
        ("a PACS nobody listens on", "http://127.0.0.1:9/dicom-web"),
    ] {
        g.add_arg_case(
            name,
            Fail,
            "127.0.0.1",
            &["pacs", "--url", url, "--timeout", "5", "search"],
        );
    }
}
