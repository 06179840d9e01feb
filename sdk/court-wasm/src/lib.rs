//! The verification page's verifier: [`chancery_court`]'s file check, exported to
//! JavaScript with wasm-bindgen. Built by `build.sh` beside this file (target
//! `wasm32-unknown-unknown`, glue for a classic script: the page inlines both).

use wasm_bindgen::prelude::wasm_bindgen;

/// Checks the files a party handed over. `names_json` is a JSON array of the files'
/// names; `contents` holds the files one after another, `lengths` their sizes in order.
/// Answers the outcome as JSON (see `chancery_court::Outcome`).
#[wasm_bindgen]
pub fn check(names_json: &str, contents: &[u8], lengths: &[u32]) -> String {
    let outcome = match split(names_json, contents, lengths) {
        Ok(files) => {
            let named: Vec<chancery_court::files::NamedFile<'_>> =
                files.iter().map(|(name, bytes)| chancery_court::files::NamedFile { name, bytes }).collect();
            chancery_court::check_files(&named)
        }
        Err(why) => chancery_court::files::Outcome::unreadable(&why.to_string()),
    };
    serde_json::to_string(&outcome).expect("an outcome serialises to JSON")
}

/// What a file is, by its content (the kind's JSON name).
#[wasm_bindgen]
pub fn classify(bytes: &[u8]) -> String {
    serde_json::to_string(&chancery_court::classify(bytes)).expect("a kind serialises to JSON")
}

/// The verifier's version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Why the page's call does not describe its files.
#[derive(Debug, PartialEq, Eq)]
enum CallError {
    /// The names are not a JSON array of strings.
    Names(String),
    /// Not one length per name.
    Count { names: usize, lengths: usize },
    /// A file's length runs past the bytes.
    Overrun { name: String },
    /// Bytes left after the last file.
    Trailing { bytes: usize },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Names(why) => write!(f, "file names: {why}"),
            CallError::Count { names, lengths } => write!(f, "{names} names for {lengths} files"),
            CallError::Overrun { name } => write!(f, "file {name} runs past the bytes given"),
            CallError::Trailing { bytes } => write!(f, "{bytes} bytes given beyond the files"),
        }
    }
}

/// The files from the page's call, or why the call is malformed.
fn split<'a>(names_json: &str, contents: &'a [u8], lengths: &[u32]) -> Result<Vec<(String, &'a [u8])>, CallError> {
    let names: Vec<String> = serde_json::from_str(names_json).map_err(|e| CallError::Names(e.to_string()))?;
    if names.len() != lengths.len() {
        return Err(CallError::Count { names: names.len(), lengths: lengths.len() });
    }
    let mut files = Vec::with_capacity(names.len());
    let mut at = 0usize;
    for (name, length) in names.into_iter().zip(lengths) {
        let end = at.checked_add(*length as usize).filter(|end| *end <= contents.len());
        let Some(end) = end else { return Err(CallError::Overrun { name }) };
        files.push((name, &contents[at..end]));
        at = end;
    }
    if at != contents.len() {
        return Err(CallError::Trailing { bytes: contents.len() - at });
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_calls_are_refused_by_name() {
        let bytes = [1u8, 2, 3, 4, 5];
        let files = split(r#"["a","b"]"#, &bytes, &[2, 3]).expect("splits");
        assert_eq!(files, vec![("a".to_string(), &bytes[..2]), ("b".to_string(), &bytes[2..])]);
        assert!(matches!(split("[1]", &bytes, &[5]), Err(CallError::Names(_))));
        assert_eq!(split(r#"["a"]"#, &bytes, &[2, 3]), Err(CallError::Count { names: 1, lengths: 2 }));
        assert_eq!(split(r#"["a"]"#, &bytes, &[6]), Err(CallError::Overrun { name: "a".into() }));
        assert_eq!(split(r#"["a"]"#, &bytes, &[u32::MAX]), Err(CallError::Overrun { name: "a".into() }));
        assert_eq!(split(r#"["a"]"#, &bytes, &[4]), Err(CallError::Trailing { bytes: 1 }));
        let outcome: serde_json::Value = serde_json::from_str(&check(r#"["a"]"#, &bytes, &[9])).expect("json");
        assert_eq!(outcome["verdict"], "incomplete");
    }
}
