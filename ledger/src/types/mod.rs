//! The records: identifiers, parameters, validator sets, consensus votes, misbehaviour
//! evidence, governance proposals, txs and blocks. They import one way, in that order:
//! ids, params, validator, vote, misbehaviour, gov, tx, block.

pub mod block;
pub mod gov;
pub mod ids;
pub mod misbehaviour;
pub mod params;
pub mod tx;
pub mod validator;
pub mod vote;
