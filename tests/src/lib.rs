//! Multi-process and end-to-end tests of Chancery: real processes, real RocksDB, loopback
//! networking. The helper binaries in `src/bin` are the processes the tests start and kill.

pub mod fuzz;
