//! Logs through `tracing`: human-readable text, or one JSON object per line.

use tracing_subscriber::EnvFilter;

const QUIET: &str = "arc_malachitebft_core_consensus=warn,arc_malachitebft_core_driver=warn,jsonrpsee_server=warn";

/// Installs the global subscriber writing to stderr. `format` is `text` or `json`;
/// `level` a level name or an `EnvFilter` directive; `RUST_LOG` overrides it.
pub fn init(format: &str, level: &str) {
    // The consensus core narrates every step at info; keep it to warnings unless asked.
    let directive = if level.contains('=') { level.to_string() } else { format!("{level},{QUIET}") };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(directive));
    // The RPC server traces request bodies, which carry hosted-signing tokens: never
    // below info, whatever the level asked.
    let filter = match "jsonrpsee_server=info".parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    };
    // Colours only on a terminal: a log written to a file stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    // A second install (tests) keeps the first.
    let _ = if format == "json" { builder.json().try_init() } else { builder.try_init() };
}
