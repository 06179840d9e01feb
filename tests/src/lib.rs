//! Multi-node and end-to-end tests of Chancery: real processes, real RocksDB, loopback
//! networking. Filled in by the node and network issues.
