//! The bad-input harness: generators for every reader (images, DICOM, checkpoints, maps and masks,
//! projects, datasets, arguments) write truncated, bit-flipped, edited and reshaped inputs, and
//! each case runs the real binary under a 4 GiB address-space limit with a time limit.
//!
//! A case fails the harness when the binary panics or aborts, runs out of memory, hangs, accepts
//! input that must be refused (silent acceptance, or NaN/inf/null in its output), refuses valid
//! input, or refuses without one `error:` line naming the file (or argument) at fault.
//!
//! By default a seeded subset runs (every structured case, a few truncations and flips per base
//! file; about a minute on two cores). `VITSCOPE_BAD_INPUT=full` runs every case (over 1000);
//! `VITSCOPE_BAD_INPUT_SEED=N` changes the sample and the generated flips.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};
use vitscope::project::annotation::LabelBox;
use vitscope::project::{ImageEntry, Project, Threshold};

/// Address-space limit of every run (KiB for `ulimit -v`).
const ADDRESS_SPACE_KIB: u64 = 4 << 20;
/// Wall-clock limit of one run.
const TIME_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Exit 1 (or 2 for clap) with an `error:` line naming the culprit.
    Fail,
    /// Exit 0, no `error:` line, no NaN in the output.
    Succeed,
    /// Either of the above (a bit flip may leave a file valid).
    Either,
}

struct Case {
    reader: &'static str,
    name: String,
    args: Vec<OsString>,
    expect: Expect,
    /// Text the error line must contain (the file name or the argument).
    names: Option<String>,
    /// Bulk cases (truncations, flips) of one base file share a group; the default run samples
    /// a few per group.
    group: Option<String>,
    /// Runs the workbench under Xvfb (`--screenshot @OUT/s.png`); accepted only with the
    /// screenshot written, i.e. the window finished loading.
    gui: bool,
    /// Inputs the case may change when it succeeds (a project it opens for writing, with the
    /// dot files and mask folder beside it). Everything else under `in/` must stay as it was,
    /// and a refused case changes nothing at all.
    writes: Vec<PathBuf>,
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Accepted,
    Refused,
    Panic(String),
    Memory(String),
    Hang,
    Silent(String),
    ValidRefused(String),
    Unclear(String),
    /// A file under `in/` changed that the case may not change (or any file, for a refusal).
    SideEffect(String),
}

const OUT: &str = "@OUT";

struct Gen {
    dir: PathBuf,
    cases: Vec<Case>,
    rng: StdRng,
    full: bool,
}

impl Gen {
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.join("in").join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn add(
        &mut self,
        reader: &'static str,
        name: impl Into<String>,
        expect: Expect,
        names: Option<&Path>,
        args: Vec<OsString>,
    ) {
        self.cases.push(Case {
            reader,
            name: name.into(),
            args,
            expect,
            names: names.map(|p| p.file_name().unwrap().to_string_lossy().into_owned()),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }

    fn add_arg_case(&mut self, name: &str, expect: Expect, names: &str, args: &[&str]) {
        self.cases.push(Case {
            reader: "arguments",
            name: name.into(),
            args: args.iter().map(OsString::from).collect(),
            expect,
            names: Some(names.into()),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }

    /// Truncations of `bytes` at many offsets (every one must be refused) and bit flips (either
    /// outcome, never a crash), run through `cmd`.
    fn bulk(
        &mut self,
        reader: &'static str,
        base: &str,
        bytes: &[u8],
        truncation: Expect,
        cmd: &dyn Fn(&Path) -> Vec<OsString>,
    ) {
        let n = bytes.len();
        let count = if self.full { 40 } else { 12 };
        let mut cuts: Vec<usize> = vec![0, 1, n / 2, n - 1];
        for i in 1..count - 3 {
            cuts.push(i * n / (count - 3));
        }
        for _ in 0..count / 2 {
            cuts.push(self.rng.random_range(1..n));
        }
        cuts.sort();
        cuts.dedup();
        let stem = base.replace('.', "_");
        let ext = Path::new(base)
            .extension()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for cut in cuts {
            let f = self.file(&format!("{stem}_cut{cut}.{ext}"), &bytes[..cut]);
            self.cases.push(Case {
                reader,
                name: format!("{base} truncated to {cut} bytes"),
                args: cmd(&f),
                expect: truncation,
                names: Some(f.file_name().unwrap().to_string_lossy().into_owned()),
                group: Some(format!("{base} truncations")),
                gui: false,
                writes: Vec::new(),
            });
        }
        let flips = if self.full { 30 } else { 8 };
        for k in 0..flips {
            let mut b = bytes.to_vec();
            let hits = self.rng.random_range(1..=8);
            for _ in 0..hits {
                let i = self.rng.random_range(0..n);
                b[i] ^= self.rng.random_range(1..=255u8);
            }
            let f = self.file(&format!("{stem}_flip{k}.{ext}"), &b);
            self.cases.push(Case {
                reader,
                name: format!("{base} with {hits} flipped bytes (#{k})"),
                args: cmd(&f),
                expect: Expect::Either,
                names: Some(f.file_name().unwrap().to_string_lossy().into_owned()),
                group: Some(format!("{base} flips")),
                gui: false,
                writes: Vec::new(),
            });
        }
    }
}

/// Arguments from a template of words; each `{}` takes the next of `values` (paths, formatted
/// strings), so a path with spaces stays one argument.
fn argv(template: &str, values: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    let mut values = values.iter();
    template
        .split_whitespace()
        .map(|w| match w {
            "{}" => values
                .next()
                .expect("a value per {}")
                .as_ref()
                .to_os_string(),
            w => OsString::from(w),
        })
        .collect()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn rgb(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 4) as u8, ((x + y) * 2) as u8])
    }))
}

/// A 9000 × 2 gray PNG: within the pixel limit, wider than any texture.
fn bomb_wide() -> Vec<u8> {
    encode(
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(9000, 2, image::Luma([90]))),
        image::ImageFormat::Png,
    )
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG with its IHDR width and height replaced (CRC fixed, so only the sizes lie).
fn png_with_size(png: &[u8], w: u32, h: u32) -> Vec<u8> {
    let mut b = png.to_vec();
    b[16..20].copy_from_slice(&w.to_be_bytes());
    b[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&b[12..29]);
    b[29..33].copy_from_slice(&crc.to_be_bytes());
    b
}

// ---- DICOM editing (explicit VR little endian) ----

const LONG_VRS: [&[u8; 2]; 13] = [
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];

/// (header offset, length-field offset, length-field size, value offset, value length).
fn find_element(b: &[u8], g: u16, e: u16) -> Option<(usize, usize, usize, usize, usize)> {
    let tag = [g as u8, (g >> 8) as u8, e as u8, (e >> 8) as u8];
    // Search the header only: a tag's bytes may also occur inside the pixel data.
    let pixel_data = [0xE0, 0x7F, 0x10, 0x00];
    let mut i = 132;
    while i + 12 <= b.len() {
        if b[i..i + 4] == pixel_data && tag != pixel_data {
            return None;
        }
        if b[i..i + 4] == tag && b[i + 4].is_ascii_uppercase() && b[i + 5].is_ascii_uppercase() {
            let vr = [b[i + 4], b[i + 5]];
            return Some(if LONG_VRS.iter().any(|v| **v == vr) {
                let len = u32::from_le_bytes(b[i + 8..i + 12].try_into().unwrap()) as usize;
                (i, i + 8, 4, i + 12, len)
            } else {
                let len = u16::from_le_bytes([b[i + 6], b[i + 7]]) as usize;
                (i, i + 6, 2, i + 8, len)
            });
        }
        i += 1;
    }
    None
}

