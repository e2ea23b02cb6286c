//! Exports and imports by identity, and PACS fetches by UID (`../shared/specs/integrity.md`
//! §1, §2, §5a): duplicate stems across studies, manifests, ambiguous matches, two SEGs of one
//! image, a COCO file with one bad annotation, class ids above the class list, 16-bit labels,
//! `--dry-run` and `--replace`, a frame of a multi-frame instance, and a DICOMweb server of the
//! test's own that reorders, adds and removes instances between fetches and answers UIDs such as
//! `../x`.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vitscope::project::annotation::LabelMask;
use vitscope::project::{Identity, ImageEntry, OpenProject, Project};

fn bin() -> Command {
    crate::support::vitscope()
}

fn tempdir(name: &str) -> PathBuf {
    let d = crate::support::scratch(&format!("transfers-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: Output, what: &str) -> (String, String) {
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{what} failed:\n{e}");
    assert!(!e.contains("error:"), "{what}: {e}");
    (o, e)
}

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/dicom")
        .join(name)
}

/// CT_small with other UIDs: a distinct instance.
fn ct_instance(study: &str, series: &str, sop: &str) -> Vec<u8> {
    use dicom_core::{DataElement, VR};
    use dicom_dictionary_std::tags;
    let mut obj = dicom_object::open_file(data("CT_small.dcm")).unwrap();
    for (t, v) in [
        (tags::STUDY_INSTANCE_UID, study),
        (tags::SERIES_INSTANCE_UID, series),
        (tags::SOP_INSTANCE_UID, sop),
    ] {
        obj.put(DataElement::new(t, VR::UI, v));
    }
    let sop = sop.to_string();
    obj.update_meta(|m| m.media_storage_sop_instance_uid = sop);
    let mut out = Vec::new();
    obj.write_all(&mut out).unwrap();
    out
}

/// `vitscope import --project PROJECT --from FROM EXTRA...`, run.
fn import(project: &Path, from: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["import", "--project"])
        .arg(project)
        .arg("--from")
        .arg(from)
        .args(extra)
        .output()
        .unwrap()
}

fn sha8(text: &str) -> String {
    let mut c = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..8].to_string()
}

/// A two-class mask: class 1 a rectangle at `x`, class 2 a bar below it.
fn two_class(w: usize, h: usize, x: usize) -> LabelMask {
    let mut m = LabelMask::new(w, h);
    for y in 10..30 {
        for c in x..x + 20 {
            m.data[y * w + c] = 1;
        }
    }
    for y in 60..70 {
        for c in 5..100 {
            m.data[y * w + c] = 2;
        }
    }
    m
}

fn save_masks(file: &Path, masks: &[(usize, LabelMask)]) {
    let mut open = OpenProject::write(file, "test").unwrap();
    open.save(masks.iter().map(|(i, m)| (*i, m)).collect())
        .unwrap();
}

fn project_of(dir: &Path, files: &[&str]) -> PathBuf {
    let mut p = Project::default();
    for f in files {
        p.images.push(ImageEntry::new(f.into()));
    }
    let file = dir.join("p.ron");
    std::fs::write(&file, p.to_ron()).unwrap();
    file
}

/// A copy of project `file` (same folder) without masks, named `name`.
fn without_masks(file: &Path, name: &str) -> PathBuf {
    let mut p = Project::load(file).unwrap();
    p.images.iter_mut().for_each(|e| e.mask = None);
    let q = file.with_file_name(name);
    std::fs::write(&q, p.to_ron()).unwrap();
    q
}

