//! Reading and checking a GGUF file before llama.cpp sees it.
//!
//! llama.cpp reports a bad file as a null pointer and a line on its own log. Reading
//! the header here first turns a missing, truncated, corrupt or unsupported file into
//! an error that names the file, says what is wrong and what is supported: a file
//! that passes these checks is one llama.cpp is expected to load.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Architectures the embedded backend runs: the text-generating decoders of the
/// vendored llama.cpp (encoders, embedding models, speculative drafts and diffusion
/// models are left out).
pub const SUPPORTED_ARCHITECTURES: &[&str] = &[
    "llama",
    "llama4",
    "deci",
    "falcon",
    "grok",
    "gpt2",
    "gptj",
    "gptneox",
    "mpt",
    "baichuan",
    "starcoder",
    "refact",
    "bloom",
    "stablelm",
    "qwen",
    "qwen2",
    "qwen2moe",
    "qwen2vl",
    "qwen3",
    "qwen3moe",
    "qwen3next",
    "qwen3vl",
    "qwen3vlmoe",
    "qwen35",
    "qwen35moe",
    "phi2",
    "phi3",
    "phimoe",
    "plamo",
    "plamo2",
    "plamo3",
    "codeshell",
    "orion",
    "internlm2",
    "minicpm",
    "minicpm3",
    "gemma",
    "gemma2",
    "gemma3",
    "gemma3n",
    "gemma4",
    "starcoder2",
    "mamba",
    "mamba2",
    "jamba",
    "falcon-h1",
    "xverse",
    "command-r",
    "cohere2",
    "cohere2moe",
    "dbrx",
    "olmo",
    "olmo2",
    "olmoe",
    "openelm",
    "arctic",
    "deepseek",
    "deepseek2",
    "chatglm",
    "glm4",
    "glm4moe",
    "bitnet",
    "jais",
    "jais2",
    "nemotron",
    "nemotron_h",
    "nemotron_h_moe",
    "exaone",
    "exaone4",
    "exaone-moe",
    "rwkv6",
    "rwkv6qwen2",
    "rwkv7",
    "arwkv7",
    "granite",
    "granitemoe",
    "granitehybrid",
    "chameleon",
    "plm",
    "bailingmoe",
    "bailingmoe2",
    "dots1",
    "arcee",
    "ernie4_5",
    "ernie4_5-moe",
    "hunyuan-moe",
    "hunyuan-dense",
    "smollm3",
    "gpt-oss",
    "lfm2",
    "lfm2moe",
    "smallthinker",
    "seed_oss",
    "grovemoe",
    "apertus",
    "minimax-m2",
    "mistral3",
];

/// Why a GGUF file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GgufError {
    /// The file does not exist.
    #[error("model file {} not found{hint}", path.display())]
    NotFound {
        /// The path asked for.
        path: PathBuf,
        /// What to do (fetch the default model, check the path).
        hint: String,
    },
    /// The file could not be read.
    #[error("cannot read model file {}: {reason}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not a GGUF file, or a GGUF version this build cannot read.
    #[error("{} is not a GGUF model file: {reason}; the local backend reads GGUF version 2 or 3 (llama.cpp's format)", path.display())]
    NotGguf {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The file starts like GGUF but its contents are inconsistent or cut short.
    #[error("model file {} is corrupt or truncated: {reason}; download it again", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        reason: String,
    },
    /// The model's architecture is one the backend cannot run.
    #[error("model file {} has architecture `{architecture}`, which the local backend cannot run; supported: {}", path.display(), SUPPORTED_ARCHITECTURES.join(", "))]
    UnsupportedArchitecture {
        /// The file.
        path: PathBuf,
        /// `general.architecture` of the file.
        architecture: String,
    },
    /// The file has no tokenizer, so it cannot turn text into tokens.
    #[error("model file {} has no tokenizer (tokenizer.ggml.model); the local backend needs a complete chat model", path.display())]
    NoTokenizer {
        /// The file.
        path: PathBuf,
    },
}

/// What the backend needs to know from a GGUF header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufInfo {
    /// The file.
    pub path: PathBuf,
    /// GGUF format version.
    pub version: u32,
    /// `general.architecture`.
    pub architecture: String,
    /// `general.name`, when present.
    pub name: Option<String>,
    /// `tokenizer.chat_template` (Jinja), when present.
    pub chat_template: Option<String>,
    /// `tokenizer.ggml.model` (`gpt2`, `llama`, ...).
    pub tokenizer: String,
    /// `<arch>.context_length`, when present.
    pub context_length: Option<u64>,
    /// Number of tensors.
    pub tensors: u64,
    /// File size in bytes.
    pub file_size: u64,
}

const MAGIC: &[u8; 4] = b"GGUF";

