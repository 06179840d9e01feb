//! What courts, notaries and arbitration commissions get from Chancery: the facts a proof
//! proves, in plain words in English and Simplified Chinese ([`facts`]); the check of
//! everything a party hands over at once, each file told apart by its content
//! ([`files`]); and the verification page, one self-contained HTML file that runs the
//! same verifier compiled to WebAssembly and makes no network request ([`page`]).
//!
//! Pure: no I/O, no clock. The WebAssembly build is the `chancery-court-wasm` crate
//! beside this one.

#![warn(missing_docs)]

pub mod facts;
pub mod files;
#[cfg(feature = "page")]
pub mod page;
pub mod pdf_read;
#[cfg(feature = "pdf-write")]
pub mod pdf_write;
pub mod report;
pub mod time;

pub use facts::{Fact, Text};
pub use files::{check_files, classify, FileKind, Outcome};
