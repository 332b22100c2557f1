//! The baton binary: parse the command line, read config and theme, start logging, dispatch.
//! Everything else lives in the library (`baton::…`) so tests can drive it. The embedded lab
//! (crate `baton-lab`, default feature `lab`) is started here and only here: the library
//! reaches it, like any cluster, through a kubeconfig.

use std::process::ExitCode;

use baton::Exit;
use baton::cli::{Cli, Command, ConfigCommand, LabCommand, StatusArgs, StatusOutput};
#[cfg(feature = "lab")]
use baton::cli::{LabFaultArgs, LabReportArgs, LabServeArgs};
use baton::config::{Config, paths, theme};
use clap::Parser;

/// mimalloc rather than glibc's malloc: the dashboard's start (200 lists decoded at once, probe
/// rounds by the thousand) left glibc's arenas fragmented, holding freed memory as RSS for good;
/// mimalloc returns freed pages and allocates the many small objects faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // No transparent huge pages: a 2 MiB page that is partly used counts whole in RSS, and the
    // allocator asks for them by default (the fleet dashboard: 172 -> 162 MiB). Nothing baton
    // does is bound by TLB misses. The embedded lab, in this process too, is the same.
    // A kernel without the switch (before 3.15) keeps them: nothing to tell the user.
    #[cfg(target_os = "linux")]
    let _ = nix::sys::prctl::set_thp_disable(true);
    if let Err(e) = color_eyre::install() {
        eprintln!("baton: cannot install the error reporter: {e}");
    }
    let cli = Cli::parse();

    // Completions and the man page need no config (a broken one must not stop them).
    let written = match &cli.command {
        Some(Command::Completions { shell }) => {
            Some(baton::cli::completions(*shell, &mut std::io::stdout()))
        }
        Some(Command::Man) => Some(baton::cli::man_page(&mut std::io::stdout())),
        _ => None,
    };
    if let Some(written) = written {
        return match written {
            // `baton completions bash | head` closes the pipe early: not an error.
            Ok(()) => Exit::Ok.into(),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok.into(),
            Err(e) => {
                eprintln!("baton: cannot write to stdout: {e}");
                Exit::Failed.into()
            }
        };
    }
    let (mut config, config_path) = match Config::load(cli.global.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("baton: bad config: {e}");
            return Exit::Usage.into();
        }
    };
    // `--read-only` is the config's `read_only` from here on: every client built from the config
    // (the engine's, the operations') carries the guard in read-only mode (`baton::guard`).
    if cli.global.read_only {
        config.general.read_only = true;
    }
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
                "log file:    {} (one per machine; each line says its pid=)",
                show(paths::log_dir().map(|d| d.join("baton.log")))
            );
            println!("themes:      {}", themes.names().join(", "));
            Exit::Ok.into()
        }
        Some(Command::Lab { command }) => lab(&cli.global, config, theme, themes, command),
        Some(Command::Status(args)) => status(&cli.global, &config, args),
        Some(Command::Op { command }) => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            rt.block_on(baton::ops::headless::run(&cli.global, &config, command))
                .into()
        }
        Some(Command::Campaign { command }) => {
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            rt.block_on(baton::ops::campaign::headless::run(
                &cli.global,
                &config,
                command,
            ))
            .into()
        }
        Some(Command::Bench(args)) => bench(&cli.global, &config, theme, args),
        // Handled before the config is read.
        Some(Command::Completions { .. } | Command::Man) => Exit::Ok.into(),
        None => dashboard(&cli.global, config, theme, themes, false),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("baton: cannot start the async runtime: {e}");
            ExitCode::from(Exit::Failed)
        })
}

