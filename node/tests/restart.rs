//! A proposer that signed its proposal and crashed before the block committed proposes
//! exactly the recorded block again after the restart (its guard would refuse any other
//! block for that round, halting the chain).

use std::time::{Duration, Instant};

use chancery_consensus::context::{Address, BlockValue, ConsensusProposal, Height};
use chancery_consensus::engine::Wal as _;
use chancery_consensus::engine::{SignRequest, SignStep, Signer};
use chancery_consensus::host::mempool::{Mempool, MempoolLimits};
use chancery_consensus::host::produce::build_block;
use chancery_consensus::wire::WalEntry;
use chancery_genesis::Genesis;
use chancery_ledger::store::ChainStore;
use chancery_node::config::Config;
use chancery_node::node::{start, Overrides};
use chancery_node::rocks::RocksBackend;
use chancery_node::signer::LocalSigner;
use chancery_node::wal::FileWal;
use malachitebft_core_types::Round;

#[test]
fn a_restarted_proposer_proposes_the_block_it_signed_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    chancery_node::devchain::create(&home, Some(1_000)).expect("dev home");
    let mut config = Config::load(&home.join("config.toml")).expect("config");
    config.rpc.listen = "127.0.0.1:0".into();
    let genesis =
        Genesis::from_json(&std::fs::read_to_string(home.join("genesis.json")).expect("genesis")).expect("genesis");
    // The state a crash left: block 0 built and recorded in the WAL, its proposal signed
    // (the guard's mark), nothing committed.
    let data = home.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let mut signer = LocalSigner::open(&home.join("keys/consensus.key"), None, &home.join("keys/signer_state.json"))
        .expect("signer");
    let address = Address(signer.public_key());
    let recorded = {
        let store =
            ChainStore::open(RocksBackend::open(&data.join("store")).expect("rocks"), &genesis.chain_spec(), 10)
                .expect("store");
        let pool = Mempool::new(
            MempoolLimits {
                txs_max: 10,
                bytes_max: 1 << 20,
                per_submitter_txs_max: 10,
                per_submitter_bytes_max: 1 << 20,
            },
            genesis.hash(),
        );
        build_block(&store, &pool, address.0, genesis.genesis_time_ms + 1).expect("build").block
    };
    let proposal = ConsensusProposal {
        height: Height(0),
        round: Round::new(0),
        value: BlockValue::new(recorded.clone()),
        pol_round: Round::Nil,
        proposer: address,
    };
    let request = SignRequest {
        height: 0,
        round: 0,
        step: SignStep::Propose,
        message: proposal.signing_message(&chancery_ledger::ChainIdentity {
            chain_id: genesis.chain_id.clone(),
            genesis_hash: genesis.hash(),
        }),
        key: address.0,
    };
    signer.sign(&request).expect("signed before the crash");
    drop(signer);
    let (mut wal, _, _) = FileWal::open(&data.join("consensus.wal")).expect("wal");
    let entry = WalEntry::ProposedValue {
        height: 0,
        round: 0,
        valid_round: None,
        proposer: address.0,
        block: recorded.clone(),
        valid: true,
        from_sync: false,
    };
    wal.append(0, &entry).expect("append");
    drop(wal);

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let node = start(&home, &config, &Overrides::default()).await.expect("restart");
        let deadline = Instant::now() + Duration::from_secs(20);
        while node.store.height() == 0 {
            assert!(node.status.liveness().halted.is_none(), "halted: {:?}", node.status.liveness().halted);
            assert!(Instant::now() < deadline, "block 0 not committed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let committed = node.store.header(0).expect("header");
        assert_eq!(committed.hash(), recorded.header.hash(), "the recorded block is the one committed");
        assert!(node.stop().await, "the store closes");
    });
}
