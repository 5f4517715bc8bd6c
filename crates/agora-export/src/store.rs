//! Where an experiment's files are kept: a local directory, or an object store.
//!
//! An output named by a URL (`s3://bucket/prefix`, `gs://bucket/prefix`,
//! `az://container/prefix`) is written through a local *staging directory*: every
//! writer of this crate and of the engine writes there exactly as it writes a local
//! output (same bytes, same speed), and an [`ObjectOutput`] mounted on the staging
//! directory mirrors each file to the store once it is complete ([`publish`]) and each
//! removal ([`remove_file`], [`remove_dir_all`]). Parquet segments go up by multipart
//! upload, which makes an object visible only once all of it arrived, so a reader of
//! the store never sees half a file. Checkpoints are published after the segments they
//! describe and the manifest after everything else, as on a local disk. A command
//! working on an object-store output first copies what it needs of the store into its
//! staging directory ([`ObjectOutput::pull`]), so resuming and merging work there too.
//!
//! For a local output nothing is mounted and [`publish`] returns at once.
//!
//! Credentials and endpoints come from the environment as the clouds' own tools read
//! them: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP` (for a local S3-compatible server);
//! `GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_APPLICATION_CREDENTIALS`; `AZURE_STORAGE_ACCOUNT_NAME`,
//! `AZURE_STORAGE_ACCOUNT_KEY` and the other `AZURE_*` settings.

use std::future::Future;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, ObjectStoreScheme, WriteMultipart};

/// Size of the parts of a multipart upload (S3 needs at least 5 MiB but for the last).
const PART_BYTES: usize = 8 << 20;

/// Parts of one file uploaded at once.
const PARTS_IN_FLIGHT: usize = 4;

/// Errors of an object-store output.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no object store Agora can write to.
    #[error(
        "{url}: {message}; an object-store output is s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX"
    )]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The store could not be reached or refused a request.
    #[error("{url}: {action}: {source}")]
    Store {
        /// The output's URL.
        url: String,
        /// What was being done (`uploading KEY`, ...).
        action: String,
        /// The underlying error.
        source: object_store::Error,
    },
    /// A local file of the staging directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The background runtime of the store's client stopped.
    #[error("{url}: the object-store client stopped")]
    ClientGone {
        /// The output's URL.
        url: String,
    },
}

/// Whether `output` names an object store (`s3://`, `gs://`, `az://` and the other
/// schemes of those clouds) rather than a local directory.
pub fn is_object_url(output: &str) -> bool {
    let Some((scheme, rest)) = output.split_once("://") else {
        return false;
    };
    !rest.is_empty()
        && matches!(
            scheme.to_ascii_lowercase().as_str(),
            "s3" | "s3a" | "gs" | "az" | "adl" | "azure" | "abfs" | "abfss"
        )
}

/// An experiment output in an object store, mirrored from a local staging directory.
pub struct ObjectOutput {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    staging: PathBuf,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for ObjectOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectOutput")
            .field("url", &self.url)
            .field("staging", &self.staging)
            .finish()
    }
}

