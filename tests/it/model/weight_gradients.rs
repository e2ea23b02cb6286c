//! The gradients training uses — of the loss with respect to every kind of weight — agree with
//! central finite differences (the parity tests check gradients of activations, not of weights).

use burn::module::{Module, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use vitscope::explain::to_vec;
use vitscope::model::vit::VitWeights;
use vitscope::model::{Vit, VitConfig};

fn config() -> VitConfig {
    VitConfig {
        img_size: 32,
        patch_size: 16,
        in_chans: 3,
        num_classes: 2,
        embed_dim: 16,
        depth: 2,
        num_heads: 2,
        mlp_hidden: 32,
        eps: 1e-6,
        arch: Default::default(),
    }
}

fn loss(vit: &Vit, x: &Tensor<4>, y: &Tensor<1, Int>) -> f64 {
    let dev = x.device();
    let l = CrossEntropyLossConfig::new()
        .init(&dev)
        .forward(vit.forward(x.clone()), y.clone());
    to_vec(l).unwrap()[0] as f64
}

/// Checks a few entries of one weight tensor.
fn check<const D: usize>(
    name: &str,
    plain: &Vit,
    grad: Tensor<D>,
    pick: impl Fn(&mut VitWeights) -> &mut Param<Tensor<D>>,
    x: &Tensor<4>,
    y: &Tensor<1, Int>,
) {
    let g = to_vec(grad).unwrap();
    let mut w = plain.weights().valid();
    let base = pick(&mut w).val();
    let shape = base.dims();
    let values = to_vec(base).unwrap();
    let scale = g.iter().fold(0f32, |a, v| a.max(v.abs())).max(1e-6);
    let h = 1e-3f32;
    for idx in [0, values.len() / 3, values.len() / 2, values.len() - 1] {
        let at = |delta: f32| {
            let mut v = values.clone();
            v[idx] += delta;
            let mut w2 = plain.weights().valid();
            *pick(&mut w2) =
                Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), &x.device()));
            let m = Vit::new(w2, plain.config.clone());
            loss(&m, x, y)
        };
        let numeric = (at(h) - at(-h)) / (2.0 * h as f64);
        let err = (numeric - g[idx] as f64).abs();
        assert!(
            err <= 2e-3 * scale as f64 + 1e-4,
            "{name}[{idx}]: autodiff {} vs finite difference {numeric}",
            g[idx]
        );
    }
}

#[test]
fn weight_gradients_match_finite_differences() {
    let plain_dev = Device::flex();
    let ad = plain_dev.clone().autodiff();
    ad.seed(7);
    let cfg = config();
    let vit = cfg.init(&ad);
    let x = Tensor::<4>::random([3, 3, 32, 32], Distribution::Normal(0.0, 1.0), &plain_dev);
    let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 1], [3]), &plain_dev);
    let xa = Tensor::<4>::from_data(x.to_data(), &ad);
    let ya = Tensor::<1, Int>::from_data(y.to_data(), &ad);
    let l = CrossEntropyLossConfig::new()
        .init(&ad)
        .forward(vit.forward(xa), ya);
    let grads = l.backward();
    let plain = Vit::new(vit.weights().valid(), cfg);
    let w = vit.weights();
    let b0 = &w.blocks[0];
    check(
        "patch_embed.proj.weight",
        &plain,
        w.patch_embed.proj.weight.val().grad(&grads).unwrap(),
        |m| &mut m.patch_embed.proj.weight,
        &x,
        &y,
    );
    check(
        "cls_token",
        &plain,
        w.cls_token.as_ref().unwrap().val().grad(&grads).unwrap(),
        |m| m.cls_token.as_mut().unwrap(),
        &x,
        &y,
    );
    check(
        "pos_embed",
        &plain,
        w.pos_embed.val().grad(&grads).unwrap(),
        |m| &mut m.pos_embed,
        &x,
        &y,
    );
    check(
        "blocks.0.norm1.weight",
        &plain,
        b0.norm1.gamma.val().grad(&grads).unwrap(),
        |m| &mut m.blocks[0].norm1.gamma,
        &x,
        &y,
    );
    check(
        "blocks.0.attn.qkv.weight",
        &plain,
        b0.attn.qkv.weight.val().grad(&grads).unwrap(),
        |m| &mut m.blocks[0].attn.qkv.weight,
        &x,
        &y,
    );
    check(
        "blocks.0.attn.proj.weight",
        &plain,
        b0.attn.proj.weight.val().grad(&grads).unwrap(),
        |m| &mut m.blocks[0].attn.proj.weight,
        &x,
        &y,
    );
    check(
        "blocks.0.mlp.fc1.weight",
        &plain,
        b0.mlp.fc1.weight.val().grad(&grads).unwrap(),
        |m| &mut m.blocks[0].mlp.fc1.weight,
        &x,
        &y,
    );
    check(
        "blocks.0.mlp.fc2.weight",
        &plain,
        b0.mlp.fc2.weight.val().grad(&grads).unwrap(),
        |m| &mut m.blocks[0].mlp.fc2.weight,
        &x,
        &y,
    );
    check(
        "norm.weight",
        &plain,
        w.norm.gamma.val().grad(&grads).unwrap(),
        |m| &mut m.norm.gamma,
        &x,
        &y,
    );
    check(
        "head.weight",
        &plain,
        w.head.weight.val().grad(&grads).unwrap(),
        |m| &mut m.head.weight,
        &x,
        &y,
    );
}
