//! The engine on its own: a signer that refuses halts consensus, and nothing signed by the
//! refusal is published.

use chancery_consensus::context::{timeouts, Address, BlockValue, ConsensusValidatorSet, Height, Sig};
use chancery_consensus::engine::{Engine, EngineError, Output, SignRequest, Signer, SignerRefused};
use chancery_ledger::chain::Params;
use chancery_ledger::testkit::{key, public, validator_set, TestChain};
use malachitebft_core_consensus::{Input, LocallyProposedValue};
use malachitebft_core_types::{Round, VoteExtensionPolicy};

struct Refusing;

impl Signer for Refusing {
    fn sign(&mut self, request: &SignRequest) -> Result<Sig, SignerRefused> {
        Err(SignerRefused(format!("guard: already signed at height {}", request.height)))
    }
}

#[test]
fn a_refusing_signer_halts_consensus_without_publishing() {
    let ledger_set = validator_set(&[key(1, 0)], 0);
    let set = ConsensusValidatorSet::from_ledger(&ledger_set);
    let chain = TestChain::new(1);
    let address = Address(public(&key(1, 0)));
    let mut engine =
        Engine::new(chain.chain_id.clone(), address, Height(0), set.clone(), timeouts(&Params::default()), true);
    let outputs = engine
        .handle(Input::StartHeight(Height(0), set, false, None, VoteExtensionPolicy::Disabled), &mut Refusing)
        .expect("start");
    assert!(outputs.iter().any(|o| matches!(o, Output::GetValue { .. })), "the only validator is asked for a block");
    let mut builder = TestChain::new(1);
    let block = builder.commit_block(Vec::new()).0;
    let err = engine
        .handle(
            Input::Propose(LocallyProposedValue::new(Height(0), Round::new(0), BlockValue::new(block))),
            &mut Refusing,
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
    );
    assert!(matches!(again, Err(EngineError::Halted(_))));
}