fn set_value(b: &[u8], g: u16, e: u16, value: &[u8]) -> Option<Vec<u8>> {
    let (_, lf, ls, v, len) = find_element(b, g, e)?;
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    let mut out = b[..lf].to_vec();
    if ls == 2 {
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(&value);
    out.extend_from_slice(&b[(v + len).min(b.len())..]);
    Some(out)
}

fn set_length(b: &[u8], g: u16, e: u16, len: u32) -> Option<Vec<u8>> {
    let (_, lf, ls, _, _) = find_element(b, g, e)?;
    let mut out = b.to_vec();
    if ls == 2 {
        out[lf..lf + 2].copy_from_slice(&(len as u16).to_le_bytes());
    } else {
        out[lf..lf + 4].copy_from_slice(&len.to_le_bytes());
    }
    Some(out)
}

/// Offset of the first RLE frame fragment's data (after the basic offset table).
fn rle_fragment(b: &[u8]) -> Option<usize> {
    let (h, _, _, _, len) = find_element(b, 0x7FE0, 0x0010)?;
    let bot = h + 12;
    if len != 0xFFFF_FFFF || b.get(bot..bot + 4)? != [0xFE, 0xFF, 0x00, 0xE0] {
        return None; // native pixel data
    }
    let bot_len = u32::from_le_bytes(b[bot + 4..bot + 8].try_into().ok()?) as usize;
    Some(bot + 8 + bot_len + 8)
}

fn poke_u32(b: &[u8], at: usize, v: u32) -> Vec<u8> {
    let mut out = b.to_vec();
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    out
}

// ---- checkpoints ----

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

fn read_st(path: &Path) -> Tensors {
    common::safetensors_f32(path)
}

fn st_bytes(t: &Tensors) -> Vec<u8> {
    common::safetensors_bytes(t)
}

/// The same tensors with the JSON header padded by spaces until its length's low byte is 0x80
/// (valid safetensors; the first byte is what a pickle starts with).
fn st_low_byte_0x80(t: &Tensors) -> Vec<u8> {
    let b = st_bytes(t);
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut target = n;
    while target & 0xFF != 0x80 || !target.is_multiple_of(8) {
        target += 1;
    }
    let mut out = (target as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&b[8..8 + n]);
    out.extend(std::iter::repeat_n(b' ', target - n));
    out.extend_from_slice(&b[8 + n..]);
    out
}

fn edit(t: &Tensors, key: &str, f: impl Fn(&mut Vec<usize>, &mut Vec<f32>)) -> Tensors {
    let mut t = t.clone();
    let e = t.iter_mut().find(|e| e.0 == key).unwrap();
    f(&mut e.1, &mut e.2);
    t
}

/// `key` with the extents `(dim, extent)` changed, its values cut or padded to fit.
fn resized(t: &Tensors, key: &str, dims: &[(usize, usize)]) -> Tensors {
    edit(t, key, |s, v| {
        for &(d, n) in dims {
            s[d] = n;
        }
        v.resize(s.iter().product(), 0.1);
    })
}

fn without(t: &Tensors, prefix: &str) -> Tensors {
    t.iter()
        .filter(|e| !e.0.starts_with(prefix))
        .cloned()
        .collect()
}

// ---- npy ----

fn npy(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn project(images: Vec<ImageEntry>) -> Project {
    Project {
        images,
        ..Default::default()
    }
}

fn entry(path: &str, boxes: Vec<LabelBox>) -> ImageEntry {
    let mut e = ImageEntry::new(path.into());
    e.boxes = boxes;
    e
}

fn bx(x0: u32, y0: u32, x1: u32, y1: u32) -> LabelBox {
    LabelBox {
        x0,
        y0,
        x1,
        y1,
        class: 1,
    }
}

fn generate(g: &mut Gen) {
    use Expect::*;
    let good_png = encode(rgb(64, 64), image::ImageFormat::Png);
    let png = g.file("good.png", &good_png);
    let map_vals: Vec<f32> = (0..64 * 64).map(|i| (i % 64 + i / 64) as f32).collect();
    let map = g.dir.join("in/map.npy");
    vitscope::io::npy::write_f32(&map, &[64, 64], &map_vals).unwrap();
    let mut mask = image::GrayImage::new(64, 64);
    for y in 10..30 {
        for x in 20..40 {
            mask.put_pixel(x, y, image::Luma([255]));
        }
    }
    let mask_png = encode(
        image::DynamicImage::ImageLuma8(mask),
        image::ImageFormat::Png,
    );
    let maskf = g.file("mask.png", &mask_png);
    let convert = |f: &Path| argv("convert {} --out {}", &[&f, &format!("{OUT}/o.png")]);
    let explain = |f: &Path| argv("explain --device cpu --method attention --image {}", &[&f]);

    // ---- images ----
    let jpeg = encode(rgb(64, 64), image::ImageFormat::Jpeg);
    let tiff = encode(rgb(48, 40), image::ImageFormat::Tiff);
    let bmp = encode(rgb(40, 48), image::ImageFormat::Bmp);
    let gray16 = encode(
        image::DynamicImage::ImageLuma16(image::ImageBuffer::from_fn(50, 30, |x, y| {
            image::Luma([(x * 1000 + y * 37) as u16])
        })),
        image::ImageFormat::Png,
    );
    for (name, bytes) in [
        ("base.png", &good_png),
        ("base.jpg", &jpeg),
        ("base.tif", &tiff),
        ("base.bmp", &bmp),
        ("gray16.png", &gray16),
    ] {
        let f = g.file(name, bytes);
        g.add(
            "images",
            format!("{name} converts"),
            Succeed,
            None,
            convert(&f),
        );
        g.add(
            "images",
            format!("{name} explains"),
            Succeed,
            None,
            explain(&f),
        );
        // A PNG may lose its trailing IEND chunk and still hold every pixel.
        let trunc = if name.ends_with(".png") { Either } else { Fail };
        g.bulk("images", name, bytes, trunc, &convert);
    }
    // PNG truncations that cut into the image data must fail.
    for cut in [40, 60, good_png.len() - 20] {
        let f = g.file(&format!("png_cut_data{cut}.png"), &good_png[..cut]);
        g.add(
            "images",
            format!("PNG cut inside its data at {cut}"),
            Fail,
            Some(&f),
            convert(&f),
        );
    }
    for (w, h, expect) in [
        (100_000u32, 100_000u32, Fail),
        (0, 64, Fail),
        (64, 0, Fail),
        (u32::MAX, 2, Fail),
        (65, 64, Fail),
    ] {
        let f = g.file(&format!("png_{w}x{h}.png"), &png_with_size(&good_png, w, h));
        g.add(
            "images",
            format!("PNG header claims {w}x{h}"),
            expect,
            Some(&f),
            convert(&f),
        );
        g.add(
            "images",
            format!("PNG header claims {w}x{h} (explain)"),
            expect,
            Some(&f),
            explain(&f),
        );
        g.add(
            "images",
            format!("PNG header claims {w}x{h} (as a mask)"),
            expect,
            Some(&f),
            argv("metrics --map {} --mask {}", &[&map, &f]),
        );
    }
    // Decompression bombs: tiny files of huge images; one above the pixel limit, one within it.
    let bomb = |side: u32| {
        encode(
            image::DynamicImage::ImageLuma8(image::GrayImage::new(side, side)),
            image::ImageFormat::Png,
        )
    };
    let big = g.file("bomb_9000.png", &bomb(9000));
    g.add("images", "9000² PNG bomb", Fail, Some(&big), explain(&big));
    g.add(
        "images",
        "9000² PNG bomb (convert)",
        Fail,
        Some(&big),
        convert(&big),
    );
    let ok_big = g.file("big_4096.png", &bomb(4096));
    g.add(
        "images",
        "4096² PNG within the limit",
        Succeed,
        None,
        explain(&ok_big),
    );
    let at_limit = g.file("big_8192.png", &bomb(8192));
    g.add(
        "images",
        "8192² PNG at the limit",
        Succeed,
        None,
        explain(&at_limit),
    );
    let auto = argv("explain --method chefer --image {} --json", &[&png]);
    g.add(
        "images",
        "explain on the default device, JSON",
        Succeed,
        None,
        auto,
    );
    g.add(
        "images",
        "4096² PNG with --max-pixels 1000000",
        Fail,
        Some(&ok_big),
        argv(
            "explain --device cpu --method attention --max-pixels 1000000 --image {}",
            &[&ok_big],
        ),
    );
    let text = g.file("text.png", b"this is plain text, not a picture at all");
    g.add(
        "images",
        "text named .png",
        Fail,
        Some(&text),
        convert(&text),
    );
    let folder = g.dir.join("in/folder.png");
    std::fs::create_dir_all(&folder).unwrap();
    g.add(
        "images",
        "a folder named .png (convert)",
        Fail,
        Some(&folder),
        convert(&folder),
    );
    g.add(
        "images",
        "a folder as a map",
        Fail,
        Some(&folder),
        argv("metrics --map {} --box 1,1,4,4", &[&folder]),
    );
    let zero = g.dir.join("in/zero.png");
    let _ = std::fs::remove_file(&zero);
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    g.add(
        "images",
        "a link to /dev/zero",
        Fail,
        Some(&zero),
        convert(&zero),
    );
    let jpeg_cut = g.file("cut_scan.jpg", &jpeg[..jpeg.len() * 3 / 4]);
    g.add(
        "images",
        "JPEG cut inside its scan",
        Fail,
        Some(&jpeg_cut),
        explain(&jpeg_cut),
    );

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
            "DICOM",
            format!("{name} converts"),
            Succeed,
            None,
            convert(&f),
        );
        g.add(
            "DICOM",
            format!("{name} explains"),
            Succeed,
            None,
            explain(&f),
        );
        g.add(
            "DICOM",
            format!("{name} frame 99"),
            Fail,
            Some(&f),
            argv(
                "convert {} --frame 99 --out {}",
                &[&f, &format!("{OUT}/o.png")],
            ),
        );
        g.bulk("DICOM", name, &bytes, Fail, &convert);
        let stem = name.trim_end_matches(".dcm");
        let edited = |g: &mut Gen, what: &str, b: Option<Vec<u8>>, expect: Expect| {
            if let Some(b) = b {
                let f = g.file(&format!("{stem}_{}.dcm", what.replace([' ', '='], "_")), &b);
                g.add(
                    "DICOM",
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
        "DICOM",
        "frame 1 of a 2-frame file",
        Succeed,
        None,
        argv(
            "convert {} --frame 1 --out {}",
            &[&two, &format!("{OUT}/o.npy")],
        ),
    );
    g.add(
        "DICOM",
        "frame 2 of a 2-frame file",
        Fail,
        Some(&two),
        argv(
            "convert {} --frame 2 --out {}",
            &[&two, &format!("{OUT}/o.npy")],
        ),
    );

    // ---- checkpoints ----
    let st = read_st(&data("micro_timm.safetensors"));
    let demo = read_st(&vitscope::app::demo_dir().join("model.safetensors"));
    let with_weights = |f: &Path| {
        argv(
            "explain --device cpu --method chefer --weights {} --image {}",
            &[&f, &png],
        )
    };
    let st_good = g.file("micro.safetensors", &st_bytes(&st));
    g.add(
        "checkpoints",
        "micro safetensors",
        Succeed,
        None,
        with_weights(&st_good),
    );
    let pth = std::fs::read(data("micro_timm.pth")).unwrap();
    let pth_good = g.file("micro.pth", &pth);
    g.add(
        "checkpoints",
        "micro pth",
        Succeed,
        None,
        with_weights(&pth_good),
    );
    let low = g.file("low_byte_0x80.safetensors", &st_low_byte_0x80(&st));
    g.add(
        "checkpoints",
        "header length with low byte 0x80",
        Succeed,
        None,
        with_weights(&low),
    );
    g.bulk(
        "checkpoints",
        "micro.safetensors",
        &st_bytes(&st),
        Fail,
        &with_weights,
    );
    g.bulk("checkpoints", "micro.pth", &pth, Fail, &with_weights);
    let pw = "patch_embed.proj.weight";
    let reshaped: Vec<(&str, Tensors, Expect)> = vec![
        ("1 input channel", resized(&st, pw, &[(1, 1)]), Fail),
        ("4 input channels", resized(&st, pw, &[(1, 4)]), Fail),
        ("patch size 0", resized(&st, pw, &[(2, 0), (3, 0)]), Fail),
        ("non-square patch", resized(&st, pw, &[(3, 2)]), Fail),
        (
            "rank-1 patch embedding",
            edit(&st, pw, |s, v| {
                *s = vec![v.len()];
            }),
            Fail,
        ),
        ("width 0", resized(&st, pw, &[(0, 0)]), Fail),
        (
            "0-class head",
            edit(
                &edit(&st, "head.weight", |s, v| {
                    s[0] = 0;
                    v.clear();
                }),
                "head.bias",
                |s, v| {
                    s[0] = 0;
                    v.clear();
                },
            ),
            Fail,
        ),
        (
            "rank-3 head",
            edit(&st, "head.weight", |s, _| {
                s.insert(0, 1);
            }),
            Fail,
        ),
        (
            "MLP width 0",
            {
                let mut t = st.clone();
                for e in t.iter_mut().filter(|e| e.0.contains("mlp.fc")) {
                    if e.0.contains("fc1.weight") {
                        e.1 = vec![0, e.1[1]];
                    } else if e.0.contains("fc1.bias") {
                        e.1 = vec![0];
                    } else if e.0.contains("fc2.weight") {
                        e.1 = vec![e.1[0], 0];
                    }
                    if !e.0.contains("fc2.bias") {
                        e.2.clear();
                    }
                }
                t
            },
            Fail,
        ),
        (
            "rank-0 MLP weight",
            edit(&st, "blocks.0.mlp.fc1.weight", |s, v| {
                s.clear();
                v.truncate(1);
            }),
            Fail,
        ),
        (
            "non-square position grid",
            edit(&st, "pos_embed", |s, v| {
                s[1] -= 1;
                v.truncate(s.iter().product());
            }),
            Fail,
        ),
        (
            "a 300×300 position grid",
            edit(&st, "pos_embed", |s, v| {
                s[1] = 1 + 300 * 300;
                v.resize(s.iter().product(), 0.01);
            }),
            Fail,
        ),
        ("block 0 missing", without(&st, "blocks.0."), Fail),
        (
            "one block tensor missing",
            without(&st, "blocks.1.mlp.fc2.weight"),
            Fail,
        ),
        ("norm missing", without(&st, "norm."), Fail),
        ("head missing (backbone)", without(&st, "head."), Succeed),
        (
            "NaN weight",
            edit(&st, "blocks.0.attn.qkv.weight", |_, v| v[3] = f32::NAN),
            Fail,
        ),
        (
            "inf position embedding",
            edit(&st, "pos_embed", |_, v| v[0] = f32::INFINITY),
            Fail,
        ),
        (
            "huge head",
            edit(&st, "head.weight", |_, v| {
                v.iter_mut().for_each(|x| *x *= 1e38)
            }),
            Either,
        ),
        (
            "extra tensor",
            {
                let mut t = st.clone();
                t.push(("extra.weight".into(), vec![2], vec![1.0, 2.0]));
                t
            },
            Succeed,
        ),
    ];
    for (what, t, expect) in reshaped {
        let f = g.file(
            &format!("ckpt_{}.safetensors", what.replace([' ', '(', ')'], "_")),
            &st_bytes(&t),
        );
        g.add("checkpoints", what, expect, Some(&f), with_weights(&f));
    }
    let demo_gap = g.file(
        "demo_without_block1.safetensors",
        &st_bytes(&without(&demo, "blocks.1.")),
    );
    g.add(
        "checkpoints",
        "4-block model with blocks.1.* missing",
        Fail,
        Some(&demo_gap),
        with_weights(&demo_gap),
    );
    for (what, text) in [
        ("num_heads 0", r#"{"num_heads": 0}"#),
        ("num_heads 3 (does not divide 8)", r#"{"num_heads": 3}"#),
        ("not JSON", "num_heads = 2"),
        ("num_heads text", r#"{"num_heads": "two"}"#),
    ] {
        let cfg = g.file(
            &format!("config_{}.json", what.replace([' ', '(', ')'], "_")),
            text.as_bytes(),
        );
        let mut args = with_weights(&st_good);
        args.extend(argv("--config {}", &[&cfg]));
        g.add(
            "checkpoints",
            format!("config.json with {what}"),
            Fail,
            Some(&cfg),
            args,
        );
    }
    for (what, bytes) in [
        ("empty file", b"".as_slice()),
        (
            "random bytes",
            b"\x80\x02random bytes that are no pickle at all",
        ),
        ("zip header only", b"PK\x03\x04 and nothing else"),
        (
            "JSON header past the end",
            b"\xff\x00\x00\x00\x00\x00\x00\x00{\"a\":1}",
        ),
    ] {
        let f = g.file(
            &format!("ckpt_{}.safetensors", what.replace(' ', "_")),
            bytes,
        );
        g.add("checkpoints", what, Fail, Some(&f), with_weights(&f));
    }

    // ---- maps and masks (metrics) ----
    let metrics_map = |f: &Path| argv("metrics --map {} --mask {} --json", &[&f, &maskf]);
    let v = f32_bytes(&map_vals);
    let npy_good = npy("<f4", false, "(64, 64)", &v);
    g.add("maps/masks", "good map", Succeed, None, metrics_map(&map));
    g.add(
        "maps/masks",
        "good map on the default backend",
        Succeed,
        None,
        argv("metrics --map {} --mask {} --with-box", &[&map, &maskf]),
    );
    g.bulk("maps/masks", "map.npy", &npy_good, Fail, &metrics_map);
    let grid = |descr: &str, data: Vec<u8>| npy(descr, false, "(64, 64)", &data);
    let shaped = |shape: &str| npy("<f4", false, shape, &v);
    let mut npys: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "shape product overflows",
            shaped("(4294967296, 4294967296, 16)"),
            Fail,
        ),
        (
            "shape product wraps to 0",
            shaped("(4294967296, 4294967296)"),
            Fail,
        ),
        ("shape larger than the data", shaped("(64, 65)"), Fail),
        ("shape smaller than the data", shaped("(64, 63)"), Fail),
        ("3-D map", shaped("(2, 32, 64)"), Fail),
        ("0-D map", npy("<f4", false, "()", &v[..4]), Fail),
        ("empty map", npy("<f4", false, "(0, 64)", &[]), Fail),
        ("unknown dtype", npy("<c8", false, "(64, 32)", &v), Fail),
        (
            "structured dtype",
            npy("[('a', '<f4')]", false, "(64, 64)", &v),
            Fail,
        ),
        (
            "bad header",
            b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4',".to_vec(),
            Fail,
        ),
        (
            "f8 map",
            grid(
                "<f8",
                map_vals
                    .iter()
                    .flat_map(|x| (*x as f64).to_le_bytes())
                    .collect(),
            ),
            Succeed,
        ),
        (
            "u2 map",
            grid(
                "<u2",
                map_vals
                    .iter()
                    .flat_map(|x| (*x as u16).to_le_bytes())
                    .collect(),
            ),
            Succeed,
        ),
        (
            "bool map",
            grid("|b1", map_vals.iter().map(|x| (*x > 60.0) as u8).collect()),
            Succeed,
        ),
        (
            "Fortran-order map",
            npy("<f4", true, "(64, 64)", &v),
            Succeed,
        ),
        (
            "all-zero map",
            npy("<f4", false, "(64, 64)", &vec![0; v.len()]),
            Succeed,
        ),
        (
            "constant map",
            npy("<f4", false, "(64, 64)", &f32_bytes(&vec![0.5; 64 * 64])),
            Succeed,
        ),
        (
            "negative map",
            npy(
                "<f4",
                false,
                "(64, 64)",
                &f32_bytes(&map_vals.iter().map(|x| -x).collect::<Vec<_>>()),
            ),
            Succeed,
        ),
    ];
    for (what, bad) in [
        ("NaN", f32::NAN),
        ("+inf", f32::INFINITY),
        ("-inf", f32::NEG_INFINITY),
    ] {
        let mut m = map_vals.clone();
        m[100] = bad;
        npys.push((
            Box::leak(format!("map with {what}").into_boxed_str()),
            npy("<f4", false, "(64, 64)", &f32_bytes(&m)),
            Fail,
        ));
    }
    for (what, bytes, expect) in npys {
        let f = g.file(
            &format!("map_{}.npy", what.replace([' ', '+', '-'], "_")),
            &bytes,
        );
        g.add("maps/masks", what, expect, Some(&f), metrics_map(&f));
    }
    let with_box = |b: &str| argv("metrics --map {} --box {} --json", &[&map, &b]);
    for (b, expect, names) in [
        ("10,10,30,30", Succeed, "box"),
        ("10,10,5,30", Fail, "box"),
        ("10,10,10,30", Fail, "box"),
        ("60,60,100,100", Fail, "box"),
        ("1000,1000,1001,1001", Fail, "box"),
        ("1,2,3", Fail, "box"),
        ("a,b,c,d", Fail, "box"),
        ("18446744073709551615,0,1,1", Fail, "box"),
    ] {
        g.cases.push(Case {
            reader: "maps/masks",
            name: format!("--box {b}"),
            args: with_box(b),
            expect,
            names: Some(names.into()),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }
    let mask_case = |g: &mut Gen, what: &str, img: image::DynamicImage, expect: Expect| {
        let f = g.file(
            &format!("mask_{}.png", what.replace(' ', "_")),
            &encode(img, image::ImageFormat::Png),
        );
        g.add(
            "maps/masks",
            what,
            expect,
            Some(&f),
            argv("metrics --map {} --mask {} --json", &[&map, &f]),
        );
    };
    mask_case(
        g,
        "mask of the wrong size",
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(20, 64, image::Luma([255]))),
        Fail,
    );
    mask_case(
        g,
        "empty mask",
        image::DynamicImage::ImageLuma8(image::GrayImage::new(64, 64)),
        Fail,
    );
    mask_case(
        g,
        "full mask",
        image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(64, 64, image::Luma([255]))),
        Succeed,
    );
    mask_case(g, "RGB mask", rgb(64, 64), Succeed);
    g.bulk("maps/masks", "mask.png", &mask_png, Either, &|f: &Path| {
        argv("metrics --map {} --mask {} --json", &[&map, &f])
    });
    for top in ["0", "101", "-5", "nan", "inf", "1e308"] {
        g.add_arg_case(
            &format!("--top {top}"),
            Fail,
            "top",
            &[
                "metrics",
                "--map",
                map.to_str().unwrap(),
                "--mask",
                maskf.to_str().unwrap(),
                "--top",
                top,
            ],
        );
    }

    // ---- projects (eval) ----
    let pdir = g.dir.join("in/project");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::write(pdir.join("img.png"), &good_png).unwrap();
    std::fs::write(
        pdir.join("ct.dcm"),
        std::fs::read(data("dicom/CT_small.dcm")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        pdir.join("two.dcm"),
        std::fs::read(data("dicom/SC_rgb_rle_2frame.dcm")).unwrap(),
    )
    .unwrap();
    std::fs::write(
        pdir.join("huge.png"),
        png_with_size(&good_png, 100_000, 100_000),
    )
    .unwrap();
    let eval_args = |f: &Path| {
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods attention --out @OUT",
            &[&f],
        )
    };
    let ron_case = |g: &mut Gen, what: &str, text: String, expect: Expect| {
        let f = pdir.join(format!(
            "p_{}.ron",
            what.replace([' ', '<', '>', '(', ')', ','], "_")
        ));
        std::fs::write(&f, &text).unwrap();
        g.add(
            "projects",
            format!("project: {what}"),
            expect,
            Some(&f),
            eval_args(&f),
        );
        f
    };
    let good = project(vec![entry("img.png", vec![bx(5, 5, 30, 30)])]);
    let good_ron = good.to_ron();
    ron_case(g, "good", good_ron.clone(), Succeed);
    let f = pdir.join("cam_attn.ron");
    std::fs::write(&f, &good_ron).unwrap();
    g.add(
        "projects",
        "project scored with cam-attn (an all-zero map)",
        Succeed,
        None,
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods cam-attn,chefer --out @OUT",
            &[&f],
        ),
    );
    ron_case(
        g,
        "boxes on a DICOM",
        project(vec![entry("ct.dcm", vec![bx(10, 10, 60, 60)])]).to_ron(),
        Succeed,
    );
    let mut frame1 = entry("two.dcm", vec![bx(10, 10, 60, 60)]);
    frame1.frame = 1;
    ron_case(
        g,
        "frame 1 of a 2-frame DICOM",
        project(vec![frame1.clone()]).to_ron(),
        Succeed,
    );
    frame1.frame = 99;
    ron_case(
        g,
        "frame 99 of a 2-frame DICOM",
        project(vec![frame1]).to_ron(),
        Fail,
    );
    for (what, image, boxes) in [
        ("box x1 < x0", "img.png", vec![bx(30, 5, 5, 30)]),
        ("empty box", "img.png", vec![bx(5, 5, 5, 30)]),
        (
            "box outside the image",
            "img.png",
            vec![bx(50, 50, 500, 500)],
        ),
        ("missing image", "ghost.png", vec![bx(5, 5, 30, 30)]),
        (
            "box-only image whose header claims 100000x100000",
            "huge.png",
            vec![bx(5, 5, 30, 30)],
        ),
        ("no annotations", "img.png", vec![]),
    ] {
        ron_case(g, what, project(vec![entry(image, boxes)]).to_ron(), Fail);
    }
    let mut class9 = entry("img.png", vec![bx(5, 5, 30, 30)]);
    class9.boxes[0].class = 9;
    ron_case(g, "box of class 9", project(vec![class9]).to_ron(), Fail);
    let mut win = entry("ct.dcm", vec![bx(10, 10, 60, 60)]);
    win.window = Some((40.0, 0.0));
    ron_case(g, "window width 0", project(vec![win]).to_ron(), Fail);
    let mut view = good.clone();
    view.view.opacity = [7.0, 0.5, 0.5];
    ron_case(g, "opacity 7", view.to_ron(), Fail);
    let mut view = good.clone();
    view.view.threshold = Threshold::TopPercent(f64::NAN);
    ron_case(g, "threshold NaN", view.to_ron(), Fail);
    ron_case(
        g,
        "version 99",
        good_ron.replace(
            &format!("version: {}", vitscope::project::model::VERSION),
            "version: 99",
        ),
        Fail,
    );
    ron_case(
        g,
        "negative box coordinate",
        good_ron.replacen("x0: 5", "x0: -5", 1),
        Fail,
    );
    ron_case(
        g,
        "box coordinate above u32",
        good_ron.replacen("x1: 30", "x1: 99999999999", 1),
        Fail,
    );
    ron_case(g, "not RON", "<project>xml?</project>".into(), Fail);
    let zero_ron = pdir.join("zero.ron");
    let _ = std::fs::remove_file(&zero_ron);
    std::os::unix::fs::symlink("/dev/zero", &zero_ron).unwrap();
    g.add(
        "projects",
        "a .ron linked to /dev/zero",
        Fail,
        Some(&zero_ron),
        eval_args(&zero_ron),
    );
    let ron_bytes = good_ron.into_bytes();
    {
        // Truncations inside the project text: written beside the images so paths resolve.
        let n = ron_bytes.len();
        let step = if g.full { 1.max(n / 40) } else { 1.max(n / 10) };
        for cut in (0..n - 2).step_by(step) {
            let f = pdir.join(format!("cut{cut}.ron"));
            std::fs::write(&f, &ron_bytes[..cut]).unwrap();
            g.cases.push(Case {
                reader: "projects",
                name: format!("project truncated to {cut} bytes"),
                args: eval_args(&f),
                expect: Fail,
                names: Some(f.file_name().unwrap().to_string_lossy().into_owned()),
                group: Some("project truncations".into()),
                gui: false,
                writes: Vec::new(),
            });
        }
    }

    // ---- datasets (eval, train, phantom) ----
    let ds = |g: &Gen, name: &str, n: usize, labels: Option<&str>, mask_w: u32| -> PathBuf {
        let d = g.dir.join("in/datasets").join(name);
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("images")).unwrap();
        std::fs::create_dir_all(d.join("masks")).unwrap();
        for i in 0..n {
            std::fs::write(
                d.join(format!("images/i{i}.png")),
                encode(rgb(32, 32), image::ImageFormat::Png),
            )
            .unwrap();
            let m = image::GrayImage::from_fn(mask_w, 32, |x, y| {
                image::Luma([if x > 8 && y > 8 && x < 20 && y < 20 {
                    255
                } else {
                    0
                }])
            });
            std::fs::write(
                d.join(format!("masks/i{i}.png")),
                encode(image::DynamicImage::ImageLuma8(m), image::ImageFormat::Png),
            )
            .unwrap();
        }
        if let Some(l) = labels {
            std::fs::write(d.join("labels.csv"), l).unwrap();
        }
        d
    };
    let train = |d: &Path, extra: &[&str]| {
        let mut a = argv(
            "train --data {} --device cpu --epochs 1 --img 32 --patch 16 --dim 16 --depth 1 --heads 1 --batch 4 --out {}",
            &[&d, &format!("{OUT}/m.safetensors")],
        );
        // A flag of `extra` replaces the default's value (clap refuses a flag given twice).
        for pair in extra.chunks(2) {
            match a.iter().position(|x| x == pair[0]) {
                Some(i) if pair.len() == 2 => a[i + 1] = pair[1].into(),
                _ => a.extend(pair.iter().map(OsString::from)),
            }
        }
        a
    };
    let eval_ds = |d: &Path| {
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods attention --out @OUT",
            &[&d],
        )
    };
    let labels10: String = std::iter::once("image,label\n".to_string())
        .chain((0..10).map(|i| format!("i{i}.png,{}\n", i % 2)))
        .collect();
    let good_ds = ds(g, "good", 10, Some(&labels10), 32);
    g.add(
        "datasets",
        "train on a good dataset",
        Succeed,
        None,
        train(&good_ds, &[]),
    );
    g.add(
        "datasets",
        "eval a good dataset",
        Succeed,
        None,
        eval_ds(&good_ds),
    );
    let wrong = ds(g, "wrong_mask", 2, None, 20);
    g.add(
        "datasets",
        "eval with a mask of the wrong size",
        Fail,
        Some(&wrong.join("masks/i0.png")),
        eval_ds(&wrong),
    );
    let no_masks = ds(g, "no_masks", 2, None, 32);
    std::fs::remove_dir_all(no_masks.join("masks")).unwrap();
    g.add(
        "datasets",
        "eval without masks/",
        Fail,
        Some(&no_masks),
        eval_ds(&no_masks),
    );
    let empty = ds(g, "empty", 0, Some("image,label\n"), 32);
    g.add(
        "datasets",
        "train on no images",
        Fail,
        Some(&empty.join("labels.csv")),
        train(&empty, &[]),
    );
    g.add(
        "datasets",
        "eval no images",
        Fail,
        Some(&empty.join("images")),
        eval_ds(&empty),
    );
    for (what, text) in [
        (
            "label 18446744073709551615",
            "image,label\ni0.png,18446744073709551615\ni1.png,0\n",
        ),
        (
            "label 1000000000000",
            "image,label\ni0.png,1000000000000\ni1.png,0\n",
        ),
        ("label -1", "image,label\ni0.png,-1\ni1.png,0\n"),
        ("label text", "image,label\ni0.png,cat\ni1.png,0\n"),
        ("missing label column", "image,class\ni0.png,1\n"),
        ("a ghost image", "image,label\ni0.png,0\nghost.png,1\n"),
        ("too few columns", "image,x,label\ni0.png\n"),
        ("binary garbage", "\u{0}\u{1}\u{2}\u{3}"),
    ] {
        let d = ds(
            g,
            &format!("labels_{}", what.replace(' ', "_")),
            2,
            Some(text),
            32,
        );
        g.add(
            "datasets",
            format!("labels.csv with {what}"),
            Fail,
            Some(&d.join("labels.csv")),
            train(&d, &[]),
        );
    }
    let bom: String = std::iter::once("\u{feff}image,label\r\n".to_string())
        .chain((0..10).map(|i| format!("i{i}.png,{}\r\n", i % 2)))
        .collect();
    let bom_ds = ds(g, "labels_bom_crlf", 10, Some(&bom), 32);
    g.add(
        "datasets",
        "labels.csv with a byte-order mark and CRLF lines",
        Succeed,
        None,
        train(&bom_ds, &[]),
    );
    // A corrupt cached map and a corrupt resume state.
    let cache = g.dir.join("in/evalcache");
    let cached = cache.join("maps/demo/attention/i0.npy");
    std::fs::create_dir_all(cached.parent().unwrap()).unwrap();
    let mut nan_map = vec![0.5f32; 32 * 32];
    nan_map[7] = f32::NAN;
    vitscope::io::npy::write_f32(&cached, &[32, 32], &nan_map).unwrap();
    g.add(
        "datasets",
        "eval with a NaN in a cached map",
        Fail,
        Some(&cached),
        argv(
            "eval --dataset {} --device cpu --backend cpu --methods attention --out {}",
            &[&good_ds, &cache],
        ),
    );
    let resume = g.dir.join("in/resume/m.safetensors");
    std::fs::create_dir_all(g.dir.join("in/resume/m.safetensors.train")).unwrap();
    std::fs::write(
        g.dir.join("in/resume/m.safetensors.train/state.json"),
        "{\"config\": 3",
    )
    .unwrap();
    let mut a = train(&good_ds, &["--resume"]);
    let at = a.iter().position(|x| x == "--out").unwrap();
    a[at + 1] = resume.clone().into();
    g.add(
        "datasets",
        "train --resume with a corrupt state.json",
        Fail,
        Some(Path::new("state.json")),
        a,
    );
    g.add_arg_case(
        "--max-pixels before the subcommand",
        Fail,
        "max-pixels",
        &[
            "--max-pixels",
            "1000",
            "explain",
            "--device",
            "cpu",
            "--image",
            good_ds.join("images/i0.png").to_str().unwrap(),
        ],
    );
    let too_large = train(
        &good_ds,
        &[
            "--dim", "4096", "--depth", "8", "--heads", "32", "--img", "64",
        ],
    );
    g.add_arg_case(
        "train a model too large to fit",
        Fail,
        "parameters",
        &too_large
            .iter()
            .map(|a| a.to_str().unwrap())
            .collect::<Vec<_>>(),
    );
    for (what, args) in [
        (
            "bench --sizes 100000",
            "bench --suite metrics --backends cpu --sizes 100000",
        ),
        (
            "bench --sizes 0",
            "bench --suite metrics --backends cpu --sizes 0",
        ),
        (
            "bench --iters 0",
            "bench --suite metrics --backends cpu --iters 0",
        ),
        ("bench --images 0", "bench --suite app --images 0"),
    ] {
        let flag = what.split(' ').nth(1).unwrap();
        g.add_arg_case(what, Fail, flag, &args.split(' ').collect::<Vec<_>>());
    }
    let zero_csv = ds(g, "labels_dev_zero", 2, None, 32);
    std::os::unix::fs::symlink("/dev/zero", zero_csv.join("labels.csv")).unwrap();
    g.add(
        "datasets",
        "labels.csv linked to /dev/zero",
        Fail,
        Some(&zero_csv.join("labels.csv")),
        train(&zero_csv, &[]),
    );
    let two = ds(
        g,
        "two_images",
        2,
        Some("image,label\ni0.png,0\ni1.png,1\n"),
        32,
    );
    g.add(
        "datasets",
        "2 images leave no validation image",
        Fail,
        Some(&two),
        train(&two, &[]),
    );
    g.add(
        "datasets",
        "2 images with --val-split 0",
        Succeed,
        None,
        train(&two, &["--val-split", "0"]),
    );
    g.add(
        "datasets",
        "--init at another patch grid",
        Fail,
        Some(&st_good),
        train(&good_ds, &["--init", st_good.to_str().unwrap()]),
    );
    for (flag, v) in [
        ("--lr", "NaN"),
        ("--lr", "0"),
        ("--lr", "-1"),
        ("--lr", "inf"),
        ("--img", "0"),
        ("--dim", "0"),
        ("--heads", "0"),
        ("--depth", "0"),
        ("--patch", "0"),
        ("--epochs", "0"),
        ("--batch", "0"),
        ("--val-split", "1"),
        ("--val-split", "NaN"),
        ("--momentum", "2"),
        ("--weight-decay", "NaN"),
        ("--clip-grad", "-1"),
        ("--dim", "100000"),
        ("--img", "1000000"),
        ("--heads", "5"),
        ("--img", "40"),
    ] {
        let a = train(&good_ds, &[flag, v]);
        g.cases.push(Case {
            reader: "datasets",
            name: format!("train {flag} {v}"),
            args: a,
            expect: Fail,
            names: Some(
                flag.trim_start_matches('-')
                    .replace('-', "")
                    .chars()
                    .take(3)
                    .collect(),
            ),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }
    for (flag, v) in [
        ("--size", "100000"),
        ("--size", "0"),
        ("--n", "0"),
        ("--n", "-3"),
        ("--lesion-contrast", "NaN"),
    ] {
        g.cases.push(Case {
            reader: "datasets",
            name: format!("phantom {flag} {v}"),
            args: argv("phantom --out @OUT {} {}", &[&flag, &v]),
            expect: Fail,
            names: Some(
                flag.trim_start_matches('-')
                    .split('-')
                    .next()
                    .unwrap()
                    .into(),
            ),
            group: None,
            gui: false,
            writes: Vec::new(),
        });
    }

    // ---- the workbench (under Xvfb) ----
    let gdir = g.dir.join("in/gui");
    std::fs::create_dir_all(&gdir).unwrap();
    let ct = std::fs::read(data("dicom/CT_small.dcm")).unwrap();
    std::fs::write(
        gdir.join("rows0.dcm"),
        set_value(&ct, 0x0028, 0x0010, &[0, 0]).unwrap(),
    )
    .unwrap();
    std::fs::write(gdir.join("cut.png"), &good_png[..good_png.len() / 2]).unwrap();
    std::fs::write(
        gdir.join("huge.png"),
        png_with_size(&good_png, 100_000, 100_000),
    )
    .unwrap();
    std::fs::write(gdir.join("wide.png"), bomb_wide()).unwrap();
    std::fs::write(gdir.join("img.png"), &good_png).unwrap();
    std::fs::write(
        gdir.join("four_channels.safetensors"),
        st_bytes(&resized(&st, pw, &[(1, 4)])),
    )
    .unwrap();
    std::fs::write(
        gdir.join("nan.safetensors"),
        st_bytes(&edit(&st, "pos_embed", |_, v| v[1] = f32::NAN)),
    )
    .unwrap();
    let gui_case = |g: &mut Gen, what: &str, p: Project, expect: Expect| {
        let f = gdir.join(format!("{}.ron", what.replace(' ', "_")));
        std::fs::write(&f, p.to_ron()).unwrap();
        g.cases.push(Case {
            reader: "projects",
            name: format!("workbench: {what}"),
            args: argv("{} --screenshot {}", &[&f, &format!("{OUT}/s.png")]),
            expect,
            names: Some(f.file_name().unwrap().to_string_lossy().into_owned()),
            group: None,
            gui: true,
            // The workbench opens the project for writing: it records the images' identities.
            writes: vec![f.clone()],
        });
    };
    let one = |path: &str| project(vec![entry(path, vec![bx(1, 1, 5, 5)])]);
    gui_case(g, "a DICOM with Rows 0", one("rows0.dcm"), Succeed);
    gui_case(g, "a truncated PNG", one("cut.png"), Succeed);
    gui_case(
        g,
        "a PNG header claiming 100000x100000",
        one("huge.png"),
        Succeed,
    );
    gui_case(g, "an image wider than a texture", one("wide.png"), Succeed);
    for ck in ["four_channels.safetensors", "nan.safetensors"] {
        let mut p = one("img.png");
        p.checkpoints.push(vitscope::project::CheckpointEntry {
            name: "bad".into(),
            weights: ck.into(),
            config: None,
        });
        gui_case(g, &format!("checkpoint {ck}"), p, Succeed);
    }
    gui_case(
        g,
        "box x1 < x0",
        project(vec![entry("img.png", vec![bx(9, 1, 5, 5)])]),
        Fail,
    );

    // ---- faithfulness and sanity (maps given as .npy) ----
    let m224: Vec<f32> = (0..224 * 224)
        .map(|i| ((i * 7919) % 50176) as f32)
        .collect();
    let good_map = g.dir.join("in/map224.npy");
    vitscope::io::npy::write_f32(&good_map, &[224, 224], &m224).unwrap();
    let faith = |m: &Path| {
        argv(
            "faithfulness --device cpu --method attention --tests perturb-pos --json --image {} --map {}",
            &[&png, &m],
        )
    };
    g.add(
        "maps/masks",
        "faithfulness of a given map",
        Succeed,
        None,
        faith(&good_map),
    );
    let mut nan224 = m224.clone();
    nan224[5] = f32::NAN;
    for (what, shape, vals, expect) in [
        (
            "faithfulness map of the wrong size",
            vec![64usize, 64],
            map_vals.clone(),
            Fail,
        ),
        (
            "faithfulness map with a NaN",
            vec![224, 224],
            nan224.clone(),
            Fail,
        ),
        (
            "faithfulness map 3-D",
            vec![1, 224, 224],
            m224.clone(),
            Succeed,
        ),
    ] {
        let f = g
            .dir
            .join(format!("in/faith_{}.npy", what.replace(' ', "_")));
        vitscope::io::npy::write_f32(&f, &shape, &vals).unwrap();
        g.add("maps/masks", what, expect, Some(&f), faith(&f));
    }
    g.add(
        "maps/masks",
        "sanity --compare of maps of different sizes",
        Fail,
        Some(&map),
        argv("sanity --json --compare {} {}", &[&good_map, &map]),
    );
    g.add(
        "maps/masks",
        "sanity --compare with a NaN map",
        Fail,
        Some(&g.dir.join("in/faith_faithfulness_map_with_a_NaN.npy")),
        argv(
            "sanity --json --compare {} {}",
            &[
                &good_map,
                &g.dir.join("in/faith_faithfulness_map_with_a_NaN.npy"),
            ],
        ),
    );
    g.add(
        "maps/masks",
        "sanity --compare of a map with itself",
        Succeed,
        None,
        argv("sanity --json --compare {} {}", &[&good_map, &good_map]),
    );
    let zero224 = g.dir.join("in/zero224.npy");
    vitscope::io::npy::write_f32(&zero224, &[224, 224], &vec![0.0; 224 * 224]).unwrap();
    g.add(
        "maps/masks",
        "faithfulness of an all-zero map",
        Succeed,
        None,
        faith(&zero224),
    );
    let p = png.to_str().unwrap();
    for (name, flag, extra, expect) in [
        (
            "sanity --random-logit 99",
            "random-logit",
            vec!["--random-logit", "99"],
            Fail,
        ),
        (
            "sanity --target 99",
            "target",
            vec!["--random-logit", "0", "--target", "99"],
            Fail,
        ),
        ("sanity without a test", "cascade", vec![], Fail),
        (
            "sanity --cascade random --seed 18446744073709551615",
            "",
            vec!["--cascade", "random", "--seed", "18446744073709551615"],
            Succeed,
        ),
        (
            "sanity --cascade bogus",
            "cascade",
            vec!["--cascade", "bogus"],
            Fail,
        ),
        ("faithfulness --tests nope", "tests", vec![], Fail),
    ] {
        let mut a = if name.starts_with("faithfulness") {
            vec![
                "faithfulness",
                "--device",
                "cpu",
                "--image",
                p,
                "--tests",
                "nope",
            ]
        } else {
            vec![
                "sanity",
                "--device",
                "cpu",
                "--method",
                "attention",
                "--image",
                p,
            ]
        };
        a.extend(extra);
        g.add_arg_case(name, expect, flag, &a);
    }

    // ---- arguments ----
    let p = png.to_str().unwrap();
    for (name, flag, extra) in [
        ("--target 99", "target", vec!["--target", "99"]),
        (
            "--layer 99",
            "layer",
            vec!["--method", "attention", "--layer", "99"],
        ),
        (
            "--head 99",
            "head",
            vec!["--method", "attention", "--head", "99"],
        ),
        ("--std 0,0,0", "std", vec!["--std", "0,0,0"]),
        ("--std 1,1", "std", vec!["--std", "1,1"]),
        ("--mean nan,0,0", "mean", vec!["--mean", "nan,0,0"]),
        ("--mean inf,0,0", "mean", vec!["--mean", "inf,0,0"]),
        ("--max-pixels 0", "max-pixels", vec!["--max-pixels", "0"]),
    ] {
        let mut a = vec!["explain", "--device", "cpu", "--image", p];
        a.extend(extra);
        g.add_arg_case(name, Fail, flag, &a);
    }
    g.add_arg_case(
        "--target 1",
        Succeed,
        "",
        &["explain", "--device", "cpu", "--image", p, "--target", "1"],
    );
    for (name, w) in [
        ("--window 40,0", "40,0"),
        ("--window nan,400", "nan,400"),
        ("--window 1,2,3", "1,2,3"),
    ] {
        let o = format!("{}/o.png", g.dir.join("in").display());
        g.add_arg_case(
            name,
            Fail,
            "window",
            &["convert", p, "--window", w, "--out", &o],
        );
    }
    g.add_arg_case(
        "--map-cache-mb 1",
        Fail,
        "map-cache-mb",
        &["--map-cache-mb", "1", "--screenshot", "/nonexistent/x.png"],
    );
    let ds_path = good_ds.to_str().unwrap();
    for (flag, v, extra) in [
        ("--top", "0", "attention"),
        ("--target", "-1", "attention"),
        ("--target", "7", "gradcam"),
    ] {
        g.add_arg_case(
            &format!("eval {flag} {v}"),
            Fail,
            flag.trim_start_matches('-'),
            &[
                "eval",
                "--dataset",
                ds_path,
                flag,
                v,
                "--device",
                "cpu",
                "--backend",
                "cpu",
                "--methods",
                extra,
            ],
        );
    }
    hospital_cases(g);
}

/// DICOM SEG and NIfTI masks for `import`, and PACS URLs: truncations and flips of valid files
/// (made by vitscope's own export of a CT with a two-class mask), a SEG of an image the project
/// lacks, and unreachable or malformed servers.
fn hospital_cases(g: &mut Gen) {
    use Expect::*;
    let dir = g.dir.join("in/hosp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("dicom/CT_small.dcm"), dir.join("ct.dcm")).unwrap();
    let mask = image::GrayImage::from_fn(128, 128, |x, y| {
        image::Luma([if x < 40 && y < 50 {
            1
        } else if x > 80 {
            2
        } else {
            0
        }])
    });
    mask.save(dir.join("ct_mask.png")).unwrap();
    let project = dir.join("p.ron");
    std::fs::write(
        &project,
        "(version: 1, classes: [(name: \"a\", color: (255, 0, 0)), (name: \"b\", color: (0, 255, 0))], checkpoints: [], images: [(path: \"ct.dcm\", mask: Some(\"ct_mask.png\"))])\n",
    )
    .unwrap();
    let out = dir.join("export");
    vitscope::interop::export_project(&project, vitscope::interop::Format::Seg, &out).unwrap();
    vitscope::interop::export_project(&project, vitscope::interop::Format::Nifti, &out).unwrap();
    let seg = std::fs::read(out.join("ct.seg.dcm")).unwrap();
    let nii = std::fs::read(out.join("ct.nii.gz")).unwrap();
    let proj = project.clone();
    let import = move |format: &'static str| {
        let proj = proj.clone();
        // A dry run: a flipped file that still reads and matches changes nothing either.
        move |f: &Path| {
            argv(
                &format!("import --dry-run --project {{}} --format {format} --from {{}}"),
                &[&proj, &f],
            )
        }
    };
    g.bulk("hospital", "ct.seg.dcm", &seg, Fail, &import("seg"));
    g.bulk("hospital", "ct.nii.gz", &nii, Fail, &import("nifti"));
    let liver = data("dicom/liver_1frame.dcm");
    g.add(
        "hospital",
        "import of a SEG of an image not in the project",
        Fail,
        Some(&liver),
        argv("import --project {} --from {}", &[&project, &liver]),
    );
    // The one case that writes: into a project of its own.
    let writable = dir.join("p_ok.ron");
    std::fs::copy(&project, &writable).unwrap();
    g.add(
        "hospital",
        "import of the exported SEG",
        Succeed,
        None,
        argv(
            "import --project {} --from {}",
            &[&writable, &out.join("ct.seg.dcm")],
        ),
    );
    g.cases.last_mut().unwrap().writes = vec![writable.clone(), dir.join("p_ok_masks")];

    // Integrity: every refusal names its file and changes nothing.
    let png_dir = dir.join("png_in");
    std::fs::create_dir_all(&png_dir).unwrap();
    image::GrayImage::from_fn(128, 128, |x, _| image::Luma([if x < 9 { 7 } else { 0 }]))
        .save(png_dir.join("ct.png"))
        .unwrap();
    g.add(
        "hospital",
        "a PNG mask with class id 7 in a two-class project",
        Fail,
        Some(&png_dir.join("ct.png")),
        argv(
            "import --project {} --from {}",
            &[&project, &png_dir.join("ct.png")],
        ),
    );
    let wide16 = dir.join("wide16");
    std::fs::create_dir_all(&wide16).unwrap();
    image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(128, 128, |x, _| {
        image::Luma([if x < 9 { 1000 } else { 1 }])
    })
    .save(wide16.join("ct.png"))
    .unwrap();
    g.add(
        "hospital",
        "a 16-bit label PNG holding 1000",
        Fail,
        Some(&wide16.join("ct.png")),
        argv(
            "import --add-classes --project {} --from {}",
            &[&project, &wide16.join("ct.png")],
        ),
    );
    let coco = dir.join("one_bad.json");
    std::fs::write(
        &coco,
        serde_json::json!({
            "images": [{"id": 1, "file_name": "ct.dcm", "width": 128, "height": 128}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 9, 9]},
                {"id": 2, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 5]]},
            ],
        })
        .to_string(),
    )
    .unwrap();
    g.add(
        "hospital",
        "a COCO file with one bad polygon",
        Fail,
        Some(&coco),
        argv("import --project {} --from {}", &[&project, &coco]),
    );
    let nomatch = dir.join("nomatch");
    std::fs::create_dir_all(&nomatch).unwrap();
    std::fs::copy(out.join("ct.nii.gz"), nomatch.join("other.nii.gz")).unwrap();
    g.add(
        "hospital",
        "a NIfTI whose stem names no image",
        Fail,
        Some(&nomatch.join("other.nii.gz")),
        argv(
            "import --project {} --from {}",
            &[&project, &nomatch.join("other.nii.gz")],
        ),
    );
    let badman = dir.join("badmanifest");
    std::fs::create_dir_all(&badman).unwrap();
    std::fs::copy(out.join("ct.nii.gz"), badman.join("ct.nii.gz")).unwrap();
    std::fs::write(badman.join("manifest.csv"), "file,image\nct.nii.gz\n").unwrap();
    g.add(
        "hospital",
        "a malformed manifest.csv beside the mask",
        Fail,
        Some(&badman.join("manifest.csv")),
        argv(
            "import --project {} --from {}",
            &[&project, &badman.join("ct.nii.gz")],
        ),
    );
    let wrongid = dir.join("wrongid");
    std::fs::create_dir_all(&wrongid).unwrap();
    std::fs::copy(out.join("ct.nii.gz"), wrongid.join("ct.nii.gz")).unwrap();
    std::fs::write(
        wrongid.join("manifest.csv"),
        "file,image,identity,frame,class_ids\nct.nii.gz,ct,dicom:1.2.3.4,0,1;2\n",
    )
    .unwrap();
    g.add(
        "hospital",
        "a manifest naming an image the project does not have",
        Fail,
        Some(&wrongid.join("ct.nii.gz")),
        argv(
            "import --project {} --from {}",
            &[&project, &wrongid.join("ct.nii.gz")],
        ),
    );
    // A project held by a live process (this test): refused as locked.
    let held = dir.join("held.ron");
    std::fs::copy(&project, &held).unwrap();
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let start = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .to_string();
    let host = String::from_utf8(Command::new("hostname").output().unwrap().stdout).unwrap();
    std::fs::write(
        dir.join(".held.ron.lock"),
        format!(
            "host={}\npid={}\nstart={start}\nboot={}\nprogram=the bad-input harness\nsince=0\n",
            host.trim(),
            std::process::id(),
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .unwrap()
                .trim()
        ),
    )
    .unwrap();
    g.add(
        "hospital",
        "import into a project another process holds",
        Fail,
        Some(&held),
        argv(
            "import --project {} --from {}",
            &[&held, &out.join("ct.seg.dcm")],
        ),
    );
    let mut badid = Project::load(&project).unwrap();
    badid.images[0].identity = Some(vitscope::project::Identity::Sha256("xyz".into()));
    let badid_file = dir.join("bad_identity.ron");
    std::fs::write(&badid_file, badid.to_ron()).unwrap();
    g.add(
        "hospital",
        "a project whose identity is not a SHA-256",
        Fail,
        Some(&badid_file),
        argv(
            "export --format png --project {} --out @OUT",
            &[&badid_file],
        ),
    );
    g.add_arg_case(
        "pacs fetch of a study UID that is a path",
        Fail,
        "../x",
        &[
            "pacs",
            "--url",
            "http://127.0.0.1:9/dicom-web",
            "fetch",
            "--study",
            "../x",
            "--project",
            "/nonexistent/p.ron",
        ],
    );
    for (name, url) in [
        ("a PACS URL that is not http", "ftp://127.0.0.1/dicom-web"),
        ("a PACS nobody listens on", "http://127.0.0.1:9/dicom-web"),
    ] {
        g.add_arg_case(
            name,
            Fail,
            "127.0.0.1",
            &["pacs", "--url", url, "--timeout", "5", "search"],
        );
    }
}

