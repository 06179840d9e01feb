//! A testnet of real processes on loopback: four validators (operator, notary, court,
//! arbitration) and an observer, made by `chancery testnet init` and started with
//! `chancery start`. After each step every node has the same block hash at every height
//! it shares with the others.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use chancery_ledger::Hash;
use chancery_rpc::txs::{clock_nonce, tx_hex};
use chancery_rpc::types::{SubmitOutcome, TxStatus};
use chancery_rpc::ChanceryApiClient;
use support::testnet::{blocks, client, same_chain, testnet, wait_blocks, Node};
use support::{doc_txs, runtime};

async fn submit_and_wait(node: &Node, key: &ed25519_dalek::SigningKey, n: usize, tag: &str) -> Vec<Hash> {
    let c = client(node).await;
    let chain = c.info().await.expect("info").identity().expect("chain");
    let txs = doc_txs(key, &chain, tag, clock_nonce(), n);
    let mut hashes = Vec::new();
    for chunk in txs.chunks(500) {
        for outcome in c.submit_batch(chunk.iter().map(tx_hex).collect()).await.expect("submit") {
            match outcome {
                SubmitOutcome::Accepted { tx_hash } => hashes.push(tx_hash),
                SubmitOutcome::Refused { error } => panic!("{}: refused {error:?}", node.name),
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for hash in &hashes {
        while !matches!(c.status(*hash).await.expect("status").status, TxStatus::Committed { .. }) {
            assert!(Instant::now() < deadline, "{}: tx {hash} not committed", node.name);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    hashes
}

#[test]
fn four_institutions_commit_survive_crashes_keep_safety_and_resync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = testnet(dir.path());
    for node in nodes.iter_mut() {
        node.start();
    }
    let genesis = chancery_genesis::Genesis::from_json(
        &std::fs::read_to_string(dir.path().join("genesis.json")).expect("genesis"),
    )
    .expect("genesis");
    let trust = genesis.trust_root();
    let keys: Vec<ed25519_dalek::SigningKey> = support::bench_keys(dir.path()).into_iter().take(4).collect();
    let rt = runtime();
    rt.block_on(async {
        let all: Vec<&Node> = nodes.iter().collect();
        wait_blocks(&all, 2, Duration::from_secs(60)).await;

        // Load through every validator; every proof, from the observer and from a
        // validator, verifies offline against the genesis.
        let mut committed = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            committed.extend(submit_and_wait(&nodes[i], key, 500, &format!("load {i}")).await);
        }
        for server in [&nodes[4], &nodes[2]] {
            let c = client(server).await;
            for hash in committed.iter().step_by(7) {
                let bundle = c.proof(*hash, None).await.expect("proof");
                chancery_ledger::verify(&bundle, &trust, None).expect("verifies offline");
            }
        }

        // The demo CA issues a certificate through the notary; the observer answers its
        // status with a proof that verifies against the genesis.
        let ca = chancery_node::signer::KeyFile::load(&dir.path().join("ca.key"), None).expect("ca key");
        let now = chancery_node::clock::now_ms();
        let issue = chancery_ledger::TxBody::CertEvent(chancery_ledger::tx::CertEvent {
            ca: chancery_ledger::validator::CaId::new(chancery_node::devchain::DEMO_CA).expect("id"),
            serial: chancery_ledger::tx::CertSerial::new(vec![7]).expect("serial"),
            cert_digest: chancery_ledger::Digest::compute(chancery_ledger::DigestAlg::Sha256, b"cert"),
            subject_key: chancery_ledger::Digest::compute(chancery_ledger::DigestAlg::Sha256, b"key"),
            event: chancery_ledger::tx::CertEventKind::Issued { not_before_ms: now, not_after_ms: now + 86_400_000 },
        });
        let chain = support::chain_of(dir.path());
        let issue = chancery_rpc::txs::sign_tx(&ca, &chain, issue, clock_nonce());
        let notary = client(&nodes[1]).await;
        let hash = notary.cert_submit(tx_hex(&issue)).await.expect("cert event accepted");
        let deadline = Instant::now() + Duration::from_secs(60);
        let observer = client(&nodes[4]).await;
        while !matches!(observer.status(hash).await.expect("status").status, TxStatus::Committed { .. }) {
            assert!(Instant::now() < deadline, "certificate event not committed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let answer = observer.cert_status("demo-ca".into(), "07".into(), now + 1).await.expect("status");
        let verdict = chancery_ledger::verify::verify_cert_status(&answer.proof, &trust).expect("verifies offline");
        assert_eq!(verdict.status, chancery_ledger::verify::CertStatus::Valid);
        assert_eq!(verdict.events.len(), 1);
        same_chain(&all).await;
    });
    // Proposals went out compact (the default): the observer (which hears every
    // proposal) and the validators took their txs from their own mempools.
    let local = |node: &Node| node.metric("chancery_p2p_proposal_txs_local_total");
    assert!(local(&nodes[4]) > 0);
    assert!(nodes[..4].iter().map(local).sum::<u64>() > 0);

    // One validator down: the chain goes on.
    nodes[3].kill();
    rt.block_on(async {
        submit_and_wait(&nodes[0], &keys[0], 20, "three of four").await;
        let live: Vec<&Node> = [0, 1, 2, 4].iter().map(|i| &nodes[*i]).collect();
        same_chain(&live).await;
    });

    // Two down: nothing commits, and the nodes say why.
    nodes[2].kill();
    rt.block_on(async {
        let live: Vec<&Node> = [0, 1, 4].iter().map(|i| &nodes[*i]).collect();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let before: Vec<u64> = futures_blocks(&live).await;
        let c = client(&nodes[0]).await;
        let chain = c.info().await.expect("info").identity().expect("chain");
        let tx = doc_txs(&keys[1], &chain, "no quorum", clock_nonce(), 1);
        let hash = c.submit(tx_hex(&tx[0])).await.expect("accepted into the mempool");
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(futures_blocks(&live).await, before, "no block may commit with half the power down");
        assert!(matches!(c.status(hash).await.expect("status").status, TxStatus::Pending));
        let health = nodes[0].health();
        assert_eq!(health["status"], "no_quorum", "{health}");
        assert!(health["reason"].as_str().is_some_and(|r| r.contains("20 of 40")), "{health}");
    });

    // Both back: the chain resumes, with no fork.
    nodes[2].start();
    nodes[3].start();
    rt.block_on(async {
        submit_and_wait(&nodes[2], &keys[2], 20, "resumed").await;
        let all: Vec<&Node> = nodes.iter().collect();
        let n = blocks(&nodes[0]).await;
        wait_blocks(&all, n, Duration::from_secs(60)).await;
        same_chain(&all).await;
    });

    // A validator restarted with an empty data directory syncs back and votes again.
    nodes[1].kill();
    std::fs::remove_dir_all(nodes[1].home.join("data")).expect("wipe data");
    nodes[1].start();
    rt.block_on(async {
        let target = blocks(&nodes[0]).await;
        let all: Vec<&Node> = nodes.iter().collect();
        wait_blocks(&all, target, Duration::from_secs(120)).await;
        // With the arbitration node down, every commit needs the notary's vote.
        drop(all);
    });
    nodes[3].kill();
    rt.block_on(async {
        let hashes = submit_and_wait(&nodes[1], &keys[1], 10, "notary votes again").await;
        let c = client(&nodes[1]).await;
        let status = c.status(hashes[0]).await.expect("status");
        let TxStatus::Committed { height, .. } = status.status else { panic!("not committed") };
        let commit = c.commit(height).await.expect("commit");
        let notary = genesis.validators.validators.iter().find(|v| v.name.as_str() == "Notary Office").expect("notary");
        assert!(commit.signatures.iter().any(|s| s.validator == notary.consensus_key), "the notary signs again");
        let live: Vec<&Node> = [0, 1, 2, 4].iter().map(|i| &nodes[*i]).collect();
        same_chain(&live).await;
        // The observer followed all along and serves proofs.
        let bundle = client(&nodes[4]).await.proof(hashes[0], None).await.expect("observer proof");
        chancery_ledger::verify(&bundle, &trust, None).expect("verifies");
    });

    // A partition: the arbitration commission cut off from everyone (operator block
    // lists, reloaded with SIGHUP). The majority goes on; the minority commits nothing;
    // once healed, everyone converges on one chain.
    nodes[3].start();
    let p2p_key = |home: &Path| {
        let key = chancery_node::signer::KeyFile::load(&home.join("keys/p2p.key"), None).expect("p2p key");
        hex::encode(key.verifying_key().to_bytes())
    };
    let keys_of: Vec<String> = nodes.iter().map(|n| p2p_key(&n.home)).collect();
    rt.block_on(async {
        let n = blocks(&nodes[0]).await;
        let all: Vec<&Node> = nodes.iter().collect();
        wait_blocks(&all, n, Duration::from_secs(60)).await;
    });
    for (i, node) in nodes.iter().enumerate() {
        if i == 3 {
            node.block(&[0, 1, 2, 4].iter().map(|j| keys_of[*j].clone()).collect::<Vec<_>>());
        } else {
            node.block(&[keys_of[3].clone()]);
        }
    }
    rt.block_on(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let minority = blocks(&nodes[3]).await;
        submit_and_wait(&nodes[0], &keys[3], 20, "majority side").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(blocks(&nodes[3]).await, minority, "the cut-off validator must commit nothing");
        assert!(blocks(&nodes[0]).await > minority, "the majority goes on");
        let health = nodes[3].health();
        assert_eq!(health["status"], "no_quorum", "{health}");
    });
    for node in &nodes {
        node.block(&[]);
    }
    rt.block_on(async {
        submit_and_wait(&nodes[3], &keys[2], 10, "healed").await;
        let n = blocks(&nodes[0]).await;
        let all: Vec<&Node> = nodes.iter().collect();
        wait_blocks(&all, n, Duration::from_secs(60)).await;
        same_chain(&all).await;
    });

    // The court's keys in the wrong hands: its node is down and someone sends two
    // conflicting prevotes in its name at every height. The chain stays safe, and the
    // honest nodes anchor the equivocation as misbehaviour evidence.
    nodes[2].kill();
    let court =
        &genesis.validators.validators.iter().find(|v| v.name.as_str() == "District Court").expect("court").clone();
    let consensus = chancery_node::signer::KeyFile::load(&nodes[2].home.join("keys/consensus.key"), None).expect("key");
    let p2p = chancery_node::signer::KeyFile::load(&nodes[2].home.join("keys/p2p.key"), None).expect("key").to_bytes();
    let config = chancery_node::config::Config::load(&nodes[2].home.join("config.toml")).expect("config");
    rt.block_on(async {
        let c = client(&nodes[4]).await;
        let chain = c.info().await.expect("info").identity().expect("chain");
        let start = c.info().await.expect("info").blocks;
        equivocate(p2p, &consensus, &chain, &config.p2p.peers, start, Instant::now() + Duration::from_secs(4)).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let (tx_hash, height) = 'found: loop {
            let n = c.info().await.expect("info").blocks;
            for h in start..n {
                let block = c.block(h).await.expect("block");
                for tx in block.txs.iter() {
                    if let chancery_ledger::TxBody::Misbehaviour(m) = &tx.body {
                        assert_eq!(m.validator, court.consensus_key, "only the court misbehaved");
                        break 'found (tx.hash(), h);
                    }
                }
            }
            assert!(Instant::now() < deadline, "no misbehaviour anchored");
            tokio::time::sleep(Duration::from_millis(300)).await;
        };
        let bundle = c.proof(tx_hash, None).await.expect("proof");
        let report = chancery_ledger::verify(&bundle, &trust, None).expect("verifies offline");
        assert!(matches!(report.record, chancery_ledger::verify::Record::Misbehaviour { .. }), "{:?}", report.record);
        assert!(height >= start);
        let live: Vec<&Node> = [0, 1, 3, 4].iter().map(|i| &nodes[*i]).collect();
        submit_and_wait(&nodes[0], &keys[0], 5, "after equivocation").await;
        same_chain(&live).await;
    });
}

/// Plays an equivocating validator: connects with `p2p_secret` (its node identity) to
/// `peers` and sends, for each height from `from` on, two conflicting prevotes signed
/// with its consensus key, until `until` has passed.
async fn equivocate(
    p2p_secret: [u8; 32],
    consensus: &ed25519_dalek::SigningKey,
    chain: &chancery_ledger::ChainIdentity,
    peers: &[String],
    from: u64,
    until: Instant,
) {
    use chancery_consensus::wire::Message;
    use chancery_consensus::wire::WireVote;
    use chancery_node::p2p::{FrameCodec, PROTOCOL};
    use ed25519_dalek::Signer as _;
    use libp2p::futures::StreamExt;
    use libp2p::request_response::{self, ProtocolSupport};
    let keypair = libp2p::identity::Keypair::ed25519_from_bytes(p2p_secret).expect("key");
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(libp2p::tcp::Config::default(), libp2p::noise::Config::new, libp2p::yamux::Config::default)
        .expect("transport")
        .with_behaviour(|_| {
            request_response::Behaviour::<FrameCodec>::new(
                [(PROTOCOL, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    let mut targets = Vec::new();
    for text in peers {
        let address: libp2p::Multiaddr = text.parse().expect("multiaddr");
        let Some(libp2p::multiaddr::Protocol::P2p(peer)) = address.iter().last() else { panic!("no peer id") };
        swarm.add_peer_address(peer, address.clone());
        let _ = swarm.dial(address);
        targets.push(peer);
    }
    let validator = chancery_ledger::PublicKey(consensus.verifying_key().to_bytes());
    let mut height = from;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while Instant::now() < until {
        tokio::select! {
            _ = swarm.select_next_some() => {}
            _ = tick.tick() => {
                for h in height..height + 3 {
                    for block in [Some(Hash([7; 32])), None] {
                        let vote = chancery_ledger::Vote { chain_id: chain.chain_id.clone(), genesis_hash: chain.genesis_hash, height: h, round: 0, kind: chancery_ledger::VoteKind::Prevote, block_hash: block };
                        let signature = chancery_ledger::Signature(consensus.sign(vote.signing_message().as_bytes()).to_bytes());
                        let wire = WireVote { height: h, round: 0, kind: vote.kind, block_hash: block, validator, signature };
                        let bytes = chancery_ledger::encode(&Message::Vote(wire));
                        for peer in &targets {
                            swarm.behaviour_mut().send_request(peer, bytes.clone());
                        }
                    }
                }
                height += 1;
            }
        }
    }
}

async fn futures_blocks(nodes: &[&Node]) -> Vec<u64> {
    let mut out = Vec::new();
    for node in nodes {
        out.push(blocks(node).await);
    }
    out
}

/// At the default `empty_block_interval_ms` (a minute) an idle testnet makes no block, and
/// a tx sent to the observer (which gossips it to validators that wait, idle) is committed
/// in round 0 at the next height, by every node.
#[test]
fn an_idle_testnet_waits_for_a_tx_and_commits_it_in_round_0() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut nodes = support::testnet::testnet_with_interval(dir.path(), None);
    for node in nodes.iter_mut() {
        node.start();
    }
    let key = support::bench_keys(dir.path()).remove(0);
    let interval = chancery_ledger::params::Params::default().empty_block_interval_ms;
    let rt = runtime();
    rt.block_on(async {
        let all: Vec<&Node> = nodes.iter().collect();
        wait_blocks(&all, 1, Duration::from_secs(60)).await;
        // Nodes that started late may add a block as they join; then the chain is idle.
        tokio::time::sleep(Duration::from_secs(4)).await;
        let observer = client(&nodes[4]).await;
        let idle_from = observer.info().await.expect("info");
        tokio::time::sleep(Duration::from_secs(6)).await;
        let mut idle_heights = Vec::new();
        for node in &nodes {
            idle_heights.push(blocks(node).await);
        }
        let last_time = observer.header(idle_from.blocks - 1).await.expect("header").time_ms;
        // The last block is seconds old, well within the minute: no node made a block.
        assert!(
            idle_heights.iter().all(|h| *h == idle_from.blocks),
            "an idle chain made blocks: {idle_heights:?} after {} (interval {interval} ms)",
            idle_from.blocks
        );
        let hashes = submit_and_wait(&nodes[4], &key, 1, "idle").await;
        let status = observer.status(hashes[0]).await.expect("status");
        let TxStatus::Committed { height, .. } = status.status else { panic!("{status:?}") };
        let commit = observer.commit(height).await.expect("commit");
        assert_eq!(commit.round, 0, "a tx on an idle chain is decided in the first round: {commit:?}");
        let header = observer.header(height).await.expect("header");
        println!(
            "idle for {} ms since the last block at height {}; the tx committed at height {height}, round 0",
            header.time_ms - last_time,
            idle_from.blocks - 1
        );
        wait_blocks(&all, height + 1, Duration::from_secs(30)).await;
        same_chain(&all).await;
    });
    for node in nodes.iter_mut() {
        node.kill();
    }
}
