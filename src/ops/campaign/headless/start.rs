//! `baton campaign start` and `resume`: the two ways a coordinator comes to run here. `start`
//! plans, asks for the campaign's name and its number of databases to be typed, takes the
//! campaign Lease on the home orchestra, creates the ConfigMaps (a name already used is
//! refused) and coordinates. `resume` reads the campaign back from the orchestras, un-pauses
//! a live coordinator, or takes a stale one over (typed confirmation) at the Lease's version,
//! so of two racing exactly one coordinates, and goes on from the recorded state.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::super::coordinator::{Coordinator, Say};
use super::super::launch::Env;
use super::super::lock::{self, Lock, LockError};
use super::super::plan::Excluded;
use super::super::run::DbState;
use super::super::state::{self, Control, Definition, Entry, Phase, SaveError, Stored};
use super::{Planned, open_fleet, plan_of, print_plan};
use crate::Exit;
use crate::cli::GlobalArgs;
use crate::cli::campaign::{CampaignPlanArgs, CampaignResumeArgs, CampaignStartArgs};
use crate::config::Config;
use crate::fleet::DbKey;
use crate::ops::audit::Audit;
use crate::ops::connect;
use crate::ops::record;
use crate::source::now_ms;

fn fail(code: Exit, m: impl std::fmt::Display) -> Exit {
    eprintln!("baton: {m}");
    code
}

fn env(global: &GlobalArgs, config: &Config, holder: &str, campaign: &str) -> Arc<Env> {
    Arc::new(Env {
        kubeconfig: global.kubeconfig.clone(),
        config: Arc::new(config.clone()),
        holder: holder.to_string(),
        read_only: global.read_only,
        campaign: campaign.to_string(),
    })
}

/// Each orchestra's kube client, or the first that cannot be reached.
pub(super) async fn clients(
    global: &GlobalArgs,
    config: &Config,
    orchestras: &BTreeSet<String>,
    read_only: bool,
) -> Result<BTreeMap<String, kube::Client>, (Exit, String)> {
    let mut out = BTreeMap::new();
    for o in orchestras {
        let (c, _) = connect::client_of(global.kubeconfig.as_deref(), config, o, read_only).await?;
        out.insert(o.clone(), c);
    }
    Ok(out)
}

fn audit(holder: &str, name: &str, verb: &str, result: &str) {
    Audit::new(
        Audit::default_path(),
        holder,
        "campaign",
        &format!("campaign {name}"),
        "",
    )
    .record(verb, &format!("campaign/{name}"), result);
}

pub async fn start(global: &GlobalArgs, config: &Config, a: CampaignStartArgs) -> Exit {
    if connect::read_only(global.read_only, config) {
        return fail(
            Exit::Refused,
            "refused (read-only): baton runs read-only (--read-only or the config); no campaign can start",
        );
    }
    let p = match plan_of(global, config, &a.plan).await {
        Ok(p) => p,
        Err((code, e)) => return fail(code, e),
    };
    let n = p.plan.planned();
    print_plan(&p, a.plan.output, "nothing was sent yet");
    if !p.missing.is_empty() {
        let names: Vec<&str> = p.missing.iter().map(|(o, _)| o.as_str()).collect();
        return fail(
            Exit::Failed,
            format!(
                "not started: orchestra(s) {} are not all known; a campaign starts over a fleet it sees whole",
                names.join(", ")
            ),
        );
    }
    if n == 0 {
        println!("nothing: no database to run the campaign on");
        return Exit::Ok;
    }
    if !a.yes {
        let name = &p.spec.name;
        let expected = format!("{name} {n}");
        let q = format!(
            "Start campaign {name}: {} on {n} database(s)? Type its name and the number of databases ({expected}) to go on: ",
            p.spec.operation.as_str()
        );
        match crate::ops::headless::confirm(&q, &expected).await {
            Ok(true) => {}
            Ok(false) => {
                println!("nothing: not confirmed; nothing was sent");
                return Exit::Ok;
            }
            Err(m) => return fail(Exit::Usage, m),
        }
    }
    match begin(global, config, p, Say::Out(a.plan.output)).await {
        Ok(c) => c.run().await,
        Err((code, m)) => fail(code, m),
    }
}

