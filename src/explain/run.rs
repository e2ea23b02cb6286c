//! The explain runner: an image to its explanation map in the image's own frame. Prepare
//! (resize or crop, normalise), compute the map at model-input size, bring it back onto the
//! original pixels. `vitscope explain`, `eval` and the workbench's map worker all run it.

use burn::tensor::Tensor;

use super::shared::{ExplainError, ExplainOptions, Explanation, Method, check_target};
use super::{attention, chefer, generic, gradcam, plain, rollout, upsample};
use crate::io::image::Image;
use crate::model::Vit;
use crate::model::preprocess::{
    self, Geometry, InputSize, InputSizeError, Normalization, Prepared, ResizeMode,
};

/// How an image becomes the model's input.
#[derive(Debug, Clone, Copy, Default)]
pub struct Setup {
    /// The input size (default: the model's own square input).
    pub size: Option<InputSize>,
    /// How the image reaches that size.
    pub resize: ResizeMode,
    /// Normalisation (default ImageNet).
    pub norm: Normalization,
}

/// Errors of [`explain_image`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The model cannot take the image at the size asked.
    #[error(transparent)]
    Size(#[from] InputSizeError),
    /// The map could not be computed.
    #[error(transparent)]
    Explain(#[from] ExplainError),
}

/// One map of one image.
#[derive(Debug, Clone)]
pub struct InFrame {
    /// The map on the patch grid and at model-input size, the class, the logits.
    pub explanation: Explanation,
    /// Where the model input sits in the image.
    pub geometry: Geometry,
    /// The map on the image's own pixels (`orig_width × orig_height`, row-major).
    pub original: Vec<f32>,
}

/// The model input of `img` under `setup`.
pub fn prepare(vit: &Vit, img: &Image, setup: &Setup) -> Result<Prepared, InputSizeError> {
    preprocess::prepare_for(&vit.config, img, setup.size, setup.resize, &setup.norm)
}

/// The map of an input made by [`prepare`] (one preparation serves several maps).
pub fn explain_prepared(
    vit: &Vit,
    prepared: &Prepared,
    method: Method,
    opts: &ExplainOptions,
) -> Result<InFrame, ExplainError> {
    let explanation = explain(vit, prepared.tensor(&vit.device()), method, opts)?;
    let original = preprocess::map_to_original(&explanation.map.values, &prepared.geometry);
    Ok(InFrame {
        explanation,
        geometry: prepared.geometry,
        original,
    })
}

/// Prepares `img` and computes the map of `method`.
pub fn explain_image(
    vit: &Vit,
    img: &Image,
    setup: &Setup,
    method: Method,
    opts: &ExplainOptions,
) -> Result<InFrame, RunError> {
    let prepared = prepare(vit, img, setup)?;
    Ok(explain_prepared(vit, &prepared, method, opts)?)
}

/// Computes one explanation for a `[1, 3, H, W]` input (H and W multiples of the patch).
pub fn explain(
    vit: &Vit,
    input: Tensor<4>,
    method: Method,
    opts: &ExplainOptions,
) -> Result<Explanation, ExplainError> {
    let patch = vit.config.patch_size;
    let [_, _, in_h, in_w] = input.dims();
    let cpu = vit.on_plain_cpu(&input);
    let (target, logits, grid, map) = match method {
        _ if cpu && plain::on_plain_path(method) => {
            let x = super::shared::to_vec(input)?;
            plain::compute(vit, &x, [in_h, in_w], method, opts)?
        }
        Method::Attention => {
            let (logits, grid) = attention::attention_map(vit, input, opts.layer, opts.head)?;
            let target = check_target(opts.target, &logits)?;
            let map = upsample::nearest_minmax(&grid, patch);
            (target, logits, grid, map)
        }
        Method::Rollout => {
            let (logits, grid) = rollout::rollout_map(vit, input)?;
            let target = check_target(opts.target, &logits)?;
            let map = upsample::bilinear_minmax(&grid, patch);
            (target, logits, grid, map)
        }
        Method::CamAttn => {
            let r = attention::cam_attn_map(vit, input, opts.target)?;
            let map = upsample::bilinear_minmax(&r.2, patch);
            (r.0, r.1, r.2, map)
        }
        Method::Chefer => {
            let r = chefer::chefer_map(vit, input, opts.target)?;
            let map = upsample::bilinear_minmax(&r.grid, patch);
            (r.target, r.logits, r.grid, map)
        }
        Method::Generic => {
            let r = generic::generic_map(vit, input, opts.target)?;
            let map = upsample::bilinear_minmax(&r.2, patch);
            (r.0, r.1, r.2, map)
        }
        Method::Gradcam | Method::GradcamPaper => {
            let paper = method == Method::GradcamPaper;
            let r = gradcam::gradcam(vit, input, opts.target, paper)?;
            (r.target, r.logits, r.grid, r.map)
        }
    };
    debug_assert_eq!(grid.values.len(), (in_h / patch) * (in_w / patch));
    let finite = |v: &[f32], what: &str| {
        crate::io::guard::check_finite(v, what).map_err(|e| {
            ExplainError::NonFinite(format!(
                "{e}: the model overflowed (check the weights and the normalisation)"
            ))
        })
    };
    finite(&logits, "the logits")?;
    finite(&grid.values, &format!("the {method} map"))?;
    finite(&map.values, &format!("the upsampled {method} map"))?;
    Ok(Explanation {
        method,
        target,
        logits,
        grid,
        map,
    })
}
