//! Absurd arguments of every command.

use std::path::Path;

use super::{Base, Expect, Gen};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base, good_ds: &Path) {
    use Expect::*;
    let Base { png, map: _, .. } = b;
    // ---- arguments ----
    let p = png.to_str().unwrap();
    for (name, flag, extra) in [
        ("--target 99", "target", vec!["--target", "99"]),
        (
            "--layer 99",
            "layer",
            vec!["--method", "attention", "--layer", "99"],
        ),
        (
            "--head 99",
            "head",
            vec!["--method", "attention", "--head", "99"],
        ),
        ("--std 0,0,0", "std", vec!["--std", "0,0,0"]),
        ("--std 1,1", "std", vec!["--std", "1,1"]),
        ("--mean nan,0,0", "mean", vec!["--mean", "nan,0,0"]),
        ("--mean inf,0,0", "mean", vec!["--mean", "inf,0,0"]),
        ("--max-pixels 0", "max-pixels", vec!["--max-pixels", "0"]),
    ] {
        let mut a = vec!["explain", "--device", "cpu", "--image", p];
        a.extend(extra);
        g.add_arg_case(name, Fail, flag, &a);
    }
    g.add_arg_case(
        "--target 1",
        Succeed,
        "",
        &["explain", "--device", "cpu", "--image", p, "--target", "1"],
    );
    for (name, w) in [
        ("--window 40,0", "40,0"),
        ("--window nan,400", "nan,400"),
        ("--window 1,2,3", "1,2,3"),
    ] {
        let o = format!("{}/o.png", g.dir.join("in").display());
        g.add_arg_case(
            name,
            Fail,
            "window",
            &["convert", p, "--window", w, "--out", &o],
        );
    }
    g.add_arg_case(
        "--map-cache-mb 1",
        Fail,
        "map-cache-mb",
        &["--map-cache-mb", "1", "--screenshot", "/nonexistent/x.png"],
    );
    let ds_path = good_ds.to_str().unwrap();
    for (flag, v, extra) in [
        ("--top", "0", "attention"),
        ("--target", "-1", "attention"),
        ("--target", "7", "gradcam"),
    ] {
        g.add_arg_case(
            &format!("eval {flag} {v}"),
            Fail,
            flag.trim_start_matches('-'),
            &[
                "eval",
                "--dataset",
                ds_path,
                flag,
                v,
                "--device",
                "cpu",
                "--backend",
                "cpu",
                "--methods",
                extra,
            ],
        );
    }
}
