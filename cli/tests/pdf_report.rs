//! The archival PDF report of the 4-validator example (docs/examples): checked with
//! Debian's PDF tools as an archive would (qpdf, pdfinfo, pdfdetach, pdftotext,
//! pdftoppm), verified back by `chancery verify report.pdf` with the same answer as the
//! proof bundle, and refused, naming why, when its text was edited, an attachment
//! stripped, an annotation laid over it, the file cut short or bytes changed, or when it
//! is checked against another genesis or document.
//!
//! Needs `poppler-utils`, `qpdf` and `fonts-noto-cjk` (README's setup).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/examples").join(name)
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is missing ({e}): install poppler-utils and qpdf (README's setup)"))
}

fn chancery(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chancery")).args(args).output().expect("run chancery")
}

fn stdout(output: Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `chancery verify PROOF` against the example's genesis (and `file`): stdout, or the
/// error on stderr.
fn verify(proof: &Path, genesis: &Path, file: Option<&Path>) -> Result<String, String> {
    let mut args = vec!["verify", path(proof), "--genesis", path(genesis), "--json"];
    if let Some(file) = file {
        args.extend(["--file", path(file)]);
    }
    let output = chancery(&args);
    match output.status.success() {
        true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
    }
}

/// The report with an annotation added to its page (qdf, edited, fixed).
fn annotate(report: &Path, out: &Path, dir: &Path) {
    let qdf = dir.join("qdf-annot.pdf");
    stdout(run("qpdf", &["--qdf", "--object-streams=disable", path(report), path(&qdf)]));
    // (annotations are not text edits: this one only shows the page is refused whole)
    let text = std::fs::read(&qdf).expect("qdf");
    let marker = b"/Type /Page\n";
    let at = text.windows(marker.len()).position(|w| w == marker).expect("a page object");
    let mut edited = text[..at].to_vec();
    edited.extend_from_slice(
        b"/Annots [ << /Type /Annot /Subtype /FreeText /Rect [ 100 100 300 140 ] /Contents (VERIFIED) >> ]\n",
    );
    edited.extend_from_slice(&text[at..]);
    let staged = dir.join("annot-qdf.pdf");
    std::fs::write(&staged, edited).expect("write");
    let fixed = run("fix-qdf", &[path(&staged)]);
    std::fs::write(out, fixed.stdout).expect("write");
}

#[test]
fn the_pdf_report_is_archival_verifies_itself_and_refuses_every_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (bundle, genesis, contract) = (example("bundle.json"), example("genesis.json"), example("contract.txt"));
    let report = dir.path().join("report.pdf");
    stdout(chancery(&[
        "report",
        path(&bundle),
        "--genesis",
        path(&genesis),
        "--file",
        path(&contract),
        "--out",
        path(&report),
    ]));
    let native: serde_json::Value =
        serde_json::from_str(&verify(&bundle, &genesis, Some(&contract)).expect("the bundle verifies")).expect("json");

    // As an archive checks it.
    let check = stdout(run("qpdf", &["--check", path(&report)]));
    assert!(check.contains("No syntax or stream encoding errors found"), "{check}");
    let meta = stdout(run("pdfinfo", &["-meta", path(&report)]));
    assert!(
        meta.contains("<pdfaid:part>3</pdfaid:part>") && meta.contains("<pdfaid:conformance>U</pdfaid:conformance>"),
        "{meta}"
    );
    let attachments = stdout(run("pdfdetach", &["-list", path(&report)]));
    assert!(attachments.starts_with("3 embedded files"), "{attachments}");
    for name in ["proof.json", "genesis.json", "verification-guide.txt"] {
        assert!(attachments.contains(name), "{name}: {attachments}");
    }
    stdout(run("pdfdetach", &["-save", "2", "-o", path(&dir.path().join("attached.json")), path(&report)]));
    let attached = std::fs::read_to_string(dir.path().join("attached.json")).expect("saved");
    assert_eq!(attached, std::fs::read_to_string(&bundle).expect("bundle"), "the attached proof is the bundle");
    let text = stdout(run("pdftotext", &["-layout", path(&report), "-"]));
    let time = chancery_court::time::utc(native["block_time_ms"].as_u64().expect("time"));
    let digest = native["record"]["digest"]["bytes"].as_str().expect("digest");
    for expected in
        ["VERIFIED", "已验证", "Block height", "区块高度", "区块时间", "Anchored digest", "锚定的摘要", digest, &time]
    {
        assert!(text.contains(expected), "pdftotext shows {expected:?}:\n{text}");
    }
    let info = stdout(run("pdfinfo", &[path(&report)]));
    let pages: usize =
        info.lines().find_map(|l| l.strip_prefix("Pages:")).and_then(|n| n.trim().parse().ok()).expect("page count");
    let png = dir.path().join("page");
    stdout(run("pdftoppm", &["-png", "-r", "60", path(&report), path(&png)]));
    let rendered = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("page") && e.metadata().is_ok_and(|m| m.len() > 1000))
        .count();
    assert_eq!(rendered, pages, "every page renders");
    let size = std::fs::metadata(&report).expect("size").len();
    println!("PDF report of the 4-validator example: {pages} page(s), {size} bytes");

    // It verifies itself, with the same answer as the bundle.
    let from_pdf = verify(&report, &genesis, Some(&contract)).expect("the report verifies");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&from_pdf).expect("json"), native);

    // Every edit is refused, naming why.
    let edited = dir.path().join("edited.pdf");
    support::edit_pdf_text(&report, &edited, dir.path());
    let error = verify(&edited, &genesis, None).expect_err("edited text");
    assert!(error.contains("changed after the report was made"), "{error}");

    let stripped = dir.path().join("stripped.pdf");
    stdout(run("qpdf", &[path(&report), "--remove-attachment=proof.json", "--", path(&stripped)]));
    let error = verify(&stripped, &genesis, None).expect_err("stripped");
    assert!(error.contains("no attached proof.json"), "{error}");

    let annotated = dir.path().join("annotated.pdf");
    annotate(&report, &annotated, dir.path());
    let error = verify(&annotated, &genesis, None).expect_err("annotated");
    assert!(error.contains("annotations"), "{error}");

    let bytes = std::fs::read(&report).expect("report");
    let cut = dir.path().join("cut.pdf");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let error = verify(&cut, &genesis, None).expect_err("cut short");
    assert!(error.contains("NOT VERIFIED"), "{error}");

    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&genesis).expect("genesis")).expect("json");
    other["genesis_time_ms"] = serde_json::json!(other["genesis_time_ms"].as_u64().expect("time") + 1);
    let other_genesis = dir.path().join("other-genesis.json");
    std::fs::write(&other_genesis, other.to_string()).expect("write");
    let error = verify(&report, &other_genesis, None).expect_err("another genesis");
    assert!(error.contains("is not the genesis file given"), "{error}");

    let changed = dir.path().join("changed.txt");
    std::fs::write(&changed, b"Sale agreement between A and C, signed 2026-01-01.\n").expect("write");
    let error = verify(&report, &genesis, Some(&changed)).expect_err("another document");
    assert!(error.contains("not the anchored document"), "{error}");

    // Bytes changed anywhere: refused or, where the change touches nothing the check
    // reads (an unused byte of a font program, the metadata), the same verdict; never a
    // crash and never other facts.
    let genesis_value =
        chancery_genesis::Genesis::from_json(&std::fs::read_to_string(&genesis).expect("genesis")).expect("genesis");
    let (mut refused, mut same) = (0, 0);
    for i in 0..400usize {
        let at = (i * 7919 + 13) % bytes.len();
        let mut flipped = bytes.clone();
        flipped[at] ^= 1 << (i % 8);
        match chancery_court::report::check_pdf(&flipped, &genesis_value, None) {
            Err(_) => refused += 1,
            Ok(checked) => {
                assert_eq!(serde_json::to_value(&checked.report).expect("json")["tx_hash"], native["tx_hash"]);
                same += 1;
            }
        }
    }
    println!("400 single-bit changes: {refused} refused, {same} changed nothing the check reads");
    assert!(refused > 100, "most changes are refused: {refused}");
}
