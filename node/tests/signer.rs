//! The signer: key files refuse loose permissions and wrong passphrases; the double-sign
//! guard refuses a conflicting consensus signature, also after a restart.

use std::os::unix::fs::PermissionsExt;

use chancery_consensus::engine::{SignRequest, SignStep, Signer};
use chancery_ledger::{HashContext, PublicKey};
use chancery_node::signer::{generate_consensus_key, next_key_file, DoubleSignGuard, KeyFile, LocalSigner};

fn request(key: PublicKey, height: u64, round: u32, step: SignStep, what: &[u8]) -> SignRequest {
    SignRequest { height, round, step, message: HashContext::Vote.hash(what), key }
}

#[test]
fn a_key_file_others_can_read_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("validator.key");
    KeyFile::generate(&path, None).expect("generate");
    assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    assert!(KeyFile::load(&path, None).is_ok());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = KeyFile::load(&path, None).expect_err("world-readable");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(KeyFile::generate(&path, None).is_err(), "never overwrites a key");
}

#[test]
fn an_encrypted_key_needs_its_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("validator.key");
    let key = KeyFile::generate(&path, Some("correct horse")).expect("generate");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(!text.contains(&hex::encode(key.to_bytes())), "the secret is not stored in clear");
    assert_eq!(KeyFile::load(&path, Some("correct horse")).expect("load").to_bytes(), key.to_bytes());
    assert!(KeyFile::load(&path, Some("wrong horse")).expect_err("wrong").to_string().contains("wrong passphrase"));
    assert!(KeyFile::load(&path, None).expect_err("none").to_string().contains("give its passphrase"));
}

#[test]
fn a_conflicting_signature_is_refused_also_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, guard) = (dir.path().join("validator.key"), dir.path().join("signer_state.json"));
    generate_consensus_key(&key, &guard, None).expect("generate");
    let mut signer = LocalSigner::open(&key, None, &guard).expect("open");
    let first = signer.sign(&request(signer.public_key(), 5, 0, SignStep::Prevote, b"block A")).expect("first prevote");
    assert!(
        signer.sign(&request(signer.public_key(), 5, 0, SignStep::Prevote, b"block B")).is_err(),
        "conflicting prevote"
    );
    assert_eq!(
        signer.sign(&request(signer.public_key(), 5, 0, SignStep::Prevote, b"block A")).expect("same again"),
        first
    );
    signer.sign(&request(signer.public_key(), 5, 0, SignStep::Precommit, b"block A")).expect("precommit");
    drop(signer);

    // Restart: the mark was synced before the signatures left.
    let mut signer = LocalSigner::open(&key, None, &guard).expect("reopen");
    let err = signer
        .sign(&request(signer.public_key(), 5, 0, SignStep::Precommit, b"nil"))
        .expect_err("conflicting precommit after restart");
    assert!(err.to_string().contains("already signed"), "{err}");
    assert!(signer.sign(&request(signer.public_key(), 5, 0, SignStep::Prevote, b"block A")).is_err(), "below the mark");
    assert!(signer.sign(&request(signer.public_key(), 4, 9, SignStep::Precommit, b"old")).is_err(), "an older height");
    assert!(
        signer.sign(&request(signer.public_key(), 5, 1, SignStep::Propose, b"round 1 proposal")).is_ok(),
        "a later round"
    );
    assert!(
        signer.sign(&request(signer.public_key(), 6, 0, SignStep::Prevote, b"next height")).is_ok(),
        "a later height"
    );

    // A damaged guard file stops the signer rather than forgetting the mark.
    drop(signer);
    std::fs::write(&guard, "{").expect("damage");
    assert!(LocalSigner::open(&key, None, &guard).err().expect("refuses").to_string().contains("never delete it"));
}

/// A key rotation: the successor key put beside the consensus key is picked up while the
/// signer runs; one guard covers both keys, so no slot is signed twice across the switch.
#[test]
fn the_successor_key_is_picked_up_and_the_guard_holds_across_the_switch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, guard) = (dir.path().join("consensus.key"), dir.path().join("signer_state.json"));
    generate_consensus_key(&key, &guard, None).expect("generate");
    let mut signer = LocalSigner::open(&key, None, &guard).expect("open");
    let old = signer.public_key();
    assert_eq!(signer.public_keys(), vec![old]);
    signer.sign(&request(old, 5, 0, SignStep::Prevote, b"block A")).expect("old key at 5");
    let successor = KeyFile::generate(&next_key_file(&key), None).expect("successor");
    let new = PublicKey(successor.verifying_key().to_bytes());
    assert_eq!(signer.public_keys(), vec![old, new], "picked up without a restart");
    // The same slot with the other key: refused, even for the same message.
    let err = signer.sign(&request(new, 5, 0, SignStep::Prevote, b"block A")).expect_err("same slot, new key");
    assert!(err.to_string().contains("another consensus key"), "{err}");
    let signature = signer.sign(&request(new, 6, 0, SignStep::Prevote, b"block B")).expect("new key at 6");
    assert!(new.verify(&HashContext::Vote.hash(b"block B"), &chancery_ledger::Signature(signature.0)).is_ok());
    assert!(signer.sign(&request(old, 6, 0, SignStep::Prevote, b"block B")).is_err(), "old key, same slot");
    assert!(signer.sign(&request(old, 5, 1, SignStep::Precommit, b"late")).is_err(), "below the mark");
    let stranger = PublicKey([7; 32]);
    let err = signer.sign(&request(stranger, 7, 0, SignStep::Prevote, b"x")).expect_err("a key it does not hold");
    assert!(err.to_string().contains("does not hold consensus key"), "{err}");
    drop(signer);
    // After a restart both keys are loaded and the guard still holds.
    let mut signer = LocalSigner::open(&key, None, &guard).expect("reopen");
    assert_eq!(signer.public_keys(), vec![old, new]);
    assert!(signer.sign(&request(new, 6, 0, SignStep::Prevote, b"block C")).is_err(), "conflicting after restart");
    // The successor moved over the old key: the running signer holds the new key alone,
    // and a later rotation's successor is picked up too.
    std::fs::rename(next_key_file(&key), &key).expect("move");
    assert_eq!(signer.public_keys(), vec![new]);
    assert!(signer.sign(&request(old, 7, 0, SignStep::Prevote, b"x")).is_err(), "the old key is gone");
    let third = KeyFile::generate(&next_key_file(&key), None).expect("third");
    let third = PublicKey(third.verifying_key().to_bytes());
    assert_eq!(signer.public_keys(), vec![new, third]);
    assert!(signer.sign(&request(third, 8, 0, SignStep::Prevote, b"y")).is_ok());
}

