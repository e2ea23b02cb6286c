//! Grow from seeds: scikit-image's marker watershed (connectivity 1, no compactness) on the Sobel
//! gradient of the image values, with its binary heap and (value, age) order, so ties between
//! seeds resolve as it resolves them.

use super::types::{Grid, reflect};

/// `skimage.filters.sobel` of float64 values: sqrt(G0² + G1²)/√2 with the reflect border and the
/// README's summation order.
pub fn sobel(v: &[f64], g: Grid) -> Vec<f64> {
    let at = |i: isize, j: isize| v[reflect(i, g.h) * g.w + reflect(j, g.w)];
    let mut out = vec![0.0; g.len()];
    for i in 0..g.h as isize {
        for j in 0..g.w as isize {
            let mut g0 = 0.0;
            g0 += -0.25 * at(i - 1, j - 1);
            g0 += -0.5 * at(i - 1, j);
            g0 += -0.25 * at(i - 1, j + 1);
            g0 += 0.25 * at(i + 1, j - 1);
            g0 += 0.5 * at(i + 1, j);
            g0 += 0.25 * at(i + 1, j + 1);
            let mut g1 = 0.0;
            g1 += -0.25 * at(i - 1, j - 1);
            g1 += 0.25 * at(i - 1, j + 1);
            g1 += -0.5 * at(i, j - 1);
            g1 += 0.5 * at(i, j + 1);
            g1 += -0.25 * at(i + 1, j - 1);
            g1 += 0.25 * at(i + 1, j + 1);
            out[i as usize * g.w + j as usize] = (0.0 + g0 * g0 + g1 * g1).sqrt() / 2f64.sqrt();
        }
    }
    out
}

/// A heap item: (value, age, pixel).
type Item = (f64, u64, usize);

fn before(a: &Item, b: &Item) -> bool {
    a.0 < b.0 || (a.0 == b.0 && a.1 < b.1)
}

/// The binary heap of the README (its exact sift order decides between tied seeds).
struct Heap(Vec<Item>);

impl Heap {
    fn push(&mut self, x: Item) {
        let h = &mut self.0;
        h.push(x);
        let mut c = h.len() - 1;
        while c > 0 {
            let p = (c - 1) / 2; // the README's (c + 1) / 2 - 1
            if before(&h[c], &h[p]) {
                h.swap(c, p);
                c = p;
            } else {
                break;
            }
        }
    }

    fn pop(&mut self) -> Option<Item> {
        let h = &mut self.0;
        let top = *h.first()?;
        let n = h.len() - 1;
        if n == 0 {
            h.pop();
            return Some(top);
        }
        h[0] = h[n];
        h.pop();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            if l >= n {
                break;
            }
            let mut s = i;
            if before(&h[l], &h[i]) {
                s = l;
            }
            if r < n && before(&h[r], &h[s]) {
                s = r;
            }
            if s == i {
                break;
            }
            h.swap(i, s);
            i = s;
        }
        Some(top)
    }
}

/// The watershed of `v` from `seeds` (class ids; 0 = none): every pixel takes the id of the seed
/// whose flood reaches it first.
pub fn grow(v: &[f64], seeds: &[u8], g: Grid) -> Vec<u8> {
    let grad = sobel(v, g);
    let mut label = seeds.to_vec();
    let mut heap = Heap(Vec::new());
    for (p, &s) in seeds.iter().enumerate() {
        if s != 0 {
            heap.push((grad[p], 0, p));
        }
    }
    let mut age = 1u64;
    while let Some((val, _, p)) = heap.pop() {
        let (i, j) = (p / g.w, p % g.w);
        let mut visit = |q: usize, label: &mut Vec<u8>, heap: &mut Heap| {
            if label[q] != 0 {
                return;
            }
            age += 1;
            label[q] = label[p];
            heap.push((grad[q].max(val), age, q));
        };
        if i > 0 {
            visit(p - g.w, &mut label, &mut heap);
        }
        if j > 0 {
            visit(p - 1, &mut label, &mut heap);
        }
        if j + 1 < g.w {
            visit(p + 1, &mut label, &mut heap);
        }
        if i + 1 < g.h {
            visit(p + g.w, &mut label, &mut heap);
        }
    }
    label
}
