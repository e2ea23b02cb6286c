//! Properties of the presentation plans `study new` draws, over several seeds and case counts:
//! every (case, condition) rated once per reader, the localisation and confidence before any map
//! of the case, conditions balanced over positions (a Latin square per full block, at most one
//! apart over a partial one), pairs shown as often left as right, the same seed giving the same
//! file byte for byte.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use vitscope::study::design::{Design, Study, new_study};
use vitscope::study::responses::Question;

/// A project of `n` phantom images.
fn project(dir: &Path, n: usize) -> std::path::PathBuf {
    crate::support::succeeded(
        crate::support::vitscope()
            .args(["phantom", "--out"])
            .arg(dir)
            .args(["--n", &n.to_string(), "--seed", "5", "--size", "32"])
            .output()
            .unwrap(),
        "vitscope",
    );
    let mut p = vitscope::project::Project::default();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let rel = f.strip_prefix(dir).unwrap().to_path_buf();
        p.images.push(vitscope::project::ImageEntry::new(rel));
    }
    let file = dir.join("p.ron");
    std::fs::write(&file, p.to_ron()).unwrap();
    file
}

fn design(seed: u64, conditions: &[&str]) -> Design {
    Design {
        conditions: conditions.iter().map(|s| s.to_string()).collect(),
        questions: Question::ALL.to_vec(),
        readers: ["r1", "r2", "r3", "r4"].map(String::from).to_vec(),
        cases: None,
        case_ids: None,
        checkpoint: None,
        seed,
        attention_checks: 2,
        repeats: 2,
    }
}

fn check(study: &Study) {
    let conds = &study.conditions;
    let c = conds.len();
    let maps: Vec<&String> = conds.iter().filter(|c| *c != "none").collect();
    let n = study.cases.len();
    for plan in &study.readers {
        let mut per_case: BTreeMap<&str, Vec<&vitscope::study::design::Item>> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        // Repeats come after every first showing: the Likert questions of each repeated case,
        // once per condition.
        let first_repeat = plan
            .items
            .iter()
            .position(|i| i.repeat)
            .unwrap_or(plan.items.len());
        assert!(
            plan.items[first_repeat..]
                .iter()
                .all(|i| i.repeat && i.question == "likert")
        );
        for r in &study.repeats {
            let again: BTreeSet<&str> = plan.items[first_repeat..]
                .iter()
                .filter(|i| &i.case == r)
                .map(|i| i.condition.as_str())
                .collect();
            assert_eq!(again.len(), c, "{}: repeats of {r}", plan.reader);
        }
        for it in &plan.items[..first_repeat] {
            if !order.contains(&it.case.as_str()) {
                order.push(&it.case);
            }
            per_case.entry(&it.case).or_default().push(it);
        }
        assert_eq!(order.len(), n, "{}: every case", plan.reader);
        // Position counts of each condition among the Likert questions.
        let mut at: BTreeMap<(&str, usize), usize> = BTreeMap::new();
        let mut sides: BTreeMap<(&str, bool), usize> = BTreeMap::new();
        for (p, case) in order.iter().enumerate() {
            let items = &per_case[case];
            assert_eq!(items[0].question, "localise", "the click comes first");
            assert_eq!(items[1].question, "confidence");
            let likert: Vec<&str> = items
                .iter()
                .filter(|i| i.question == "likert" && i.condition != "check")
                .map(|i| i.condition.as_str())
                .collect();
            let set: BTreeSet<&str> = likert.iter().copied().collect();
            assert_eq!(likert.len(), c, "each condition once for {case}");
            assert_eq!(set.len(), c);
            for (j, cond) in likert.iter().enumerate() {
                *at.entry((cond, j)).or_default() += 1;
            }
            // A full block of c cases: a Latin square.
            if (p + 1) % c == 0 {
                for cond in conds {
                    for j in 0..c {
                        assert_eq!(
                            at.get(&(cond.as_str(), j)).copied().unwrap_or(0),
                            (p + 1) / c,
                            "{}: {cond} at position {j} after {} cases",
                            plan.reader,
                            p + 1
                        );
                    }
                }
            }
            let pairs: Vec<&str> = items
                .iter()
                .filter(|i| i.question == "pairwise")
                .map(|i| i.condition.as_str())
                .collect();
            assert_eq!(pairs.len(), (maps.len() >= 2) as usize);
            for pr in pairs {
                let (a, b) = pr.split_once('|').unwrap();
                assert!(a != "none" && b != "none" && a != b);
                *sides.entry((a, true)).or_default() += 1;
                *sides.entry((b, false)).or_default() += 1;
            }
        }
        for cond in conds {
            let counts: Vec<usize> = (0..c)
                .map(|j| at.get(&(cond.as_str(), j)).copied().unwrap_or(0))
                .collect();
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(
                hi - lo <= 1,
                "{}: {cond} by position {counts:?}",
                plan.reader
            );
        }
        // Over 2·P cases each map condition is left as often as right.
        let p = maps.len() * (maps.len() - 1) / 2;
        if p > 0 && n.is_multiple_of(2 * p) {
            for m in &maps {
                let (l, r) = (
                    sides.get(&(m.as_str(), true)).copied().unwrap_or(0),
                    sides.get(&(m.as_str(), false)).copied().unwrap_or(0),
                );
                assert_eq!(l, r, "{}: {m} left {l} right {r}", plan.reader);
            }
        }
    }
}

