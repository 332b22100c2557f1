//! Each operation as a goal: from the record (what it set out to do and saw at the start) and
//! one observation, `decide` says the next action toward the goal, or that it must wait (and
//! why), or that the goal holds. Pure, so the order of members, the majority arithmetic and
//! idempotence are unit-tested without a cluster; a step knows from what it sees whether it is
//! already done, so a retry or a resume never repeats or skips work.

use std::collections::BTreeSet;

use super::observe::Observed;
use super::record::Record;
use super::safety::{Check, SETTLED, View};
use crate::config::OperationName;
use crate::fleet::Role;

/// A change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the member's pod (graceful, with a UID precondition: never its replacement).
    DeletePod { pod: String, uid: String },
    /// Set a StatefulSet's replicas; `remember` writes the count to restore on start, `None`
    /// clears it.
    Scale {
        sts: String,
        replicas: i32,
        remember: Option<i32>,
    },
    /// Create the operation's Job.
    CreateJob(JobPlan),
    /// Change a StatefulSet's pod template; its controller replaces the pod.
    PatchTemplate { sts: String, change: TemplateChange },
    /// Give a member a fresh volume: delete its claim (if still the old one; name, uid), then
    /// its pod (UID precondition); the StatefulSet makes a new claim and pod.
    ReplaceVolume {
        pod: String,
        pod_uid: String,
        claim: Option<(String, String)>,
    },
    /// A Neo4j 5 server-management statement, sent to the `system` database on `pod`.
    Cypher { pod: String, statement: String },
    /// Surge: a new server StatefulSet `name`, a copy of `like` with `change` applied.
    CreateStatefulSet {
        like: String,
        name: String,
        change: TemplateChange,
    },
    /// Surge: an old server's StatefulSet goes (its server hosts nothing any more).
    DeleteStatefulSet { sts: String },
}

/// What a resize or an upgrade changes in a pod template (its first container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateChange {
    pub container: String,
    pub image: Option<String>,
    pub memory: Option<String>,
}

impl TemplateChange {
    /// A strategic merge patch: containers merge by name, so only these fields change.
    pub fn patch(&self) -> serde_json::Value {
        let mut c = serde_json::json!({ "name": self.container });
        if let Some(i) = &self.image {
            c["image"] = serde_json::json!(i);
        }
        if let Some(m) = &self.memory {
            c["resources"] =
                serde_json::json!({"requests": {"memory": m}, "limits": {"memory": m}});
        }
        serde_json::json!({"spec": {"template": {"spec": {"containers": [c]}}}})
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.image {
            parts.push(format!("image {i}"));
        }
        if let Some(m) = &self.memory {
            parts.push(format!("memory {m}"));
        }
        parts.join(", ")
    }

    /// Whether a template or pod with this image and memory already has the change.
    pub fn holds(&self, image: &str, memory: Option<&str>) -> bool {
        self.image.as_deref().is_none_or(|i| i == image)
            && self.memory.as_deref().is_none_or(|m| Some(m) == memory)
    }
}

