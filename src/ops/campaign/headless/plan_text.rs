//! The plan as `baton campaign plan` (and `start`, before its confirmation) prints it: text a
//! person reads, or JSON for tools with every wave's databases and every exclusion.

use std::time::Duration;

use super::super::plan::{self, Plan};
use super::super::spec::{self, OnRefusal, Spec};

/// The first databases of a wave the text shows.
const FIRST: usize = 5;
/// Excluded databases the text lists (JSON lists all).
const EXCLUDED_SHOWN: usize = 20;

fn params_text(spec: &Spec) -> String {
    spec.params
        .iter()
        .map(|(k, v)| format!(" {k}={v}"))
        .collect()
}

/// The plan as a person reads it; `timing`: how long the fleet took to list and the plan to
/// compute (None: the dashboard's, over the fleet on screen).
pub fn text(
    spec: &Spec,
    p: &Plan,
    missing: &[(String, String)],
    timing: Option<(Duration, Duration)>,
    tail: &str,
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
    let over = timing.map_or("planned over the fleet on screen".to_string(), |(l, t)| {
        format!(
            "fleet listed in {:.2} s, planned in {:.0} ms",
            l.as_secs_f64(),
            t.as_secs_f64() * 1000.0
        )
    });
    out.push_str(&format!("  {over}; {tail}\n"));
    out
}

/// The plan for tools: every wave's databases and every exclusion.
pub fn json(spec: &Spec, p: &Plan, missing: &[(String, String)]) -> serde_json::Value {
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
