//! Everything a party hands over, checked at once: the checked-in example of
//! docs/examples (a genesis, an anchored contract and its proof bundle) in any order,
//! and hostile variants of each file.

use chancery_court::files::{NamedFile, Verdict};
use chancery_court::{check_files, classify, FileKind};

fn example(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check(files: &[(&str, &[u8])]) -> chancery_court::Outcome {
    let named: Vec<NamedFile<'_>> = files.iter().map(|(name, bytes)| NamedFile { name, bytes }).collect();
    check_files(&named)
}

fn fact<'a>(outcome: &'a chancery_court::Outcome, key: &str) -> &'a chancery_court::Fact {
    outcome.facts.iter().find(|f| f.key == key).unwrap_or_else(|| panic!("no fact {key}: {:#?}", outcome.facts))
}

#[test]
fn files_are_told_apart_by_their_content() {
    assert_eq!(classify(&example("bundle.json")), FileKind::ProofBundle);
    assert_eq!(classify(&example("genesis.json")), FileKind::Genesis);
    assert_eq!(classify(&example("contract.txt")), FileKind::Document);
    assert_eq!(classify(b"%PDF-1.7\n..."), FileKind::PdfReport);
    assert_eq!(classify(br#"{"parties": ["A", "B"]}"#), FileKind::Document, "a JSON contract is a document");
    assert_eq!(classify(b"[1, 2]"), FileKind::Document);
    assert_eq!(classify(&[0xff; 64]), FileKind::Document);
    let bundle = example("bundle.json");
    assert_eq!(classify(&bundle[..bundle.len() / 2]), FileKind::ProofBundle, "a bundle cut short is still a proof");
}

#[test]
fn the_example_verifies_in_any_order_with_the_same_facts_as_the_verifier() {
    let (bundle, genesis, contract) = (example("bundle.json"), example("genesis.json"), example("contract.txt"));
    let outcome = check(&[("contract.txt", &contract), ("genesis.json", &genesis), ("proof.json", &bundle)]);
    assert_eq!(outcome.verdict, Verdict::Verified, "{:?}", outcome.failed);
    let report = chancery_genesis::verify_bundle(
        std::str::from_utf8(&bundle).expect("text"),
        std::str::from_utf8(&genesis).expect("text"),
        Some(&contract),
    )
    .expect("verifies natively");
    assert_eq!(fact(&outcome, "height").value.en, report.height.to_string());
    assert_eq!(fact(&outcome, "tx_hash").value.en, report.tx_hash.to_string());
    assert!(fact(&outcome, "block_time").value.en.starts_with(&chancery_court::time::utc(report.block_time_ms)));
    assert_eq!(fact(&outcome, "file").value.zh, "与锚定的摘要一致");
    let attested = &fact(&outcome, "attested_by").value;
    for v in &report.attestation.validators {
        assert!(attested.en.contains(&v.name), "{} named", v.name);
    }
    assert!(attested.zh.contains("投票权"));
    assert_eq!(outcome.report.expect("report"), serde_json::to_value(&report).expect("json"));
    let kinds: Vec<FileKind> = outcome.files.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FileKind::Document, FileKind::Genesis, FileKind::ProofBundle]);
    let reordered = check(&[("proof.json", &bundle), ("contract.txt", &contract), ("genesis.json", &genesis)]);
    assert_eq!(reordered.facts, outcome.facts);
}

#[test]
fn a_changed_document_a_tampered_bundle_and_a_foreign_genesis_are_not_verified() {
    let (bundle, genesis, contract) = (example("bundle.json"), example("genesis.json"), example("contract.txt"));
    let mut changed = contract.clone();
    changed[0] ^= 1;
    let outcome = check(&[("a", &bundle), ("b", &genesis), ("c", &changed)]);
    assert_eq!(outcome.verdict, Verdict::NotVerified);
    let failed = outcome.failed.expect("why");
    assert!(failed.en.contains("not the anchored document"), "{}", failed.en);
    assert!(failed.zh.contains("不是被锚定的那份文件"), "{}", failed.zh);

    // One hex digit of the commit's first signature changed (height, round, block hash,
    // count and the first key come before it: 168 hex digits).
    let text = String::from_utf8(bundle.clone()).expect("text");
    let at = text.find("\"commit\": \"").expect("commit") + "\"commit\": \"".len() + 200;
    let mut tampered = text.into_bytes();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let outcome = check(&[("a", &tampered), ("b", &genesis), ("c", &contract)]);
    assert_eq!(outcome.verdict, Verdict::NotVerified, "{:?}", outcome.facts);

    let foreign = String::from_utf8(genesis.clone()).expect("text").replace("court-net-1", "court-net-2");
    let outcome = check(&[("a", &bundle), ("b", foreign.as_bytes()), ("c", &contract)]);
    assert_eq!(outcome.verdict, Verdict::NotVerified);
    assert!(outcome.genesis_hash.is_some(), "the genesis given is named for comparison");

    let cut = &bundle[..bundle.len() - 40];
    let outcome = check(&[("a", cut), ("b", &genesis)]);
    assert_eq!(outcome.verdict, Verdict::NotVerified);
    assert!(outcome.failed.expect("why").en.contains("could not be read"));
}

#[test]
fn missing_or_doubled_files_are_named_before_anything_is_verified() {
    let (bundle, genesis, contract) = (example("bundle.json"), example("genesis.json"), example("contract.txt"));
    type Files<'a> = &'a [(&'a str, &'a [u8])];
    let cases: [(Files<'_>, &str); 5] = [
        (&[("a", &bundle), ("c", &contract)], "no genesis file"),
        (&[("b", &genesis), ("c", &contract)], "no proof"),
        (&[("a", &bundle), ("a2", &bundle), ("b", &genesis)], "more than one proof bundle"),
        (&[("a", &bundle), ("b", &genesis), ("c", &contract), ("d", b"other")], "more than one document"),
        (&[("a", &bundle), ("b", &genesis), ("p", b"%PDF-1.7")], "more than one proof"),
    ];
    for (files, expected) in cases {
        let outcome = check(files);
        assert_eq!(outcome.verdict, Verdict::Incomplete, "{expected}");
        let why = outcome.failed.expect("why");
        assert!(why.en.contains(expected), "{expected}: {}", why.en);
        assert!(!why.zh.is_empty());
        assert!(outcome.facts.is_empty());
    }
    assert_eq!(check(&[]).verdict, Verdict::Incomplete);
}