/// A backup or diagnostics Job to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    pub name: String,
    /// `backup` or `diagnostics`.
    pub kind: &'static str,
    pub member: String,
    pub target: String,
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Self::DeletePod { pod, .. } => format!("restart {pod} (delete its pod)"),
            Self::Scale {
                sts,
                replicas,
                remember: Some(before),
            } => format!("scale statefulset {sts} {before} → {replicas}"),
            Self::Scale { sts, replicas, .. } => format!("scale statefulset {sts} to {replicas}"),
            Self::CreateJob(j) if j.kind == "restore" => {
                format!("create restore Job {} reading {}", j.name, j.target)
            }
            Self::CreateJob(j) => format!("create {} Job {} from {}", j.kind, j.name, j.member),
            Self::PatchTemplate { sts, change } => {
                format!(
                    "set {} on statefulset {sts} (its pod is replaced)",
                    change.describe()
                )
            }
            Self::ReplaceVolume {
                pod,
                claim: Some((claim, _)),
                ..
            } => format!("delete claim {claim} and pod {pod} (a fresh volume)"),
            Self::ReplaceVolume { pod, .. } => format!("delete pod {pod} (its claim is going)"),
            Self::Cypher { pod, statement } => format!("{statement} (on {pod})"),
            Self::CreateStatefulSet { like, name, change } => format!(
                "create statefulset {name} like {like} with {}",
                change.describe()
            ),
            Self::DeleteStatefulSet { sts } => format!("delete statefulset {sts}"),
        }
    }

    /// The member it acts on, for the progress pane.
    pub fn member(&self) -> Option<&str> {
        match self {
            Self::DeletePod { pod, .. } | Self::ReplaceVolume { pod, .. } => Some(pod),
            Self::CreateJob(j) => Some(j.member.as_str()).filter(|m| !m.is_empty()),
            Self::Scale { .. }
            | Self::PatchTemplate { .. }
            | Self::Cypher { .. }
            | Self::CreateStatefulSet { .. }
            | Self::DeleteStatefulSet { .. } => None,
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Act(Action),
    /// Not yet: the database is moving (a member coming back, a Job running).
    Wait(String),
    /// A safety rule does not hold: refused before the first action, waited on after.
    Blocked(Check),
    /// The goal holds.
    Done(String),
    Fail(String),
}

/// The next step of the operation recorded in `rec`, given what `v` sees. `first`: nothing was
/// done yet (the preflight), where the expected leader is compared.
pub fn decide(rec: &Record, v: &View, first: bool) -> Next {
    if first
        && let Some(c) = v.expected_leader(rec.param("expect-leader"))
        && !c.ok
    {
        return Next::Blocked(c);
    }
    match rec.operation {
        OperationName::RollingRestart | OperationName::RestartMember => restart(rec, v),
        OperationName::Backup | OperationName::Diagnostics => job(rec, v),
        OperationName::Restore => restore(rec, v),
        OperationName::Stop => stop(rec, v),
        OperationName::Start => start(v),
        OperationName::Resize => template_roll(rec, v),
        OperationName::Upgrade => {
            let version = rec.param("version").unwrap_or_default();
            match super::upgrade_rules::judge(version, &v.obs.statefulsets) {
                Some(c) if !c.ok => Next::Blocked(c),
                _ => template_roll(rec, v),
            }
        }
        OperationName::ReplaceMember => super::replace::decide(rec, v),
        other => Next::Fail(format!("{} is not in this version", other.as_str())),
    }
}

/// Order of restarts: down members first (restarting them costs no availability), then read
/// replicas, followers, the leader last.
fn rank(v: &View, pod: &str) -> u8 {
    if v.down(pod) {
        return 0;
    }
    match v.d.role(pod) {
        Role::ReadReplica => 1,
        Role::Follower | Role::Candidate | Role::Unknown => 2,
        Role::Leader => 3,
    }
}

fn voters_before(rec: &Record) -> BTreeSet<String> {
    rec.voters.iter().cloned().collect()
}

fn restart(rec: &Record, v: &View) -> Next {
    if v.d.state.leader.is_none() {
        return Next::Wait("no leader yet (an election is under way)".into());
    }
    let mut pending: Vec<&str> = Vec::new();
    for (name, uid) in &rec.original {
        match v.obs.pod(name) {
            // The same pod as at the start: still to restart.
            Some(p) if &p.uid == uid && !p.deleting => pending.push(name),
            // Deleted, terminating or replaced: restarted or on its way; settled says which.
            Some(p) if &p.uid == uid => {
                return Next::Wait(format!("{name} is terminating"));
            }
            None => return Next::Wait(format!("{name} has no pod yet")),
            Some(_) => {
                if let Some(why) = v.unhealthy(name) {
                    return Next::Wait(format!("{name} is back but not settled: {why}"));
                }
            }
        }
    }
    let before = voters_before(rec);
    if pending.is_empty() {
        let s = v.settled(&[], Some(&before));
        return if s.ok {
            Next::Done(format!(
                "{} restarted; {}",
                plural(rec.original.len(), "member"),
                s.detail
            ))
        } else {
            Next::Wait(s.line())
        };
    }
    pending.sort_by_key(|p| (rank(v, p), *p));
    let next = pending[0];
    // Between members the database must have settled; the member about to restart may be
    // unhealthy when it is down (that is why it goes first) or when it is the one member asked for.
    let exempt: Vec<&str> = match rec.operation {
        OperationName::RestartMember => vec![next],
        _ => pending
            .iter()
            .copied()
            .filter(|p| v.down(p) && rec.first.iter().any(|f| f == p))
            .collect(),
    };
    // The majority first: when both fail, it says more (what the restart would cost).
    let m = v.majority(next);
    if !m.ok {
        return Next::Blocked(m);
    }
    let s = v.settled(&exempt, Some(&before));
    if !s.ok {
        return Next::Blocked(s);
    }
    let w = v.no_other_work(None);
    if !w.ok {
        return Next::Blocked(w);
    }
    let uid = rec.original.get(next).cloned().unwrap_or_default();
    Next::Act(Action::DeletePod {
        pod: next.to_string(),
        uid,
    })
}

fn job(rec: &Record, v: &View) -> Next {
    let Some(name) = rec.job.as_deref() else {
        return Next::Fail("the record names no Job".into());
    };
    let kind = match rec.operation {
        OperationName::Backup => "backup",
        _ => "diagnostics",
    };
    let target = rec.param("target").unwrap_or_default().to_string();
    if let Some(j) = v.obs.jobs.iter().find(|j| j.name == name) {
        return if j.succeeded {
            Next::Done(format!("{kind} written to {target}"))
        } else if j.failed {
            Next::Fail(format!("{kind} Job {name} failed (see its log)"))
        } else {
            Next::Wait(format!("{kind} Job {name} is running"))
        };
    }
    if rec.step > 0 {
        return Next::Wait(format!("{kind} Job {name} created, not seen yet"));
    }
    let w = v.no_other_work(Some(name));
    if !w.ok {
        return Next::Blocked(w);
    }
    let Some(member) = rec.param("member") else {
        return Next::Fail("no member chosen".into());
    };
    match v.obs.pod(member) {
        None => {
            return Next::Blocked(Check::fail(SETTLED, Some(member), "no such member pod"));
        }
        Some(p) if !p.ready || p.deleting => {
            return Next::Blocked(Check::fail(
                SETTLED,
                Some(member),
                "its pod is not running Ready",
            ));
        }
        Some(_) => {}
    }
    // A backup must read a consistent, caught-up member; diagnostics of a sick member is the point.
    if kind == "backup"
        && let Some(why) = v.unhealthy(member)
    {
        return Next::Blocked(Check::fail(SETTLED, Some(member), why));
    }
    Next::Act(Action::CreateJob(JobPlan {
        name: name.to_string(),
        kind,
        member: member.to_string(),
        target,
    }))
}

/// Restore, as `neo4j-admin database restore` wants it: stop every member (replicas
/// remembered, volumes kept), run the restore Job on the stopped database, start it again and
/// wait until it has settled. Which phase it is in follows from what it sees: whether the
/// restore Job exists and how it ended.
fn restore(rec: &Record, v: &View) -> Next {
    let Some(name) = rec.job.as_deref() else {
        return Next::Fail("the record names no Job".into());
    };
    let from = rec
        .param("backup")
        .or(rec.param("from"))
        .unwrap_or_default();
    match v.obs.jobs.iter().find(|j| j.name == name) {
        Some(j) if j.succeeded => match start(v) {
            Next::Done(m) => Next::Done(format!("restored from {from}; {m}")),
            other => other,
        },
        Some(j) if j.failed => Next::Fail(format!(
            "restore Job {name} failed (see its log); the database stays stopped with its data as it was: `baton op start` brings it back"
        )),
        Some(_) => Next::Wait(format!("restore Job {name} is running")),
        None => {
            if rec.step == 0 {
                let w = v.no_other_work(None);
                if !w.ok {
                    return Next::Blocked(w);
                }
            }
            // Stop first (secondaries, followers, the leader last), one at a time.
            match stop(rec, v) {
                Next::Done(_) => Next::Act(Action::CreateJob(JobPlan {
                    name: name.to_string(),
                    kind: "restore",
                    member: String::new(),
                    target: from.to_string(),
                })),
                other => other,
            }
        }
    }
}

/// The StatefulSet's member pod (`<sts>-<ordinal>`).
fn pods_of<'a>(v: &'a View, sts: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    v.obs.pods.iter().map(|p| p.name.as_str()).filter(move |p| {
        v.obs.pod(p).and_then(|x| x.owner.as_deref()) == Some(sts)
            || p.strip_prefix(sts)
                .and_then(|r| r.strip_prefix('-'))
                .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()))
    })
}

fn stop(rec: &Record, v: &View) -> Next {
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

fn start(v: &View) -> Next {
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
pub fn change_for(rec: &Record, sts: &super::observe::StsObs) -> TemplateChange {
    TemplateChange {
        container: sts.container.clone(),
        image: rec.param("version").map(|v| image_at(&sts.image, v)),
        memory: rec.param("memory").map(str::to_string),
    }
}

/// Resize and upgrade: one StatefulSet's template at a time (secondaries, followers, the
/// leader last); its controller replaces the pod; the next waits until the new pod runs the new
/// template (told by the pod's own spec, which cannot lag) and the database has settled.
fn template_roll(rec: &Record, v: &View) -> Next {
    if super::surge::strategy(rec) == "surge" {
        return super::surge::decide(rec, v);
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

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

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
            if super::surge::strategy(rec) == "surge" =>
        {
            super::surge::outline(rec, &v)
        }
        OperationName::Resize | OperationName::Upgrade => {
            let why = rec.param("strategy-why").map(|w| {
                format!("strategy in-place ({w}): each member restarts with the new spec")
            });
            let mut sts: Vec<(&super::observe::StsObs, u8)> = obs
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
