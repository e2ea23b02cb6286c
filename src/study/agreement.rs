//! Agreement between readers on the Likert ratings of one scope: Fleiss' κ, Cohen's κ per reader
//! pair (three weightings), Krippendorff's α (nominal, ordinal, interval), ICC(2,1) and ICC(3,1)
//! with their intervals, Kendall's W. Each follows the study specification's formula and
//! degenerate cases (what the reference libraries leave undefined is `null`); no crate
//! implements these with the listwise deletion, fixed five levels and null rules the
//! specification fixes, so they are written here, each a few lines of its definition.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::stats::{chi2_sf, f_ppf, f_sf, finite, mean, ranks};

/// The five levels.
const LEVELS: usize = 5;

/// Ratings of a scope: (subject, reader) → level 1..5.
pub type Ratings = BTreeMap<(String, String), u8>;

fn num(x: f64) -> Value {
    finite(x).map_or(Value::Null, Value::from)
}

fn opt(x: Option<f64>) -> Value {
    x.and_then(finite).map_or(Value::Null, Value::from)
}

/// The agreement block of one scope (JSON layout of the specification).
pub fn agreement(ratings: &Ratings) -> Value {
    let readers: Vec<&String> = ratings
        .keys()
        .map(|(_, r)| r)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let subjects: Vec<&String> = ratings
        .keys()
        .map(|(s, _)| s)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let get = |s: &String, r: &String| ratings.get(&(s.clone(), r.clone())).copied();
    let complete: Vec<&String> = subjects
        .iter()
        .copied()
        .filter(|s| readers.iter().all(|r| get(s, r).is_some()))
        .collect();
    // Complete subjects × readers.
    let table: Vec<Vec<f64>> = complete
        .iter()
        .map(|s| {
            readers
                .iter()
                .map(|r| get(s, r).unwrap_or(0) as f64)
                .collect()
        })
        .collect();
    let mut cohen = serde_json::Map::new();
    let mut sums = [Vec::new(), Vec::new(), Vec::new()];
    for (i, a) in readers.iter().enumerate() {
        for b in &readers[i + 1..] {
            let pairs: Vec<(u8, u8)> = subjects
                .iter()
                .filter_map(|s| get(s, a).zip(get(s, b)))
                .collect();
            let k = cohen_kappa(&pairs);
            for (w, v) in k.iter().enumerate() {
                if let Some(v) = v {
                    sums[w].push(*v);
                }
            }
            cohen.insert(
                format!("{a}|{b}"),
                json!({"n": pairs.len(), "unweighted": opt(k[0]), "linear": opt(k[1]),
                       "quadratic": opt(k[2])}),
            );
        }
    }
    let light = |v: &Vec<f64>| (!v.is_empty()).then(|| mean(v));
    // Krippendorff: every subject, the ratings it has.
    let units: Vec<Vec<u8>> = subjects
        .iter()
        .map(|s| readers.iter().filter_map(|r| get(s, r)).collect())
        .collect();
    json!({
        "readers": readers.len(),
        "subjects": subjects.len(),
        "complete_subjects": complete.len(),
        "fleiss_kappa": opt(fleiss(&table)),
        "cohen": cohen,
        "cohen_mean": {"unweighted": opt(light(&sums[0])), "linear": opt(light(&sums[1])),
                       "quadratic": opt(light(&sums[2]))},
        "krippendorff": {"nominal": opt(krippendorff(&units, Level::Nominal)),
                         "ordinal": opt(krippendorff(&units, Level::Ordinal)),
                         "interval": opt(krippendorff(&units, Level::Interval))},
        "icc2_1": icc(&table, true),
        "icc3_1": icc(&table, false),
        "kendall_w": kendall_w(&table),
    })
}

/// Fleiss' κ of complete subjects × readers; `None` without a complete subject, below two
/// readers, or when every rating is the same level.
fn fleiss(table: &[Vec<f64>]) -> Option<f64> {
    let s = table.len();
    let m = table.first().map_or(0, Vec::len);
    if s == 0 || m < 2 {
        return None;
    }
    let mut p = [0.0; LEVELS];
    let mut pbar = 0.0;
    for row in table {
        let mut n = [0.0; LEVELS];
        for &v in row {
            n[v as usize - 1] += 1.0;
        }
        for j in 0..LEVELS {
            p[j] += n[j];
        }
        let sq: f64 = n.iter().map(|x| x * x).sum();
        pbar += (sq - m as f64) / (m as f64 * (m as f64 - 1.0));
    }
    let total = (s * m) as f64;
    let pe: f64 = p.iter().map(|x| (x / total) * (x / total)).sum();
    pbar /= s as f64;
    finite((pbar - pe) / (1.0 - pe))
}