/// The dashboard's start of a campaign it planned and had confirmed: planned again over a
/// listing of its own (the engine the coordinator goes on with), it starts only when the plan
/// is still the one confirmed (the same databases), else nothing is sent. Lines go to `say`;
/// Ok: the coordinator's exit code when it stopped.
pub async fn start_confirmed(
    global: &GlobalArgs,
    config: &Config,
    a: &CampaignPlanArgs,
    confirmed: &BTreeSet<DbKey>,
    say: Say,
) -> Result<Exit, String> {
    if connect::read_only(global.read_only, config) {
        return Err("refused (read-only): no campaign can start".into());
    }
    let p = plan_of(global, config, a).await.map_err(|(_, m)| m)?;
    if !p.missing.is_empty() {
        let names: Vec<String> = p
            .missing
            .iter()
            .map(|(o, why)| format!("{o} ({why})"))
            .collect();
        return Err(format!(
            "not started: orchestra(s) {} are not all known; a campaign starts over a fleet it sees whole",
            names.join(", ")
        ));
    }
    let now: BTreeSet<DbKey> = p
        .plan
        .waves
        .iter()
        .flat_map(|w| w.databases.iter().cloned())
        .collect();
    if now != *confirmed {
        return Err(format!(
            "not started: the plan changed since it was confirmed ({} database(s) then, {} now, {} different); plan it again",
            confirmed.len(),
            now.len(),
            now.symmetric_difference(confirmed).count()
        ));
    }
    let c = begin(global, config, p, say).await.map_err(|(_, m)| m)?;
    Ok(c.run().await)
}

/// Records a confirmed plan in its orchestras (a name already used is refused), takes the
/// campaign Lease on the home orchestra and hands back the coordinator, ready to run.
async fn begin(
    global: &GlobalArgs,
    config: &Config,
    p: Planned,
    say: Say,
) -> Result<Coordinator, (Exit, String)> {
    let name = p.spec.name.clone();
    let n = p.plan.planned();
    let holder = record::holder_identity();
    let now = now_ms();
    let waves: Vec<Vec<Entry>> = p
        .plan
        .waves
        .iter()
        .map(|w| w.databases.iter().map(Entry::of).collect())
        .collect();
    let home = waves
        .first()
        .and_then(|w| w.first())
        .map(|e| e.orchestra.clone())
        .unwrap_or_default();
    // Already at the goal: done without a restart.
    let mut states: BTreeMap<DbKey, DbState> = waves
        .iter()
        .flatten()
        .map(|e| (e.key(), DbState::Pending))
        .collect();
    for (k, why) in &p.plan.excluded {
        if matches!(why, Excluded::AtGoal(_)) && !p.missing.iter().any(|(o, _)| *o == k.orchestra) {
            states.insert(
                k.clone(),
                DbState::Done {
                    ended_ms: now,
                    at_goal: true,
                },
            );
        }
    }
    let orchestras: BTreeSet<String> = states.keys().map(|k| k.orchestra.clone()).collect();
    let clients = match clients(global, config, &orchestras, false).await {
        Ok(c) => c,
        Err(e) => return Err(e),
    };
    let ns = config.operations.namespace.clone();
    let Some(home_client) = clients.get(&home) else {
        return Err((
            Exit::Failed,
            format!("no client of the home orchestra {home}"),
        ));
    };
    match state::load(home_client, &ns, &name).await {
        Ok(None) => {}
        Ok(Some(s)) => {
            return Err((
                Exit::Usage,
                format!(
                    "a campaign named {name} exists already ({}, started by {}): `baton campaign status {name}`; choose another name",
                    s.control.phase.word(),
                    s.definition.created_by
                ),
            ));
        }
        Err(e) => return Err((Exit::Failed, e.to_string())),
    }
    let lock = match Lock::take(home_client, &ns, &name, &holder, false, now).await {
        Ok(l) => l,
        Err(e) => return Err((Exit::Refused, format!("not started: {e}"))),
    };
    let def = Definition {
        spec: p.spec.clone(),
        waves,
        created_ms: now,
        created_by: holder.clone(),
        home: home.clone(),
    };
    let control = Control::new(Phase::Running, &holder, "started", now);
    let mut held = BTreeMap::new();
    for (o, client) in clients {
        let mine: BTreeMap<Entry, DbState> = states
            .iter()
            .filter(|(k, _)| k.orchestra == o)
            .map(|(k, s)| (Entry::of(k), s.clone()))
            .collect();
        match state::save(&client, &ns, &def, &control, &mine, None).await {
            Ok(rv) => {
                held.insert(o, (client, Some(rv)));
            }
            Err(e) => {
                let why = match e {
                    SaveError::Conflict(_) => format!(
                        "orchestra {o} holds a campaign named {name} already: choose another --name"
                    ),
                    SaveError::Failed(m) => format!("cannot record the campaign on {o}: {m}"),
                };
                let _ = lock.release(now_ms()).await;
                return Err((Exit::Failed, format!("not started: {why}")));
            }
        }
    }
    let text = format!(
        "campaign {name} started by {holder}: {} on {n} database(s) in {} wave(s), at most {} at once and {} per orchestra",
        p.spec.operation.as_str(),
        def.waves.len(),
        p.spec.max_parallel,
        p.spec.max_per_orchestra
    );
    audit(&holder, &name, "start", &text);
    if let Some(url) =
        crate::ops::audit::webhook_from_env(config.operations.webhook_url_env.as_deref())
    {
        let t = text.clone();
        tokio::spawn(async move {
            let _ = crate::ops::audit::post_webhook(&url, &t, serde_json::json!({})).await;
        });
    }
    say.line(&text);
    Ok(Coordinator::new(
        env(global, config, &holder, &name),
        def,
        ns,
        control,
        states,
        lock,
        p.engine,
        say,
        held,
    ))
}

