//! The explicit backward pass ([`Vit::logit_gradients`]) against burn's autodiff on the same
//! model: a small random ViT, a batch of two, every block's attention gradient and the last
//! block's `norm1` gradient. (The reference fixtures check both paths' maps separately.)

use burn::module::Param;
use burn::tensor::{Device, Distribution, Tensor};
use vitscope::explain::to_vec;
use vitscope::model::{Arch, GradRequest, Probes, VitConfig};

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

fn assert_close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}: length");
    let scale = max_abs(want);
    assert!(scale > 0.0, "{name}: the autodiff gradient is all zero");
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    eprintln!("{name}: max abs diff {diff:.3e} (max {scale:.3e})");
    assert!(diff <= 1e-4 * scale, "{name}: {diff} > 1e-4 × {scale}");
}

fn config(arch: Arch) -> VitConfig {
    VitConfig {
        img_size: 32,
        patch_size: 8,
        in_chans: 3,
        num_classes: 5,
        embed_dim: 48,
        depth: 3,
        num_heads: 3,
        mlp_hidden: 96,
        eps: 1e-6,
        arch,
    }
}

#[test]
fn explicit_backward_matches_autodiff() {
    explicit_matches_autodiff(config(Arch::default()), (32, 32));
}

/// DINOv2 style: two registers without a position entry, LayerScale with random factors, and
/// an input of another size (the position embedding resampled).
#[test]
fn explicit_backward_matches_autodiff_with_registers_and_layer_scale() {
    let arch = Arch {
        reg_tokens: 2,
        pos_prefix: 1,
        layer_scale: true,
        ..Arch::default()
    };
    explicit_matches_autodiff(config(arch), (40, 24));
}

/// A global-average-pool head with fc_norm: the gradient enters every patch token.
#[test]
fn explicit_backward_matches_autodiff_with_an_average_pool_head() {
    let arch = Arch {
        reg_tokens: 1,
        global_pool: vitscope::model::Pool::Avg,
        fc_norm: true,
        ..Arch::default()
    };
    explicit_matches_autodiff(config(arch), (32, 24));
}

fn explicit_matches_autodiff(cfg: VitConfig, (h, w): (usize, usize)) {
    let device = Device::flex();
    let vit = cfg.init(&device).with_weights(|mut w| {
        for blk in w.blocks.iter_mut() {
            for ls in [&mut blk.ls1, &mut blk.ls2].into_iter().flatten() {
                ls.gamma = Param::from_tensor(Tensor::random(
                    [cfg.embed_dim],
                    Distribution::Uniform(0.2, 1.5),
                    &device,
                ));
            }
        }
        w
    });
    let x = Tensor::<4>::random([2, 3, h, w], Distribution::Normal(0.0, 1.0), &device);
    let target = 3;

    let probes = Probes {
        attn_from: Some(0),
        last_norm1: true,
    };
    let traced = vit.forward_traced(x.clone(), probes);
    let grads = traced.logits.clone().narrow(1, target, 1).sum().backward();
    let auto = traced.probes.as_ref().expect("probes");

    let plain = vit.forward_traced(x, Probes::NONE);
    let request = GradRequest {
        attn_from: Some(0),
        last_norm1: true,
    };
    let explicit = vit.logit_gradients(&plain, target, request).unwrap();

    assert_eq!(explicit.attn.len(), cfg.depth);
    for ((i, g), (j, z)) in explicit.attn.iter().zip(&auto.attn) {
        assert_eq!(i, j);
        let want = to_vec(z.grad(&grads).expect("attention gradient")).unwrap();
        assert_close(
            &format!("block {i} attention"),
            &to_vec(g.clone()).unwrap(),
            &want,
        );
    }
    let want = to_vec(
        auto.last_norm1
            .as_ref()
            .and_then(|z| z.grad(&grads))
            .expect("norm1 gradient"),
    )
    .unwrap();
    let got = to_vec(explicit.last_norm1.expect("norm1 gradient")).unwrap();
    assert_close("last norm1", &got, &want);

    // A class the model does not have is an error, not a panic.
    assert!(vit.logit_gradients(&plain, 5, request).is_err());
}