/// Cohen's κ (unweighted, linear, quadratic) of paired levels; `None` for no pair or when the
/// expected weighted disagreement is 0.
fn cohen_kappa(pairs: &[(u8, u8)]) -> [Option<f64>; 3] {
    if pairs.is_empty() {
        return [None; 3];
    }
    let mut o = [[0.0; LEVELS]; LEVELS];
    for &(a, b) in pairs {
        o[a as usize - 1][b as usize - 1] += 1.0;
    }
    let rows: Vec<f64> = (0..LEVELS).map(|j| o[j].iter().sum()).collect();
    let cols: Vec<f64> = (0..LEVELS)
        .map(|k| (0..LEVELS).map(|j| o[j][k]).sum())
        .collect();
    let n = pairs.len() as f64;
    let weight = |w: usize, j: usize, k: usize| {
        let d = (j as f64 - k as f64).abs();
        match w {
            0 => (j != k) as u8 as f64,
            1 => d,
            _ => d * d,
        }
    };
    let mut out = [None; 3];
    for (w, slot) in out.iter_mut().enumerate() {
        let (mut num, mut den) = (0.0, 0.0);
        for j in 0..LEVELS {
            for k in 0..LEVELS {
                num += weight(w, j, k) * o[j][k];
                den += weight(w, j, k) * rows[j] * cols[k] / n;
            }
        }
        *slot = if den == 0.0 {
            None
        } else {
            finite(1.0 - num / den)
        };
    }
    out
}

#[derive(Clone, Copy)]
enum Level {
    Nominal,
    Ordinal,
    Interval,
}

/// Krippendorff's α over units of ratings (levels 1..5 always in the value domain); `None` when
/// no unit has two ratings or the expected disagreement is 0.
fn krippendorff(units: &[Vec<u8>], level: Level) -> Option<f64> {
    let mut o = [[0.0; LEVELS]; LEVELS];
    let mut pairable = false;
    for u in units {
        let m = u.len();
        if m < 2 {
            continue;
        }
        pairable = true;
        for (i, &a) in u.iter().enumerate() {
            for (j, &b) in u.iter().enumerate() {
                if i != j {
                    o[a as usize - 1][b as usize - 1] += 1.0 / (m as f64 - 1.0);
                }
            }
        }
    }
    if !pairable {
        return None;
    }
    let nc: Vec<f64> = (0..LEVELS).map(|c| o[c].iter().sum()).collect();
    let n: f64 = nc.iter().sum();
    let delta = |c: usize, k: usize| -> f64 {
        match level {
            Level::Nominal => (c != k) as u8 as f64,
            Level::Interval => ((c as f64) - (k as f64)).powi(2),
            Level::Ordinal => {
                let (lo, hi) = (c.min(k), c.max(k));
                let s: f64 = nc[lo..=hi].iter().sum::<f64>() - (nc[c] + nc[k]) / 2.0;
                s * s
            }
        }
    };
    let (mut d_o, mut d_e) = (0.0, 0.0);
    for c in 0..LEVELS {
        for k in 0..LEVELS {
            d_o += o[c][k] * delta(c, k);
            d_e += nc[c] * nc[k] * delta(c, k);
        }
    }
    if d_e == 0.0 {
        return None;
    }
    finite(1.0 - (n - 1.0) * d_o / d_e)
}

