//! Reader studies.

mod design;
mod generated;
mod parity;
mod reader_ui;
mod reader_x11;
mod refusals;

/// A copy of the bundled demo in `dir` and a study over it at `dir/study.ron`, made by
/// `vitscope study new` with all four questions and `args` (conditions, readers, …).
pub(crate) fn demo_study(dir: &std::path::Path, args: &[&str]) -> std::path::PathBuf {
    let project = crate::support::copy_demo(dir);
    let study = dir.join("study.ron");
    crate::support::succeeded(
        crate::support::vitscope()
            .args(["study", "new", "--project"])
            .arg(&project)
            .args(["--questions", "likert,pairwise,localise,confidence"])
            .args(args)
            .arg("--out")
            .arg(&study)
            .output()
            .unwrap(),
        "study new",
    );
    study
}
