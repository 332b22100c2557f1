//! Kubernetes Events the lab's controllers and kubelet record about objects (what `kubectl
//! describe` shows), kept to a bounded number per orchestra like the real event TTL.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::resources;
use super::store::{Store, now};

pub struct EventRecorder {
    store: Arc<Store>,
    cap: usize,
    kept: Mutex<VecDeque<(String, String)>>,
    seq: AtomicU64,
}

impl EventRecorder {
    /// `cap` events at most are kept; 0 turns recording off.
    pub fn new(store: Arc<Store>, cap: usize) -> Self {
        Self {
            store,
            cap,
            kept: Mutex::new(VecDeque::new()),
            seq: AtomicU64::new(0),
        }
    }

    /// Records an event of `ty` (Normal/Warning) about `obj`.
    pub fn record(&self, obj: &Value, ty: &str, reason: &str, message: &str, component: &str) {
        if self.cap == 0 {
            return;
        }
        let m = &obj["metadata"];
        let ns = m["namespace"].as_str().unwrap_or("default");
        let name = m["name"].as_str().unwrap_or("");
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let ev_name = format!("{name}.{:016x}", 0x1870_0000_0000_0000u64 + seq);
        let t = now();
        let ev = json!({
            "metadata": {"name": ev_name},
            "involvedObject": {
                "kind": obj["kind"], "namespace": ns, "name": name, "uid": m["uid"],
                "apiVersion": obj["apiVersion"], "resourceVersion": m["resourceVersion"],
            },
            "reason": reason,
            "message": message,
            "type": ty,
            "count": 1,
            "firstTimestamp": t,
            "lastTimestamp": t,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
        });
        if self.store.create(resources::events(), ns, ev).is_err() {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.push_back((ns.to_string(), ev_name));
        while kept.len() > self.cap {
            if let Some((ns, n)) = kept.pop_front() {
                let _ = self.store.remove(resources::events(), &ns, &n);
            }
        }
    }
}