#[test]
fn images_that_share_a_stem_export_apart_and_import_back_by_identity() {
    let dir = tempdir("stems");
    for (s, sop) in [("s1", "1.2.826.0.1.1"), ("s2", "1.2.826.0.1.2")] {
        std::fs::create_dir_all(dir.join(s)).unwrap();
        std::fs::write(
            dir.join(s).join("0001.dcm"),
            ct_instance(&format!("1.2.826.0.{}", &s[1..]), "1.2.826.0.9", sop),
        )
        .unwrap();
    }
    let file = project_of(&dir, &["s1/0001.dcm", "s2/0001.dcm"]);
    let (m1, m2) = (two_class(128, 128, 5), two_class(128, 128, 70));
    save_masks(&file, &[(0, m1.clone()), (1, m2.clone())]);
    let names = [
        format!("0001-{}", sha8("1.2.826.0.1.1")),
        format!("0001-{}", sha8("1.2.826.0.1.2")),
    ];
    for format in ["seg", "nifti", "png", "coco", "csv"] {
        let out = dir.join(format!("out-{format}"));
        ok(
            bin()
                .args(["export", "--format", format, "--project"])
                .arg(&file)
                .arg("--out")
                .arg(&out)
                .output()
                .unwrap(),
            format,
        );
        let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
        assert!(
            manifest.starts_with("file,image,identity,frame,class_ids\n"),
            "{manifest}"
        );
        assert_eq!(manifest.lines().count(), 3, "{format}: {manifest}");
        for (n, uid) in names.iter().zip(["1.2.826.0.1.1", "1.2.826.0.1.2"]) {
            assert!(
                manifest.contains(&format!("dicom:{uid},0,1;2")),
                "{format}: {manifest}"
            );
            assert!(manifest.contains(n.as_str()), "{format}: {manifest}");
        }
    }
    for n in &names {
        assert!(dir.join(format!("out-seg/{n}.seg.dcm")).is_file());
        assert!(dir.join(format!("out-nifti/{n}.nii.gz")).is_file());
        assert!(dir.join(format!("out-png/masks/{n}.png")).is_file());
    }
    // Each format back into a copy without masks: each mask on its own image.
    for (format, from) in [
        ("seg", "out-seg"),
        ("nifti", "out-nifti"),
        ("png", "out-png"),
        ("coco", "out-coco/annotations.json"),
    ] {
        let q = without_masks(&file, &format!("q-{format}.ron"));
        let (stdout, _) = ok(
            bin()
                .args(["import", "--format", format, "--project"])
                .arg(&q)
                .arg("--from")
                .arg(dir.join(from))
                .output()
                .unwrap(),
            &format!("import {format}"),
        );
        let how = if format == "seg" {
            "by UID"
        } else {
            "by manifest"
        };
        assert_eq!(
            stdout.lines().filter(|l| l.contains(how)).count(),
            2,
            "{format}: {stdout}"
        );
        let open = OpenProject::read(&q).unwrap();
        assert_eq!(open.annotations(0).unwrap().mask, m1, "{format}: image 1");
        assert_eq!(open.annotations(1).unwrap().mask, m2, "{format}: image 2");
    }
    // Without a manifest the stem is ambiguous: refused, naming both, nothing changed.
    let lone = dir.join("lone");
    std::fs::create_dir_all(&lone).unwrap();
    std::fs::copy(
        dir.join(format!("out-nifti/{}.nii.gz", names[0])),
        lone.join("0001.nii.gz"),
    )
    .unwrap();
    let q = without_masks(&file, "q-lone.ron");
    let before = crate::support::tree(&dir);
    let line = crate::support::one_error(
        &bin()
            .args(["import", "--project"])
            .arg(&q)
            .arg("--from")
            .arg(lone.join("0001.nii.gz"))
            .output()
            .unwrap(),
        "an ambiguous stem",
    );
    assert!(
        line.contains("0001.nii.gz")
            && line.contains("ambiguous")
            && line.contains("s1/0001.dcm")
            && line.contains("s2/0001.dcm"),
        "{line}"
    );
    assert_eq!(
        crate::support::tree(&dir),
        before,
        "a refused import changed something"
    );
}

#[test]
fn two_segs_of_one_image_both_survive_and_overlaps_are_reported() {
    use vitscope::interop::seg;
    let dir = tempdir("two-segs");
    std::fs::copy(data("CT_small.dcm"), dir.join("ct.dcm")).unwrap();
    let file = project_of(&dir, &["ct.dcm"]);
    let src = seg::source_from_dicom(&dir.join("ct.dcm")).unwrap();
    let n = 128 * 128;
    let rect = |x0: usize, x1: usize| -> Vec<bool> {
        (0..n).map(|i| (x0..x1).contains(&(i % 128))).collect()
    };
    let segs = dir.join("segs");
    std::fs::create_dir_all(&segs).unwrap();
    for (name, label, mask) in [
        ("liver", "liver", rect(0, 60)),
        ("lesion", "lesion", rect(50, 80)),
    ] {
        seg::write_seg(
            &src,
            &[seg::Segment {
                number: 1,
                label: label.into(),
                colour: [200, 100, 50],
                mask,
            }],
            &segs.join(format!("{name}.seg.dcm")),
        )
        .unwrap();
    }
    let (stdout, _) = ok(import(&file, &segs, &[]), "import two SEGs");
    // "lesion" is the project's class 1; "liver" becomes class 3. lesion.seg.dcm comes first
    // (file order), liver's pixels then win where they overlap (columns 50..60).
    assert!(
        stdout.contains("1280 pixel(s) were another class; class 'liver' (id 3) wins"),
        "{stdout}"
    );
    let open = OpenProject::read(&file).unwrap();
    assert_eq!(open.project.classes.len(), 3);
    assert_eq!(open.project.classes[2].name, "liver");
    let m = open.annotations(0).unwrap().mask;
    for (i, &v) in m.data.iter().enumerate() {
        let c = i % 128;
        let want = if c < 60 {
            3
        } else if c < 80 {
            1
        } else {
            0
        };
        assert_eq!(v, want, "pixel {i}");
    }
}