/// The campaign `name` as each orchestra holds it; orchestras that hold none are left out, and
/// those that cannot be read are named in the error.
pub(super) async fn find(
    global: &GlobalArgs,
    config: &Config,
    name: &str,
) -> Result<BTreeMap<String, (kube::Client, Stored)>, (Exit, String)> {
    let targets = crate::source::targets(global.kubeconfig.as_deref(), &global.contexts, config)
        .await
        .map_err(|e| (Exit::Usage, e.to_string()))?;
    let ns = &config.operations.namespace;
    let mut out = BTreeMap::new();
    let mut unread = Vec::new();
    for t in targets {
        if !matches!(t.origin, crate::source::targets::Origin::Kube(_)) {
            continue;
        }
        let client =
            match connect::client_of(global.kubeconfig.as_deref(), config, &t.name, false).await {
                Ok((c, _)) => c,
                Err((_, m)) => {
                    unread.push(format!("{}: {m}", t.name));
                    continue;
                }
            };
        match state::load(&client, ns, name).await {
            Ok(Some(s)) => {
                out.insert(t.name.clone(), (client, s));
            }
            Ok(None) => {}
            Err(e) => unread.push(format!("{}: {e}", t.name)),
        }
    }
    if out.is_empty() {
        return Err((
            Exit::Usage,
            format!(
                "no campaign {name} in namespace {ns} of any orchestra{}",
                if unread.is_empty() {
                    String::new()
                } else {
                    format!(" (not read: {})", unread.join("; "))
                }
            ),
        ));
    }
    // Every orchestra the campaign names must be read: without one, a database could run twice.
    let named: BTreeSet<String> = out
        .values()
        .flat_map(|(_, s)| {
            s.definition
                .waves
                .iter()
                .flatten()
                .map(|e| e.orchestra.clone())
        })
        .collect();
    let lacking: Vec<&String> = named.iter().filter(|o| !out.contains_key(*o)).collect();
    if !lacking.is_empty() {
        return Err((
            Exit::Failed,
            format!(
                "campaign {name}'s records on {} cannot be read{}: going on without them could run a database twice or skip one",
                lacking
                    .iter()
                    .map(|o| o.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if unread.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", unread.join("; "))
                }
            ),
        ));
    }
    Ok(out)
}

pub async fn resume(global: &GlobalArgs, config: &Config, a: CampaignResumeArgs) -> Exit {
    let say = Say::Out(a.output);
    match resume_with(global, config, a, say).await {
        Ok(code) => code,
        Err((code, m)) => fail(code, m),
    }
}

