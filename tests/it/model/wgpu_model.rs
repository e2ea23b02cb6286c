//! The model and a gradient-based map on the wgpu backend (lavapipe in CI): logits and the
//! Chefer map match the reference fixtures.

use crate::support::*;
use burn::tensor::{Device, DeviceKind};
use vitscope::explain::{self, ExplainOptions, Method, to_vec};

#[test]
fn wgpu_logits_and_chefer_map_match_reference() {
    let d = Device::wgpu(DeviceKind::DefaultDevice);
    let vit = load_reference_model(&d);
    let logits = to_vec(vit.forward(reference_input(&d))).unwrap();
    assert_close("wgpu logits", &logits, &expected("logits").1, 1e-4);
    let opts = ExplainOptions {
        target: Some(1),
        ..Default::default()
    };
    let e = explain::explain(&vit, reference_input(&d), Method::Chefer, &opts).unwrap();
    let want = expected("chefer_14").1;
    assert_close(
        "wgpu chefer_14",
        &e.grid.values,
        &want,
        1e-3 * max_abs(&want),
    );
    assert_close(
        "wgpu chefer_224",
        &e.map.values,
        &expected("chefer_224").1,
        1e-4,
    );
}
