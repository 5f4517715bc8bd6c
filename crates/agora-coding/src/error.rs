//! Errors of open-answer coding.

/// What went wrong while building a codebook or coding answers.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CodingError {
    /// A codebook that cannot be used, with how to fix it.
    #[error("invalid codebook: {0}")]
    Codebook(String),
    /// A model's answer that does not fit the codebook or the derivation.
    #[error("unusable answer: {0}")]
    Answer(String),
    /// Theme shares could not be computed.
    #[error("theme shares: {0}")]
    Shares(String),
}
