//! The running Chancery node: p2p, mempool, block production, consensus driver, WAL,
//! signer, metrics and configuration. Filled in by the node issue.
