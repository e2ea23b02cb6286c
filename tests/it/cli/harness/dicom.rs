//! DICOM files: edited lengths, value representations, pixel data, frames.

use super::helpers::*;
use super::{Base, Expect, Gen, OUT, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base) {
    use Expect::*;
    let Base { png: _, .. } = b;
    // ---- DICOM ----
    let dicoms = [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "SC_rgb_rle_2frame.dcm",
        "liver_1frame.dcm",
    ];
    for name in dicoms {
        let bytes = std::fs::read(data(&format!("dicom/{name}"))).unwrap();
        let f = g.file(name, &bytes);
        g.add(
            Reader::Dicom,
            format!("{name} converts"),
            Succeed,
            None,
            convert(&f),
        );
        g.add(
            Reader::Dicom,
            format!("{name} explains"),
            Succeed,
            None,
            explain(&f),
        );
        g.add(
            Reader::Dicom,
            format!("{name} frame 99"),
            Fail,
            Some(&f),
            argv(
                "convert {} --frame 99 --out {}",
                &[&f, &format!("{OUT}/o.png")],
            ),
        );
        g.bulk(Reader::Dicom, name, &bytes, Fail, &convert);
        let stem = name.trim_end_matches(".dcm");
        let edited = |g: &mut Gen, what: &str, b: Option<Vec<u8>>, expect: Expect| {
            if let Some(b) = b {
                let f = g.file(&format!("{stem}_{}.dcm", what.replace([' ', '='], "_")), &b);
                g.add(
                    Reader::Dicom,
                    format!("{name} {what}"),
                    expect,
                    Some(&f),
                    convert(&f),
                );
            }
        };
        let us = |v: u16| v.to_le_bytes().to_vec();
        for (tag, label) in [
            ((0x0028, 0x0010), "Rows"),
            ((0x0028, 0x0011), "Columns"),
            ((0x0028, 0x0002), "SamplesPerPixel"),
            ((0x0028, 0x0100), "BitsAllocated"),
            ((0x0028, 0x0101), "BitsStored"),
        ] {
            for v in [0u16, 255, 0xFFFF] {
                edited(
                    g,
                    &format!("{label}={v}"),
                    set_value(&bytes, tag.0, tag.1, &us(v)),
                    Fail,
                );
            }
        }
        edited(
            g,
            "HighBit=255",
            set_value(&bytes, 0x0028, 0x0102, &us(255)),
            Fail,
        );
        edited(
            g,
            "PixelRepresentation=7",
            set_value(&bytes, 0x0028, 0x0103, &us(7)),
            Fail,
        );
        edited(
            g,
            "SamplesPerPixel=2",
            set_value(&bytes, 0x0028, 0x0002, &us(2)),
            Fail,
        );
        for (what, v) in [
            ("RescaleSlope=abc", b"abc".as_slice()),
            ("RescaleSlope=0", b"0"),
            ("RescaleSlope=1e400", b"1e400"),
        ] {
            edited(g, what, set_value(&bytes, 0x0028, 0x1053, v), Fail);
        }
        // Present but empty: the modality values are unknown, not 1 and 0.
        edited(
            g,
            "RescaleSlope empty",
            set_value(&bytes, 0x0028, 0x1053, b""),
            Fail,
        );
        // Photometric interpretations this reader would decode as something else.
        for (what, v) in [
            ("Photometric=RGB", b"RGB".as_slice()),
            ("Photometric=MONOCHROME2", b"MONOCHROME2"),
            ("Photometric=PALETTE COLOR", b"PALETTE COLOR"),
            ("Photometric=FOOBAR", b"FOOBAR"),
        ] {
            // Each word that does not fit the file's sample count (or at all) is refused.
            let samples = if name.starts_with("SC_rgb") { 3 } else { 1 };
            let fits = matches!(
                (samples, what),
                (3, "Photometric=RGB") | (1, "Photometric=MONOCHROME2")
            );
            edited(
                g,
                what,
                set_value(&bytes, 0x0028, 0x0004, v),
                if fits { Succeed } else { Fail },
            );
        }
        edited(
            g,
            "RescaleIntercept=x1",
            set_value(&bytes, 0x0028, 0x1052, b"x1"),
            Fail,
        );
        edited(
            g,
            "WindowWidth=0",
            set_value(&bytes, 0x0028, 0x1051, b"0"),
            Fail,
        );
        edited(
            g,
            "WindowCenter=abc",
            set_value(&bytes, 0x0028, 0x1050, b"abc"),
            Fail,
        );
        for v in ["0", "abc", "99999999"] {
            edited(
                g,
                &format!("NumberOfFrames={v}"),
                set_value(&bytes, 0x0028, 0x0008, v.as_bytes()),
                Fail,
            );
        }
        edited(
            g,
            "PixelData length 0x7FFFFFF0",
            set_length(&bytes, 0x7FE0, 0x0010, 0x7FFF_FFF0),
            Fail,
        );
        edited(
            g,
            "meta version length 0xFFFFFFF0",
            set_length(&bytes, 0x0002, 0x0001, 0xFFFF_FFF0),
            Fail,
        );
        edited(
            g,
            "SOP class length 0xFFFF",
            set_length(&bytes, 0x0008, 0x0016, 0xFFFF),
            Either,
        );
        if let Some(frag) = rle_fragment(&bytes) {
            edited(
                g,
                "RLE segments 0xFFFFFFFF",
                Some(poke_u32(&bytes, frag, 0xFFFF_FFFF)),
                Fail,
            );
            edited(g, "RLE segments 0", Some(poke_u32(&bytes, frag, 0)), Fail);
            edited(g, "RLE segments 16", Some(poke_u32(&bytes, frag, 16)), Fail);
            edited(
                g,
                "RLE offset past the fragment",
                Some(poke_u32(&bytes, frag + 4, 0xFFFF_FF00)),
                Fail,
            );
            edited(
                g,
                "RLE fragment length 0xFFFFFFF0",
                Some(poke_u32(&bytes, frag - 4, 0xFFFF_FFF0)),
                Fail,
            );
        }
    }
    let two = g.file(
        "two_frames.dcm",
        &std::fs::read(data("dicom/SC_rgb_rle_2frame.dcm")).unwrap(),
    );
    g.add(
        Reader::Dicom,
        "frame 1 of a 2-frame file",
        Succeed,
        None,
        argv(
            "convert {} --frame 1 --out {}",
            &[&two, &format!("{OUT}/o.npy")],
        ),
    );
    g.add(
        Reader::Dicom,
        "frame 2 of a 2-frame file",
        Fail,
        Some(&two),
        argv(
            "convert {} --frame 2 --out {}",
            &[&two, &format!("{OUT}/o.npy")],
        ),
    );
}
