//! The engine on its own: a signer that refuses halts consensus, and nothing signed by the
//! refusal is published.

use chancery_consensus::context::{timeouts, Address, BlockValue, ConsensusValidatorSet, Height, Sig};
use chancery_consensus::engine::{Engine, EngineError, Output, SignRequest, Signer, SignerRefused, Wal, WalError};
use chancery_consensus::host::MemoryWal;
use chancery_consensus::wire::WalEntry;
use chancery_ledger::block::Params;
use chancery_ledger::testkit::{key, public, validator_set, TestChain};
use malachitebft_core_consensus::{Input, LocallyProposedValue};
use malachitebft_core_types::{Round, VoteExtensionPolicy};

struct Refusing;

impl Signer for Refusing {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        Err(SignerRefused(format!("guard: already signed at height {}", request.height)))
    }

    fn public_keys(&mut self) -> Vec<chancery_ledger::PublicKey> {
        vec![public(&key(1, 0))]
    }
}

#[test]
fn a_refusing_signer_halts_consensus_without_publishing() {
    let ledger_set = validator_set(&[key(1, 0)], 0);
    let set = ConsensusValidatorSet::from_ledger(&ledger_set);
    let chain = TestChain::new(1);
    let address = Address(public(&key(1, 0)));
    let mut engine = Engine::new(chain.identity(), address, Height(0), set.clone(), timeouts(&Params::default()), true);
    let mut wal = MemoryWal::new("test");
    let outputs = engine
        .handle(Input::StartHeight(Height(0), set, false, None, VoteExtensionPolicy::Disabled), &mut Refusing, &mut wal)
        .expect("start");
    assert!(outputs.iter().any(|o| matches!(o, Output::GetValue { .. })), "the only validator is asked for a block");
    let mut builder = TestChain::new(1);
    let block = builder.commit_block(Vec::new()).0;
    let err = engine
        .handle(
            Input::Propose(LocallyProposedValue::new(Height(0), Round::new(0), BlockValue::new(block))),
            &mut Refusing,
            &mut wal,
        )
        .expect_err("halts");
    assert!(matches!(&err, EngineError::Halted(reason) if reason.contains("already signed")), "{err}");
    // Once halted, it stays halted.
    let again = engine.handle(
        Input::StartHeight(
            Height(1),
            ConsensusValidatorSet::from_ledger(&ledger_set),
            false,
            None,
            VoteExtensionPolicy::Disabled,
        ),
        &mut Refusing,
        &mut wal,
    );
    assert!(matches!(again, Err(EngineError::Halted(_))));
}

/// Records the order of WAL appends and signatures in one log.
struct Logged<'a>(&'a std::cell::RefCell<Vec<String>>, bool);

impl Signer for Logged<'_> {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        self.0.borrow_mut().push(format!("sign {:?}", request.step));
        Ok(Sig(chancery_ledger::testkit::sign(&key(1, 0), &request.message).0))
    }

    fn public_keys(&mut self) -> Vec<chancery_ledger::PublicKey> {
        vec![public(&key(1, 0))]
    }
}

impl Wal for Logged<'_> {
    fn append(&mut self, _height: u64, entry: &WalEntry) -> Result<(), WalError> {
        let name = match entry {
            WalEntry::ProposedValue { .. } => "wal proposed value",
            WalEntry::Vote(_) => "wal vote",
            _ => "wal other",
        };
        self.0.borrow_mut().push(name.to_string());
        if self.1 {
            Err(WalError { location: "test".into(), message: "disk full".into() })
        } else {
            Ok(())
        }
    }

    fn clear(&mut self) -> Result<(), WalError> {
        Ok(())
    }
}

fn propose(fail_wal: bool) -> (Result<Vec<Output>, EngineError>, Vec<String>) {
    let ledger_set = validator_set(&[key(1, 0)], 0);
    let set = ConsensusValidatorSet::from_ledger(&ledger_set);
    let chain = TestChain::new(1);
    let address = Address(public(&key(1, 0)));
    let log = std::cell::RefCell::new(Vec::new());
    let mut engine = Engine::new(chain.identity(), address, Height(0), set.clone(), timeouts(&Params::default()), true);
    let mut signer = Logged(&log, false);
    let mut wal = Logged(&log, fail_wal);
    engine
        .handle(Input::StartHeight(Height(0), set, false, None, VoteExtensionPolicy::Disabled), &mut signer, &mut wal)
        .expect("start");
    let block = TestChain::new(1).commit_block(Vec::new()).0;
    let result = engine.handle(
        Input::Propose(LocallyProposedValue::new(Height(0), Round::new(0), BlockValue::new(block))),
        &mut signer,
        &mut wal,
    );
    let entries = log.borrow().clone();
    (result, entries)
}

#[test]
fn the_proposed_block_is_in_the_wal_before_the_proposal_is_signed() {
    let (result, log) = propose(false);
    let outputs = result.expect("proposes");
    let wal_at = log.iter().position(|e| e == "wal proposed value").expect("block recorded");
    let sign_at = log.iter().position(|e| e == "sign Propose").expect("proposal signed");
    assert!(wal_at < sign_at, "{log:?}");
    assert!(outputs.iter().any(|o| matches!(o, Output::Decide { .. })), "one validator decides at once");
}

#[test]
fn a_failed_wal_append_halts_before_anything_is_signed() {
    let (result, log) = propose(true);
    assert!(matches!(&result, Err(EngineError::Halted(r)) if r.contains("disk full")), "{result:?}");
    assert!(!log.iter().any(|e| e.starts_with("sign")), "{log:?}");
}
