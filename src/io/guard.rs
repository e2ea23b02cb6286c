//! What every reader checks before it trusts a file: that the path is a regular file of bounded
//! size, that declared sizes fit the pixel limit and the memory budget (with overflow-checked
//! arithmetic), and that a panic inside a third-party decoder comes back as an error instead of
//! ending the process.
//!
//! The pixel limit is process-wide: [`DEFAULT_MAX_PIXELS`] (8192 × 8192) unless `--max-pixels`
//! sets another. Decoded buffers may take [`BYTES_PER_PIXEL`] bytes per pixel of the limit, so
//! the default budget is 2 GiB.

use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Default pixel limit: 2^26 pixels (8192 × 8192); decoded with its copies (~24 bytes per pixel
/// for a 16-bit RGB image on its way to f32 planes) that stays under 2 GiB.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// Bytes of decoded buffers allowed per pixel of the limit.
pub const BYTES_PER_PIXEL: u64 = 32;

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXELS);

/// Sets the pixel limit of every decode path (`--max-pixels`).
pub fn set_max_pixels(n: u64) {
    MAX_PIXELS.store(n.max(1), Ordering::Relaxed);
}

/// The pixel limit of every decode path.
pub fn max_pixels() -> u64 {
    MAX_PIXELS.load(Ordering::Relaxed)
}

/// The byte budget of one decoded buffer: [`BYTES_PER_PIXEL`] per pixel of the limit.
pub fn max_alloc() -> u64 {
    max_pixels().saturating_mul(BYTES_PER_PIXEL)
}

/// What a guard refuses, without the file's name (the reader that called it adds the name).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// A zero extent.
    #[error("declares a {width}×{height} image: no pixels")]
    NoPixels {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
    },
    /// More pixels than the limit (`pixels` is `None` when the product overflows 64 bits).
    #[error(
        "declares a {width}×{height} image ({}), above the limit of {limit} pixels (raise it with --max-pixels)",
        pixels.map(|n| format!("{n} pixels")).unwrap_or_else(|| "more than 2^64 pixels".into())
    )]
    TooManyPixels {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
        /// Their product, if it fits 64 bits.
        pixels: Option<u64>,
        /// The pixel limit.
        limit: u64,
    },
    /// A product of extents that overflows 64 bits.
    #[error("{what} {dims:?}: the size overflows")]
    Overflow {
        /// What the extents are.
        what: String,
        /// The extents.
        dims: Vec<u64>,
    },
    /// A buffer above the memory budget.
    #[error("{what} needs {} MiB, above the budget of {} MiB (raise it with --max-pixels)", bytes >> 20, budget >> 20)]
    OverBudget {
        /// What the buffer is for.
        what: String,
        /// Its size.
        bytes: u64,
        /// The budget.
        budget: u64,
    },
    /// A folder where a file was expected.
    #[error("is a folder, not a file")]
    Folder,
    /// A device, pipe or socket.
    #[error("is not a regular file (a device, pipe or socket)")]
    NotRegular,
    /// A file above the reader's size limit.
    #[error("is {} MiB, above the {} MiB this reader accepts", len >> 20, max >> 20)]
    TooLarge {
        /// Its size.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A file that grew past the limit while it was read.
    #[error("grew above {} MiB while read", max >> 20)]
    Grew {
        /// The limit.
        max: u64,
    },
    /// Text that is not UTF-8.
    #[error("is not UTF-8 text: {0}")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// A third-party decoder panicked.
    #[error("the decoder failed ({0})")]
    Panicked(String),
    /// A NaN or infinity.
    #[error(
        "{what} holds a non-finite value ({value} at index {index}; {count} of {len} are not finite)"
    )]
    NonFinite {
        /// What the values are.
        what: String,
        /// The first non-finite value.
        value: f32,
        /// Its index.
        index: usize,
        /// How many are not finite.
        count: usize,
        /// How many values there are.
        len: usize,
    },
    /// The operating system's error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<Refused> for crate::error::Invalid {
    fn from(r: Refused) -> Self {
        crate::error::Invalid(r.to_string())
    }
}

