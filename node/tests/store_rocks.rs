//! The chain store on the RocksDB backend: the queries and proofs every backend serves;
//! damage made with raw RocksDB access is detected; backups (taken while blocks are
//! written, too) restore to a store that passes the full check and serves identical
//! proofs; column families of an earlier layout are dropped, unknown ones refused.

use chancery_ledger::store::memory::MemoryBackend;
use chancery_ledger::store::{Backend, ChainStore, Column, StoreError};
use chancery_ledger::testkit::{
    chain_spec, check_queries_and_proofs, document_evidence, key, produce_block, signed_tx, StoreFixture as Fixture,
    STORE_T0 as T0,
};
use chancery_node::rocks::{backup, restore, RocksBackend};

#[test]
fn queries_and_proofs_on_rocksdb() {
    let dir = tempfile::tempdir().expect("tempdir");
    check_queries_and_proofs(RocksBackend::open(dir.path()).expect("rocksdb"));
}

/// The backend sorts a batch by column and key before writing it (the memtables' inserts
/// are cheaper in key order): operations on one key must still apply in the batch's order,
/// whatever other keys sort between them.
#[test]
fn a_batch_applies_its_operations_on_one_key_in_order() {
    use chancery_ledger::store::Batch;
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = RocksBackend::open(dir.path()).expect("rocksdb");
    let mut batch = Batch::default();
    batch.put(Column::Txs, b"k2".to_vec(), b"first".to_vec());
    batch.put(Column::Txs, b"k1".to_vec(), b"only".to_vec());
    batch.delete(Column::Txs, b"k2".to_vec());
    batch.put(Column::Evidence, b"k0".to_vec(), b"other column".to_vec());
    batch.put(Column::Txs, b"k2".to_vec(), b"last".to_vec());
    batch.put(Column::Txs, b"k3".to_vec(), b"gone".to_vec());
    batch.delete(Column::Txs, b"k3".to_vec());
    rocks.write(batch).expect("write");
    assert_eq!(rocks.get(Column::Txs, b"k2").expect("read"), Some(b"last".to_vec()));
    assert_eq!(rocks.get(Column::Txs, b"k1").expect("read"), Some(b"only".to_vec()));
    assert_eq!(rocks.get(Column::Txs, b"k3").expect("read"), None);
    assert_eq!(rocks.get(Column::Evidence, b"k0").expect("read"), Some(b"other column".to_vec()));
}

/// The two index columns hash their memtables on a key's first 8 bytes: a scan by a
/// digest returns exactly that digest's entries in key order, whether they are in the
/// memtable or flushed, and not those of another digest sharing the first 8 bytes; a scan
/// by a shorter prefix goes in total order across prefixes.
#[test]
fn index_scans_stay_within_a_digest_across_memtable_and_flushed_files() {
    use chancery_ledger::store::Batch;
    let dir = tempfile::tempdir().expect("tempdir");
    let rocks = RocksBackend::open(dir.path()).expect("rocksdb");
    let digest = |last: u8| {
        let mut d = vec![1u8, 7, 7, 7, 7, 7, 7, 7];
        d.extend([0u8; 24]);
        d.push(last);
        d
    };
    let (a, b) = (digest(1), digest(2));
    let key = |d: &[u8], height: u64| [d, &height.to_be_bytes()].concat();
    let write = |pairs: &[(&[u8], u64)]| {
        let mut batch = Batch::default();
        for (d, height) in pairs {
            batch.put(Column::Evidence, key(d, *height), Vec::new());
            batch.put(Column::Txs, key(d, *height), height.to_be_bytes().to_vec());
        }
        rocks.write(batch).expect("write");
    };
    write(&[(&a, 5), (&b, 1), (&a, 1)]);
    rocks.compact().expect("flush and compact");
    write(&[(&a, 3), (&b, 4), (&a, 9)]);
    let heights = |rows: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<(u8, u64)> {
        rows.iter().map(|(k, _)| (k[32], u64::from_be_bytes(k[33..41].try_into().expect("height")))).collect()
    };
    let of_a = rocks.scan(Column::Evidence, &a, &a, 100).expect("scan");
    assert_eq!(heights(of_a), vec![(1, 1), (1, 3), (1, 5), (1, 9)]);
    let after = rocks.scan(Column::Evidence, &a, &key(&a, 3), 100).expect("scan");
    assert_eq!(heights(after), vec![(1, 3), (1, 5), (1, 9)]);
    let of_b = rocks.scan(Column::Evidence, &b, &b, 100).expect("scan");
    assert_eq!(heights(of_b), vec![(2, 1), (2, 4)]);
    let all = rocks.scan(Column::Evidence, &[1u8, 7], &[1u8, 7], 100).expect("scan");
    assert_eq!(heights(all), vec![(1, 1), (1, 3), (1, 5), (1, 9), (2, 1), (2, 4)]);
    for (d, height) in [(&a, 1u64), (&a, 9), (&b, 4)] {
        let value = rocks.get(Column::Txs, &key(d, height)).expect("read");
        assert_eq!(value, Some(height.to_be_bytes().to_vec()));
    }
    assert_eq!(rocks.get(Column::Txs, &key(&b, 9)).expect("read"), None);
}

