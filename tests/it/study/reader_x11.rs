//! A three-reader study on the bundled demo, end to end as readers live it: `study new`, each
//! reader in reader mode in a real X window (Xvfb) answering with real input events (xdotool:
//! keys 1–5, Left / Right, a click, Enter), one reader killed with SIGKILL mid-study and resuming
//! at the first unanswered question, then `study export` and `study analyze`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use vitscope::study::design::Study;
use vitscope::study::session;

use crate::app::recovery_x11::Xvfb;

/// A reader-mode window and the questions its probe reported drawn.
struct Reader {
    child: Child,
    window: String,
    shown: Arc<Mutex<Vec<usize>>>,
}

impl Reader {
    fn start(x: &Xvfb, study: &Path, reader: &str) -> Reader {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vitscope"))
            .arg(study)
            .args(["--reader", reader])
            .env("DISPLAY", &x.display)
            .env("VITSCOPE_UI_PROBE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let shown = Arc::new(Mutex::new(Vec::new()));
        let (err, s) = (child.stderr.take().unwrap(), shown.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let q = line
                    .strip_prefix("ui-probe: question ")
                    .and_then(|r| r.split('\t').next())
                    .and_then(|k| k.parse::<usize>().ok());
                if let Some(k) = q.filter(|_| !line.ends_with("gone")) {
                    s.lock().unwrap().push(k);
                }
            }
        });
        let w = x.xdotool(&[
            "search",
            "--sync",
            "--onlyvisible",
            "--name",
            "reader study",
        ]);
        let window = w.lines().next().unwrap_or_default().to_string();
        Reader {
            child,
            window,
            shown,
        }
    }

    /// Waits until question `k` is drawn.
    fn wait_shown(&self, k: usize) {
        let t = Instant::now();
        while !self.shown.lock().unwrap().contains(&k) {
            assert!(
                t.elapsed() < Duration::from_secs(240),
                "question {k} was never drawn"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

/// Answers of `reader` in the session file, by item.
fn answered(study: &Path, reader: &str) -> usize {
    let lines = session::read(&session::path(study, reader)).unwrap();
    session::latest(&lines).len()
}

/// Answers the questions until `stop` are answered (or all): each once it is drawn, then Enter.
/// Input the window did not take (a busy machine) is sent again after 5 s: the question on
/// screen is the one the probe reported last.
fn answer(x: &Xvfb, r: &Reader, study: &Path, plan: &Study, reader: &str, stop: usize) {
    let items = &plan.plan(reader).unwrap().items;
    let started = Instant::now();
    loop {
        if answered(study, reader) >= stop.min(items.len()) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "{reader}: the questions were not answered in 10 minutes"
        );
        let t = Instant::now();
        let k = loop {
            if let Some(&k) = r.shown.lock().unwrap().last() {
                break k;
            }
            assert!(
                t.elapsed() < Duration::from_secs(240),
                "no question was drawn"
            );
            std::thread::sleep(Duration::from_millis(30));
        };
        while !x.try_xdotool(&["windowfocus", "--sync", &r.window]) {
            std::thread::sleep(Duration::from_millis(50));
        }
        match items[k].question.as_str() {
            "localise" => {
                x.xdotool(&[
                    "mousemove",
                    "--window",
                    &r.window,
                    "600",
                    "450",
                    "click",
                    "1",
                ]);
            }
            "pairwise" => {
                x.xdotool(&["key", if k.is_multiple_of(2) { "Left" } else { "Right" }]);
            }
            _ => {
                let v = (1 + (k * 7 + reader.len()) % 5).to_string();
                x.xdotool(&["key", &v]);
            }
        }
        x.xdotool(&["key", "Return"]);
        // On to the next question (or the end), else the same question again.
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            let moved = r.shown.lock().unwrap().last() != Some(&k);
            if moved || answered(study, reader) == items.len() {
                break;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
    }
}

#[test]
fn a_three_reader_study_runs_end_to_end_with_a_kill_and_a_resume() {
    let dir = crate::support::scratch("study-x11");
    let study = super::demo_study(
        &dir,
        &[
            "--conditions",
            "attention,gradcam,chefer,none,random",
            "--readers",
            "alice,bob,carol",
            "--cases",
            "3",
            "--seed",
            "7",
            "--repeats",
            "1",
        ],
    );
    let plan = Study::load(&study).unwrap();
    let total = plan.readers[0].items.len();
    // 3 cases × (click, confidence, 5 Likert, 1 pair) and one case's 5 Likert again.
    assert_eq!(total, 3 * (2 + 5 + 1) + 5);
    let first = 3 * (2 + 5 + 1);
    let x = Xvfb::start();
    for reader in ["alice", "bob", "carol"] {
        let mut r = Reader::start(&x, &study, reader);
        if reader == "bob" {
            answer(&x, &r, &study, &plan, reader, total / 2);
            r.kill();
            assert_eq!(answered(&study, reader), total / 2);
            // Reopened: it resumes at the first unanswered question.
            r = Reader::start(&x, &study, reader);
            r.wait_shown(total / 2);
            assert_eq!(r.shown.lock().unwrap().first(), Some(&(total / 2)));
            answer(&x, &r, &study, &plan, reader, total);
            // Across the kill nothing was asked twice: the first half in session 1, the rest in
            // session 2, every item answered.
            let lines = session::read(&session::path(&study, reader)).unwrap();
            assert_eq!(session::latest(&lines).len(), total);
            for l in &lines {
                let want = if l.item < total / 2 { "s1" } else { "s2" };
                assert_eq!(l.session, want, "bob's line {l:?}");
            }
        } else {
            answer(&x, &r, &study, &plan, reader, total);
        }
        if reader == "carol" {
            x.screenshot(&dir.join("done.png"));
        }
        r.kill();
    }
    // Export and analyse.
    let responses = dir.join("responses.csv");
    crate::support::succeeded(
        crate::support::vitscope()
            .args(["study", "export", "--study"])
            .arg(&study)
            .arg("--out")
            .arg(&responses)
            .arg("--masks")
            .arg(dir.join("truth"))
            .output()
            .unwrap(),
        "vitscope",
    );
    let analysis = dir.join("analysis");
    let out = crate::support::succeeded(
        crate::support::vitscope()
            .args(["study", "analyze", "--responses"])
            .arg(&responses)
            .arg("--masks")
            .arg(dir.join("truth"))
            .arg("--out")
            .arg(&analysis)
            .arg("--json")
            .output()
            .unwrap(),
        "vitscope",
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["counts"]["rows"], 3 * first);
    assert_eq!(j["counts"]["missing"], 0);
    assert_eq!(j["counts"]["readers"], 3);
    assert_eq!(j["counts"]["cases"], 3);
    assert_eq!(j["counts"]["answers"]["likert"], 3 * 3 * 5);
    assert_eq!(j["localisation"]["none"]["n"], 9);
    let mrmc = std::fs::read_to_string(analysis.join("mrmc.csv")).unwrap();
    assert_eq!(mrmc.lines().count(), 1 + 9);
    // The repeats, apart: each reader's first and second answers as ID and ID.repeat, whose
    // Cohen κ is the reader's agreement with themself.
    let out = crate::support::succeeded(
        crate::support::vitscope()
            .args(["study", "analyze", "--json", "--responses"])
            .arg(dir.join("responses_repeats.csv"))
            .output()
            .unwrap(),
        "analyze the repeats",
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["counts"]["rows"], 3 * 2 * 5);
    assert_eq!(r["counts"]["readers"], 6);
    let all = &r["agreement"]["overall"]["cohen"];
    for reader in ["alice", "bob", "carol"] {
        assert_eq!(all[format!("{reader}|{reader}.repeat")]["n"], 5, "{all}");
    }
}