/// `baton lab …`: the dashboard on the demo lab, or the lab headless, or its control server.
#[cfg(feature = "lab")]
fn lab(
    global: &baton::cli::GlobalArgs,
    config: Config,
    theme: baton::config::Theme,
    themes: theme::ThemeSet,
    command: Option<LabCommand>,
) -> ExitCode {
    match command {
        None => dashboard(global, config, theme, themes, true),
        Some(LabCommand::Serve(args)) => lab_serve(args),
        Some(LabCommand::Fault(args)) => {
            lab_control(global.kubeconfig.as_deref(), Some(args), None)
        }
        Some(LabCommand::Report(args)) => {
            lab_control(global.kubeconfig.as_deref(), None, Some(args))
        }
    }
}

/// `baton lab …` in a build without the lab (`--no-default-features`): bad usage.
#[cfg(not(feature = "lab"))]
fn lab(
    _global: &baton::cli::GlobalArgs,
    _config: Config,
    _theme: baton::config::Theme,
    _themes: theme::ThemeSet,
    _command: Option<LabCommand>,
) -> ExitCode {
    eprintln!(
        "baton: the lab is not in this build (built without the `lab` feature); \
         rebuild with default features: cargo build --release"
    );
    Exit::Usage.into()
}

/// `baton lab serve`: start the lab, print the ready line, serve until SIGINT/SIGTERM.
#[cfg(feature = "lab")]
fn lab_serve(args: LabServeArgs) -> ExitCode {
    use baton_lab::{Lab, LabError, LabOptions};
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let started = std::time::Instant::now();
        let opts = LabOptions {
            profile: Some(args.profile.clone()),
            kubeconfig_out: args.kubeconfig_out.clone(),
            request_log: args.request_log.clone(),
            seed: args.seed,
            data_dir: paths::data_dir().map(|d| d.join("lab")),
            bookmark_every: None,
        };
        let runner = std::env::current_exe()
            .ok()
            .map(baton_lab::RunnerImage::baton);
        let lab = match Lab::start_with_runner(opts, runner).await {
            Ok(lab) => lab,
            Err(LabError::Input(m)) => {
                eprintln!("baton: bad lab profile: {m}");
                return Exit::Usage.into();
            }
            Err(LabError::Io(m)) => {
                eprintln!("baton: the lab cannot start: {m}");
                return Exit::Failed.into();
            }
        };
        if let Err(e) = lab.wait_ready(std::time::Duration::from_secs(30)).await {
            eprintln!("baton: the lab cannot start: {e}");
            return Exit::Failed.into();
        }
        tracing::info!(
            orchestras = lab.orchestras.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            kubeconfig = %lab.kubeconfig.display(),
            "lab ready"
        );
        // Listen for signals before saying ready, so a stop right after the line is clean.
        let stop = wait_for_signal();
        println!("ready kubeconfig={}", lab.kubeconfig.display());
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let pods_ready = async {
            loop {
                let (ready, total) = lab.ready_pods();
                if total > 0 && ready == total {
                    tracing::info!(
                        pods = total,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "lab: every pod is ready"
                    );
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            std::future::pending::<()>().await
        };
        tokio::select! {
            _ = stop => {}
            _ = pods_ready => {}
        }
        tracing::info!("lab stopping");
        lab.shutdown().await;
        Exit::Ok.into()
    })
}

/// Resolves on SIGINT or SIGTERM; the handlers are installed when this is called.
#[cfg(feature = "lab")]
fn wait_for_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `baton lab fault` and `baton lab report`: talk to a running lab's control server.
#[cfg(feature = "lab")]
fn lab_control(
    kubeconfig: Option<&std::path::Path>,
    fault: Option<LabFaultArgs>,
    report: Option<LabReportArgs>,
) -> ExitCode {
    use baton_lab::client::{ControlClient, ControlError};
    let Some(kubeconfig) = kubeconfig else {
        eprintln!("baton: --kubeconfig PATH is required: the file `baton lab serve` wrote");
        return Exit::Usage.into();
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let result = async {
            let client = ControlClient::from_kubeconfig(kubeconfig)?;
            match (fault, report) {
                (Some(f), _) => {
                    let req = baton_lab::control::FaultRequest {
                        fault: f.fault,
                        orchestra: f.orchestra,
                        namespace: f.namespace,
                        pod: f.pod,
                        seconds: f.seconds,
                        off: f.off,
                    };
                    let v = client.fault(&req).await?;
                    println!("{}", v["done"].as_str().unwrap_or("done"));
                }
                (None, Some(r)) => {
                    let v = client.report().await?;
                    if r.json {
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    } else {
                        print!("{}", baton_lab::report_text(&v));
                    }
                }
                (None, None) => {}
            }
            Ok::<(), ControlError>(())
        }
        .await;
        match result {
            Ok(()) => Exit::Ok.into(),
            Err(ControlError::Input(m)) => {
                eprintln!("baton: {m}");
                Exit::Usage.into()
            }
            Err(ControlError::Failed(m)) => {
                eprintln!("baton: {m}");
                Exit::Failed.into()
            }
        }
    })
}