fn classify(
    case: &Case,
    code: Option<i32>,
    timed_out: bool,
    screenshot: bool,
    stdout: &str,
    stderr: &str,
) -> Outcome {
    use Outcome::*;
    let tail = || stderr.lines().rev().take(4).collect::<Vec<_>>().join(" | ");
    if timed_out {
        return Hang;
    }
    if [
        "memory allocation of",
        "out of memory",
        "Cannot allocate memory",
        "capacity overflow",
    ]
    .iter()
    .any(|m| stderr.contains(m))
    {
        return Memory(tail());
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Panic(tail());
    }
    let error_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    if stderr.contains("cannot be used multiple times") {
        // A generator bug: the case never reached the check it is meant for.
        return Unclear(format!("the case repeats a flag: {}", tail()));
    }
    match code {
        Some(0) => {
            if case.expect == Expect::Fail {
                return Silent(format!("exit 0: {}", tail()));
            }
            if let Some(l) = error_lines.first() {
                return Unclear(format!("an error line on success: {l}"));
            }
            // A NaN or an infinity printed, or a JSON value that serde wrote as null (how it
            // writes a non-finite float; `top_perc: null` of a record without one is fine, as is
            // the null ROC-AUC that README documents for a mask covering every pixel).
            let stdout = &documented_nulls_removed(stdout);
            let non_finite = stdout
                .split(|c: char| !c.is_ascii_alphanumeric())
                .find(|t| matches!(*t, "NaN" | "nan" | "inf" | "Infinity"))
                .map(str::to_string)
                .or_else(|| {
                    [
                        "\"value\": null",
                        "\"value\":null",
                        "\"logits\":null",
                        "\"probs\":null",
                        "[null",
                        ",null",
                    ]
                    .into_iter()
                    .find(|p| stdout.contains(p))
                    .map(str::to_string)
                });
            if let Some(t) = non_finite {
                return Silent(format!("'{t}' in the output"));
            }
            if case.gui && !screenshot {
                return Hang;
            }
            Accepted
        }
        Some(1) | Some(2) => {
            if case.expect == Expect::Succeed {
                return ValidRefused(tail());
            }
            let Some(last) = error_lines.last() else {
                return Unclear(format!("no error line: {}", tail()));
            };
            if let Some(n) = &case.names
                && !error_lines.iter().any(|l| l.contains(n.as_str()))
            {
                return Unclear(format!("the error does not name '{n}': {last}"));
            }
            Refused
        }
        Some(c) => Panic(format!("exit status {c}: {}", tail())),
        None => Panic(format!("killed by a signal: {}", tail())),
    }
}

