//! The shape of `src/`: no import circle between files, a thin `main.rs`, no oversized file,
//! clap, indicatif and egui only in the front ends (`cli/`, `app/`, `main.rs`).
//!
//! The import graph has an edge from file A to file B when A names an item of B: in a `use`
//! (groups expanded), or in a path in its code (`crate::…`, `super::…`, `self::…`,
//! `vitscope::…`, and in a module's root file the paths through its child modules). A path to a
//! module's root file that names an item the root re-exports (`pub use child::Item`) leads to
//! the file that defines it; a root's re-export of its own children is not an edge. Comments,
//! strings and `#[cfg(test)]` modules (at the end of a file) are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The source tree: file (relative to `src/`, `/`-separated) → text.
type Tree = BTreeMap<String, String>;

fn read_tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read src") {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).expect("under src");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read_to_string(&p).expect("read file"));
            }
        }
    }
    out
}

/// The code of a file without comments, string and char literals, and without its trailing
/// `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (next == Some('"') || next == Some('#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\''); a lifetime ('a) is kept.
            if next == Some('\\') {
                let mut j = i + 2;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push_str("' '");
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push_str("' '");
            } else {
                out.push(c[i]);
                i += 1;
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// A module path (`["model", "vit", "config"]`) and whether it is in the binary crate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ModPath {
    bin: bool,
    segs: Vec<String>,
}

struct Graph {
    files: Tree,
    /// Top-level modules of the binary crate (declared in `main.rs`).
    bin_mods: BTreeSet<String>,
    /// File → its code.
    code: BTreeMap<String, String>,
    /// File → re-exported name (`pub use …::Name`) → the absolute path it names.
    reexports: BTreeMap<String, BTreeMap<String, ModPath>>,
}

fn declared_mods(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let l = line.trim();
        let l = l
            .strip_prefix("pub(crate) ")
            .or_else(|| l.strip_prefix("pub(super) "))
            .or_else(|| l.strip_prefix("pub "))
            .unwrap_or(l);
        if let Some(rest) = l.strip_prefix("mod ")
            && let Some(name) = rest.strip_suffix(';')
        {
            out.insert(name.trim().to_string());
        }
    }
    out
}

/// Expands a use tree (`a::{b, c::{d, e as f}}`) into paths.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(inner) = tree.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        let mut depth = 0;
        let mut start = 0;
        let bytes: Vec<char> = inner.chars().collect();
        let mut parts = Vec::new();
        for (i, ch) in bytes.iter().enumerate() {
            match ch {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    parts.push(bytes[start..i].iter().collect::<String>());
                    start = i + 1;
                }
                _ => {}
            }
        }
        parts.push(bytes[start..].iter().collect::<String>());
        for p in parts {
            if !p.trim().is_empty() {
                expand(prefix, &p, out);
            }
        }
        return;
    }
    if let Some((head, rest)) = tree.split_once("::")
        && !head.contains('{')
    {
        let mut p = prefix.to_vec();
        p.push(head.trim().to_string());
        expand(&p, rest, out);
        return;
    }
    let name = tree.split(" as ").next().unwrap_or(tree).trim();
    let mut p = prefix.to_vec();
    if name != "self" && name != "*" {
        p.push(name.to_string());
    }
    out.push(p);
}

/// The `use` declarations of a file: (is `pub`, path).
fn uses(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = find_word(rest, "use") {
        let before = rest[..i].trim_end();
        let public = before.ends_with("pub")
            || before.ends_with("pub(crate)")
            || before.ends_with("pub(super)");
        let after = &rest[i + 3..];
        let Some(end) = after.find(';') else { break };
        let mut paths = Vec::new();
        expand(&[], &after[..end], &mut paths);
        out.extend(paths.into_iter().map(|p| (public, p)));
        rest = &after[end + 1..];
    }
    out
}

