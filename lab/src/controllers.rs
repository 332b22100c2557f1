//! The controllers of one orchestra: StatefulSet (creates its pods, recreates deleted ones,
//! scales, rolls pods on a template change), Job (runs a pod to success or failure with a back-off
//! limit), garbage collection of owned objects, and the loop that feeds them and the kubelet from
//! the store's changes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use super::events::EventRecorder;
use super::kubelet::Kubelet;
use super::resources::{self, Resource};
use super::store::{Change, ChangeKind, Frozen, Json, Store, now};

mod job;

/// Everything the controllers of one orchestra need.
pub struct Controllers {
    pub store: Arc<Store>,
    pub events: Arc<EventRecorder>,
    pub kubelet: Arc<Kubelet>,
    /// Template revision per StatefulSet (uid, generation), so it is hashed once per change.
    pub revisions: std::sync::Mutex<std::collections::HashMap<String, (i64, String)>>,
}

fn name_of<J: Json>(o: &J) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}
fn ns_of<J: Json>(o: &J) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or("")
}
fn uid_of<J: Json>(o: &J) -> &str {
    o["metadata"]["uid"].as_str().unwrap_or("")
}

/// The controller that owns `o`, as (kind, name).
fn owner<J: Json>(o: &J) -> Option<(&str, &str)> {
    o["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == json!(true))
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or(""),
            )
        })
}

fn owner_ref(o: &Value) -> Value {
    json!([{
        "apiVersion": o["apiVersion"], "kind": o["kind"], "name": name_of(o), "uid": uid_of(o),
        "controller": true, "blockOwnerDeletion": true,
    }])
}

fn is_ready<J: Json>(pod: &J) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"].is_str("Ready") && c["status"].is_str("True"))
    })
}

fn is_terminating<J: Json>(o: &J) -> bool {
    o["metadata"]
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

/// Marks a pod for graceful deletion; the kubelet stops it and removes it.
pub fn delete_pod_gracefully(store: &Store, ns: &str, name: &str, grace_seconds: i64) {
    let _ = store.update(resources::pods(), ns, name, None, |p| {
        if !is_terminating(p) {
            p["metadata"]["deletionTimestamp"] = json!(now());
            p["metadata"]["deletionGracePeriodSeconds"] = json!(grace_seconds);
        }
        Ok(())
    });
}

/// The ServiceAccount admission plugin: a pod may be created only if the ServiceAccount it
/// runs as exists (every pod create goes through it: the API's and the controllers').
pub fn admit_pod(store: &Store, ns: &str, pod: &Value) -> Result<(), super::error::ApiError> {
    let sa = resources::pod_service_account(pod);
    if store
        .get_shared(resources::serviceaccounts(), ns, sa)
        .is_ok()
    {
        return Ok(());
    }
    let m = &pod["metadata"];
    let name = m["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| m["generateName"].as_str())
        .unwrap_or("");
    Err(super::error::ApiError {
        code: 403,
        reason: "Forbidden",
        message: format!(
            "pods \"{name}\" is forbidden: error looking up service account {ns}/{sa}: serviceaccount \"{sa}\" not found"
        ),
    })
}

/// Creates the `default` ServiceAccount of namespace `ns` unless it exists.
pub fn ensure_default_service_account(store: &Store, ns: &str) {
    let sas = resources::serviceaccounts();
    if store.get_shared(sas, ns, "default").is_err() {
        let _ = store.create(sas, ns, json!({"metadata": {"name": "default"}}));
    }
}

/// The pod of ordinal `i` of StatefulSet `sts` at template `revision`, as the controller makes it.
pub fn pod_for(sts: &Value, i: i64, revision: &str) -> Value {
    let name = name_of(sts);
    let pod_name = format!("{name}-{i}");
    let mut pod = json!({
        "metadata": sts["spec"]["template"]["metadata"].clone(),
        "spec": sts["spec"]["template"]["spec"].clone(),
    });
    if !pod["metadata"].is_object() {
        pod["metadata"] = json!({});
    }
    pod["metadata"]["name"] = json!(pod_name);
    pod["metadata"]["ownerReferences"] = owner_ref(sts);
    if !pod["metadata"]["labels"].is_object() {
        pod["metadata"]["labels"] = json!({});
    }
    let labels = &mut pod["metadata"]["labels"];
    labels["controller-revision-hash"] = json!(revision);
    labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
    labels["apps.kubernetes.io/pod-index"] = json!(i.to_string());
    // Each volumeClaimTemplate becomes a volume backed by the pod's own claim.
    for t in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(claim) = t["metadata"]["name"].as_str() else {
            continue;
        };
        if !pod["spec"]["volumes"].is_array() {
            pod["spec"]["volumes"] = json!([]);
        }
        if let Some(vs) = pod["spec"]["volumes"].as_array_mut() {
            vs.push(json!({"name": claim, "persistentVolumeClaim": {"claimName": format!("{claim}-{pod_name}")}}));
        }
    }
    pod["spec"]["hostname"] = json!(pod_name);
    if let Some(svc) = sts["spec"]["serviceName"].as_str() {
        pod["spec"]["subdomain"] = json!(svc);
    }
    if pod["spec"]["restartPolicy"].is_null() {
        pod["spec"]["restartPolicy"] = json!("Always");
    }
    pod
}

/// Whether a pod (not yet gone) mounts claim `claim`.
pub fn claim_in_use(store: &Store, ns: &str, claim: &str) -> bool {
    let uses = |p: &Frozen| {
        p["spec"]["volumes"].as_array().is_some_and(|vs| {
            vs.iter()
                .any(|v| v["persistentVolumeClaim"]["claimName"] == claim)
        })
    };
    !store
        .list_filtered(resources::pods(), Some(ns), uses)
        .0
        .is_empty()
}

/// Makes sure the claims of ordinal `i` of StatefulSet `sts` exist before its pod is created, as
/// the StatefulSet controller does (`<template>-<pod>`, kept when the pod goes: retention
/// policy Retain). A claim deleted while its pod ran (held by `kubernetes.io/pvc-protection`)
/// goes now that no pod mounts it, and a new, empty one takes its place. False when a claim
/// could not be made (the pod must wait).
pub fn ensure_claims(store: &Store, sts: &Value, i: i64) -> bool {
    let ns = ns_of(sts);
    let pod_name = format!("{}-{i}", name_of(sts));
    for t in sts["spec"]["volumeClaimTemplates"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(template) = t["metadata"]["name"].as_str() else {
            continue;
        };
        let claim = format!("{template}-{pod_name}");
        let pvcs = resources::persistentvolumeclaims();
        match store.get(pvcs, ns, &claim) {
            Ok(c) if !is_terminating(&c) => continue,
            Ok(_) if claim_in_use(store, ns, &claim) => return false,
            Ok(_) => {
                let _ = store.remove(pvcs, ns, &claim);
            }
            Err(_) => {}
        }
        let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
        if !labels.is_object() {
            labels = json!({});
        }
        let storage = t["spec"]["resources"]["requests"]["storage"].clone();
        let obj = json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "labels": labels, "finalizers": ["kubernetes.io/pvc-protection"]},
            "spec": t["spec"].clone(),
            "status": {"phase": "Bound", "accessModes": t["spec"]["accessModes"].clone(), "capacity": {"storage": storage}},
        });
        if let Err(e) = store.create(pvcs, ns, obj)
            && e.reason != "AlreadyExists"
        {
            tracing::warn!(ns, claim, error = %e.message, "lab: statefulset cannot create its claim");
            return false;
        }
    }
    true
}

