//! An in-memory backend for tests, able to inject write failures and to damage stored
//! values the way a failing disk would.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::backend::{Backend, BackendError, Batch, Column, Entry};

type Columns = BTreeMap<(Column, Vec<u8>), Vec<u8>>;

/// A backend in memory. Clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryBackend {
    data: Arc<Mutex<Columns>>,
    /// Writes left before every write fails (`u64::MAX`: never).
    writes_until_failure: Arc<AtomicU64>,
}

impl MemoryBackend {
    /// An empty store that never fails.
    pub fn new() -> Self {
        MemoryBackend { data: Arc::default(), writes_until_failure: Arc::new(AtomicU64::new(u64::MAX)) }
    }

    /// Lets `writes` more batches succeed, then fails every later one.
    pub fn fail_writes_after(&self, writes: u64) {
        self.writes_until_failure.store(writes, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Columns> {
        // A panic while holding the lock leaves plain data behind; keep using it.
        self.data.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Overwrites a stored value directly, bypassing every check (tests of corruption).
    pub fn tamper(&self, column: Column, key: &[u8], edit: impl FnOnce(&mut Vec<u8>)) -> bool {
        match self.lock().get_mut(&(column, key.to_vec())) {
            Some(value) => {
                edit(value);
                true
            }
            None => false,
        }
    }
}

impl Backend for MemoryBackend {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Ok(self.lock().get(&(column, key.to_vec())).cloned())
    }

    fn scan(&self, column: Column, prefix: &[u8], from: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        let data = self.lock();
        let start = if from > prefix { from } else { prefix };
        Ok(data
            .range((column, start.to_vec())..)
            .take_while(|((c, k), _)| *c == column && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn write(&self, batch: Batch) -> Result<(), BackendError> {
        let left = self.writes_until_failure.load(Ordering::SeqCst);
        if left == 0 {
            return Err(BackendError { operation: "write", message: "injected write failure".into() });
        }
        if left != u64::MAX {
            self.writes_until_failure.store(left - 1, Ordering::SeqCst);
        }
        let mut data = self.lock();
        for (column, key, value) in batch.ops {
            match value {
                Some(v) => data.insert((column, key), v),
                None => data.remove(&(column, key)),
            };
        }
        Ok(())
    }

    fn disk_bytes(&self) -> Result<Option<u64>, BackendError> {
        Ok(None)
    }
}
