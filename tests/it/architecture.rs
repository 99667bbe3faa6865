//! The shape of `src/`, as ARCHITECTURE.md promises it: the root holds only the entry points and the
//! configuration beside the wings; each wing imports only the wings [`MAY_IMPORT`] lists for it (so the
//! arrows point one way and there is no cycle); no source file grows far past 600 lines and no function
//! past [`MAX_FUNCTION_LINES`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read_to_string(&f).unwrap())
        })
        .collect()
}

/// `crate::x` paths outside comments and test modules, by top-level module.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in sources() {
        let top = rel
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap();
        let uses = graph.entry(top.clone()).or_default();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + 7..];
                // `crate::{a::X, b}` names several wings at once.
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group.split(',').collect(),
                    None => vec![rest],
                };
                for name in names {
                    let name: String = name
                        .trim_start()
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !name.is_empty() && name != top {
                        uses.insert(name);
                    }
                }
            }
        }
    }
    graph
}

/// Which wings each wing may import, directly. The arrows point one way: from the entry points (`cli`,
/// `app`) through the dialects (`http`) and the service layer (`catalog`) to the mirror (`sync`,
/// `schedule`), the model files' pipelines (`pipeline`) and persistence (`store`), down to the
/// leaves, which import nothing of the crate: the values and records (`domain`), the model-file
/// parsers (`inspect`), the address guard (`net`), observability (`obs`) and the Hub simulator
/// (`hubsim`, a separate program in the same binary).
const MAY_IMPORT: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("inspect", &[]),
    ("net", &[]),
    ("obs", &[]),
    ("hubsim", &[]),
    ("store", &["domain"]),
    ("hub", &["inspect", "net", "obs"]),
    ("auth", &["domain", "store"]),
    ("pipeline", &["domain", "hub", "inspect", "net", "store"]),
    (
        "sync",
        &["domain", "hub", "inspect", "obs", "pipeline", "store"],
    ),
    ("schedule", &["domain", "store", "sync"]),
    (
        "catalog",
        &["domain", "hub", "inspect", "pipeline", "store", "sync"],
    ),
    (
        "http",
        &[
            "auth", "catalog", "domain", "obs", "schedule", "store", "sync",
        ],
    ),
    ("config", &["hub", "net", "schedule", "sync"]),
    (
        "app",
        &[
            "auth", "catalog", "config", "domain", "http", "hub", "net", "obs", "pipeline",
            "schedule", "store", "sync",
        ],
    ),
    (
        "cli",
        &[
            "app", "auth", "config", "domain", "hub", "hubsim", "inspect", "obs", "pipeline",
            "schedule", "store", "sync",
        ],
    ),
];

/// The longest function body allowed, in lines (signature to closing brace; test modules excepted).
/// A function past it does several things in a row: give each its own function and name it.
const MAX_FUNCTION_LINES: usize = 120;

#[test]
fn the_root_of_src_holds_only_the_entry_points_and_the_configuration() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["app.rs", "config.rs", "lib.rs", "main.rs"]);
}

