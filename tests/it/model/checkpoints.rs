//! Checkpoint layouts (timm .safetensors / .pth, MAE, DINO, other heads) and bad checkpoints.

use std::path::{Path, PathBuf};

use crate::support::*;
use burn::tensor::{Device, Distribution, Tensor};
use vitscope::explain::to_vec;
use vitscope::model::checkpoint::{CheckpointError, CheckpointLayout, read_state_dict};
use vitscope::model::{LoadOptions, Probes, load_vit};

fn data(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run under cargo"))
        .join("tests/data")
        .join(name)
}

fn heads2() -> LoadOptions {
    LoadOptions {
        heads: Some(2),
        ..Default::default()
    }
}

/// (logits, pooled features) of a checkpoint on a fixed random input.
fn run(path: &Path, opts: &LoadOptions) -> (Vec<f32>, Vec<f32>, vitscope::model::LoadReport) {
    let d = Device::flex();
    let (vit, report) = load_vit(path, opts, &d).unwrap_or_else(|e| panic!("{e}"));
    d.seed(3);
    let s = vit.config.img_size;
    let x = Tensor::<4>::random([1, 3, s, s], Distribution::Normal(0.0, 1.0), &d);
    let t = vit.forward_traced(x, Probes::NONE);
    (to_vec(t.logits).unwrap(), to_vec(t.pooled).unwrap(), report)
}

fn tmp(name: &str) -> PathBuf {
    scratch("ckpt").join(name)
}

/// Rewrites the reference weights with `edit` applied to the tensor list.
fn edited_reference(
    name: &str,
    edit: impl Fn(&mut Vec<(String, Vec<usize>, Vec<f32>)>),
) -> PathBuf {
    let sd = read_state_dict(&reference("weights.safetensors")).unwrap();
    let mut list: Vec<(String, Vec<usize>, Vec<f32>)> =
        sd.into_iter().map(|(k, t)| (k, t.shape, t.data)).collect();
    edit(&mut list);
    let path = tmp(name);
    std::fs::write(&path, crate::support::safetensors_bytes(&list)).unwrap();
    path
}

#[test]
fn timm_pth_equals_timm_safetensors() {
    let (a, _, ra) = run(&data("micro_timm.safetensors"), &heads2());
    let (b, _, rb) = run(&data("micro_timm.pth"), &heads2());
    assert_eq!(a, b);
    for r in [&ra, &rb] {
        assert_eq!(r.layout, CheckpointLayout::Timm);
        assert!(
            r.missing.is_empty() && r.unused.is_empty(),
            "{}",
            r.summary()
        );
        assert_eq!(r.applied.len(), 4 + 12 * 2 + 4);
        assert_eq!(
            (
                r.config.embed_dim,
                r.config.depth,
                r.config.patch_size,
                r.config.img_size
            ),
            (8, 2, 4, 8)
        );
        assert_eq!(
            (
                r.config.num_classes,
                r.config.mlp_hidden,
                r.config.num_heads
            ),
            (3, 16, 2)
        );
    }
}

#[test]
fn mae_release_layout() {
    let (a, _, _) = run(&data("micro_timm.safetensors"), &heads2());
    let (b, _, r) = run(&data("micro_mae.pth"), &heads2());
    assert_eq!(r.layout, CheckpointLayout::Mae);
    assert!(
        r.notes.iter().any(|n| n.contains("fc_norm")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes.iter().any(|n| n.contains("decoder")),
        "{:?}",
        r.notes
    );
    assert_eq!(a, b);
}

#[test]
fn dino_release_layouts_get_a_new_head() {
    let (_, pooled, _) = run(&data("micro_timm.safetensors"), &heads2());
    for f in ["micro_dino.pth", "micro_dino_full.pth"] {
        let (logits, p, r) = run(&data(f), &heads2());
        assert_eq!(r.layout, CheckpointLayout::Backbone, "{f}");
        assert_eq!(
            r.missing,
            vec!["head.bias".to_string(), "head.weight".into()],
            "{f}"
        );
        assert!(
            r.notes.iter().any(|n| n.contains("new 2-class head")),
            "{f}: {:?}",
            r.notes
        );
        assert_eq!(logits.len(), 2);
        assert_eq!(p, pooled, "{f}: backbone features differ");
    }
    let opts = LoadOptions {
        heads: Some(2),
        classes: Some(5),
        ..Default::default()
    };
    let (logits, _, r) = run(&data("micro_dino.pth"), &opts);
    assert_eq!((logits.len(), r.config.num_classes), (5, 5));
}

#[test]
fn fixture_config_json_is_accepted_and_other_heads_load() {
    // The reference config names its head count `heads`; without it head_dim 64 gives 3 as well,
    // so check the config path with a head count that differs from the default.
    let path = edited_reference("four_class.safetensors", |list| {
        for (k, s, v) in list.iter_mut() {
            if k == "head.weight" {
                *s = vec![4, 192];
                *v = (0..4 * 192).map(|i| (i % 7) as f32 * 0.01).collect();
            }
            if k == "head.bias" {
                *s = vec![4];
                *v = vec![0.0; 4];
            }
        }
    });
    let opts = LoadOptions {
        config_file: Some(reference("config.json")),
        ..Default::default()
    };
    let (logits, _, r) = run(&path, &opts);
    assert_eq!((logits.len(), r.config.num_heads), (4, 3));
    let opts = LoadOptions {
        heads: Some(6),
        ..Default::default()
    };
    let (_, _, r) = run(&path, &opts);
    assert_eq!(r.config.num_heads, 6);
}

#[test]
fn shape_mismatch_names_tensor_and_shapes() {
    let path = edited_reference("bad_shape.safetensors", |list| {
        for (k, s, v) in list.iter_mut() {
            if k == "blocks.2.mlp.fc2.bias" {
                *s = vec![191];
                v.truncate(191);
            }
        }
    });
    let err = load_vit(&path, &LoadOptions::default(), &Device::flex()).unwrap_err();
    assert!(matches!(err, CheckpointError::Shape { .. }), "{err}");
    let s = err.to_string();
    assert!(
        s.contains("blocks.2.mlp.fc2.bias") && s.contains("[191]") && s.contains("[192]"),
        "{s}"
    );
    assert!(s.contains("bad_shape.safetensors"), "{s}");
}

#[test]
fn truncated_and_foreign_files_are_errors() {
    let bytes = std::fs::read(reference("weights.safetensors")).unwrap();
    let cut = tmp("truncated.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let pth = std::fs::read(data("micro_timm.pth")).unwrap();
    let cut_pth = tmp("truncated.pth");
    std::fs::write(&cut_pth, &pth[..pth.len() - 300]).unwrap();
    let junk = tmp("junk.safetensors");
    std::fs::write(&junk, b"definitely not a checkpoint").unwrap();
    let image = reference("image.png");
    for p in [&cut, &cut_pth, &junk, &image, &tmp("missing.pth")] {
        let err = load_vit(p, &heads2(), &Device::flex()).unwrap_err();
        let s = err.to_string();
        eprintln!("{s}");
        assert!(
            s.contains(&*p.file_name().unwrap().to_string_lossy()),
            "{s}"
        );
    }
}
