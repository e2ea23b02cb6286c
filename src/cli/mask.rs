//! `vitscope mask`: one segment-editor effect on a class-id mask.

use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};
use clap::Args;

use vitscope::assist::{self, Inputs, Keep, Op, Scissors, Smooth, inputs};

/// `vitscope mask`.
#[derive(Args)]
pub struct MaskArgs {
    /// The image (PNG gray 8/16-bit or RGB, DICOM): its size, values and spacing.
    #[arg(long)]
    image: PathBuf,
    /// The class-id mask to start from (8-bit gray PNG); default all 0.
    #[arg(long)]
    mask: Option<PathBuf>,
    /// The class the effect works on (1..255).
    #[arg(long, default_value_t = 1)]
    class: u16,
    /// Spacing ROW_MM,COL_MM (default: the DICOM file's, else 1,1).
    #[arg(long)]
    spacing: Option<String>,
    /// threshold, paint, islands, margin, smooth, fill-holes, grow, scissors, from-map.
    #[arg(long)]
    op: String,
    /// threshold / paint: LO,HI (inclusive).
    #[arg(long)]
    range: Option<String>,
    /// threshold: the pixels outside the range instead.
    #[arg(long)]
    invert: bool,
    /// paint: the centre X,Y (column, row).
    #[arg(long)]
    at: Option<String>,
    /// paint: the radius in pixels.
    #[arg(long)]
    radius: Option<f64>,
    /// islands: 4 or 8.
    #[arg(long)]
    connectivity: Option<u8>,
    /// islands: largest, min-px:N or at:X,Y.
    #[arg(long)]
    keep: Option<String>,
    /// margin: millimetres (negative shrinks); smooth median/gaussian: the size in mm.
    #[arg(long)]
    mm: Option<f64>,
    /// smooth: median, gaussian, open, close.
    #[arg(long)]
    kind: Option<String>,
    /// smooth open/close: the disk radius in pixels.
    #[arg(long)]
    px: Option<i64>,
    /// grow: the seeds (8-bit gray PNG of class ids).
    #[arg(long)]
    seeds: Option<PathBuf>,
    /// scissors: "X,Y;X,Y;..." (at least 3 vertices).
    #[arg(long)]
    polygon: Option<String>,
    /// scissors: erase-inside, erase-outside, fill-inside.
    #[arg(long)]
    mode: Option<String>,
    /// from-map: a float32 .npy of the image's size.
    #[arg(long)]
    map: Option<PathBuf>,
    /// from-map: the top K percent (0 < K <= 100).
    #[arg(long)]
    top: Option<f64>,
    /// The output class-id mask (8-bit gray PNG).
    #[arg(long)]
    out: PathBuf,
}

fn pair(s: &str, what: &str) -> Result<(f64, f64)> {
    let v: Vec<f64> = s
        .split(',')
        .map(|t| t.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("{what} '{s}': two numbers A,B"))?;
    match v[..] {
        [a, b] if a.is_finite() && b.is_finite() => Ok((a, b)),
        _ => bail!("{what} '{s}': two finite numbers A,B"),
    }
}

fn need<T: Clone>(v: &Option<T>, name: &str, op: &str) -> Result<T> {
    v.clone().ok_or_else(|| anyhow!("--op {op} needs --{name}"))
}

/// A parsed effect with everything it reads: the image's values, the spacing, the start mask and
/// class, and the op (`None`: grow, with its seeds).
pub struct Prepared {
    /// The image.
    pub img: inputs::ImageValues,
    /// (row mm, column mm).
    pub spacing: (f64, f64),
    /// The start mask.
    pub mask: Vec<u8>,
    /// The class.
    pub class: u8,
    /// The effect, or `Err(seeds)` for grow.
    pub op: std::result::Result<Op, Vec<u8>>,
}

impl Prepared {
    /// Runs the effect: the class-id mask after it.
    pub fn run(&self) -> Vec<u8> {
        match &self.op {
            Err(seeds) => assist::grow::grow(&self.img.values, seeds, self.img.grid),
            Ok(op) => {
                let inp = Inputs {
                    grid: self.img.grid,
                    values: &self.img.values,
                    spacing: self.spacing,
                };
                assist::run(op, &self.mask, self.class, &inp)
            }
        }
    }
}

