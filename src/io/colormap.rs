//! Colormaps for heat-map overlays (turbo, jet, viridis, inferno, gray) and alpha blending.

use serde::{Deserialize, Serialize};

/// A colormap.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "lowercase")]
pub enum Colormap {
    /// Google's Turbo.
    #[default]
    Turbo,
    /// MATLAB-style jet.
    Jet,
    /// Matplotlib viridis.
    Viridis,
    /// Matplotlib inferno.
    Inferno,
    /// Grayscale.
    Gray,
}

fn lerp_stops(stops: &[[f32; 3]], t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0) * (stops.len() - 1) as f32;
    let i = (t.floor() as usize).min(stops.len() - 2);
    let f = t - i as f32;
    let (a, b) = (stops[i], stops[i + 1]);
    [
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
    ]
}

// Published anchor colours of each map, sampled at equal steps.
const TURBO: [[f32; 3]; 9] = [
    [0.190, 0.072, 0.232],
    [0.276, 0.421, 0.891],
    [0.158, 0.736, 0.923],
    [0.197, 0.949, 0.595],
    [0.644, 0.990, 0.234],
    [0.933, 0.812, 0.227],
    [0.984, 0.493, 0.128],
    [0.816, 0.185, 0.018],
    [0.480, 0.016, 0.011],
];
const JET: [[f32; 3]; 9] = [
    [0.0, 0.0, 0.5],
    [0.0, 0.0, 1.0],
    [0.0, 0.5, 1.0],
    [0.0, 1.0, 1.0],
    [0.5, 1.0, 0.5],
    [1.0, 1.0, 0.0],
    [1.0, 0.5, 0.0],
    [1.0, 0.0, 0.0],
    [0.5, 0.0, 0.0],
];
const VIRIDIS: [[f32; 3]; 9] = [
    [0.267, 0.005, 0.329],
    [0.283, 0.141, 0.458],
    [0.254, 0.265, 0.530],
    [0.207, 0.372, 0.553],
    [0.164, 0.471, 0.558],
    [0.128, 0.567, 0.551],
    [0.135, 0.659, 0.518],
    [0.267, 0.749, 0.441],
    [0.993, 0.906, 0.144],
];
const INFERNO: [[f32; 3]; 9] = [
    [0.001, 0.000, 0.014],
    [0.122, 0.047, 0.282],
    [0.333, 0.059, 0.427],
    [0.533, 0.133, 0.416],
    [0.729, 0.212, 0.333],
    [0.890, 0.349, 0.200],
    [0.976, 0.549, 0.039],
    [0.976, 0.788, 0.196],
    [0.988, 1.000, 0.643],
];

impl Colormap {
    /// Colour of `t` in [0, 1], RGB in [0, 1].
    pub fn rgb(&self, t: f32) -> [f32; 3] {
        match self {
            Colormap::Turbo => lerp_stops(&TURBO, t),
            Colormap::Jet => lerp_stops(&JET, t),
            Colormap::Viridis => lerp_stops(&VIRIDIS, t),
            Colormap::Inferno => lerp_stops(&INFERNO, t),
            Colormap::Gray => {
                let v = t.clamp(0.0, 1.0);
                [v, v, v]
            }
        }
    }
}

/// Blends a heat map (values in [0, 1], same size as the image) over an RGB image.
pub fn overlay(base: &image::RgbImage, map: &[f32], cmap: Colormap, alpha: f32) -> image::RgbImage {
    let w = base.width() as usize;
    let mut out = base.clone();
    for (i, px) in out.pixels_mut().enumerate() {
        let (x, y) = (i % w, i / w);
        let c = cmap.rgb(map[y * w + x]);
        for (ch, &cv) in px.0.iter_mut().zip(&c) {
            let b = *ch as f32 / 255.0;
            *ch = ((b * (1.0 - alpha) + cv * alpha) * 255.0).round() as u8;
        }
    }
    out
}
