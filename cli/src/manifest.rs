//! The manifest of a `chancery submit` run: one line per anchored file (its path, digest,
//! tx and, once committed, its block), as JSON or CSV; `chancery proof --manifest` turns
//! it into one proof bundle per file.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chancery_ledger::Hash;
use serde::{Deserialize, Serialize};

/// Most files one `chancery submit` anchors.
pub const FILES_MAX: usize = 1_000_000;

/// One anchored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The file, as named on the command line or found under a directory.
    pub file: String,
    /// Its digest, `alg:hex`.
    pub digest: String,
    /// The tx that anchors it.
    pub tx_hash: Hash,
    /// Its block, once committed.
    pub height: Option<u64>,
    /// That block's time, milliseconds since the Unix epoch.
    pub block_time_ms: Option<u64>,
}

/// The files named: each file as given, each directory's files (every level below it),
/// in path order.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
        if files.len() > FILES_MAX {
            bail!("more than {FILES_MAX} files: anchor them in several runs");
        }
    }
    if files.is_empty() {
        bail!("no file to anchor: name files or directories that hold some");
    }
    Ok(files)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let kind = entry.file_type().with_context(|| format!("reading {}", entry.path().display()))?;
        // Symbolic links are not followed: a link back up would never end.
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
        if out.len() > FILES_MAX {
            bail!("more than {FILES_MAX} files under {}: anchor them in several runs", dir.display());
        }
    }
    Ok(())
}

/// Refuses a manifest name that is neither .json nor .csv (before anything is done).
pub fn check_name(path: &Path) -> Result<()> {
    format_of(path).map(|_| ())
}

enum Format {
    Json,
    Csv,
}

fn format_of(path: &Path) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        _ => bail!("manifest {}: name it .json or .csv", path.display()),
    }
}

const CSV_HEADER: &str = "file,digest,tx_hash,height,block_time_ms,block_time";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes the manifest, JSON or CSV by its extension.
pub fn write(path: &Path, entries: &[Entry]) -> Result<()> {
    let text = match format_of(path)? {
        Format::Json => serde_json::to_string_pretty(entries)? + "\n",
        Format::Csv => {
            let mut out = String::from(CSV_HEADER);
            out.push('\n');
            for e in entries {
                let height = e.height.map(|h| h.to_string()).unwrap_or_default();
                let ms = e.block_time_ms.map(|t| t.to_string()).unwrap_or_default();
                let time = e.block_time_ms.map(crate::format::utc).unwrap_or_default();
                out.push_str(&format!("{},{},{},{height},{ms},{time}\n", csv_field(&e.file), e.digest, e.tx_hash));
            }
            out
        }
    };
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// The fields of one CSV line (RFC 4180 quoting).
fn csv_line(line: &str) -> Result<Vec<String>> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        bail!("an unclosed quote");
    }
    fields.push(field);
    Ok(fields)
}

/// Reads a manifest `chancery submit --manifest` wrote.
pub fn read(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the manifest {}", path.display()))?;
    let entries = match format_of(path)? {
        Format::Json => serde_json::from_str(&text).with_context(|| format!("manifest {}", path.display()))?,
        Format::Csv => {
            let mut lines = text.lines();
            if lines.next() != Some(CSV_HEADER) {
                bail!("manifest {}: the first line is not `{CSV_HEADER}`", path.display());
            }
            let mut entries = Vec::new();
            for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
                let at = || format!("manifest {} line {}", path.display(), i + 2);
                let fields = csv_line(line).with_context(at)?;
                let [file, digest, tx, height, ms, _time] = fields.as_slice() else {
                    bail!("{}: {} fields, not 6", at(), fields.len());
                };
                let number = |t: &str| -> Result<Option<u64>> {
                    if t.is_empty() {
                        return Ok(None);
                    }
                    Ok(Some(t.parse().with_context(|| format!("{}: {t:?} is not a number", at()))?))
                };
                entries.push(Entry {
                    file: file.clone(),
                    digest: digest.clone(),
                    tx_hash: Hash::from_hex(tx).with_context(|| format!("{}: tx hash", at()))?,
                    height: number(height)?,
                    block_time_ms: number(ms)?,
                });
            }
            entries
        }
    };
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_read_back_in_both_formats_and_bad_ones_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let entries = vec![
            Entry {
                file: "contracts/a, \"quoted\".pdf".into(),
                digest: "sha256:00".into(),
                tx_hash: Hash([1; 32]),
                height: Some(7),
                block_time_ms: Some(1_767_225_600_000),
            },
            Entry {
                file: "b.pdf".into(),
                digest: "sm3:11".into(),
                tx_hash: Hash([2; 32]),
                height: None,
                block_time_ms: None,
            },
        ];
        for name in ["m.json", "m.csv"] {
            let path = dir.path().join(name);
            write(&path, &entries).expect("write");
            assert_eq!(read(&path).expect("read"), entries, "{name}");
        }
        assert!(write(&dir.path().join("m.txt"), &entries).is_err());
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, format!("{CSV_HEADER}\n\"open,sha256:00,{},,,\n", Hash([1; 32]))).expect("write");
        assert!(read(&bad).is_err());
        std::fs::write(&bad, "file,digest\n").expect("write");
        assert!(read(&bad).is_err());
    }

    #[test]
    fn directories_expand_to_their_files_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("b/c")).expect("dirs");
        for f in ["b/c/z.txt", "b/a.txt", "top.txt"] {
            std::fs::write(dir.path().join(f), f).expect("write");
        }
        let files = expand(&[dir.path().join("b"), dir.path().join("top.txt")]).expect("expand");
        let names: Vec<String> =
            files.iter().map(|p| p.strip_prefix(dir.path()).expect("under").display().to_string()).collect();
        assert_eq!(names, ["b/a.txt", "b/c/z.txt", "top.txt"]);
        std::fs::create_dir_all(dir.path().join("empty")).expect("dir");
        assert!(expand(&[dir.path().join("empty")]).is_err());
    }
}
