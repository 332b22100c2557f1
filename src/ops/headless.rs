//! `baton op …`: the operations engine without the dashboard. Finds the database (orchestra,
//! namespace, profile), builds its `KubeExecutor`, prepares the operation, prints the checks and
//! the plan, asks for confirmation (the database id typed for database-wide and destructive
//! ones; `--yes` skips it, no terminal without `--yes` is a usage error), runs it with progress
//! lines or JSON events on stdout, and maps the outcome to the exit codes of DESIGN.md. SIGINT or
//! SIGTERM cancels: the current action finishes and the database settles first.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::sync::{mpsc, watch};

use super::audit::{self, Audit};
use super::catalog;
use super::executor::Executor;
use super::kube::{KubeExecutor, MANAGED_BY, lease_obs};
use super::record::{self, Lock};
use super::runner::{self, OpEvent, Outcome, Request, Runner, Settings};
use crate::Exit;
use crate::cli::{GlobalArgs, OpCommand, OpOutput, OpResumeArgs, OpStatusArgs, OpTarget};
use crate::config::{Config, OperationName};
use crate::probe::credentials::Resolver;
use crate::source::now_ms;
use crate::source::targets::Origin;

/// Runs `baton op <command>`; returns the process exit code.
pub async fn run(global: &GlobalArgs, config: &Config, command: OpCommand) -> Exit {
    let (op, args) = match command {
        OpCommand::List => {
            print!("{}", catalog::list_text());
            return Exit::Ok;
        }
        OpCommand::Status(a) => return status(global, config, a).await,
        OpCommand::Resume(a) => return resume(global, config, a).await,
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
    };
    let mut params = BTreeMap::new();
    for kv in &args.set {
        match kv.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                params.insert(k.trim().to_string(), v.to_string());
            }
            _ => {
                eprintln!("baton: --set '{kv}' is not KEY=VALUE");
                return Exit::Usage;
            }
        }
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
    let settings = settings(global, config, args.take_over);
    // Read-only refuses before anything is even read.
    if settings.read_only {
        eprintln!(
            "baton: refused (read-only): baton runs read-only (--read-only or the config); no operation can run"
        );
        return Exit::Refused;
    }
    let exec = match executor(global, config, &args.target).await {
        Ok(e) => e,
        Err((code, m)) => {
            eprintln!("baton: {m}");
            return code;
        }
    };
    if op == OperationName::Incident {
        return incident(&exec, config, &settings, args.dry_run).await;
    }
    let req = Request {
        member: args.member.clone(),
        expect_leader: args.expect_leader.clone(),
        params,
    };
    drive(
        &exec,
        settings,
        args.output,
        Drive::Start(op, req),
        args.dry_run,
        args.yes,
    )
    .await
}

enum Drive {
    Start(OperationName, Request),
    Resume,
}

fn settings(global: &GlobalArgs, config: &Config, take_over: bool) -> Settings {
    let role = config.general.role.clone();
    let read_only = global.read_only || config.general.read_only || role == "observer";
    Settings {
        lag_gate: config.operations.lag_gate,
        step_timeout: Duration::from_secs(config.operations.step_timeout),
        // A restart takes seconds; looking 5×/s keeps the wait between members short.
        poll: Duration::from_millis(200),
        artifacts: config.operations.artifacts.clone(),
        read_only,
        allowed: config.role_operations(&role).unwrap_or_default(),
        role,
        take_over,
        webhook_env: config.operations.webhook_url_env.clone(),
        incident_webhook_env: config.operations.incident_webhook_env.clone(),
    }
}

async fn resume(global: &GlobalArgs, config: &Config, args: OpResumeArgs) -> Exit {
    let settings = settings(global, config, args.take_over);
    if settings.read_only {
        eprintln!("baton: refused (read-only): baton runs read-only; no operation can run");
        return Exit::Refused;
    }
    let exec = match executor(global, config, &args.target).await {
        Ok(e) => e,
        Err((code, m)) => {
            eprintln!("baton: {m}");
            return code;
        }
    };
    drive(&exec, settings, args.output, Drive::Resume, false, args.yes).await
}

