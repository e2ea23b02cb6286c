//! Matrix products and row sweeps on plain `f32` buffers, for the CPU passes over plain
//! buffers ([`super::infer`], [`super::traced`], [`super::grads`]).
//!
//! [`matmul`] sends one product straight to gemm's kernel on the calling thread.
//! [`par_product`] splits a product's output columns over the CPU's threads: each thread packs
//! its own part of the right-hand matrix (a weight) and the (small) left-hand one, and writes
//! its own columns of the output, so a single image's 197-row products use every core without
//! a reduction.

use rayon::prelude::*;

/// A matrix view: element `(r, c)` at `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A contiguous row-major `rows × cols` matrix.
    pub fn dense(data: &'a [f32], rows: usize, cols: usize) -> Self {
        View {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// Columns `start..start + len`.
    pub fn cols(self, start: usize, len: usize) -> Self {
        View {
            data: &self.data[start * self.cs..],
            cols: len,
            ..self
        }
    }

    /// Rows `start..start + len`.
    pub fn rows(self, start: usize, len: usize) -> Self {
        View {
            data: &self.data[start * self.rs..],
            rows: len,
            ..self
        }
    }

    /// The transpose (no copy).
    pub fn t(self) -> Self {
        View {
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Whether every element lies in `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < self.data.len()
    }
}

/// Checks the shapes of `dst (+)= a · b`; false when there is nothing to multiply.
fn checked(dst_len: usize, dst_rs: usize, a: &View, b: &View) -> bool {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(k, b.rows, "inner dimensions");
    assert!(a.fits() && b.fits(), "operand out of bounds");
    assert!(
        m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst_len,
        "destination out of bounds"
    );
    m > 0 && n > 0
}

/// gemm's kernel on raw parts, single-threaded: `dst (+)= a · b`, `dst` row-major with row
/// stride `dst_rs`.
///
/// # Safety
/// Every element of `a` and `b` must be readable and the `a.rows × b.cols` elements of `dst`
/// writable, and nothing else may access those destination elements meanwhile.
#[allow(unsafe_code)]
unsafe fn gemm_raw(dst: *mut f32, dst_rs: usize, a: View, b: View, accumulate: bool) {
    // SAFETY: upheld by the caller.
    unsafe {
        gemm::gemm(
            a.rows,
            b.cols,
            a.cols,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// `dst (+)= a · b` into the row-major `dst` with row stride `dst_rs` (columns contiguous):
/// added to what `dst` holds with `accumulate`, else written. Single-threaded.
pub(crate) fn matmul(dst: &mut [f32], dst_rs: usize, a: View, b: View, accumulate: bool) {
    if !checked(dst.len(), dst_rs, &a, &b) {
        return;
    }
    if a.cols == 0 {
        if !accumulate {
            for r in 0..a.rows {
                dst[r * dst_rs..r * dst_rs + b.cols].fill(0.0);
            }
        }
        return;
    }
    // SAFETY: `checked` keeps every element gemm reads inside `a.data` and `b.data` and every
    // element it writes inside `dst`, which is borrowed mutably, so it aliases neither.
    #[allow(unsafe_code)]
    unsafe {
        gemm_raw(dst.as_mut_ptr(), dst_rs, a, b, accumulate)
    };
}

/// A destination pointer shared by the threads of [`par_product`], each writing its own
/// columns.
#[derive(Clone, Copy)]
struct Dst(*mut f32);
// SAFETY: the threads write disjoint columns of the destination (see `par_matmul`).
#[allow(unsafe_code)]
unsafe impl Send for Dst {}
#[allow(unsafe_code)]
unsafe impl Sync for Dst {}

impl Dst {
    /// The pointer `offset` values on (taking `self` whole keeps closures capturing the
    /// `Send` wrapper rather than its raw pointer).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Least multiply-adds per thread before a product is split.
const SPLIT_WORK: usize = 1 << 20;

/// `a · b` into a new row-major buffer `[a.rows, b.cols]`, its columns split over the CPU's
/// threads (in multiples of 16, the kernel's width) when the product is large enough to pay
/// for it. The buffer is not zero-filled first: the product writes every element.
pub(crate) fn par_product(a: View, b: View) -> Vec<f32> {
    let (m, n) = (a.rows, b.cols);
    if a.cols == 0 {
        return vec![0f32; m * n];
    }
    let mut out: Vec<f32> = Vec::with_capacity(m * n);
    let spare = out.spare_capacity_mut();
    let dst = spare.as_mut_ptr().cast::<f32>();
    let len = spare.len();
    // SAFETY: `dst` points at `len >= m * n` writable (uninitialised) values that nothing else
    // references; the product writes every one of the first `m * n` without reading them
    // (`accumulate` false), so they are initialised when the length is set.
    #[allow(unsafe_code)]
    unsafe {
        par_matmul_raw(dst, len, n, a, b);
        out.set_len(m * n);
    }
    out
}

/// `a · b` for row-major `a` `[m, k]` and `b` `[k, n]`, as the CPU passes compute a layer's
/// product (see [`par_product`]); public so that benchmarks can time the products alone.
///
/// # Panics
/// When `a` or `b` is shorter than its shape.
pub fn dense_product(a: &[f32], m: usize, k: usize, b: &[f32], n: usize) -> Vec<f32> {
    par_product(View::dense(a, m, k), View::dense(b, k, n))
}

/// `dst = a · b` (row stride `dst_rs`) into `dst_len` values at `dst`, the columns split over
/// the threads.
///
/// # Safety
/// `dst` must be valid for writes of `dst_len` values, which nothing else accesses meanwhile.
#[allow(unsafe_code)]
unsafe fn par_matmul_raw(dst: *mut f32, dst_len: usize, dst_rs: usize, a: View, b: View) {
    if !checked(dst_len, dst_rs, &a, &b) {
        return;
    }
    let (m, k, n) = (a.rows, a.cols, b.cols);
    let threads = rayon::current_num_threads()
        .min(m * k * n / SPLIT_WORK)
        .min(n / 16)
        .max(1);
    let per = n.div_ceil(threads).div_ceil(16) * 16;
    let out = Dst(dst);
    (0..n.div_ceil(per)).into_par_iter().for_each(|part| {
        let c0 = part * per;
        let len = per.min(n - c0);
        // SAFETY: `checked` keeps every element read inside `a.data` and `b.data` and every
        // element written (columns `c0..c0 + len` of rows `0..m`) inside the destination the
        // caller gives; the parts' column ranges are disjoint.
        unsafe { gemm_raw(out.at(c0), dst_rs, a, b.cols(c0, len), false) };
    });
}

/// `f` on blocks of whole rows (`width` values each) of `x`, over the CPU's threads when there
/// are enough rows; `f(first_row, rows)`.
pub(crate) fn par_row_blocks<F>(x: &mut [f32], width: usize, f: F)
where
    F: Fn(usize, &mut [f32]) + Send + Sync,
{
    let rows = x.len() / width.max(1);
    let threads = rayon::current_num_threads().clamp(1, rows.max(1));
    if threads < 2 || x.len() < 1 << 14 {
        return f(0, x);
    }
    let per = rows.div_ceil(threads);
    x.par_chunks_mut(per * width)
        .enumerate()
        .for_each(|(i, block)| f(i * per, block));
}

/// The patches of `b` CHW images (`c` planes of `h × w`, patch `p`) as rows `[b · patches,
/// c · p²]`, patches row-major, each in the convolution weight's order (plane, kernel row,
/// column): the whole unfolding of a convolution whose stride is its kernel.
pub(crate) fn patch_rows(input: &[f32], [b, c, h, w]: [usize; 4], p: usize) -> Vec<f32> {
    let (gh, gw) = (h / p, w / p);
    let mut cols = Vec::with_capacity(b * gh * gw * c * p * p);
    for img in input.chunks_exact(c * h * w).take(b) {
        for i in 0..gh {
            for j in 0..gw {
                for plane in img.chunks_exact(h * w) {
                    for u in 0..p {
                        let at = (i * p + u) * w + j * p;
                        cols.extend_from_slice(&plane[at..at + p]);
                    }
                }
            }
        }
    }
    cols
}

/// Adds `bias` to each row of `x`.
pub(crate) fn add_rows(x: &mut [f32], bias: &[f32]) {
    for row in x.chunks_exact_mut(bias.len()) {
        for (v, &b) in row.iter_mut().zip(bias) {
            *v += b;
        }
    }
}

/// `x += γ ⊙ (y + bias)` on rows of `d` values (`γ` absent: 1), the residual update of a
/// branch whose product without bias is `y`.
pub(crate) fn residual(
    x: &mut [f32],
    y: &[f32],
    d: usize,
    bias: Option<&[f32]>,
    gamma: Option<&[f32]>,
) {
    for (xr, yr) in x.chunks_exact_mut(d).zip(y.chunks_exact(d)) {
        for (c, (xv, &yv)) in xr.iter_mut().zip(yr).enumerate() {
            let v = yv + bias.map_or(0.0, |b| b[c]);
            *xv += gamma.map_or(v, |g| g[c] * v);
        }
    }
}
