//! The verification page: one self-contained HTML file holding the verifier as
//! WebAssembly (inlined, base64), its JavaScript glue and the page's own script. It
//! makes no network request (its Content-Security-Policy forbids any), so a court can
//! save it and open it from disk years later.
//!
//! The WebAssembly and its glue are built from `sdk/court-wasm` by
//! `sdk/court-wasm/build.sh` into `page/pkg/` and committed; CI rebuilds them and checks
//! that the rebuild is byte for byte the committed one.

use base64::Engine as _;
use chancery_ledger::Hash;

const TEMPLATE: &str = include_str!("../page/verify.html");
const GLUE: &str = include_str!("../page/pkg/chancery_court_wasm.js");
const WASM: &[u8] = include_bytes!("../page/pkg/chancery_court_wasm_bg.wasm");

/// The policy the page carries in its `<meta>` and the node also sends as a header: the
/// page's own inline script, style and WebAssembly, nothing fetched, nothing sent.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'";

/// The verifier's version as the page shows it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn assemble(node_note: &str) -> String {
    let wasm = base64::engine::general_purpose::STANDARD.encode(WASM);
    TEMPLATE
        .replace("/*CHANCERY:GLUE*/", GLUE)
        .replace("CHANCERY:WASM", &wasm)
        .replace("CHANCERY:VERSION", VERSION)
        .replace("<!--CHANCERY:NODE-->", node_note)
}

/// The page, as `chancery verify-page` writes it.
pub fn html() -> String {
    assemble("")
}

/// The page as a node serves it at `GET /verify`: the same page, saying which chain and
/// genesis the node runs, for the clerk to compare with the genesis they hold. It loads
/// no genesis: the clerk gives theirs.
pub fn served(chain_id: &str, genesis_hash: &Hash) -> String {
    let escape =
        |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let note = format!(
        "<div class=\"node\" id=\"node\" data-genesis=\"{hash}\">Served by a node of chain <b>{chain}</b>, genesis hash <code>{hash}</code>. The page checks against the genesis file you give, not this one: compare it with the genesis the court holds.<br>本页面由链 <b>{chain}</b> 的节点提供，其创世文件哈希为 <code>{hash}</code>。本页面依据您提供的创世文件核验，而非此哈希：请与法院持有的创世文件进行比对。</div>",
        chain = escape(chain_id),
        hash = genesis_hash,
    );
    assemble(&note)
}

/// Sizes of the parts, for the benchmark notes: the WebAssembly and the whole page.
pub fn sizes() -> (usize, usize) {
    (WASM.len(), html().len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_whole_and_fetches_nothing() {
        let page = html();
        for placeholder in ["CHANCERY:WASM", "CHANCERY:GLUE", "CHANCERY:VERSION", "CHANCERY:NODE"] {
            assert!(!page.contains(placeholder), "{placeholder} left in the page");
        }
        assert!(page.contains(CONTENT_SECURITY_POLICY), "the page carries its policy");
        // Nothing the browser would load from elsewhere.
        for outside in ["src=\"http", "href=\"http", "<link", "src=\"//", "fetch(\"http", "@import"] {
            assert!(!page.contains(outside), "the page names {outside}");
        }
        let (wasm, whole) = sizes();
        assert!(wasm > 10_000 && whole > wasm, "wasm {wasm} bytes, page {whole}");
    }

    #[test]
    fn a_served_page_names_the_nodes_genesis_and_escapes_the_chain_id() {
        let page = served("chain<script>", &Hash([7; 32]));
        assert!(page.contains(&Hash([7; 32]).to_string()));
        assert!(page.contains("chain&lt;script&gt;") && !page.contains("chain<script>"));
        assert!(page.len() > html().len() + 100);
    }
}
