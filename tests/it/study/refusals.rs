//! Response files and inputs `study analyze` refuses: one `error:` line naming the file (and
//! the line of the response file), exit 1, nothing on stdout, nothing written.

const HEAD: &str = "reader,case,condition,question,response,rt_ms,position,session\n";

#[test]
fn bad_response_files_metrics_and_masks_are_refused_naming_the_file() {
    let dir = crate::support::scratch("study-refusals");
    let analyze = |args: &[&str]| {
        crate::support::vitscope()
            .current_dir(&dir)
            .args(["study", "analyze"])
            .args(args)
            .output()
            .unwrap()
    };
    let good = format!(
        "{HEAD}r1,c1,chefer,likert,4,100,1,s1\nr2,c1,chefer,likert,3,,1,s1\nr1,c1,none,localise,1;1,,2,s1\n"
    );
    std::fs::write(dir.join("good.csv"), &good).unwrap();
    for (name, text, says) in [
        ("header.csv", "reader,case\nr1,c1\n".to_string(), "line 1"),
        (
            "fields.csv",
            format!("{HEAD}r1,c1,chefer,likert,4,,1\n"),
            "line 2",
        ),
        (
            "id.csv",
            format!("{HEAD}r 1,c1,chefer,likert,4,,1,s1\n"),
            "line 2",
        ),
        (
            "question.csv",
            format!("{HEAD}r1,c1,chefer,rank,4,,1,s1\n"),
            "line 2",
        ),
        (
            "same.csv",
            format!("{HEAD}r1,c1,chefer|chefer,pairwise,chefer,,1,s1\n"),
            "line 2",
        ),
        (
            "click.csv",
            format!("{HEAD}r1,c1,none,localise,1;nan,,1,s1\n"),
            "line 2",
        ),
        (
            "rt.csv",
            format!("{HEAD}r1,c1,chefer,likert,4,-3,1,s1\n"),
            "line 2",
        ),
        (
            "position.csv",
            format!("{HEAD}r1,c1,chefer,likert,4,,0,s1\n"),
            "line 2",
        ),
        (
            "case.csv",
            format!("{HEAD}r1,C1,Chefer,likert,4,,1,s1\n"),
            "line 2",
        ),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
        let out = analyze(&["--responses", name, "--json", "--out", "o"]);
        let line = crate::support::one_error(&out, name);
        assert!(line.contains(name) && line.contains(says), "{name}: {line}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(!dir.join("o").exists(), "{name}: wrote output");
    }
    // per_image.csv: a missing column, two checkpoints without --checkpoint, an unknown one.
    let metrics = "checkpoint,method,image,annotation,pointing_game,iou_rect@5\na,chefer,c1,mask,1,0.5\nb,chefer,c1,mask,0,0.2\n";
    std::fs::write(dir.join("per_image.csv"), metrics).unwrap();
    for (extra, says) in [
        (vec![], "2 checkpoints"),
        (vec!["--checkpoint", "z"], "no checkpoint 'z'"),
        (
            vec!["--checkpoint", "a", "--metric-columns", "dice@5"],
            "no column 'dice@5'",
        ),
    ] {
        let out = analyze(
            &[
                &[
                    "--responses",
                    "good.csv",
                    "--metrics",
                    "per_image.csv",
                    "--json",
                ][..],
                &extra,
            ]
            .concat(),
        );
        let line = crate::support::one_error(&out, says);
        assert!(
            line.contains("per_image.csv") && line.contains(says),
            "{line}"
        );
    }
    // A localised case without its mask.
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    let out = analyze(&["--responses", "good.csv", "--masks", "masks", "--json"]);
    let line = crate::support::one_error(&out, "no mask");
    assert!(line.contains("c1.png"), "{line}");
    // Neither --json nor --out: a malformed command line.
    let out = analyze(&["--responses", "good.csv"]);
    assert_eq!(out.status.code(), Some(2));
    // The good file goes through.
    let out = analyze(&["--responses", "good.csv", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
