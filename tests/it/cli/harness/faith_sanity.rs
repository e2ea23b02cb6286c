//! Maps given as .npy to `faithfulness` and `sanity`.

use std::path::Path;

use super::helpers::*;
use super::{Base, Expect, Gen, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base) {
    use Expect::*;
    let Base {
        png, map_vals, map, ..
    } = b;
    // ---- faithfulness and sanity (maps given as .npy) ----
    let m224: Vec<f32> = (0..224 * 224)
        .map(|i| ((i * 7919) % 50176) as f32)
        .collect();
    let good_map = g.dir.join("in/map224.npy");
    vitscope::io::npy::write_f32(&good_map, &[224, 224], &m224).unwrap();
    let faith = |m: &Path| {
        argv(
            "faithfulness --device cpu --method attention --tests perturb-pos --json --image {} --map {}",
            &[&png, &m],
        )
    };
    g.add(
        Reader::MapsMasks,
        "faithfulness of a given map",
        Succeed,
        None,
        faith(&good_map),
    );
    let mut nan224 = m224.clone();
    nan224[5] = f32::NAN;
    for (what, shape, vals, expect) in [
        (
            "faithfulness map of the wrong size",
            vec![64usize, 64],
            map_vals.clone(),
            Fail,
        ),
        (
            "faithfulness map with a NaN",
            vec![224, 224],
            nan224.clone(),
            Fail,
        ),
        (
            "faithfulness map 3-D",
            vec![1, 224, 224],
            m224.clone(),
            Succeed,
        ),
    ] {
        let f = g
            .dir
            .join(format!("in/faith_{}.npy", what.replace(' ', "_")));
        vitscope::io::npy::write_f32(&f, &shape, &vals).unwrap();
        g.add(Reader::MapsMasks, what, expect, Some(&f), faith(&f));
    }
    g.add(
        Reader::MapsMasks,
        "sanity --compare of maps of different sizes",
        Fail,
        Some(map),
        argv("sanity --json --compare {} {}", &[&good_map, &map]),
    );
    g.add(
        Reader::MapsMasks,
        "sanity --compare with a NaN map",
        Fail,
        Some(&g.dir.join("in/faith_faithfulness_map_with_a_NaN.npy")),
        argv(
            "sanity --json --compare {} {}",
            &[
                &good_map,
                &g.dir.join("in/faith_faithfulness_map_with_a_NaN.npy"),
            ],
        ),
    );
    g.add(
        Reader::MapsMasks,
        "sanity --compare of a map with itself",
        Succeed,
        None,
        argv("sanity --json --compare {} {}", &[&good_map, &good_map]),
    );
    let zero224 = g.dir.join("in/zero224.npy");
    vitscope::io::npy::write_f32(&zero224, &[224, 224], &vec![0.0; 224 * 224]).unwrap();
    g.add(
        Reader::MapsMasks,
        "faithfulness of an all-zero map",
        Succeed,
        None,
        faith(&zero224),
    );
    let p = png.to_str().unwrap();
    for (name, flag, extra, expect) in [
        (
            "sanity --random-logit 99",
            "random-logit",
            vec!["--random-logit", "99"],
            Fail,
        ),
        (
            "sanity --target 99",
            "target",
            vec!["--random-logit", "0", "--target", "99"],
            Fail,
        ),
        ("sanity without a test", "cascade", vec![], Fail),
        (
            "sanity --cascade random --seed 18446744073709551615",
            "",
            vec!["--cascade", "random", "--seed", "18446744073709551615"],
            Succeed,
        ),
        (
            "sanity --cascade bogus",
            "cascade",
            vec!["--cascade", "bogus"],
            Fail,
        ),
        ("faithfulness --tests nope", "tests", vec![], Fail),
    ] {
        let mut a = if name.starts_with("faithfulness") {
            vec![
                "faithfulness",
                "--device",
                "cpu",
                "--image",
                p,
                "--tests",
                "nope",
            ]
        } else {
            vec![
                "sanity",
                "--device",
                "cpu",
                "--method",
                "attention",
                "--image",
                p,
            ]
        };
        a.extend(extra);
        g.add_arg_case(name, expect, flag, &a);
    }
}
