//! The verification page in a real browser: Debian's headless Chromium, driven by
//! `tests/browser/verify_page.mjs` (playwright-core, never a downloaded browser). Proofs
//! come from a real dev chain: an anchored document (SM3 digest, hashed in the page), a
//! signing event made with a hosted key under a certificate, and that certificate's
//! status proof, and the signing event's archival PDF report (and a copy of it whose
//! printed text was edited); and the 4-validator example of docs/examples. Each verdict is checked
//! as a person sees it, hostile files are refused naming the check, the language
//! switches, and the page makes no network request at all. Screenshots of every verdict
//! are written to target/tmp/verify-page/ for a person to look at.
//!
//! Needs `chromium` (Debian) and `npm ci --prefix tests/browser` (README's setup;
//! `.ci/run` does both).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use support::DevNode;

fn chancery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chancery")).args(args).output().expect("run chancery")
}

fn ok(output: Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// What the browser showed for each case, by name.
fn run_browser(plan: &Value, dir: &Path) -> std::collections::HashMap<String, Value> {
    let browser = std::env::var("CHANCERY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&browser).exists(),
        "{browser} is missing: install Debian's chromium (README's setup), or set CHANCERY_CHROMIUM"
    );
    let driver = workspace().join("tests/browser");
    assert!(
        driver.join("node_modules/playwright-core").exists(),
        "the browser driver is not installed: run `npm ci --prefix tests/browser` (README's setup)"
    );
    let mut plan = plan.clone();
    plan["chromium"] = json!(browser);
    let plan_file = dir.join("plan.json");
    std::fs::write(&plan_file, plan.to_string()).expect("write plan");
    let output = Command::new("node")
        .arg(driver.join("verify_page.mjs"))
        .arg(&plan_file)
        .current_dir(&driver)
        .output()
        .expect("run node (Node.js 20 is in README's setup)");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "browser driver failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
        .lines()
        .map(|line| {
            let seen: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("driver line {line:?}: {e}"));
            (seen["name"].as_str().expect("name").to_string(), seen)
        })
        .collect()
}

fn fact<'a>(seen: &'a Value, label: &str) -> &'a str {
    seen["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .find(|f| f[0] == label)
        .and_then(|f| f[1].as_str())
        .unwrap_or_else(|| panic!("no fact {label:?} in {seen}"))
}

