//! The Effects section's computations, off the UI thread: reading an image's values as
//! `vitscope mask` reads them, and computing an effect's result with the colours that show it
//! over the image. One job of each kind runs at a time; the UI polls each frame and asks for a
//! new one once the settings or the mask have moved on, so a slow effect (grow from seeds on a
//! large image) never holds a frame.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use crate::assist::{self, Grid, Inputs, Op};

/// The effects offered here, in menu order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectKind {
    /// Threshold (and paint within the range).
    Threshold,
    /// Islands.
    Islands,
    /// Margin.
    Margin,
    /// Smoothing.
    Smoothing,
    /// Fill holes.
    FillHoles,
    /// Grow from seeds.
    Grow,
    /// Scissors.
    Scissors,
    /// Map → mask.
    FromMap,
}

impl EffectKind {
    /// Every effect, in menu order.
    pub const ALL: [EffectKind; 8] = [
        EffectKind::Threshold,
        EffectKind::Islands,
        EffectKind::Margin,
        EffectKind::Smoothing,
        EffectKind::FillHoles,
        EffectKind::Grow,
        EffectKind::Scissors,
        EffectKind::FromMap,
    ];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            EffectKind::Threshold => "Threshold",
            EffectKind::Islands => "Islands",
            EffectKind::Margin => "Margin",
            EffectKind::Smoothing => "Smoothing",
            EffectKind::FillHoles => "Fill holes",
            EffectKind::Grow => "Grow from seeds",
            EffectKind::Scissors => "Scissors",
            EffectKind::FromMap => "Map to mask",
        }
    }
}

/// An effect on the whole class-id mask.
#[derive(Debug, Clone)]
pub enum EffectOp {
    /// One of the ops of [`crate::assist`] on the selected class.
    Assist(Op),
    /// Grow from seeds: every id in the mask is a seed; `background`'s grown area is left 0.
    Grow {
        /// The class whose seeds mark the background, if any.
        background: Option<u8>,
    },
}

/// What a preview needs: everything is owned, so it runs on another thread.
pub struct PreviewInput {
    /// The effect.
    pub op: EffectOp,
    /// The class-id mask now.
    pub mask: Vec<u8>,
    /// The selected class.
    pub class: u8,
    /// The image's values (README "Image value v").
    pub values: Arc<Vec<f64>>,
    /// (row mm, column mm).
    pub spacing: (f64, f64),
    /// The grid.
    pub grid: Grid,
    /// Colour of each class id 1.. (index id − 1).
    pub colors: Vec<[u8; 3]>,
}

/// An effect's result.
pub struct Preview {
    /// The mask after it.
    pub after: Vec<u8>,
    /// Pixels that become the class (grow: that change id).
    pub added: usize,
    /// Pixels that stop being the class.
    pub removed: usize,
    /// Unmultiplied RGBA over the image: the resulting region in the class colour, pixels added
    /// in green, pixels removed in red.
    pub overlay: Vec<u8>,
}

const ADDED: [u8; 4] = [60, 230, 90, 150];
const REMOVED: [u8; 4] = [240, 50, 50, 170];

impl PreviewInput {
    /// Runs the effect.
    pub fn compute(&self) -> Result<Preview, String> {
        let g = self.grid;
        if self.mask.len() != g.len() || self.values.len() != g.len() {
            return Err("the mask or the values are not on the image's grid".into());
        }
        let color = |id: u8, a: u8| match self.colors.get(id as usize - 1) {
            Some(c) => [c[0], c[1], c[2], a],
            None => [255, 255, 255, a],
        };
        let mut overlay = vec![0u8; g.len() * 4];
        match &self.op {
            EffectOp::Grow { background } => {
                let mut ids: Vec<u8> = self.mask.iter().copied().filter(|&v| v != 0).collect();
                ids.sort_unstable();
                ids.dedup();
                if ids.len() < 2 {
                    return Err(
                        "paint seed strokes in two or more classes (the brush) to grow from".into(),
                    );
                }
                let mut after = assist::grow::grow(&self.values, &self.mask, g);
                if let Some(b) = background {
                    after.iter_mut().filter(|v| **v == *b).for_each(|v| *v = 0);
                }
                let mut changed = 0;
                for (i, (&a, &b)) in self.mask.iter().zip(&after).enumerate() {
                    changed += (a != b) as usize;
                    if b != 0 {
                        overlay[i * 4..i * 4 + 4].copy_from_slice(&color(b, 120));
                    }
                }
                Ok(Preview {
                    after,
                    added: changed,
                    removed: 0,
                    overlay,
                })
            }
            EffectOp::Assist(op) => {
                let c = self.class.max(1);
                let inp = Inputs {
                    grid: g,
                    values: &self.values,
                    spacing: self.spacing,
                };
                let after = assist::run(op, &self.mask, c, &inp);
                let (mut added, mut removed) = (0, 0);
                let region = color(c, 90);
                for (i, (&a, &b)) in self.mask.iter().zip(&after).enumerate() {
                    let px = if a != c && b == c {
                        added += 1;
                        ADDED
                    } else if a == c && b != c {
                        removed += 1;
                        REMOVED
                    } else if b == c {
                        region
                    } else {
                        continue;
                    };
                    overlay[i * 4..i * 4 + 4].copy_from_slice(&px);
                }
                Ok(Preview {
                    after,
                    added,
                    removed,
                    overlay,
                })
            }
        }
    }
}