/// The code without its `use` declarations (their paths are read by [`uses`]).
fn without_uses(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(i) = find_word(rest, "use") {
        out.push_str(&rest[..i]);
        match rest[i..].find(';') {
            Some(end) => rest = &rest[i + end + 1..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The index of `word` as a whole word.
fn find_word(s: &str, word: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = s[from..].find(word) {
        let at = from + i;
        let end = at + word.len();
        let ok_before = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
        let ok_after = end >= b.len() || !(b[end].is_ascii_alphanumeric() || b[end] == b'_');
        if ok_before && ok_after {
            return Some(at);
        }
        from = end;
    }
    None
}

/// Every path `a::b::c` in the code whose first segment is one of `heads` (or any, with
/// `heads` empty).
fn paths(code: &str, heads: &BTreeSet<String>) -> Vec<Vec<String>> {
    let c: Vec<char> = code.chars().collect();
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        if ident(c[i]) && (i == 0 || !(ident(c[i - 1]) || c[i - 1] == ':')) {
            let mut segs = Vec::new();
            let mut j = i;
            loop {
                let s = j;
                while j < c.len() && ident(c[j]) {
                    j += 1;
                }
                segs.push(c[s..j].iter().collect::<String>());
                if c.get(j) == Some(&':')
                    && c.get(j + 1) == Some(&':')
                    && c.get(j + 2).is_some_and(|&x| ident(x))
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if segs.len() > 1 && heads.contains(&segs[0]) {
                out.push(segs);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

impl Graph {
    fn new(files: Tree) -> Self {
        let code: BTreeMap<String, String> =
            files.iter().map(|(f, t)| (f.clone(), code_of(t))).collect();
        let bin_mods = code
            .get("main.rs")
            .map(|c| declared_mods(c))
            .unwrap_or_default();
        let mut g = Graph {
            files,
            bin_mods,
            code,
            reexports: BTreeMap::new(),
        };
        let all: Vec<String> = g.files.keys().cloned().collect();
        for f in all {
            let mut map = BTreeMap::new();
            for (public, p) in uses(&g.code[&f]) {
                if public
                    && let Some(abs) = g.absolute(&f, &p)
                    && let Some(name) = p.last()
                {
                    map.insert(name.clone(), abs);
                }
            }
            g.reexports.insert(f, map);
        }
        g
    }

    fn module_of(&self, file: &str) -> ModPath {
        let mut segs: Vec<String> = file
            .trim_end_matches(".rs")
            .split('/')
            .map(str::to_string)
            .collect();
        if segs.last().is_some_and(|s| s == "mod") {
            segs.pop();
        }
        if segs == ["lib"] || segs == ["main"] {
            segs.clear();
        }
        let bin = file == "main.rs" || segs.first().is_some_and(|s| self.bin_mods.contains(s));
        ModPath { bin, segs }
    }

    /// The absolute module path `p` (as written in `file`) names.
    fn absolute(&self, file: &str, p: &[String]) -> Option<ModPath> {
        let here = self.module_of(file);
        let first = p.first()?;
        match first.as_str() {
            "crate" => Some(ModPath {
                bin: here.bin,
                segs: p[1..].to_vec(),
            }),
            "vitscope" => Some(ModPath {
                bin: false,
                segs: p[1..].to_vec(),
            }),
            "self" => {
                let mut segs = here.segs.clone();
                segs.extend_from_slice(&p[1..]);
                Some(ModPath {
                    bin: here.bin,
                    segs,
                })
            }
            "super" => {
                let mut segs = here.segs.clone();
                let mut k = 0;
                while p.get(k).is_some_and(|s| s == "super") {
                    segs.pop();
                    k += 1;
                }
                segs.extend_from_slice(&p[k..]);
                Some(ModPath {
                    bin: here.bin,
                    segs,
                })
            }
            child if is_root(file) && declared_mods(&self.code[file]).contains(child) => {
                let mut segs = here.segs.clone();
                segs.extend_from_slice(p);
                Some(ModPath {
                    bin: here.bin,
                    segs,
                })
            }
            _ => None,
        }
    }

    /// The file that defines what `m` names: the longest module prefix that is a file, then
    /// through its re-exports.
    fn file_of(&self, m: &ModPath, hops: usize) -> Option<String> {
        for n in (0..=m.segs.len()).rev() {
            let prefix = m.segs[..n].join("/");
            let candidates = if n == 0 {
                vec![if m.bin { "main.rs" } else { "lib.rs" }.to_string()]
            } else {
                vec![format!("{prefix}.rs"), format!("{prefix}/mod.rs")]
            };
            for c in candidates {
                if !self.files.contains_key(&c) {
                    continue;
                }
                if let Some(name) = m.segs.get(n)
                    && hops < 8
                    && let Some(target) = self.reexports.get(&c).and_then(|r| r.get(name))
                {
                    let mut t = target.clone();
                    t.segs.extend_from_slice(&m.segs[n + 1..]);
                    if let Some(f) = self.file_of(&t, hops + 1) {
                        return Some(f);
                    }
                }
                return Some(c);
            }
        }
        None
    }

    /// The files each file imports from.
    fn edges(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let heads: BTreeSet<String> = ["crate", "super", "self", "vitscope"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (file, code) in &self.code {
            let here = self.module_of(file);
            let mut named: Vec<(bool, Vec<String>)> = uses(code);
            let mut heads = heads.clone();
            if is_root(file) {
                heads.extend(declared_mods(code));
            }
            named.extend(
                paths(&without_uses(code), &heads)
                    .into_iter()
                    .map(|p| (false, p)),
            );
            let set = out.entry(file.clone()).or_default();
            for (public, p) in named {
                let Some(abs) = self.absolute(file, &p) else {
                    continue;
                };
                // A root re-exporting its own descendants declares, it does not import.
                if public
                    && is_root(file)
                    && abs.bin == here.bin
                    && abs.segs.starts_with(&here.segs)
                {
                    continue;
                }
                if let Some(target) = self.file_of(&abs, 0)
                    && target != *file
                {
                    set.insert(target);
                }
            }
        }
        out
    }
}

fn is_root(file: &str) -> bool {
    file == "lib.rs" || file == "main.rs" || file.ends_with("/mod.rs")
}

/// Every circle of the graph, each as its files in order.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Depth-first search; a back edge closes a circle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark: BTreeMap<&str, Mark> = edges.keys().map(|k| (k.as_str(), Mark::New)).collect();
    let mut found = Vec::new();
    fn visit<'a>(
        v: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        mark: &mut BTreeMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        found: &mut Vec<Vec<String>>,
    ) {
        mark.insert(v, Mark::Open);
        stack.push(v);
        for w in edges.get(v).into_iter().flatten() {
            match mark.get(w.as_str()).copied().unwrap_or(Mark::Done) {
                Mark::New => visit(w, edges, mark, stack, found),
                Mark::Open => {
                    let at = stack.iter().position(|s| *s == w).unwrap_or(0);
                    found.push(stack[at..].iter().map(|s| s.to_string()).collect());
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        mark.insert(v, Mark::Done);
    }
    let keys: Vec<&str> = edges.keys().map(String::as_str).collect();
    for k in keys {
        if mark[k] == Mark::New {
            visit(k, edges, &mut mark, &mut Vec::new(), &mut found);
        }
    }
    found
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_import_graph_of_src_has_no_circle() {
    let g = Graph::new(read_tree(&src_dir()));
    let edges = g.edges();
    // The graph is not empty: the test reads real edges.
    assert!(
        edges
            .get("cli/eval.rs")
            .is_some_and(|e| e.contains("dataset/run.rs")),
        "cli/eval.rs → dataset/run.rs not found: {:?}",
        edges.get("cli/eval.rs")
    );
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "import circles between files of src/:\n{}",
        found
            .iter()
            .map(|c| format!("  {} → {}", c.join(" → "), c[0]))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_graph_reader_finds_circles_through_uses_paths_and_reexports() {
    // a ↔ b through a `use` and a path in code.
    let g = Graph::new(tree(&[
        ("lib.rs", "pub mod a;\npub mod b;\n"),
        ("a.rs", "use crate::b::B;\npub struct A;\n"),
        ("b.rs", "pub struct B;\nfn f() { let _ = crate::a::A; }\n"),
    ]));
    assert_eq!(circles(&g.edges()).len(), 1);
    // A child using its parent's own item, the parent calling the child: a circle.
    let g = Graph::new(tree(&[
        ("lib.rs", "pub mod m;\n"),
        ("m/mod.rs", "mod k;\npub struct T;\nfn f() { k::g(); }\n"),
        ("m/k.rs", "use super::T;\npub fn g() {}\n"),
    ]));
    assert_eq!(circles(&g.edges()).len(), 1);
    // The same through a re-export is no circle when the item lives in a sibling file; a
    // group use, a comment and a string do not count.
    let g = Graph::new(tree(&[
        ("lib.rs", "pub mod m;\n"),
        ("m/mod.rs", "mod k;\nmod t;\npub use t::T;\npub use k::g;\n"),
        (
            "m/t.rs",
            "/// see crate::m::k\npub struct T;\nconst S: &str = \"crate::m::k::g\";\n",
        ),
        ("m/k.rs", "use super::{T, t::{self}};\npub fn g() {}\n"),
    ]));
    let e = g.edges();
    assert!(e["m/k.rs"].contains("m/t.rs"), "{e:?}");
    assert!(!e["m/t.rs"].contains("m/k.rs"), "{e:?}");
    assert!(circles(&e).is_empty(), "{e:?}");
    // A root that re-exports its child while the child uses the root's own item: no circle.
    let g = Graph::new(tree(&[
        ("lib.rs", "pub mod m;\n"),
        ("m/mod.rs", "mod k;\npub use k::g;\npub struct T;\n"),
        ("m/k.rs", "use super::T;\npub fn g() {}\n"),
    ]));
    assert!(circles(&g.edges()).is_empty(), "{:?}", g.edges());
    // Binary modules: `crate::` is main.rs's crate, `vitscope::` the library.
    let g = Graph::new(tree(&[
        ("lib.rs", "pub mod x;\n"),
        ("x.rs", "pub fn f() {}\n"),
        ("main.rs", "mod cli;\nfn main() { cli::run(); }\n"),
        ("cli/mod.rs", "mod a;\npub fn run() { a::go(); }\n"),
        (
            "cli/a.rs",
            "use vitscope::x::f;\npub fn go() { crate::cli::run(); f(); }\n",
        ),
    ]));
    let e = g.edges();
    assert!(e["cli/a.rs"].contains("x.rs"), "{e:?}");
    assert_eq!(circles(&e).len(), 1, "{e:?}");
}

fn lines(text: &str) -> usize {
    text.lines().count()
}

#[test]
fn main_is_thin_and_no_file_is_oversized() {
    let files = read_tree(&src_dir());
    let main = lines(&files["main.rs"]);
    assert!(main <= 100, "main.rs has {main} lines (at most 100)");
    let big: Vec<String> = files
        .iter()
        .filter(|(_, t)| lines(t) > 800)
        .map(|(f, t)| format!("{f} ({} lines)", lines(t)))
        .collect();
    assert!(big.is_empty(), "files over 800 lines: {big:?}");
}

/// Whether `file` is a front end (may use clap, indicatif, egui).
fn front_end(file: &str) -> bool {
    file == "main.rs" || file.starts_with("cli/") || file.starts_with("app/")
}

fn ui_crates_named(code: &str) -> Vec<&'static str> {
    [
        "clap",
        "indicatif",
        "egui",
        "eframe",
        "egui_plot",
        "egui_wgpu",
        "rfd",
    ]
    .into_iter()
    .filter(|c| find_word(code, c).is_some())
    .collect()
}

#[test]
fn clap_indicatif_and_egui_only_in_front_ends() {
    let files = read_tree(&src_dir());
    assert!(
        files
            .iter()
            .any(|(f, t)| front_end(f) && !ui_crates_named(&code_of(t)).is_empty()),
        "no front end names clap or egui: the check reads nothing"
    );
    let wrong: Vec<String> = files
        .iter()
        .filter(|(f, _)| !front_end(f))
        .filter_map(|(f, t)| {
            let named = ui_crates_named(&code_of(t));
            (!named.is_empty()).then(|| format!("{f}: {named:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "front-end crates in the core: {wrong:?}");
}
