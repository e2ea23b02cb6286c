//! Maps (.npy) and masks for `metrics`.

use std::path::Path;

use super::helpers::*;
use super::{Base, Case, Expect, Gen, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base) {
    use Expect::*;
    let Base {
        png: _,
        map_vals,
        map,
        mask_png,
        maskf,
        ..
    } = b;
    // ---- maps and masks (metrics) ----
    let metrics_map = |f: &Path| argv("metrics --map {} --mask {} --json", &[&f, &maskf]);
    let v = f32_bytes(map_vals);
    let npy_good = npy("<f4", false, "(64, 64)", &v);
    g.add(
        Reader::MapsMasks,
        "good map",
        Succeed,
        None,
        metrics_map(map),
    );
    g.add(
        Reader::MapsMasks,
        "good map on the default backend",
        Succeed,
        None,
        argv("metrics --map {} --mask {} --with-box", &[&map, &maskf]),
    );
    g.bulk(Reader::MapsMasks, "map.npy", &npy_good, Fail, &metrics_map);
    let grid = |descr: &str, data: Vec<u8>| npy(descr, false, "(64, 64)", &data);
    let shaped = |shape: &str| npy("<f4", false, shape, &v);
    let mut npys: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "shape product overflows",
            shaped("(4294967296, 4294967296, 16)"),
            Fail,
        ),
        (
            "shape product wraps to 0",
            shaped("(4294967296, 4294967296)"),
            Fail,
        ),
        ("shape larger than the data", shaped("(64, 65)"), Fail),
        ("shape smaller than the data", shaped("(64, 63)"), Fail),
        ("3-D map", shaped("(2, 32, 64)"), Fail),
        ("0-D map", npy("<f4", false, "()", &v[..4]), Fail),
        ("empty map", npy("<f4", false, "(0, 64)", &[]), Fail),
        ("unknown dtype", npy("<c8", false, "(64, 32)", &v), Fail),
        (
            "structured dtype",
            npy("[('a', '<f4')]", false, "(64, 64)", &v),
            Fail,
        ),
        (
            "bad header",
            b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',".to_vec(),
            Fail,
        ),
        (
            "f8 map",
            grid(
                "<f8",
                map_vals
                    .iter()
                    .flat_map(|x| (*x as f64).to_le_bytes())
                    .collect(),
            ),
            Succeed,
        ),
        (
            "u2 map",
            grid(
                "<u2",
                map_vals
                    .iter()
                    .flat_map(|x| (*x as u16).to_le_bytes())
                    .collect(),
            ),
            Succeed,
        ),
        (
            "bool map",
            grid("|b1", map_vals.iter().map(|x| (*x > 60.0) as u8).collect()),
            Succeed,
        ),
        (
            "Fortran-order map",
            npy("<f4", true, "(64, 64)", &v),
            Succeed,
        ),
        (
            "all-zero map",
            npy("<f4", false, "(64, 64)", &vec![0; v.len()]),
            Succeed,
        ),
        (
            "constant map",
            npy("<f4", false, "(64, 64)", &f32_bytes(&vec![0.5; 64 * 64])),
            Succeed,
        ),
        (
            "negative map",
            npy(
                "<f4",
                false,
                "(64, 64)",
                &f32_bytes(&map_vals.iter().map(|x| -x).collect::<Vec<_>>()),
            ),
            Succeed,
        ),
        (
            // Finite values whose f32 sums overflow: scores, never NaN or inf.
            "map of values near f32::MAX",
            npy(
                "<f4",
                false,
                "(64, 64)",
                &f32_bytes(
                    &map_vals
                        .iter()
                        .map(|x| if *x > 0.5 { 3.0e38 } else { -3.0e38 * x })
                        .collect::<Vec<_>>(),
                ),
            ),
            Succeed,
        ),
    ];
    for (what, bad) in [
        ("NaN", f32::NAN),
        ("+inf", f32::INFINITY),
        ("-inf", f32::NEG_INFINITY),
    ] {
        let mut m = map_vals.clone();
        m[100] = bad;
        npys.push((
            Box::leak(format!("map with {what}").into_boxed_str()),
            npy("<f4", false, "(64, 64)", &f32_bytes(&m)),
            Fail,
        ));
    }
    for (what, bytes, expect) in npys {
        let f = g.file(
            &format!("map_{}.npy", what.replace([' ', '+', '-'], "_")),
            &bytes,
        );
        g.add(Reader::MapsMasks, what, expect, Some(&f), metrics_map(&f));
    }
    let with_box = |b: &str| argv("metrics --map {} --box {} --json", &[&map, &b]);
    for (b, expect, names) in [
        ("10,10,30,30", Succeed, "box"),
        ("10,10,5,30", Fail, "box"),
        ("10,10,10,30", Fail, "box"),
        ("60,60,100,100", Fail, "box"),
        ("1000,1000,1001,1001", Fail, "box"),
        ("1,2,3", Fail, "box"),
        ("a,b,c,d", Fail, "box"),
        ("18446744073709551615,0,1,1", Fail, "box"),
    ] {
        g.cases.push(Case {
            reader: Reader::MapsMasks,
            name: format!("--box {b}"),
            args: with_box(b),
            expect,
            names: Some(names.into()),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }
    let mask_case = |g: &mut Gen, what: &str, img: image::DynamicImage, expect: Expect| {
        let f = g.file(
            &format!("mask_{}.png", what.replace(' ', "_")),
            &encode(img, image::ImageFormat::Png),
        );
        g.add(
            Reader::MapsMasks,
            what,
            expect,
            Some(&f),
            argv("metrics --map {} --mask {} --json", &[&map, &f]),
        );
    };
    mask_case(
        g,
        "mask of the wrong size",
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(20, 64, image::Luma([255]))),
        Fail,
    );
    mask_case(
        g,
        "empty mask",
        image::DynamicImage::ImageLuma8(image::GrayImage::new(64, 64)),
        Fail,
    );
    mask_case(
        g,
        "full mask",
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(64, 64, image::Luma([255]))),
        Succeed,
    );
    mask_case(g, "RGB mask", rgb(64, 64), Succeed);
    // Drawn only in the alpha channel: grey values all 0, refused with the reason.
    let alpha_only = image::RgbaImage::from_fn(64, 64, |x, y| {
        image::Rgba([
            0,
            0,
            0,
            if x > 10 && x < 30 && y > 5 && y < 40 {
                255
            } else {
                0
            },
        ])
    });
    mask_case(
        g,
        "mask drawn only in the alpha channel",
        image::DynamicImage::ImageRgba8(alpha_only),
        Fail,
    );
    g.bulk(
        Reader::MapsMasks,
        "mask.png",
        mask_png,
        Either,
        &|f: &Path| argv("metrics --map {} --mask {} --json", &[&map, &f]),
    );
    for top in ["0", "101", "-5", "nan", "inf", "1e308"] {
        g.add_arg_case(
            &format!("--top {top}"),
            Fail,
            "top",
            &[
                "metrics",
                "--map",
                map.to_str().unwrap(),
                "--mask",
                maskf.to_str().unwrap(),
                "--top",
                top,
            ],
        );
    }
}