#[test]
fn plans_are_balanced_complete_and_reproducible() {
    let dir = crate::support::scratch("study-design");
    for (n, conds) in [
        (
            20,
            &["attention", "gradcam", "chefer", "none", "random"][..],
        ),
        (
            23,
            &["attention", "gradcam", "chefer", "none", "random"][..],
        ),
        (12, &["chefer", "none", "random"][..]),
        (7, &["gradcam"][..]),
    ] {
        let d = dir.join(format!("n{n}"));
        let file = project(&d, n);
        for seed in [0, 1, 99] {
            let a = new_study(&file, "p.ron".into(), &design(seed, conds)).unwrap();
            assert_eq!(a.cases.len(), n);
            assert_eq!(a.attention_checks.len(), 2);
            assert_eq!(a.repeats.len(), 2);
            check(&a);
            let b = new_study(&file, "p.ron".into(), &design(seed, conds)).unwrap();
            assert_eq!(a.to_ron(), b.to_ron(), "the same seed, the same file");
            let other = new_study(&file, "p.ron".into(), &design(seed + 1000, conds)).unwrap();
            if n > 1 {
                assert_ne!(a.readers, other.readers, "another seed, another plan");
            }
        }
    }
}

#[test]
fn a_bad_design_is_refused() {
    let dir = crate::support::scratch("study-design-bad");
    let file = project(&dir, 4);
    let base = design(0, &["chefer", "none"]);
    for (d, says) in [
        (
            Design {
                conditions: vec!["Chefer".into()],
                ..base.clone()
            },
            "not a method",
        ),
        (
            Design {
                conditions: vec!["chefer".into(), "chefer".into()],
                ..base.clone()
            },
            "twice",
        ),
        (
            Design {
                readers: vec!["a b".into()],
                ..base.clone()
            },
            "not an id",
        ),
        (
            Design {
                cases: Some(9),
                ..base.clone()
            },
            "4 image(s)",
        ),
        (
            Design {
                attention_checks: 5,
                ..base.clone()
            },
            "more than",
        ),
        (
            Design {
                case_ids: Some(vec!["ghost".into()]),
                ..base.clone()
            },
            "no image 'ghost'",
        ),
    ] {
        let e = new_study(&file, "p.ron".into(), &d).unwrap_err();
        assert!(e.contains(says), "{e}");
    }
}
