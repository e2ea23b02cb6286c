//! The cause carried inside the core's file errors: whatever went wrong beneath (an OS error, a
//! decoder's error, a guard's refusal, a plain message), kept as the error's `source` so that a
//! front end can walk the chain instead of parsing a string.

/// The cause of a file error; a `String`, a `&str` and every error type convert into it.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A check that failed, in words: an input that breaks a rule (a configuration, an argument, a
/// file's structure) with nothing beneath it to keep as a source.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl From<String> for Invalid {
    fn from(s: String) -> Self {
        Invalid(s)
    }
}

impl From<&str> for Invalid {
    fn from(s: &str) -> Self {
        Invalid(s.to_owned())
    }
}

impl Invalid {
    /// The reason, in words.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Invalid {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}
