//! What an image *is*, whatever its file is called or wherever it lies: the SOP Instance UID of a
//! DICOM instance (with the frame, for a frame of a multi-frame instance), else the SHA-256 of
//! the file's bytes. Stored with every image entry; checked at every open, so that annotations
//! never land on another image after a file was replaced, edited or renumbered.
//!
//! UIDs that become file names (PACS instances) must pass [`valid_uid`]: digits and dots,
//! components without leading zeros, at most 64 characters (PS3.5 §9.1).

use crate::error::Invalid;
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The identity of an image entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Identity {
    /// A DICOM instance: its SOP Instance UID and the frame (0-based; 0 for a single frame).
    Dicom {
        /// SOP Instance UID.
        uid: String,
        /// Frame of the instance.
        frame: u32,
    },
    /// Any other file: the SHA-256 of its bytes, 64 lowercase hex digits.
    Sha256(String),
}

impl Identity {
    /// The identity as one token for `manifest.csv` and messages: `dicom:<uid>` or
    /// `sha256:<hex>` (the frame is a column of its own).
    pub fn token(&self) -> String {
        match self {
            Identity::Dicom { uid, .. } => format!("dicom:{uid}"),
            Identity::Sha256(h) => format!("sha256:{h}"),
        }
    }

    /// The frame (0 for a non-DICOM file).
    pub fn frame(&self) -> u32 {
        match self {
            Identity::Dicom { frame, .. } => *frame,
            Identity::Sha256(_) => 0,
        }
    }

    /// Parses [`Identity::token`] and a frame back.
    pub fn from_token(token: &str, frame: u32) -> Result<Identity, Invalid> {
        if let Some(uid) = token.strip_prefix("dicom:") {
            valid_uid(uid)?;
            Ok(Identity::Dicom {
                uid: uid.to_string(),
                frame,
            })
        } else if let Some(h) = token.strip_prefix("sha256:") {
            if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Identity::Sha256(h.to_ascii_lowercase()))
            } else {
                Err(Invalid::from(format!(
                    "'{token}' is not a SHA-256 identity"
                )))
            }
        } else {
            Err(Invalid::from(format!(
                "'{token}' is not an identity (dicom:<UID> or sha256:<hex>)"
            )))
        }
    }

    /// The identity hash: the SHA-256 of a file, or of `<uid>` (`<uid>#<frame>` for a frame
    /// other than 0) for DICOM, in lowercase hex.
    pub fn hash_hex(&self) -> String {
        match self {
            Identity::Sha256(h) => h.clone(),
            Identity::Dicom { uid, frame: 0 } => hex(&Sha256::digest(uid.as_bytes())),
            Identity::Dicom { uid, frame } => hex(&Sha256::digest(format!("{uid}#{frame}"))),
        }
    }

    /// The first 8 hex digits of [`Identity::hash_hex`]: what tells two images of one stem
    /// apart in export names.
    pub fn short(&self) -> String {
        self.hash_hex()[..8].to_string()
    }

    /// A human description: `SOP Instance 1.2.3 frame 2`, `SHA-256 ab12cd34…`.
    pub fn describe(&self) -> String {
        match self {
            Identity::Dicom { uid, frame: 0 } => format!("SOP Instance {uid}"),
            Identity::Dicom { uid, frame } => format!("SOP Instance {uid} frame {frame}"),
            Identity::Sha256(h) => format!("SHA-256 {}…", &h[..12.min(h.len())]),
        }
    }
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, streamed (no size limit: nothing is kept in memory).
pub fn sha256_file(path: &Path) -> Result<String, crate::error::Cause> {
    let (mut f, _) = crate::io::guard::open_regular(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The identity of `path` shown at `frame`: a DICOM file's SOP Instance UID (the frame must
/// exist), else the SHA-256 of its bytes.
pub fn of_file(path: &Path, frame: u32) -> Result<Identity, crate::error::Cause> {
    if crate::io::dicom::is_dicom(path) {
        let u = crate::io::dicom::instance_uids(path)?;
        if frame >= u.frames {
            return Err(Invalid::from(format!(
                "{}: frame {frame} requested but the instance has {} frame(s)",
                path.display(),
                u.frames
            ))
            .into());
        }
        Ok(Identity::Dicom {
            uid: u.sop_instance,
            frame,
        })
    } else {
        sha256_file(path)
            .map(Identity::Sha256)
            .map_err(|e| format!("{}: {e}", path.display()).into())
    }
}

/// The Secondary Capture UIDs (study, series, instance) of a non-DICOM image, derived from its
/// identity: exporting it again gives the same object, and a SEG of it finds the image on import.
pub fn capture_uids(identity: &Identity) -> [String; 3] {
    ["study", "series", "instance"].map(|what| {
        let d = Sha256::digest(format!("vitscope-capture-{what}-{}", identity.hash_hex()));
        let mut first = [0u8; 16];
        first.copy_from_slice(&d[..16]);
        format!("2.25.{}", u128::from_be_bytes(first))
    })
}

/// Checks a DICOM UID that is about to become part of a file name: 1 to 64 characters, digits
/// and dots, no empty component, no component with a leading zero.
pub fn valid_uid(uid: &str) -> Result<(), Invalid> {
    let bad = |why: &str| {
        Err(Invalid::from(format!(
            "'{}' is not a valid UID: {why}",
            printable(uid)
        )))
    };
    if uid.is_empty() || uid.len() > 64 {
        return bad("a UID has 1 to 64 characters");
    }
    if !uid.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return bad("only digits and dots are allowed");
    }
    for c in uid.split('.') {
        if c.is_empty() {
            return bad("a component is empty");
        }
        if c.len() > 1 && c.starts_with('0') {
            return bad("a component has a leading zero");
        }
    }
    Ok(())
}

/// At most 80 characters of `s` with control characters escaped (for messages about
/// untrusted text).
pub fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(80).flat_map(char::escape_debug).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

/// What the check at open found for one image entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageCheck {
    /// The file has the entry's identity.
    Ok,
    /// The file is gone or unreadable.
    Missing(String),
    /// The file is another image: "image changed on disk".
    Changed {
        /// The identity the file has now.
        found: Identity,
    },
}

