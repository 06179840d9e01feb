//! Chancery's JSON-RPC API: method definitions, server and typed client. Filled in by the
//! node issue.
