//! The surge strategy of resize and upgrade (Neo4j's "new server rolling", what Aura does so
//! the database never runs with less redundancy): add one server with the new spec (a new
//! StatefulSet, the Helm charts' one-server layout, cloned from the server it replaces), enable
//! it, deallocate one old server (Neo4j moves the database onto the new one: learner, caught up,
//! promoted, then the old one leaves the Raft group), delete the old StatefulSet once it hosts
//! nothing, drop its server, repeat — secondaries first, the leader last. The voters never fall
//! below the original count. Each step follows from what is observed (StatefulSets with or
//! without the new spec, the servers' states), so a resume lands on the right step.

use serde_json::{Value, json};

use super::change_for;
use crate::fleet::Role;
use crate::ops::neo4j_admin::{ServerObs, quote};
use crate::ops::observe::StsObs;
use crate::ops::plan::{Action, Next, TemplateChange};
use crate::ops::record::Record;
use crate::ops::safety::View;

/// The strategy a resize or upgrade runs with: `--set strategy=…`, else in-place.
pub fn strategy(rec: &Record) -> &str {
    rec.param("strategy").unwrap_or("in-place")
}

/// `orders-2` → (`orders`, false, 2); `orders-rr-1` → (`orders`, true, 1).
fn parse(name: &str) -> Option<(&str, bool, u32)> {
    let (base, n) = name.rsplit_once('-')?;
    let n = n.parse().ok()?;
    match base.strip_suffix("-rr") {
        Some(db) => Some((db, true, n)),
        None => Some((base, false, n)),
    }
}

/// The name of the next server StatefulSet in the mode of `like`.
fn next_name(all: &[StsObs], like: &str) -> Option<String> {
    let (db, rr, _) = parse(like)?;
    let top = all
        .iter()
        .filter_map(|s| parse(&s.name))
        .filter(|(d, r, _)| *d == db && *r == rr)
        .map(|(_, _, n)| n)
        .max()
        .unwrap_or(0);
    Some(if rr {
        format!("{db}-rr-{}", top + 1)
    } else {
        format!("{db}-{}", top + 1)
    })
}

fn pod_of(s: &StsObs) -> String {
    format!("{}-0", s.name)
}