/// A raw GET; the head and the body.
fn get(addr: &str, target: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read");
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    (head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn the_page_verifies_real_proofs_offline_and_names_every_failed_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("dev");
    let node = DevNode::start(&home);
    let rpc = node.ws();
    let genesis = home.join("genesis.json");
    let genesis_text = std::fs::read_to_string(&genesis).expect("genesis");
    let genesis_hash = chancery_genesis::Genesis::from_json(&genesis_text).expect("genesis").hash().to_string();

    // A document anchored with an SM3 digest.
    let contract = dir.path().join("contract.txt");
    let lease = "Lease of the premises at 8 Court Road, signed by both parties.\n";
    std::fs::write(&contract, lease).expect("write");
    let digest = chancery_ledger::Digest::compute(chancery_ledger::DigestAlg::Sm3, lease.as_bytes()).to_text();
    let integrator = home.join("integrator.key");
    ok(chancery(&["submit", "--rpc", &rpc, "--key", path(&integrator), "--alg", "sm3", "--wait", path(&contract)]));
    let bundle = dir.path().join("proof.json");
    ok(chancery(&["proof", "--rpc", &rpc, "--digest", &digest, "--out", path(&bundle)]));
    let native: Value = serde_json::from_str(&ok(chancery(&[
        "verify",
        path(&bundle),
        "--genesis",
        path(&genesis),
        "--file",
        path(&contract),
        "--json",
    ])))
    .expect("report");

    // A signing event: a hosted key under a certificate the demo CA issues.
    let public_key = support::new_hosted_key(&home, "alice", "0c01");
    let now = chancery_node::clock::now_ms();
    let (not_before, not_after) = ((now - 86_400_000).to_string(), (now + 86_400_000).to_string());
    let cert_file = dir.path().join("cert.der");
    std::fs::write(&cert_file, b"certificate der bytes").expect("write cert");
    ok(chancery(&[
        "cert",
        "issue",
        "--rpc",
        &rpc,
        "--key",
        path(&home.join("ca.key")),
        "--ca",
        "demo-ca",
        "--serial",
        "0c01",
        "--cert",
        path(&cert_file),
        "--subject-key",
        &public_key.to_hex(),
        "--not-before",
        &not_before,
        "--not-after",
        &not_after,
        "--wait",
    ]));
    let signed_doc = dir.path().join("agreement.txt");
    std::fs::write(&signed_doc, "Agreement signed with a hosted key.\n").expect("write");
    ok(chancery(&[
        "sign",
        path(&signed_doc),
        "--key",
        "alice",
        "--rpc",
        &rpc,
        "--token-file",
        path(&home.join("keys/hosted.token")),
    ]));
    let signing = dir.path().join("signing.json");
    ok(chancery(&["proof", "--rpc", &rpc, "--file", path(&signed_doc), "--out", path(&signing)]));
    let status = dir.path().join("status.json");
    ok(chancery(&["cert", "status", "--rpc", &rpc, "--ca", "demo-ca", "--serial", "0c01", "--out", path(&status)]));

    // Hostile variants: the document changed, one hex digit of the commit's first
    // signature changed, a genesis of another chain.
    let changed = dir.path().join("contract-changed.txt");
    std::fs::write(&changed, "Lease of the premises at 9 Court Road, signed by both parties.\n").expect("write");
    let text = std::fs::read_to_string(&bundle).expect("bundle");
    let at = text.find("\"commit\": \"").expect("commit") + "\"commit\": \"".len() + 200;
    let mut bytes = text.into_bytes();
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    let tampered = dir.path().join("tampered.json");
    std::fs::write(&tampered, bytes).expect("write");
    let mut foreign: Value = serde_json::from_str(&genesis_text).expect("genesis json");
    foreign["genesis_time_ms"] = json!(foreign["genesis_time_ms"].as_u64().expect("time") + 1);
    let foreign_genesis = dir.path().join("other-genesis.json");
    std::fs::write(&foreign_genesis, foreign.to_string()).expect("write");

    // The signing event's archival PDF report, and a copy whose printed text was edited.
    let report = dir.path().join("report.pdf");
    ok(chancery(&[
        "report",
        path(&signing),
        "--genesis",
        path(&genesis),
        "--file",
        path(&signed_doc),
        "--out",
        path(&report),
    ]));
    let edited_report = dir.path().join("edited-report.pdf");
    support::edit_pdf_text(&report, &edited_report, dir.path());

    // The page, as `chancery verify-page` writes it and as the node serves it.
    let page = dir.path().join("verify.html");
    ok(chancery(&["verify-page", "--out", path(&page)]));
    let written = std::fs::read_to_string(&page).expect("page");
    let (head, served) = get(&node.addr, "/verify");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-security-policy: default-src 'none'"), "{head}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(served.contains(&genesis_hash), "the served page names the node's genesis");
    assert!(!written.contains(&genesis_hash), "the written page names no genesis");

    let example = workspace().join("docs/examples");
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("verify-page");
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let url = format!("file://{}", path(&page));
    let files = |list: &[&Path]| list.iter().map(|p| path(p).to_string()).collect::<Vec<_>>();
    let plan = json!({
        "screenshots": path(&shots),
        "cases": [
            {"name": "document", "url": url, "files": files(&[&contract, &genesis, &bundle])},
            {"name": "signing-event", "url": url, "files": files(&[&signing, &signed_doc, &genesis])},
            {"name": "certificate-status", "url": url, "files": files(&[&genesis, &status])},
            {"name": "changed-document", "url": url, "files": files(&[&bundle, &genesis, &changed])},
            {"name": "tampered-signature", "url": url, "files": files(&[&tampered, &genesis, &contract])},
            {"name": "foreign-genesis", "url": url, "files": files(&[&bundle, &foreign_genesis, &contract])},
            {"name": "missing-genesis", "url": url, "files": files(&[&bundle, &contract])},
            {"name": "pdf-report", "url": url, "files": files(&[&report, &genesis, &signed_doc])},
            {"name": "pdf-edited", "url": url, "files": files(&[&edited_report, &genesis])},
            {"name": "chinese-default", "url": url, "locale": "zh-CN", "files": files(&[&contract, &genesis, &bundle])},
            {"name": "switched-to-english", "url": url, "locale": "zh-CN", "switch_to": "en", "files": files(&[&bundle, &genesis])},
            {"name": "served-by-node", "url": format!("http://{}/verify", node.addr), "files": files(&[&contract, &genesis, &bundle])},
            {"name": "four-validators", "url": url, "time_runs": 200, "files": files(&[
                &example.join("bundle.json"), &example.join("genesis.json"), &example.join("contract.txt")])},
        ]
    });
    let seen = run_browser(&plan, dir.path());
    for (name, case) in &seen {
        assert_eq!(case["ready"], "true", "{name}: the verifier started: {case}");
        assert_eq!(case["errors"], json!([]), "{name}: no script error");
        assert_eq!(case["requests"], json!([]), "{name}: the page made network requests");
        assert_eq!(case["violations"], json!([]), "{name}: the page tried to reach out");
        assert!(Path::new(case["screenshot"].as_str().expect("shot")).exists(), "{name}: screenshot");
    }

    let document = &seen["document"];
    assert_eq!(document["verdict"], "verified", "{document}");
    assert_eq!(document["word"], "VERIFIED");
    assert_eq!(document["kinds"], json!(["document", "genesis", "proof_bundle"]));
    assert_eq!(fact(document, "Block height"), native["height"].to_string());
    let time = chancery_court::time::utc(native["block_time_ms"].as_u64().expect("time"));
    assert!(fact(document, "Block time (attested by the quorum)").starts_with(&time), "{document}");
    assert_eq!(fact(document, "Document"), "matches the anchored digest");
    assert!(fact(document, "Anchored digest").starts_with("sm3:"), "{document}");
    let validator = native["attestation"]["validators"][0]["name"].as_str().expect("validator name");
    assert!(fact(document, "Attested by").contains(validator), "{document}");
    assert_eq!(fact(document, "Transaction"), native["tx_hash"].as_str().expect("tx hash"));

    let signing_event = &seen["signing-event"];
    assert_eq!(signing_event["verdict"], "verified", "{signing_event}");
    assert!(fact(signing_event, "Record").contains("signing event"), "{signing_event}");
    assert!(fact(signing_event, "Document signature").contains(&public_key.to_hex()), "{signing_event}");
    let cert_label = signing_event["facts"]
        .as_array()
        .expect("facts")
        .iter()
        .find(|f| f[0].as_str().is_some_and(|l| l.starts_with("Certificate at")))
        .unwrap_or_else(|| panic!("certificate status fact: {signing_event}"));
    assert!(cert_label[1].as_str().expect("value").ends_with("VALID"), "{signing_event}");

    let certificate = &seen["certificate-status"];
    assert_eq!(certificate["verdict"], "verified", "{certificate}");
    assert!(certificate["headline"].as_str().expect("headline").contains("demo-ca/0c01 was VALID"), "{certificate}");

    for (name, expected) in [
        ("changed-document", "not the anchored document"),
        ("tampered-signature", "commit"),
        ("foreign-genesis", "another genesis"),
    ] {
        let case = &seen[name];
        assert_eq!(case["verdict"], "not_verified", "{name}: {case}");
        assert_eq!(case["word"], "NOT VERIFIED", "{name}");
        assert!(case["why"].as_str().expect("why").contains(expected), "{name}: {case}");
    }
    let pdf = &seen["pdf-report"];
    assert_eq!(pdf["verdict"], "verified", "{pdf}");
    assert_eq!(pdf["kinds"], json!(["pdf_report", "genesis", "document"]));
    assert!(fact(pdf, "Printed report").contains("is what the attached proof proves"), "{pdf}");
    assert_eq!(fact(pdf, "Document"), "matches the anchored digest");
    assert!(fact(pdf, "Document signature").contains(&public_key.to_hex()), "{pdf}");
    let edited = &seen["pdf-edited"];
    assert_eq!(edited["verdict"], "not_verified", "{edited}");
    assert!(edited["why"].as_str().expect("why").contains("changed after the report was made"), "{edited}");
    assert_eq!(seen["missing-genesis"]["verdict"], "incomplete");
    assert!(seen["missing-genesis"]["why"].as_str().expect("why").contains("no genesis file"));

    let chinese = &seen["chinese-default"];
    assert_eq!(chinese["lang"], "zh-CN");
    assert_eq!(chinese["word"], "已验证", "{chinese}");
    assert_eq!(chinese["title"], "Chancery 证据核验");
    assert_eq!(fact(chinese, "区块高度"), native["height"].to_string());
    assert_eq!(fact(chinese, "文件"), "与锚定的摘要一致");
    let english = &seen["switched-to-english"];
    assert_eq!(english["lang"], "en");
    assert_eq!(english["word"], "VERIFIED", "{english}");
    assert!(fact(english, "Document").starts_with("not given"), "{english}");

    let served = &seen["served-by-node"];
    assert_eq!(served["verdict"], "verified", "{served}");
    assert_eq!(served["node"], genesis_hash.as_str(), "the served page names the node's genesis");

    let four = &seen["four-validators"];
    assert_eq!(four["verdict"], "verified", "{four}");
    assert!(fact(four, "Attested by").starts_with("4 validators"), "{four}");
    let ms = four["verify_ms"].as_f64().expect("timing");
    assert!(ms > 0.0, "timed");
    println!(
        "verification page: {} bytes ({} bytes of WebAssembly); a 4-validator bundle verifies in {ms:.2} ms in headless Chromium (mean of 200)",
        written.len(),
        chancery_court::page::sizes().0
    );
}