#[test]
fn a_coco_file_with_one_bad_annotation_changes_nothing() {
    let dir = tempdir("coco-bad");
    image::GrayImage::from_fn(64, 48, |x, y| image::Luma([(x * 3 + y) as u8]))
        .save(dir.join("a.png"))
        .unwrap();
    let file = project_of(&dir, &["a.png"]);
    let coco = dir.join("in.json");
    let doc = serde_json::json!({
        "images": [{"id": 7, "file_name": "a.png", "width": 64, "height": 48}],
        "categories": [{"id": 1, "name": "lesion"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [2, 3, 10, 12]},
            {"id": 2, "image_id": 7, "category_id": 1, "bbox": [2, "x", 10, 12]},
        ],
    });
    std::fs::write(&coco, doc.to_string()).unwrap();
    drop(OpenProject::write(&file, "test").unwrap());
    let before = crate::support::tree(&dir);
    let line = crate::support::one_error(&import(&file, &coco, &[]), "one bad annotation");
    assert!(
        line.contains("in.json") && line.contains("annotation 2"),
        "{line}"
    );
    assert_eq!(crate::support::tree(&dir), before);
    // An annotation of an image the file does not list, and a category above 255: refused too.
    for bad in [
        serde_json::json!({"id": 3, "image_id": 99, "category_id": 1, "bbox": [1, 1, 2, 2]}),
        serde_json::json!({"id": 3, "image_id": 7, "category_id": 300, "bbox": [1, 1, 2, 2]}),
    ] {
        let mut d = doc.clone();
        d["annotations"] = serde_json::json!([doc["annotations"][0].clone(), bad]);
        std::fs::write(&coco, d.to_string()).unwrap();
        let before = crate::support::tree(&dir);
        crate::support::one_error(&import(&file, &coco, &[]), "a bad annotation");
        assert_eq!(crate::support::tree(&dir), before);
    }
}

#[test]
fn class_ids_sixteen_bit_labels_dry_runs_and_replace() {
    let dir = tempdir("classes");
    image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x + y) as u8]))
        .save(dir.join("a.png"))
        .unwrap();
    let file = project_of(&dir, &["a.png"]);
    drop(OpenProject::write(&file, "test").unwrap());
    let masks = dir.join("in");
    std::fs::create_dir_all(&masks).unwrap();
    let import = |extra: &[&str]| {
        bin()
            .args(["import", "--format", "png", "--project"])
            .arg(&file)
            .arg("--from")
            .arg(&masks)
            .args(extra)
            .output()
            .unwrap()
    };
    // Class id 3 in a two-class project.
    image::GrayImage::from_fn(40, 30, |x, _| image::Luma([if x < 10 { 3 } else { 0 }]))
        .save(masks.join("a.png"))
        .unwrap();
    let before = crate::support::tree(&dir);
    let line = crate::support::one_error(&import(&[]), "a class id above the list");
    assert!(
        line.contains("a.png") && line.contains("class id 3") && line.contains("--add-classes"),
        "{line}"
    );
    assert_eq!(crate::support::tree(&dir), before);
    // --dry-run prints the match and changes nothing.
    let (stdout, stderr) = ok(import(&["--dry-run", "--add-classes"]), "dry run");
    assert!(
        stdout.contains("a <- ") && stdout.contains("(by stem)"),
        "{stdout}"
    );
    assert!(stdout.contains("added class 'class 3' (id 3)"), "{stdout}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(crate::support::tree(&dir), before);
    // --add-classes creates class 3 and keeps the id.
    ok(import(&["--add-classes"]), "add classes");
    let open = OpenProject::read(&file).unwrap();
    assert_eq!(open.project.classes.len(), 3);
    assert_eq!(open.project.classes[2].name, "class 3");
    assert_eq!(open.annotations(0).unwrap().mask.data[0], 3);
    // A 16-bit label PNG: ids 1 and 2 stay two classes; import adds, class 3 stays.
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(40, 30, |x, _| {
        image::Luma([if (20..30).contains(&x) {
            1
        } else if x >= 30 {
            2
        } else {
            0
        }])
    })
    .save(masks.join("a.png"))
    .unwrap();
    ok(import(&[]), "16-bit labels");
    let m = OpenProject::read(&file)
        .unwrap()
        .annotations(0)
        .unwrap()
        .mask;
    assert_eq!((m.data[0], m.data[25], m.data[35]), (3, 1, 2));
    // --replace: the whole mask is the import's.
    ok(import(&["--replace"]), "replace");
    let m = OpenProject::read(&file)
        .unwrap()
        .annotations(0)
        .unwrap()
        .mask;
    assert_eq!((m.data[0], m.data[25], m.data[35]), (0, 1, 2));
    // A 16-bit label that is no class id at all.
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(40, 30, |x, _| {
        image::Luma([if x < 5 { 300 } else { 1 }])
    })
    .save(masks.join("a.png"))
    .unwrap();
    let before = crate::support::tree(&dir);
    let line = crate::support::one_error(&import(&["--add-classes"]), "a 16-bit label of 300");
    assert!(line.contains("a.png") && line.contains("300"), "{line}");
    assert_eq!(crate::support::tree(&dir), before);
}