#[test]
fn each_wing_imports_only_what_the_table_allows() {
    let graph = module_graph();
    let allowed: BTreeMap<&str, &[&str]> = MAY_IMPORT.iter().copied().collect();
    let mut wrong = Vec::new();
    for (wing, uses) in &graph {
        let Some(may) = allowed.get(wing.as_str()) else {
            wrong.push(format!("{wing} is not in MAY_IMPORT"));
            continue;
        };
        for used in uses {
            if !may.contains(&used.as_str()) {
                wrong.push(format!("{wing} -> {used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports against the table: {wrong:?}");
}

/// A line with its string literals and line comment blanked, so that braces in them do not count.
fn code_of(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '/' if chars.peek() == Some(&'/') => break,
            // A brace as a char literal: '{' or '}'.
            '\'' if matches!(chars.peek(), Some('{') | Some('}')) => {
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// `(lines, file, name)` of every function outside test modules.
fn functions() -> Vec<(usize, String, String)> {
    let mut found = Vec::new();
    for (rel, text) in sources() {
        let code: Vec<String> = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .map(code_of)
            .collect();
        for (start, line) in code.iter().enumerate() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some(at) = words.iter().position(|w| *w == "fn") else {
                continue;
            };
            let before_is_qualifier = words[..at].iter().all(|w| {
                w.starts_with("pub") || matches!(*w, "async" | "const" | "unsafe" | "extern")
            });
            if !before_is_qualifier || at + 1 >= words.len() {
                continue;
            }
            let name: String = words[at + 1]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let mut depth = 0i32;
            let mut opened = false;
            for (end, body) in code.iter().enumerate().skip(start) {
                for c in body.chars() {
                    match c {
                        '{' => {
                            depth += 1;
                            opened = true;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if opened && depth == 0 {
                    found.push((end - start + 1, rel.clone(), name.clone()));
                    break;
                }
                if !opened && body.contains(';') {
                    break; // a declaration without a body
                }
            }
        }
    }
    found
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let all = functions();
    assert!(
        all.iter().any(|(_, _, name)| name == "shutdown_signal"),
        "the scanner finds functions"
    );
    let long: Vec<String> = all
        .into_iter()
        .filter(|(lines, _, _)| *lines > MAX_FUNCTION_LINES)
        .map(|(lines, file, name)| format!("{file}::{name}: {lines} lines"))
        .collect();
    assert!(
        long.is_empty(),
        "longer than {MAX_FUNCTION_LINES} lines: {long:?}"
    );
}

/// Inside each wing, which of its files (`wing/x.rs`, `wing/x/mod.rs`) name which of their siblings
/// (`super::y::`, `crate::wing::y::`), outside comments and test modules.
fn file_graphs() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut wings: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (rel, text) in sources() {
        let parts: Vec<&str> = rel.split('/').collect();
        let (wing, file) = match parts.as_slice() {
            [wing, file] => (*wing, file.trim_end_matches(".rs")),
            [wing, file, "mod.rs"] => (*wing, *file),
            _ => continue,
        };
        if file == "mod" {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap();
        let uses = wings
            .entry(wing.to_string())
            .or_default()
            .entry(file.to_string())
            .or_default();
        let own = format!("crate::{wing}::");
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for prefix in ["super::", own.as_str()] {
                for (i, _) in line.match_indices(prefix) {
                    let rest = &line[i + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
                        .collect();
                    if rest[name.len()..].starts_with("::") && name != file {
                        uses.insert(name);
                    }
                }
            }
        }
    }
    wings
}

/// The first cycle in `graph`, as a path.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<String> {
    for start in graph.keys() {
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            for next in graph.get(path.last().unwrap()).into_iter().flatten() {
                if next == start {
                    return Some(format!("{} -> {next}", path.join(" -> ")));
                }
                if graph.contains_key(next) && seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    None
}

#[test]
fn the_files_inside_each_wing_import_each_other_without_a_cycle() {
    let wings = file_graphs();
    assert!(
        wings["store"]["sync_batch"].contains("runs"),
        "the scanner sees sibling imports: {:?}",
        wings["store"]
    );
    for (wing, graph) in &wings {
        assert_eq!(cycle(graph), None, "an import loop inside {wing}/");
    }
}

#[test]
fn the_top_level_modules_have_no_import_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 10, "found the modules: {graph:?}");
    for start in graph.keys() {
        // Depth-first from `start`; reaching `start` again is a cycle.
        let mut stack = vec![vec![start.clone()]];
        let mut seen = BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().unwrap();
            for next in graph.get(last).into_iter().flatten() {
                assert!(
                    next != start,
                    "import cycle: {} -> {next}",
                    path.join(" -> ")
                );
                if graph.contains_key(next) && seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
}

#[test]
fn no_source_file_is_far_over_600_lines() {
    let long: Vec<String> = sources()
        .into_iter()
        .filter(|(_, text)| text.lines().count() > 650)
        .map(|(rel, text)| format!("{rel}: {} lines", text.lines().count()))
        .collect();
    assert!(long.is_empty(), "split these by what they own: {long:?}");
}
