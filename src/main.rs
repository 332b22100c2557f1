//! The baton binary: parse the command line, read config and theme, start logging, dispatch.
//! Everything else lives in the library (`baton::…`) so tests can drive it.

use std::process::ExitCode;

use baton::Exit;
use baton::cli::{Cli, Command, ConfigCommand};
use baton::config::{Config, paths, theme};
use clap::Parser;

fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("baton: cannot install the error reporter: {e}");
    }
    let cli = Cli::parse();

    let (config, config_path) = match Config::load(cli.global.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("baton: bad config: {e}");
            return Exit::Usage.into();
        }
    };
    let themes = theme::ThemeSet::new(paths::user_themes_dir());
    let theme_name = theme::choose(
        cli.global.theme.as_deref(),
        theme::no_color_env(),
        config.general.theme.as_deref(),
    );
    let theme = match themes.load(&theme_name) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: bad theme: {e}");
            return Exit::Usage.into();
        }
    };

    let _log_guard = match paths::log_dir().map(|d| baton::logging::init(&d)) {
        Some(Ok(g)) => Some(g),
        Some(Err(e)) => {
            eprintln!("baton: warning: logging is off: {e}");
            None
        }
        None => None,
    };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), theme = %theme.name, "baton starting");

    match cli.command {
        Some(Command::Config {
            command: ConfigCommand::Check,
        }) => {
            match &config_path {
                Some(p) => println!("config: {} is valid", p.display()),
                None => println!("config: no file, using defaults"),
            }
            println!(
                "orchestras: {}, profiles: {}, roles: {}",
                config.orchestras.len(),
                config.profiles.len(),
                config.roles.len()
            );
            println!("theme: {} is valid", theme.name);
            Exit::Ok.into()
        }
        Some(Command::Config {
            command: ConfigCommand::Paths,
        }) => {
            let show = |p: Option<std::path::PathBuf>| {
                p.map(|p| p.display().to_string())
                    .unwrap_or_else(|| "(no home directory)".into())
            };
            println!(
                "config file: {}",
                cli.global
                    .config
                    .clone()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| show(paths::default_config_file()))
            );
            println!("user themes: {}", show(paths::user_themes_dir()));
            println!("data dir:    {}", show(paths::data_dir()));
            println!(
                "log file:    {}",
                show(paths::log_dir().map(|d| d.join("baton.log")))
            );
            println!("themes:      {}", themes.names().join(", "));
            Exit::Ok.into()
        }
        None => {
            eprintln!(
                "baton: the dashboard is not part of this build yet; see `baton --help` for what is"
            );
            Exit::Failed.into()
        }
    }
}
