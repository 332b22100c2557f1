//! The kubelet simulation of one orchestra: schedules pods onto its nodes, walks them through
//! Pending → Running → Ready with realistic delays, runs each pod's *workload* (pluggable: a
//! server, a scripted Job, later a Raft member), keeps container logs, counts restarts, backs off
//! crash loops, and terminates pods gracefully when they are deleted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;

use super::events::EventRecorder;
use super::resources;
use super::store::{Json, Store, now};

/// (namespace, name) of a pod.
pub type PodKey = (String, String);

mod podnet;
mod runtime;

pub use runtime::*;

/// The kubelet of one orchestra (all of its nodes).
pub struct Kubelet {
    store: Arc<Store>,
    events: Arc<EventRecorder>,
    factory: Arc<dyn WorkloadFactory>,
    ips: Arc<IpAllocator>,
    nodes: Vec<(String, String)>,
    next_node: AtomicUsize,
    pub timing: Timing,
    pods: Mutex<HashMap<PodKey, Arc<PodRuntime>>>,
    /// Serve each pod's HTTP ports on its own loopback IP.
    pub pod_ips: bool,
}

impl Kubelet {
    pub fn new(
        store: Arc<Store>,
        events: Arc<EventRecorder>,
        factory: Arc<dyn WorkloadFactory>,
        ips: Arc<IpAllocator>,
        nodes: Vec<(String, String)>,
        timing: Timing,
        pod_ips: bool,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            events,
            factory,
            ips,
            nodes,
            next_node: AtomicUsize::new(0),
            timing,
            pods: Mutex::new(HashMap::new()),
            pod_ips,
        })
    }

    fn pods(&self) -> std::sync::MutexGuard<'_, HashMap<PodKey, Arc<PodRuntime>>> {
        self.pods.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running pod `ns/name`, for logs and the proxy.
    pub fn pod(&self, ns: &str, name: &str) -> Option<Arc<PodRuntime>> {
        self.pods()
            .get(&(ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Every running pod with its IP (for direct pod-IP serving).
    pub fn running(&self) -> Vec<Arc<PodRuntime>> {
        self.pods().values().cloned().collect()
    }

    /// Brings the pod `ns/name` in line with the store: start new pods, stop deleted ones.
    /// Reads the store rather than trusting a (possibly stale) event.
    pub fn reconcile(self: &Arc<Self>, ns: &str, name: &str) {
        let key = (ns.to_string(), name.to_string());
        let mut existing = self.pod(ns, name);
        // The pod object is gone (force deletion) or is a successor: stop at once.
        let Ok(pod) = self.store.get_shared(resources::pods(), ns, name) else {
            if let Some(rt) = existing {
                rt.terminate(Duration::ZERO);
            }
            return;
        };
        let uid = pod["metadata"]["uid"].as_str().unwrap_or("");
        if let Some(rt) = existing.take_if(|rt| rt.uid != uid) {
            rt.terminate(Duration::ZERO);
            self.pods().remove(&key);
        }
        let deleting = pod["metadata"]
            .get("deletionTimestamp")
            .is_some_and(|v| !v.is_null());
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        match (deleting, existing) {
            (true, Some(rt)) => {
                let grace = pod["metadata"]["deletionGracePeriodSeconds"]
                    .as_u64()
                    .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_u64())
                    .unwrap_or(30);
                rt.terminate(Duration::from_secs(grace));
            }
            (true, None) => {
                // Nothing runs (a finished Job pod): remove it after the grace period.
                let store = self.store.clone();
                let grace = pick(self.timing.grace);
                tokio::spawn(async move {
                    tokio::time::sleep(grace).await;
                    let _ = store.remove(resources::pods(), &key.0, &key.1);
                });
            }
            (false, None) if phase != "Succeeded" && phase != "Failed" => {
                self.start(key, Arc::new(pod.to_value()))
            }
            (false, _) => {}
        }
    }

    fn start(self: &Arc<Self>, key: PodKey, pod: Arc<Value>) {
        let (stop, _) = watch::channel(false);
        let rt = Arc::new(PodRuntime {
            key: key.clone(),
            uid: pod["metadata"]["uid"].as_str().unwrap_or("").to_string(),
            ip: pod["status"]["podIP"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| self.ips.next()),
            logs: PodLogs::default(),
            workload: self.factory.workload(&pod),
            stop,
            grace_ms: AtomicU64::new(u64::MAX),
            kill: watch::channel(0).0,
            faults: PodFaults::default(),
        });
        {
            let mut pods = self.pods();
            if pods.contains_key(&key) {
                return;
            }
            pods.insert(key.clone(), rt.clone());
        }
        if self.pod_ips {
            let ports: Vec<u16> = pod["spec"]["containers"][0]["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| matches!(p["name"].as_str(), Some("http" | "client")))
                        .filter_map(|p| p["containerPort"].as_u64())
                        .filter_map(|p| u16::try_from(p).ok())
                        .collect()
                })
                .unwrap_or_default();
            tokio::spawn(podnet::serve(rt.clone(), ports, rt.stop.subscribe()));
        }
        let me = self.clone();
        tokio::spawn(async move { me.lifecycle(rt, pod).await });
    }

    /// Changes the pod this runtime runs; a successor pod of the same name is left alone.
    fn update_pod(&self, rt: &PodRuntime, f: impl FnOnce(&mut Value)) -> Option<Value> {
        self.store
            .update(resources::pods(), &rt.key.0, &rt.key.1, None, |p| {
                if p["metadata"]["uid"] != rt.uid.as_str() {
                    return Err(super::error::ApiError::conflict(
                        resources::pods(),
                        &rt.key.1,
                    ));
                }
                f(p);
                Ok(())
            })
            .ok()
    }

    fn set_ready(&self, rt: &PodRuntime, ready: bool) {
        // Readiness is re-asserted on every probe: look at the stored pod in place first, so a
        // pod already in that state costs no copy (30 000 members probe themselves).
        if let Ok(p) = self
            .store
            .get_shared(resources::pods(), &rt.key.0, &rt.key.1)
            && p["metadata"]["uid"] == rt.uid.as_str()
            && readiness_is(&*p, ready)
        {
            return;
        }
        self.update_pod(rt, |p| {
            if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                for c in cs {
                    c["ready"] = json!(ready);
                }
            }
            set_condition(p, "Ready", ready);
            set_condition(p, "ContainersReady", ready);
        });
    }

    /// Runs the pod's containers. Takes from `pod` what it needs and lets it go before it first
    /// waits (30 000 long-lived tasks must not each hold a copy of their pod).
    async fn lifecycle(self: Arc<Self>, rt: Arc<PodRuntime>, pod: Arc<Value>) {
        let key = rt.key.clone();
        let mut stop = rt.stop.subscribe();
        let stopped = |stop: &watch::Receiver<bool>| *stop.borrow();
        let containers: Vec<(String, String)> = pod["spec"]["containers"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| {
                        (
                            c["name"].as_str().unwrap_or("main").to_string(),
                            c["image"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let restart_policy = pod["spec"]["restartPolicy"]
            .as_str()
            .unwrap_or("Always")
            .to_string();

        // A pod seeded as already running (lab start at fleet scale) is adopted as it is.
        let adopted = pod["status"]["phase"] == "Running" && pod["spec"]["nodeName"].is_string();
        let running = &pod["status"]["containerStatuses"][0];
        let adopted_start = running["state"]["running"]["startedAt"]
            .as_str()
            .map(str::to_string);
        let adopted_id = running["containerID"].as_str().map(str::to_string);
        drop(pod);
        // Schedule.
        if !adopted {
            tokio::select! { _ = tokio::time::sleep(pick(self.timing.schedule)) => {}, _ = stop.wait_for(|s| *s) => {} }
            if !stopped(&stop) {
                let n = self.next_node.fetch_add(1, Ordering::SeqCst);
                let (node, node_ip) = self.nodes[n % self.nodes.len().max(1)].clone();
                let ip = rt.ip.clone();
                let conts = containers.clone();
                if let Some(p) = self.update_pod(&rt, |p| {
                p["spec"]["nodeName"] = json!(node);
                p["status"] = json!({
                    "phase": "Pending",
                    "conditions": [],
                    "hostIP": node_ip,
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "startTime": now(),
                    "qosClass": "Burstable",
                    "containerStatuses": conts.iter().map(|(n, img)| json!({
                        "name": n, "image": img, "imageID": "", "ready": false, "started": false,
                        "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}},
                    })).collect::<Vec<_>>(),
                });
                set_condition(p, "PodScheduled", true);
                set_condition(p, "Initialized", true);
                set_condition(p, "Ready", false);
                set_condition(p, "ContainersReady", false);
            }) {
                self.events.record(&p, "Normal", "Scheduled", &format!("Successfully assigned {}/{} to {node}", key.0, key.1), "default-scheduler");
            }
                if !self.timing.instant {
                    tokio::select! { _ = tokio::time::sleep(pick(self.timing.start)) => {}, _ = stop.wait_for(|s| *s) => {} }
                }
            }
        }

        let mut restarts: i64 = 0;
        let mut backoff = self.timing.backoff;
        while !stopped(&stop) {
            rt.logs.set_running(true);
            let mut started = now();
            let mut container_id = format!("containerd://{:016x}", rand::rng().random::<u64>());
            if adopted && restarts == 0 {
                // Already running: no status writes; the process is the one the pod shows.
                if let Some(t) = &adopted_start {
                    started.clone_from(t);
                }
                if let Some(id) = &adopted_id {
                    container_id.clone_from(id);
                }
            } else if let Some(p) = self.update_pod(&rt, |p| {
                p["status"]["phase"] = json!("Running");
                if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                    for (i, c) in cs.iter_mut().enumerate() {
                        c["state"] = json!({"running": {"startedAt": started}});
                        c["started"] = json!(true);
                        c["ready"] = json!(false);
                        c["restartCount"] = json!(restarts);
                        c["containerID"] = json!(if i == 0 {
                            container_id.clone()
                        } else {
                            format!("containerd://{:016x}", rand::rng().random::<u64>())
                        });
                    }
                }
            }) && restarts == 0
            {
                for (name, image) in &containers {
                    self.events.record(
                        &p,
                        "Normal",
                        "Pulled",
                        &format!("Container image \"{image}\" already present on machine"),
                        "kubelet",
                    );
                    self.events.record(
                        &p,
                        "Normal",
                        "Created",
                        &format!("Created container: {name}"),
                        "kubelet",
                    );
                    self.events.record(
                        &p,
                        "Normal",
                        "Started",
                        &format!("Started container {name}"),
                        "kubelet",
                    );
                }
            }
            let ctx = RunContext {
                pod: rt.clone(),
                kubelet: self.clone(),
                stop: stop.clone(),
                restart_count: restarts,
                container_id,
                started_at: started.clone(),
            };
            let mut kill = rt.kill.subscribe();
            kill.mark_unchanged();
            let code = if rt.faults.crash_loop.load(Ordering::SeqCst) {
                rt.logs
                    .push("ERROR Failed to start: fault injected by the lab (crash-loop)");
                1
            } else {
                tokio::select! {
                    biased;
                    code = rt.workload.clone().run(ctx) => code,
                    _ = kill.changed() => {
                        rt.logs.push("Killed");
                        137
                    }
                    // The termination grace period ran out: SIGKILL.
                    _ = rt.grace_expired() => 137,
                }
            };
            rt.logs.set_running(false);
            if stopped(&stop) {
                break;
            }
            let finished = now();
            let reason = if code == 0 { "Completed" } else { "Error" };
            let restart = match restart_policy.as_str() {
                "Never" => false,
                "OnFailure" => code != 0,
                _ => true,
            };
            if !restart {
                let phase = if code == 0 { "Succeeded" } else { "Failed" };
                if let Some(p) = self.update_pod(&rt, |p| {
                    p["status"]["phase"] = json!(phase);
                    if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                        for c in cs {
                            c["ready"] = json!(false);
                            c["started"] = json!(false);
                            c["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}});
                        }
                    }
                    set_condition(p, "Ready", false);
                    set_condition(p, "ContainersReady", false);
                }) && code != 0
                {
                    self.events.record(&p, "Warning", "Failed", &format!("Container exited with code {code}"), "kubelet");
                }
                // The pod stays (like a finished Job pod) until it is deleted.
                let _ = stop.wait_for(|s| *s).await;
                break;
            }
            restarts += 1;
            let wait = if code == 0 {
                self.timing.backoff
            } else {
                backoff
            };
            backoff = (backoff * 2).min(self.timing.backoff_max);
            if let Some(p) = self.update_pod(&rt, |p| {
                if let Some(cs) = p["status"]["containerStatuses"].as_array_mut() {
                    for c in cs {
                        c["ready"] = json!(false);
                        c["started"] = json!(false);
                        c["restartCount"] = json!(restarts);
                        c["lastState"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": finished}});
                        c["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off {}s restarting failed container", wait / 1000)}});
                    }
                }
                set_condition(p, "Ready", false);
                set_condition(p, "ContainersReady", false);
            }) {
                self.events.record(&p, "Warning", "BackOff", "Back-off restarting failed container", "kubelet");
            }
            tokio::select! { _ = tokio::time::sleep(Duration::from_millis(wait)) => {}, _ = stop.wait_for(|s| *s) => {} }
            rt.logs.rotate();
        }

        // Terminate: the pod is being deleted.
        if let Ok(p) = self.store.get(resources::pods(), &key.0, &key.1) {
            for (name, _) in &containers {
                self.events.record(
                    &p,
                    "Normal",
                    "Killing",
                    &format!("Stopping container {name}"),
                    "kubelet",
                );
            }
        }
        tokio::time::sleep(pick(self.timing.grace)).await;
        {
            let mut pods = self.pods();
            if pods.get(&key).is_some_and(|r| Arc::ptr_eq(r, &rt)) {
                pods.remove(&key);
            }
        }
        // Remove only the pod this runtime ran, never a successor of the same name.
        if self
            .store
            .get(resources::pods(), &key.0, &key.1)
            .is_ok_and(|p| p["metadata"]["uid"] == rt.uid.as_str())
        {
            let _ = self.store.remove(resources::pods(), &key.0, &key.1);
        }
    }
}

