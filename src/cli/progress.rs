//! What the user sees on stderr while a run goes on: a progress bar (only on a terminal) and
//! the input problems, each made safe to print.

use crate::render::sanitize::visible;
use crate::summary::Problem;
use crate::trail::Observer;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};

/// Problems printed one by one before the rest are only counted.
pub const MAX_PRINTED_PROBLEMS: u64 = 20;

pub struct Progress {
    bar: ProgressBar,
    /// A spinner for the stages after reading (correlating, replaying), which have no bytes
    /// to count.
    stage: std::sync::Mutex<Option<ProgressBar>>,
    show_bar: bool,
    interrupted: std::sync::Arc<std::sync::atomic::AtomicBool>,
    print_problems: bool,
    printed: AtomicU64,
    files: AtomicU64,
    done: AtomicU64,
}

impl Progress {
    /// `show_bar` should be true only when stderr is a terminal.
    pub fn new(show_bar: bool, print_problems: bool) -> Progress {
        let bar = if show_bar {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr_with_hz(4))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} \
                 {binary_bytes_per_sec} {msg}",
            )
            .expect("a valid template"),
        );
        Progress {
            bar,
            stage: Default::default(),
            show_bar,
            interrupted: Default::default(),
            print_problems,
            printed: AtomicU64::new(0),
            files: AtomicU64::new(0),
            done: AtomicU64::new(0),
        }
    }
}

impl Progress {
    /// Shows `what` with a spinner (on a terminal) until the next stage or [`Progress::done`].
    pub fn stage(&self, what: &str) {
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = stage.take() {
            old.finish_and_clear();
        }
        if self.show_bar {
            let spinner =
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4));
            spinner.set_style(
                ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .expect("a valid template"),
            );
            spinner.set_message(what.to_string());
            spinner.enable_steady_tick(std::time::Duration::from_millis(250));
            *stage = Some(spinner);
        }
    }

    /// Clears the stage spinner.
    pub fn done(&self) {
        let mut stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = stage.take() {
            old.finish_and_clear();
        }
    }

    /// The flag that cancels the run when set (by a Ctrl-C handler).
    pub fn interrupt_flag(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.interrupted.clone()
    }
}

impl Observer for Progress {
    fn stage(&self, what: &str) {
        Progress::stage(self, what);
    }

    fn cancelled(&self) -> bool {
        self.interrupted.load(Ordering::Relaxed)
    }

    fn listing(&self, folders: u64, objects: u64) {
        let stage = self.stage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(spinner) = stage.as_ref() {
            let plural = |n: u64, one: &str, many: &str| {
                let n_text = crate::text::thousands(&n.to_string());
                format!("{n_text} {}", if n == 1 { one } else { many })
            };
            spinner.set_message(format!(
                "listing S3 objects: {} listed, {} to read",
                plural(folders, "folder", "folders"),
                plural(objects, "object", "objects")
            ));
        }
    }

    fn started(&self, total_bytes: u64, files: u64) {
        // A stage before reading (listing S3) ends here.
        self.done();
        self.bar.set_length(total_bytes);
        self.files.store(files, Ordering::Relaxed);
        self.bar.set_message(format!("0/{files} files"));
    }

    fn input_done(&self, stored_bytes: u64) {
        self.bar.inc(stored_bytes);
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.files.load(Ordering::Relaxed);
        let secs = self.bar.elapsed().as_secs_f64();
        if secs >= 1.0 {
            let rate = done as f64 / secs;
            self.bar
                .set_message(format!("{done}/{total} files, {rate:.0} files/s"));
        } else {
            self.bar.set_message(format!("{done}/{total} files"));
        }
    }

    fn read_progress(&self, stored_bytes: u64) {
        self.bar.inc(stored_bytes);
    }

    fn problem(&self, p: &Problem) {
        if !self.print_problems {
            return;
        }
        let n = self.printed.fetch_add(1, Ordering::Relaxed);
        if n < MAX_PRINTED_PROBLEMS {
            self.bar
                .suspend(|| eprintln!("keytrail: warning: {}", visible(&p.to_string())));
        } else if n == MAX_PRINTED_PROBLEMS {
            self.bar.suspend(|| {
                eprintln!(
                    "keytrail: warning: more input problems; the report's summary counts them all"
                )
            });
        }
    }

    fn finished(&self) {
        self.bar.finish_and_clear();
    }
}