#[test]
fn damage_through_raw_rocksdb_is_detected() {
    // (what, column, key, byte to flip): a tx inside block 0's body, block 0's header,
    // and the index entry of block 0's tx 7.
    let (spec, keys) = chain_spec(4);
    let tx7 = {
        let mut f = Fixture::new(MemoryBackend::new());
        f.populate();
        f.store.block(0).expect("block 0").txs[7].hash()
    };
    let cases = [
        ("tx in a block", Column::Blocks, [0u64.to_be_bytes().as_slice(), 0u32.to_be_bytes().as_slice()].concat(), 100),
        ("header", Column::Headers, 0u64.to_be_bytes().to_vec(), 50),
        ("tx index", Column::Txs, tx7.0.to_vec(), 11),
    ];
    for (what, column, key, at) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = ChainStore::open(RocksBackend::open(dir.path()).expect("open"), &spec, 10).expect("store");
            let mut f = Fixture { spec: spec.clone(), keys: keys.clone(), store, nonce: 0 };
            f.populate();
        }
        // Flip one byte with plain RocksDB access, below the chain store.
        {
            let raw = RocksBackend::open(dir.path()).expect("raw");
            let mut value = raw.get(column, &key).expect("read").unwrap_or_else(|| panic!("{what}: value exists"));
            value[at] ^= 1;
            let mut batch = chancery_ledger::store::Batch::default();
            batch.put(column, key.clone(), value);
            raw.write(batch).expect("write");
        }
        let err = ChainStore::open(RocksBackend::open(dir.path()).expect("open"), &spec, u64::MAX)
            .err()
            .expect("corrupt store");
        assert!(err.to_string().contains("corrupt at height 0"), "{what}: {err}");
        // A store that checks only the last block opens, but never serves the damage.
        let store = ChainStore::open(RocksBackend::open(dir.path()).expect("open"), &spec, 1).expect("opens");
        let read = match column {
            Column::Blocks => store.block(0).map(|_| ()),
            Column::Headers => store.header(0).map(|_| ()),
            _ => store.proof_bundle(&tx7, None).map(|_| ()),
        };
        assert!(matches!(read, Err(StoreError::Corrupt { height: 0, .. })), "{what}: read gave {read:?}");
    }
}

#[test]
fn backup_restores_to_a_store_with_identical_proofs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut f = Fixture::new(RocksBackend::open(&dir.path().join("data")).expect("open"));
    f.populate();
    backup(&f.store, &dir.path().join("backup")).expect("backup");
    restore(&dir.path().join("backup"), &dir.path().join("restored")).expect("restore");
    let restored = ChainStore::open(RocksBackend::open(&dir.path().join("restored")).expect("open"), &f.spec, u64::MAX)
        .expect("restored store");
    assert_eq!(restored.check_integrity(None).expect("full check").blocks, 3);
    let tx_hash = f.store.block(0).expect("block").txs[5].hash();
    assert_eq!(
        restored.proof_bundle(&tx_hash, Some(2)).expect("bundle"),
        f.store.proof_bundle(&tx_hash, Some(2)).expect("bundle")
    );
    assert!(restore(&dir.path().join("backup"), &dir.path().join("restored")).is_err(), "refuses a non-empty target");
}

#[test]
fn backups_taken_while_blocks_are_written_restore_consistently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, keys) = chain_spec(4);
    let mut store =
        ChainStore::open(RocksBackend::open(&dir.path().join("data")).expect("open"), &spec, 10).expect("store");
    let reader = store.reader();
    let done = std::sync::atomic::AtomicBool::new(false);
    let backups = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut nonce = 0;
            for height in 0..40u64 {
                let txs: Vec<_> = (0..50u32)
                    .map(|i| {
                        nonce += 1;
                        signed_tx(
                            &key(3, 0),
                            &spec.chain_id,
                            &spec.genesis_hash,
                            document_evidence(&[height.to_le_bytes(), u64::from(i).to_le_bytes()].concat()),
                            nonce,
                        )
                    })
                    .collect();
                produce_block(&mut store, &keys, txs, T0 + 1_000 * (height + 1), true).expect("block commits");
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut backups = Vec::new();
        while !done.load(std::sync::atomic::Ordering::SeqCst) && backups.len() < 20 {
            let copy = dir.path().join(format!("backup-{}", backups.len()));
            backup(&reader, &copy).expect("backup while writing");
            backups.push(copy);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        backups
    });
    assert!(backups.len() >= 2, "backups were taken while blocks were written");
    let mut heights = Vec::new();
    for (i, backup) in backups.iter().enumerate() {
        let target = dir.path().join(format!("restored-{i}"));
        restore(backup, &target).expect("restore");
        let restored = ChainStore::open(RocksBackend::open(&target).expect("open"), &spec, u64::MAX)
            .unwrap_or_else(|e| panic!("backup {i}: {e}"));
        let report = restored.check_integrity(None).expect("full check");
        heights.push(report.blocks);
    }
    assert!(heights.windows(2).all(|w| w[0] <= w[1]), "later backups hold at least as much: {heights:?}");
    println!("restored backup heights: {heights:?}");
}

#[test]
fn column_families_of_an_earlier_layout_are_dropped_and_unknown_ones_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store");
    {
        // A store as an earlier layout left it: with the unused "wal" and "signer" families.
        let mut options = rocksdb::Options::default();
        options.create_if_missing(true);
        options.create_missing_column_families(true);
        let names = Column::ALL.iter().map(|c| c.name()).chain(["wal", "signer"]);
        let db = rocksdb::DB::open_cf(&options, &path, names).expect("old layout");
        drop(db);
    }
    let backend = RocksBackend::open(&path).expect("opens, dropping the retired families");
    drop(backend);
    let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).expect("list");
    assert!(!families.iter().any(|f| f == "wal" || f == "signer"), "{families:?}");
    {
        let mut options = rocksdb::Options::default();
        options.create_missing_column_families(true);
        let names = families.iter().map(String::as_str).chain(["from_the_future"]);
        drop(rocksdb::DB::open_cf(&options, &path, names).expect("newer layout"));
    }
    let err = RocksBackend::open(&path).err().expect("an unknown family");
    assert!(err.to_string().contains("from_the_future"), "{err}");
}