/// Value types of GGUF metadata.
mod ty {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// (elements per block, bytes per block) of the tensor types whose layout is fixed
/// and well known; tensors of other types are left to llama.cpp to check.
fn block_layout(ggml_type: u32) -> Option<(u64, u64)> {
    Some(match ggml_type {
        0 => (1, 4),      // F32
        1 => (1, 2),      // F16
        2 => (32, 18),    // Q4_0
        3 => (32, 20),    // Q4_1
        6 => (32, 22),    // Q5_0
        7 => (32, 24),    // Q5_1
        8 => (32, 34),    // Q8_0
        10 => (256, 84),  // Q2_K
        11 => (256, 110), // Q3_K
        12 => (256, 144), // Q4_K
        13 => (256, 176), // Q5_K
        14 => (256, 210), // Q6_K
        30 => (1, 2),     // BF16
        _ => return None,
    })
}

/// Read and check the header of the GGUF file at `path`.
pub fn inspect(path: &Path) -> Result<GgufInfo, GgufError> {
    let io = |e: std::io::Error| GgufError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(GgufError::NotFound {
                path: path.to_path_buf(),
                hint: String::new(),
            });
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(GgufError::NotGguf {
            path: path.to_path_buf(),
            reason: "it is a directory".into(),
        });
    }
    let mut r = Reader {
        inner: BufReader::new(file),
        pos: 0,
        size: meta.len(),
        path,
    };
    r.header()
}

struct Reader<'p> {
    inner: BufReader<File>,
    pos: u64,
    size: u64,
    path: &'p Path,
}