/// A key brought to a new host (its guard file left behind) may have signed there: the
/// signer signs nothing until the operator states the height to resume from, and then
/// nothing below it. A guard file that exists is never replaced.
#[test]
fn a_key_without_its_guard_file_signs_nothing_until_the_resume_height_is_stated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, guard) = (dir.path().join("consensus.key"), dir.path().join("signer_state.json"));
    KeyFile::generate(&key, None).expect("a key imported without its guard");
    let mut signer = LocalSigner::open(&key, None, &guard).expect("opens, to follow the chain");
    let public = signer.public_key();
    assert_eq!(signer.signed_up_to(), Some(u64::MAX), "a node with this signer does not vote");
    let err = signer.sign(&request(public, 0, 0, SignStep::Prevote, b"a")).expect_err("no guard file");
    assert!(err.to_string().contains("chancery signer resume"), "{err}");
    assert!(!guard.exists(), "refusing writes no mark");

    DoubleSignGuard::resume(&guard, 10).expect("the operator states height 10");
    let again = DoubleSignGuard::resume(&guard, 3).expect_err("never replaced");
    assert!(again.to_string().contains("never replaced"), "{again}");
    // The running signer reads the stated height when asked for its keys.
    assert_eq!(signer.public_keys(), vec![public]);
    assert_eq!(signer.signed_up_to(), Some(10), "not below the stated height (nor at it without a WAL)");
    let err = signer.sign(&request(public, 9, 5, SignStep::Precommit, b"b")).expect_err("below the stated height");
    assert!(err.to_string().contains("resumes from height 10"), "{err}");
    signer.sign(&request(public, 10, 0, SignStep::Prevote, b"c")).expect("at the stated height");
    assert_eq!(signer.signed_up_to(), Some(10));
}

/// One key, one signer: a second signer on the same home (a second `chancery signer`, or
/// a node beside a signer) refuses to start and names the process holding the home.
#[test]
fn a_second_signer_on_one_home_refuses_to_start_and_names_the_holder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, guard) = (dir.path().join("consensus.key"), dir.path().join("signer_state.json"));
    generate_consensus_key(&key, &guard, None).expect("generate");
    let first = LocalSigner::open(&key, None, &guard).expect("first signer");
    let err = LocalSigner::open(&key, None, &guard).err().expect("second signer refused");
    let text = err.to_string();
    assert!(text.contains("locked") && text.contains(&format!("process {}", std::process::id())), "{text}");
    // (flock locks an open file: a second open in one process conflicts like another
    // process's.)
    drop(first);
    LocalSigner::open(&key, None, &guard).expect("free once the first is gone");
}

/// Through the remote signer's socket too: a node learns of a resume height stated in
/// the signer's home when it next asks for the signer's keys, without a restart.
#[test]
fn a_remote_signers_resume_height_reaches_the_node_without_a_restart() {
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    use chancery_node::signer::hosted::HostedKeys;
    use chancery_node::signer::remote::{bind_owner_only, serve, HostedPolicy, RemoteSigner};

    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    std::fs::create_dir_all(home.join("keys")).expect("keys dir");
    let (key, guard) = (home.join("keys/consensus.key"), home.join("keys/signer_state.json"));
    KeyFile::generate(&key, None).expect("a key brought without its guard");
    let socket = home.join("signer.sock");
    let stop = Arc::new(AtomicBool::new(false));
    let server = {
        let (home, socket, stop) = (home.to_path_buf(), socket.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut signer =
                LocalSigner::open(&home.join("keys/consensus.key"), None, &home.join("keys/signer_state.json"))
                    .expect("signer");
            let hosted = HostedKeys::open(&home.join("hosted"), None).expect("hosted keys");
            let policy = HostedPolicy::load(&home).expect("policy");
            let listener = bind_owner_only(&socket).expect("bind");
            serve(&mut signer, &hosted, &policy, listener, &socket, &stop).expect("serve");
        })
    };
    let mut remote =
        RemoteSigner::connect(&socket, Arc::new(AtomicBool::new(false)), Duration::from_secs(10)).expect("connect");
    assert_eq!(remote.signed_up_to(), Some(u64::MAX), "no guard file: the node does not vote");
    DoubleSignGuard::resume(&guard, 7).expect("resume");
    let keys = remote.public_keys();
    assert_eq!(keys, vec![remote.public_key()]);
    assert_eq!(remote.signed_up_to(), Some(7), "the stated height reached the node");
    let refused = remote.sign(&request(remote.public_key(), 6, 0, SignStep::Prevote, b"x")).expect_err("below");
    assert!(refused.0.contains("resumes from height 7"), "{refused:?}");
    remote.sign(&request(remote.public_key(), 8, 0, SignStep::Prevote, b"y")).expect("above the stated height");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.join().expect("server thread");
}
