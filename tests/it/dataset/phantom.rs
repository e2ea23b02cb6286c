//! `vitscope phantom`: layout, determinism, labels consistent with masks.

use std::path::Path;
use std::process::Command;

use vitscope::io::mask::read_mask;

fn generate(out: &Path, kind: &str, seed: u64) {
    let o = Command::new(env!("CARGO_BIN_EXE_vitscope"))
        .args([
            "phantom",
            "--n",
            "6",
            "--kind",
            kind,
            "--seed",
            &seed.to_string(),
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn phantom_datasets_are_deterministic_and_consistent() {
    let root = crate::support::scratch("phantom");
    for kind in ["polyp", "xray"] {
        let (a, b, c) = (
            root.join(format!("{kind}-a")),
            root.join(format!("{kind}-b")),
            root.join(format!("{kind}-c")),
        );
        generate(&a, kind, 11);
        generate(&b, kind, 11);
        generate(&c, kind, 12);
        let labels = std::fs::read_to_string(a.join("labels.csv")).unwrap();
        assert_eq!(
            labels,
            std::fs::read_to_string(b.join("labels.csv")).unwrap()
        );
        let mut lines = labels.lines();
        assert_eq!(lines.next(), Some("image,label,x0,y0,x1,y1"));
        let mut positives = 0;
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 6, "{line}");
            let img = std::fs::read(a.join("images").join(f[0])).unwrap();
            assert_eq!(
                img,
                std::fs::read(b.join("images").join(f[0])).unwrap(),
                "same seed, same file"
            );
            assert_ne!(
                img,
                std::fs::read(c.join("images").join(f[0])).unwrap(),
                "other seed, other file"
            );
            let decoded = image::load_from_memory(&img).unwrap();
            assert_eq!((decoded.width(), decoded.height()), (224, 224));
            let mask = read_mask(&a.join("masks").join(f[0])).unwrap();
            match f[1] {
                "1" => {
                    positives += 1;
                    let r = mask.bbox().expect("positive with a lesion");
                    let want: Vec<usize> = f[2..].iter().map(|v| v.parse().unwrap()).collect();
                    assert_eq!(vec![r.x0, r.y0, r.x1, r.y1], want, "{line}");
                    assert!(mask.count() >= 20, "{line}: lesion too small");
                }
                "0" => {
                    assert_eq!(mask.count(), 0, "{line}");
                    assert!(f[2..].iter().all(|v| v.is_empty()), "{line}");
                }
                other => panic!("label {other}"),
            }
        }
        assert_eq!(positives, 3, "{kind}: balanced classes");
    }
}

#[test]
fn lesion_contrast_scales_only_the_lesion() {
    use vitscope::dataset::phantom::{PhantomKind, sample, sample_with};
    let base = sample(PhantomKind::Polyp, 5, 0, 96);
    assert_eq!(sample_with(PhantomKind::Polyp, 5, 0, 96, 1.0).rgb, base.rgb);
    let strong = sample_with(PhantomKind::Polyp, 5, 0, 96, 2.5);
    assert_eq!(strong.mask, base.mask, "same lesion, same place");
    // Outside the lesion (and its soft rim) nothing changes; inside, the difference to the
    // default image grows.
    let (mut inside, mut outside) = (0.0f64, 0.0f64);
    for i in 0..96 * 96 {
        let d: f64 = (0..3)
            .map(|c| (strong.rgb[c][i] - base.rgb[c][i]).abs() as f64)
            .sum();
        if base.mask.data[i] == 1 {
            inside += d;
        } else {
            outside = outside.max(d);
        }
    }
    assert!(inside / base.mask.count() as f64 > 0.05, "{inside}");
    let rim_free = sample_with(PhantomKind::Polyp, 5, 1, 96, 2.5).rgb;
    assert_eq!(
        rim_free,
        sample(PhantomKind::Polyp, 5, 1, 96).rgb,
        "negatives are unchanged"
    );
    assert!(outside < 0.5, "{outside}");
}
