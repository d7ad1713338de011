//! The README's quick start, run as written: its marked shell block is fed
//! step by step (steps are separated by blank lines) to one bash inside a
//! lab host, with the freshly built `ocbgpd` and `ocbgp` first on `PATH`.
//!
//! A step is retried until it succeeds and shows what it should, within a
//! bound: a newcomer typing the commands waits for the daemon to come up
//! and the session to establish in the same way. Steps that start a
//! background process (`... &`) run once, with that process's output sent
//! to `background.log` in the host's folder so that its log lines never
//! pass for a command's output.

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ocbgp_tests::lab::Lab;
use ocbgp_tests::{bin_path, repo_root};

/// The comment line that introduces the tested block.
const MARKER: &str = "<!-- quickstart:";

/// How long one step may take to succeed, retries included.
const STEP_LIMIT: Duration = Duration::from_secs(60);

/// What a step's output must contain, by a command the step runs. Every
/// entry must match a step: the README and this test change together.
const EXPECT: &[(&str, &[&str])] = &[
    ("ocbgp capabilities", &["openconfig-bgp", "JSON_IETF"]),
    ("ocbgp neighbor\n", &["127.0.0.2", "65001", "ESTABLISHED"]),
    (
        "ocbgp global rib\n",
        &["203.0.113.0/24", "127.0.0.2", "65001"],
    ),
    ("ocbgp global rib 203.0.113.9", &["203.0.113.0/24"]),
    ("ocbgp neighbor 127.0.0.2\n", &["ESTABLISHED", "65001"]),
    ("ocbgp neighbor 127.0.0.2 adj-out", &["198.51.100.0/24"]),
    ("/bgp/global/state'", &["64512"]),
];

/// The quick start's steps: the shell block after the marker, split at
/// blank lines, comments kept (bash ignores them).
fn steps() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).expect("read README.md");
    let after = readme
        .split_once(MARKER)
        .expect("README.md has the quick start marker")
        .1;
    let block = after
        .split_once("```sh\n")
        .expect("a sh block after the marker")
        .1;
    let block = block.split_once("\n```").expect("the block ends").0;
    block
        .split("\n\n")
        .map(|s| format!("{}\n", s.trim_end()))
        .filter(|s| s.lines().any(|l| !l.trim_start().starts_with('#')))
        .collect()
}

/// `step` with the output of its background commands sent to a log file.
fn quiet_background(step: &str) -> String {
    step.lines()
        .map(|l| match l.trim_end().strip_suffix('&') {
            Some(cmd) if !l.trim_start().starts_with('#') => {
                format!("{} >>background.log 2>&1 &\n", cmd.trim_end())
            }
            _ => format!("{l}\n"),
        })
        .collect()
}

/// One bash kept open across steps (background jobs and the working
/// folder persist), output read line by line on a thread.
struct Shell {
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    next: u32,
}

impl Shell {
    /// Runs `script` and returns its exit status and output, or `None` if
    /// it did not finish within `limit` (the shell is then unusable).
    fn run(&mut self, script: &str, limit: Duration) -> Option<(i32, String)> {
        self.next += 1;
        let token = format!("__quickstart_step_{}__", self.next);
        // A subshell-free run: `&` jobs must stay in this shell.
        write!(self.stdin, "{script}\necho \"{token} $?\"\n").expect("write to bash");
        self.stdin.flush().expect("flush bash input");
        let deadline = Instant::now() + limit;
        let mut out = String::new();
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.strip_prefix(&token) {
                return Some((rest.trim().parse().unwrap_or(-1), out));
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
}

#[test]
fn readme_quick_start_runs_as_written() {
    let steps = steps();
    for (needle, _) in EXPECT {
        assert!(
            steps.iter().any(|s| s.contains(needle)),
            "the quick start has no step running {needle:?}: update this test with the README"
        );
    }

    let lab = Lab::new("quickstart");
    let host = lab.host("qs");
    let bin_dir = bin_path("ocbgpd")
        .parent()
        .expect("target dir")
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut child = host
        .command("bash")
        .arg("--noprofile")
        .arg("--norc")
        .current_dir(host.dir())
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start bash in the lab host");
    let stdout = child.stdout.take().expect("bash stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut shell = Shell {
        stdin: child.stdin.take().expect("bash stdin"),
        lines: rx,
        next: 0,
    };
    // Errors of every command show in the output the checks read.
    shell
        .run("exec 2>&1", Duration::from_secs(5))
        .expect("bash answers");

    for step in &steps {
        let background = step.lines().any(|l| l.trim_end().ends_with('&'));
        let step = &quiet_background(step);
        let wanted: Vec<&str> = EXPECT
            .iter()
            .filter(|(needle, _)| step.contains(needle))
            .flat_map(|(_, texts)| texts.iter().copied())
            .collect();
        let deadline = Instant::now() + STEP_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (status, out) = shell
                .run(step, left.max(Duration::from_secs(1)))
                .unwrap_or_else(|| panic!("step did not finish in {STEP_LIMIT:?}:\n{step}"));
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|w| !out.contains(w))
                .collect();
            if background || (status == 0 && missing.is_empty()) {
                assert_eq!(status, 0, "step failed:\n{step}\n{out}");
                break;
            }
            if Instant::now() >= deadline {
                panic!(
                    "step never succeeded in {STEP_LIMIT:?} (exit {status}, missing {missing:?}):\n{step}\n{out}\nlogs in {}",
                    host.dir().display()
                );
            }
            // Polling a condition the commands themselves report; the
            // interval only paces the retries.
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    let _ = child.kill();
    let _ = child.wait();
}