impl Reader<'_> {
    fn corrupt(&self, reason: impl Into<String>) -> GgufError {
        GgufError::Corrupt {
            path: self.path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, GgufError> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(self.corrupt(format!(
                "a field at byte {} runs past the end of the file ({} bytes)",
                self.pos, self.size
            )));
        }
        let mut buf = vec![0; n as usize];
        self.inner
            .read_exact(&mut buf)
            .map_err(|e| self.corrupt(e.to_string()))?;
        self.pos += n;
        Ok(buf)
    }

    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(self.corrupt(format!(
                "a field at byte {} runs past the end of the file ({} bytes)",
                self.pos, self.size
            )));
        }
        self.inner
            .seek(SeekFrom::Current(n as i64))
            .map_err(|e| self.corrupt(e.to_string()))?;
        self.pos += n;
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let len = self.u64()?;
        let bytes = self.bytes(len)?;
        String::from_utf8(bytes).map_err(|_| self.corrupt("a text field is not valid UTF-8"))
    }

    fn scalar_size(ty: u32) -> Option<u64> {
        Some(match ty {
            ty::U8 | ty::I8 | ty::BOOL => 1,
            ty::U16 | ty::I16 => 2,
            ty::U32 | ty::I32 | ty::F32 => 4,
            ty::U64 | ty::I64 | ty::F64 => 8,
            _ => return None,
        })
    }

    /// Read a value of type `ty`: strings and integers are returned, the rest skipped.
    fn value(&mut self, ty: u32) -> Result<Value, GgufError> {
        match ty {
            ty::STRING => Ok(Value::Text(self.string()?)),
            ty::U32 => Ok(Value::Int(u64::from(self.u32()?))),
            ty::U64 => Ok(Value::Int(self.u64()?)),
            ty::ARRAY => {
                let elem = self.u32()?;
                let count = self.u64()?;
                if elem == ty::STRING {
                    // Each string has at least its 8-byte length.
                    if count > self.size.saturating_sub(self.pos) / 8 {
                        return Err(self.corrupt("an array is longer than the file"));
                    }
                    for _ in 0..count {
                        let len = self.u64()?;
                        self.skip(len)?;
                    }
                } else if let Some(size) = Self::scalar_size(elem) {
                    let total = count
                        .checked_mul(size)
                        .ok_or_else(|| self.corrupt("an array is longer than the file"))?;
                    self.skip(total)?;
                } else {
                    return Err(self.corrupt(format!("unknown array element type {elem}")));
                }
                Ok(Value::Other)
            }
            other => match Self::scalar_size(other) {
                Some(size) => {
                    self.skip(size)?;
                    Ok(Value::Other)
                }
                None => Err(self.corrupt(format!("unknown metadata value type {other}"))),
            },
        }
    }

    fn header(&mut self) -> Result<GgufInfo, GgufError> {
        let path = self.path.to_path_buf();
        if self.size < 24 {
            let mut head = Vec::new();
            let _ = (&mut self.inner).take(4).read_to_end(&mut head);
            return Err(if head.as_slice() == MAGIC {
                self.corrupt(format!("only {} bytes long", self.size))
            } else {
                GgufError::NotGguf {
                    path,
                    reason: format!("only {} bytes long", self.size),
                }
            });
        }
        let magic = self.bytes(4)?;
        if magic.as_slice() != MAGIC {
            return Err(GgufError::NotGguf {
                path,
                reason: format!("it starts with {magic:02x?}, not the GGUF signature"),
            });
        }
        let version = self.u32()?;
        if !(2..=3).contains(&version) {
            return Err(GgufError::NotGguf {
                path,
                reason: format!("it is GGUF version {version}"),
            });
        }
        let tensors = self.u64()?;
        let kv_count = self.u64()?;
        // Every key-value pair and tensor description takes more than 8 bytes.
        if kv_count > self.size / 8 || tensors > self.size / 8 {
            return Err(self.corrupt(format!(
                "it claims {kv_count} metadata entries and {tensors} tensors"
            )));
        }
        let mut architecture = None;
        let mut name = None;
        let mut chat_template = None;
        let mut tokenizer = None;
        let mut alignment = 32u64;
        let mut lengths: Vec<(String, u64)> = Vec::new();
        for _ in 0..kv_count {
            let key = self.string()?;
            let ty = self.u32()?;
            let value = self.value(ty)?;
            match (key.as_str(), value) {
                ("general.architecture", Value::Text(v)) => architecture = Some(v),
                ("general.name", Value::Text(v)) => name = Some(v),
                ("tokenizer.chat_template", Value::Text(v)) => chat_template = Some(v),
                ("tokenizer.ggml.model", Value::Text(v)) => tokenizer = Some(v),
                ("general.alignment", Value::Int(v)) => alignment = v,
                (k, Value::Int(v)) if k.ends_with(".context_length") => {
                    lengths.push((k.to_string(), v));
                }
                _ => {}
            }
        }
        if alignment == 0 || !alignment.is_power_of_two() {
            return Err(self.corrupt(format!("alignment {alignment} is not a power of two")));
        }
        let architecture =
            architecture.ok_or_else(|| self.corrupt("it has no general.architecture"))?;
        // Tensor descriptions: the data of each must lie within the file.
        let mut data_end = 0u64;
        for _ in 0..tensors {
            let tname = self.string()?;
            let dims = self.u32()?;
            if dims == 0 || dims > 8 {
                return Err(self.corrupt(format!("tensor `{tname}` has {dims} dimensions")));
            }
            let mut elements = 1u64;
            for _ in 0..dims {
                elements = elements
                    .checked_mul(self.u64()?)
                    .ok_or_else(|| self.corrupt(format!("tensor `{tname}` is impossibly large")))?;
            }
            let ggml_type = self.u32()?;
            let offset = self.u64()?;
            let bytes = match block_layout(ggml_type) {
                Some((block, size)) => {
                    if !elements.is_multiple_of(block) {
                        return Err(self.corrupt(format!(
                            "tensor `{tname}` has {elements} elements, not a whole number of blocks"
                        )));
                    }
                    elements / block * size
                }
                None => 0,
            };
            data_end = data_end.max(offset.saturating_add(bytes));
        }
        let data_start = self.pos.div_ceil(alignment) * alignment;
        if data_start.saturating_add(data_end) > self.size {
            return Err(self.corrupt(format!(
                "its tensors need {} bytes but the file has {}",
                data_start.saturating_add(data_end),
                self.size
            )));
        }
        if !SUPPORTED_ARCHITECTURES.contains(&architecture.as_str()) {
            return Err(GgufError::UnsupportedArchitecture { path, architecture });
        }
        let tokenizer = tokenizer.ok_or(GgufError::NoTokenizer { path: path.clone() })?;
        let context_length = lengths
            .iter()
            .find(|(k, _)| *k == format!("{architecture}.context_length"))
            .map(|(_, v)| *v);
        Ok(GgufInfo {
            path,
            version,
            architecture,
            name,
            chat_template,
            tokenizer,
            context_length,
            tensors,
            file_size: self.size,
        })
    }
}

enum Value {
    Text(String),
    Int(u64),
    Other,
}

