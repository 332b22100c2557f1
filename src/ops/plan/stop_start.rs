//! Stop (every StatefulSet scaled to 0, its replicas remembered, secondaries first and the
//! leader last) and start (the remembered replicas back, then settled).

use super::{Action, Next, plural, pods_of, rank};
use crate::ops::record::Record;
use crate::ops::safety::{Check, SETTLED, View};

pub(super) fn stop(rec: &Record, v: &View) -> Next {
    let _ = rec;
    let mut running: Vec<(&str, i32, u8)> = v
        .obs
        .statefulsets
        .iter()
        .filter(|s| s.replicas > 0)
        .map(|s| {
            let r = pods_of(v, &s.name).map(|p| rank(v, p)).max().unwrap_or(0);
            (s.name.as_str(), s.replicas, r)
        })
        .collect();
    if let Some(p) = v.obs.pods.iter().find(|p| p.deleting) {
        return Next::Wait(format!("{} is terminating", p.name));
    }
    // One StatefulSet at a time: the last one scaled must have lost its pod first.
    for s in v.obs.statefulsets.iter().filter(|s| s.replicas == 0) {
        if let Some(p) = pods_of(v, &s.name).next() {
            return Next::Wait(format!("{p} is stopping"));
        }
    }
    if running.is_empty() {
        return match v.obs.pods.first() {
            Some(p) => Next::Wait(format!("{} still has a pod", p.name)),
            None => Next::Done(format!(
                "stopped: {} at 0 replicas (remembered), data kept on the volumes",
                plural(v.obs.statefulsets.len(), "StatefulSet")
            )),
        };
    }
    if rec.step == 0 {
        let w = v.no_other_work(None);
        if !w.ok {
            return Next::Blocked(w);
        }
    }
    // Secondaries, followers, the leader last.
    running.sort_by_key(|(n, _, r)| (*r, *n));
    let (sts, replicas, _) = running[0];
    Next::Act(Action::Scale {
        sts: sts.to_string(),
        replicas: 0,
        remember: Some(replicas),
    })
}

pub(super) fn start(v: &View) -> Next {
    if let Some(s) = v
        .obs
        .statefulsets
        .iter()
        .find(|s| s.replicas == 0 && s.remembered_replicas.is_some())
    {
        return Next::Act(Action::Scale {
            sts: s.name.clone(),
            replicas: s.remembered_replicas.unwrap_or(1),
            remember: None,
        });
    }
    if let Some(s) = v.obs.statefulsets.iter().find(|s| s.replicas == 0) {
        return Next::Blocked(Check::fail(
            SETTLED,
            None,
            format!(
                "statefulset {} has 0 replicas and no remembered count (not stopped by baton): scale it yourself",
                s.name
            ),
        ));
    }
    if v.obs.statefulsets.is_empty() {
        return Next::Fail("the database has no StatefulSets".into());
    }
    let s = v.settled(&[], None);
    if s.ok {
        Next::Done(format!("started; {}", s.detail))
    } else {
        Next::Wait(s.line())
    }
}
