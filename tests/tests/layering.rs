//! The crates say what they are. In `ledger` and `consensus`, modules import one way: no
//! circle among the top-level modules, nor among the modules of any one directory (the
//! verifier's parts, the store's, the host's...). And neither crate does I/O or reads the
//! clock: no RocksDB, tokio or libp2p among their dependencies, no `std::fs`, sockets or
//! system time in their code (tests and the test kit included). The node is where those
//! live.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module: its path from the crate root (`["verify", "cert"]`) and its code, tests and
/// comments left out.
struct Module {
    path: Vec<String>,
    code: String,
}

fn crate_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace").join(name)
}

/// The code of a file without its `#[cfg(test)] mod tests` and its comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

fn modules(src: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("a source directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src").with_extension("");
            let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts.last().is_some_and(|p| p == "tests") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("a source file");
            out.push(Module { path: parts, code: code_of(&text) });
        }
    }
    out
}

fn is_module_name(segment: &str) -> bool {
    segment.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && segment.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The module paths a `use` tree or path starting at `rest` (after `crate::` or
/// `super::`) names, relative to `base`.
fn named_paths(base: &[String], rest: &str, out: &mut Vec<Vec<String>>) {
    let rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('{') {
        // A group: split its top-level items.
        let mut depth = 0;
        let mut item = String::new();
        for c in inner.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    named_paths(base, &item, out);
                    item.clear();
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        named_paths(base, &item, out);
        return;
    }
    let mut path = base.to_vec();
    let mut remaining = rest;
    loop {
        let end = remaining.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(remaining.len());
        let segment = &remaining[..end];
        if !is_module_name(segment) || segment == "self" {
            break;
        }
        path.push(segment.to_string());
        match remaining[end..].strip_prefix("::") {
            Some(next) if next.starts_with('{') => {
                named_paths(&path, next, out);
                return;
            }
            Some(next) => remaining = next,
            None => break,
        }
    }
    if path.len() > base.len() {
        out.push(path);
    }
}

/// The module paths `module` refers to through `crate::` and `super::` (a module's
/// `super` is its parent, whether it is a file or a directory's mod.rs).
fn references(module: &Module) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let parent: Vec<String> = module.path[..module.path.len() - 1].to_vec();
    for (i, _) in module.code.match_indices("crate::") {
        named_paths(&[], &module.code[i + "crate::".len()..], &mut out);
    }
    for (i, _) in module.code.match_indices("super::") {
        if module.code[..i].ends_with("super::") {
            continue;
        }
        let mut base = parent.clone();
        let mut rest = &module.code[i + "super::".len()..];
        while let Some(more) = rest.strip_prefix("super::") {
            base.pop();
            rest = more;
        }
        named_paths(&base, rest, &mut out);
    }
    out
}

/// For every directory level, the graph among its child modules: an edge from `a` to `b`
/// when code in `a` (or below it) names `b` (or something below it).
fn graphs(modules: &[Module]) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let mut levels: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for module in modules {
        for level in 0..module.path.len() {
            let parent = module.path[..level].to_vec();
            levels.entry(parent).or_default().entry(module.path[level].clone()).or_default();
        }
    }
    for module in modules {
        for target in references(module) {
            let shared = module.path.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if shared >= module.path.len() || shared >= target.len() {
                continue; // itself, a child of it, or an ancestor
            }
            let parent = module.path[..shared].to_vec();
            let from = module.path[shared].clone();
            let to = target[shared].clone();
            if let Some(level) = levels.get_mut(&parent) {
                if level.contains_key(&to) {
                    level.entry(from).or_default().insert(to);
                }
            }
        }
    }
    levels
}

/// A circle in `graph`, if there is one.
fn find_circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn circles_in(src: &Path) -> Vec<String> {
    graphs(&modules(src))
        .iter()
        .filter_map(|(parent, graph)| {
            find_circle(graph).map(|circle| format!("in {}/: {}", parent.join("/"), circle.join(" -> ")))
        })
        .collect()
}