/// Deletes claim `claim`: at once when no pod mounts it, else it is only marked (deletion
/// timestamp; `kubernetes.io/pvc-protection` holds it) and goes once its pod has gone.
pub fn delete_claim(store: &Store, ns: &str, claim: &str) -> Result<Value, super::error::ApiError> {
    let pvcs = resources::persistentvolumeclaims();
    if !claim_in_use(store, ns, claim) {
        return store.remove(pvcs, ns, claim);
    }
    store.update(pvcs, ns, claim, None, |c| {
        if !is_terminating(c) {
            c["metadata"]["deletionTimestamp"] = json!(now());
            c["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        Ok(())
    })
}

/// The revision name of a pod template: `<sts>-<hash>`.
pub fn template_revision<J: Json>(sts: &J) -> String {
    let template = serde_json::to_string(&sts["spec"]["template"]).unwrap_or_default();
    let digest = Sha256::digest(template.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}", name_of(sts), &hex[..10])
}

impl Controllers {
    /// Runs until the store's sender is gone. Reacts to every change, and resyncs everything
    /// every 30 s and whenever it fell behind.
    pub async fn run(self: Arc<Self>) {
        let mut rx = self.store.subscribe();
        self.resync();
        // Orchestras resync at staggered moments, not all 200 in the same instant.
        let period = Duration::from_secs(30);
        let offset = period.mul_f64(rand::random::<f64>());
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(change) => self.on_change(&change),
                    Err(RecvError::Lagged(_)) => self.resync(),
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => self.resync(),
            }
        }
    }

    fn resync(&self) {
        // By key: each reconcile reads the object itself. The pods of a namespace are sorted
        // by their controller once for all of its StatefulSets (each one filtering every pod
        // of the namespace was most of the lab's idle CPU).
        let mut owned: (String, HashMap<String, Vec<Arc<Frozen>>>) = Default::default();
        for (ns, name) in self.store.keys(resources::statefulsets()) {
            if owned.0 != ns {
                owned = (ns.clone(), self.pods_by_statefulset(&ns));
            }
            let pods = owned.1.remove(&name).unwrap_or_default();
            self.reconcile_sts_with(&ns, &name, Some(pods));
        }
        for (ns, name) in self.store.keys(resources::jobs()) {
            self.reconcile_job(&ns, &name);
        }
        for (ns, name) in self.store.keys(resources::pods()) {
            self.kubelet.reconcile(&ns, &name);
        }
    }

    fn on_change(&self, change: &Change) {
        let Change::Object {
            kind,
            resource,
            object,
            ..
        } = change
        else {
            return;
        };
        let object = &**object;
        let (ns, name) = (ns_of(object), name_of(object));
        match resource.plural {
            "pods" => {
                if *kind == ChangeKind::Deleted {
                    self.release_claims(object);
                }
                self.kubelet.reconcile(ns, name);
                match owner(object) {
                    Some(("StatefulSet", sts)) => self.reconcile_sts(ns, sts),
                    Some(("Job", job)) => self.reconcile_job(ns, job),
                    _ => {}
                }
            }
            "statefulsets" if *kind == ChangeKind::Deleted => {
                self.revisions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(uid_of(object));
                self.collect_garbage(resources::pods(), ns, uid_of(object));
            }
            "statefulsets" => self.reconcile_sts(ns, name),
            "jobs" if *kind == ChangeKind::Deleted => {
                self.collect_garbage(resources::pods(), ns, uid_of(object))
            }
            "jobs" => self.reconcile_job(ns, name),
            // The ServiceAccount controller: every namespace has a `default` ServiceAccount.
            "namespaces" if *kind == ChangeKind::Added => {
                ensure_default_service_account(&self.store, name)
            }
            // A Job whose pod waited for its ServiceAccount may create it now.
            "serviceaccounts" if *kind == ChangeKind::Added => {
                for (_, job) in self
                    .store
                    .keys(resources::jobs())
                    .iter()
                    .filter(|k| k.0 == ns)
                {
                    self.reconcile_job(ns, job);
                }
            }
            "namespaces" if *kind == ChangeKind::Deleted => {
                for r in resources::RESOURCES.iter().filter(|r| r.namespaced) {
                    for o in self.store.list(r, Some(name)).0 {
                        let _ = self.store.remove(r, name, name_of(&o));
                    }
                }
            }
            _ => {}
        }
    }

    /// pvc-protection: claims marked for deletion go once the pod that mounted them is gone.
    fn release_claims<J: Json>(&self, pod: &J) {
        let ns = ns_of(pod);
        for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
            let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() else {
                continue;
            };
            if let Ok(c) = self
                .store
                .get(resources::persistentvolumeclaims(), ns, claim)
                && is_terminating(&c)
                && !claim_in_use(&self.store, ns, claim)
            {
                let _ = self
                    .store
                    .remove(resources::persistentvolumeclaims(), ns, claim);
            }
        }
    }

    /// Deletes objects owned by a deleted owner (background propagation).
    fn collect_garbage(&self, res: &'static Resource, ns: &str, owner_uid: &str) {
        let owned = |o: &Frozen| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["uid"] == owner_uid))
        };
        for o in self.store.list_filtered(res, Some(ns), owned).0 {
            delete_pod_gracefully(&self.store, ns, name_of(&o), 30);
        }
    }

    /// The pods of namespace `ns` that a StatefulSet controls, by its name.
    fn pods_by_statefulset(&self, ns: &str) -> HashMap<String, Vec<Arc<Frozen>>> {
        let mut by: HashMap<String, Vec<Arc<Frozen>>> = HashMap::new();
        for p in self
            .store
            .list_shared(resources::pods(), Some(ns), |_| true)
            .0
        {
            if let Some(("StatefulSet", sts)) = owner(&*p) {
                let sts = sts.to_string();
                by.entry(sts).or_default().push(p);
            }
        }
        by
    }

    pub fn reconcile_sts(&self, ns: &str, name: &str) {
        self.reconcile_sts_with(ns, name, None);
    }

    /// Reconciles StatefulSet `ns/name`, with the pods it controls when the caller listed them
    /// (`None`: list them now).
    fn reconcile_sts_with(&self, ns: &str, name: &str, pods: Option<Vec<Arc<Frozen>>>) {
        // Shared reads (no copy): the 30 s resync looks at every StatefulSet and pod.
        let Ok(sts) = self.store.get_shared(resources::statefulsets(), ns, name) else {
            return;
        };
        let sts: &Frozen = &sts;
        // Decoded only when a pod or claim is made from it, or an event names it.
        let decoded = std::cell::OnceCell::new();
        let sts_value = || decoded.get_or_init(|| sts.to_value());
        if is_terminating(sts) {
            return;
        }
        let uid = uid_of(sts).to_string();
        let replicas = sts["spec"]["replicas"].as_i64().unwrap_or(1).max(0);
        let generation_now = sts["metadata"]["generation"].as_i64().unwrap_or(0);
        let revision = {
            let mut cache = self.revisions.lock().unwrap_or_else(|p| p.into_inner());
            match cache.get(&uid) {
                Some((g, r)) if *g == generation_now => r.clone(),
                _ => {
                    let r = template_revision(sts);
                    cache.insert(uid.clone(), (generation_now, r.clone()));
                    r
                }
            }
        };
        let pods = pods.unwrap_or_else(|| {
            let owned = |p: &Frozen| owner(p).is_some_and(|(k, n)| k == "StatefulSet" && n == name);
            self.store.list_shared(resources::pods(), Some(ns), owned).0
        });
        let ordinal = |p: &Frozen| {
            name_of(p)
                .strip_prefix(name)
                .and_then(|s| s.strip_prefix('-'))
                .and_then(|s| s.parse::<i64>().ok())
        };
        let by_ordinal = |i: i64| pods.iter().map(|p| &**p).find(|p| ordinal(p) == Some(i));

        // Create missing pods (Parallel pod management, as the Neo4j charts use).
        for i in 0..replicas {
            if by_ordinal(i).is_none() {
                if !ensure_claims(&self.store, sts_value(), i) {
                    continue;
                }
                let pod_name = format!("{name}-{i}");
                let pod = pod_for(sts_value(), i, &revision);
                let created = admit_pod(&self.store, ns, &pod)
                    .and_then(|()| self.store.create(resources::pods(), ns, pod));
                match created {
                    Ok(_) => self.events.record(
                        sts_value(),
                        "Normal",
                        "SuccessfulCreate",
                        &format!("create Pod {pod_name} in StatefulSet {name} successful"),
                        "statefulset-controller",
                    ),
                    Err(e) if e.reason == "AlreadyExists" => {}
                    Err(e) => self.events.record(
                        sts_value(),
                        "Warning",
                        "FailedCreate",
                        &format!(
                            "create Pod {pod_name} in StatefulSet {name} failed error: {}",
                            e.message
                        ),
                        "statefulset-controller",
                    ),
                }
            }
        }
        // Scale down: the highest ordinals go first, one at a time.
        let mut extra: Vec<&Frozen> = pods
            .iter()
            .map(|p| &**p)
            .filter(|p| ordinal(p).is_none_or(|i| i >= replicas))
            .collect();
        extra.sort_by_key(|p| std::cmp::Reverse(ordinal(p)));
        if let Some(p) = extra.first()
            && !extra.iter().any(|p| is_terminating(*p))
        {
            delete_pod_gracefully(&self.store, ns, name_of(*p), 30);
            self.events.record(
                sts_value(),
                "Normal",
                "SuccessfulDelete",
                &format!(
                    "delete Pod {} in StatefulSet {name} successful",
                    name_of(*p)
                ),
                "statefulset-controller",
            );
        }
        // Rolling update: when every pod is up and Ready, replace the highest outdated one.
        let on_delete = sts["spec"]["updateStrategy"]["type"] == "OnDelete";
        let current: Vec<&Frozen> = (0..replicas).filter_map(by_ordinal).collect();
        let rev_of = |p: &Frozen| {
            p["metadata"]["labels"]["controller-revision-hash"]
                .as_str()
                .unwrap_or("")
                .to_string()
        };
        if !on_delete
            && current.len() as i64 == replicas
            && current.iter().all(|p| is_ready(*p) && !is_terminating(*p))
            && let Some(p) = current.iter().rev().find(|p| rev_of(p) != revision)
        {
            delete_pod_gracefully(&self.store, ns, name_of(*p), 30);
        }
        // Status.
        let ready = current
            .iter()
            .filter(|p| is_ready(**p) && !is_terminating(**p))
            .count() as i64;
        let updated = current.iter().filter(|p| rev_of(p) == revision).count() as i64;
        let generation = sts["metadata"]["generation"].clone();
        let current_revision = if updated == replicas {
            revision.clone()
        } else {
            sts["status"]["currentRevision"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| revision.clone())
        };
        let status = json!({
            "observedGeneration": generation,
            "replicas": pods.len(),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": current.iter().filter(|p| rev_of(p) == current_revision).count(),
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        });
        if sts["status"] == status {
            // Nothing to write (the usual case of a resync): no copy of the object.
            return;
        }
        let _ = self
            .store
            .update(resources::statefulsets(), ns, name, None, |s| {
                if uid_of(s) != uid {
                    return Ok(());
                }
                s["status"] = status;
                Ok(())
            });
    }
}