/// `vitscope mask` as a parser of its own (the bench reads the fixture's command lines).
#[derive(clap::Parser)]
#[command(no_binary_name = true)]
pub struct MaskCommand {
    #[command(flatten)]
    pub args: MaskArgs,
}

pub fn run(a: MaskArgs) -> Result<()> {
    let out = a.out.clone();
    let p = prepare(a)?;
    inputs::write_ids(&out, &p.run(), p.img.grid)?;
    Ok(())
}

/// Reads the inputs and checks the options of an effect.
pub fn prepare(a: MaskArgs) -> Result<Prepared> {
    let img = inputs::read_image(&a.image)?;
    let g = img.grid;
    if a.class == 0 || a.class > 255 {
        bail!("--class {}: a class id is 1 to 255", a.class);
    }
    let c = a.class as u8;
    let spacing = match &a.spacing {
        Some(s) => {
            let (r, c) = pair(s, "--spacing")?;
            if r <= 0.0 || c <= 0.0 {
                bail!("--spacing '{s}': both must be above 0");
            }
            (r, c)
        }
        None => img.spacing.unwrap_or((1.0, 1.0)),
    };
    let mask = match &a.mask {
        Some(p) => inputs::read_ids(p, g)?,
        None => vec![0; g.len()],
    };
    let op_name = a.op.as_str();
    if a.invert && op_name != "threshold" {
        bail!("--invert is an option of --op threshold, not of --op {op_name}");
    }
    if op_name == "grow" {
        let seeds = inputs::read_ids(&need(&a.seeds, "seeds", "grow")?, g)?;
        return Ok(Prepared {
            img,
            spacing,
            mask,
            class: c,
            op: Err(seeds),
        });
    }
    let op = match op_name {
        "threshold" => {
            let (lo, hi) = pair(&need(&a.range, "range", op_name)?, "--range")?;
            Op::Threshold {
                lo,
                hi,
                invert: a.invert,
            }
        }
        "paint" => {
            let (x, y) = pair(&need(&a.at, "at", op_name)?, "--at")?;
            let r = need(&a.radius, "radius", op_name)?;
            if !(r >= 0.0 && r.is_finite()) {
                bail!("--radius {r}: a radius is 0 or more");
            }
            let range = a.range.as_deref().map(|s| pair(s, "--range")).transpose()?;
            Op::Paint { x, y, r, range }
        }
        "islands" => {
            let connectivity = need(&a.connectivity, "connectivity", op_name)?;
            if connectivity != 4 && connectivity != 8 {
                bail!("--connectivity {connectivity}: 4 or 8");
            }
            let k = need(&a.keep, "keep", op_name)?;
            let keep = if k == "largest" {
                Keep::Largest
            } else if let Some(n) = k.strip_prefix("min-px:") {
                Keep::MinPx(
                    n.parse()
                        .map_err(|_| anyhow!("--keep '{k}': min-px:N with N a whole number"))?,
                )
            } else if let Some(xy) = k.strip_prefix("at:") {
                let (x, y) = xy
                    .split_once(',')
                    .and_then(|(x, y)| Some((x.parse::<usize>().ok()?, y.parse::<usize>().ok()?)))
                    .ok_or_else(|| anyhow!("--keep '{k}': at:X,Y with whole numbers"))?;
                if x >= g.w || y >= g.h {
                    bail!(
                        "--keep '{k}': ({x}, {y}) lies outside the {}×{} image",
                        g.w,
                        g.h
                    );
                }
                Keep::At(x, y)
            } else {
                bail!("--keep '{k}': largest, min-px:N or at:X,Y");
            };
            Op::Islands { connectivity, keep }
        }
        "margin" => {
            let mm = need(&a.mm, "mm", op_name)?;
            if !mm.is_finite() {
                bail!("--mm {mm}: a finite distance");
            }
            Op::Margin { mm }
        }
        "smooth" => {
            let kind = need(&a.kind, "kind", op_name)?;
            let s = match kind.as_str() {
                "median" | "gaussian" => {
                    let mm = need(&a.mm, "mm", op_name)?;
                    if !(mm > 0.0 && mm.is_finite()) {
                        bail!("--mm {mm}: the smoothing size must be above 0");
                    }
                    if kind == "median" {
                        Smooth::Median(mm)
                    } else {
                        Smooth::Gaussian(mm)
                    }
                }
                "open" | "close" => {
                    let px = need(&a.px, "px", op_name)?;
                    if !(0..=1000).contains(&px) {
                        bail!("--px {px}: a radius of 0 to 1000 pixels");
                    }
                    if kind == "open" {
                        Smooth::Open(px as usize)
                    } else {
                        Smooth::Close(px as usize)
                    }
                }
                k => bail!("--kind '{k}': median, gaussian, open or close"),
            };
            Op::Smooth(s)
        }
        "fill-holes" => Op::FillHoles,
        "scissors" => {
            let text = need(&a.polygon, "polygon", op_name)?;
            let polygon = text
                .split(';')
                .map(|v| pair(v, "--polygon vertex"))
                .collect::<Result<Vec<_>>>()?;
            if polygon.len() < 3 {
                bail!("--polygon '{text}': at least 3 vertices");
            }
            let mode = match need(&a.mode, "mode", op_name)?.as_str() {
                "erase-inside" => Scissors::EraseInside,
                "erase-outside" => Scissors::EraseOutside,
                "fill-inside" => Scissors::FillInside,
                m => bail!("--mode '{m}': erase-inside, erase-outside or fill-inside"),
            };
            Op::Scissors { polygon, mode }
        }
        "from-map" => {
            let path = need(&a.map, "map", op_name)?;
            let top = need(&a.top, "top", op_name)?;
            if !(top > 0.0 && top <= 100.0) {
                bail!("--top {top}: K must be in (0, 100]");
            }
            let m = vitscope::io::npy::read_f32(&path)?;
            let shape_ok = matches!(m.shape[..], [h, w] if (w, h) == (g.w, g.h))
                || matches!(m.shape[..], [1, h, w] if (w, h) == (g.w, g.h));
            if !shape_ok {
                bail!(
                    "{}: a map of shape {:?}, but the image is {}×{}",
                    path.display(),
                    m.shape,
                    g.w,
                    g.h
                );
            }
            vitscope::io::guard::check_finite(&m.data, "the map")
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            Op::FromMap { map: m.data, top }
        }
        other => bail!(
            "--op '{other}': threshold, paint, islands, margin, smooth, fill-holes, grow, scissors or from-map"
        ),
    };
    Ok(Prepared {
        img,
        spacing,
        mask,
        class: c,
        op: Ok(op),
    })
}

