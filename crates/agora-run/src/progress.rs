//! How a running experiment reports progress, without the library printing anything.

use agora_core::scheduler::{Progress, Silent};

/// Creates a progress observer for each run of an experiment (a progress bar, a log).
pub trait RunProgress: Sync {
    /// A run labelled `label` (`arm/replicate`) starts; `total` decisions are expected.
    fn start(&self, label: &str, total: u64) -> Box<dyn Progress>;
}

/// Reports nothing.
pub struct NoProgress;

impl RunProgress for NoProgress {
    fn start(&self, _label: &str, _total: u64) -> Box<dyn Progress> {
        Box::new(Silent)
    }
}