/// Writing small GGUF files, for tests of the checks above.
#[cfg(test)]
pub(crate) mod testfile {
    /// A metadata value.
    pub enum Meta<'a> {
        Str(&'a str),
        U32(u32),
        StrArray(&'a [&'a str]),
    }

    /// A GGUF v3 file with `meta` and one F32 tensor of `elements` values.
    pub fn gguf(meta: &[(&str, Meta<'_>)], elements: u64) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(1u64.to_le_bytes());
        out.extend((meta.len() as u64).to_le_bytes());
        let s = |out: &mut Vec<u8>, t: &str| {
            out.extend((t.len() as u64).to_le_bytes());
            out.extend(t.as_bytes());
        };
        for (k, v) in meta {
            s(&mut out, k);
            match v {
                Meta::Str(t) => {
                    out.extend(8u32.to_le_bytes());
                    s(&mut out, t);
                }
                Meta::U32(x) => {
                    out.extend(4u32.to_le_bytes());
                    out.extend(x.to_le_bytes());
                }
                Meta::StrArray(items) => {
                    out.extend(9u32.to_le_bytes());
                    out.extend(8u32.to_le_bytes());
                    out.extend((items.len() as u64).to_le_bytes());
                    for t in *items {
                        s(&mut out, t);
                    }
                }
            }
        }
        s(&mut out, "weight");
        out.extend(1u32.to_le_bytes());
        out.extend(elements.to_le_bytes());
        out.extend(0u32.to_le_bytes());
        out.extend(0u64.to_le_bytes());
        while !out.len().is_multiple_of(32) {
            out.push(0);
        }
        out.extend(std::iter::repeat_n(0u8, elements as usize * 4));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::testfile::{Meta, gguf};
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("writing a test file");
        path
    }

    fn good(arch: &str) -> Vec<u8> {
        gguf(
            &[
                ("general.architecture", Meta::Str(arch)),
                ("general.name", Meta::Str("Tiny")),
                ("tokenizer.ggml.model", Meta::Str("gpt2")),
                (
                    "tokenizer.ggml.tokens",
                    Meta::StrArray(&["a", "b", "<|im_end|>"]),
                ),
                ("llama.context_length", Meta::U32(2048)),
                ("tokenizer.chat_template", Meta::Str("{{ messages }}")),
            ],
            16,
        )
    }

    #[test]
    fn a_well_formed_header_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let info = inspect(&write(dir.path(), "m.gguf", &good("llama"))).unwrap();
        assert_eq!(info.architecture, "llama");
        assert_eq!(info.name.as_deref(), Some("Tiny"));
        assert_eq!(info.tokenizer, "gpt2");
        assert_eq!(info.context_length, Some(2048));
        assert_eq!(info.chat_template.as_deref(), Some("{{ messages }}"));
        assert_eq!((info.version, info.tensors), (3, 1));
    }

    #[test]
    fn bad_files_get_errors_naming_the_file_and_what_is_supported() {
        let dir = tempfile::tempdir().unwrap();
        let missing = inspect(&dir.path().join("nope.gguf")).unwrap_err();
        assert!(matches!(missing, GgufError::NotFound { .. }));
        assert!(missing.to_string().contains("nope.gguf"), "{missing}");

        let text = write(
            dir.path(),
            "notes.gguf",
            b"this is a text file, not a model at all",
        );
        let err = inspect(&text).unwrap_err();
        assert!(matches!(err, GgufError::NotGguf { .. }), "{err}");
        assert!(
            err.to_string().contains("notes.gguf")
                && err.to_string().contains("GGUF version 2 or 3"),
            "{err}"
        );

        let full = good("llama");
        let cut = write(dir.path(), "cut.gguf", &full[..full.len() - 40]);
        let err = inspect(&cut).unwrap_err();
        assert!(matches!(err, GgufError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("cut.gguf"), "{err}");
        let head = write(dir.path(), "head.gguf", &full[..60]);
        assert!(matches!(
            inspect(&head).unwrap_err(),
            GgufError::Corrupt { .. }
        ));

        let mut huge = full.clone();
        huge[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
        let err = inspect(&write(dir.path(), "huge.gguf", &huge)).unwrap_err();
        assert!(matches!(err, GgufError::Corrupt { .. }), "{err}");

        let bert = write(dir.path(), "bert.gguf", &good("bert"));
        let err = inspect(&bert).unwrap_err();
        assert!(
            matches!(err, GgufError::UnsupportedArchitecture { .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("bert.gguf") && msg.contains("`bert`") && msg.contains("llama, "),
            "{msg}"
        );

        let no_tok = gguf(&[("general.architecture", Meta::Str("llama"))], 4);
        let err = inspect(&write(dir.path(), "notok.gguf", &no_tok)).unwrap_err();
        assert!(matches!(err, GgufError::NoTokenizer { .. }), "{err}");

        let err = inspect(dir.path()).unwrap_err();
        assert!(matches!(err, GgufError::NotGguf { .. }), "{err}");
    }

    #[test]
    fn every_prefix_of_a_file_is_refused_without_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let full = good("qwen2");
        for len in (0..full.len() - 64).step_by(7) {
            let path = write(dir.path(), "p.gguf", &full[..len]);
            assert!(inspect(&path).is_err(), "a {len}-byte prefix was accepted");
        }
    }
}