/// `metrics --json` output without its `roc_auc` records (undefined, and null, when the mask
/// covers every pixel); any other output unchanged.
fn documented_nulls_removed(stdout: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(stdout) {
        Ok(serde_json::Value::Array(recs)) => {
            let kept: Vec<serde_json::Value> = recs
                .into_iter()
                .filter(|r| r["metric"] != "roc_auc")
                .collect();
            serde_json::to_string_pretty(&kept).unwrap_or_default()
        }
        _ => stdout.to_string(),
    }
}

/// Whether `case` may change `path` (see [`Case::writes`]).
fn may_write(case: &Case, path: &Path) -> bool {
    case.writes.iter().any(|w| {
        path.starts_with(w)
            || (path.parent() == w.parent()
                && path.file_name().is_some_and(|n| {
                    w.file_name().is_some_and(|wn| {
                        n.to_string_lossy()
                            .starts_with(&format!(".{}", wn.to_string_lossy()))
                    })
                }))
    })
}

/// Size and modification time of every regular file below `dir` that no case may write.
fn meta_tree(
    dir: &Path,
    cases: &[Case],
) -> std::collections::BTreeMap<PathBuf, (u64, std::time::SystemTime)> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let Ok(m) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if m.is_dir() {
                stack.push(p);
            } else if m.is_file() && !cases.iter().any(|c| may_write(c, &p)) {
                // Regular files only: a link to /dev/zero (an input of its own) is not read.
                out.insert(p, (m.len(), m.modified().unwrap_or(std::time::UNIX_EPOCH)));
            }
        }
    }
    out
}

