//! Open a page in headless Chromium, take a screenshot and collect the page's console
//! messages: the check that a report renders in a real browser.
//!
//! Chromium prints the page's console messages (and uncaught errors) to standard
//! error with `--enable-logging=stderr`; a report has no script, so any console line
//! (a script error, a refused request) means something is wrong.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `chromium` package installs the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Errors while rendering a page in Chromium.
#[derive(Debug, thiserror::Error)]
pub enum ChromiumError {
    /// The browser could not be started.
    #[error("cannot start {binary}: {source}\n  help: install it with `apt-get install chromium`")]
    Launch {
        /// The browser binary.
        binary: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The browser did not finish in time and was stopped.
    #[error("{binary} did not finish within {seconds} s")]
    Timeout {
        /// The browser binary.
        binary: PathBuf,
        /// The time allowed.
        seconds: u64,
    },
    /// The browser exited without writing the screenshot.
    #[error("{binary} wrote no screenshot to {path} (exit {status}); its output:\n{stderr}")]
    NoScreenshot {
        /// The browser binary.
        binary: PathBuf,
        /// The screenshot asked for.
        path: PathBuf,
        /// Its exit status.
        status: String,
        /// What it printed.
        stderr: String,
    },
    /// A temporary profile directory could not be made.
    #[error("cannot create a browser profile directory in {path}: {source}")]
    Profile {
        /// Where it was to be made.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// What a render produced.
#[derive(Debug)]
pub struct Rendered {
    /// The screenshot (PNG).
    pub screenshot: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its width and height in pixels, from the PNG header.
    pub size: Option<(u32, u32)>,
    /// The page's console messages and uncaught errors, one per line.
    pub console: Vec<String>,
    /// Everything the browser printed.
    pub stderr: String,
}

/// The lines of Chromium's log that report the page's console or an uncaught error.
pub fn console_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

/// Width and height of a PNG file from its header.
pub fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];
    if bytes.len() < 24 || bytes[..8] != SIGNATURE || &bytes[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(bytes[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(bytes[20..24].try_into().ok()?);
    Some((w, h))
}

/// Open `page` in headless Chromium (`browser`, usually [`CHROMIUM`]) with a fresh
/// profile and no network services, save a screenshot of `window` pixels to
/// `screenshot`, and return it with the page's console lines.
pub fn render(
    browser: &Path,
    page: &Path,
    screenshot: &Path,
    window: (u32, u32),
    timeout: Duration,
) -> Result<Rendered, ChromiumError> {
    let page = std::path::absolute(page).unwrap_or_else(|_| page.to_path_buf());
    let profile_root = std::env::temp_dir();
    static RENDERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let profile = profile_root.join(format!(
        "agora-chromium-{}-{}",
        std::process::id(),
        RENDERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let profile = unique_dir(&profile).map_err(|source| ChromiumError::Profile {
        path: profile_root.clone(),
        source,
    })?;
    if let Some(parent) = screenshot.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let _ = std::fs::remove_file(screenshot);
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("--window-size={},{}", window.0, window.1))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ChromiumError::Launch {
            binary: browser.to_path_buf(),
            source,
        })?;
    // Read standard error on a thread so a chatty browser never blocks on a full pipe.
    let mut pipe = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.to_string(),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_dir_all(&profile);
                return Err(ChromiumError::Timeout {
                    binary: browser.to_path_buf(),
                    seconds: timeout.as_secs(),
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => break e.to_string(),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    let _ = std::fs::remove_dir_all(&profile);
    let Ok(png) = std::fs::read(screenshot) else {
        return Err(ChromiumError::NoScreenshot {
            binary: browser.to_path_buf(),
            path: screenshot.to_path_buf(),
            status,
            stderr,
        });
    };
    Ok(Rendered {
        screenshot: screenshot.to_path_buf(),
        bytes: png.len() as u64,
        size: png_size(&png),
        console: console_lines(&stderr),
        stderr,
    })
}

/// Create a new directory at `base` (or `base-1`, `base-2`, ... when taken).
fn unique_dir(base: &Path) -> std::io::Result<PathBuf> {
    let mut path = base.to_path_buf();
    for i in 1.. {
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && i < 1000 => {
                path = PathBuf::from(format!("{}-{i}", base.display()));
            }
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_are_found_in_chromium_logs() {
        let log = "[1:1:1129/120000.1:ERROR:dbus/bus.cc(408)] Failed to connect to the bus\n\
                   [1:1:1129/120000.2:INFO:CONSOLE(3)] \"Uncaught Error: boom\", source: file:///r.html (3)\n\
                   plain line\n";
        let lines = console_lines(log);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("boom"));
        assert!(console_lines("[1:1:ERROR:gpu] no GPU\n").is_empty());
    }

    #[test]
    fn png_sizes_come_from_the_header() {
        let mut png = vec![
            0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', 0, 0, 0, 13,
        ];
        png.extend_from_slice(b"IHDR");
        png.extend_from_slice(&1280u32.to_be_bytes());
        png.extend_from_slice(&4000u32.to_be_bytes());
        assert_eq!(png_size(&png), Some((1280, 4000)));
        assert_eq!(png_size(b"GIF89a"), None);
    }
}
