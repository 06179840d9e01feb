//! The RocksDB backend of the chain store: one database per node home, one column family
//! per [`Column`], every batch written with `sync`, LZ4 compression (ZSTD at the bottom
//! level); backups are RocksDB checkpoints, restored by copying them into a new
//! directory. docs/STORE_FORMAT.md describes every column.

use std::path::{Path, PathBuf};

use rocksdb::{
    checkpoint::Checkpoint, BlockBasedOptions, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode,
    MemtableFactory, Options, ReadOptions, SliceTransform, WriteBatch, WriteOptions, DB,
};

use chancery_ledger::store::{Backend, BackendError, Batch, ChainStore, Column, Entry, StoreError};

/// Column families of earlier layouts that held nothing and are dropped on open.
const RETIRED_FAMILIES: [&str; 2] = ["wal", "signer"];

/// A RocksDB database.
pub struct RocksBackend {
    db: DB,
    path: PathBuf,
}

fn error(operation: &'static str, e: rocksdb::Error) -> BackendError {
    BackendError { operation, message: e.into_string() }
}

/// Largest RocksDB info log file (`LOG`) before it is rolled over.
pub const INFO_LOG_FILE_BYTES: usize = 1 << 20;
/// Rolled-over info log files kept besides the current one.
pub const INFO_LOG_FILES: usize = 4;

/// Most write-ahead log RocksDB keeps before it flushes the column families that hold
/// the oldest log file. Without a bound, a column family written rarely (parameters,
/// validators) keeps every log file since its last write: 2.9 GB of log after 10M
/// records, more than the 1.9 GB of data (docs/BENCHMARKS.md), all replayed by a restart.
/// Above the memtables of the busy columns (three of 64 MiB, two each), so they still
/// flush when full.
pub const WAL_BYTES_MAX: u64 = 512 << 20;

/// Buckets of the hashed memtables of the two random-key indexes (one entry each, about,
/// at a full memtable).
pub const INDEX_MEMTABLE_BUCKETS: usize = 1 << 20;
/// The key prefix those memtables hash: the first bytes of a tx hash or of a digest (the
/// name of the transform says it; a store opened with another length would not find
/// its prefix filters).
pub const INDEX_PREFIX_BYTES: usize = 8;
const _: () = assert!(INDEX_PREFIX_BYTES == 8, "the transform's name says 8");

/// The options of `column` (none: a retired one being dropped).
fn column_options(column: Option<Column>) -> Options {
    let mut options = Options::default();
    if matches!(column, Some(Column::Txs | Column::Evidence)) {
        // Every record adds a random key to each of these two indexes: a memtable hashed
        // on the key's first bytes takes those inserts without a skip-list search (the
        // store's largest single cost). Their reads are point lookups and scans within
        // one digest, both within a prefix. The prefix is the first bytes, or a shorter
        // key whole, so every key is in the extractor's domain.
        let capped: fn(&[u8]) -> &[u8] = |key| &key[..key.len().min(INDEX_PREFIX_BYTES)];
        options.set_prefix_extractor(SliceTransform::create("chancery.capped_prefix.8", capped, None));
        options.set_memtable_factory(MemtableFactory::HashLinkList { bucket_count: INDEX_MEMTABLE_BUCKETS });
    }
    // Point lookups of keys that do not exist (a new tx's hash, a digest never anchored)
    // are answered from the bloom filter without reading a block.
    let mut table = BlockBasedOptions::default();
    table.set_bloom_filter(10.0, false);
    options.set_block_based_table_factory(&table);
    options.set_compression_type(DBCompressionType::Lz4);
    options.set_bottommost_compression_type(DBCompressionType::Zstd);
    options.set_level_compaction_dynamic_level_bytes(true);
    options
}

impl RocksBackend {
    /// Opens (creating if needed) the database in `path`. Column families an earlier
    /// layout created and never used are dropped; one this code does not know is refused
    /// (a store written by a newer Chancery).
    pub fn open(path: &Path) -> Result<Self, BackendError> {
        let mut options = column_options(None);
        // The hashed memtables take one writer at a time (as the store writes anyway).
        options.set_allow_concurrent_memtable_write(false);
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        options.set_max_open_files(512);
        options.set_max_total_wal_size(WAL_BYTES_MAX);
        // RocksDB's own info log: no statistics dumped into it every ten minutes (several
        // MB a day on an idle node; `/metrics` has what operators watch) and at most
        // `INFO_LOG_FILES` files of `INFO_LOG_FILE_BYTES`, so it never grows with the
        // chain's age.
        options.set_stats_dump_period_sec(0);
        options.set_max_log_file_size(INFO_LOG_FILE_BYTES);
        options.set_keep_log_file_num(INFO_LOG_FILES);
        let existing = if path.join("CURRENT").exists() {
            DB::list_cf(&options, path).map_err(|e| error("list column families", e))?
        } else {
            Vec::new()
        };
        let known = |name: &str| name == "default" || Column::ALL.iter().any(|c| c.name() == name);
        if let Some(unknown) = existing.iter().find(|name| !known(name) && !RETIRED_FAMILIES.contains(&name.as_str())) {
            return Err(BackendError {
                operation: "open",
                message: format!("column family {unknown} is not one this version of Chancery knows"),
            });
        }
        let retired: Vec<&String> = existing.iter().filter(|name| RETIRED_FAMILIES.contains(&name.as_str())).collect();
        let families = Column::ALL
            .iter()
            .map(|c| ColumnFamilyDescriptor::new(c.name(), column_options(Some(*c))))
            .chain(retired.iter().map(|name| ColumnFamilyDescriptor::new(name.as_str(), column_options(None))));
        let mut db = DB::open_cf_descriptors(&options, path, families).map_err(|e| error("open", e))?;
        for name in retired {
            db.drop_cf(name).map_err(|e| error("drop a retired column family", e))?;
        }
        Ok(RocksBackend { db, path: path.to_path_buf() })
    }

