//! Resize and upgrade in place: the template change each StatefulSet wants, rolled one
//! StatefulSet at a time (or by surge: `surge`).

pub mod surge;

use super::{Action, Next, TemplateChange, plural, pods_of, rank, voters_before};
use crate::ops::record::Record;
use crate::ops::safety::{Check, SETTLED, View};

/// The image `image` would have at `version`: the tag replaced, an `-enterprise` suffix kept.
pub fn image_at(image: &str, version: &str) -> String {
    let (repo, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (image, ""),
    };
    let suffix = if tag.ends_with("-enterprise") && !version.ends_with("-enterprise") {
        "-enterprise"
    } else {
        ""
    };
    format!("{repo}:{version}{suffix}")
}

/// The change a resize or an upgrade wants on this StatefulSet.
pub fn change_for(rec: &Record, sts: &crate::ops::observe::StsObs) -> TemplateChange {
    TemplateChange {
        container: sts.container.clone(),
        image: rec.param("version").map(|v| image_at(&sts.image, v)),
        memory: rec.param("memory").map(str::to_string),
    }
}

/// Resize and upgrade: one StatefulSet's template at a time (secondaries, followers, the
/// leader last); its controller replaces the pod; the next waits until the new pod runs the new
/// template (told by the pod's own spec, which cannot lag) and the database has settled.
pub(super) fn template_roll(rec: &Record, v: &View) -> Next {
    if surge::strategy(rec) == "surge" {
        return surge::decide(rec, v);
    }
    if let Some(s) = v.obs.statefulsets.iter().find(|s| s.replicas != 1) {
        return Next::Blocked(Check::fail(
            SETTLED,
            None,
            format!(
                "statefulset {} runs {} members; baton rolls one-member StatefulSets (the Neo4j charts' layout) one at a time",
                s.name, s.replicas
            ),
        ));
    }
    let mut pending: Vec<(&str, u8)> = Vec::new();
    for s in &v.obs.statefulsets {
        let change = change_for(rec, s);
        let pod = pods_of(v, &s.name).next();
        if change.holds(&s.image, s.memory.as_deref()) {
            // The template has it: its pod must run it and be back.
            let Some(pod) = pod else {
                return Next::Wait(format!("statefulset {} has no pod yet", s.name));
            };
            let p = v.obs.pod(pod);
            if !p.is_some_and(|p| change.holds(&p.image, p.memory.as_deref())) {
                return Next::Wait(format!(
                    "{pod} is being replaced with {}",
                    change.describe()
                ));
            }
            if let Some(why) = v.unhealthy(pod) {
                return Next::Wait(format!(
                    "{pod} runs {} but has not settled: {why}",
                    change.describe()
                ));
            }
        } else {
            pending.push((s.name.as_str(), pod.map_or(0, |p| rank(v, p))));
        }
    }
    let s = v.settled(&[], Some(&voters_before(rec)));
    if pending.is_empty() {
        return if s.ok {
            Next::Done(format!(
                "{} now run {}",
                plural(v.obs.statefulsets.len(), "member"),
                v.obs
                    .statefulsets
                    .first()
                    .map(|x| change_for(rec, x).describe())
                    .unwrap_or_default()
            ))
        } else {
            Next::Wait(s.line())
        };
    }
    pending.sort_by_key(|(n, r)| (*r, *n));
    let next = pending[0].0;
    if let Some(pod) = pods_of(v, next).next() {
        let m = v.majority(pod);
        if !m.ok {
            return Next::Blocked(m);
        }
    }
    if !s.ok {
        return Next::Blocked(s);
    }
    let w = v.no_other_work(None);
    if !w.ok {
        return Next::Blocked(w);
    }
    let Some(sts) = v.obs.statefulsets.iter().find(|s| s.name == next) else {
        return Next::Wait(format!("statefulset {next} is gone"));
    };
    Next::Act(Action::PatchTemplate {
        sts: next.to_string(),
        change: change_for(rec, sts),
    })
}