/// `baton status`: the engine until every member was probed once (or `--timeout`), then the
/// fleet as a table or JSON. Exit 1 when an orchestra is not live.
fn status(global: &baton::cli::GlobalArgs, config: &Config, args: StatusArgs) -> ExitCode {
    use baton::fleet::snapshot::FleetSnapshot;
    use baton::source::{Engine, Intervals, targets};
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        // An inventory orchestra is not a kubeconfig context.
        let contexts = match &args.orchestra {
            Some(o) if !config.inventory.contains_key(o) => vec![o.clone()],
            _ => global.contexts.clone(),
        };
        let mut targets = match targets(global.kubeconfig.as_deref(), &contexts, config).await {
            Ok(t) => t,
            Err(e) => {
                eprintln!("baton: {e}");
                return Exit::Usage.into();
            }
        };
        if let Some(o) = &args.orchestra {
            targets.retain(|t| &t.name == o);
            if targets.is_empty() {
                eprintln!("baton: no orchestra named '{o}'");
                return Exit::Usage.into();
            }
        }
        let mut engine = Engine::start(targets, config, Intervals::default());
        engine
            .until_probed_once(std::time::Duration::from_secs(args.timeout.max(1)))
            .await;
        let snap = FleetSnapshot::of(engine.fleet(), |d| {
            args.database.as_ref().is_none_or(|n| &d.key.name == n)
        });
        match args.output {
            StatusOutput::Json => println!(
                "{}",
                serde_json::to_string_pretty(&snap).unwrap_or_default()
            ),
            StatusOutput::Table => print!("{}", snap.table()),
        }
        if snap.all_live() {
            Exit::Ok.into()
        } else {
            Exit::Failed.into()
        }
    })
}

/// `baton bench`: the engine's and the view's figures against the budgets.
fn bench(
    global: &baton::cli::GlobalArgs,
    config: &Config,
    theme: baton::config::Theme,
    args: baton::cli::BenchArgs,
) -> ExitCode {
    use std::time::Duration;
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let targets =
            match baton::source::targets(global.kubeconfig.as_deref(), &global.contexts, config)
                .await
            {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("baton: {e}");
                    return Exit::Usage.into();
                }
            };
        let mut config = config.clone();
        if let Some(secs) = args.background_interval {
            config.general.background_interval = secs;
            config
                .orchestras
                .values_mut()
                .for_each(|o| o.background_interval = None);
        }
        // One interval to settle and two measured, of the slowest orchestra's beat.
        let slowest = targets
            .iter()
            .map(|t| config.background_interval(&t.name))
            .max()
            .unwrap_or(Duration::from_secs(config.general.background_interval));
        let (figures, _fleet) = baton::bench::engine(
            targets,
            &config,
            theme.clone(),
            Duration::from_secs(args.limit),
            args.settle.map_or(slowest, Duration::from_secs),
            args.idle.map_or(slowest * 2, Duration::from_secs),
        )
        .await;
        // After the engine's figures, so its RSS does not include the synthetic fleet.
        let render = baton::bench::render(theme, 10_000, 300);
        print!("{}{}", figures.report(), render.report());
        Exit::Ok.into()
    })
}