/// Checks declared image dimensions: both at least 1 and their product within the pixel limit.
pub fn check_dimensions(width: u64, height: u64) -> Result<(), Refused> {
    if width == 0 || height == 0 {
        return Err(Refused::NoPixels { width, height });
    }
    let limit = max_pixels();
    match width.checked_mul(height) {
        Some(n) if n <= limit => Ok(()),
        pixels => Err(Refused::TooManyPixels {
            width,
            height,
            pixels,
            limit,
        }),
    }
}

/// Product of declared extents with overflow checks; `what` names them in the error.
pub fn checked_product(dims: &[u64], what: &str) -> Result<u64, Refused> {
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Refused::Overflow {
            what: what.into(),
            dims: dims.to_vec(),
        })
}

/// Checks that `bytes` fit the memory budget of one buffer.
pub fn check_alloc(bytes: u64, what: &str) -> Result<(), Refused> {
    let budget = max_alloc();
    if bytes > budget {
        return Err(Refused::OverBudget {
            what: what.into(),
            bytes,
            budget,
        });
    }
    Ok(())
}

/// Opens `path` for reading if it is a regular file (a folder, a device such as /dev/zero or a
/// pipe is refused), and returns it with its size.
pub fn open_regular(path: &Path) -> Result<(std::fs::File, u64), Refused> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(Refused::Folder);
    }
    if !meta.is_file() {
        return Err(Refused::NotRegular);
    }
    let f = std::fs::File::open(path)?;
    Ok((f, meta.len()))
}

/// Reads a whole regular file of at most `max_bytes` bytes.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Refused> {
    let (f, len) = open_regular(path)?;
    if len > max_bytes {
        return Err(Refused::TooLarge {
            len,
            max: max_bytes,
        });
    }
    let mut out = Vec::with_capacity(len as usize);
    f.take(max_bytes.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > max_bytes {
        return Err(Refused::Grew { max: max_bytes });
    }
    Ok(out)
}

/// Reads a text file (project, CSV, JSON config) of at most 256 MiB as UTF-8.
pub fn read_text(path: &Path) -> Result<String, Refused> {
    let bytes = read_bounded(path, 256 << 20)?;
    String::from_utf8(bytes).map_err(Refused::NotUtf8)
}

thread_local! {
    static QUIET: Cell<u32> = const { Cell::new(0) };
}

static HOOK: std::sync::Once = std::sync::Once::new();

/// Runs `f`, turning a panic inside it into `Err` with the panic's message. The panic hook stays
/// silent for panics caught here (on this thread only); every other panic is reported as before.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, Refused> {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) == 0 {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(q.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(q.get() - 1));
    result.map_err(|payload| {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".into());
        Refused::Panicked(msg)
    })
}

/// Checks that every value is finite; `what` names the values in the error.
pub fn check_finite(values: &[f32], what: &str) -> Result<(), Refused> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(Refused::NonFinite {
            what: what.into(),
            value: values[index],
            index,
            count: values.iter().filter(|v| !v.is_finite()).count(),
            len: values.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_without_overflow() {
        assert!(check_dimensions(0, 10).is_err());
        assert!(check_dimensions(100_000, 100_000).is_err());
        assert!(check_dimensions(u64::MAX, u64::MAX).is_err());
        assert!(check_dimensions(4096, 4096).is_ok());
        assert!(checked_product(&[u64::MAX, 2], "shape").is_err());
        assert_eq!(checked_product(&[3, 4, 5], "shape").unwrap(), 60);
    }

    #[test]
    fn a_panic_becomes_an_error() {
        let r: Result<(), Refused> = catch_panic(|| panic!("boom"));
        assert!(r.unwrap_err().to_string().contains("boom"));
        assert_eq!(catch_panic(|| 7).unwrap(), 7);
    }

    #[test]
    fn devices_and_folders_are_not_files() {
        assert!(open_regular(Path::new("/dev/zero")).is_err());
        assert!(
            read_bounded(Path::new("/"), 10)
                .unwrap_err()
                .to_string()
                .contains("folder")
        );
    }
}
