//! Flat records of scores, in the shape of the reference's `metrics.json`.

use serde::Serialize;

use super::localisation::Localisation;
use super::scores::MetricSet;

/// One record shaped like the reference `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// Map name.
    pub map: String,
    /// Mask name.
    pub mask: String,
    /// `pointing_game`, `iou_rect`, `iou_binary`, `dice` or `energy`.
    pub metric: String,
    /// Percentage (None for the pointing game and energy).
    pub top_perc: Option<f64>,
    /// Value (NaN, written as null, where undefined).
    pub value: f64,
    /// k of the `top_k_intersection` record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
}

/// Flattens a [`MetricSet`] into records in the reference order (pointing game, then per
/// percentage `iou_rect`, `iou_binary`), followed by this tool's extras (`dice`, `energy`).
pub fn records(set: &MetricSet, map: &str, mask: &str) -> Vec<Record> {
    let rec = |metric: &str, top_perc: Option<f64>, value: f64| Record {
        map: map.to_string(),
        mask: mask.to_string(),
        metric: metric.to_string(),
        top_perc,
        value,
        k: None,
    };
    let mut out = vec![rec(
        "pointing_game",
        None,
        if set.pointing_game { 1.0 } else { 0.0 },
    )];
    for t in &set.top {
        out.push(rec("iou_rect", Some(t.top_perc), t.iou_rect));
        out.push(rec("iou_binary", Some(t.top_perc), t.iou_binary));
    }
    for t in &set.top {
        out.push(rec("dice", Some(t.top_perc), t.dice));
    }
    out.push(rec("energy", None, set.energy));
    out
}

/// Records of the localisation metrics beyond the paper (relevance mass, relevance rank,
/// ROC-AUC, top-k intersection with its k), shaped like [`records`]' records.
pub fn localisation_records(loc: &Localisation, map: &str, mask: &str) -> Vec<Record> {
    let rec = |metric: &str, value: Option<f64>, k: Option<usize>| Record {
        map: map.to_string(),
        mask: mask.to_string(),
        metric: metric.to_string(),
        top_perc: None,
        value: value.unwrap_or(f64::NAN),
        k,
    };
    vec![
        rec("relevance_mass", loc.relevance_mass, None),
        rec("relevance_rank", loc.relevance_rank, None),
        rec("roc_auc", loc.roc_auc, None),
        rec(
            "top_k_intersection",
            loc.top_k_intersection,
            Some(super::localisation::TOP_K),
        ),
    ]
}
