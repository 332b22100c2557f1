//! `baton op …`: the operations engine without the dashboard. Finds the database (orchestra,
//! namespace, profile) and builds its `KubeExecutor` (both in `connect`), prepares the
//! operation, prints the checks and the plan, asks for confirmation (the database id typed for database-wide and destructive
//! ones; `--yes` skips it, no terminal without `--yes` is a usage error), runs it with progress
//! lines or JSON events on stdout, and maps the outcome to the exit codes of DESIGN.md. SIGINT or
//! SIGTERM cancels: the current action finishes and the database settles first.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use tokio::sync::{mpsc, watch};

use super::audit::Audit;
use super::connect;
use super::executor::Executor;
use super::in_cluster;
use super::kube::KubeExecutor;
use super::record::{self};
use super::runner::{OpEvent, Outcome, Request, Runner, Settings};
use crate::Exit;
use crate::cli::{GlobalArgs, OpCommand, OpOutput, OpResumeArgs};
use crate::config::{Config, OperationName, RunPlace};
use crate::fleet::catalog;
use crate::source::now_ms;

mod cancel;
mod status;

/// Runs `baton op <command>`; returns the process exit code.
pub async fn run(global: &GlobalArgs, config: &Config, command: OpCommand) -> Exit {
    let (op, args) = match command {
        OpCommand::List => {
            print!("{}", catalog::list_text());
            return Exit::Ok;
        }
        OpCommand::Status(a) => return status::status(global, config, a).await,
        OpCommand::Resume(a) => return resume(global, config, a).await,
        OpCommand::Cancel(a) => return cancel::cancel(global, config, a).await,
        OpCommand::Rbac(a) => {
            let secrets = in_cluster::credential_secrets(config);
            print!(
                "{}",
                in_cluster::yaml(&in_cluster::rbac(&a.namespace, &secrets))
            );
            return Exit::Ok;
        }
        OpCommand::RollingRestart(a) => (OperationName::RollingRestart, a),
        OpCommand::RestartMember(a) => (OperationName::RestartMember, a),
        OpCommand::Backup(a) => (OperationName::Backup, a),
        OpCommand::Diagnostics(a) => (OperationName::Diagnostics, a),
        OpCommand::Stop(a) => (OperationName::Stop, a),
        OpCommand::Start(a) => (OperationName::Start, a),
        OpCommand::Restore(a) => (OperationName::Restore, a),
        OpCommand::Resize(a) => (OperationName::Resize, a),
        OpCommand::Upgrade(a) => (OperationName::Upgrade, a),
        OpCommand::Incident(a) => (OperationName::Incident, a),
        OpCommand::ReplaceMember(a) => (OperationName::ReplaceMember, a),
    };
    let mut params = match catalog::parse_sets(&args.set) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    // `from` is what restore's `backup` was called before.
    if op == OperationName::Restore
        && let Some(v) = params.remove("from")
    {
        params.entry("backup".to_string()).or_insert(v);
    }
    let known: Vec<&str> = catalog::spec(op).params.iter().map(|p| p.key).collect();
    if let Some(k) = params.keys().find(|k| !known.contains(&k.as_str())) {
        eprintln!(
            "baton: {} takes no parameter '{k}' (it takes: {})",
            op.as_str(),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
        return Exit::Usage;
    }
    let settings = connect::settings(
        config,
        connect::read_only(global.read_only, config)
            || connect::orchestra_read_only(config, &args.target.orchestra),
        args.take_over,
    );
    // Read-only refuses before anything is even read.
    if settings.read_only {
        eprintln!(
            "baton: refused (read-only): baton runs read-only (--read-only or the config); no operation can run"
        );
        return Exit::Refused;
    }
    let exec = match connect::executor(
        global.kubeconfig.as_deref(),
        config,
        settings.read_only,
        &args.target,
    )
    .await
    {
        Ok(e) => e,
        Err((code, m)) => {
            eprintln!("baton: {m}");
            return code;
        }
    };
    if op == OperationName::Incident {
        return incident(&exec, config, &settings, args.dry_run).await;
    }
    // In the orchestra, unless this process is itself a runner Job (it never launches another).
    let orchestra = &args.target.orchestra;
    let in_cluster = !args.local
        && record::runner_job().is_none()
        && (args.in_cluster || config.run_place(orchestra) == RunPlace::InCluster);
    let place = if in_cluster {
        let Some(image) = config.runner_image(orchestra) else {
            eprintln!(
                "baton: running in the orchestra needs the runner image: set operations.runner_image (or runner_image of [orchestras.\"{orchestra}\"]) in the config"
            );
            return Exit::Usage;
        };
        let config_text = match crate::config::runner::config_text(config, orchestra) {
            Ok(t) => t,
            Err(m) => {
                eprintln!("baton: {m}");
                return Exit::Usage;
            }
        };
        Place::InCluster {
            image: image.to_string(),
            step_timeout_s: config.operations.step_timeout,
            config_text,
            secrets: in_cluster::SecretEnv::of(config),
        }
    } else {
        Place::Local
    };
    let req = Request {
        member: args.member.clone(),
        expect_leader: args.expect_leader.clone(),
        params,
        force: args.force.clone(),
    };
    drive(
        &exec,
        settings,
        args.output,
        Drive::Start(op, req),
        &place,
        args.dry_run,
        args.yes,
    )
    .await
}

/// Where `drive` runs the operation.
enum Place {
    Local,
    /// As a runner Job of `image`.
    InCluster {
        image: String,
        step_timeout_s: u64,
        /// The config the runner runs with.
        config_text: String,
        secrets: in_cluster::SecretEnv,
    },
}

enum Drive {
    Start(OperationName, Request),
    Resume,
}

async fn resume(global: &GlobalArgs, config: &Config, args: OpResumeArgs) -> Exit {
    let settings = connect::settings(
        config,
        connect::read_only(global.read_only, config)
            || connect::orchestra_read_only(config, &args.target.orchestra),
        args.take_over,
    );
    if settings.read_only {
        eprintln!("baton: refused (read-only): baton runs read-only; no operation can run");
        return Exit::Refused;
    }
    let exec = match connect::executor(
        global.kubeconfig.as_deref(),
        config,
        settings.read_only,
        &args.target,
    )
    .await
    {
        Ok(e) => e,
        Err((code, m)) => {
            eprintln!("baton: {m}");
            return code;
        }
    };
    drive(
        &exec,
        settings,
        args.output,
        Drive::Resume,
        &Place::Local,
        false,
        args.yes,
    )
    .await
}

/// Prints events as they come: text lines or JSON objects.
fn printer(output: OpOutput) -> (mpsc::UnboundedSender<OpEvent>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<OpEvent>();
    let h = tokio::spawn(async move {
        while let Some(ev) = rx.recv().await {
            let line = match output {
                OpOutput::Text => ev.text(),
                OpOutput::Json => serde_json::to_string(&ev).unwrap_or_default(),
            };
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    });
    (tx, h)
}

async fn drive(
    exec: &KubeExecutor,
    settings: Settings,
    output: OpOutput,
    what: Drive,
    place: &Place,
    dry_run: bool,
    yes: bool,
) -> Exit {
    let holder = record::holder_identity();
    let op_name = match &what {
        Drive::Start(op, _) => op.as_str().to_string(),
        Drive::Resume => "resume".into(),
    };
    let audit = Audit::new(
        Audit::default_path(),
        &holder,
        &exec.identity(),
        &op_name,
        &exec.database_id(),
    );
    let (tx, printing) = printer(output);
    let runner = Runner {
        exec,
        settings,
        events: tx.clone(),
        audit: &audit,
        holder,
    };
    let prepared = match &what {
        Drive::Start(op, req) => runner.prepare(*op, req).await,
        Drive::Resume => runner.prepare_resume().await,
    };
    let finish = |outcome: Outcome,
                  tx: mpsc::UnboundedSender<OpEvent>,
                  printing: tokio::task::JoinHandle<()>| async move {
        drop(tx);
        let _ = printing.await;
        report(&outcome, output);
        outcome.exit()
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(outcome) => {
            drop(runner);
            return finish(outcome, tx, printing).await;
        }
    };
    let op = prepared.record.operation;
    for c in &prepared.checks {
        let _ = tx.send(OpEvent::Check(c.clone()));
    }
    let _ = tx.send(OpEvent::Plan {
        steps: prepared.plan.clone(),
    });
    let launch = match (place, &what) {
        (
            Place::InCluster {
                image,
                step_timeout_s,
                config_text,
                secrets,
            },
            Drive::Start(_, req),
        ) => {
            let check = in_cluster::launch::identity_check(exec).await;
            let _ = tx.send(OpEvent::Check(check.clone()));
            if !check.ok && !dry_run {
                drop(runner);
                return finish(Outcome::Refused(check), tx, printing).await;
            }
            Some(in_cluster::Launch {
                operation: prepared.record.operation,
                orchestra: exec.orchestra.clone(),
                namespace: exec.namespace.clone(),
                database: exec.database.clone(),
                member: req.member.clone(),
                params: req.params.clone(),
                expect_leader: req.expect_leader.clone(),
                force: req.force.clone(),
                take_over: runner.settings.take_over,
                image: image.clone(),
                launched_by: format!("{} ({})", runner.holder, exec.identity()),
                command_line: std::env::args().collect::<Vec<_>>().join(" "),
                started_ms: now_ms(),
                deadline_s: in_cluster::deadline_s(prepared.plan.len(), *step_timeout_s),
                config_text: config_text.clone(),
                secrets: secrets.clone(),
            })
        }
        _ => None,
    };
    if dry_run {
        if let Some(l) = &launch {
            let _ = tx.send(OpEvent::Notice {
                message: format!(
                    "runner Job manifest (it would run the operation in the orchestra):\n{}",
                    in_cluster::yaml(&[in_cluster::job(l)])
                ),
            });
            drop(runner);
            return finish(
                Outcome::Nothing("dry run: nothing was sent".into()),
                tx,
                printing,
            )
            .await;
        }
        if let Some(m) = &prepared.job_manifest {
            let _ = tx.send(OpEvent::Notice {
                message: format!(
                    "Job manifest:\n{}",
                    serde_json::to_string_pretty(m).unwrap_or_default()
                ),
            });
        }
        drop(runner);
        return finish(
            Outcome::Nothing("dry run: nothing was sent".into()),
            tx,
            printing,
        )
        .await;
    }
    if !yes {
        let spec = catalog::spec(op);
        let id = exec.database_id();
        let question = if spec.typed_confirmation || prepared.taking_over.is_some() {
            format!(
                "{} on {id} ({} blast radius). Type the database id ({id}) to go on: ",
                op.as_str(),
                spec.radius.word()
            )
        } else {
            format!("{} on {id}? [y/N] ", op.as_str())
        };
        let expected = if spec.typed_confirmation || prepared.taking_over.is_some() {
            id.clone()
        } else {
            "y".into()
        };
        match confirm(&question, &expected).await {
            Ok(true) => {}
            Ok(false) => {
                drop(runner);
                return finish(
                    Outcome::Nothing("not confirmed: nothing was sent".into()),
                    tx,
                    printing,
                )
                .await;
            }
            Err(m) => {
                drop(runner);
                drop(tx);
                let _ = printing.await;
                eprintln!("baton: {m}");
                return Exit::Usage;
            }
        }
    }
    if let Some(l) = launch {
        // SIGINT / SIGTERM: stop following; the operation runs on in the orchestra.
        let (stop, signals) = on_signal(None);
        let outcome = in_cluster::launch::start(exec, &l, &audit, &tx, stop).await;
        signals.abort();
        drop(runner);
        return finish(outcome, tx, printing).await;
    }
    // SIGINT / SIGTERM: finish the current action, settle, record the cancel.
    let (cancel_rx, signals) = on_signal(Some(
        "baton: cancelling: the current action finishes and the database settles first",
    ));
    let outcome = runner.run(prepared, cancel_rx).await;
    signals.abort();
    drop(runner);
    finish(outcome, tx, printing).await
}

/// A flag that turns true on the first SIGINT or SIGTERM (saying `said` then), and the task
/// that watches for them (abort it when done).
fn on_signal(said: Option<&'static str>) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
        if let Some(s) = said {
            eprintln!("{s}");
        }
        std::future::pending::<()>().await;
    });
    (rx, signals)
}

