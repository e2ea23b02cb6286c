//! Cascading model-parameter randomisation (Adebayo et al.): the head is replaced, then the
//! final norm as well, then each block from the last to the first, then the embeddings. A map
//! that does not change while the model is destroyed does not explain the model.
//!
//! [`Replacement::Deterministic`] is the fixture's rule (a quadratic Weyl sequence of the flat
//! index and a per-tensor code, exactly reproducible in IEEE f64): for flat index i, n = i + 1,
//! x = α·n² + β·t, u = x − ⌊x⌋, value = OFF + AMP·(2u − 1) rounded to f32, with α = (√5 − 1)/2,
//! β = √2 − 1; LayerNorm gains AMP 0.5, OFF 1 (in [0.5, 1.5)), every other tensor AMP 0.02,
//! OFF 0. t = 16·unit + slot, units bottom-up: 0 the embeddings, 1 + b block b, 1 + depth the
//! final norm, 2 + depth the head. [`Replacement::Random`] draws u uniformly from a generator
//! seeded with the seed and t instead (same ranges): reproducible from `--seed`.

use crate::error::Invalid;
use rand::{Rng, SeedableRng};

use crate::model::VitConfig;
use crate::model::checkpoint::StateDict;

/// α of the Weyl sequence.
pub const ALPHA: f64 = 0.6180339887498949;
/// β of the Weyl sequence.
pub const BETA: f64 = 0.41421356237309515;

/// How replaced tensors get their values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replacement {
    /// The fixture's deterministic rule.
    Deterministic,
    /// Uniform draws from this seed.
    Random(u64),
}

/// One step of the cascade: a layer and its tensors (timm names).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// `head`, `norm`, `blocks.N` or `embed`.
    pub layer: String,
    /// Tensors replaced at this step.
    pub tensors: Vec<String>,
}

const BLOCK_SLOTS: [&str; 12] = [
    "norm1.weight",
    "norm1.bias",
    "attn.qkv.weight",
    "attn.qkv.bias",
    "attn.proj.weight",
    "attn.proj.bias",
    "norm2.weight",
    "norm2.bias",
    "mlp.fc1.weight",
    "mlp.fc1.bias",
    "mlp.fc2.weight",
    "mlp.fc2.bias",
];
const EMBED_SLOTS: [&str; 4] = [
    "cls_token",
    "pos_embed",
    "patch_embed.proj.weight",
    "patch_embed.proj.bias",
];

/// The steps for a model of `depth` blocks, top-down.
pub fn steps(depth: usize) -> Vec<Step> {
    let mut out = vec![
        Step {
            layer: "head".into(),
            tensors: vec!["head.weight".into(), "head.bias".into()],
        },
        Step {
            layer: "norm".into(),
            tensors: vec!["norm.weight".into(), "norm.bias".into()],
        },
    ];
    for b in (0..depth).rev() {
        out.push(Step {
            layer: format!("blocks.{b}"),
            tensors: BLOCK_SLOTS
                .iter()
                .map(|s| format!("blocks.{b}.{s}"))
                .collect(),
        });
    }
    out.push(Step {
        layer: "embed".into(),
        tensors: EMBED_SLOTS.iter().map(|s| s.to_string()).collect(),
    });
    out
}

/// The steps for the tensors `cfg`'s model has: [`steps`], with the class token only where
/// the model has one, the register tokens in the embeddings, LayerScale in each block and
/// `fc_norm` in place of the final norm where the model has them. The tensors of the plain
/// layout keep their codes; the others get codes of their own (register tokens slot 4 of the
/// embeddings, `ls1`/`ls2` slots 12/13 of a block, `fc_norm` the final norm's).
pub fn steps_for(cfg: &VitConfig) -> Vec<Step> {
    let arch = &cfg.arch;
    let mut out = steps(cfg.depth);
    for step in &mut out {
        match step.layer.as_str() {
            "norm" if arch.fc_norm => {
                step.tensors = vec!["fc_norm.weight".into(), "fc_norm.bias".into()];
            }
            "embed" => {
                if !arch.class_token {
                    step.tensors.retain(|t| t != "cls_token");
                }
                if arch.reg_tokens > 0 {
                    step.tensors.push("reg_token".into());
                }
            }
            l if l.starts_with("blocks.") && arch.layer_scale => {
                step.tensors.push(format!("{l}.ls1.gamma"));
                step.tensors.push(format!("{l}.ls2.gamma"));
            }
            _ => {}
        }
    }
    out
}