impl ObjectOutput {
    /// Connect to the store named by `url` (credentials from the environment), staging
    /// files in `staging` (created, and emptied of anything an earlier process left).
    pub fn open(url: &str, staging: PathBuf) -> Result<Self, StoreError> {
        let bad = |message: String| StoreError::Url {
            url: url.to_string(),
            message,
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(format!("not a URL ({e})")))?;
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("the bucket is missing".into()));
        }
        let (scheme, prefix) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| bad(format!("{e}")))?;
        install_crypto();
        let built: Result<Arc<dyn ObjectStore>, object_store::Error> = match scheme {
            ObjectStoreScheme::AmazonS3 => object_store::aws::AmazonS3Builder::from_env()
                .with_url(url)
                .build()
                .map(|s| Arc::new(s) as _),
            ObjectStoreScheme::GoogleCloudStorage => {
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map(|s| Arc::new(s) as _)
            }
            ObjectStoreScheme::MicrosoftAzure => {
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .build()
                    .map(|s| Arc::new(s) as _)
            }
            other => return Err(bad(format!("{other:?} is not an object store"))),
        };
        let store = built.map_err(|source| StoreError::Store {
            url: url.to_string(),
            action: "configuring the client (check the credentials in the environment)".into(),
            source,
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("agora-store")
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io {
                path: staging.clone(),
                source,
            })?;
        match std::fs::remove_dir_all(&staging) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StoreError::Io {
                    path: staging,
                    source: e,
                });
            }
            _ => {}
        }
        std::fs::create_dir_all(&staging).map_err(|source| StoreError::Io {
            path: staging.clone(),
            source,
        })?;
        Ok(Self {
            url: url.trim_end_matches('/').to_string(),
            store,
            prefix,
            staging,
            runtime,
        })
    }

    /// The output's URL, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The local staging directory mirrored to the store.
    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Run `work` on the client's runtime and wait for it (from any thread, also from
    /// inside another async runtime).
    fn block<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv().unwrap_or_else(|_| {
            Err(StoreError::ClientGone {
                url: self.url.clone(),
            })
        })
    }

    /// The key of the staging file `local`; `None` for a path outside the staging
    /// directory.
    fn key(&self, local: &Path) -> Option<ObjectPath> {
        let relative = local.strip_prefix(&self.staging).ok()?;
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        for component in relative.components() {
            match component {
                Component::Normal(name) => parts.push(name.to_string_lossy().into_owned()),
                Component::CurDir => {}
                _ => return None,
            }
        }
        Some(ObjectPath::from_iter(parts))
    }

    /// The path below the output of `key` (`TABLE/arm=A/...`), `None` outside it.
    fn relative(&self, key: &ObjectPath) -> Option<String> {
        let parts: Vec<String> = key
            .prefix_match(&self.prefix)?
            .map(|p| p.as_ref().to_string())
            .collect();
        (!parts.is_empty()).then(|| parts.join("/"))
    }

    fn store_error(
        &self,
        action: String,
    ) -> impl FnOnce(object_store::Error) -> StoreError + Send + use<> {
        let url = self.url.clone();
        move |source| StoreError::Store {
            url,
            action,
            source,
        }
    }

    /// Copy the complete file `local` of the staging directory to the store: a Parquet
    /// file by multipart upload in parts of 8 MiB, anything else in one request.
    pub fn upload(&self, local: &Path) -> Result<(), StoreError> {
        let Some(key) = self.key(local) else {
            return Ok(());
        };
        let store = self.store.clone();
        let path = local.to_path_buf();
        let fail = self.store_error(format!("uploading {key}"));
        let multipart = local.extension().is_some_and(|e| e == "parquet");
        self.block(async move {
            let io = |source| StoreError::Io {
                path: path.clone(),
                source,
            };
            if !multipart {
                let bytes = std::fs::read(&path).map_err(io)?;
                return store
                    .put(&key, bytes.into())
                    .await
                    .map(|_| ())
                    .map_err(fail);
            }
            let mut file = std::fs::File::open(&path).map_err(io)?;
            let upload = match store.put_multipart(&key).await {
                Ok(u) => u,
                Err(e) => return Err(fail(e)),
            };
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buffer = vec![0u8; PART_BYTES];
            loop {
                let n = match file.read(&mut buffer) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(io(e));
                    }
                };
                if n == 0 {
                    break;
                }
                if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                    let _ = writer.abort().await;
                    return Err(fail(e));
                }
                writer.write(&buffer[..n]);
            }
            writer.finish().await.map(|_| ()).map_err(fail)
        })
    }

    /// Remove the object of staging path `local` and every object below it (a
    /// directory's); objects that are not there are no error.
    pub fn remove(&self, local: &Path) -> Result<(), StoreError> {
        let Some(key) = self.key(local) else {
            return Ok(());
        };
        let store = self.store.clone();
        let fail = self.store_error(format!("removing {key}"));
        self.block(async move {
            let mut keys = vec![key.clone()];
            let mut below = store.list(Some(&key));
            while let Some(meta) = below.next().await {
                match meta {
                    Ok(meta) => keys.push(meta.location),
                    Err(object_store::Error::NotFound { .. }) => break,
                    Err(e) => return Err(fail(e)),
                }
            }
            drop(below);
            for key in keys {
                match store.delete(&key).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(fail(e)),
                }
            }
            Ok(())
        })
    }

    /// The paths below the output (`manifest.json`, `TABLE/arm=A/replicate=R/...`) of
    /// every object the store holds there.
    pub fn list(&self) -> Result<Vec<String>, StoreError> {
        let store = self.store.clone();
        let prefix = self.prefix.clone();
        let fail = self.store_error("listing the output".into());
        let keys = self.block(async move {
            let mut found = Vec::new();
            let mut objects = store.list(Some(&prefix));
            while let Some(meta) = objects.next().await {
                match meta {
                    Ok(meta) => found.push(meta.location),
                    Err(e) => return Err(fail(e)),
                }
            }
            Ok(found)
        })?;
        let mut relative: Vec<String> = keys.iter().filter_map(|k| self.relative(k)).collect();
        relative.sort();
        Ok(relative)
    }

    /// Copy the objects of the output whose path below it (`TABLE/arm=A/...`) `wanted`
    /// accepts into the staging directory; returns how many were copied.
    pub fn pull(&self, wanted: &dyn Fn(&str) -> bool) -> Result<usize, StoreError> {
        let keys: Vec<String> = self.list()?.into_iter().filter(|k| wanted(k)).collect();
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        let base = parts.len();
        for relative in &keys {
            parts.truncate(base);
            parts.extend(relative.split('/').map(String::from));
            let key = ObjectPath::from_iter(parts.iter().map(String::as_str));
            let local = self.staging.join(relative);
            let store = self.store.clone();
            let url = self.url.clone();
            let bytes = self.block(async move {
                let fail = |source| StoreError::Store {
                    url,
                    action: format!("downloading {key}"),
                    source,
                };
                match store.get(&key).await {
                    Ok(got) => got.bytes().await.map_err(fail),
                    Err(e) => Err(fail(e)),
                }
            })?;
            if let Some(dir) = local.parent() {
                std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&local, &bytes).map_err(|source| StoreError::Io {
                path: local.clone(),
                source,
            })?;
        }
        Ok(keys.len())
    }
}

