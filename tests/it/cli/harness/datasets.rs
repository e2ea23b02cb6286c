//! Datasets for `eval`, `train` and `phantom`, cached maps, resume states.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::checkpoints::Checkpoints;
use super::helpers::*;
use super::{Base, Case, Expect, Gen, OUT, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base, ck: &Checkpoints) -> PathBuf {
    let st_good = &ck.st_good;
    use Expect::*;
    let Base { png: _, map: _, .. } = b;
    // ---- datasets (eval, train, phantom) ----
    let ds = |g: &Gen, name: &str, n: usize, labels: Option<&str>, mask_w: u32| -> PathBuf {
        let d = g.dir.join("in/datasets").join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("images")).unwrap();
        std::fs::create_dir_all(d.join("masks")).unwrap();
        for i in 0..n {
            std::fs::write(
                d.join(format!("images/i{i}.png")),
                encode(rgb(32, 32), image::ImageFormat::Png),
            )
            .unwrap();
            let m = image::GrayImage::from_fn(mask_w, 32, |x, y| {
                image::Luma([if x > 8 && y > 8 && x < 20 && y < 20 {
                    255
                } else {
                    0
                }])
            });
            std::fs::write(
                d.join(format!("masks/i{i}.png")),
                encode(image::DynamicImage::ImageLuma8(m), image::ImageFormat::Png),
            )
            .unwrap();
        }
        if let Some(l) = labels {
            std::fs::write(d.join("labels.csv"), l).unwrap();
        }
        d
    };
    let train = |d: &Path, extra: &[&str]| {
        let mut a = argv(
            "train --data {} --device cpu --epochs 1 --img 32 --patch 16 --dim 16 --depth 1 --heads 1 --batch 4 --out {}",
            &[&d, &format!("{OUT}/m.safetensors")],
        );
        // A flag of `extra` replaces the default's value (clap refuses a flag given twice).
        for pair in extra.chunks(2) {
            match a.iter().position(|x| x == pair[0]) {
                Some(i) if pair.len() == 2 => a[i + 1] = pair[1].into(),
                _ => a.extend(pair.iter().map(OsString::from)),
            }
        }
        a
    };
    let eval_ds = |d: &Path| {
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods attention --out @OUT",
            &[&d],
        )
    };
    let labels10: String = std::iter::once("image,label\n".to_string())
        .chain((0..10).map(|i| format!("i{i}.png,{}\n", i % 2)))
        .collect();
    let good_ds = ds(g, "good", 10, Some(&labels10), 32);
    g.add(
        Reader::Datasets,
        "train on a good dataset",
        Succeed,
        None,
        train(&good_ds, &[]),
    );
    g.add(
        Reader::Datasets,
        "eval a good dataset",
        Succeed,
        None,
        eval_ds(&good_ds),
    );
    let wrong = ds(g, "wrong_mask", 2, None, 20);
    g.add(
        Reader::Datasets,
        "eval with a mask of the wrong size",
        Fail,
        Some(&wrong.join("masks/i0.png")),
        eval_ds(&wrong),
    );
    let no_masks = ds(g, "no_masks", 2, None, 32);
    std::fs::remove_dir_all(no_masks.join("masks")).unwrap();
    g.add(
        Reader::Datasets,
        "eval without masks/",
        Fail,
        Some(&no_masks),
        eval_ds(&no_masks),
    );
    let empty = ds(g, "empty", 0, Some("image,label\n"), 32);
    g.add(
        Reader::Datasets,
        "train on no images",
        Fail,
        Some(&empty.join("labels.csv")),
        train(&empty, &[]),
    );
    g.add(
        Reader::Datasets,
        "eval no images",
        Fail,
        Some(&empty.join("images")),
        eval_ds(&empty),
    );
    for (what, text) in [
        (
            "label 18446744073709551615",
            "image,label\ni0.png,18446744073709551615\ni1.png,0\n",
        ),
        (
            "label 1000000000000",
            "image,label\ni0.png,1000000000000\ni1.png,0\n",
        ),
        ("label -1", "image,label\ni0.png,-1\ni1.png,0\n"),
        ("label text", "image,label\ni0.png,cat\ni1.png,0\n"),
        ("missing label column", "image,class\ni0.png,1\n"),
        ("a ghost image", "image,label\ni0.png,0\nghost.png,1\n"),
        ("too few columns", "image,x,label\ni0.png\n"),
        ("binary garbage", "\u{0}\u{1}\u{2}\u{3}"),
        ("one class only", "image,label\ni0.png,1\ni1.png,1\n"),
        (
            "a class without images",
            "image,label\ni0.png,0\ni1.png,2\n",
        ),
        (
            "too few images to validate",
            "image,label\ni0.png,0\ni1.png,1\n",
        ),
    ] {
        let d = ds(
            g,
            &format!("labels_{}", what.replace(' ', "_")),
            2,
            Some(text),
            32,
        );
        g.add(
            Reader::Datasets,
            format!("labels.csv with {what}"),
            Fail,
            Some(&d.join("labels.csv")),
            train(&d, &[]),
        );
    }
    let bom: String = std::iter::once("\u{feff}image,label\r\n".to_string())
        .chain((0..10).map(|i| format!("i{i}.png,{}\r\n", i % 2)))
        .collect();
    let bom_ds = ds(g, "labels_bom_crlf", 10, Some(&bom), 32);
    g.add(
        Reader::Datasets,
        "labels.csv with a byte-order mark and CRLF lines",
        Succeed,
        None,
        train(&bom_ds, &[]),
    );
    // A corrupt cached map and a corrupt resume state.
    let cache = g.dir.join("in/evalcache");
    let cached = cache.join("maps/demo/attention/i0.npy");
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    let mut nan_map = vec![0.5f32; 32 * 32];
    nan_map[7] = f32::NAN;
    vitscope::io::npy::write_f32(&cached, &[32, 32], &nan_map).unwrap();
    g.add(
        Reader::Datasets,
        "eval with a NaN in a cached map",
        Fail,
        Some(&cached),
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods attention --out {}",
            &[&good_ds, &cache],
        ),
    );
    let resume = g.dir.join("in/resume/m.safetensors");
    std::fs::create_dir_all(g.dir.join("in/resume/m.safetensors.train")).unwrap();
    std::fs::write(
        g.dir.join("in/resume/m.safetensors.train/state.json"),
        "{\"config\": 3",
    )
    .unwrap();
    let mut a = train(&good_ds, &["--resume"]);
    let at = a.iter().position(|x| x == "--out").unwrap();
    a[at + 1] = resume.clone().into();
    g.add(
        Reader::Datasets,
        "train --resume with a corrupt state.json",
        Fail,
        Some(Path::new("state.json")),
        a,
    );
    g.add_arg_case(
        "--max-pixels before the subcommand",
        Fail,
        "max-pixels",
        &[
            "--max-pixels",
            "1000",
            "explain",
            "--device",
            "cpu",
            "--image",
            good_ds.join("images/i0.png").to_str().unwrap(),
        ],
    );
    let too_large = train(
        &good_ds,
        &[
            "--dim", "4096", "--depth", "8", "--heads", "32", "--img", "64",
        ],
    );
    g.add_arg_case(
        "train a model too large to fit",
        Fail,
        "parameters",
        &too_large
            .iter()
            .map(|a| a.to_str().unwrap())
            .collect::<Vec<_>>(),
    );
    for (what, args) in [
        (
            "bench --sizes 100000",
            "bench --suite metrics --backends cpu --sizes 100000",
        ),
        (
            "bench --sizes 0",
            "bench --suite metrics --backends cpu --sizes 0",
        ),
        (
            "bench --iters 0",
            "bench --suite metrics --backends cpu --iters 0",
        ),
        ("bench --images 0", "bench --suite app --images 0"),
    ] {
        let flag = what.split(' ').nth(1).unwrap();
        g.add_arg_case(what, Fail, flag, &args.split(' ').collect::<Vec<_>>());
    }
    let zero_csv = ds(g, "labels_dev_zero", 2, None, 32);
    std::os::unix::fs::symlink("/dev/zero", zero_csv.join("labels.csv")).unwrap();
    g.add(
        Reader::Datasets,
        "labels.csv linked to /dev/zero",
        Fail,
        Some(&zero_csv.join("labels.csv")),
        train(&zero_csv, &[]),
    );
    let two = ds(
        g,
        "two_images",
        2,
        Some("image,label\ni0.png,0\ni1.png,1\n"),
        32,
    );
    g.add(
        Reader::Datasets,
        "2 images leave no validation image",
        Fail,
        Some(&two),
        train(&two, &[]),
    );
    g.add(
        Reader::Datasets,
        "2 images with --val-split 0",
        Succeed,
        None,
        train(&two, &["--val-split", "0"]),
    );
    g.add(
        Reader::Datasets,
        "--init at another patch grid",
        Fail,
        Some(st_good),
        train(&good_ds, &["--init", st_good.to_str().unwrap()]),
    );
    for (flag, v) in [
        ("--lr", "NaN"),
        ("--lr", "0"),
        ("--lr", "-1"),
        ("--lr", "inf"),
        ("--img", "0"),
        ("--dim", "0"),
        ("--heads", "0"),
        ("--depth", "0"),
        ("--patch", "0"),
        ("--epochs", "0"),
        ("--batch", "0"),
        ("--val-split", "1"),
        ("--val-split", "NaN"),
        ("--momentum", "2"),
        ("--weight-decay", "NaN"),
        ("--clip-grad", "-1"),
        ("--dim", "100000"),
        ("--img", "1000000"),
        ("--heads", "5"),
        ("--img", "40"),
    ] {
        let a = train(&good_ds, &[flag, v]);
        g.cases.push(Case {
            reader: Reader::Datasets,
            name: format!("train {flag} {v}"),
            args: a,
            expect: Fail,
            names: Some(
                flag.trim_start_matches('-')
                    .replace('-', "")
                    .chars()
                    .take(3)
                    .collect(),
            ),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }
    for (flag, v) in [
        ("--size", "100000"),
        ("--size", "0"),
        ("--n", "0"),
        ("--n", "-3"),
        ("--lesion-contrast", "NaN"),
    ] {
        g.cases.push(Case {
            reader: Reader::Datasets,
            name: format!("phantom {flag} {v}"),
            args: argv("phantom --out @OUT {} {}", &[&flag, &v]),
            expect: Fail,
            names: Some(
                flag.trim_start_matches('-')
                    .split('-')
                    .next()
                    .unwrap()
                    .into(),
            ),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }
    good_ds
}