impl ImageCheck {
    /// Whether the entry's annotations may be shown on, scored against and exported with the
    /// file.
    pub fn is_ok(&self) -> bool {
        matches!(self, ImageCheck::Ok)
    }

    /// One line for the user (`None` when the image is fine).
    pub fn problem(&self) -> Option<String> {
        match self {
            ImageCheck::Ok => None,
            ImageCheck::Missing(m) => Some(format!("image missing or unreadable: {m}")),
            ImageCheck::Changed { found } => Some(format!(
                "image changed on disk: the file is now {}; its annotations are kept but not shown, scored or exported until it is relinked or accepted",
                found.describe()
            )),
        }
    }
}

/// Checks one entry's file against its identity (`None`: it has none yet, and gets the file's).
pub fn check(path: &Path, frame: u32, want: Option<&Identity>) -> (ImageCheck, Option<Identity>) {
    match of_file(path, frame) {
        Err(e) => (ImageCheck::Missing(e.to_string()), None),
        Ok(found) => match want {
            None => (ImageCheck::Ok, Some(found)),
            Some(w) if *w == found => (ImageCheck::Ok, Some(found)),
            Some(_) => (ImageCheck::Changed { found }, None),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_validated_as_ps3_5_says() {
        for ok in ["1.2.840.10008.1.2", "0.1", "2.25.0", "1"] {
            assert!(valid_uid(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "1..2",
            "1.02",
            ".1",
            "1.",
            "/etc/passwd",
            "1.2 ",
            &"1".repeat(65),
        ] {
            assert!(valid_uid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_round_trip_and_short_hashes_are_the_hash_prefix() {
        let d = Identity::Dicom {
            uid: "1.2.3".into(),
            frame: 2,
        };
        assert_eq!(Identity::from_token(&d.token(), 2).unwrap(), d);
        // SHA-256 of "1.2.3#2" and of "1.2.3", from coreutils' sha256sum.
        assert_eq!(
            d.hash_hex(),
            "398d71405471b783de03131ed1f73b55d0c190636facce6e0629c195544189b3"
        );
        let d0 = Identity::Dicom {
            uid: "1.2.3".into(),
            frame: 0,
        };
        assert_eq!(d0.short(), "c47f5b18");
        let s = Identity::Sha256("ab".repeat(32));
        assert_eq!(Identity::from_token(&s.token(), 0).unwrap(), s);
        assert_eq!(s.short(), "abababab");
        assert!(Identity::from_token("md5:00", 0).is_err());
    }
}
