//! `baton campaign …` without the dashboard. `plan`: the fleet as the engine lists it (every
//! orchestra's databases and operation Leases), the campaign checked and planned, printed as
//! text or JSON; nothing is sent but reads.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::plan::{self, Plan};
use super::spec::{self, OnRefusal, Spec};
use crate::Exit;
use crate::cli::campaign::{CampaignCommand, CampaignPlanArgs, OnRefusalArg};
use crate::cli::{GlobalArgs, OpOutput};
use crate::config::{Config, OperationName};
use crate::fleet::{Connection, Fleet};
use crate::source::targets::Origin;
use crate::source::{Engine, Intervals, now_ms};

/// The first databases of a wave the text shows.
const FIRST: usize = 5;
/// Excluded databases the text lists (JSON lists all).
const EXCLUDED_SHOWN: usize = 20;

/// Runs `baton campaign <command>`; returns the process exit code.
pub async fn run(global: &GlobalArgs, config: &Config, command: CampaignCommand) -> Exit {
    match command {
        CampaignCommand::Plan(a) => plan_command(global, config, a).await,
    }
}

/// The campaign the command line asks for, or what is wrong with it (naming the flag).
fn spec_of(a: &CampaignPlanArgs, now_ms: u64) -> Result<Spec, String> {
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

async fn plan_command(global: &GlobalArgs, config: &Config, a: CampaignPlanArgs) -> Exit {
    let spec = match spec_of(&a, now_ms()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    let selection = match spec.check() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    let targets = match crate::source::targets(
        global.kubeconfig.as_deref(),
        &global.contexts,
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
    let kube: BTreeSet<String> = targets
        .iter()
        .filter(|t| matches!(t.origin, Origin::Kube(_)))
        .map(|t| t.name.clone())
        .collect();
    let started = Instant::now();
    let mut engine = Engine::start(targets, config, Intervals::default());
    // Every orchestra answered, and where it is live on Kubernetes its Leases were listed (an
    // operation in flight there is known).
    // Whether it came in time or not, `missing` says which orchestras are not all known.
    engine
        .until(Duration::from_secs(a.timeout.max(1)), |f| {
            f.orchestras.values().all(|o| match o.connection {
                Connection::Connecting => false,
                Connection::Live => o.leases_listed || !kube.contains(&o.name),
                _ => true,
            })
        })
        .await;
    let snapshot = started.elapsed();
    let fleet = engine.fleet();
    let at = Instant::now();
    let planned = match plan::plan(&spec, &selection, fleet, config, now_ms()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    let missing = missing(fleet, &kube);
    match a.output {
        OpOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json(&spec, &planned, &missing)).unwrap_or_default()
        ),
        OpOutput::Text => print!(
            "{}",
            text(&spec, &planned, &missing, snapshot, at.elapsed())
        ),
    }
    if missing.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// Orchestras whose databases or Leases are not all known: (name, why).
fn missing(fleet: &Fleet, kube: &BTreeSet<String>) -> Vec<(String, String)> {
    fleet
        .orchestras
        .values()
        .filter_map(|o| match &o.connection {
            Connection::Live if o.leases_listed || !kube.contains(&o.name) => None,
            Connection::Live => Some((o.name.clone(), "its Leases were not listed in time".into())),
            Connection::Connecting => Some((o.name.clone(), "no answer in time".into())),
            Connection::Stale { .. } => Some((o.name.clone(), "stale".into())),
            Connection::Unreachable(why) => Some((o.name.clone(), why.clone())),
            other => Some((o.name.clone(), format!("{other:?}"))),
        })
        .collect()
}

fn params_text(spec: &Spec) -> String {
    spec.params
        .iter()
        .map(|(k, v)| format!(" {k}={v}"))
        .collect()
}

/// The plan as a person reads it.
fn text(
    spec: &Spec,
    p: &Plan,
    missing: &[(String, String)],
    snapshot: Duration,
    took: Duration,
) -> String {
    let mut out = format!(
        "campaign {}: {}{} over '{}'\n",
        spec.name,
        spec.operation.as_str(),
        params_text(spec),
        spec.select
    );
    let counts: Vec<String> = p
        .excluded_counts()
        .iter()
        .map(|(w, n)| format!("{w} {n}"))
        .collect();
    out.push_str(&format!(
        "  matched {} · planned {} · excluded {}{}\n",
        p.matched,
        p.planned(),
        p.excluded.len(),
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        }
    ));
    out.push_str(&format!(
        "  at most {} at once fleet-wide, {} per orchestra; a refusal {}\n",
        spec.max_parallel,
        spec.max_per_orchestra,
        match spec.on_refusal {
            OnRefusal::Skip => "is recorded and skipped",
            OnRefusal::Halt => "halts the campaign",
        }
    ));
    if p.waves.is_empty() {
        out.push_str(
            "  nothing to run: no database matched is left once the exclusions below are out\n",
        );
    }
    for (i, w) in p.waves.iter().enumerate() {
        let per = w.per_orchestra();
        let first: Vec<String> = w.databases.iter().take(FIRST).map(|k| k.id()).collect();
        out.push_str(&format!(
            "  {:<8} {:>5} database(s) on {} orchestra(s), {} round(s){}: {}{}\n",
            w.name,
            w.databases.len(),
            per.len(),
            w.rounds(spec.max_parallel, spec.max_per_orchestra),
            if i == 0 {
                format!(", then a soak of {}", spec::human(spec.soak))
            } else {
                String::new()
            },
            first.join(", "),
            if w.databases.len() > FIRST {
                ", …"
            } else {
                ""
            }
        ));
        let busiest: Vec<String> = {
            let mut v: Vec<(&str, usize)> = per.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            v.iter().take(4).map(|(o, n)| format!("{o} {n}")).collect()
        };
        if busiest.len() > 1 {
            out.push_str(&format!(
                "           per orchestra: {}\n",
                busiest.join(", ")
            ));
        }
    }
    if !p.excluded.is_empty() {
        out.push_str("  excluded:\n");
        for (k, why) in p.excluded.iter().take(EXCLUDED_SHOWN) {
            out.push_str(&format!("    {:<40} {}\n", k.id(), why.say()));
        }
        if p.excluded.len() > EXCLUDED_SHOWN {
            out.push_str(&format!(
                "    … {} more (--output json lists them all)\n",
                p.excluded.len() - EXCLUDED_SHOWN
            ));
        }
    }
    if !p.unhealthy.is_empty() {
        let ids: Vec<String> = p.unhealthy.iter().take(FIRST).map(|k| k.id()).collect();
        out.push_str(&format!(
            "  not healthy now ({}): their preflight refuses them unless they recover: {}\n",
            p.unhealthy.len(),
            ids.join(", ")
        ));
    }
    let e = &p.estimate;
    out.push_str(&format!(
        "  estimate: {} ({} a database, {})\n",
        spec::human(e.total),
        spec::human(e.per_database),
        if e.measured_runs == 0 {
            format!(
                "assumed {} a member: no finished {} on the fleet's Leases",
                spec::human(plan::ASSUMED_PER_MEMBER),
                spec.operation.as_str()
            )
        } else {
            format!(
                "the mean of {} finished {} on the fleet's Leases",
                e.measured_runs,
                spec.operation.as_str()
            )
        }
    ));
    for (o, why) in missing {
        out.push_str(&format!(
            "  orchestra {o} not in the plan: {why} (its databases are not counted)\n"
        ));
    }
    out.push_str(&format!(
        "  fleet listed in {:.2} s, planned in {:.0} ms; nothing was sent\n",
        snapshot.as_secs_f64(),
        took.as_secs_f64() * 1000.0
    ));
    out
}

/// The plan for tools: every wave's databases and every exclusion.
fn json(spec: &Spec, p: &Plan, missing: &[(String, String)]) -> serde_json::Value {
    serde_json::json!({
        "name": spec.name,
        "operation": spec.operation.as_str(),
        "params": spec.params,
        "select": spec.select,
        "soak_s": spec.soak.as_secs(),
        "max_parallel": spec.max_parallel,
        "max_per_orchestra": spec.max_per_orchestra,
        "on_refusal": spec.on_refusal,
        "matched": p.matched,
        "planned": p.planned(),
        "waves": p.waves.iter().map(|w| serde_json::json!({
            "name": w.name,
            "count": w.databases.len(),
            "rounds": w.rounds(spec.max_parallel, spec.max_per_orchestra),
            "per_orchestra": w.per_orchestra(),
            "databases": w.databases.iter().map(|k| k.id()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "excluded": p.excluded.iter().map(|(k, why)| serde_json::json!({
            "database": k.id(),
            "reason": why.word(),
            "detail": why.say(),
        })).collect::<Vec<_>>(),
        "excluded_counts": p.excluded_counts(),
        "unhealthy": p.unhealthy.iter().map(|k| k.id()).collect::<Vec<_>>(),
        "estimate": {
            "per_database_s": p.estimate.per_database.as_secs(),
            "measured_runs": p.estimate.measured_runs,
            "total_s": p.estimate.total.as_secs(),
        },
        "missing_orchestras": missing.iter().map(|(o, why)| serde_json::json!({"orchestra": o, "why": why})).collect::<Vec<_>>(),
    })
}
