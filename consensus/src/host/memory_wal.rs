//! A WAL in memory, for the simulator and tests: records are kept in their canonical
//! bytes (so replay decodes them as a file's would), and clones share them, so a record
//! survives the host that wrote it (a simulated crash and restart).

use std::sync::{Arc, Mutex};

use chancery_ledger::{decode, encode};

use crate::engine::{Wal, WalError};
use crate::wire::WalEntry;

/// Records with the height each was made at, in their canonical bytes.
type Records = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// A WAL in memory; clones share the records.
#[derive(Clone, Default)]
pub struct MemoryWal {
    name: String,
    records: Records,
}

impl MemoryWal {
    /// An empty WAL named `name` (in errors).
    pub fn new(name: &str) -> Self {
        MemoryWal { name: name.to_string(), records: Arc::default() }
    }

    /// The records in order, decoded; a record that does not decode is an error.
    pub fn records(&self) -> Result<Vec<(u64, WalEntry)>, WalError> {
        let records = self.records.lock().unwrap_or_else(|e| e.into_inner());
        records
            .iter()
            .map(|(height, bytes)| {
                decode::<WalEntry>(bytes)
                    .map(|entry| (*height, entry))
                    .map_err(|e| WalError { location: self.name.clone(), message: e.to_string() })
            })
            .collect()
    }

    /// Forgets every record (a broken host that loses its WAL, for the simulator's
    /// mutation checks).
    pub fn lose(&self) {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Wal for MemoryWal {
    fn append(&mut self, height: u64, entry: &WalEntry) -> Result<(), WalError> {
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push((height, encode(entry)));
        Ok(())
    }

    fn clear(&mut self) -> Result<(), WalError> {
        self.lose();
        Ok(())
    }
}