/// `baton` and `baton lab`: the dashboard over the kubeconfig's orchestras (and the config's
/// inventory), or over the embedded demo lab started in this process.
fn dashboard(
    global: &baton::cli::GlobalArgs,
    config: Config,
    theme: baton::config::Theme,
    themes: theme::ThemeSet,
    with_lab: bool,
) -> ExitCode {
    #[cfg(feature = "lab")]
    let mut config = config;
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        eprintln!("baton: the dashboard needs a terminal; for a snapshot use `baton status`");
        return Exit::Usage.into();
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        #[cfg(feature = "lab")]
        let lab = if with_lab {
            use baton_lab::{Lab, LabOptions};
            let opts = LabOptions {
                profile: Some("demo".into()),
                kubeconfig_out: None,
                request_log: None,
                seed: None,
                data_dir: paths::data_dir().map(|d| d.join("lab")),
                bookmark_every: None,
            };
            // Pods of baton's runner image run this very executable (in-cluster operations).
            let runner = std::env::current_exe()
                .ok()
                .map(baton_lab::RunnerImage::baton);
            let lab = match Lab::start_with_runner(opts, runner).await {
                Ok(lab) => lab,
                Err(e) => {
                    eprintln!("baton: the lab cannot start: {e}");
                    return Exit::Failed.into();
                }
            };
            if let Err(e) = lab.wait_ready(std::time::Duration::from_secs(30)).await {
                eprintln!("baton: the lab cannot start: {e}");
                return Exit::Failed.into();
            }
            // Restores list and check backups in the lab's object store.
            config
                .operations
                .object_store_endpoint
                .get_or_insert_with(|| lab.object_store_url.clone());
            // In-cluster runs use the lab's runner image (this executable).
            config
                .operations
                .runner_image
                .get_or_insert_with(|| baton_lab::RUNNER_IMAGE.to_string());
            Some(lab)
        } else {
            None
        };
        #[cfg(feature = "lab")]
        let lab_kubeconfig = lab.as_ref().map(|lab| lab.kubeconfig.clone());
        // Without the lab in the build, `baton lab` never gets here.
        #[cfg(not(feature = "lab"))]
        let lab_kubeconfig: Option<std::path::PathBuf> = {
            let _ = with_lab;
            None
        };
        let kubeconfig = lab_kubeconfig.clone().or_else(|| global.kubeconfig.clone());
        // With a lab, the operator contexts only (the observer ones are the same clusters).
        let targets =
            match baton::source::targets(kubeconfig.as_deref(), &global.contexts, &config).await {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("baton: {e}");
                    return Exit::Usage.into();
                }
            };
        let orchestras: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let read_only =
            global.read_only || config.general.read_only || config.general.role == "observer";
        // A read-only session says so, not the role whose operations it will not run.
        let role = if read_only {
            "read-only".to_string()
        } else {
            format!("role {}", config.general.role)
        };
        let identity = match (&lab_kubeconfig, &kubeconfig) {
            (Some(_), _) => format!("lab (demo) · {role}"),
            (None, Some(k)) => format!("{} · {role}", k.display()),
            (None, None) => format!("kubeconfig · {role}"),
        };
        let engine = baton::source::Engine::start_dashboard(
            targets,
            &config,
            baton::source::Intervals::default(),
        );
        let parts = engine.into_parts();
        let opts = baton::tui::Options {
            config,
            theme,
            themes,
            identity,
            read_only,
            orchestras,
            kubeconfig,
            contexts: global.contexts.clone(),
        };
        let result = baton::tui::run(opts, parts.events, parts.focus).await;
        drop(parts.supervisors);
        #[cfg(feature = "lab")]
        if let Some(lab) = lab {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), lab.shutdown()).await;
        }
        match result {
            Ok(()) => Exit::Ok.into(),
            Err(e) => {
                eprintln!("baton: {e}");
                Exit::Failed.into()
            }
        }
    })
}
