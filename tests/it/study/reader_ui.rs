//! Reader mode seen through its accessibility tree (egui_kittest): on every question of a study
//! nothing the window exposes names a method, a control condition, a score or a prediction,
//! and answers given by key and click reach the session file.

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use vitscope::app::ui::reader::ReaderApp;
use vitscope::study::session;

/// Every label and value the window exposes to assistive technology.
fn exposed(h: &Harness<'static, ReaderApp>) -> Vec<String> {
    h.query_all_by(|_| true)
        .flat_map(|n| [n.accesskit_node().label(), n.accesskit_node().value()])
        .flatten()
        .collect()
}

#[test]
fn reader_mode_reveals_no_method_and_records_every_answer() {
    let dir = crate::support::scratch("study-reader-ui");
    let study = super::demo_study(
        &dir,
        &[
            "--conditions",
            "attention,rollout,cam-attn,gradcam,chefer,generic,none,random",
            "--readers",
            "alice",
            "--cases",
            "1",
            "--attention-checks",
            "1",
        ],
    );
    let file = study.clone();
    let mut h = Harness::builder()
        .with_size([1200.0, 900.0])
        .wgpu()
        .build_eframe(move |cc| {
            ReaderApp::new(
                &cc.egui_ctx,
                &file,
                "alice",
                false,
                vitscope::app::bundled_checkpoint(),
            )
            .unwrap()
        });
    let forbidden = [
        "attention",
        "rollout",
        "cam",
        "gradcam",
        "chefer",
        "generic",
        "random",
        "none",
        "check",
        "score",
        "predict",
        "class",
        "logit",
        "%",
        "IoU",
    ];
    let total = h.state().reading().items().len();
    assert_eq!(total, 2 + 8 + 1 + 1);
    for k in 0..total {
        let t = Instant::now();
        while h.state().drawn() != Some(k) {
            h.step();
            assert!(
                t.elapsed() < Duration::from_secs(180),
                "question {k} never drawn"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        h.run_steps(2);
        let texts = exposed(&h);
        assert!(
            texts.iter().any(|t| t.contains(&format!("{k} / {total}"))),
            "{texts:?}"
        );
        for t in &texts {
            let low = t.to_lowercase();
            for f in forbidden {
                assert!(
                    !low.contains(&f.to_lowercase()),
                    "question {k}: '{t}' shows '{f}'"
                );
            }
        }
        let item = h.state().reading().item().unwrap().clone();
        match item.question.as_str() {
            "localise" => {
                crate::support::click_at(&mut h, egui::pos2(600.0, 450.0));
            }
            "pairwise" => h.key_press(egui::Key::ArrowRight),
            _ => h.key_press(egui::Key::Num4),
        }
        h.step();
        h.key_press(egui::Key::Enter);
        h.run_steps(2);
    }
    let lines = session::read(&session::path(&study, "alice")).unwrap();
    let latest = session::latest(&lines);
    assert_eq!(latest.len(), total, "every answer in the session file");
    let plan = &h.state().reading().items().to_vec();
    for (k, l) in latest {
        match plan[k].question.as_str() {
            "likert" | "confidence" => assert_eq!(l.response, "4"),
            "pairwise" => assert_eq!(
                Some(l.response.as_str()),
                plan[k].condition.split('|').nth(1)
            ),
            _ => assert!(l.response.contains(';'), "{}", l.response),
        }
    }
    let texts = exposed(&h);
    assert!(
        texts.iter().any(|t| t.contains("are answered")),
        "{texts:?}"
    );
}