/// Asks on the terminal; Err when there is none.
pub(crate) async fn confirm(question: &str, expected: &str) -> Result<bool, String> {
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to confirm on: pass --yes to run without confirmation".into());
    }
    let question = question.to_string();
    let expected = expected.to_string();
    tokio::task::spawn_blocking(move || {
        eprint!("{question}");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let answer = line.trim();
        Ok(if expected == "y" {
            answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
        } else {
            answer == expected
        })
    })
    .await
    .map_err(|e| e.to_string())?
}

fn report(outcome: &Outcome, output: OpOutput) {
    let (word, text) = match outcome {
        Outcome::Done(m) => ("done", m.clone()),
        Outcome::Nothing(m) => ("nothing", m.clone()),
        Outcome::Refused(c) => ("refused", format!("{} — rule '{}'", c.line(), c.rule)),
        Outcome::Paused(m) => ("paused", format!("{m}; `baton op resume` continues it")),
        Outcome::Cancelled(m) => ("cancelled", m.clone()),
        Outcome::Failed(m) => ("failed", m.clone()),
        Outcome::Usage(m) => ("usage", m.clone()),
    };
    match (output, outcome) {
        (OpOutput::Json, Outcome::Refused(c)) => {
            println!(
                "{}",
                serde_json::json!({"event": "refused", "rule": c.rule, "member": c.member, "detail": c.detail})
            );
        }
        (OpOutput::Json, _) => println!(
            "{}",
            serde_json::json!({"event": "outcome", "outcome": word, "detail": text})
        ),
        (OpOutput::Text, Outcome::Done(_) | Outcome::Nothing(_)) => println!("{word}: {text}"),
        (OpOutput::Text, _) => eprintln!("baton: {word}: {text}"),
    }
}

/// `baton op incident`: the database's summary to the incident webhook.
async fn incident(
    exec: &KubeExecutor,
    config: &Config,
    settings: &Settings,
    dry_run: bool,
) -> Exit {
    use super::incident::{self, Refused};
    if let Err(e) = incident::allowed(settings) {
        eprintln!("baton: {e}");
        return Exit::Refused;
    }
    let text = match incident::summary(exec, config).await {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Failed;
        }
    };
    print!("{text}");
    if dry_run {
        println!("nothing: dry run: nothing was posted");
        return Exit::Ok;
    }
    match incident::post(
        exec,
        settings,
        &exec.orchestra,
        &text,
        Audit::default_path(),
    )
    .await
    {
        Ok(()) => {
            println!("done: incident posted");
            Exit::Ok
        }
        Err(e @ Refused::Role(_)) => {
            eprintln!("baton: {e}");
            Exit::Refused
        }
        Err(e @ Refused::NoWebhook(_)) => {
            eprintln!("baton: {e}");
            Exit::Usage
        }
        Err(e @ Refused::Failed(_)) => {
            eprintln!("baton: {e}");
            Exit::Failed
        }
    }
}
