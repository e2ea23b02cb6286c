//! How a long job of the core (eval, a layer sweep, the faithfulness and sanity runs over a
//! dataset, training, phantom data) tells its front end how far it is, and learns that it should
//! stop. The CLI shows a progress bar ([`Progress`] over indicatif, in `cli/`); the workbench
//! and the tests pass their own; [`Silent`] shows nothing.

/// The front end's side of a long job. Every method may be called from the job's thread only;
/// none may block for long.
pub trait Progress: Sync {
    /// The job has `len` steps in all.
    fn set_len(&self, len: u64);
    /// `n` more steps are done.
    fn inc(&self, n: u64);
    /// What the job works on now (a checkpoint, a method, an image).
    fn set_message(&self, message: &str);
    /// A line the user should read (a loaded checkpoint, an epoch's scores, a warning).
    fn println(&self, line: &str);
    /// The job is over (done, failed or cancelled).
    fn finish(&self) {}
    /// Whether the user asked the job to stop; a job looks between steps and then returns
    /// [`Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }
}

/// Shows nothing and never cancels; lines go to stderr.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn set_len(&self, _len: u64) {}
    fn inc(&self, _n: u64) {}
    fn set_message(&self, _message: &str) {}
    fn println(&self, line: &str) {
        eprintln!("{line}");
    }
}

/// A job stopped because its [`Progress`] said so; nothing it would have written was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

/// Returns [`Cancelled`] when the front end asked the job to stop.
pub fn check(progress: &dyn Progress) -> Result<(), Cancelled> {
    if progress.cancelled() {
        Err(Cancelled)
    } else {
        Ok(())
    }
}