/// The bytes of the files a case may write (before it runs).
fn own_files(case: &Case) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    case.writes
        .iter()
        .map(|w| (w.clone(), std::fs::read(w).ok()))
        .collect()
}

/// Runs a case, then checks its side effects: no file under `in/` that no case may write
/// changed, appeared or vanished; a refused case left even its own files byte-identical.
fn run_case(
    bin: &Path,
    work: &Path,
    index: usize,
    case: &Case,
    all: &[Case],
    baseline: &std::collections::BTreeMap<PathBuf, (u64, std::time::SystemTime)>,
) -> Outcome {
    let own = own_files(case);
    let outcome = run_case_inner(bin, work, index, case);
    let now = meta_tree(&work.join("in"), all);
    if now != *baseline {
        let changed: Vec<String> = now
            .iter()
            .filter(|(p, m)| baseline.get(*p) != Some(m))
            .map(|(p, _)| format!("{} changed or appeared", p.display()))
            .chain(
                baseline
                    .keys()
                    .filter(|p| !now.contains_key(*p))
                    .map(|p| format!("{} vanished", p.display())),
            )
            .collect();
        return Outcome::SideEffect(changed.join("; "));
    }
    if outcome == Outcome::Refused {
        for (p, before) in own {
            if std::fs::read(&p).ok() != before {
                return Outcome::SideEffect(format!("refused, but {} changed", p.display()));
            }
        }
    }
    outcome
}

