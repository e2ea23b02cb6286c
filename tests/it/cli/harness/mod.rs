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

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng, rngs::StdRng};

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
    reader: Reader,
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
        reader: Reader,
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
            reader: Reader::Arguments,
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
        reader: Reader,
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
mod arguments;
mod checkpoints;
mod datasets;
mod dicom;
mod faith_sanity;
mod helpers;
mod hospital;
mod images;
mod maps_masks;
mod projects;
mod workbench;

use helpers::*;

/// The reader families; each generates its cases in a file of its own.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Reader {
    Images,
    Dicom,
    Checkpoints,
    MapsMasks,
    Projects,
    Datasets,
    Hospital,
    Arguments,
}

impl Reader {
    const ALL: [Reader; 8] = [
        Reader::Images,
        Reader::Dicom,
        Reader::Checkpoints,
        Reader::MapsMasks,
        Reader::Projects,
        Reader::Datasets,
        Reader::Hospital,
        Reader::Arguments,
    ];

    fn name(self) -> &'static str {
        match self {
            Reader::Images => "images",
            Reader::Dicom => "DICOM",
            Reader::Checkpoints => "checkpoints",
            Reader::MapsMasks => "maps/masks",
            Reader::Projects => "projects",
            Reader::Datasets => "datasets",
            Reader::Hospital => "hospital",
            Reader::Arguments => "arguments",
        }
    }
}

/// What the cases of one reader family did.
#[derive(Clone, Copy, Default, Debug)]
struct Counts {
    cases: usize,
    accepted: usize,
    refused: usize,
    panics: usize,
    memory: usize,
    hangs: usize,
    silent: usize,
    valid_refused: usize,
    unclear: usize,
    side_effects: usize,
}

impl Counts {
    /// The report's cells after the reader's name.
    fn row(&self) -> String {
        [
            self.cases,
            self.accepted,
            self.refused,
            self.panics,
            self.memory,
            self.hangs,
            self.silent,
            self.valid_refused,
            self.unclear,
            self.side_effects,
        ]
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
    }
}

/// Inputs several families use: a valid PNG, a 64 × 64 map (.npy) and a mask of it.
struct Base {
    good_png: Vec<u8>,
    png: PathBuf,
    map_vals: Vec<f32>,
    map: PathBuf,
    mask_png: Vec<u8>,
    maskf: PathBuf,
}

fn base(g: &mut Gen) -> Base {
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
    Base {
        good_png,
        png,
        map_vals,
        map,
        mask_png,
        maskf,
    }
}

fn generate(g: &mut Gen) {
    let b = base(g);
    images::cases(g, &b);
    dicom::cases(g, &b);
    let ck = checkpoints::cases(g, &b);
    maps_masks::cases(g, &b);
    projects::cases(g, &b);
    let good_ds = datasets::cases(g, &b, &ck);
    workbench::cases(g, &b, &ck);
    faith_sanity::cases(g, &b);
    arguments::cases(g, &b, &good_ds);
    hospital::cases(g);
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
            if let Some(t) = crate::support::repeated_tail(last) {
                return Unclear(format!("the error repeats '{t}': {last}"));
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
    let dir = crate::support::scratch("bad-input-harness");
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

    // The report: one row per reader family, every case counted under its own.
    let mut counts: std::collections::BTreeMap<Reader, Counts> = Default::default();
    let mut failures = Vec::new();
    for (c, o) in cases.iter().zip(&results) {
        let n = counts.entry(c.reader).or_default();
        n.cases += 1;
        match o {
            Outcome::Accepted => n.accepted += 1,
            Outcome::Refused => n.refused += 1,
            Outcome::Panic(_) => n.panics += 1,
            Outcome::Memory(_) => n.memory += 1,
            Outcome::Hang => n.hangs += 1,
            Outcome::Silent(_) => n.silent += 1,
            Outcome::ValidRefused(_) => n.valid_refused += 1,
            Outcome::Unclear(_) => n.unclear += 1,
            Outcome::SideEffect(_) => n.side_effects += 1,
        }
        if !matches!(o, Outcome::Accepted | Outcome::Refused) {
            failures.push(format!("[{}] {}: {o:?}", c.reader.name(), c.name));
        }
    }
    let mut report = format!(
        "bad-input harness ({} run, seed {seed}): {} cases\n| reader | cases | accepted | refused | panics | memory | hangs | silent | valid refused | unclear | side effects |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
        if full { "full" } else { "subset" },
        cases.len()
    );
    for r in Reader::ALL {
        let n = counts.get(&r).copied().unwrap_or_default();
        report += &format!("| {} | {} |\n", r.name(), n.row());
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
    for r in Reader::ALL {
        assert!(
            counts.get(&r).is_some_and(|n| n.cases > 0),
            "no case for {}",
            r.name()
        );
    }
    assert_eq!(
        counts.values().map(|n| n.cases).sum::<usize>(),
        cases.len(),
        "every case is counted under its reader"
    );
    if full {
        assert!(
            cases.len() >= 1000,
            "the full run has only {} cases",
            cases.len()
        );
    }
}
