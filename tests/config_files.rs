//! The binary against broken config and theme files: each error names the file, line and key,
//! says how to fix it, and exits 2 without a panic.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn baton(config_home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .env("XDG_CONFIG_HOME", config_home)
        .env("BATON_DATA_DIR", config_home.join("data"))
        .env_remove("BATON_CONFIG")
        .env_remove("NO_COLOR")
        .output()
        .expect("run baton")
}

fn invalid_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/invalid_configs")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_broken_config_names_file_line_key_and_fix_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let files = invalid_files();
    assert!(files.len() >= 10, "expected a set of broken files");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expect = text
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("# expect: ");
        let mut line = "";
        let mut key = "";
        for part in expect.split_whitespace() {
            if let Some(v) = part.strip_prefix("line=") {
                line = v;
            } else if let Some(v) = part.strip_prefix("key=") {
                key = v;
            }
        }
        let out = baton(
            home.path(),
            &["--config", file.to_str().unwrap(), "config", "check"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        let name = file.display().to_string();
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(&format!("{name}:{line}:")),
            "{name}: wants line {line}: {err}"
        );
        if !key.is_empty() {
            assert!(
                err.contains(&format!("key '{key}'")),
                "{name}: wants key {key}: {err}"
            );
        }
        assert!(err.contains("fix: "), "{name}: no fix: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            !err.contains("hunter2"),
            "{name}: a secret was echoed: {err}"
        );
    }
}

#[test]
fn missing_explicit_config_is_exit_2_and_missing_default_is_defaults() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(
        home.path(),
        &["--config", "/nonexistent/baton.toml", "config", "check"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/baton.toml"));

    let out = baton(home.path(), &["config", "check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("no file, using defaults"), "{stdout}");
    assert!(stdout.contains("theme: default"), "{stdout}");
}

#[test]
fn config_from_env_and_platform_dir() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("baton");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), "[general]\ntheme = \"light\"\n").unwrap();
    let out = baton(home.path(), &["config", "check"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("theme: light is valid"));

    let other = home.path().join("other.toml");
    std::fs::write(&other, "[general]\ntheme = \"high-contrast\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["config", "check"])
        .env("XDG_CONFIG_HOME", home.path())
        .env("BATON_DATA_DIR", home.path().join("data"))
        .env("BATON_CONFIG", &other)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("theme: high-contrast is valid"));
}

#[test]
fn themes_flag_no_color_and_broken_user_theme() {
    let home = tempfile::tempdir().unwrap();
    for t in ["default", "light", "high-contrast", "mono"] {
        let out = baton(home.path(), &["--theme", t, "config", "check"]);
        assert_eq!(out.status.code(), Some(0), "{t}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["config", "check"])
        .env("XDG_CONFIG_HOME", home.path())
        .env("BATON_DATA_DIR", home.path().join("data"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("theme: mono is valid"));

    let themes = home.path().join("baton/themes");
    std::fs::create_dir_all(&themes).unwrap();
    std::fs::write(
        themes.join("broken.toml"),
        "[styles]\ntext = \"white\"\nleader = \"purple\"\n",
    )
    .unwrap();
    let out = baton(home.path(), &["--theme", "broken", "config", "check"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("broken.toml:3"), "{err}");
    assert!(err.contains("purple"), "{err}");

    let out = baton(home.path(), &["--theme", "nosuch", "config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("available: default, light"));
}

#[test]
fn logs_go_to_the_data_dir_not_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["config", "check"])
        .env("XDG_CONFIG_HOME", home.path())
        .env("BATON_DATA_DIR", home.path().join("data"))
        .env("BATON_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
    let log = std::fs::read_to_string(home.path().join("data/logs/baton.log")).unwrap();
    assert!(log.contains("baton starting"), "{log}");
}

#[test]
fn key_bindings_from_the_config() {
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("keys.toml");
    std::fs::write(
        &good,
        "[keys]\nquit = \"ctrl-q\"\nfilter = \"F\"\nback = [\"esc\", \"backspace\"]\n",
    )
    .unwrap();
    let out = baton(
        home.path(),
        &["--config", good.to_str().unwrap(), "config", "check"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Each broken [keys] entry says what to do about it.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid_configs");
    for (file, fix) in [
        (
            "key_unknown_action.toml",
            "fix: use one of: help, quit, back,",
        ),
        (
            "key_unparsable.toml",
            "fix: write one character (q, G, ?, /) or a name",
        ),
        ("key_empty_list.toml", "fix: give it at least one key"),
        (
            "key_clash.toml",
            "fix: give filter another key, or move all_databases too",
        ),
    ] {
        let path = dir.join(file);
        let out = baton(
            home.path(),
            &["--config", path.to_str().unwrap(), "config", "check"],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(fix), "{file}: {err}");
    }

    // The dashboard itself refuses the file before it touches the terminal.
    let path = dir.join("key_clash.toml");
    let out = baton(home.path(), &["--config", path.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("key 'keys.filter'"), "{err}");
}

#[test]
fn help_has_examples() {
    let home = tempfile::tempdir().unwrap();
    let out = baton(home.path(), &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("Examples:") && s.contains("Exit codes:"), "{s}");
}

#[test]
fn help_says_what_baton_and_baton_lab_open() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["lab", "--help"]] {
        let out = baton(home.path(), args);
        assert_eq!(out.status.code(), Some(0));
        let s = String::from_utf8_lossy(&out.stdout).replace('\n', " ");
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if cfg!(feature = "lab") {
            assert!(s.contains("open the dashboard on it"), "{args:?}: {s}");
            assert!(!s.contains("not in this build"), "{args:?}: {s}");
        } else {
            assert!(s.contains("Not in this build"), "{args:?}: {s}");
        }
        assert!(!s.contains("once the TUI lands"), "{args:?}: {s}");
    }
}

#[test]
fn completions_and_man_page_need_no_config() {
    let home = tempfile::tempdir().unwrap();
    // Even with a broken config file: these are for installing baton.
    let bad = home.path().join("broken.toml");
    std::fs::write(&bad, "[general\n").unwrap();
    let bad = bad.to_str().unwrap();
    for (shell, mark) in [
        ("bash", "complete -F _baton"),
        ("zsh", "#compdef baton"),
        ("fish", "complete -c baton"),
    ] {
        let out = baton(home.path(), &["--config", bad, "completions", shell]);
        assert!(out.status.success(), "{shell}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(mark),
            "{shell}: {}",
            &text[..text.len().min(300)]
        );
        assert!(
            text.contains("rolling-restart"),
            "{shell}: subcommands are completed"
        );
    }
    let out = baton(home.path(), &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad usage");

    let out = baton(home.path(), &["--config", bad, "man"]);
    assert!(out.status.success(), "{out:?}");
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH baton"), "{page}");
    assert!(page.contains("completions"), "{page}");
}

#[test]
fn completions_into_a_closed_pipe_do_not_panic() {
    // `baton completions bash | head -1`: the reader goes away after one line.
    use std::io::Read;
    let home = tempfile::tempdir().unwrap();
    for args in [&["completions", "bash"][..], &["man"][..]] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .env("XDG_CONFIG_HOME", home.path())
            .env("BATON_DATA_DIR", home.path().join("data"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 16];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}
