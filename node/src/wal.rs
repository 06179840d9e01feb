//! The consensus write-ahead log: one append-only file of checksummed records, each synced
//! before the driver acts on it. After a crash the records of the current height are
//! replayed into the engine, which then re-publishes its own votes instead of signing new
//! ones. A torn last record (the crash hit mid-append) is cut off: nothing after it was
//! acted upon.
//!
//! Record: `len: u32 LE | height: u64 LE | entry (len bytes, canonical) | check: 16 bytes`,
//! `check` = the first 16 bytes of `BLAKE3-derive_key("chancery v1 wal record", len ||
//! height || entry)`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chancery_consensus::engine::{Wal, WalError};
use chancery_consensus::wire::WalEntry;
use chancery_ledger::{decode, encode, Canonical};

const CHECK_BYTES: usize = 16;
const HEAD_BYTES: usize = 12;

/// WAL records with the height each was appended at.
pub type Records = Vec<(u64, WalEntry)>;

/// The open WAL file.
pub struct FileWal {
    file: File,
    path: PathBuf,
}

fn check(head: &[u8], entry: &[u8]) -> [u8; CHECK_BYTES] {
    let mut hasher = blake3::Hasher::new_derive_key("chancery v1 wal record");
    hasher.update(head);
    hasher.update(entry);
    let mut out = [0; CHECK_BYTES];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..CHECK_BYTES]);
    out
}

impl FileWal {
    /// Opens (or creates) the WAL at `path` and returns its valid records in order. A
    /// torn or corrupt tail is cut off and reported in the third value.
    pub fn open(path: &Path) -> Result<(FileWal, Records, Option<String>), WalError> {
        let io = |e: std::io::Error| WalError { location: path.display().to_string(), message: e.to_string() };
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path).map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (records, valid_len, problem) = parse(&bytes);
        if valid_len < bytes.len() {
            file.set_len(valid_len as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        if let Some(dir) = path.parent() {
            sync_dir(dir).map_err(io)?;
        }
        Ok((FileWal { file, path: path.to_path_buf() }, records, problem))
    }

    fn error(&self, e: std::io::Error) -> WalError {
        WalError { location: self.path.display().to_string(), message: e.to_string() }
    }
}

impl Wal for FileWal {
    /// Appends one record and syncs it to disk before returning.
    fn append(&mut self, height: u64, entry: &WalEntry) -> Result<(), WalError> {
        let body = encode(entry);
        let mut record = Vec::with_capacity(HEAD_BYTES + body.len() + CHECK_BYTES);
        record.extend_from_slice(&(body.len() as u32).to_le_bytes());
        record.extend_from_slice(&height.to_le_bytes());
        let sum = check(&record, &body);
        record.extend_from_slice(&body);
        record.extend_from_slice(&sum);
        self.file.write_all(&record).map_err(|e| self.error(e))?;
        self.file.sync_data().map_err(|e| self.error(e))
    }

    /// Drops every record: called once a height's block is committed in the store, when
    /// nothing recorded before can matter again.
    fn clear(&mut self) -> Result<(), WalError> {
        self.file.set_len(0).map_err(|e| self.error(e))?;
        self.file.sync_all().map_err(|e| self.error(e))
    }
}

/// The valid records of a WAL file's bytes, the length of the valid prefix and, if the
/// rest is not empty, why it was refused.
pub fn parse(bytes: &[u8]) -> (Records, usize, Option<String>) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let problem = |what: &str| Some(format!("record at byte {at}: {what}; the tail from there is dropped"));
        if rest.len() < HEAD_BYTES {
            return (records, at, problem("truncated header"));
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > WalEntry::BYTES_MAX {
            return (records, at, problem("length above the record limit"));
        }
        if rest.len() < HEAD_BYTES + len + CHECK_BYTES {
            return (records, at, problem("truncated record"));
        }
        let head = &rest[..HEAD_BYTES];
        let body = &rest[HEAD_BYTES..HEAD_BYTES + len];
        if rest[HEAD_BYTES + len..HEAD_BYTES + len + CHECK_BYTES] != check(head, body) {
            return (records, at, problem("checksum mismatch"));
        }
        let mut height = [0; 8];
        height.copy_from_slice(&head[4..12]);
        match decode::<WalEntry>(body) {
            Ok(entry) => records.push((u64::from_le_bytes(height), entry)),
            Err(e) => return (records, at, problem(&format!("undecodable entry ({e})"))),
        }
        at += HEAD_BYTES + len + CHECK_BYTES;
    }
    (records, at, None)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chancery_consensus::wire::WireVote;
    use chancery_ledger::{Hash, PublicKey, Signature, VoteKind};

    fn vote(round: u32) -> WalEntry {
        WalEntry::Vote(WireVote {
            height: 3,
            round,
            kind: VoteKind::Precommit,
            block_hash: Some(Hash([round as u8; 32])),
            validator: PublicKey([1; 32]),
            signature: Signature([2; 64]),
        })
    }

    #[test]
    fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal");
        {
            let (mut wal, records, problem) = FileWal::open(&path).expect("open");
            assert!(records.is_empty() && problem.is_none());
            for r in 0..3 {
                wal.append(3, &vote(r)).expect("append");
            }
            wal.append(3, &WalEntry::Timeout { round: 2, kind: 1 }).expect("append");
        }
        let full = std::fs::read(&path).expect("read");
        let (_, records, problem) = FileWal::open(&path).expect("reopen");
        assert_eq!(records.len(), 4);
        assert_eq!(records[1], (3, vote(1)));
        assert!(problem.is_none());
        // Every truncation point keeps exactly the whole records before it.
        let record_len =
            (full.len() - (HEAD_BYTES + CHECK_BYTES + encode(&WalEntry::Timeout { round: 2, kind: 1 }).len())) / 3;
        for cut in [1, HEAD_BYTES, record_len - 1, record_len + 5, full.len() - 1] {
            std::fs::write(&path, &full[..cut]).expect("write");
            let (_, records, problem) = FileWal::open(&path).expect("open torn");
            assert_eq!(records.len(), cut / record_len, "cut at {cut}");
            assert!(problem.is_some(), "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).expect("meta").len() as usize, records.len() * record_len);
        }
    }

    #[test]
    fn a_flipped_bit_or_a_hostile_length_drops_the_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("wal");
        {
            let (mut wal, ..) = FileWal::open(&path).expect("open");
            wal.append(3, &vote(0)).expect("append");
            wal.append(3, &vote(1)).expect("append");
        }
        let full = std::fs::read(&path).expect("read");
        let half = full.len() / 2;
        for at in [half + 2, half + 5, half + 20, full.len() - 1] {
            let mut bad = full.clone();
            bad[at] ^= 0x10;
            std::fs::write(&path, &bad).expect("write");
            let (_, records, problem) = FileWal::open(&path).expect("open");
            assert_eq!(records, vec![(3, vote(0))], "flip at {at}");
            assert!(problem.is_some());
        }
        let mut huge = full[..half].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(&[0; 40]);
        std::fs::write(&path, &huge).expect("write");
        let (mut wal, records, problem) = FileWal::open(&path).expect("open");
        assert_eq!(records.len(), 1);
        assert!(problem.expect("reported").contains("length above"));
        wal.clear().expect("clear");
        let (_, records, _) = FileWal::open(&path).expect("open");
        assert!(records.is_empty());
    }
}
