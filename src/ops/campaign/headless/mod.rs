//! `baton campaign …` without the dashboard. `plan`: the fleet as the engine lists it (every
//! orchestra's pods, StatefulSets and operation Leases), the campaign checked and planned,
//! printed as text or JSON; nothing is sent but reads. `start` and `resume` (`start`) coordinate here;
//! `status`, `pause` and `cancel` (`status`) read and write the campaign's records.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::plan::{self, Plan};
use super::spec::{self, OnRefusal, Spec};
use crate::Exit;
use crate::cli::campaign::{CampaignCommand, CampaignPlanArgs, OnRefusalArg};
use crate::cli::{GlobalArgs, OpOutput};
use crate::config::{Config, OperationName};
use crate::fleet::{Connection, Fleet, Orchestra};
use crate::source::targets::Origin;
use crate::source::{Engine, Intervals, now_ms};

mod plan_text;
mod start;
mod status;

pub use plan_text::text as plan_text;
pub use start::{resume_with, start_confirmed};
pub use status::write_control;

/// Runs `baton campaign <command>`; returns the process exit code.
pub async fn run(global: &GlobalArgs, config: &Config, command: CampaignCommand) -> Exit {
    match command {
        CampaignCommand::Plan(a) => plan_command(global, config, a).await,
        CampaignCommand::Start(a) => start::start(global, config, a).await,
        CampaignCommand::Status(a) => status::status(global, config, a).await,
        CampaignCommand::Pause(a) => {
            status::control(global, config, a, super::state::Phase::Paused).await
        }
        CampaignCommand::Cancel(a) => {
            status::control(global, config, a, super::state::Phase::Cancelled).await
        }
        CampaignCommand::Resume(a) => start::resume(global, config, a).await,
    }
}

/// The campaign the command line asks for, or what is wrong with it (naming the flag).
pub fn spec_of(a: &CampaignPlanArgs, now_ms: u64) -> Result<Spec, String> {
    let operation = OperationName::from_name(&a.operation).ok_or_else(|| {
        let ok: Vec<&str> = OperationName::ALL
            .into_iter()
            .filter(|o| spec::campaignable(*o))
            .map(OperationName::as_str)
            .collect();
        format!(
            "unknown operation '{}': a campaign runs one of {}",
            a.operation,
            ok.join(", ")
        )
    })?;
    let params = crate::fleet::catalog::parse_sets(&a.set)?;
    let name = a.name.clone().unwrap_or_else(|| {
        let t = chrono::DateTime::from_timestamp_millis(i64::try_from(now_ms).unwrap_or(0))
            .map(|t| t.format("%Y%m%d-%H%M").to_string())
            .unwrap_or_default();
        format!("{}-{t}", operation.as_str())
    });
    Ok(Spec {
        name,
        operation,
        params,
        select: a.select.clone(),
        canary: spec::parse_canary(&a.canary),
        soak: spec::parse_duration(&a.soak).map_err(|e| format!("--soak: {e}"))?,
        waves: spec::parse_waves(&a.waves)?,
        max_parallel: a.max_parallel,
        max_per_orchestra: a.max_per_orchestra,
        on_refusal: match a.on_refusal {
            OnRefusalArg::Skip => OnRefusal::Skip,
            OnRefusalArg::Halt => OnRefusal::Halt,
        },
    })
}

/// The fleet as the engine lists it, once every orchestra answered and, where it is live on
/// Kubernetes, its StatefulSets (a stopped database is known) and Leases (an operation in
/// flight there is known) were listed, or `timeout` passed; with the Kubernetes orchestras'
/// names and how long it took. The engine goes on watching.
async fn open_fleet(
    global: &GlobalArgs,
    config: &Config,
    timeout: u64,
) -> Result<(Engine, BTreeSet<String>, Duration), String> {
    let targets = crate::source::targets(global.kubeconfig.as_deref(), &global.contexts, config)
        .await
        .map_err(|e| e.to_string())?;
    let kube: BTreeSet<String> = targets
        .iter()
        .filter(|t| matches!(t.origin, Origin::Kube(_)))
        .map(|t| t.name.clone())
        .collect();
    let started = Instant::now();
    let mut engine = Engine::start(targets, config, Intervals::default());
    let profiles = watched_profiles(config);
    // Whether it came in time or not, `missing` says which orchestras are not all known.
    engine
        .until(Duration::from_secs(timeout.max(1)), |f| {
            f.orchestras.values().all(|o| match o.connection {
                Connection::Connecting => false,
                Connection::Live => not_whole(o, kube.contains(&o.name), &profiles).is_none(),
                _ => true,
            })
        })
        .await;
    Ok((engine, kube, started.elapsed()))
}