/// rustls needs a process-wide crypto provider; the workspace's is ring.
fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether any output is mounted (the common, local case answers without a lock).
static ANY_MOUNTED: AtomicBool = AtomicBool::new(false);

/// The object-store outputs of this process, by staging directory.
static MOUNTED: RwLock<Vec<Arc<ObjectOutput>>> = RwLock::new(Vec::new());

/// Mirror every file later published below `output`'s staging directory to its store.
pub fn mount(output: Arc<ObjectOutput>) {
    let mut mounted = MOUNTED.write().unwrap_or_else(|e| e.into_inner());
    mounted.push(output);
    ANY_MOUNTED.store(true, Ordering::Release);
}

/// Stop mirroring `output`'s staging directory.
pub fn unmount(output: &ObjectOutput) {
    let mut mounted = MOUNTED.write().unwrap_or_else(|e| e.into_inner());
    mounted.retain(|m| m.staging != output.staging);
    ANY_MOUNTED.store(!mounted.is_empty(), Ordering::Release);
}

/// The mounted output whose staging directory holds `path`.
fn mounted_for(path: &Path) -> Option<Arc<ObjectOutput>> {
    if !ANY_MOUNTED.load(Ordering::Acquire) {
        return None;
    }
    let mounted = MOUNTED.read().unwrap_or_else(|e| e.into_inner());
    mounted
        .iter()
        .find(|m| path.starts_with(&m.staging))
        .cloned()
}

