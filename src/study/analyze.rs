//! `study analyze`: the statistics of a reader study from its response file, optionally with the
//! metrics of the maps shown (an `eval` `per_image.csv`) and the ground-truth masks, as the JSON
//! object of the specification, and the long table that MRMC tools read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::agreement::{Ratings, agreement};
use super::responses::{Answer, Question, Response};
use super::stats::{bradley_terry, finite, mean, median, sd, spearman, t_ppf, wilson};
use crate::error::Invalid;

/// The metric columns correlated with the ratings by default: the pointing game and the
/// paper's IoU of the top-5 % rectangle.
pub const DEFAULT_COLUMNS: [&str; 2] = ["pointing_game", "iou_rect@5"];

/// What an analysis reads besides the responses.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// An `eval` `per_image.csv`.
    pub metrics: Option<PathBuf>,
    /// Its checkpoint (default: the file's only one).
    pub checkpoint: Option<String>,
    /// Its annotation rows (`mask` or `box`).
    pub annotation: String,
    /// Metric columns to correlate with the ratings.
    pub columns: Vec<String>,
    /// Ground-truth masks, `<case>.png`.
    pub masks: Option<PathBuf>,
}

fn num(x: f64) -> Value {
    finite(x).map_or(Value::Null, Value::from)
}

fn interval(x: Option<[f64; 2]>) -> Value {
    x.map_or(Value::Null, |[a, b]| json!([num(a), num(b)]))
}

/// Metric values by (method, image) of one checkpoint and annotation.
type Metrics = BTreeMap<(String, String), Vec<f64>>;

