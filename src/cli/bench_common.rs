//! What the benchmark suites share: medians of timed repetitions, and a PyTorch process that
//! times the reference's loops on request, so that they alternate with vitscope's in one run.

use std::time::Instant;

use anyhow::Result;

/// The median of some timings.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A pause of `ms` before a side's turn in an alternating run: the other side's threads go
/// idle, and both sides start from cores that have waited alike.
pub fn pause(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

/// The median of `iters` timed calls of `f`, in seconds.
pub fn time<T>(iters: u32, mut f: impl FnMut() -> T) -> f64 {
    median(
        (0..iters.max(1))
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// A running PyTorch script (a server: it prints `ready TORCH TIMM`, then one line of seconds
/// for each line it reads), so that its loops and vitscope's alternate in one run.
pub struct TorchLoop {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
    python: String,
    /// The versions it reported.
    pub versions: String,
}

impl TorchLoop {
    /// Starts `script` under `$VITSCOPE_PYTHON` (else `python3`) with `args` (the thread count
    /// first) and waits until it is ready.
    pub fn start(script: &str, args: &[&str]) -> Result<Self> {
        use std::process::{Command, Stdio};
        let python = std::env::var("VITSCOPE_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .args(["-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("{python}: {e}"))?;
        let (input, output) = match (child.stdin.take(), child.stdout.take()) {
            (Some(i), Some(o)) => (i, std::io::BufReader::new(o)),
            _ => anyhow::bail!("{python}: no pipes"),
        };
        let mut me = TorchLoop {
            child,
            input,
            output,
            python,
            versions: String::new(),
        };
        let line = me.line()?;
        let mut words = line.split_whitespace();
        if words.next() != Some("ready") {
            anyhow::bail!("{}: unexpected output {line:?}", me.python);
        }
        me.versions = format!(
            "torch {}, timm {}",
            words.next().unwrap_or("?"),
            words.next().unwrap_or("?")
        );
        Ok(me)
    }

    /// One line of output; at its end, the last line of the interpreter's error output.
    fn line(&mut self) -> Result<String> {
        use std::io::{BufRead, Read};
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            let mut err = String::new();
            if let Some(mut e) = self.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            let last = err.lines().last().unwrap_or("exited");
            anyhow::bail!("{}: PyTorch's loop failed: {last}", self.python);
        }
        Ok(line.trim().to_string())
    }

    /// The interpreter it runs under.
    pub fn python_name(&self) -> &str {
        &self.python
    }

    /// Sends `request` and reads the seconds it took.
    pub fn run(&mut self, request: &str) -> Result<f64> {
        use std::io::Write;
        writeln!(self.input, "{request}")?;
        self.input.flush()?;
        let line = self.line()?;
        line.parse()
            .map_err(|_| anyhow::anyhow!("{}: no time in {line:?}", self.python))
    }
}

impl Drop for TorchLoop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
