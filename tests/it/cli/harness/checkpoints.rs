//! Checkpoints: safetensors and PyTorch files, truncated, edited, reshaped.

use std::path::{Path, PathBuf};

use super::helpers::*;
use super::{Base, Expect, Gen, Reader};

/// What later families reuse: the tensors of a valid small checkpoint and its file.
pub(super) struct Checkpoints {
    pub(super) st: Tensors,
    pub(super) st_good: PathBuf,
}

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base) -> Checkpoints {
    use Expect::*;
    let Base { png, .. } = b;
    // ---- checkpoints ----
    let st = read_st(&data("micro_timm.safetensors"));
    let demo = read_st(&vitscope::app::demo_dir().join("model.safetensors"));
    let with_weights = |f: &Path| {
        argv(
            "explain --device cpu --method chefer --weights {} --image {}",
            &[&f, &png],
        )
    };
    let st_good = g.file("micro.safetensors", &st_bytes(&st));
    g.add(
        Reader::Checkpoints,
        "micro safetensors",
        Succeed,
        None,
        with_weights(&st_good),
    );
    let pth = std::fs::read(data("micro_timm.pth")).unwrap();
    let pth_good = g.file("micro.pth", &pth);
    g.add(
        Reader::Checkpoints,
        "micro pth",
        Succeed,
        None,
        with_weights(&pth_good),
    );
    let low = g.file("low_byte_0x80.safetensors", &st_low_byte_0x80(&st));
    g.add(
        Reader::Checkpoints,
        "header length with low byte 0x80",
        Succeed,
        None,
        with_weights(&low),
    );
    g.bulk(
        Reader::Checkpoints,
        "micro.safetensors",
        &st_bytes(&st),
        Fail,
        &with_weights,
    );
    g.bulk(Reader::Checkpoints, "micro.pth", &pth, Fail, &with_weights);
    let pw = "patch_embed.proj.weight";
    let reshaped: Vec<(&str, Tensors, Expect)> = vec![
        ("1 input channel", resized(&st, pw, &[(1, 1)]), Fail),
        ("4 input channels", resized(&st, pw, &[(1, 4)]), Fail),
        ("patch size 0", resized(&st, pw, &[(2, 0), (3, 0)]), Fail),
        ("non-square patch", resized(&st, pw, &[(3, 2)]), Fail),
        (
            "rank-1 patch embedding",
            edit(&st, pw, |s, v| {
                *s = vec![v.len()];
            }),
            Fail,
        ),
        ("width 0", resized(&st, pw, &[(0, 0)]), Fail),
        (
            "0-class head",
            edit(
                &edit(&st, "head.weight", |s, v| {
                    s[0] = 0;
                    v.clear();
                }),
                "head.bias",
                |s, v| {
                    s[0] = 0;
                    v.clear();
                },
            ),
            Fail,
        ),
        (
            "rank-3 head",
            edit(&st, "head.weight", |s, _| {
                s.insert(0, 1);
            }),
            Fail,
        ),
        (
            "MLP width 0",
            {
                let mut t = st.clone();
                for e in t.iter_mut().filter(|e| e.0.contains("mlp.fc")) {
                    if e.0.contains("fc1.weight") {
                        e.1 = vec![0, e.1[1]];
                    } else if e.0.contains("fc1.bias") {
                        e.1 = vec![0];
                    } else if e.0.contains("fc2.weight") {
                        e.1 = vec![e.1[0], 0];
                    }
                    if !e.0.contains("fc2.bias") {
                        e.2.clear();
                    }
                }
                t
            },
            Fail,
        ),
        (
            "rank-0 MLP weight",
            edit(&st, "blocks.0.mlp.fc1.weight", |s, v| {
                s.clear();
                v.truncate(1);
            }),
            Fail,
        ),
        (
            "non-square position grid",
            edit(&st, "pos_embed", |s, v| {
                s[1] -= 1;
                v.truncate(s.iter().product());
            }),
            Fail,
        ),
        (
            "a 300×300 position grid",
            edit(&st, "pos_embed", |s, v| {
                s[1] = 1 + 300 * 300;
                v.resize(s.iter().product(), 0.01);
            }),
            Fail,
        ),
        ("block 0 missing", without(&st, "blocks.0."), Fail),
        (
            "one block tensor missing",
            without(&st, "blocks.1.mlp.fc2.weight"),
            Fail,
        ),
        ("norm missing", without(&st, "norm."), Fail),
        ("head missing (backbone)", without(&st, "head."), Succeed),
        (
            "NaN weight",
            edit(&st, "blocks.0.attn.qkv.weight", |_, v| v[3] = f32::NAN),
            Fail,
        ),
        (
            "inf position embedding",
            edit(&st, "pos_embed", |_, v| v[0] = f32::INFINITY),
            Fail,
        ),
        (
            "huge head",
            edit(&st, "head.weight", |_, v| {
                v.iter_mut().for_each(|x| *x *= 1e38)
            }),
            Either,
        ),
        (
            "extra tensor",
            {
                let mut t = st.clone();
                t.push(("extra.weight".into(), vec![2], vec![1.0, 2.0]));
                t
            },
            Succeed,
        ),
    ];
    for (what, t, expect) in reshaped {
        let f = g.file(
            &format!("ckpt_{}.safetensors", what.replace([' ', '(', ')'], "_")),
            &st_bytes(&t),
        );
        g.add(
            Reader::Checkpoints,
            what,
            expect,
            Some(&f),
            with_weights(&f),
        );
    }
    let demo_gap = g.file(
        "demo_without_block1.safetensors",
        &st_bytes(&without(&demo, "blocks.1.")),
    );
    g.add(
        Reader::Checkpoints,
        "4-block model with blocks.1.* missing",
        Fail,
        Some(&demo_gap),
        with_weights(&demo_gap),
    );
    for (what, text) in [
        ("num_heads 0", r#"{"num_heads": 0}"#),
        ("num_heads 3 (does not divide 8)", r#"{"num_heads": 3}"#),
        ("not JSON", "num_heads = 2"),
        ("num_heads text", r#"{"num_heads": "two"}"#),
    ] {
        let cfg = g.file(
            &format!("config_{}.json", what.replace([' ', '(', ')'], "_")),
            text.as_bytes(),
        );
        let mut args = with_weights(&st_good);
        args.extend(argv("--config {}", &[&cfg]));
        g.add(
            Reader::Checkpoints,
            format!("config.json with {what}"),
            Fail,
            Some(&cfg),
            args,
        );
    }
    for (what, bytes) in [
        ("empty file", b"".as_slice()),
        (
            "random bytes",
            b"\x80\x02random bytes that are no pickle at all",
        ),
        ("zip header only", b"PK\x03\x04 and nothing else"),
        (
            "JSON header past the end",
            b"\xff\x00\x00\x00\x00\x00\x00\x00{\"a\":1}",
        ),
    ] {
        let f = g.file(
            &format!("ckpt_{}.safetensors", what.replace(' ', "_")),
            bytes,
        );
        g.add(Reader::Checkpoints, what, Fail, Some(&f), with_weights(&f));
    }
    Checkpoints { st, st_good }
}