/// ICC(2,1) (`absolute`) or ICC(3,1) of complete subjects × readers, with F, its p and the 95 %
/// interval; `null` without a complete subject or below five ratings.
fn icc(x: &[Vec<f64>], absolute: bool) -> Value {
    let n = x.len();
    let k = x.first().map_or(0, Vec::len);
    if n == 0 || n * k < 5 {
        return Value::Null;
    }
    let (nf, kf) = (n as f64, k as f64);
    let g = x.iter().flatten().sum::<f64>() / (nf * kf);
    let row_means: Vec<f64> = x.iter().map(|r| mean(r)).collect();
    let col_means: Vec<f64> = (0..k)
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / nf)
        .collect();
    let ssr = kf * row_means.iter().map(|m| (m - g).powi(2)).sum::<f64>();
    let ssc = nf * col_means.iter().map(|m| (m - g).powi(2)).sum::<f64>();
    let sst: f64 = x.iter().flatten().map(|v| (v - g).powi(2)).sum();
    // The residual directly (not SST − SSR − SSC): exact zeros stay zeros.
    let mut sse = 0.0;
    for (i, r) in x.iter().enumerate() {
        for (j, v) in r.iter().enumerate() {
            sse += (v - row_means[i] - col_means[j] + g).powi(2);
        }
    }
    let (df1, df2) = (n - 1, (n - 1) * (k - 1));
    let msr = ssr / df1 as f64;
    let msc = ssc / (kf - 1.0);
    let mse = sse / df2 as f64;
    if n >= 2 && k >= 2 && sst > 0.0 && sse <= 1e-10 * sst {
        // Every reader equals every other up to a constant: MSE = 0 exactly.
        let icc = if absolute {
            msr / (msr + kf * msc / nf)
        } else {
            1.0
        };
        return json!({"icc": num(icc), "ci95": [null, null], "F": null, "df1": df1, "df2": df2,
                      "pval": null});
    }
    let f = msr / mse;
    let (d1, d2) = (df1 as f64, df2 as f64);
    let pval = f_sf(f, d1, d2);
    let (icc, lo, hi) = if absolute {
        let rho = (msr - mse) / (msr + (kf - 1.0) * mse + kf * (msc - mse) / nf);
        let fj = msc / mse;
        let a = kf * rho * fj + nf * (1.0 + (kf - 1.0) * rho) - kf * rho;
        let b = nf * (1.0 + (kf - 1.0) * rho) - kf * rho;
        let v = d2 * a * a / (d1 * kf * kf * rho * rho * fj * fj + b * b);
        let f2u = f_ppf(0.975, nf - 1.0, v);
        let f2l = f_ppf(0.975, v, nf - 1.0);
        let c = kf * msc + (kf * nf - kf - nf) * mse;
        // The lower bound divided through by F₂U: the same number, and its limit when the
        // quantile overflows (v near 0 puts it beyond f64).
        let lo = nf * (msr / f2u - mse) / (c + nf * msr / f2u);
        let hi = nf * (f2l * msr - mse) / (c + nf * f2l * msr);
        (rho, lo, hi)
    } else {
        let icc = (msr - mse) / (msr + (kf - 1.0) * mse);
        let fl = f / f_ppf(0.975, d1, d2);
        let fu = f * f_ppf(0.975, d2, d1);
        (
            icc,
            (fl - 1.0) / (fl + kf - 1.0),
            (fu - 1.0) / (fu + kf - 1.0),
        )
    };
    json!({"icc": num(icc), "ci95": [num(lo), num(hi)], "F": num(f), "df1": df1, "df2": df2,
           "pval": num(pval)})
}

/// Kendall's W with the tie correction over complete subjects × readers; `null` without a
/// complete subject.
fn kendall_w(x: &[Vec<f64>]) -> Value {
    let n = x.len();
    let m = x.first().map_or(0, Vec::len);
    if n == 0 || m == 0 {
        return Value::Null;
    }
    let mut rank_sums = vec![0.0; n];
    let mut ties = 0.0;
    for j in 0..m {
        let col: Vec<f64> = x.iter().map(|r| r[j]).collect();
        for (s, r) in ranks(&col).iter().enumerate() {
            rank_sums[s] += r;
        }
        let mut counts: BTreeMap<u64, f64> = BTreeMap::new();
        for v in &col {
            *counts.entry(v.to_bits()).or_default() += 1.0;
        }
        ties += counts.values().map(|t| t * t * t - t).sum::<f64>();
    }
    let (nf, mf) = (n as f64, m as f64);
    let centre = mf * (nf + 1.0) / 2.0;
    let s: f64 = rank_sums.iter().map(|r| (r - centre).powi(2)).sum();
    let den = mf * mf * (nf * nf * nf - nf) - mf * ties;
    let w = 12.0 * s / den;
    let chi2 = mf * (nf - 1.0) * w;
    let df = n - 1;
    json!({"w": num(w), "chi2": num(chi2), "df": df, "pval": num(chi2_sf(chi2, df as f64))})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_reader_against_a_varying_one_has_cohen_zero() {
        let pairs = [(3, 1), (3, 2), (3, 5), (3, 4)];
        assert_eq!(cohen_kappa(&pairs), [Some(0.0); 3]);
        assert_eq!(cohen_kappa(&[(3, 3), (3, 3)]), [None; 3]);
    }

    #[test]
    fn one_pairable_unit_with_two_values_has_alpha_zero() {
        let units = vec![vec![2, 4], vec![3]];
        for l in [Level::Nominal, Level::Ordinal, Level::Interval] {
            assert_eq!(krippendorff(&units, l), Some(0.0));
        }
        assert_eq!(krippendorff(&[vec![3, 3]], Level::Nominal), None);
    }
}
