//! A walk over every element header of a DICOM file before dicom-rs reads it: each declared
//! length must fit in the bytes that follow (dicom-rs allocates what a header declares, so a
//! 39 KB file declaring a 2 GB element would take 2 GB), nesting is bounded, and the RLE
//! segment tables of encapsulated frames point inside their fragments.
//!
//! The walk follows PS3.5 §7: explicit VR little endian for the file meta group; the data set in
//! its transfer syntax (implicit VR little endian, explicit VR big endian, or explicit VR little
//! endian for every other syntax except deflate, whose data set is compressed and not walked).
//! Sequences are entered (a defined-length one is bounded by its length), an undefined-length UN
//! element holds implicit VR items (CP-246), encapsulated pixel data is a list of fragments.

use crate::error::Invalid;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const MAX_DEPTH: usize = 32;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// What the walk learnt.
#[derive(Debug, Default)]
pub struct Scan {
    /// Transfer syntax UID of the data set.
    pub transfer_syntax: String,
    /// Fragments of encapsulated pixel data (without the basic offset table), as byte ranges.
    pub fragments: Vec<std::ops::Range<usize>>,
}

#[derive(Clone, Copy)]
struct Encoding {
    explicit: bool,
    big: bool,
}

/// An element header: tag, value representation (when explicit or known), length.
type Header = ((u16, u16), Option<VR>, u32);

struct Walker<'a> {
    b: &'a [u8],
    pos: usize,
    scan: Scan,
}

fn tag_name(t: (u16, u16)) -> String {
    format!("({:04X},{:04X})", t.0, t.1)
}

