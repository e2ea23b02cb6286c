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

/// An error and its sources on one line: each source is added only when the text so far does
/// not already hold it (the errors here show their source in their own message; a context
/// added on top does not). What the CLI prints after `error:` and the workbench in its notes.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        next = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Shows {
        path: String,
        source: Cause,
    }

    #[test]
    fn a_source_shown_in_its_error_is_not_repeated() {
        let e = Shows {
            path: "a.nii".into(),
            source: "too short".into(),
        };
        assert_eq!(one_line(&e), "a.nii: too short");
        let wrapped = anyhow::Error::new(e).context("import failed");
        assert_eq!(
            one_line(wrapped.as_ref()),
            "import failed: a.nii: too short"
        );
    }
}