#[test]
fn a_frame_of_a_multi_frame_instance_exports_and_imports_as_that_frame() {
    let dir = tempdir("frames");
    std::fs::copy(data("SC_rgb_rle_2frame.dcm"), dir.join("mf.dcm")).unwrap();
    let mut p = Project::default();
    for f in 0..2 {
        let mut e = ImageEntry::new("mf.dcm".into());
        e.frame = f;
        p.images.push(e);
    }
    let file = dir.join("p.ron");
    std::fs::write(&file, p.to_ron()).unwrap();
    let (w, h) = vitscope::io::image::dimensions(&dir.join("mf.dcm")).unwrap();
    let mut m = LabelMask::new(w, h);
    m.data[..w * 2].iter_mut().for_each(|v| *v = 1);
    save_masks(&file, &[(1, m.clone())]);
    let out = dir.join("seg");
    ok(
        bin()
            .args(["export", "--format", "seg", "--project"])
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "export",
    );
    let segs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".seg.dcm"))
        .collect();
    assert_eq!(segs.len(), 1);
    // The SEG names frame 2 (1-based) of the source in its Source Image Sequence.
    let obj = dicom_object::open_file(&segs[0]).unwrap();
    use dicom_dictionary_std::tags;
    let pf = obj
        .element(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
        .unwrap();
    let item = &pf.items().unwrap()[0];
    let deriv = &item
        .element(tags::DERIVATION_IMAGE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    let src = &deriv
        .element(tags::SOURCE_IMAGE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    assert_eq!(
        src.element(tags::REFERENCED_FRAME_NUMBER)
            .unwrap()
            .to_int::<u32>()
            .unwrap(),
        2
    );
    // Back into a copy without masks: on frame 1, not frame 0.
    let q = without_masks(&file, "q.ron");
    let (stdout, _) = ok(
        bin()
            .args(["import", "--project"])
            .arg(&q)
            .arg("--from")
            .arg(&segs[0])
            .output()
            .unwrap(),
        "import",
    );
    assert!(stdout.contains("(by UID)"), "{stdout}");
    let open = OpenProject::read(&q).unwrap();
    assert_eq!(
        open.annotations(0).unwrap().mask.count(),
        0,
        "frame 0 untouched"
    );
    assert_eq!(open.annotations(1).unwrap().mask, m);
    assert!(matches!(
        &open.project.images[1].identity,
        Some(Identity::Dicom { frame: 1, .. })
    ));
}

/// What the test's DICOMweb server answers.
#[derive(Clone, Default)]
struct Pacs {
    /// The study's instances, in reply order.
    instances: Vec<Vec<u8>>,
    /// QIDO studies (UIDs).
    studies: Vec<String>,
    /// A raw reply body for WADO instead of the instances.
    garbage: Option<Vec<u8>>,
}

/// A DICOMweb server on loopback serving `state` (QIDO studies and series, WADO of a study).
fn serve(state: Arc<Mutex<Pacs>>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/dicom-web", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let req = crate::support::read_request_head(&mut s);
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let st = state.lock().unwrap().clone();
            let (ct, body) = if path.contains("/series") {
                (
                    "application/dicom+json".to_string(),
                    serde_json::json!([{"0020000E": {"vr": "UI", "Value": ["1.2.826.0.9"]},
                        "00080060": {"vr": "CS", "Value": ["CT"]}}])
                    .to_string()
                    .into_bytes(),
                )
            } else if path.contains("/studies?") || path.ends_with("/studies") {
                let list: Vec<serde_json::Value> = st
                    .studies
                    .iter()
                    .map(|u| serde_json::json!({"0020000D": {"vr": "UI", "Value": [u]}}))
                    .collect();
                (
                    "application/dicom+json".to_string(),
                    serde_json::Value::Array(list).to_string().into_bytes(),
                )
            } else if let Some(g) = st.garbage {
                (
                    "multipart/related; type=\"application/dicom\"; boundary=zz".into(),
                    g,
                )
            } else {
                let mut body = Vec::new();
                for i in &st.instances {
                    body.extend_from_slice(b"--zz\r\nContent-Type: application/dicom\r\n\r\n");
                    body.extend_from_slice(i);
                    body.extend_from_slice(b"\r\n");
                }
                body.extend_from_slice(b"--zz--\r\n");
                (
                    "multipart/related; type=\"application/dicom\"; boundary=zz".into(),
                    body,
                )
            };
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
fn a_refetch_in_any_order_with_instances_added_and_removed_never_moves_an_annotation() {
    let dir = tempdir("pacs");
    let study = "1.2.826.0.5";
    let series = "1.2.826.0.9";
    let inst = |k: u32| ct_instance(study, series, &format!("1.2.826.0.7.{k}"));
    let state = Arc::new(Mutex::new(Pacs {
        instances: vec![inst(1), inst(2)],
        studies: vec![study.into(), "../x".into()],
        garbage: None,
    }));
    let url = serve(state.clone());
    let file = dir.join("ward.ron");
    std::fs::write(&file, Project::default().to_ron()).unwrap();
    let fetch = |s: &str| {
        bin()
            .args([
                "pacs",
                "--url",
                &url,
                "--timeout",
                "10",
                "fetch",
                "--study",
                s,
                "--project",
            ])
            .arg(&file)
            .output()
            .unwrap()
    };
    let (stdout, _) = ok(fetch(study), "first fetch");
    assert_eq!(
        stdout.lines().filter(|l| l.contains("(by UID)")).count(),
        2,
        "{stdout}"
    );
    let rel = |k: u32| PathBuf::from(format!("ward_pacs/{study}/{series}/1.2.826.0.7.{k}.dcm"));
    let open = OpenProject::read(&file).unwrap();
    let paths: Vec<PathBuf> = open.project.images.iter().map(|e| e.path.clone()).collect();
    assert_eq!(paths, vec![rel(1), rel(2)]);
    // Annotate instance 2.
    let mut mask = LabelMask::new(128, 128);
    mask.data[..128 * 4].iter_mut().for_each(|v| *v = 2);
    save_masks(&file, &[(1, mask.clone())]);
    // The server now has 3 and 2 (1 removed), in another order.
    state.lock().unwrap().instances = vec![inst(3), inst(2)];
    let (stdout, _) = ok(fetch(study), "second fetch");
    assert!(stdout.contains("already in the project"), "{stdout}");
    let open = OpenProject::read(&file).unwrap();
    let paths: Vec<PathBuf> = open.project.images.iter().map(|e| e.path.clone()).collect();
    assert_eq!(paths, vec![rel(1), rel(2), rel(3)], "1 kept, 3 added");
    assert!(open.checks.iter().all(|c| c.is_ok()));
    for (i, k) in [(0, 1), (1, 2), (2, 3)] {
        assert_eq!(
            open.project.images[i].identity,
            Some(Identity::Dicom {
                uid: format!("1.2.826.0.7.{k}"),
                frame: 0
            })
        );
    }
    assert_eq!(
        open.annotations(1).unwrap().mask,
        mask,
        "the annotation stays on instance 2"
    );
    assert_eq!(open.annotations(0).unwrap().mask.count(), 0);
    assert_eq!(open.annotations(2).unwrap().mask.count(), 0);
    // The same study again in yet another order: nothing added, nothing moved.
    state.lock().unwrap().instances = vec![inst(2), inst(1), inst(3)];
    let before = crate::support::tree(&dir);
    let (_, stderr) = ok(fetch(study), "third fetch");
    assert!(stderr.contains("added 0 image(s)"), "{stderr}");
    assert_eq!(crate::support::tree(&dir), before);

    // Search leaves out the study whose UID is not one.
    let out = bin()
        .args(["pacs", "--url", &url, "--timeout", "10", "search", "--json"])
        .output()
        .unwrap();
    let (stdout, stderr) = ok(out, "search");
    let found: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{stdout}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning:") && l.contains("../x")),
        "{stderr}"
    );
    // Refused fetches change nothing in the project's folder.
    let cases: Vec<(&str, Pacs, &str)> = vec![
        ("a study UID that is a path", Pacs::default(), "../x"),
        (
            "an instance whose SOP UID is a path",
            Pacs {
                instances: vec![inst(4), ct_instance(study, series, "../evil")],
                ..Default::default()
            },
            study,
        ),
        (
            "an instance of another study",
            Pacs {
                instances: vec![ct_instance("1.2.826.0.6", series, "1.2.826.0.7.5")],
                ..Default::default()
            },
            study,
        ),
        (
            "a reply that is not DICOM",
            Pacs {
                garbage: Some(
                    b"--zz\r\nContent-Type: application/dicom\r\n\r\nnot dicom\r\n--zz--\r\n"
                        .to_vec(),
                ),
                ..Default::default()
            },
            study,
        ),
    ];
    for (what, pacs, s) in cases {
        *state.lock().unwrap() = pacs;
        let before = crate::support::tree(&dir);
        let line = crate::support::one_error(&fetch(s), what);
        assert!(
            line.contains("UID") || line.contains("DICOM") || line.contains("study"),
            "{what}: {line}"
        );
        assert_eq!(
            crate::support::tree(&dir),
            before,
            "{what}: the folder changed"
        );
    }
}

#[test]
fn a_class_id_the_project_does_not_define_is_kept_as_itself() {
    // A mask file that holds id 3 in a project of two classes (written by hand, or left by a
    // class list that was shortened): saved, exported and scored as 3, never as another class.
    let dir = tempdir("undefined-id");
    image::GrayImage::from_fn(40, 30, |x, y| image::Luma([(x * 5 + y) as u8]))
        .save(dir.join("a.png"))
        .unwrap();
    image::GrayImage::from_fn(40, 30, |x, _| {
        image::Luma([if x < 10 {
            3
        } else if x < 20 {
            1
        } else {
            0
        }])
    })
    .save(dir.join("m.png"))
    .unwrap();
    let mut p = Project::default();
    let mut e = ImageEntry::new("a.png".into());
    e.mask = Some("m.png".into());
    p.images.push(e);
    let file = dir.join("p.ron");
    std::fs::write(&file, p.to_ron()).unwrap();
    // The workbench loads it as it is (and says so), and a save keeps id 3.
    let mut s = vitscope::app::Session::open_project(&file).unwrap();
    s.open_image(0).unwrap();
    assert!(
        s.messages.iter().any(|m| m.contains("class id 3")),
        "{:?}",
        s.messages
    );
    s.add_box(vitscope::project::annotation::LabelBox {
        x0: 30,
        y0: 1,
        x1: 35,
        y1: 5,
        class: 1,
    });
    s.states[0].as_mut().unwrap().mask_dirty = true;
    s.save().unwrap();
    drop(s);
    let open = OpenProject::read(&file).unwrap();
    let m = open.annotations(0).unwrap().mask;
    assert_eq!((m.data[0], m.data[15], m.data[25]), (3, 1, 0));
    // Exports name it "class 3".
    let out = dir.join("out");
    ok(
        bin()
            .args(["export", "--format", "coco", "--project"])
            .arg(&file)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap(),
        "export coco",
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("annotations.json")).unwrap())
            .unwrap();
    assert_eq!(doc["categories"][2]["name"], "class 3", "{doc}");
    let cats: Vec<u64> = doc["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["category_id"].as_u64().unwrap())
        .collect();
    assert!(cats.contains(&3) && cats.contains(&1), "{cats:?}");
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert!(manifest.contains(",0,1;3\n"), "{manifest}");
}
