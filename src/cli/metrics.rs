//! `vitscope metrics`: score a map against a mask or boxes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use vitscope::io::{image as vimage, mask as vmask, npy};
use vitscope::metrics::{self, Mask, Rect};
use vitscope::model::device::DeviceChoice;

use super::common::{TopArgs, choice};

/// `vitscope metrics`.
#[derive(Args)]
pub struct MetricsArgs {
    /// Map: .npy (2-D float) or an image (gray levels).
    #[arg(long)]
    map: PathBuf,
    /// Mask image (pixel > 0 inside, read as the paper reads masks).
    #[arg(long, conflicts_with = "boxes")]
    mask: Option<PathBuf>,
    /// Box x0,y0,x1,y1 (half-open pixels); repeat for several.
    #[arg(long = "box", value_parser = parse_box, id = "boxes")]
    boxes: Vec<Rect>,
    #[command(flatten)]
    top: TopArgs,
    /// Where to compute: auto = GPU on a hardware adapter, else CPU.
    #[arg(long, value_parser = choice::<DeviceChoice>(), default_value = "auto")]
    backend: DeviceChoice,
    /// Print records like the reference metrics.json.
    #[arg(long)]
    json: bool,
    /// Also score against the bounding box of the mask (the paper's rectangle of all
    /// components), to show how much a box inflates the scores; records get mask "<mask>#bbox".
    #[arg(long)]
    with_box: bool,
}

fn parse_box(s: &str) -> Result<Rect, String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|t| t.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("box '{s}': {e}"))?;
    match v[..] {
        [x0, y0, x1, y1] if x1 > x0 && y1 > y0 => Ok(Rect { x0, y0, x1, y1 }),
        _ => Err(format!(
            "box '{s}' must be x0,y0,x1,y1 with x1 > x0 and y1 > y0"
        )),
    }
}

fn read_map(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let is_npy = path
        .extension()
        .map(|e| e.eq_ignore_ascii_case("npy"))
        .unwrap_or(false);
    if is_npy {
        let a = npy::read_f32(path)?;
        vitscope::io::guard::check_finite(&a.data, "the map")
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        match a.shape[..] {
            [h, w] if h > 0 && w > 0 => Ok((a.data, w, h)),
            [1, h, w] if h > 0 && w > 0 => Ok((a.data, w, h)),
            _ => bail!(
                "{}: map must be 2-D, found shape {:?}",
                path.display(),
                a.shape
            ),
        }
    } else {
        let img = vimage::read_image(path)?;
        let gray = img.planes[0].clone();
        Ok((gray, img.width, img.height))
    }
}

/// Scores one map.
pub fn run(args: MetricsArgs) -> Result<()> {
    let (map, w, h) = read_map(&args.map)?;
    let (mask, mask_name) = match (&args.mask, args.boxes.is_empty()) {
        (Some(p), _) => (vmask::read_mask(p)?, p.display().to_string()),
        (None, false) => {
            if let Some(r) = args.boxes.iter().find(|r| r.x1 > w || r.y1 > h) {
                bail!(
                    "box {},{},{},{} lies outside the {w}×{h} map {}",
                    r.x0,
                    r.y0,
                    r.x1,
                    r.y1,
                    args.map.display()
                );
            }
            let name = args
                .boxes
                .iter()
                .map(|r| format!("box:{},{},{},{}", r.x0, r.y0, r.x1, r.y1))
                .collect::<Vec<_>>()
                .join(";");
            (Mask::from_rects(w, h, &args.boxes), name)
        }
        (None, true) => bail!("give --mask FILE or at least one --box x0,y0,x1,y1"),
    };
    if mask.width != w || mask.height != h {
        bail!(
            "map {} is {}x{} but mask {} is {}x{} (width x height)",
            args.map.display(),
            w,
            h,
            mask_name,
            mask.width,
            mask.height
        );
    }
    if mask.count() == 0 {
        bail!("mask {mask_name} has no pixel inside: there is nothing to score against");
    }
    let mut annotations = vec![(mask_name.clone(), mask.clone())];
    if args.with_box {
        let rects: Vec<Rect> = mask.bbox().into_iter().collect();
        annotations.push((format!("{mask_name}#bbox"), Mask::from_rects(w, h, &rects)));
    }
    let map_name = args.map.display().to_string();
    let mut recs = Vec::new();
    for (name, ann) in &annotations {
        let set = metrics::gpu::compute(&map, w, h, ann, &args.top.top, args.backend)
            .with_context(|| format!("{}: metrics failed", args.map.display()))?;
        let loc = vitscope::metrics::localisation::score(&map, ann);
        if args.json {
            recs.extend(metrics::records(&set, &map_name, name));
            recs.extend(metrics::localisation_records(&loc, &map_name, name));
            continue;
        }
        println!(
            "map {map_name} ({w}x{h}) vs {name} ({} px)",
            set.mask_pixels
        );
        println!("pointing game: {}", set.pointing_game as u8);
        println!("energy in mask: {:.4}", set.energy);
        let f = |v: Option<f64>| v.map_or("undefined".to_string(), |v| format!("{v:.4}"));
        println!(
            "relevance rank: {}  ROC-AUC: {}  top-{} intersection: {}",
            f(loc.relevance_rank),
            f(loc.roc_auc),
            vitscope::metrics::localisation::TOP_K,
            f(loc.top_k_intersection)
        );
        println!("top%   k        threshold    selected  iou_rect  iou_binary  dice");
        for t in &set.top {
            println!(
                "{:<6} {:<8} {:<12.6} {:<9} {:<9.4} {:<11.4} {:.4}",
                t.top_perc, t.k, t.threshold, t.selected, t.iou_rect, t.iou_binary, t.dice
            );
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&recs)?);
    }
    Ok(())
}