fn run_case_inner(bin: &Path, work: &Path, index: usize, case: &Case) -> Outcome {
    let out = work.join("out").join(index.to_string());
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(out.join("o")).unwrap();
    let args: Vec<OsString> = case
        .args
        .iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if s.contains(OUT) {
                OsString::from(s.replace(OUT, &out.join("o").to_string_lossy()))
            } else {
                a.clone()
            }
        })
        .collect();
    let (so, se) = (out.join("stdout"), out.join("stderr"));
    let mut cmd = if case.gui {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1600x1000x24", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    let mut child = cmd
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(bin)
        .args(&args)
        .current_dir(&out)
        .env("RUST_BACKTRACE", "0")
        // As on a server or in CI: no runtime folder (a probe that complains about it prints
        // `error:` lines on success, which the classification catches).
        .env_remove("XDG_RUNTIME_DIR")
        .env("XDG_DATA_HOME", out.join("data"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&so).unwrap())
        .stderr(std::fs::File::create(&se).unwrap())
        .spawn()
        .expect("spawn sh");
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break (Some(s), false);
        }
        if start.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = String::from_utf8_lossy(&std::fs::read(&so).unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&std::fs::read(&se).unwrap_or_default()).into_owned();
    let screenshot = out.join("o/s.png").is_file();
    let outcome = classify(
        case,
        status.and_then(|s| s.code()),
        timed_out,
        screenshot,
        &stdout,
        &stderr,
    );
    let _ = std::fs::remove_dir_all(&out);
    outcome
}