/// The arguments the assist fixture's check builds for `case` (README, "Command-line
/// interface"), a gzip map decompressed into `tmp`, the output into `tmp`.
pub fn fixture_argv(
    case: &serde_json::Value,
    root: &std::path::Path,
    tmp: &std::path::Path,
) -> Result<Vec<String>> {
    let s = |k: &str| case[k].as_str().map(String::from);
    let file = |rel: String| root.join(rel).display().to_string();
    let mut v = vec!["--image".to_string(), file(s("image").unwrap_or_default())];
    if let Some(m) = s("mask") {
        v.extend(["--mask".into(), file(m)]);
    }
    if let Some(k) = case["class"].as_u64() {
        v.extend(["--class".into(), k.to_string()]);
    }
    if let Some(sp) = s("spacing") {
        v.extend(["--spacing".into(), sp]);
    }
    v.extend(["--op".into(), s("op").unwrap_or_default()]);
    if let Some(seeds) = s("seeds") {
        v.extend(["--seeds".into(), file(seeds)]);
    }
    if let Some(map) = s("map") {
        let p = root.join(&map);
        let p = match map.strip_suffix(".gz") {
            Some(stem) => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(std::fs::File::open(&p)?),
                    &mut bytes,
                )?;
                let name = std::path::Path::new(stem).file_name().unwrap_or_default();
                let q = tmp.join(name);
                std::fs::write(&q, bytes)?;
                q
            }
            None => p,
        };
        v.extend(["--map".into(), p.display().to_string()]);
    }
    for o in case["options"].as_array().into_iter().flatten() {
        v.push(o.as_str().unwrap_or_default().to_string());
    }
    v.extend(["--out".into(), tmp.join("out.png").display().to_string()]);
    Ok(v)
}
