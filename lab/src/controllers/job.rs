//! The Job controller: one pod at a time from the template until the completions succeed or
//! the failures pass the back-off limit, the Job's status and its events.

use serde_json::{Value, json};

use super::{Controllers, is_ready, is_terminating, name_of, owner, owner_ref};
use crate::resources;
use crate::store::{Frozen, now};

impl Controllers {
    pub fn reconcile_job(&self, ns: &str, name: &str) {
        let Ok(job) = self.store.get(resources::jobs(), ns, name) else {
            return;
        };
        let done = job["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                (c["type"] == "Complete" || c["type"] == "Failed") && c["status"] == "True"
            })
        });
        if done || is_terminating(&job) {
            return;
        }
        let owned = |p: &Frozen| owner(p).is_some_and(|(k, n)| k == "Job" && n == name);
        let pods = self
            .store
            .list_filtered(resources::pods(), Some(ns), owned)
            .0;
        let phase = |p: &Value| p["status"]["phase"].as_str().unwrap_or("").to_string();
        let succeeded = pods.iter().filter(|p| phase(p) == "Succeeded").count() as i64;
        let failed = pods.iter().filter(|p| phase(p) == "Failed").count() as i64;
        let active = pods
            .iter()
            .filter(|p| !is_terminating(*p) && phase(p) != "Succeeded" && phase(p) != "Failed")
            .count() as i64;
        let ready = pods.iter().filter(|p| is_ready(*p)).count() as i64;
        let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
        let backoff_limit = job["spec"]["backoffLimit"].as_i64().unwrap_or(6);
        let t = now();
        let mut condition = None;
        let mut created = false;
        if succeeded >= completions {
            condition = Some(("Complete", "", "Job completed"));
        } else if failed > backoff_limit {
            condition = Some((
                "Failed",
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            ));
        } else if active == 0 {
            let mut pod = json!({
                "metadata": job["spec"]["template"]["metadata"].clone(),
                "spec": job["spec"]["template"]["spec"].clone(),
            });
            if !pod["metadata"].is_object() {
                pod["metadata"] = json!({});
            }
            pod["metadata"]["generateName"] = json!(format!("{name}-"));
            if let Some(o) = pod["metadata"].as_object_mut() {
                o.remove("name");
            }
            pod["metadata"]["ownerReferences"] = owner_ref(&job);
            if pod["spec"]["restartPolicy"].is_null() {
                pod["spec"]["restartPolicy"] = json!("Never");
            }
            let created_pod = super::admit_pod(&self.store, ns, &pod)
                .and_then(|()| self.store.create(resources::pods(), ns, pod));
            match created_pod {
                Ok(p) => {
                    created = true;
                    self.events.record(
                        &job,
                        "Normal",
                        "SuccessfulCreate",
                        &format!("Created pod: {}", name_of(&p)),
                        "job-controller",
                    );
                }
                // As the real controller: a Warning event, no pod, and a retry later (on the
                // next resync, or when the missing ServiceAccount appears).
                Err(e) => self.events.record(
                    &job,
                    "Warning",
                    "FailedCreate",
                    &format!("Error creating: {}", e.message),
                    "job-controller",
                ),
            }
        }
        let _ = self.store.update(resources::jobs(), ns, name, None, |j| {
            if j["status"]["startTime"].is_null() {
                j["status"]["startTime"] = json!(t);
            }
            j["status"]["active"] = json!(if condition.is_some() {
                0
            } else if created {
                active.max(1)
            } else {
                active
            });
            j["status"]["succeeded"] = json!(succeeded);
            j["status"]["failed"] = json!(failed);
            j["status"]["ready"] = json!(ready);
            if let Some((ty, reason, message)) = condition {
                if ty == "Complete" {
                    j["status"]["completionTime"] = json!(t);
                }
                j["status"]["conditions"] = json!([{
                    "type": ty, "status": "True", "reason": reason, "message": message,
                    "lastProbeTime": t, "lastTransitionTime": t,
                }]);
            }
            Ok(())
        });
        if let Some((ty, reason, message)) = condition
            && let Ok(j) = self.store.get(resources::jobs(), ns, name)
        {
            let (etype, ereason) = if ty == "Complete" {
                ("Normal", "Completed")
            } else {
                ("Warning", reason)
            };
            self.events
                .record(&j, etype, ereason, message, "job-controller");
        }
    }
}