#[test]
fn modules_of_ledger_and_consensus_import_one_way() {
    for name in ["ledger", "consensus"] {
        let circles = circles_in(&crate_dir(name).join("src"));
        assert!(circles.is_empty(), "{name} has modules importing each other in a circle: {circles:#?}");
    }
}

/// The `crate::name::` paths in `code` whose `name` is not one of `modules`: a module
/// named through a re-export, which the circle check would not see.
fn indirect_paths(code: &str, modules: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = &rest[..end];
        if is_module_name(name) && rest[end..].starts_with("::") && !modules.contains(name) {
            out.push(name.to_string());
        }
    }
    out
}

#[test]
fn ledger_and_consensus_name_their_modules_by_their_paths() {
    for name in ["ledger", "consensus"] {
        let modules = modules(&crate_dir(name).join("src"));
        let top: BTreeSet<String> = modules.iter().map(|m| m.path[0].clone()).collect();
        assert!(top.len() > 3, "{name}: the modules were read: {top:?}");
        for module in &modules {
            let indirect = indirect_paths(&module.code, &top);
            assert!(
                indirect.is_empty(),
                "{name}::{} names modules through re-exports ({indirect:?}): use their full paths",
                module.path.join("::")
            );
        }
    }
    let known: BTreeSet<String> = ["types".to_string()].into();
    assert_eq!(indirect_paths("use crate::tx::Tx; crate::types::tx::f(); crate::decode(x)", &known), ["tx"]);
}

#[test]
fn the_circle_check_finds_a_circle() {
    // Three modules in a ring, and one directory whose children import each other.
    let module = |path: &[&str], code: &str| Module {
        path: path.iter().map(|p| p.to_string()).collect(),
        code: code.to_string(),
    };
    let ring = [
        module(&["a"], "use crate::b::Thing;"),
        module(&["b"], "use crate::{c::{Other, more::Deep}, hash::Hash};"),
        module(&["c"], "fn f() { crate::a::call(); }"),
        module(&["c", "more"], ""),
    ];
    let circle = find_circle(&graphs(&ring)[&Vec::new()]);
    assert_eq!(circle, Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    let siblings =
        [module(&["v"], ""), module(&["v", "x"], "use super::y::Y;"), module(&["v", "y"], "use super::x::X;")];
    let levels = graphs(&siblings);
    assert!(find_circle(&levels[&vec!["v".to_string()]]).is_some(), "siblings in a circle");
    let one_way =
        [module(&["v"], ""), module(&["v", "x"], "use super::y::Y;"), module(&["v", "y"], "use crate::hash::H;")];
    let levels = graphs(&one_way);
    assert_eq!(find_circle(&levels[&vec!["v".to_string()]]), None);
}

/// The names in the `[dependencies]` table of a crate's manifest.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if inside && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.']).next().unwrap_or_default().trim();
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn ledger_and_consensus_do_no_io_and_read_no_clock() {
    const CRATES_OUT: [&str; 3] = ["rocksdb", "tokio", "libp2p"];
    const CODE_OUT: [&str; 9] = [
        "std::fs",
        "std::net",
        "File::open",
        "SystemTime",
        "Instant::now",
        "UNIX_EPOCH",
        "tokio::",
        "libp2p::",
        "rocksdb::",
    ];
    for name in ["ledger", "consensus"] {
        let dir = crate_dir(name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        let deps = dependencies(&manifest);
        assert!(deps.iter().any(|d| d == "bincode"), "{name}: the manifest was read: {deps:?}");
        for out in CRATES_OUT {
            assert!(!deps.iter().any(|d| d == out), "{name} depends on {out}");
        }
        for module in modules(&dir.join("src")) {
            for out in CODE_OUT {
                assert!(!module.code.contains(out), "{name}::{} uses {out}", module.path.join("::"));
            }
        }
    }
    // The check reads what it checks: the node's code has all of these.
    let node: String = modules(&crate_dir("node").join("src")).into_iter().map(|m| m.code).collect();
    for expected in ["std::fs", "tokio::", "libp2p::", "rocksdb::", "Instant::now"] {
        assert!(node.contains(expected), "the node's code names {expected}");
    }
}
