//! The distribution functions and small statistics of the analysis. The t, F and χ² tails come
//! from statrs's regularised incomplete beta and gamma functions (upper tails computed directly,
//! not as 1 − cdf, so small p-values keep their digits); the quantiles from its inverse beta.
//! Wilson intervals, descriptive blocks, Spearman's ρ and the Bradley–Terry fit are the few lines
//! their definitions take (no crate does them to the specification's rules).

use statrs::function::{beta, gamma};

/// A number, or `None` for what the reference leaves undefined (NaN, ±∞).
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Upper tail of Student's t with `df` degrees of freedom, P(T > t).
pub fn t_sf(t: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || t.is_nan() {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    let tail = 0.5 * beta::beta_reg(df / 2.0, 0.5, df / (df + t * t));
    if t > 0.0 { tail } else { 1.0 - tail }
}

/// Quantile of Student's t: the `p` point, for p in (0, 1).
pub fn t_ppf(p: f64, df: f64) -> f64 {
    let valid = df > 0.0 && p > 0.0 && p < 1.0;
    if !valid {
        return f64::NAN;
    }
    let lower = p.min(1.0 - p);
    let x = beta::inv_beta_reg(df / 2.0, 0.5, 2.0 * lower);
    let t = (df * (1.0 - x) / x).sqrt();
    if p >= 0.5 { t } else { -t }
}

/// Upper tail of the F distribution, P(F > f).
pub fn f_sf(f: f64, d1: f64, d2: f64) -> f64 {
    let valid = d1 > 0.0 && d2 > 0.0 && !f.is_nan();
    if !valid {
        return f64::NAN;
    }
    if f <= 0.0 {
        return 1.0;
    }
    if f.is_infinite() {
        return 0.0;
    }
    beta::beta_reg(d2 / 2.0, d1 / 2.0, d2 / (d2 + d1 * f))
}

/// Quantile of the F distribution, p in (0, 1) (degrees of freedom need not be integers).
pub fn f_ppf(p: f64, d1: f64, d2: f64) -> f64 {
    let valid = d1 > 0.0 && d2 > 0.0 && p > 0.0 && p < 1.0 && d1.is_finite() && d2.is_finite();
    if !valid {
        return f64::NAN;
    }
    let z = beta::inv_beta_reg(d1 / 2.0, d2 / 2.0, p);
    d2 * z / (d1 * (1.0 - z))
}

/// Upper tail of χ² with `df` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if df.is_nan() || df <= 0.0 || x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    if x.is_infinite() {
        return 0.0;
    }
    gamma::gamma_ur(df / 2.0, x / 2.0)
}

/// z of the two-sided 95 % interval: `stats.norm.isf(0.025)`.
pub const Z975: f64 = 1.959_963_984_540_054;

/// Wilson score interval of `k` successes in `n`, clipped to [0, 1]; `None` for n = 0.
pub fn wilson(k: usize, n: usize) -> Option<[f64; 2]> {
    if n == 0 {
        return None;
    }
    let (k, n) = (k as f64, n as f64);
    let z2 = Z975 * Z975;
    let p = k / n;
    let d = 1.0 + z2 / n;
    let c = (p + z2 / (2.0 * n)) / d;
    let h = Z975 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    Some([(c - h).max(0.0), (c + h).min(1.0)])
}

/// Mean.
pub fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Sample standard deviation (ddof 1); `None` below two values.
pub fn sd(v: &[f64]) -> Option<f64> {
    (v.len() >= 2).then(|| {
        let m = mean(v);
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    })
}

/// Median (mean of the middle two for an even count).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Average ranks (1-based; ties share the mean of their ranks).
pub fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut out = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            out[k] = r;
        }
        i = j + 1;
    }
    out
}