/// The next step of a surge resize or upgrade.
pub fn decide(rec: &Record, v: &View) -> Next {
    let table = match &v.obs.servers {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Next::Wait(format!("server management does not answer: {e}")),
        None => {
            return Next::Fail(
                "surge needs Neo4j 5 server management; use --set strategy=in-place".into(),
            );
        }
    };
    let has_change = |s: &StsObs| change_for(rec, s).holds(&s.image, s.memory.as_deref());
    let server_in = |s: &StsObs| -> Option<&ServerObs> {
        let pod = pod_of(s);
        table
            .servers
            .iter()
            .find(|x| x.in_pod(&pod) && x.state != "Dropped")
    };
    let (new, old): (Vec<&StsObs>, Vec<&StsObs>) =
        v.obs.statefulsets.iter().partition(|s| has_change(s));
    let Some(leader) = v.d.state.leader.clone() else {
        return Next::Wait("no leader (an election is under way)".into());
    };
    let cypher = |statement: String| {
        Next::Act(Action::Cypher {
            pod: leader.clone(),
            statement,
        })
    };
    // A server leaving: wait for it, then its StatefulSet goes, then the server is dropped.
    if let Some(s) = table.servers.iter().find(|s| s.state == "Deallocating") {
        return Next::Wait(format!(
            "{} leaves: the database moves onto the new server (hosting {:?})",
            s.name, s.hosting
        ));
    }
    if let Some(s) = table.servers.iter().find(|s| s.state == "Deallocated") {
        if let Some(sts) = old.iter().find(|o| s.in_pod(&pod_of(o))) {
            return Next::Act(Action::DeleteStatefulSet {
                sts: sts.name.clone(),
            });
        }
        if v.obs.pods.iter().any(|p| s.in_pod(&p.name)) {
            return Next::Wait(format!("{}'s pod is going away", s.name));
        }
        return cypher(format!("DROP SERVER {}", quote(&s.name)));
    }
    // New servers: listed, enabled.
    let mut spare: Option<(&StsObs, &ServerObs)> = None;
    for s in &new {
        let Some(server) = server_in(s) else {
            return Next::Wait(format!(
                "{} starts; SHOW SERVERS does not list its server yet",
                pod_of(s)
            ));
        };
        if matches!(server.state.as_str(), "Free" | "Cordoned") {
            return cypher(format!("ENABLE SERVER {}", quote(&server.name)));
        }
        if !server.hosts("neo4j") {
            spare = Some((s, server));
        }
    }
    let spares: Vec<&str> = spare.iter().map(|(s, _)| s.name.as_str()).collect();
    let spare_pods: Vec<String> = spare.iter().map(|(s, _)| pod_of(s)).collect();
    let exempt: Vec<&str> = spare_pods.iter().map(String::as_str).collect();
    let rank = |s: &StsObs| {
        let pod = pod_of(s);
        let r = match v.d.role(&pod) {
            Role::ReadReplica => 0,
            Role::Leader => 2,
            _ => 1,
        };
        (r, s.name.clone())
    };
    if old.is_empty() {
        let s = v.settled(&[], None);
        return if s.ok {
            Next::Done(format!(
                "{} servers now run {} (surge: a new server in, then an old one out, {} times)",
                new.len(),
                new.first()
                    .map(|s| change_for(rec, s).describe())
                    .unwrap_or_default(),
                new.len()
            ))
        } else {
            Next::Wait(s.line())
        };
    }
    // Before the next server comes or goes: settled (the spare, not hosting yet, exempt) and
    // nothing else running.
    let s = v.settled(&exempt, None);
    if !s.ok {
        return Next::Blocked(s);
    }
    let w = v.no_other_work(None);
    if !w.ok {
        return Next::Blocked(w);
    }
    match spare {
        Some((spare_sts, _)) => {
            let rr = parse(&spare_sts.name).is_some_and(|(_, rr, _)| rr);
            let mut same_mode: Vec<&StsObs> = old
                .iter()
                .copied()
                .filter(|o| parse(&o.name).is_some_and(|(_, r, _)| r == rr))
                .collect();
            same_mode.sort_by_key(|s| rank(s));
            let Some(out) = same_mode.first() else {
                return Next::Fail(format!(
                    "{} has no old server of its mode to replace",
                    spares.join(", ")
                ));
            };
            let Some(server) = server_in(out) else {
                return Next::Wait(format!("SHOW SERVERS does not list {}'s server", out.name));
            };
            cypher(format!(
                "DEALLOCATE DATABASES FROM SERVER {}",
                quote(&server.name)
            ))
        }
        None => {
            let mut next: Vec<&StsObs> = old.clone();
            next.sort_by_key(|s| rank(s));
            let Some(like) = next.first() else {
                return Next::Wait("nothing to replace".into());
            };
            let Some(name) = next_name(&v.obs.statefulsets, &like.name) else {
                return Next::Fail(format!(
                    "statefulset {} is not named like the Neo4j charts' servers (<db>-<n>, <db>-rr-<n>)",
                    like.name
                ));
            };
            Next::Act(Action::CreateStatefulSet {
                like: like.name.clone(),
                name,
                change: change_for(rec, like),
            })
        }
    }
}

/// The plan, for `--dry-run` and the confirmation.
pub fn outline(rec: &Record, v: &View) -> Vec<String> {
    let mut old: Vec<&StsObs> = v
        .obs
        .statefulsets
        .iter()
        .filter(|s| !change_for(rec, s).holds(&s.image, s.memory.as_deref()))
        .collect();
    old.sort_by_key(|s| {
        let r = match v.d.role(&pod_of(s)) {
            Role::ReadReplica => 0,
            Role::Leader => 2,
            _ => 1,
        };
        (r, s.name.clone())
    });
    let mut out = vec![format!(
        "strategy surge ({}): the voters never fall below {}",
        rec.param("strategy-why")
            .unwrap_or("asked with --set strategy"),
        v.d.voters.len()
    )];
    for s in old {
        out.push(format!(
            "add a server like {} with {}, ENABLE it, DEALLOCATE {}'s server (the new one joins, catches up, votes), delete statefulset {}, DROP its server",
            s.name,
            change_for(rec, s).describe(),
            s.name,
            s.name
        ));
    }
    out
}

