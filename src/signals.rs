//! Ctrl-C and SIGTERM: the first stops the experiment after the round in progress
//! (checkpointed, resumable); a second one exits at once (still resumable from the last
//! completed round).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

struct Flags {
    stop: Arc<AtomicBool>,
    terminated: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

fn flags() -> &'static Flags {
    FLAGS.get_or_init(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let terminated = Arc::new(AtomicBool::new(false));
        // Order matters: the conditional exit must see the flag of an earlier signal,
        // so it is registered before the flag is set by this one.
        for (signal, code) in [(SIGINT, 130), (SIGTERM, 143)] {
            let registered =
                signal_hook::flag::register_conditional_shutdown(signal, code, stop.clone())
                    .and_then(|_| signal_hook::flag::register(signal, stop.clone()));
            if let Err(e) = registered {
                tracing::warn!("cannot handle signal {signal}: {e}");
            }
        }
        if let Err(e) = signal_hook::flag::register(SIGTERM, terminated.clone()) {
            tracing::warn!("cannot handle SIGTERM: {e}");
        }
        Flags { stop, terminated }
    })
}

/// The flag a signal sets; installs the handlers on first use.
pub fn stop_flag() -> Arc<AtomicBool> {
    flags().stop.clone()
}

/// The exit code after a signal stopped the experiment: 143 for SIGTERM, else 130.
pub fn exit_code() -> u8 {
    if flags().terminated.load(Ordering::SeqCst) {
        143
    } else {
        130
    }
}
