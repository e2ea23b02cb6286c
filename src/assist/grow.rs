//! Grow from seeds: scikit-image's marker watershed (connectivity 1, no compactness) on the Sobel
//! gradient of the image values, with its binary heap and (value, age) order, so ties between
//! seeds resolve as it resolves them.

use super::types::{Grid, reflect};

/// `skimage.filters.sobel` of float64 values: sqrt(G0² + G1²)/√2 with the reflect border and the
/// README's summation order (the interior without the border's index arithmetic, the same sums).
pub fn sobel(v: &[f64], g: Grid) -> Vec<f64> {
    let mut out = vec![0.0; g.len()];
    if g.is_empty() {
        return out;
    }
    let w = g.w;
    // The value at (i, j) given the three rows around i and the column indices j−1, j, j+1.
    let pixel = |up: &[f64], mid: &[f64], down: &[f64], (jl, j, jr): (usize, usize, usize)| {
        let mut g0 = 0.0;
        g0 += -0.25 * up[jl];
        g0 += -0.5 * up[j];
        g0 += -0.25 * up[jr];
        g0 += 0.25 * down[jl];
        g0 += 0.5 * down[j];
        g0 += 0.25 * down[jr];
        let mut g1 = 0.0;
        g1 += -0.25 * up[jl];
        g1 += 0.25 * up[jr];
        g1 += -0.5 * mid[jl];
        g1 += 0.5 * mid[jr];
        g1 += -0.25 * down[jl];
        g1 += 0.25 * down[jr];
        (0.0 + g0 * g0 + g1 * g1).sqrt() / 2f64.sqrt()
    };
    let row = |i: isize| {
        let r = reflect(i, g.h);
        &v[r * w..(r + 1) * w]
    };
    for (i, o) in out.chunks_mut(w).enumerate() {
        let i = i as isize;
        let (up, mid, down) = (row(i - 1), row(i), row(i + 1));
        let edge = |j: isize| (reflect(j - 1, w), j as usize, reflect(j + 1, w));
        o[0] = pixel(up, mid, down, edge(0));
        let inner = w.saturating_sub(1).max(1);
        for (j, o) in o.iter_mut().enumerate().take(inner).skip(1) {
            *o = pixel(up, mid, down, (j - 1, j, j + 1));
        }
        if w > 1 {
            o[w - 1] = pixel(up, mid, down, edge(w as isize - 1));
        }
    }
    out
}

/// A heap item: the value's bits (values are ≥ 0, so their bits order as they do), the age and
/// the pixel, 16 bytes.
#[derive(Clone, Copy)]
struct Item {
    bits: u64,
    age: u32,
    pixel: u32,
}

impl Item {
    /// (value, age) as one number: one comparison orders two items.
    #[inline]
    fn key(&self) -> u128 {
        ((self.bits as u128) << 32) | self.age as u128
    }
}

/// The binary heap of the README (its exact sift order decides between tied seeds).
struct Heap(Vec<Item>);

impl Heap {
    fn push(&mut self, x: Item) {
        let h = &mut self.0;
        let k = x.key();
        let mut c = h.len();
        h.push(x);
        // Sift up by moving parents down into the hole (the README's swaps, fewer writes).
        while c > 0 {
            let p = (c - 1) / 2; // the README's (c + 1) / 2 - 1
            if k < h[p].key() {
                h[c] = h[p];
                c = p;
            } else {
                break;
            }
        }
        h[c] = x;
    }

    fn pop(&mut self) -> Option<Item> {
        let h = &mut self.0;
        let top = *h.first()?;
        let last = h.pop().expect("not empty");
        let n = h.len();
        if n == 0 {
            return Some(top);
        }
        // Sift `last` down from the root by moving children up into the hole.
        let k = last.key();
        let mut i = 0;
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            if l >= n {
                break;
            }
            // The README: s = l if H[l] before H[i]; s = r if r < n and H[r] before H[s].
            let kl = h[l].key();
            let (mut s, mut ks) = if kl < k { (l, kl) } else { (i, k) };
            if r < n {
                let kr = h[r].key();
                if kr < ks {
                    (s, ks) = (r, kr);
                }
            }
            let _ = ks;
            if s == i {
                break;
            }
            h[i] = h[s];
            i = s;
        }
        h[i] = last;
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
            heap.push(Item {
                bits: grad[p].to_bits(),
                age: 0,
                pixel: p as u32,
            });
        }
    }
    let mut age = 1u32;
    while let Some(top) = heap.pop() {
        let (val, p) = (f64::from_bits(top.bits), top.pixel as usize);
        let (i, j) = (p / g.w, p % g.w);
        let id = label[p];
        let mut visit = |q: usize, label: &mut [u8], heap: &mut Heap| {
            if label[q] != 0 {
                return;
            }
            age += 1;
            label[q] = id;
            heap.push(Item {
                bits: grad[q].max(val).to_bits(),
                age,
                pixel: q as u32,
            });
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