    fn family(&self, column: Column) -> Result<&rocksdb::ColumnFamily, BackendError> {
        self.db.cf_handle(column.name()).ok_or(BackendError {
            operation: "open column",
            message: format!("column family {} is missing", column.name()),
        })
    }

    /// Compacts every column, so disk usage reflects the data, not pending merges.
    pub fn compact(&self) -> Result<(), BackendError> {
        for column in Column::ALL {
            self.db.compact_range_cf(self.family(column)?, None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a consistent, openable copy of the database to the new directory `dir` (a
    /// RocksDB checkpoint).
    pub fn checkpoint(&self, dir: &Path) -> Result<(), BackendError> {
        let checkpoint = Checkpoint::new(&self.db).map_err(|e| error("checkpoint", e))?;
        checkpoint.create_checkpoint(dir).map_err(|e| error("checkpoint", e))
    }
}

/// Writes a consistent copy of `store` to the new directory `dir`, safe to take while
/// blocks are being committed; a store whose last write failed is not copied.
pub fn backup(store: &ChainStore<RocksBackend>, dir: &Path) -> Result<(), StoreError> {
    if store.is_poisoned() {
        return Err(StoreError::Poisoned);
    }
    Ok(store.backend().checkpoint(dir)?)
}

impl Backend for RocksBackend {
    fn get(&self, column: Column, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.db.get_cf(self.family(column)?, key).map_err(|e| error("read", e))
    }

    fn scan(&self, column: Column, prefix: &[u8], from: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        let mut out = Vec::new();
        let start = if from > prefix { from } else { prefix };
        // A column with a prefix extractor (the hashed indexes) iterates within one
        // prefix only unless told otherwise: a scan shorter than it goes in total order.
        let mut read = ReadOptions::default();
        read.set_total_order_seek(prefix.len() < INDEX_PREFIX_BYTES);
        let mode = IteratorMode::From(start, Direction::Forward);
        for item in self.db.iterator_cf_opt(self.family(column)?, read, mode) {
            let (key, value) = item.map_err(|e| error("scan", e))?;
            if !key.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((key.into_vec(), value.into_vec()));
        }
        Ok(out)
    }

    fn write(&self, batch: Batch) -> Result<(), BackendError> {
        // Each column's memtable is a skip list that starts an insert's search where its
        // last insert went: keys written in ascending order mostly find their place near
        // there, while the tx and digest indexes' random keys in block order each searched
        // from the top (a third of the driver thread's instructions went there). The sort
        // is stable, so operations on one key keep their order and the batch means the same.
        let mut ops = batch.ops;
        ops.sort_by(|(a, a_key, _), (b, b_key, _)| (*a as usize, a_key).cmp(&(*b as usize, b_key)));
        let mut write = WriteBatch::default();
        // Resolve each column family once per batch, not once per entry.
        let mut families: [Option<&rocksdb::ColumnFamily>; Column::ALL.len()] = [None; Column::ALL.len()];
        for (column, key, value) in &ops {
            let slot = &mut families[*column as usize];
            let family = match slot {
                Some(family) => *family,
                None => *slot.insert(self.family(*column)?),
            };
            match value {
                Some(v) => write.put_cf(family, key, v),
                None => write.delete_cf(family, key),
            }
        }
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(write, &options).map_err(|e| error("write", e))
    }

    fn disk_bytes(&self) -> Result<Option<u64>, BackendError> {
        let mut total = 0;
        for column in Column::ALL {
            let size = self
                .db
                .property_int_value_cf(self.family(column)?, "rocksdb.total-sst-files-size")
                .map_err(|e| error("size", e))?;
            total += size.unwrap_or(0);
        }
        Ok(Some(total))
    }
}

/// Restores a backup made by [`backup`] into `data_dir`, which must not exist
/// or be empty. Open the result with a full integrity check before use.
pub fn restore(backup: &Path, data_dir: &Path) -> Result<(), BackendError> {
    let io = |e: std::io::Error| BackendError { operation: "restore", message: e.to_string() };
    if data_dir.exists() && std::fs::read_dir(data_dir).map_err(io)?.next().is_some() {
        return Err(BackendError {
            operation: "restore",
            message: format!("{} is not empty; restore into a new directory", data_dir.display()),
        });
    }
    std::fs::create_dir_all(data_dir).map_err(io)?;
    for entry in std::fs::read_dir(backup).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_file() {
            std::fs::copy(entry.path(), data_dir.join(entry.file_name())).map_err(io)?;
        }
    }
    // Make the copies durable before the store is used.
    for entry in std::fs::read_dir(data_dir).map_err(io)? {
        std::fs::File::open(entry.map_err(io)?.path()).and_then(|f| f.sync_all()).map_err(io)?;
    }
    std::fs::File::open(data_dir).and_then(|d| d.sync_all()).map_err(io)
}