/// The kube client of one orchestra, or (exit code, message).
async fn client_of(
    global: &GlobalArgs,
    config: &Config,
    orchestra: &str,
) -> Result<(kube::Client, String), (Exit, String)> {
    let targets = crate::source::targets::kube_targets(
        global.kubeconfig.as_deref(),
        &[orchestra.to_string()],
        config,
    )
    .await
    .map_err(|e| (Exit::Usage, e.to_string()))?;
    let Some(Origin::Kube(cfg)) = targets.into_iter().next().map(|t| t.origin) else {
        return Err((
            Exit::Usage,
            format!("no Kubernetes orchestra '{orchestra}' (operations need one)"),
        ));
    };
    let identity = identity_of(global, orchestra);
    let mut cfg = *cfg;
    cfg.connect_timeout = Some(Duration::from_secs(5));
    cfg.read_timeout = Some(Duration::from_secs(15));
    let client = kube::Client::try_from(cfg).map_err(|e| {
        (
            Exit::Failed,
            format!("orchestra '{orchestra}': {}", crate::probe::kube_reason(&e)),
        )
    })?;
    Ok((client, identity))
}

/// `context NAME user USER` from the kubeconfig, for the audit.
fn identity_of(global: &GlobalArgs, context: &str) -> String {
    let kc = match &global.kubeconfig {
        Some(p) => kube::config::Kubeconfig::read_from(p).ok(),
        None => kube::config::Kubeconfig::read().ok(),
    };
    let user = kc
        .and_then(|kc| kc.contexts.into_iter().find(|c| c.name == context))
        .and_then(|c| c.context)
        .and_then(|c| c.user)
        .unwrap_or_else(|| "?".into());
    format!("context {context} user {user}")
}

async fn executor(
    global: &GlobalArgs,
    config: &Config,
    t: &OpTarget,
) -> Result<KubeExecutor, (Exit, String)> {
    let (client, identity) = client_of(global, config, &t.orchestra).await?;
    // Which profile and namespace: the pods carrying the database's name in a grouping label.
    let pods: Api<Pod> = match &t.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let mut found: Vec<(String, String)> = Vec::new();
    for (name, profile) in crate::source::profiles::discovered(config) {
        let list = pods
            .list_metadata(
                &ListParams::default()
                    .labels(&format!("{}={}", profile.grouping_label, t.database)),
            )
            .await
            .map_err(|e| match &e {
                kube::Error::Api(s) if s.code == 401 || s.code == 403 => (
                    Exit::Refused,
                    format!(
                        "orchestra '{}': cannot list pods: {}",
                        t.orchestra, s.message
                    ),
                ),
                _ => (
                    Exit::Failed,
                    format!(
                        "orchestra '{}': {}",
                        t.orchestra,
                        crate::probe::kube_reason(&e)
                    ),
                ),
            })?;
        // A stopped database has StatefulSets and no pods.
        let sets: Api<StatefulSet> = match &t.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        };
        let sts = sets
            .list_metadata(
                &ListParams::default()
                    .labels(&format!("{}={}", profile.grouping_label, t.database)),
            )
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        for meta in list
            .items
            .into_iter()
            .map(|p| p.metadata)
            .chain(sts.into_iter().map(|s| s.metadata))
        {
            let ns = meta.namespace.unwrap_or_default();
            if !found.iter().any(|(n, q)| n == &ns && q == &name) {
                found.push((ns, name.clone()));
            }
        }
    }
    let (namespace, profile_name) = match found.as_slice() {
        [] => {
            return Err((
                Exit::Usage,
                format!(
                    "no database '{}' on orchestra '{}'{} (no pods carry its name in a profile's grouping label)",
                    t.database,
                    t.orchestra,
                    t.namespace
                        .as_deref()
                        .map(|n| format!(" in namespace '{n}'"))
                        .unwrap_or_default()
                ),
            ));
        }
        [one] => one.clone(),
        many => {
            let where_: Vec<String> = many.iter().map(|(n, p)| format!("{n} ({p})")).collect();
            return Err((
                Exit::Usage,
                format!(
                    "database '{}' is in several namespaces: {}; say which with -n",
                    t.database,
                    where_.join(", ")
                ),
            ));
        }
    };
    let profile = config
        .profile(&profile_name)
        .ok_or_else(|| (Exit::Usage, format!("no profile '{profile_name}'")))?;
    let transport = config
        .orchestras
        .get(&t.orchestra)
        .map(|o| o.transport)
        .unwrap_or_default();
    let read_only =
        global.read_only || config.general.read_only || config.general.role == "observer";
    Ok(KubeExecutor {
        resolver: Arc::new(Resolver::new(Some(client.clone()))),
        client,
        orchestra: t.orchestra.clone(),
        namespace,
        database: t.database.clone(),
        job_image: config.operations.job_image.get(&profile_name).cloned(),
        profile,
        transport,
        identity,
        read_only,
        http: crate::probe::http_client(Duration::from_secs(3)),
        probe_timeout: Duration::from_secs(3),
    })
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
    if dry_run {
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
    // SIGINT / SIGTERM: finish the current action, settle, record the cancel.
    let (cancel_tx, cancel_rx) = watch::channel(false);
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
        let _ = cancel_tx.send(true);
        eprintln!("baton: cancelling: the current action finishes and the database settles first");
        std::future::pending::<()>().await;
    });
    let outcome = runner.run(prepared, cancel_rx).await;
    signals.abort();
    drop(runner);
    finish(outcome, tx, printing).await
}