/// (kube executor) The StatefulSet of a new server, from the one it replaces: every label value naming `like`
/// (the Helm release) renamed, one replica, no status or server-set metadata, and the change
/// merged into the first container.
pub fn statefulset_like(v: &mut Value, like: &str, name: &str, change: &TemplateChange) -> Value {
    fn rename(labels: &mut Value, like: &str, name: &str) {
        if let Some(m) = labels.as_object_mut() {
            for val in m.values_mut() {
                if val.as_str() == Some(like) {
                    *val = json!(name);
                }
            }
        }
    }
    let meta = &v["metadata"];
    let mut out = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": meta["labels"].clone(), "annotations": {"baton.io/surge-of": like}},
        "spec": v["spec"].take(),
    });
    rename(&mut out["metadata"]["labels"], like, name);
    rename(&mut out["spec"]["selector"]["matchLabels"], like, name);
    rename(
        &mut out["spec"]["template"]["metadata"]["labels"],
        like,
        name,
    );
    out["spec"]["replicas"] = json!(1);
    if out["spec"]["serviceName"].as_str() == Some(like) {
        out["spec"]["serviceName"] = json!(name);
    }
    let patch = change.patch();
    merge_first_container(&mut out, &patch);
    out
}

/// Applies a [`TemplateChange::patch`] (one container, merged by name) to a StatefulSet value.
fn merge_first_container(sts: &mut Value, patch: &Value) {
    let Some(want) = patch["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|c| c.first())
    else {
        return;
    };
    let Some(containers) = sts["spec"]["template"]["spec"]["containers"].as_array_mut() else {
        return;
    };
    if let Some(c) = containers.iter_mut().find(|c| c["name"] == want["name"]) {
        if let Some(i) = want.get("image") {
            c["image"] = i.clone();
        }
        if let Some(r) = want.get("resources") {
            c["resources"] = r.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_charts_layout() {
        let sts = |n: &str| StsObs {
            name: n.into(),
            ..Default::default()
        };
        let all = vec![
            sts("orders-1"),
            sts("orders-2"),
            sts("orders-3"),
            sts("orders-rr-1"),
        ];
        assert_eq!(next_name(&all, "orders-2").as_deref(), Some("orders-4"));
        assert_eq!(
            next_name(&all, "orders-rr-1").as_deref(),
            Some("orders-rr-2")
        );
        assert_eq!(next_name(&all, "weird"), None);
        assert_eq!(parse("orders-rr-12"), Some(("orders", true, 12)));
    }

    #[test]
    fn the_new_server_is_the_old_one_renamed_with_the_change() {
        let mut old = json!({
            "metadata": {"name": "orders-2", "uid": "u", "resourceVersion": "7", "labels": {"helm.neo4j.com/instance": "orders-2", "app": "orders"}},
            "spec": {"replicas": 1, "serviceName": "orders-2",
                "selector": {"matchLabels": {"helm.neo4j.com/instance": "orders-2"}},
                "template": {"metadata": {"labels": {"helm.neo4j.com/instance": "orders-2", "app": "orders"}},
                    "spec": {"containers": [{"name": "neo4j", "image": "neo4j:5.26.0-enterprise"}]}}},
            "status": {"replicas": 1},
        });
        let change = TemplateChange {
            container: "neo4j".into(),
            image: Some("neo4j:5.26.1-enterprise".into()),
            memory: Some("3Gi".into()),
        };
        let new = statefulset_like(&mut old, "orders-2", "orders-4", &change);
        assert_eq!(new["metadata"]["name"], "orders-4");
        assert_eq!(new["metadata"]["uid"], Value::Null);
        assert_eq!(new["status"], Value::Null);
        assert_eq!(new["metadata"]["labels"]["app"], "orders");
        assert_eq!(
            new["spec"]["template"]["metadata"]["labels"]["helm.neo4j.com/instance"],
            "orders-4"
        );
        assert_eq!(
            new["spec"]["selector"]["matchLabels"]["helm.neo4j.com/instance"],
            "orders-4"
        );
        assert_eq!(new["spec"]["serviceName"], "orders-4");
        let c = &new["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "neo4j:5.26.1-enterprise");
        assert_eq!(c["resources"]["limits"]["memory"], "3Gi");
    }
}
