//! The outline of an operation's plan for `--dry-run` and the confirmation dialog.

use super::{change_for, pods_of, rank};
use crate::config::OperationName;
use crate::fleet::Role;
use crate::ops::observe::Observed;
use crate::ops::record::Record;
use crate::ops::safety::View;

/// The plan for `--dry-run` and the confirmation: the actions in the order the loop would take
/// them if every step settled as expected.
pub fn outline(rec: &Record, obs: &Observed, lag_gate: u64) -> Vec<String> {
    let d = obs.derive(lag_gate);
    let v = View {
        obs,
        d: &d,
        lag_gate,
        forced: &rec.forced,
    };
    match rec.operation {
        OperationName::RollingRestart | OperationName::RestartMember => {
            // Only members still to restart (a resumed operation has done some).
            let mut pods: Vec<&str> = rec
                .original
                .iter()
                .filter(|(name, uid)| obs.pod(name).is_some_and(|p| &p.uid == *uid))
                .map(|(name, _)| name.as_str())
                .collect();
            pods.sort_by_key(|p| (rank(&v, p), *p));
            let mut out: Vec<String> = pods
                .iter()
                .map(|p| {
                    let why = if v.down(p) {
                        "down: first".to_string()
                    } else {
                        d.role(p).word().to_string()
                    };
                    format!("restart {p} ({why}), then wait until settled")
                })
                .collect();
            if let Some(last) = out.last_mut()
                && pods.last().is_some_and(|p| d.role(p) == Role::Leader)
            {
                last.push_str(" — the leader, last");
            }
            out
        }
        OperationName::Backup | OperationName::Diagnostics => vec![
            format!(
                "create Job {} reading {} → {}",
                rec.job.as_deref().unwrap_or("?"),
                rec.param("member").unwrap_or("?"),
                rec.param("target").unwrap_or("?")
            ),
            "follow its log until it completes".into(),
        ],
        OperationName::Stop => {
            let mut sts: Vec<(&str, i32, u8)> = obs
                .statefulsets
                .iter()
                .map(|s| {
                    let r = pods_of(&v, &s.name).map(|p| rank(&v, p)).max().unwrap_or(0);
                    (s.name.as_str(), s.replicas, r)
                })
                .collect();
            sts.sort_by_key(|(n, _, r)| (*r, *n));
            sts.iter()
                .map(|(n, r, _)| {
                    format!(
                        "scale statefulset {n} {r} → 0 (remember {r}), wait until its pod is gone"
                    )
                })
                .collect()
        }
        OperationName::Start => obs
            .statefulsets
            .iter()
            .map(|s| match s.remembered_replicas {
                Some(r) if s.replicas == 0 => format!("scale statefulset {} 0 → {r}", s.name),
                _ => format!("statefulset {} runs {} (nothing to do)", s.name, s.replicas),
            })
            .chain(std::iter::once(
                "wait until every member is Ready and a leader is elected".into(),
            ))
            .collect(),
        OperationName::ReplaceMember => super::replace::outline(rec),
        OperationName::Incident => {
            vec!["post the database's summary to the incident webhook".into()]
        }
        OperationName::Restore => {
            let mut steps: Vec<String> = outline(
                &Record {
                    operation: OperationName::Stop,
                    ..rec.clone()
                },
                obs,
                lag_gate,
            );
            steps.push(format!(
                "create restore Job {} reading {} (the data on every member's volume is replaced)",
                rec.job.as_deref().unwrap_or("?"),
                rec.param("backup").or(rec.param("from")).unwrap_or("?")
            ));
            steps.push("scale every StatefulSet back to its remembered replicas".into());
            steps.push("wait until every member is Ready and a leader is elected".into());
            steps
        }
        OperationName::Resize | OperationName::Upgrade
            if super::template::surge::strategy(rec) == "surge" =>
        {
            super::template::surge::outline(rec, &v)
        }
        OperationName::Resize | OperationName::Upgrade => {
            let why = rec.param("strategy-why").map(|w| {
                format!("strategy in-place ({w}): each member restarts with the new spec")
            });
            let mut sts: Vec<(&crate::ops::observe::StsObs, u8)> = obs
                .statefulsets
                .iter()
                .filter(|s| !change_for(rec, s).holds(&s.image, s.memory.as_deref()))
                .map(|s| {
                    (
                        s,
                        pods_of(&v, &s.name).map(|p| rank(&v, p)).max().unwrap_or(0),
                    )
                })
                .collect();
            sts.sort_by_key(|(s, r)| (*r, s.name.as_str()));
            let n = sts.len();
            let steps = sts.iter().enumerate().map(|(i, (s, _))| {
                let role = pods_of(&v, &s.name)
                    .next()
                    .map(|p| d.role(p).word())
                    .unwrap_or("no pod");
                let last = if i + 1 == n && role == "LEADER" {
                    " — the leader, last"
                } else {
                    ""
                };
                format!(
                    "set {} on statefulset {} ({role}), wait until its new pod has settled{last}",
                    change_for(rec, s).describe(),
                    s.name
                )
            });
            why.into_iter().chain(steps).collect()
        }
        #[allow(unreachable_patterns)] // operations added elsewhere have no outline yet
        _ => Vec::new(),
    }
}
