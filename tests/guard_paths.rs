//! Every request path goes through the guard (`src/guard.rs`): the product builds its kube
//! clients, its member-probe HTTP client and its webhook client there and nowhere else. A client
//! built any other way — `kube::Client::try_from(config)`, `Client::new(service, …)`, a
//! `ClientBuilder`, `reqwest::Client::new()` / `::builder()`, `reqwest::get`, a raw hyper client
//! — makes this test fail, naming the file and line. The end-to-end proof that the guard holds
//! is `tests/read_only.rs` (the lab's request log).

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// What builds a client (or sends without one).
const BUILDERS: &[&str] = &[
    "Client::try_from",
    "Client::try_default",
    "Client::new(",
    "ClientBuilder",
    "reqwest::Client::new",
    "reqwest::Client::builder",
    "reqwest::ClientBuilder",
    "reqwest::get(",
    "Client::builder()",
    "hyper_util::client",
    "hyper::client",
    "TcpStream::connect",
];

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

/// (file:line, the line) of every client construction under `src` outside `src/guard.rs`.
fn constructions(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for f in files {
        if f.ends_with("guard.rs") && f.parent() == Some(src) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        // Unit tests inside a file (after `#[cfg(test)]`) may build what they like: they are not
        // the product.
        let product = text.split("#[cfg(test)]").next().unwrap_or("");
        for (n, line) in product.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if BUILDERS.iter().any(|b| code.contains(b)) {
                found.push((
                    format!("{}:{}", f.display(), n + 1),
                    line.trim().to_string(),
                ));
            }
        }
    }
    found
}

#[test]
fn every_client_is_built_by_the_guard() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = constructions(&src);
    assert!(
        found.is_empty(),
        "clients built outside src/guard.rs (use baton::guard::kube_client / ProbeHttp):\n{}",
        found
            .iter()
            .map(|(at, l)| format!("  {at}: {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The guard itself builds them (so the scan looks at the right things).
    let guard = std::fs::read_to_string(src.join("guard.rs")).unwrap();
    assert!(
        guard.contains("ClientBuilder::try_from") && guard.contains("reqwest::Client::builder")
    );
}

#[test]
fn the_scan_finds_a_client_built_elsewhere() {
    // A product file that builds its own kube client must fail the scan.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("source")).unwrap();
    std::fs::write(
        src.join("guard.rs"),
        "let c = kube::Client::try_from(cfg);\n",
    )
    .unwrap();
    std::fs::write(
        src.join("source/sneaky.rs"),
        "//! sneaky\nfn f(cfg: kube::Config) { let c = kube::Client::try_from(cfg); }\n#[cfg(test)]\nmod t { fn g() { reqwest::Client::new(); } }\n",
    )
    .unwrap();
    let found = constructions(&src);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].0.ends_with("source/sneaky.rs:2"), "{found:?}");
}