/// The code t of a tensor (16·unit + slot), `None` for a name outside the cascade.
pub fn code(name: &str, depth: usize) -> Option<u32> {
    let unit_slot = |unit: usize, slot: usize| Some((16 * unit + slot) as u32);
    if let Some(slot) = EMBED_SLOTS.iter().position(|s| *s == name) {
        return unit_slot(0, slot);
    }
    if name == "reg_token" {
        return unit_slot(0, EMBED_SLOTS.len());
    }
    if let Some(rest) = name.strip_prefix("blocks.") {
        let (b, tail) = rest.split_once('.')?;
        let b: usize = b.parse().ok()?;
        let slot = match tail {
            "ls1.gamma" => BLOCK_SLOTS.len(),
            "ls2.gamma" => BLOCK_SLOTS.len() + 1,
            _ => BLOCK_SLOTS.iter().position(|s| *s == tail)?,
        };
        return (b < depth).then(|| unit_slot(1 + b, slot))?;
    }
    match name {
        "norm.weight" | "fc_norm.weight" => unit_slot(1 + depth, 0),
        "norm.bias" | "fc_norm.bias" => unit_slot(1 + depth, 1),
        "head.weight" => unit_slot(2 + depth, 0),
        "head.bias" => unit_slot(2 + depth, 1),
        _ => None,
    }
}

/// LayerNorm gains get values around 1; everything else around 0.
fn amp_off(name: &str) -> (f64, f64) {
    let gain = ["norm1.weight", "norm2.weight"]
        .iter()
        .any(|s| name.ends_with(s))
        || name == "norm.weight"
        || name == "fc_norm.weight";
    if gain { (0.5, 1.0) } else { (0.02, 0.0) }
}

/// The deterministic value at flat index `i` of the tensor with code `t`.
pub fn deterministic(t: u32, i: usize, amp: f64, off: f64) -> f32 {
    let n = (i + 1) as f64;
    let x = ALPHA * (n * n) + BETA * t as f64;
    let u = x - x.floor();
    (off + amp * (2.0 * u - 1.0)) as f32
}

/// Replaces the tensors of `step` in `sd`.
pub fn replace(
    sd: &mut StateDict,
    step: &Step,
    depth: usize,
    how: Replacement,
) -> Result<(), Invalid> {
    for name in &step.tensors {
        let t = code(name, depth)
            .ok_or_else(|| Invalid::from(format!("tensor '{name}' is not part of the cascade")))?;
        let tensor = sd.get_mut(name).ok_or_else(|| {
            Invalid::from(format!(
                "the checkpoint has no tensor '{name}' to randomise"
            ))
        })?;
        let (amp, off) = amp_off(name);
        match how {
            Replacement::Deterministic => {
                for (i, v) in tensor.data.iter_mut().enumerate() {
                    *v = deterministic(t, i, amp, off);
                }
            }
            Replacement::Random(seed) => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ ((t as u64) << 32));
                for v in tensor.data.iter_mut() {
                    let u: f64 = rng.random();
                    *v = (off + amp * (2.0 * u - 1.0)) as f32;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_units() {
        assert_eq!(code("blocks.0.attn.qkv.weight", 4), Some(18));
        assert_eq!(code("cls_token", 4), Some(0));
        assert_eq!(code("norm.bias", 4), Some(81));
        assert_eq!(code("head.weight", 4), Some(96));
        assert_eq!(code("blocks.4.norm1.weight", 4), None);
        let s = steps(4);
        assert_eq!(s.len(), 7);
        assert_eq!(s[2].layer, "blocks.3");
        assert_eq!(s[6].layer, "embed");
    }

    #[test]
    fn foundation_layouts_randomise_the_tensors_they_have() {
        let mut cfg = crate::model::VitConfig::sized(crate::model::VitSize::Ti, 16, 2);
        cfg.arch.class_token = false;
        cfg.arch.global_pool = crate::model::Pool::Avg;
        cfg.arch.fc_norm = true;
        cfg.arch.reg_tokens = 2;
        cfg.arch.layer_scale = true;
        let s = steps_for(&cfg);
        let d = cfg.depth;
        assert_eq!(s[1].tensors, ["fc_norm.weight", "fc_norm.bias"]);
        let embed = &s.last().unwrap().tensors;
        assert!(!embed.iter().any(|t| t == "cls_token"), "{embed:?}");
        assert!(embed.iter().any(|t| t == "reg_token"), "{embed:?}");
        assert!(
            s[2].tensors
                .contains(&format!("blocks.{}.ls2.gamma", d - 1))
        );
        // Every tensor has a code, and no two tensors share one.
        let mut codes: Vec<u32> = s
            .iter()
            .flat_map(|st| st.tensors.iter().map(|t| code(t, d).unwrap()))
            .collect();
        let n = codes.len();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), n);
        // The plain layout's steps are unchanged.
        assert_eq!(
            steps_for(&crate::model::VitConfig::sized(
                crate::model::VitSize::Ti,
                16,
                2
            )),
            steps(d)
        );
    }
}