/// The file `path` is complete: copy it to the object store when it lies in a mounted
/// staging directory (and do nothing for a local output). Returns once it is stored.
pub fn publish(path: &Path) -> Result<(), StoreError> {
    match mounted_for(path) {
        Some(output) => output.upload(path),
        None => Ok(()),
    }
}

/// Remove the file `path`, and its object when it lies in a mounted staging directory.
pub fn remove_file(path: &Path) -> std::io::Result<()> {
    removed_with_objects(path, std::fs::remove_file(path))
}

/// Remove the directory `path` with everything below it, and its objects when it lies
/// in a mounted staging directory.
pub fn remove_dir_all(path: &Path) -> std::io::Result<()> {
    removed_with_objects(path, std::fs::remove_dir_all(path))
}

/// After removing `path` locally (`local`), remove its objects when it lies in a
/// mounted staging directory; there, a path staged nowhere locally is not an error.
fn removed_with_objects(path: &Path, local: std::io::Result<()>) -> std::io::Result<()> {
    if let Some(output) = mounted_for(path) {
        output.remove(path).map_err(std::io::Error::other)?;
        if let Err(e) = &local
            && e.kind() == std::io::ErrorKind::NotFound
        {
            return Ok(());
        }
    }
    local
}

/// The staging directory for the output `url` in this process: below
/// `$AGORA_STAGING_DIR`, else `$XDG_CACHE_HOME/agora/staging` or
/// `~/.cache/agora/staging`, else the system's temporary directory. The name holds a
/// hash of the URL and the process id, so shards on one machine never share one.
pub fn staging_dir(url: &str) -> PathBuf {
    let base = std::env::var_os("AGORA_STAGING_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(|d| PathBuf::from(d).join("agora").join("staging"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agora/staging")))
        .unwrap_or_else(|| std::env::temp_dir().join("agora-staging"));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in url.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    base.join(format!("{h:016x}-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_urls_are_told_from_paths() {
        assert!(is_object_url("s3://bucket/prefix"));
        assert!(is_object_url("gs://bucket"));
        assert!(is_object_url("az://container/a/b"));
        assert!(!is_object_url("runs/survey"));
        assert!(!is_object_url("/tmp/s3://x"));
        assert!(!is_object_url("s3://"));
        assert!(!is_object_url("http://example.com/x"));
    }

    #[test]
    fn a_url_without_a_bucket_or_of_another_scheme_is_refused_with_the_forms() {
        let dir = tempfile::tempdir().unwrap();
        let err = ObjectOutput::open("ftp://host/x", dir.path().join("s"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("s3://BUCKET/PREFIX"), "{err}");
        let err = ObjectOutput::open("s3:///x", dir.path().join("s"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bucket"), "{err}");
    }

    #[test]
    fn staging_paths_map_to_keys_below_the_prefix_and_back() {
        let dir = tempfile::tempdir().unwrap();
        // No request is made: building a client only reads the environment.
        let output =
            ObjectOutput::open("s3://bucket/some/prefix", dir.path().join("stage")).unwrap();
        let local = output
            .staging()
            .join("decisions/arm=base/replicate=0/part-00001.parquet");
        let key = output.key(&local).unwrap();
        assert_eq!(
            key.as_ref(),
            "some/prefix/decisions/arm=base/replicate=0/part-00001.parquet"
        );
        assert_eq!(
            output.relative(&key).as_deref(),
            Some("decisions/arm=base/replicate=0/part-00001.parquet")
        );
        assert!(output.key(Path::new("/elsewhere/x")).is_none());
        assert_eq!(
            output
                .key(&output.staging().join(".agora/runs/base/0"))
                .unwrap()
                .as_ref(),
            "some/prefix/.agora/runs/base/0"
        );
        // Without a mount, publishing is a no-op.
        assert!(publish(&local).is_ok());
    }

    #[test]
    fn staging_directories_differ_by_url() {
        assert_ne!(staging_dir("s3://a/x"), staging_dir("s3://a/y"));
        assert_eq!(staging_dir("s3://a/x"), staging_dir("s3://a/x"));
    }
}