/// Fills in a pod as if it had been scheduled on `node` and been Running and Ready for a while
/// (how the fleet profile starts, so 30 000 pods need no lifecycle writes).
pub fn seed_running(pod: &mut Value, node: &(String, String), ip: &str) {
    let t = now();
    pod["spec"]["nodeName"] = json!(node.0);
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| json!({
                    "name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                    "restartCount": 0, "state": {"running": {"startedAt": t}},
                    "containerID": format!("containerd://{:x}", rand::rng().random::<u64>()),
                }))
                .collect()
        })
        .unwrap_or_default();
    pod["status"] = json!({
        "phase": "Running", "hostIP": node.1, "podIP": ip, "podIPs": [{"ip": ip}], "startTime": t,
        "qosClass": "Burstable", "conditions": [], "containerStatuses": statuses,
    });
    for c in ["PodScheduled", "Initialized", "Ready", "ContainersReady"] {
        set_condition(pod, c, true);
    }
}

/// Sets condition `ty` of a pod to True/False, keeping its transition time when unchanged.
/// True when every container and the Ready and ContainersReady conditions already say `ready`
/// (what `set_ready` would write is there).
fn readiness_is<J: Json>(p: &J, ready: bool) -> bool {
    let status = if ready { "True" } else { "False" };
    let containers_agree = p["status"]["containerStatuses"]
        .as_array()
        .is_none_or(|cs| cs.iter().all(|c| c["ready"] == Value::Bool(ready)));
    let condition = |ty: &str| {
        p["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"].is_str(ty) && c["status"].is_str(status))
        })
    };
    containers_agree && condition("Ready") && condition("ContainersReady")
}

pub fn set_condition(p: &mut Value, ty: &str, on: bool) {
    let status = if on { "True" } else { "False" };
    if !p["status"]["conditions"].is_array() {
        p["status"]["conditions"] = json!([]);
    }
    if let Some(conds) = p["status"]["conditions"].as_array_mut() {
        match conds.iter_mut().find(|c| c["type"] == ty) {
            Some(c) if c["status"] == status => {}
            Some(c) => {
                c["status"] = json!(status);
                c["lastTransitionTime"] = json!(now());
            }
            None => conds.push(json!({"type": ty, "status": status, "lastProbeTime": null, "lastTransitionTime": now()})),
        }
    }
}
#[cfg(test)]
mod tests;
