//! A `multipart/related` reply (RFC 2046) parsed as it arrives: each part's body goes straight to
//! a file of its own, so memory holds one read buffer whatever the size of the study. Limits per
//! part and for the whole reply are checked as bytes come in, and a part that does not begin
//! as a DICOM file (`DICM` at byte 128) is refused as soon as its first 132 bytes are there.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use memchr::memmem;

/// Size limits of one reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest part (one instance), bytes.
    pub part: u64,
    /// Largest reply (one study), bytes.
    pub total: u64,
}

/// What went wrong with a reply.
#[derive(Debug, thiserror::Error)]
pub enum MultipartError {
    /// Reading from the server failed (a timeout included).
    #[error("reading the reply failed: {0}")]
    Read(#[source] std::io::Error),
    /// The body is not the multipart reply it says it is.
    #[error("malformed multipart reply: {0}")]
    Malformed(String),
    /// A part, or the reply, is over its limit.
    #[error("{0}")]
    TooLarge(String),
    /// A part's file could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn malformed(s: impl Into<String>) -> MultipartError {
    MultipartError::Malformed(s.into())
}

/// The boundary a `multipart/…` Content-Type names.
pub fn boundary_of(content_type: &str) -> Result<String, MultipartError> {
    if !content_type.to_ascii_lowercase().starts_with("multipart/") {
        return Err(malformed(format!(
            "Content-Type is '{content_type}', not multipart"
        )));
    }
    content_type
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .filter(|b| !b.is_empty() && b.len() <= 70)
        .ok_or_else(|| malformed("no boundary (of 1 to 70 characters) in the Content-Type"))
}

/// Bytes read at a time.
const CHUNK: usize = 256 << 10;
/// Longest preamble or header block.
const HEAD: usize = 64 << 10;

/// A reader with a window of unconsumed bytes.
struct Window<R> {
    r: R,
    scratch: Vec<u8>,
    buf: Vec<u8>,
    start: usize,
    eof: bool,
    total: u64,
    limit: u64,
}

impl<R: Read> Window<R> {
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Reads one more chunk; false at the end of the body.
    fn more(&mut self) -> Result<bool, MultipartError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let n = loop {
            match self.r.read(&mut self.scratch) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(MultipartError::Read(e)),
            }
        };
        self.buf.extend_from_slice(&self.scratch[..n]);
        self.total += n as u64;
        if self.total > self.limit {
            return Err(MultipartError::TooLarge(format!(
                "the reply is larger than the study limit of {} MB (--max-study)",
                self.limit >> 20
            )));
        }
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// Makes at least `n` bytes available; false if the body ends first.
    fn want(&mut self, n: usize) -> Result<bool, MultipartError> {
        while self.bytes().len() < n {
            if !self.more()? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The position of `needle` in the window, reading on (up to `max` bytes buffered).
    fn find(&mut self, needle: &[u8], max: usize, what: &str) -> Result<usize, MultipartError> {
        let mut from = 0;
        loop {
            if let Some(p) = memmem::find(&self.bytes()[from..], needle) {
                return Ok(from + p);
            }
            from = self.bytes().len().saturating_sub(needle.len() - 1);
            if self.bytes().len() > max {
                return Err(malformed(format!("{what} longer than {} KiB", max >> 10)));
            }
            if !self.more()? {
                return Err(malformed(format!("the body ends inside {what}")));
            }
        }
    }
}

/// Parses the multipart body read from `r` (with `content_type`'s boundary) into
/// `dir/part-0001.dcm`…, each written as it arrives; `done(k, bytes)` is told of each finished
/// part. Returns the files in reply order. On error, files already written stay for the caller
/// to remove (it stages them in a folder of its own).
pub fn write_parts(
    r: impl Read,
    content_type: &str,
    dir: &Path,
    limits: Limits,
    mut done: impl FnMut(usize, u64),
) -> Result<Vec<PathBuf>, MultipartError> {
    let boundary = boundary_of(content_type)?;
    let delim = format!("--{boundary}").into_bytes();
    let next_delim = format!("\r\n--{boundary}").into_bytes();
    let mut w = Window {
        r,
        scratch: vec![0; CHUNK],
        buf: Vec::with_capacity(CHUNK + HEAD),
        start: 0,
        eof: false,
        total: 0,
        limit: limits.total,
    };
    let p = w.find(&delim, HEAD, "the preamble before the first boundary")?;
    w.consume(p);
    let mut files = Vec::new();
    loop {
        // At a delimiter: the closing one, or a part follows.
        if !w.want(delim.len() + 2)? {
            return Err(malformed("the body ends without a closing boundary"));
        }
        let after = &w.bytes()[delim.len()..delim.len() + 2];
        if after == b"--" {
            return Ok(files);
        }
        if after != b"\r\n" {
            return Err(malformed("a boundary is not followed by a line break"));
        }
        w.consume(delim.len() + 2);
        // Headers, up to the blank line (none: the part starts with it).
        w.want(2)?;
        let headers = if w.bytes().starts_with(b"\r\n") {
            w.consume(2);
            String::new()
        } else {
            let end = w.find(b"\r\n\r\n", HEAD, "a part's headers")?;
            let h = std::str::from_utf8(&w.bytes()[..end])
                .map_err(|_| malformed("part headers are not text"))?
                .to_string();
            w.consume(end + 4);
            h
        };
        let k = files.len() + 1;
        let dicom_type = headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-type"))
            .is_none_or(|(_, v)| {
                v.trim()
                    .to_ascii_lowercase()
                    .starts_with("application/dicom")
            });
        if !dicom_type {
            return Err(malformed(format!("part {k} is not a DICOM file")));
        }
        let path = dir.join(format!("part-{k:04}.dcm"));
        let fail = |e| MultipartError::Write {
            path: path.clone(),
            source: e,
        };
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(fail)?);
        files.push(path.clone());
        let mut written = 0u64;
        let mut checked = false;
        loop {
            let (end, found) = match memmem::find(w.bytes(), &next_delim) {
                Some(p) => (p, true),
                // Keep what could be the start of a delimiter for the next read.
                None => (w.bytes().len().saturating_sub(next_delim.len() - 1), false),
            };
            written += end as u64;
            if written > limits.part {
                return Err(MultipartError::TooLarge(format!(
                    "instance {k} of the reply is larger than the instance limit of {} MB (--max-instance)",
                    limits.part >> 20
                )));
            }
            out.write_all(&w.bytes()[..end]).map_err(fail)?;
            w.consume(end);
            if !checked && (written >= 132 || found) {
                out.flush().map_err(fail)?;
                let mut head = [0u8; 132];
                let ok = std::fs::File::open(&path)
                    .and_then(|mut f| f.read_exact(&mut head))
                    .is_ok()
                    && &head[128..132] == b"DICM";
                if !ok {
                    return Err(malformed(format!("part {k} is not a DICOM file")));
                }
                checked = true;
            }
            if found {
                w.consume(2); // the line break before the delimiter belongs to it
                break;
            }
            if !w.more()? {
                return Err(malformed("the body ends without a closing boundary"));
            }
        }
        out.into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .map_err(fail)?;
        done(k, written);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn dicom(tag: u8, len: usize) -> Vec<u8> {
        let mut v = vec![tag; len.max(132)];
        v[128..132].copy_from_slice(b"DICM");
        v
    }

    const CT: &str = "multipart/related; type=\"application/dicom\"; boundary=b1";
    const BIG: Limits = Limits {
        part: 1 << 30,
        total: 1 << 30,
    };

    fn parse(body: &[u8], step: usize, limits: Limits) -> Result<Vec<Vec<u8>>, MultipartError> {
        let dir = tempfile::tempdir().unwrap();
        let files = write_parts(Trickle(body, step), CT, dir.path(), limits, |_, _| {})?;
        Ok(files.iter().map(|f| std::fs::read(f).unwrap()).collect())
    }

    #[test]
    fn parts_come_out_whole_however_the_bytes_arrive() {
        // Bodies holding CR LF and a near-boundary ("\r\n--b" without the 1) must survive.
        let mut a = dicom(7, 300);
        a.extend_from_slice(b"\r\n--b\r\n--b2");
        let b = dicom(9, 600_000);
        let mut body = b"preamble\r\n--b1\r\nContent-Type: application/dicom\r\n\r\n".to_vec();
        body.extend_from_slice(&a);
        body.extend_from_slice(b"\r\n--b1\r\n\r\n");
        body.extend_from_slice(&b);
        body.extend_from_slice(b"\r\n--b1--\r\nepilogue");
        for step in [2, 3, 7, 64, 1 << 20] {
            let parts = parse(&body, step, BIG).unwrap();
            assert_eq!(parts, vec![a.clone(), b.clone()], "step {step}");
        }
    }

    #[test]
    fn malformed_and_oversized_replies_are_refused() {
        let one = |part: &[u8]| {
            let mut body = b"--b1\r\n\r\n".to_vec();
            body.extend_from_slice(part);
            body.extend_from_slice(b"\r\n--b1--\r\n");
            body
        };
        let err = |body: &[u8], limits| parse(body, 5, limits).unwrap_err().to_string();
        assert!(err(&one(b"not dicom"), BIG).contains("not a DICOM file"));
        assert!(err(&one(&dicom(1, 200))[..150], BIG).contains("without a closing boundary"));
        assert!(err(b"no boundary at all", BIG).contains("preamble"));
        assert!(err(b"--b1xx", BIG).contains("line break"));
        let small_part = Limits {
            part: 1000,
            total: 1 << 30,
        };
        assert!(err(&one(&dicom(1, 5000)), small_part).contains("instance limit"));
        let small_total = Limits {
            part: 1 << 30,
            total: 1000,
        };
        assert!(err(&one(&dicom(1, 5000)), small_total).contains("study limit"));
        let dir = tempfile::tempdir().unwrap();
        let e = write_parts(&b""[..], "application/json", dir.path(), BIG, |_, _| {});
        assert!(e.unwrap_err().to_string().contains("not multipart"));
    }
}