/// An image's values as `vitscope mask` reads them.
#[derive(Clone)]
pub struct Values {
    /// The file they are of.
    pub path: PathBuf,
    /// One per pixel.
    pub values: Arc<Vec<f64>>,
    /// (row mm, column mm) when the file gives one.
    pub spacing: Option<(f64, f64)>,
}

/// Reads `path`'s values (first frame of a file only: other frames use `fallback`, the display's
/// values, as does a file that does not read or whose size differs from `grid`).
pub fn read_values(
    path: PathBuf,
    first_frame: bool,
    grid: Grid,
    fallback: Arc<Vec<f32>>,
    fallback_spacing: Option<(f64, f64)>,
) -> Values {
    let read = first_frame
        .then(|| assist::inputs::read_image(&path).ok())
        .flatten()
        .filter(|r| r.grid == grid);
    match read {
        Some(r) => Values {
            path,
            values: Arc::new(r.values),
            spacing: r.spacing,
        },
        None => Values {
            path,
            values: Arc::new(fallback.iter().map(|&v| v as f64).collect()),
            spacing: fallback_spacing,
        },
    }
}

/// One background job: its key and the channel its answer comes on.
pub struct Job<K, T> {
    /// What it computes.
    pub key: K,
    rx: Receiver<T>,
}

impl<K: Clone, T: Send + 'static> Job<K, T> {
    /// Starts `f` on a thread of its own.
    pub fn spawn(key: K, f: impl FnOnce() -> T + Send + 'static) -> Self {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("vitscope-effect".into())
            .spawn(move || {
                let _ = tx.send(f());
            })
            .expect("a thread for the effect");
        Job { key, rx }
    }

    /// `None` while it runs; then its answer, or `Some(None)` when its thread died.
    pub fn poll(&self) -> Option<Option<T>> {
        match self.rx.try_recv() {
            Ok(t) => Some(Some(t)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(op: EffectOp, mask: Vec<u8>) -> PreviewInput {
        let grid = Grid { w: 4, h: 3 };
        PreviewInput {
            op,
            mask,
            class: 1,
            values: Arc::new((0..12).map(|v| v as f64).collect()),
            spacing: (1.0, 1.0),
            grid,
            colors: vec![[200, 0, 0], [0, 0, 200]],
        }
    }

    #[test]
    fn a_threshold_preview_counts_and_colours_added_and_removed_pixels() {
        let mut mask = vec![0u8; 12];
        mask[0] = 1; // out of the range: removed
        mask[5] = 1; // in it: kept
        mask[6] = 2; // another class: untouched
        let p = input(
            EffectOp::Assist(Op::Threshold {
                lo: 4.0,
                hi: 7.0,
                invert: false,
            }),
            mask,
        )
        .compute()
        .unwrap();
        assert_eq!(p.after, [0, 0, 0, 0, 1, 1, 2, 1, 0, 0, 0, 0]);
        assert_eq!((p.added, p.removed), (2, 1));
        assert_eq!(&p.overlay[0..4], &REMOVED);
        assert_eq!(&p.overlay[4 * 4..4 * 4 + 4], &ADDED);
        assert_eq!(&p.overlay[5 * 4..5 * 4 + 4], &[200, 0, 0, 90]);
        assert_eq!(&p.overlay[6 * 4..6 * 4 + 4], &[0, 0, 0, 0]);
        // Inverted: the pixels outside the range.
        let p = input(
            EffectOp::Assist(Op::Threshold {
                lo: 4.0,
                hi: 7.0,
                invert: true,
            }),
            vec![0; 12],
        )
        .compute()
        .unwrap();
        assert_eq!(p.added, 8);
    }

    #[test]
    fn grow_needs_two_seed_classes_and_leaves_the_background_class_unlabelled() {
        let mut mask = vec![0u8; 12];
        mask[0] = 1;
        let e = input(EffectOp::Grow { background: None }, mask.clone()).compute();
        assert!(e.err().unwrap().contains("two or more classes"));
        mask[11] = 2;
        let p = input(EffectOp::Grow { background: None }, mask.clone())
            .compute()
            .unwrap();
        assert!(p.after.iter().all(|&v| v == 1 || v == 2));
        assert_eq!(p.added, 10);
        let q = input(
            EffectOp::Grow {
                background: Some(2),
            },
            mask,
        )
        .compute()
        .unwrap();
        for (a, b) in p.after.iter().zip(&q.after) {
            assert_eq!(*b, if *a == 2 { 0 } else { *a });
        }
    }

    #[test]
    fn a_job_answers_once_done() {
        let j = Job::spawn(7, || 6 * 7);
        let t = std::time::Instant::now();
        loop {
            match j.poll() {
                Some(v) => {
                    assert_eq!(v, Some(42));
                    break;
                }
                None => assert!(t.elapsed().as_secs() < 10, "the job never answered"),
            }
        }
        assert_eq!(j.key, 7);
    }
}