/// The campaign checked and planned over the fleet as listed; Err: (exit code, message).
struct Planned {
    spec: Spec,
    plan: Plan,
    engine: Engine,
    missing: Vec<(String, String)>,
    listed: Duration,
    planned: Duration,
}

async fn plan_of(
    global: &GlobalArgs,
    config: &Config,
    a: &CampaignPlanArgs,
) -> Result<Planned, (Exit, String)> {
    let usage = |e: String| (Exit::Usage, e);
    let spec = spec_of(a, now_ms()).map_err(usage)?;
    let selection = spec.check().map_err(usage)?;
    let (engine, kube, listed) = open_fleet(global, config, a.timeout).await.map_err(usage)?;
    let fleet = engine.fleet();
    let at = Instant::now();
    let plan = plan::plan(&spec, &selection, fleet, config, now_ms()).map_err(usage)?;
    let missing = missing(fleet, |o| kube.contains(o), &watched_profiles(config));
    Ok(Planned {
        spec,
        plan,
        missing,
        listed,
        planned: at.elapsed(),
        engine,
    })
}

async fn plan_command(global: &GlobalArgs, config: &Config, a: CampaignPlanArgs) -> Exit {
    let p = match plan_of(global, config, &a).await {
        Ok(p) => p,
        Err((code, e)) => {
            eprintln!("baton: {e}");
            return code;
        }
    };
    print_plan(&p, a.output, "nothing was sent");
    if p.missing.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

fn print_plan(p: &Planned, output: OpOutput, tail: &str) {
    match output {
        OpOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan_text::json(&p.spec, &p.plan, &p.missing))
                .unwrap_or_default()
        ),
        OpOutput::Text => print!(
            "{}",
            plan_text::text(
                &p.spec,
                &p.plan,
                &p.missing,
                Some((p.listed, p.planned)),
                tail
            )
        ),
    }
}

/// The profiles whose pods and StatefulSets every Kubernetes orchestra is watched for.
pub fn watched_profiles(config: &Config) -> Vec<String> {
    crate::source::profiles::discovered(config)
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

/// Why a live orchestra's databases or Leases are not all known yet, if they are not: its
/// Leases or one of `profiles`' StatefulSets not listed. `kube`: it is reached through
/// Kubernetes (a static inventory has neither).
fn not_whole(o: &Orchestra, kube: bool, profiles: &[String]) -> Option<String> {
    if !kube {
        return None;
    }
    if !o.leases_listed {
        return Some("its Leases were not listed in time".into());
    }
    let unlisted: Vec<&str> = profiles
        .iter()
        .filter(|p| !o.sets_listed.contains(*p))
        .map(String::as_str)
        .collect();
    (!unlisted.is_empty()).then(|| {
        format!(
            "its {} StatefulSets were not listed in time",
            unlisted.join(", ")
        )
    })
}

/// Orchestras whose databases or Leases are not all known: (name, why). `kube`: the
/// orchestras reached through Kubernetes (they have StatefulSets and Leases); `profiles`: the
/// watched profiles ([`watched_profiles`]).
pub fn missing(
    fleet: &Fleet,
    kube: impl Fn(&str) -> bool,
    profiles: &[String],
) -> Vec<(String, String)> {
    fleet
        .orchestras
        .values()
        .filter_map(|o| match &o.connection {
            Connection::Live => {
                not_whole(o, kube(&o.name), profiles).map(|why| (o.name.clone(), why))
            }
            Connection::Connecting => Some((o.name.clone(), "no answer in time".into())),
            Connection::Stale { .. } => Some((o.name.clone(), "stale".into())),
            Connection::Unreachable(why) => Some((o.name.clone(), why.clone())),
            other => Some((o.name.clone(), format!("{other:?}"))),
        })
        .collect()
}