/// Asks on the terminal; Err when there is none.
async fn confirm(question: &str, expected: &str) -> Result<bool, String> {
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
    if !settings.allowed.contains(&OperationName::Incident) {
        eprintln!(
            "baton: refused (permission): role '{}' may not run incident",
            settings.role
        );
        return Exit::Refused;
    }
    let obs = match exec.observe().await {
        Ok(o) => o,
        Err(e) => {
            eprintln!("baton: cannot observe {}: {e}", exec.database_id());
            return Exit::Failed;
        }
    };
    let text = runner::incident_text(&exec.database_id(), &obs, config.operations.lag_gate, &[]);
    print!("{text}");
    if dry_run {
        println!("nothing: dry run: nothing was posted");
        return Exit::Ok;
    }
    let var = settings
        .incident_webhook_env
        .as_deref()
        .or(settings.webhook_env.as_deref());
    let Some(url) = audit::webhook_from_env(var) else {
        eprintln!(
            "baton: no incident webhook: set operations.incident_webhook_env (or webhook_url_env) in the config to the name of an environment variable holding the URL{}",
            var.map(|v| format!(", and export {v}")).unwrap_or_default()
        );
        return Exit::Usage;
    };
    let holder = record::holder_identity();
    let audit = Audit::new(
        Audit::default_path(),
        &holder,
        &exec.identity(),
        "incident",
        &exec.database_id(),
    );
    let fields = serde_json::json!({"caller": holder, "operation": "incident", "database": exec.database_id(), "orchestra": exec.orchestra});
    match audit::post_webhook(&url, &text, fields).await {
        Ok(()) => {
            audit.record("post", "incident webhook", "ok");
            println!("done: incident posted");
            Exit::Ok
        }
        Err(e) => {
            audit.record("post", "incident webhook", &e);
            eprintln!("baton: failed: {e}");
            Exit::Failed
        }
    }
}