/// `resume` with its lines on `say`; with `a.yes` nothing is asked (the dashboard asked). Ok:
/// the exit code (the coordinator's, when it coordinated here); Err: what stopped it.
pub async fn resume_with(
    global: &GlobalArgs,
    config: &Config,
    a: CampaignResumeArgs,
    say: Say,
) -> Result<Exit, (Exit, String)> {
    if connect::read_only(global.read_only, config) {
        return Err((
            Exit::Refused,
            "refused (read-only): no campaign can be resumed".to_string(),
        ));
    }
    let found = match find(global, config, &a.name).await {
        Ok(f) => f,
        Err(e) => return Err(e),
    };
    let ns = config.operations.namespace.clone();
    let Some((_, any)) = found.values().next() else {
        return Err((Exit::Usage, format!("no campaign {}", a.name)));
    };
    let def = any.definition.clone();
    let Some((home_client, home)) = found.get(&def.home).cloned() else {
        return Err((
            Exit::Failed,
            format!(
                "the home orchestra {} of campaign {} holds no record",
                def.home, a.name
            ),
        ));
    };
    match home.control.phase {
        Phase::Finished => {
            say.line(&format!("nothing: campaign {} finished", a.name));
            return Ok(Exit::Ok);
        }
        Phase::Cancelled => {
            return Err((
                Exit::Usage,
                format!(
                    "campaign {} was cancelled by {}; a cancelled campaign does not resume (start a new one)",
                    a.name, home.control.by
                ),
            ));
        }
        _ => {}
    }
    let holder = record::holder_identity();
    let now = now_ms();
    let current = match lock::look(&home_client, &ns, &a.name).await {
        Ok(h) => h,
        Err(e) => return Err((Exit::Failed, (e).to_string())),
    };
    // A live coordinator: un-pause it, or say who coordinates.
    if let Some(h) = current
        .as_ref()
        .filter(|h| h.live(now) && h.holder != holder)
    {
        if !home.control.phase.stopped() {
            return Err((
                Exit::Refused,
                format!(
                    "campaign {} runs: it is coordinated by {} (renewed {} s ago)",
                    a.name,
                    h.holder,
                    h.age_s(now)
                ),
            ));
        }
        let control = Control::new(Phase::Running, &holder, "resumed", now);
        let mine: BTreeMap<Entry, DbState> = home.states.clone();
        return match state::save(
            &home_client,
            &ns,
            &def,
            &control,
            &mine,
            Some(&home.resource_version),
        )
        .await
        {
            Ok(_) => {
                audit(
                    &holder,
                    &a.name,
                    "resume",
                    &format!("un-paused; coordinated by {}", h.holder),
                );
                say.line(&format!(
                    "done: campaign {} goes on, coordinated by {}",
                    a.name, h.holder
                ));
                Ok(Exit::Ok)
            }
            Err(e) => Err((
                Exit::Failed,
                format!(
                    "not resumed: {e:?}; read it again with `baton campaign status {}`",
                    a.name
                ),
            )),
        };
    }
    let stale = current
        .as_ref()
        .filter(|h| !h.holder.is_empty() && h.holder != holder);
    if let Some(h) = stale
        && !a.yes
    {
        let q = format!(
            "Campaign {}'s coordinator {} stopped renewing its Lease {} s ago. Take it over and coordinate here? Type the campaign's name ({}) to go on: ",
            a.name,
            h.holder,
            h.age_s(now),
            a.name
        );
        match crate::ops::headless::confirm(&q, &a.name).await {
            Ok(true) => {}
            Ok(false) => {
                say.line("nothing: not confirmed; nothing was sent");
                return Ok(Exit::Ok);
            }
            Err(m) => return Err((Exit::Usage, (m).to_string())),
        }
    }
    let lock = match Lock::take(&home_client, &ns, &a.name, &holder, true, now).await {
        Ok(l) => l,
        Err(e @ (LockError::Held(_) | LockError::Stale(_))) => {
            return Err((Exit::Refused, format!("not resumed: {e}")));
        }
        Err(e) => return Err((Exit::Failed, format!("not resumed: {e}"))),
    };
    let from = stale.map_or("none".to_string(), |h| h.holder.clone());
    audit(
        &holder,
        &a.name,
        "take-over",
        &format!("coordinator was {from}"),
    );
    let (engine, _, _) = match open_fleet(global, config, a.timeout).await {
        Ok(e) => e,
        Err(m) => {
            let _ = lock.release(now_ms()).await;
            return Err((Exit::Usage, (m).to_string()));
        }
    };
    let mut states: BTreeMap<DbKey, DbState> = def
        .waves
        .iter()
        .flatten()
        .map(|e| (e.key(), DbState::Pending))
        .collect();
    for (_, s) in found.values() {
        for (e, st) in &s.states {
            states.insert(e.key(), st.clone());
        }
    }
    // After a human looked: what failed runs again from its preflight (an operation still
    // interrupted there is refused by its lock and recorded so).
    for (k, s) in states.iter_mut() {
        if let DbState::Failed { why } = s {
            say.line(&format!("retry    {}: it failed before: {why}", k.id()));
            *s = DbState::Pending;
        }
    }
    let control = Control::new(
        Phase::Running,
        &holder,
        &format!("resumed (coordinator was {from})"),
        now_ms(),
    );
    say.line(&format!(
        "campaign {} resumed by {holder} (coordinator was {from})",
        a.name
    ));
    let held = found
        .into_iter()
        .map(|(o, (c, s))| (o, (c, Some(s.resource_version))))
        .collect();
    let c = Coordinator::new(
        env(global, config, &holder, &a.name),
        def,
        ns,
        control,
        states,
        lock,
        engine,
        say,
        held,
    );
    Ok(c.run().await)
}
