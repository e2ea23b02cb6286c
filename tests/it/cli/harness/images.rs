//! Raster images: truncations, flips, bombs, wrong kinds of files.

use super::helpers::*;
use super::{Base, Expect, Gen, Reader};

/// The cases of this reader family.
pub(super) fn cases(g: &mut Gen, b: &Base) {
    use Expect::*;
    let Base {
        good_png, png, map, ..
    } = b;
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
        ("base.png", good_png),
        ("base.jpg", &jpeg),
        ("base.tif", &tiff),
        ("base.bmp", &bmp),
        ("gray16.png", &gray16),
    ] {
        let f = g.file(name, bytes);
        g.add(
            Reader::Images,
            format!("{name} converts"),
            Succeed,
            None,
            convert(&f),
        );
        g.add(
            Reader::Images,
            format!("{name} explains"),
            Succeed,
            None,
            explain(&f),
        );
        // A PNG may lose its trailing IEND chunk and still hold every pixel.
        let trunc = if name.ends_with(".png") { Either } else { Fail };
        g.bulk(Reader::Images, name, bytes, trunc, &convert);
    }
    // PNG truncations that cut into the image data must fail.
    for cut in [40, 60, good_png.len() - 20] {
        let f = g.file(&format!("png_cut_data{cut}.png"), &good_png[..cut]);
        g.add(
            Reader::Images,
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
        let f = g.file(&format!("png_{w}x{h}.png"), &png_with_size(good_png, w, h));
        g.add(
            Reader::Images,
            format!("PNG header claims {w}x{h}"),
            expect,
            Some(&f),
            convert(&f),
        );
        g.add(
            Reader::Images,
            format!("PNG header claims {w}x{h} (explain)"),
            expect,
            Some(&f),
            explain(&f),
        );
        g.add(
            Reader::Images,
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
    g.add(
        Reader::Images,
        "9000² PNG bomb",
        Fail,
        Some(&big),
        explain(&big),
    );
    g.add(
        Reader::Images,
        "9000² PNG bomb (convert)",
        Fail,
        Some(&big),
        convert(&big),
    );
    let ok_big = g.file("big_4096.png", &bomb(4096));
    g.add(
        Reader::Images,
        "4096² PNG within the limit",
        Succeed,
        None,
        explain(&ok_big),
    );
    let at_limit = g.file("big_8192.png", &bomb(8192));
    g.add(
        Reader::Images,
        "8192² PNG at the limit",
        Succeed,
        None,
        explain(&at_limit),
    );
    let auto = argv("explain --method chefer --image {} --json", &[&png]);
    g.add(
        Reader::Images,
        "explain on the default device, JSON",
        Succeed,
        None,
        auto,
    );
    g.add(
        Reader::Images,
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
        Reader::Images,
        "text named .png",
        Fail,
        Some(&text),
        convert(&text),
    );
    let folder = g.dir.join("in/folder.png");
    std::fs::create_dir_all(&folder).unwrap();
    g.add(
        Reader::Images,
        "a folder named .png (convert)",
        Fail,
        Some(&folder),
        convert(&folder),
    );
    g.add(
        Reader::Images,
        "a folder as a map",
        Fail,
        Some(&folder),
        argv("metrics --map {} --box 1,1,4,4", &[&folder]),
    );
    let zero = g.dir.join("in/zero.png");
    let _ = std::fs::remove_file(&zero);
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    g.add(
        Reader::Images,
        "a link to /dev/zero",
        Fail,
        Some(&zero),
        convert(&zero),
    );
    let jpeg_cut = g.file("cut_scan.jpg", &jpeg[..jpeg.len() * 3 / 4]);
    g.add(
        Reader::Images,
        "JPEG cut inside its scan",
        Fail,
        Some(&jpeg_cut),
        explain(&jpeg_cut),
    );
}
