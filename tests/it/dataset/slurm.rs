//! Sharded `eval` on a real Slurm: a private single-node cluster (`scripts/slurm-local.sh`:
//! munged, slurmctld and slurmd with all their state in one folder; `.ci/run` installs the
//! packages) runs a 3-task job array of `vitscope eval --shard auto`; the merge gives the
//! unsharded run's bytes. Then one task is cancelled mid-run, re-submitted alone
//! (`--array=1` with `--shard auto/3`) and resumes; the merge again gives the same bytes. The
//! daemons are always stopped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::shard::{assert_same_reports, eval_args, phantom};
use crate::support::{scratch, succeeded, vitscope};

/// A private Slurm, stopped on drop.
struct Slurm {
    dir: PathBuf,
    conf: String,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
}

impl Slurm {
    fn start() -> Slurm {
        // Short: slurmstepd puts Unix sockets (≤ 107 bytes) under it.
        let dir = PathBuf::from(format!("/tmp/vsl-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let o = Command::new(script())
            .arg("start")
            .arg(&dir)
            .output()
            .expect("bash runs scripts/slurm-local.sh");
        let text = String::from_utf8_lossy(&o.stdout);
        let conf = text
            .lines()
            .find_map(|l| l.strip_prefix("export SLURM_CONF="))
            .map(String::from);
        let slurm = Slurm {
            dir,
            conf: conf.clone().unwrap_or_default(),
        };
        assert!(
            o.status.success() && conf.is_some(),
            "a private Slurm did not start (.ci/run installs slurmctld, slurmd, slurm-client and \
             munge): {}{}",
            text,
            String::from_utf8_lossy(&o.stderr)
        );
        slurm
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Runs a client command with a wall-clock bound.
    fn run(&self, program: &str, args: &[&str], secs: u64) -> Output {
        let mut c = self.cmd(program);
        c.args(args);
        self.bounded(c, secs)
    }

    /// Runs `c` with a wall-clock bound.
    fn bounded(&self, mut c: Command, secs: u64) -> Output {
        let program = format!("{:?}", c.get_program());
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let t = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                return child.wait_with_output().unwrap();
            }
            if t.elapsed() > Duration::from_secs(secs) {
                let _ = child.kill();
                let o = child.wait_with_output().unwrap();
                panic!(
                    "{program} {args:?} ran past {secs} s: {}\n{}",
                    String::from_utf8_lossy(&o.stderr),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn logs(&self) -> String {
        ["log/slurmctld.log", "log/slurmd.log"]
            .iter()
            .map(|f| {
                let t = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
                let tail: Vec<&str> = t.lines().rev().take(15).collect();
                format!(
                    "{f}:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until no task of job `id` is queued or running.
    fn wait_gone(&self, id: &str, secs: u64) {
        let t = Instant::now();
        loop {
            let o = self.run("squeue", &["-h", "-j", id, "-o", "%i"], 30);
            if String::from_utf8_lossy(&o.stdout).trim().is_empty() {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "job {id} still queued after {secs} s"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Slurm {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A batch script running `vitscope eval ARGS --out OUT --shard "$1"` (the binary by its
/// absolute path).
fn job(dir: &Path, args: &[String], out: &Path) -> PathBuf {
    let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut line = vec![q(env!("CARGO_BIN_EXE_vitscope"))];
    line.extend(args.iter().map(|a| q(a)));
    line.extend(["--out".into(), q(&out.display().to_string())]);
    let path = dir.join(format!(
        "job-{}.sh",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n# vitscope eval, one shard per array task\nexec {} --shard \"$1\"\n",
            line.join(" ")
        ),
    )
    .unwrap();
    path
}

fn merge(out: &Path) {
    let o = vitscope()
        .args(["eval", "merge", "--out"])
        .arg(out)
        .output()
        .unwrap();
    succeeded(o, "merge");
}

fn task_log(logs: &Path, task: usize) -> String {
    std::fs::read_dir(logs)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(&format!("_{task}.out"))
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_slurm_job_array_merges_into_the_unsharded_run_and_a_killed_task_resumes() {
    let dir = scratch("slurm");
    let ds = phantom(&dir, 9);
    let slurm = Slurm::start();

    // The example batch script (examples/slurm/eval.sbatch) as a 3-task array of
    // `--shard auto`, its paths given through the environment as its header says.
    let demo = vitscope::app::demo_dir();
    let ckpt = dir.join("ckpt");
    std::fs::create_dir_all(&ckpt).unwrap();
    std::fs::copy(
        demo.join("model.safetensors"),
        ckpt.join("supervised.safetensors"),
    )
    .unwrap();
    std::fs::copy(
        super::shard::second_checkpoint(&dir),
        ckpt.join("dino.safetensors"),
    )
    .unwrap();
    let config = demo.join("config.json");
    let full = dir.join("full");
    let o = vitscope()
        .args([
            "eval",
            "--device",
            "cpu",
            "--methods",
            "attention,gradcam,chefer",
            "--dataset",
        ])
        .arg(&ds)
        .arg(format!(
            "--checkpoint=supervised={}",
            ckpt.join("supervised.safetensors").display()
        ))
        .arg(format!(
            "--checkpoint=dino={}",
            ckpt.join("dino.safetensors").display()
        ))
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(&full)
        .output()
        .unwrap();
    succeeded(o, "unsharded eval");
    let out = dir.join("array");
    let logs = dir.join("logs-array");
    std::fs::create_dir_all(&logs).unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/slurm/eval.sbatch");
    let mut c = slurm.cmd("sbatch");
    c.current_dir(&logs)
        .args(["--array=0-2", "--wait", "--cpus-per-task=1", "--mem=2G"])
        .arg(&example)
        .env("VITSCOPE", env!("CARGO_BIN_EXE_vitscope"))
        .env("DATASET", &ds)
        .env("CKPT", &ckpt)
        .env("CONFIG", &config)
        .env("OUT", &out)
        .env("DEVICE", "cpu")
        .env_remove("SHARD");
    let o = slurm.bounded(c, 300);
    assert!(
        o.status.success(),
        "sbatch --array=0-2 --wait eval.sbatch: {}{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        slurm.logs()
    );
    for t in 0..3 {
        let l = task_log(&logs, t);
        assert!(
            l.contains(&format!("shard {t}/3: finished")),
            "task {t}: {l}"
        );
        assert!(
            l.contains(&format!("shard {t}/3: 1/3 images")),
            "task {t}: {l}"
        );
        assert!(
            !l.contains('\u{1b}'),
            "task {t}: control codes in the log: {l}"
        );
    }
    merge(&out);
    assert_same_reports(&full, &out, "the example's Slurm job array of 3");

    // One task cancelled mid-run, then re-submitted alone.
    let args = eval_args(&dir, &ds, &["--faithfulness"]);
    let full = dir.join("full-faith");
    succeeded(
        vitscope()
            .args(&args)
            .arg("--out")
            .arg(&full)
            .output()
            .unwrap(),
        "unsharded eval --faithfulness",
    );
    let out = dir.join("killed");
    std::fs::create_dir_all(&out).unwrap();
    let script = job(&dir, &args, &out);
    let logs = dir.join(format!(
        "logs-{}",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(&logs).unwrap();
    let log = format!("{}/slurm-%A_%a.out", logs.display());
    let o = slurm.run(
        "sbatch",
        &[
            "--array=0-2",
            "--parsable",
            "--output",
            &log,
            script.to_str().unwrap(),
            "auto",
        ],
        60,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let id = String::from_utf8_lossy(&o.stdout).trim().to_string();
    let records = out.join("shards/1-of-3/records");
    let t = Instant::now();
    while std::fs::read_dir(&records).map_or(0, |d| d.count()) == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(240),
            "task 1 wrote no image\n{}",
            slurm.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = slurm.run("scancel", &[&format!("{id}_1")], 30);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    slurm.wait_gone(&id, 300);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("shards/1-of-3/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        m["complete"], false,
        "task 1 was cancelled before it finished"
    );
    let o = vitscope()
        .args(["eval", "merge", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "the merge waits for task 1");
    let task1 = |shard: &str, secs| {
        let args = [
            "--array=1",
            "--wait",
            "--output",
            &log,
            script.to_str().unwrap(),
            shard,
        ];
        slurm.run("sbatch", &args, secs)
    };
    // `--array=1` with `--shard auto` is refused (the array is not 0-2) ...
    assert!(
        !task1("auto", 120).status.success(),
        "--shard auto in --array=1"
    );
    // ... and with `--shard auto/3` it redoes shard 1, resuming.
    let o = task1("auto/3", 300);
    assert!(
        o.status.success(),
        "sbatch --array=1 auto/3: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        slurm.logs()
    );
    let l = task_log(&logs, 1);
    assert!(
        l.contains("SLURM_ARRAY_TASK_MIN = 1"),
        "the refusal is in the log: {l}"
    );
    let resumed = l
        .lines()
        .filter_map(|x| {
            x.split(" resumed)")
                .next()?
                .rsplit('(')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .next_back()
        .unwrap_or(0);
    assert!(resumed >= 1, "the re-submitted task resumed: {l}");
    merge(&out);
    assert_same_reports(&full, &out, "a killed task re-submitted");
    drop(slurm);
}
