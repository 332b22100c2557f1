//! The shape of the code (DESIGN.md, Architecture): every module imports only from its own
//! layer or below, no two modules import each other (directly or round a circle), and no
//! product file is over 600 lines or lacks its `//!` doc. It reads every `crate::…` and
//! `super::…` path of the product code under `src/` (and the lab's `lab/src/`, for circles and
//! sizes), leaving out unit tests (`#[cfg(test)]` items, `tests.rs`, `tests/` folders). A
//! parent's use of its own children (`mod x;`, `pub use x::…`) is ownership, not an import.
//!
//! The layer order is written once here and once in DESIGN.md's module map; keep them alike.
//! Set `BATON_LAYERS_ROOT` to another checkout to measure it instead of this one.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom to top: a module may import from its own layer or any layer before it. `crate` is
/// the library root (`lib.rs`: `Exit`, `clip`). `main.rs` is its own crate on top of all.
const LAYERS: &[&[&str]] = &[
    &["crate", "fleet", "config", "cli", "logging"],
    &["guard"],
    &["probe"],
    &["source"],
    &["ops"],
    &["tui", "bench"],
];

const MAX_LINES: usize = 600;

fn root() -> PathBuf {
    std::env::var_os("BATON_LAYERS_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// `src/ops/kube.rs` rather than the absolute path.
fn shown(file: &Path) -> String {
    file.strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string()
}

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

/// `ops::kube` for `src/ops/kube/mod.rs` or `src/ops/kube.rs`; `crate` for the crate root.
fn module_of(rel: &Path) -> String {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !(stem == "mod" || (parts.is_empty() && (stem == "lib" || stem == "main"))) {
        parts.push(stem.to_string());
    }
    if parts.is_empty() {
        "crate".to_string()
    } else {
        parts.join("::")
    }
}

/// The text with comments, string and char literals blanked (newlines kept, so line numbers
/// hold): what is left is code.
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_before(&b, i) {
            // A raw string: r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < b.len() {
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(b[i..j.min(b.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{…}') or a lifetime ('a).
            let end = if next == Some('\\') {
                (i + 2..b.len()).find(|&k| b[k] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(' ', e + 1 - i));
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && ident_char(b[i - 1])
}

/// The code with every `#[cfg(test)]` item blanked, and the names of the child modules it
/// declares under `#[cfg(test)]` (`mod tests;`, `mod fixture;`): those files are tests too.
fn without_tests(code: &str) -> (String, Vec<String>) {
    let mut b: Vec<char> = code.chars().collect();
    let mut test_mods = Vec::new();
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= b.len() {
        if b[i..i + marker.len()] != marker[..] {
            i += 1;
            continue;
        }
        let start = i;
        let mut j = i + marker.len();
        // Further attributes, then the item up to its `;` or its matched `{…}`.
        loop {
            while j < b.len() && b[j].is_whitespace() {
                j += 1;
            }
            if b.get(j) == Some(&'#') {
                let mut depth = 0;
                while j < b.len() {
                    match b[j] {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                j += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
            } else {
                break;
            }
        }
        let item_start = j;
        let mut depth = 0;
        while j < b.len() {
            match b[j] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        j += 1;
                        break;
                    }
                }
                ';' if depth == 0 => {
                    let head: String = b[item_start..j].iter().collect();
                    let words: Vec<&str> = head.split_whitespace().collect();
                    if let Some(p) = words.iter().position(|w| *w == "mod")
                        && let Some(name) = words.get(p + 1)
                    {
                        test_mods.push(name.to_string());
                    }
                    j += 1;
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let end = j.min(b.len());
        for c in &mut b[start..end] {
            if *c != '\n' {
                *c = ' ';
            }
        }
        i = j;
    }
    (b.into_iter().collect(), test_mods)
}

/// Every path a `crate::…` / `super::…` reference names, expanding `{…}` groups, as absolute
/// segments (`["ops", "kube", "KubeExecutor"]`), with its line.
fn references(code: &str, module: &str) -> Vec<(usize, Vec<String>)> {
    let b: Vec<char> = code.chars().collect();
    let here: Vec<String> = if module == "crate" {
        Vec::new()
    } else {
        module.split("::").map(String::from).collect()
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = |w: &str| {
            let w: Vec<char> = w.chars().collect();
            b.len() >= i + w.len()
                && b[i..i + w.len()] == w[..]
                && (i == 0 || !(ident_char(b[i - 1]) || b[i - 1] == ':' || b[i - 1] == '$'))
        };
        let base = if starts("crate::") {
            i += "crate::".len();
            Some(Vec::new())
        } else if starts("super::") {
            // In `a/b.rs` (module a::b) `super` is `a`; in `a/b/mod.rs` (module a::b) too.
            let mut base = here.clone();
            base.pop();
            i += "super::".len();
            while b[i..].starts_with(&['s', 'u', 'p', 'e', 'r', ':', ':']) {
                base.pop();
                i += "super::".len();
            }
            Some(base)
        } else {
            None
        };
        match base {
            Some(base) => {
                let line = b[..i].iter().filter(|&&c| c == '\n').count() + 1;
                let mut paths = Vec::new();
                tree(&b, &mut i, base, &mut paths);
                found.extend(paths.into_iter().map(|p| (line, p)));
            }
            None => i += 1,
        }
    }
    found
}

/// Parse one use-tree at `b[*i..]` (`a::b::{c, d::e}`), pushing each full path.
fn tree(b: &[char], i: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_ws(i);
        if b.get(*i) == Some(&'{') {
            *i += 1;
            loop {
                skip_ws(i);
                match b.get(*i) {
                    Some('}') => {
                        *i += 1;
                        return;
                    }
                    Some(',') => *i += 1,
                    None => return,
                    _ => {
                        let before = *i;
                        tree(b, i, prefix.clone(), out);
                        if *i == before {
                            *i += 1;
                        }
                    }
                }
            }
        }
        let start = *i;
        while *i < b.len() && ident_char(b[*i]) {
            *i += 1;
        }
        if *i == start {
            out.push(prefix);
            return;
        }
        prefix.push(b[start..*i].iter().collect());
        skip_ws(i);
        if b[*i..].starts_with(&[':', ':']) {
            *i += 2;
        } else {
            out.push(prefix);
            return;
        }
    }
}

/// One crate's product modules and the imports between them.
struct Graph {
    /// module → (file, lines).
    files: BTreeMap<String, (PathBuf, usize)>,
    /// (from, to) → the first place it is imported (file:line).
    edges: BTreeMap<(String, String), String>,
}

fn graph(src: &Path) -> Graph {
    let mut all = Vec::new();
    rust_files(src, &mut all);
    all.sort();
    let mut texts = BTreeMap::new();
    let mut test_only = BTreeSet::new();
    for f in &all {
        let rel = f.strip_prefix(src).unwrap();
        let module = module_of(rel);
        let text = std::fs::read_to_string(f).unwrap();
        let (product, test_mods) = without_tests(&code_only(&text));
        for m in test_mods {
            test_only.insert(if module == "crate" {
                m
            } else {
                format!("{module}::{m}")
            });
        }
        let is_test =
            rel.iter().any(|p| p == "tests") || rel.file_name().is_some_and(|n| n == "tests.rs");
        if !is_test {
            texts.insert(module, (f.clone(), text, product));
        }
    }
    // A module under a test-only one is a test too.
    texts.retain(|m, _| {
        !test_only
            .iter()
            .any(|t| m == t || m.starts_with(&format!("{t}::")))
    });
    let mut files = BTreeMap::new();
    let mut edges = BTreeMap::new();
    let known: BTreeSet<String> = texts.keys().cloned().collect();
    for (module, (file, text, product)) in &texts {
        files.insert(module.clone(), (file.clone(), text.lines().count()));
        for (line, path) in references(product, module) {
            // The longest prefix that is a module of this crate.
            let target = (0..=path.len())
                .rev()
                .map(|n| {
                    if n == 0 {
                        "crate".to_string()
                    } else {
                        path[..n].join("::")
                    }
                })
                .find(|m| known.contains(m));
            let Some(target) = target else { continue };
            let owns = module == "crate" || target.starts_with(&format!("{module}::"));
            if &target == module || owns {
                continue;
            }
            edges
                .entry((module.clone(), target))
                .or_insert_with(|| format!("{}:{line}", shown(file)));
        }
    }
    Graph { files, edges }
}

/// An import seen from the level where it crosses: `ops::plan::template → ops::surge` is
/// `ops::plan → ops::surge` (siblings under `ops`), `tui::ops::flow → tui::update` is
/// `tui::ops → tui::update`. So a circle through a parent's children and a sibling of that
/// parent is still a circle. `None` when one module contains the other (ownership).
fn crossing(from: &str, to: &str) -> Option<(String, String)> {
    let a: Vec<&str> = from.split("::").collect();
    let b: Vec<&str> = to.split("::").collect();
    if from == "crate" || to == "crate" {
        return None;
    }
    let k = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if k >= a.len() || k >= b.len() {
        return None;
    }
    Some((a[..=k].join("::"), b[..=k].join("::")))
}

/// The import circles (strongly connected components of more than one module, the imports
/// taken where they cross), Tarjan's.
fn circles(g: &Graph) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = g.files.keys().collect();
    let index_of: BTreeMap<&String, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (from, to) in g.edges.keys() {
        let Some((from, to)) = crossing(from, to) else {
            continue;
        };
        if let (Some(&a), Some(&b)) = (index_of.get(&from), index_of.get(&to))
            && !next[a].contains(&b)
        {
            next[a].push(b);
        }
    }
    struct T<'a> {
        next: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        out: Vec<Vec<usize>>,
    }
    fn visit(t: &mut T, v: usize) {
        t.index[v] = Some(t.counter);
        t.low[v] = t.counter;
        t.counter += 1;
        t.stack.push(v);
        t.on[v] = true;
        for k in 0..t.next[v].len() {
            let w = t.next[v][k];
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on[w] => t.low[v] = t.low[v].min(iw),
                _ => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on[w] = false;
                scc.push(w);
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                t.out.push(scc);
            }
        }
    }
    let n = nodes.len();
    let mut t = T {
        next: &next,
        index: vec![None; n],
        low: vec![0; n],
        on: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    let mut out: Vec<Vec<String>> = t
        .out
        .into_iter()
        .map(|scc| {
            let mut names: Vec<String> = scc.into_iter().map(|i| nodes[i].clone()).collect();
            names.sort();
            names
        })
        .collect();
    out.sort();
    out
}

fn describe_circles(g: &Graph) -> Vec<String> {
    circles(g)
        .into_iter()
        .map(|c| {
            let inside: BTreeSet<&String> = c.iter().collect();
            let arrows: Vec<String> = g
                .edges
                .iter()
                .filter(|((a, b), _)| {
                    crossing(a, b).is_some_and(|(a, b)| inside.contains(&a) && inside.contains(&b))
                })
                .map(|((a, b), at)| format!("    {a} → {b} ({at})"))
                .collect();
            format!(
                "  a circle of {}: {}\n{}",
                c.len(),
                c.join(", "),
                arrows.join("\n")
            )
        })
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or(module);
    LAYERS.iter().position(|l| l.contains(&top))
}

#[test]
fn every_import_points_down_or_across() {
    let g = graph(&root().join("src"));
    let mut wrong = Vec::new();
    for module in g.files.keys() {
        if layer_of(module).is_none() {
            wrong.push(format!(
                "  {module} is in no layer: add its top-level module to LAYERS (tests/layers.rs) and to DESIGN.md"
            ));
        }
    }
    for ((from, to), at) in &g.edges {
        if let (Some(a), Some(b)) = (layer_of(from), layer_of(to))
            && b > a
        {
            wrong.push(format!(
                "  {at}: {from} (layer {a}) imports {to} (layer {b}): move what they share down to {from}'s layer or below"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports up the layers ({}):\n{}",
        LAYERS
            .iter()
            .map(|l| l.join(", "))
            .collect::<Vec<_>>()
            .join(" → "),
        wrong.join("\n")
    );
    // The scan sees the imports that are there (so a broken parser cannot pass by seeing none).
    assert!(
        g.edges
            .contains_key(&("tui::update".to_string(), "fleet".to_string()))
    );
    assert!(g.edges.len() > 200, "only {} imports seen", g.edges.len());
}

#[test]
fn no_import_circles() {
    let mut found = Vec::new();
    for dir in ["src", "lab/src"] {
        let g = graph(&root().join(dir));
        for c in describe_circles(&g) {
            found.push(format!("{dir}:\n{c}"));
        }
    }
    assert!(
        found.is_empty(),
        "import circles (move what the modules share into one of them, or a module below both):\n{}",
        found.join("\n")
    );
}

#[test]
fn no_product_file_over_600_lines_or_without_its_doc() {
    let mut found = Vec::new();
    for dir in ["src", "lab/src"] {
        let g = graph(&root().join(dir));
        for (file, lines) in g.files.values() {
            if *lines > MAX_LINES {
                found.push(format!("  {}: {lines} lines", shown(file)));
            }
            let text = std::fs::read_to_string(file).unwrap();
            if !text.starts_with("//!") {
                found.push(format!(
                    "  {}: does not start with a `//!` doc saying what it owns",
                    shown(file)
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "product files over {MAX_LINES} lines or without a module doc (tests.rs and tests/ are exempt):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_reads_paths_as_rust_does() {
    let code = code_only(
        "use crate::{fleet::{Role, DbRef}, config::Config};\n\
         // use crate::tui::Model;\n\
         let s = \"crate::ops::x\";\n\
         use super::super::probe::Decode;\n\
         #[cfg(test)]\nmod tests;\n\
         #[cfg(test)]\nmod t { use crate::bench::Run; }\n\
         let c = '{'; fn f<'a>(x: &'a str) { crate::source::Engine::new(x) }\n",
    );
    let (product, test_mods) = without_tests(&code);
    assert_eq!(test_mods, vec!["tests".to_string()]);
    let paths: Vec<String> = references(&product, "ops::kube::exec")
        .into_iter()
        .map(|(line, p)| format!("{line}:{}", p.join("::")))
        .collect();
    assert_eq!(
        paths,
        vec![
            "1:fleet::Role",
            "1:fleet::DbRef",
            "1:config::Config",
            "4:ops::probe::Decode",
            "9:source::Engine::new",
        ]
    );
}