/// `baton op status`: the `baton-op-*` Leases of every orchestra (or one).
async fn status(global: &GlobalArgs, config: &Config, args: OpStatusArgs) -> Exit {
    let targets = match crate::source::targets::kube_targets(
        global.kubeconfig.as_deref(),
        &args.orchestra.iter().cloned().collect::<Vec<_>>(),
        config,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    let now = now_ms();
    let rows = futures::future::join_all(targets.into_iter().map(|t| async move {
        let name = t.name.clone();
        let Origin::Kube(cfg) = t.origin else {
            return Ok(Vec::new());
        };
        let mut cfg = *cfg;
        cfg.connect_timeout = Some(Duration::from_secs(5));
        cfg.read_timeout = Some(Duration::from_secs(10));
        let client = kube::Client::try_from(cfg)
            .map_err(|e| (name.clone(), crate::probe::kube_reason(&e)))?;
        let api: Api<Lease> = Api::all(client);
        let list = api
            .list(&ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)))
            .await
            .map_err(|e| (name.clone(), crate::probe::kube_reason(&e)))?;
        Ok::<_, (String, String)>(
            list.items
                .iter()
                .filter(|l| {
                    l.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("baton-op-"))
                })
                .map(|l| {
                    let db = l
                        .metadata
                        .name
                        .as_deref()
                        .and_then(|n| n.strip_prefix("baton-op-"))
                        .unwrap_or("")
                        .to_string();
                    (
                        name.clone(),
                        l.metadata.namespace.clone().unwrap_or_default(),
                        db,
                        lease_obs(l),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }))
    .await;
    let mut failed = false;
    let mut out = Vec::new();
    for r in rows {
        match r {
            Ok(v) => out.extend(v),
            Err((o, e)) => {
                failed = true;
                eprintln!("baton: orchestra '{o}': {e}");
            }
        }
    }
    let json_rows: Vec<serde_json::Value> = out
        .iter()
        .map(|(o, ns, db, l)| {
            let lock = record::classify(Some(l), now);
            let rec = l.record.as_ref().and_then(|r| r.as_ref().ok());
            let state = match (&lock, rec) {
                (Lock::Stale { .. }, Some(r)) if !r.state.finished() => {
                    format!("{} (stale)", r.state.word())
                }
                (_, Some(r)) => r.state.word().to_string(),
                _ => "?".into(),
            };
            serde_json::json!({
                "orchestra": o,
                "namespace": ns,
                "database": db,
                "operation": rec.map(|r| r.operation.as_str()),
                "state": state,
                "step": rec.map(|r| r.step),
                "detail": rec.map(|r| r.detail.clone()),
                "holder": l.holder,
                "age_s": rec.map(|r| now.saturating_sub(r.started_ms) / 1000),
                "renewed_s_ago": l.renew_ms.map(|r| now.saturating_sub(r) / 1000),
            })
        })
        .collect();
    match args.output {
        OpOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_rows).unwrap_or_default()
        ),
        OpOutput::Text => {
            if json_rows.is_empty() {
                println!("no operations recorded");
            } else {
                println!(
                    "{:<20} {:<28} {:<16} {:<16} {:<5} {:<28} {:>6}  DETAIL",
                    "ORCHESTRA", "DATABASE", "OPERATION", "STATE", "STEP", "HOLDER", "AGE"
                );
                for r in &json_rows {
                    println!(
                        "{:<20} {:<28} {:<16} {:<16} {:<5} {:<28} {:>5}s  {}",
                        r["orchestra"].as_str().unwrap_or(""),
                        format!(
                            "{}/{}",
                            r["namespace"].as_str().unwrap_or(""),
                            r["database"].as_str().unwrap_or("")
                        ),
                        r["operation"].as_str().unwrap_or("?"),
                        r["state"].as_str().unwrap_or("?"),
                        r["step"].as_u64().map_or("-".into(), |s| s.to_string()),
                        r["holder"].as_str().unwrap_or(""),
                        r["age_s"].as_u64().unwrap_or(0),
                        r["detail"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    if failed { Exit::Failed } else { Exit::Ok }
}