impl Walker<'_> {
    fn take(&mut self, n: usize, what: &str) -> Result<&[u8], Invalid> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| {
                Invalid::from(format!(
                    "truncated: {what} at byte {} runs past the end",
                    self.pos
                ))
            })?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u16(&mut self, enc: Encoding) -> Result<u16, Invalid> {
        let s = self.take(2, "an element header")?;
        let a = [s[0], s[1]];
        Ok(if enc.big {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }

    fn u32(&mut self, enc: Encoding) -> Result<u32, Invalid> {
        let s = self.take(4, "an element header")?;
        let a = [s[0], s[1], s[2], s[3]];
        Ok(if enc.big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn tag(&mut self, enc: Encoding) -> Result<(u16, u16), Invalid> {
        Ok((self.u16(enc)?, self.u16(enc)?))
    }

    /// Checks that `len` bytes remain before `end`.
    fn fits(&self, tag: (u16, u16), len: u32, end: usize) -> Result<(), Invalid> {
        let left = end.saturating_sub(self.pos);
        if len as usize > left {
            return Err(Invalid::from(format!(
                "element {} declares {len} bytes but only {left} remain in its {}",
                tag_name(tag),
                if end == self.b.len() {
                    "file"
                } else {
                    "enclosing item or sequence"
                }
            )));
        }
        Ok(())
    }

    /// Reads an element header: tag, VR (if explicit or known) and length.
    fn header(&mut self, enc: Encoding) -> Result<Header, Invalid> {
        let tag = self.tag(enc)?;
        if tag.0 == 0xFFFE {
            return Ok((tag, None, self.u32(enc)?));
        }
        if enc.explicit {
            let vr_bytes = self.take(2, "a value representation")?;
            let vr_bytes = [vr_bytes[0], vr_bytes[1]];
            let vr = VR::from_binary(vr_bytes).ok_or_else(|| {
                format!(
                    "element {} has an invalid value representation {:?}",
                    tag_name(tag),
                    String::from_utf8_lossy(&vr_bytes)
                )
            })?;
            use VR::*;
            let long = matches!(
                vr,
                OB | OD | OF | OL | OV | OW | SQ | SV | UC | UN | UR | UT | UV
            );
            let len = if long {
                self.take(2, "an element header")?;
                self.u32(enc)?
            } else {
                self.u16(enc)? as u32
            };
            Ok((tag, Some(vr), len))
        } else {
            let len = self.u32(enc)?;
            let vr = StandardDataDictionary
                .by_tag(Tag(tag.0, tag.1))
                .map(|e| e.vr().relaxed());
            Ok((tag, vr, len))
        }
    }

    /// Walks a data set up to `end` (or, with `end == None`, up to an item delimiter or the end of
    /// the file).
    fn dataset(&mut self, end: Option<usize>, enc: Encoding, depth: usize) -> Result<(), Invalid> {
        if depth > MAX_DEPTH {
            return Err(Invalid::from(format!(
                "sequences nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let bound = end.unwrap_or(self.b.len());
        while self.pos < bound {
            let (tag, vr, len) = self.header(enc)?;
            if tag == ITEM_END || tag == SEQ_END {
                if end.is_none() {
                    return Ok(());
                }
                return Err(Invalid::from(format!(
                    "unexpected delimiter {} at byte {}",
                    tag_name(tag),
                    self.pos - 8
                )));
            }
            if tag.0 == 0xFFFE {
                return Err(Invalid::from(format!(
                    "unexpected item tag {} at byte {}",
                    tag_name(tag),
                    self.pos - 8
                )));
            }
            let is_seq = vr == Some(VR::SQ);
            if len == UNDEFINED {
                if tag == PIXEL_DATA && !is_seq {
                    self.fragments(enc)?;
                } else if is_seq {
                    self.sequence(None, enc, depth)?;
                } else if vr == Some(VR::UN) || vr.is_none() {
                    // CP-246: an undefined-length UN is a sequence in implicit VR little endian.
                    let inner = Encoding {
                        explicit: false,
                        big: false,
                    };
                    self.sequence(None, inner, depth)?;
                } else {
                    return Err(Invalid::from(format!(
                        "element {} has an undefined length but is not a sequence",
                        tag_name(tag)
                    )));
                }
                continue;
            }
            self.fits(tag, len, bound)?;
            if is_seq {
                let end = self.pos + len as usize;
                self.sequence(Some(end), enc, depth)?;
                self.pos = end;
            } else {
                self.pos += len as usize;
            }
        }
        if let Some(e) = end
            && self.pos != e
        {
            return Err(Invalid::from(format!(
                "an item overruns its declared end at byte {e}"
            )));
        }
        Ok(())
    }

    fn sequence(&mut self, end: Option<usize>, enc: Encoding, depth: usize) -> Result<(), Invalid> {
        let bound = end.unwrap_or(self.b.len());
        while self.pos < bound {
            let tag = self.tag(enc)?;
            let len = self.u32(enc)?;
            match tag {
                SEQ_END if end.is_none() => return Ok(()),
                ITEM if len == UNDEFINED => self.dataset(None, enc, depth + 1)?,
                ITEM => {
                    self.fits(tag, len, bound)?;
                    let item_end = self.pos + len as usize;
                    self.dataset(Some(item_end), enc, depth + 1)?;
                }
                other => {
                    return Err(Invalid::from(format!(
                        "a sequence holds {} where an item was expected",
                        tag_name(other)
                    )));
                }
            }
        }
        if end.is_none() {
            return Err(Invalid::from(
                "truncated: a sequence has no delimiter before the end of the file",
            ));
        }
        Ok(())
    }

    fn fragments(&mut self, enc: Encoding) -> Result<(), Invalid> {
        let mut first = true;
        loop {
            let tag = self.tag(enc)?;
            let len = self.u32(enc)?;
            match tag {
                SEQ_END => return Ok(()),
                ITEM if len != UNDEFINED => {
                    self.fits(tag, len, self.b.len())?;
                    let range = self.pos..self.pos + len as usize;
                    self.pos = range.end;
                    if !first {
                        self.scan.fragments.push(range);
                    }
                    first = false;
                }
                other => {
                    return Err(Invalid::from(format!(
                        "encapsulated pixel data holds {} where a fragment was expected",
                        tag_name(other)
                    )));
                }
            }
        }
    }
}

/// Where the file meta group starts: after the 128-byte preamble and `DICM`, or after a `DICM`
/// at byte 0 (files written without the preamble).
pub fn meta_start(bytes: &[u8]) -> Option<usize> {
    if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        Some(132)
    } else if bytes.starts_with(b"DICM") {
        Some(4)
    } else {
        None
    }
}

/// Walks the file's bytes (preamble, `DICM`, meta group, data set).
pub fn scan(bytes: &[u8]) -> Result<Scan, Invalid> {
    let Some(start) = meta_start(bytes) else {
        return Err(Invalid::from(
            "not a DICOM file: no 'DICM' marker at byte 128 (or 0)",
        ));
    };
    let mut w = Walker {
        b: bytes,
        pos: start,
        scan: Scan::default(),
    };
    let meta = Encoding {
        explicit: true,
        big: false,
    };
    // The meta group: explicit VR little endian, group 0002.
    while w.pos + 4 <= bytes.len() && u16::from_le_bytes([bytes[w.pos], bytes[w.pos + 1]]) == 2 {
        let (tag, _, len) = w.header(meta)?;
        if len == UNDEFINED {
            return Err(Invalid::from(format!(
                "meta element {} has no length",
                tag_name(tag)
            )));
        }
        w.fits(tag, len, bytes.len())?;
        let value = &bytes[w.pos..w.pos + len as usize];
        if tag == (0x0002, 0x0010) {
            w.scan.transfer_syntax = String::from_utf8_lossy(value)
                .trim_end_matches(['\0', ' '])
                .to_string();
        }
        w.pos += len as usize;
    }
    if w.scan.transfer_syntax.is_empty() {
        return Err(Invalid::from(
            "the file meta group names no transfer syntax (0002,0010)",
        ));
    }
    let enc = match w.scan.transfer_syntax.as_str() {
        "1.2.840.10008.1.2" => Encoding {
            explicit: false,
            big: false,
        },
        "1.2.840.10008.1.2.2" => Encoding {
            explicit: true,
            big: true,
        },
        // Deflated: the data set is compressed; dicom-rs inflates it.
        "1.2.840.10008.1.2.1.99" => return Ok(w.scan),
        _ => meta,
    };
    let start = w.pos;
    match w.dataset(None, enc, 0) {
        Err(e) if enc.explicit && !enc.big && e.0.contains("invalid value representation") => {
            // Some writers declare an explicit VR syntax but encode the data set in implicit VR
            // (readers such as pydicom detect it); walk it that way before giving up.
            w.pos = start;
            w.scan.fragments.clear();
            let implicit = Encoding {
                explicit: false,
                big: false,
            };
            w.dataset(None, implicit, 0).map_err(|_| e)?;
        }
        other => other?,
    }
    Ok(w.scan)
}

/// Checks the RLE header of each frame fragment (PS3.5 Annex G): 1 to 15 segments, the first at
/// byte 64, increasing offsets inside the fragment, and `expected_segments` of them.
pub fn check_rle(
    bytes: &[u8],
    scan: &Scan,
    frames: u64,
    expected_segments: u32,
) -> Result<(), Invalid> {
    if (scan.fragments.len() as u64) < frames {
        return Err(Invalid::from(format!(
            "RLE pixel data has {} fragment(s) for {frames} frame(s)",
            scan.fragments.len()
        )));
    }
    for (i, r) in scan.fragments.iter().take(frames as usize).enumerate() {
        let f = &bytes[r.clone()];
        if f.len() < 64 {
            return Err(Invalid::from(format!(
                "RLE frame {i}: fragment of {} bytes is shorter than its 64-byte header",
                f.len()
            )));
        }
        let word =
            |k: usize| u32::from_le_bytes([f[4 * k], f[4 * k + 1], f[4 * k + 2], f[4 * k + 3]]);
        let n = word(0);
        if n != expected_segments {
            return Err(Invalid::from(format!(
                "RLE frame {i}: header declares {n} segments, the image needs {expected_segments}"
            )));
        }
        let mut prev = 63u32;
        for k in 1..=n as usize {
            let off = word(k);
            if off <= prev || off as usize >= f.len() {
                return Err(Invalid::from(format!(
                    "RLE frame {i}: segment {k} starts at byte {off}, outside its {}-byte fragment",
                    f.len()
                )));
            }
            prev = off;
        }
    }
    Ok(())
}