/// Reads the rows of `per_image.csv` that the analysis uses.
pub fn read_metrics(path: &Path, inputs: &Inputs) -> Result<Metrics, Invalid> {
    let name = path.display().to_string();
    let bytes = crate::io::guard::read_bounded(path, 1 << 30)
        .map_err(|e| Invalid::from(format!("{name}: {e}")))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[..]);
    let rows: Vec<csv::StringRecord> = r
        .records()
        .collect::<Result<_, _>>()
        .map_err(|e| Invalid::from(format!("{name}: {e}")))?;
    let Some(head) = rows.first() else {
        return Err(Invalid::from(format!("{name}: empty file")));
    };
    let col = |c: &str| {
        head.iter()
            .position(|h| h == c)
            .ok_or_else(|| Invalid::from(format!("{name}: no column '{c}'")))
    };
    let (ck, method, image, ann) = (
        col("checkpoint")?,
        col("method")?,
        col("image")?,
        col("annotation")?,
    );
    let cols: Vec<usize> = inputs
        .columns
        .iter()
        .map(|c| col(c))
        .collect::<Result<_, _>>()?;
    let body: Vec<&csv::StringRecord> = rows[1..].iter().filter(|r| !r.is_empty()).collect();
    let field = |r: &csv::StringRecord, k: usize, line: usize| {
        r.get(k)
            .map(str::to_string)
            .ok_or_else(|| Invalid::from(format!("{name}: line {line}: too few fields")))
    };
    let checkpoints: BTreeSet<String> = body
        .iter()
        .enumerate()
        .map(|(i, r)| field(r, ck, i + 2))
        .collect::<Result<_, _>>()?;
    let checkpoint = match &inputs.checkpoint {
        Some(c) if checkpoints.contains(c) => c.clone(),
        Some(c) => return Err(Invalid::from(format!("{name}: no checkpoint '{c}'"))),
        None if checkpoints.len() == 1 => checkpoints.iter().next().cloned().unwrap_or_default(),
        None => {
            return Err(Invalid::from(format!(
                "{name}: {} checkpoints ({}); choose one with --checkpoint",
                checkpoints.len(),
                checkpoints.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    };
    let mut out = Metrics::new();
    for (i, r) in body.iter().enumerate() {
        let line = i + 2;
        if field(r, ck, line)? != checkpoint || field(r, ann, line)? != inputs.annotation {
            continue;
        }
        let values = cols
            .iter()
            .zip(&inputs.columns)
            .map(|(&k, c)| {
                let v = field(r, k, line)?;
                v.parse::<f64>().map_err(|_| {
                    Invalid::from(format!("{name}: line {line}: {c} '{v}' is not a number"))
                })
            })
            .collect::<Result<Vec<f64>, _>>()?;
        out.insert((field(r, method, line)?, field(r, image, line)?), values);
    }
    Ok(out)
}

/// A ground-truth mask: non-zero pixels (colour: any of R, G, B; alpha ignored), row-major.
pub struct Truth {
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// Finding pixels.
    pub inside: Vec<bool>,
}

impl Truth {
    /// Whether a click at (x, y) falls on a finding pixel: column ⌊x⌋, row ⌊y⌋.
    pub fn hit(&self, x: f64, y: f64) -> bool {
        let (c, r) = (x.floor(), y.floor());
        c >= 0.0
            && r >= 0.0
            && c < self.width as f64
            && r < self.height as f64
            && self.inside[r as usize * self.width + c as usize]
    }

    /// Whether the mask has a finding pixel.
    pub fn any(&self) -> bool {
        self.inside.iter().any(|&v| v)
    }
}

/// Reads `<dir>/<case>.png`.
pub fn read_truth(dir: &Path, case: &str) -> Result<Truth, Invalid> {
    let p = dir.join(format!("{case}.png"));
    if !p.is_file() {
        return Err(Invalid::from(format!(
            "{}: no mask {case}.png for case {case}",
            dir.display()
        )));
    }
    let img = crate::io::image::decode_raster(&p).map_err(|e| Invalid::from(e.to_string()))?;
    use image::DynamicImage as D;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let inside: Vec<bool> = match &img {
        D::ImageLuma8(b) => b.as_raw().iter().map(|&v| v != 0).collect(),
        D::ImageLumaA8(b) => b.as_raw().chunks_exact(2).map(|p| p[0] != 0).collect(),
        D::ImageLuma16(b) => b.as_raw().iter().map(|&v| v != 0).collect(),
        D::ImageLumaA16(b) => b.as_raw().chunks_exact(2).map(|p| p[0] != 0).collect(),
        D::ImageRgb16(_) | D::ImageRgba16(_) => img
            .to_rgba16()
            .pixels()
            .map(|p| p[0] != 0 || p[1] != 0 || p[2] != 0)
            .collect(),
        _ => img
            .to_rgba8()
            .pixels()
            .map(|p| p[0] != 0 || p[1] != 0 || p[2] != 0)
            .collect(),
    };
    Ok(Truth {
        width: w,
        height: h,
        inside,
    })
}

/// The descriptive block of one condition: ratings by case.
fn describe(by_case: &BTreeMap<String, Vec<f64>>) -> Value {
    let all: Vec<f64> = by_case.values().flatten().copied().collect();
    let per_case: BTreeMap<&String, f64> = by_case.iter().map(|(c, v)| (c, mean(v))).collect();
    let m: Vec<f64> = per_case.values().copied().collect();
    let k = m.len();
    let case_sd = sd(&m);
    let ci = case_sd.filter(|_| k >= 2).map(|s| {
        let half = t_ppf(0.975, (k - 1) as f64) * s / (k as f64).sqrt();
        let c = mean(&m);
        [c - half, c + half]
    });
    json!({
        "n": all.len(),
        "mean": num(mean(&all)),
        "sd": sd(&all).map_or(Value::Null, num),
        "median": num(median(&all)),
        "cases": k,
        "case_mean": num(mean(&m)),
        "case_sd": case_sd.map_or(Value::Null, num),
        "ci95": interval(ci),
        "per_case": per_case,
    })
}

/// Ratings of `question` by condition, then case.
fn ratings_by(rows: &[Response], q: Question) -> BTreeMap<String, BTreeMap<String, Vec<f64>>> {
    let mut by: BTreeMap<String, BTreeMap<String, Vec<f64>>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.question == q) {
        if let Some(v) = r.rating() {
            by.entry(r.condition.clone())
                .or_default()
                .entry(r.case.clone())
                .or_default()
                .push(v as f64);
        }
    }
    by
}

fn pairwise(rows: &[Response]) -> Value {
    let answers: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter_map(|r| match &r.answer {
            Some(Answer::Choice(c)) if r.question == Question::Pairwise => {
                let (a, b) = r.condition.split_once('|')?;
                Some((a, b, c.as_str()))
            }
            _ => None,
        })
        .collect();
    if answers.is_empty() {
        return Value::Null;
    }
    let mut pairs: BTreeMap<String, (String, String, usize, usize)> = BTreeMap::new();
    let mut first = 0;
    for &(a, b, chosen) in &answers {
        first += (chosen == a) as usize;
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let e = pairs
            .entry(format!("{lo}|{hi}"))
            .or_insert_with(|| (lo.to_string(), hi.to_string(), 0, 0));
        if chosen == lo {
            e.2 += 1;
        } else {
            e.3 += 1;
        }
    }
    let items: Vec<&str> = answers
        .iter()
        .flat_map(|&(a, b, _)| [a, b])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ix = |c: &str| items.iter().position(|&i| i == c).unwrap_or(0);
    let wins: Vec<(usize, usize)> = answers
        .iter()
        .map(|&(a, b, w)| (ix(w), ix(if w == a { b } else { a })))
        .collect();
    let bt = bradley_terry(items.len(), &wins).map_or(Value::Null, |theta| {
        let t: Map<String, Value> = items
            .iter()
            .zip(theta)
            .map(|(c, v)| (c.to_string(), num(v)))
            .collect();
        json!({ "theta": t })
    });
    let pairs: Map<String, Value> = pairs
        .into_iter()
        .map(|(k, (a, b, wa, wb))| {
            let n = wa + wb;
            let v = json!({"a": a, "b": b, "n": n, "wins_a": wa, "wins_b": wb,
                           "win_rate": wa as f64 / n as f64, "ci95": interval(wilson(wa, n))});
            (k, v)
        })
        .collect();
    let n = answers.len();
    json!({
        "pairs": pairs,
        "first": {"n": n, "chosen": first, "rate": first as f64 / n as f64,
                  "ci95": interval(wilson(first, n))},
        "bradley_terry": bt,
    })
}

fn metric_agreement(
    case_means: &BTreeMap<String, BTreeMap<String, f64>>,
    metrics: &Metrics,
    columns: &[String],
) -> Value {
    let block = |x: &[f64], y: &[f64]| {
        let (rho, p) = spearman(x, y);
        json!({"n": x.len(), "rho": rho.map_or(Value::Null, num),
               "pval": p.map_or(Value::Null, num)})
    };
    let mut out = Map::new();
    for (k, col) in columns.iter().enumerate() {
        let mut per = Map::new();
        let (mut px, mut py) = (Vec::new(), Vec::new());
        for (cond, cases) in case_means {
            let (mut xs, mut ys) = (Vec::new(), Vec::new());
            for (case, m) in cases {
                if let Some(v) = metrics.get(&(cond.clone(), case.clone())) {
                    xs.push(*m);
                    ys.push(v[k]);
                }
            }
            if !xs.is_empty() {
                per.insert(cond.clone(), block(&xs, &ys));
                px.extend(xs);
                py.extend(ys);
            }
        }
        let pooled = if px.is_empty() {
            Value::Null
        } else {
            block(&px, &py)
        };
        out.insert(col.clone(), json!({"per_condition": per, "pooled": pooled}));
    }
    Value::Object(out)
}

/// Masks of the cases that need one: localised cases, and with `confidence` also the cases
/// with a confidence answer.
fn truths(
    rows: &[Response],
    dir: &Path,
    confidence: bool,
) -> Result<BTreeMap<String, Truth>, Invalid> {
    let mut out = BTreeMap::new();
    for r in rows {
        let needed = match r.question {
            Question::Localise => true,
            Question::Confidence => confidence,
            _ => false,
        };
        if needed && r.answer.is_some() && !out.contains_key(&r.case) {
            out.insert(r.case.clone(), read_truth(dir, &r.case)?);
        }
    }
    Ok(out)
}

fn localisation(rows: &[Response], masks: &BTreeMap<String, Truth>) -> Value {
    type Tally = BTreeMap<String, (usize, usize)>;
    let mut by: BTreeMap<&str, (usize, usize, Tally, Tally)> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.question == Question::Localise) {
        let Some(Answer::Click(x, y)) = r.answer else {
            continue;
        };
        let hit = masks.get(&r.case).is_some_and(|m| m.hit(x, y)) as usize;
        let e = by.entry(&r.condition).or_default();
        e.0 += 1;
        e.1 += hit;
        for (t, key) in [(&mut e.2, &r.case), (&mut e.3, &r.reader)] {
            let s = t.entry(key.clone()).or_default();
            s.0 += 1;
            s.1 += hit;
        }
    }
    let tally = |t: &Tally| -> Map<String, Value> {
        t.iter()
            .map(|(k, &(n, h))| {
                (
                    k.clone(),
                    json!({"n": n, "hits": h, "hit_rate": h as f64 / n as f64}),
                )
            })
            .collect()
    };
    let out: Map<String, Value> = by
        .iter()
        .map(|(c, (n, h, cases, readers))| {
            (
                c.to_string(),
                json!({"n": n, "hits": h, "hit_rate": *h as f64 / *n as f64,
                       "ci95": interval(wilson(*h, *n)), "per_case": tally(cases),
                       "per_reader": tally(readers)}),
            )
        })
        .collect();
    Value::Object(out)
}

/// One row of `mrmc.csv` ([`MRMC_HEADER`]).
pub type MrmcRow = [String; 7];

/// The analysis: the JSON object of the specification, and the rows of `mrmc.csv` when masks
/// are given and `mrmc` is asked for (the masks of confidence-rated cases are then required).
pub fn analyze(
    rows: &[Response],
    inputs: &Inputs,
    mrmc: bool,
) -> Result<(Value, Option<Vec<MrmcRow>>), Invalid> {
    let metrics = match &inputs.metrics {
        Some(p) => Some(read_metrics(p, inputs)?),
        None => None,
    };
    let masks = match &inputs.masks {
        Some(d) => Some(truths(rows, d, mrmc)?),
        None => None,
    };
    let answered = rows.iter().filter(|r| r.answer.is_some()).count();
    let distinct = |f: fn(&Response) -> &String| rows.iter().map(f).collect::<BTreeSet<_>>().len();
    let answers: Map<String, Value> = Question::ALL
        .iter()
        .map(|q| {
            let n = rows
                .iter()
                .filter(|r| r.question == *q && r.answer.is_some())
                .count();
            (q.name().to_string(), json!(n))
        })
        .collect();
    let likert = ratings_by(rows, Question::Likert);
    let confidence = ratings_by(rows, Question::Confidence);
    let describe_all = |by: &BTreeMap<String, BTreeMap<String, Vec<f64>>>| -> Map<String, Value> {
        by.iter().map(|(c, v)| (c.clone(), describe(v))).collect()
    };
    // Agreement: per condition (subject = case) and overall (subject = case, condition).
    let lik: Vec<&Response> = rows
        .iter()
        .filter(|r| r.question == Question::Likert && r.rating().is_some())
        .collect();
    let mut per = Map::new();
    for cond in lik.iter().map(|r| &r.condition).collect::<BTreeSet<_>>() {
        let scope: Ratings = lik
            .iter()
            .filter(|r| &r.condition == cond)
            .map(|r| ((r.case.clone(), r.reader.clone()), r.rating().unwrap_or(0)))
            .collect();
        per.insert(cond.clone(), agreement(&scope));
    }
    let overall = if lik.is_empty() {
        Value::Null
    } else {
        let scope: Ratings = lik
            .iter()
            .map(|r| {
                (
                    (format!("{}\u{0}{}", r.case, r.condition), r.reader.clone()),
                    r.rating().unwrap_or(0),
                )
            })
            .collect();
        agreement(&scope)
    };
    let case_means: BTreeMap<String, BTreeMap<String, f64>> = likert
        .iter()
        .map(|(c, by_case)| {
            (
                c.clone(),
                by_case.iter().map(|(k, v)| (k.clone(), mean(v))).collect(),
            )
        })
        .collect();
    let out = json!({
        "counts": {"rows": rows.len(), "missing": rows.len() - answered,
                   "readers": distinct(|r| &r.reader), "cases": distinct(|r| &r.case),
                   "answers": answers},
        "likert": describe_all(&likert),
        "confidence": describe_all(&confidence),
        "pairwise": pairwise(rows),
        "agreement": {"per_condition": per, "overall": overall},
        "metrics": metrics.as_ref().map_or(Value::Null,
            |m| metric_agreement(&case_means, m, &inputs.columns)),
        "localisation": masks.as_ref().map_or(Value::Null, |m| localisation(rows, m)),
    });
    let table = match (&masks, mrmc) {
        (Some(m), true) => Some(mrmc_rows(rows, m)),
        _ => None,
    };
    Ok((out, table))
}

/// The header of `mrmc.csv`.
pub const MRMC_HEADER: [&str; 7] = [
    "reader",
    "case",
    "case_id",
    "modality",
    "truth",
    "rating",
    "localised",
];

/// One row per confidence answer, sorted by (reader, modality, case).
fn mrmc_rows(rows: &[Response], masks: &BTreeMap<String, Truth>) -> Vec<MrmcRow> {
    let cases: Vec<&String> = rows
        .iter()
        .map(|r| &r.case)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let case_id = |c: &String| cases.iter().position(|k| *k == c).map_or(0, |i| i + 1);
    let clicks: BTreeMap<(&str, &str, &str), (f64, f64)> = rows
        .iter()
        .filter_map(|r| match r.answer {
            Some(Answer::Click(x, y)) if r.question == Question::Localise => Some((
                (r.reader.as_str(), r.case.as_str(), r.condition.as_str()),
                (x, y),
            )),
            _ => None,
        })
        .collect();
    let mut conf: Vec<&Response> = rows
        .iter()
        .filter(|r| r.question == Question::Confidence && r.rating().is_some())
        .collect();
    conf.sort_by(|a, b| {
        (&a.reader, &a.condition, &a.case).cmp(&(&b.reader, &b.condition, &b.case))
    });
    conf.iter()
        .map(|r| {
            let truth = masks.get(&r.case);
            let localised = clicks
                .get(&(r.reader.as_str(), r.case.as_str(), r.condition.as_str()))
                .map_or(String::new(), |&(x, y)| {
                    (truth.is_some_and(|t| t.hit(x, y)) as u8).to_string()
                });
            [
                r.reader.clone(),
                r.case.clone(),
                case_id(&r.case).to_string(),
                r.condition.clone(),
                (truth.is_some_and(Truth::any) as u8).to_string(),
                r.rating().unwrap_or(0).to_string(),
                localised,
            ]
        })
        .collect()
}