#[test]
fn bad_input_never_panics_exhausts_memory_hangs_or_passes_silently() {
    let full = std::env::var("VITSCOPE_BAD_INPUT").is_ok_and(|v| v == "full");
    let seed: u64 = std::env::var("VITSCOPE_BAD_INPUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = common::scratch("bad-input-harness");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut g = Gen {
        dir: dir.clone(),
        cases: Vec::new(),
        rng: StdRng::seed_from_u64(seed),
        full,
    };
    generate(&mut g);
    let mut cases = std::mem::take(&mut g.cases);
    if !full {
        // Every structured case; per bulk group a seeded sample of 4.
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5EED);
        let mut per_group: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (i, c) in cases.iter().enumerate() {
            if let Some(gr) = &c.group {
                per_group.entry(gr.clone()).or_default().push(i);
            }
        }
        let mut keep: std::collections::HashSet<usize> = (0..cases.len())
            .filter(|&i| cases[i].group.is_none())
            .collect();
        for idx in per_group.values() {
            for _ in 0..4.min(idx.len()) {
                keep.insert(idx[rng.random_range(0..idx.len())]);
            }
        }
        let mut i = 0;
        cases.retain(|_| {
            i += 1;
            keep.contains(&(i - 1))
        });
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_vitscope"));
    let baseline = meta_tree(&dir.join("in"), &cases);
    let all_bytes: Vec<(PathBuf, Vec<u8>)> = baseline
        .keys()
        .map(|p| (p.clone(), std::fs::read(p).unwrap_or_default()))
        .collect();
    assert!(
        Command::new("xvfb-run").arg("--help").output().is_ok(),
        "xvfb-run is needed for the workbench cases (.ci/run installs xvfb)"
    );
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Outcome>>> =
        cases.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = cases.get(i) else { break };
                    *results[i].lock().unwrap() =
                        Some(run_case(&bin, &dir, i, c, &cases, &baseline));
                }
            });
        }
    });
    let results: Vec<Outcome> = results
        .into_iter()
        .map(|m| m.into_inner().unwrap().unwrap())
        .collect();

    // The report: one row per reader.
    let readers = [
        "images",
        "DICOM",
        "checkpoints",
        "maps/masks",
        "projects",
        "datasets",
        "hospital",
        "arguments",
    ];
    let mut report = format!(
        "bad-input harness ({} run, seed {seed}): {} cases\n| reader | cases | accepted | refused | panics | memory | hangs | silent | valid refused | unclear | side effects |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        if full { "full" } else { "subset" },
        cases.len()
    );
    let mut failures = Vec::new();
    for r in readers {
        let mut n = [0usize; 10];
        for (c, o) in cases.iter().zip(&results).filter(|(c, _)| c.reader == r) {
            n[0] += 1;
            let k = match o {
                Outcome::Accepted => 1,
                Outcome::Refused => 2,
                Outcome::Panic(_) => 3,
                Outcome::Memory(_) => 4,
                Outcome::Hang => 5,
                Outcome::Silent(_) => 6,
                Outcome::ValidRefused(_) => 7,
                Outcome::Unclear(_) => 8,
                Outcome::SideEffect(_) => 9,
            };
            n[k] += 1;
            if k > 2 {
                failures.push(format!("[{r}] {}: {o:?}", c.name));
            }
        }
        report += &format!(
            "| {r} | {} |\n",
            n.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    // At the end, byte for byte: every file no case may write is as it was.
    for (p, before) in &all_bytes {
        if std::fs::read(p).ok().as_ref() != Some(before) {
            failures.push(format!(
                "[side effects] {} is not byte-identical",
                p.display()
            ));
        }
    }
    println!("{report}");
    let report_path = dir.join("report.md");
    std::fs::write(&report_path, &report).unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} cases misbehaved:\n{}\n\n{report}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    for r in readers {
        assert!(cases.iter().any(|c| c.reader == r), "no case for {r}");
    }
    if full {
        assert!(
            cases.len() >= 1000,
            "the full run has only {} cases",
            cases.len()
        );
    }
}