/// Spearman's ρ and its two-sided p (t with n − 2 degrees of freedom); `None`s where undefined:
/// n < 2, a constant side; n = 2 has ρ = ±1 and no p.
pub fn spearman(x: &[f64], y: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = x.len();
    if n < 2 {
        return (None, None);
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let (mx, my) = (mean(&rx), mean(&ry));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return (None, None);
    }
    let rho = (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0);
    if n == 2 {
        return (Some(rho), None);
    }
    let df = (n - 2) as f64;
    let p = if (1.0 - rho.abs()) <= 0.0 {
        0.0
    } else {
        let t = rho * (df / ((1.0 + rho) * (1.0 - rho))).sqrt();
        2.0 * t_sf(t.abs(), df)
    };
    (Some(rho), finite(p))
}

/// Bradley–Terry strengths by Hunter's MM iteration from π = 1: θ = log π − mean(log π), or
/// `None` when the graph of wins (winner → loser) is not strongly connected (no maximum).
/// `wins` are (winner, loser) item indices of `n` items.
pub fn bradley_terry(n: usize, wins: &[(usize, usize)]) -> Option<Vec<f64>> {
    if n < 2 || !strongly_connected(n, wins) {
        return None;
    }
    let mut w = vec![0.0f64; n];
    for &(a, _) in wins {
        w[a] += 1.0;
    }
    let mut theta = vec![0.0f64; n];
    for _ in 0..1_000_000 {
        let pi: Vec<f64> = theta.iter().map(|t| t.exp()).collect();
        let mut denom = vec![0.0f64; n];
        for &(a, b) in wins {
            let v = 1.0 / (pi[a] + pi[b]);
            denom[a] += v;
            denom[b] += v;
        }
        let logs: Vec<f64> = (0..n).map(|i| (w[i] / denom[i]).ln()).collect();
        let m = mean(&logs);
        let next: Vec<f64> = logs.iter().map(|l| l - m).collect();
        let change: f64 = next.iter().zip(&theta).map(|(a, b)| (a - b).abs()).sum();
        theta = next;
        if change <= 1e-13 * n as f64 {
            break;
        }
    }
    theta.iter().all(|t| t.is_finite()).then_some(theta)
}

/// Whether every item reaches every other along winner → loser edges.
fn strongly_connected(n: usize, edges: &[(usize, usize)]) -> bool {
    let reach = |forward: bool| {
        let mut seen = vec![false; n];
        let mut stack = vec![0];
        seen[0] = true;
        while let Some(v) = stack.pop() {
            for &(a, b) in edges {
                let (from, to) = if forward { (a, b) } else { (b, a) };
                if from == v && !seen[to] {
                    seen[to] = true;
                    stack.push(to);
                }
            }
        }
        seen.iter().all(|&s| s)
    };
    reach(true) && reach(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_functions_match_scipy() {
        // scipy 1.17.1: stats.t.ppf(0.975, 7), t.ppf(0.975, 1), t.sf(2, 5), f.sf(3, 7, 21),
        // f.ppf(0.975, 7, 21), chi2.sf(10, 7), f.ppf(0.975, 7, 13.37), f.sf(60, 7, 21),
        // t.sf(8, 30).
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        for (got, want) in [
            (t_ppf(0.975, 7.0), 2.364624251592784),
            (t_ppf(0.975, 1.0), 12.706204736174694),
            (t_sf(2.0, 5.0), 0.050969739414929174),
            (f_sf(3.0, 7.0, 21.0), 0.02391955669492273),
            (f_ppf(0.975, 7.0, 21.0), 2.968630335010687),
            (chi2_sf(10.0, 7.0), 0.18857346751344997),
            (f_ppf(0.975, 7.0, 13.37), 3.442497966380023),
            (f_sf(60.0, 7.0, 21.0), 1.8434253293278244e-12),
            (t_sf(8.0, 30.0), 3.1329112378503795e-09),
        ] {
            assert!(close(got, want), "{got} vs {want}");
        }
        assert_eq!(wilson(0, 5).unwrap()[0], 0.0);
    }

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }
}
