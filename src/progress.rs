//! Progress bars for long runs (hidden when quiet or when stderr is not a terminal).

use agora_core::scheduler::Progress;
use agora_run::RunProgress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// A progress bar per run in flight, one line each, unless `hidden`.
pub struct Bars {
    hidden: bool,
    lines: MultiProgress,
}

impl Bars {
    /// Bars on standard error, or none when `hidden`.
    pub fn new(hidden: bool) -> Self {
        Self {
            hidden,
            lines: MultiProgress::new(),
        }
    }
}

impl RunProgress for Bars {
    fn start(&self, label: &str, total: u64) -> Box<dyn Progress> {
        let bar = Bar::new(total, label.to_string(), self.hidden);
        if !self.hidden {
            self.lines.add(bar.bar.clone());
        }
        Box::new(bar)
    }
}

/// Decisions-based progress bar over a whole run; cleared when dropped.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar expecting `total` decisions; `hidden` shows nothing.
    pub fn new(total: u64, label: String, hidden: bool) -> Self {
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(total)
        };
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} decisions, round {msg} ({per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label);
        Self { bar }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn round_started(&mut self, round: u32, max_rounds: u32) {
        self.bar.set_message(format!("{round}/{max_rounds}"));
    }

    fn decided(&mut self, n: u64) {
        self.bar.inc(n);
    }
}
