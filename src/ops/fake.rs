//! An in-memory database behind the `Executor` trait, for unit tests of the runner and the
//! plans: members with roles, pods with UIDs, StatefulSets, Jobs and a Lease with
//! resourceVersions. Deleting a pod gives it a new UID at once (a restart that settles on the
//! next look); every mutating call is logged so tests can count them.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::executor::{ExecError, Executor};
use super::observe::{JobObs, Observed, PodObs, StsObs};
use super::plan::{JobPlan, TemplateChange};
use super::record::{LeaseObs, Record};
use crate::fleet::{Probe, ProbeReport};

/// One member of the fake database.
#[derive(Debug, Clone)]
pub struct FakeMember {
    pub pod: String,
    pub id: String,
    pub voter: bool,
    pub applied: u64,
    /// Answers its probe and is Ready.
    pub up: bool,
    pub uid_gen: u32,
    pub image: String,
    pub memory: String,
}

#[derive(Debug, Default)]
pub struct FakeState {
    pub members: Vec<FakeMember>,
    pub leader: Option<String>,
    pub statefulsets: Vec<StsObs>,
    pub jobs: Vec<JobObs>,
    pub lease: Option<(u64, String, Record, u64)>,
    pub rv: u64,
    /// Mutating calls, in order: "delete pod/x", "patch statefulset/x", …
    pub calls: Vec<String>,
    /// Pods whose restart never settles (they come back down).
    pub broken: Vec<String>,
    /// The object store: url → (last modified, bytes).
    pub objects: std::collections::BTreeMap<String, (String, Vec<u8>)>,
    /// Permissions the identity lacks, as said (`create statefulsets`).
    pub denied: Vec<String>,
    /// A cancel request on the Lease (`request_cancel`).
    pub cancel_requested: Option<String>,
}

pub struct FakeExecutor {
    pub state: Mutex<FakeState>,
}

impl FakeExecutor {
    /// A database of `voters` voting members (`db-1`…, ids `1`…; `db-1` leads) and `replicas`
    /// read replicas (`db-rr-1`…).
    pub fn new(voters: usize, replicas: usize) -> Self {
        let mut members = Vec::new();
        for i in 1..=voters {
            members.push(FakeMember {
                pod: format!("db-{i}-0"),
                id: i.to_string(),
                voter: true,
                applied: 100,
                up: true,
                uid_gen: 0,
                image: "neo4j:5.26.0-enterprise".into(),
                memory: "4Gi".into(),
            });
        }
        for i in 1..=replicas {
            members.push(FakeMember {
                pod: format!("db-rr-{i}-0"),
                id: (100 + i).to_string(),
                voter: false,
                applied: 100,
                up: true,
                uid_gen: 0,
                image: "neo4j:5.26.0-enterprise".into(),
                memory: "4Gi".into(),
            });
        }
        let statefulsets = members
            .iter()
            .map(|m| StsObs {
                name: m.pod.trim_end_matches("-0").to_string(),
                replicas: 1,
                ready_replicas: 1,
                remembered_replicas: None,
                container: "neo4j".into(),
                image: m.image.clone(),
                memory: Some(m.memory.clone()),
                update_revision: "r0".into(),
            })
            .collect();
        Self {
            state: Mutex::new(FakeState {
                members,
                leader: Some("db-1-0".into()),
                statefulsets,
                ..FakeState::default()
            }),
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }
}

impl FakeState {
    /// What an observation sees now.
    pub fn observed_for_tests(&self) -> Observed {
        let voters: std::sync::Arc<[String]> = self
            .members
            .iter()
            .filter(|m| m.voter)
            .map(|m| m.id.clone())
            .collect();
        let leader_id = self
            .leader
            .as_ref()
            .and_then(|l| self.members.iter().find(|m| &m.pod == l))
            .map(|m| m.id.clone());
        let mut pods = Vec::new();
        let mut probes = Vec::new();
        for m in &self.members {
            let sts = m.pod.trim_end_matches("-0").to_string();
            if self
                .statefulsets
                .iter()
                .any(|s| s.name == sts && s.replicas == 0)
            {
                continue;
            }
            pods.push(PodObs {
                name: m.pod.clone(),
                uid: format!("{}-uid-{}", m.pod, m.uid_gen),
                ready: m.up,
                phase: "Running".into(),
                deleting: false,
                ip: "10.0.0.1".into(),
                owner: Some(sts),
                revision: format!("r{}", m.uid_gen),
                image: m.image.clone(),
                memory: Some(m.memory.clone()),
                claims: Vec::new(),
            });
            probes.push(if m.up {
                Probe::Ok(ProbeReport {
                    member_id: m.id.clone(),
                    leader_id: leader_id.clone(),
                    is_leader: self.leader.as_deref() == Some(m.pod.as_str()),
                    term: Some(1),
                    applied_index: Some(m.applied),
                    voter: m.voter,
                    voters: voters.clone(),
                    healthy: true,
                    millis_since_leader_message: Some(1),
                    errors: vec![],
                    version: None,
                })
            } else {
                Probe::Error("connection refused".into())
            });
        }
        Observed {
            pods,
            probes,
            statefulsets: self.statefulsets.clone(),
            jobs: self.jobs.clone(),
            claims: Vec::new(),
            servers: None,
        }
    }

    fn lease_obs(&self) -> Option<LeaseObs> {
        self.lease
            .as_ref()
            .map(|(rv, holder, rec, renew)| LeaseObs {
                resource_version: rv.to_string(),
                holder: holder.clone(),
                renew_ms: Some(*renew),
                duration_s: super::record::LEASE_SECONDS,
                record: Some(Ok(rec.clone())),
                cancel_requested: self.cancel_requested.clone(),
            })
    }
}

impl Executor for FakeExecutor {
    async fn observe(&self) -> Result<Observed, ExecError> {
        Ok(self.lock().observed_for_tests())
    }

    async fn missing_permissions(
        &self,
        needed: &[crate::fleet::catalog::Permission],
    ) -> Result<Vec<String>, ExecError> {
        let denied = &self.lock().denied;
        Ok(needed
            .iter()
            .map(|(verb, resource, _)| format!("{verb} {resource}"))
            .filter(|p| denied.contains(p))
            .collect())
    }

    async fn delete_claim(&self, claim: &str, _uid: &str) -> Result<(), ExecError> {
        self.lock().calls.push(format!("delete pvc/{claim}"));
        Ok(())
    }

    async fn create_statefulset_like(
        &self,
        like: &str,
        name: &str,
        _change: &TemplateChange,
    ) -> Result<(), ExecError> {
        self.lock()
            .calls
            .push(format!("create statefulset/{name} like {like}"));
        Ok(())
    }

    async fn delete_statefulset(&self, sts: &str) -> Result<(), ExecError> {
        self.lock().calls.push(format!("delete statefulset/{sts}"));
        Ok(())
    }

    async fn cypher(&self, pod: &str, statement: &str) -> Result<(), ExecError> {
        self.lock()
            .calls
            .push(format!("cypher on {pod}: {statement}"));
        Ok(())
    }

    async fn delete_pod(&self, pod: &str, uid: &str) -> Result<(), ExecError> {
        let mut s = self.lock();
        s.calls.push(format!("delete pod/{pod}"));
        let broken = s.broken.contains(&pod.to_string());
        let was_leader = s.leader.as_deref() == Some(pod);
        let Some(m) = s.members.iter_mut().find(|m| m.pod == pod) else {
            return Ok(());
        };
        if format!("{}-uid-{}", m.pod, m.uid_gen) != uid {
            return Ok(());
        }
        m.uid_gen += 1;
        m.up = !broken;
        if was_leader {
            // Hands leadership to the first other healthy voter, as a graceful shutdown does.
            let next = s
                .members
                .iter()
                .find(|m| m.voter && m.up && m.pod != pod)
                .map(|m| m.pod.clone());
            s.leader = next;
        }
        Ok(())
    }

    async fn scale(
        &self,
        sts: &str,
        replicas: i32,
        remember: Option<i32>,
    ) -> Result<(), ExecError> {
        let mut s = self.lock();
        s.calls.push(format!("patch statefulset/{sts}"));
        if let Some(x) = s.statefulsets.iter_mut().find(|x| x.name == sts) {
            x.replicas = replicas;
            x.ready_replicas = replicas;
            x.remembered_replicas = remember;
        }
        Ok(())
    }

    async fn patch_template(&self, sts: &str, change: &TemplateChange) -> Result<(), ExecError> {
        let pod = {
            let mut s = self.lock();
            s.calls.push(format!("patch statefulset/{sts} template"));
            if let Some(x) = s.statefulsets.iter_mut().find(|x| x.name == sts) {
                if let Some(i) = &change.image {
                    x.image = i.clone();
                }
                if let Some(m) = &change.memory {
                    x.memory = Some(m.clone());
                }
            }
            let pod = format!("{sts}-0");
            if let Some(m) = s.members.iter_mut().find(|m| m.pod == pod) {
                if let Some(i) = &change.image {
                    m.image = i.clone();
                }
                if let Some(mem) = &change.memory {
                    m.memory = mem.clone();
                }
            }
            pod
        };
        // The controller replaces the pod as a graceful delete would.
        let uid = {
            let s = self.lock();
            s.members
                .iter()
                .find(|m| m.pod == pod)
                .map(|m| format!("{}-uid-{}", m.pod, m.uid_gen))
                .unwrap_or_default()
        };
        self.delete_pod(&pod, &uid).await?;
        let mut s = self.lock();
        s.calls.pop();
        Ok(())
    }

    async fn create_job(&self, job: &JobPlan) -> Result<(), ExecError> {
        let mut s = self.lock();
        s.calls.push(format!("create job/{}", job.name));
        s.jobs.push(JobObs {
            name: job.name.clone(),
            operation: job.kind.into(),
            active: false,
            succeeded: true,
            failed: false,
            artifact: Some(job.target.clone()),
        });
        Ok(())
    }

    fn job_manifest(&self, job: &JobPlan) -> Value {
        json!({"kind": "Job", "metadata": {"name": job.name}})
    }

    async fn job_log(
        &self,
        _job: &str,
        since: usize,
    ) -> Result<Option<(String, Vec<String>)>, ExecError> {
        let lines = ["Backing up", "Backup complete"];
        Ok(Some((
            "job-pod".into(),
            lines.iter().skip(since).map(|l| l.to_string()).collect(),
        )))
    }

    async fn get_lease(&self) -> Result<Option<LeaseObs>, ExecError> {
        Ok(self.lock().lease_obs())
    }

    async fn create_lease(&self, holder: &str, record: &Record) -> Result<LeaseObs, ExecError> {
        let mut s = self.lock();
        s.calls.push("create lease".into());
        if s.lease.is_some() {
            return Err(ExecError::Conflict(
                "leases \"baton-op-db\" already exists".into(),
            ));
        }
        s.rv += 1;
        s.lease = Some((s.rv, holder.into(), record.clone(), crate::source::now_ms()));
        // A replace writes the Lease as its holder sees it: the request is taken.
        s.cancel_requested = None;
        Ok(s.lease_obs().unwrap_or_default())
    }

    async fn request_cancel(&self, by: &str) -> Result<(), ExecError> {
        let mut s = self.lock();
        s.calls.push("patch lease cancel".into());
        if s.lease.is_none() {
            return Err(ExecError::NotFound("no lease".into()));
        }
        s.rv += 1;
        let rv = s.rv;
        if let Some(l) = s.lease.as_mut() {
            l.0 = rv;
        }
        s.cancel_requested = Some(by.into());
        Ok(())
    }

    async fn replace_lease(
        &self,
        rv: &str,
        holder: &str,
        record: &Record,
    ) -> Result<LeaseObs, ExecError> {
        let mut s = self.lock();
        s.calls.push("update lease".into());
        match &s.lease {
            Some((cur, ..)) if cur.to_string() == rv => {}
            _ => return Err(ExecError::Conflict("the object has been modified".into())),
        }
        s.rv += 1;
        s.lease = Some((s.rv, holder.into(), record.clone(), crate::source::now_ms()));
        Ok(s.lease_obs().unwrap_or_default())
    }

    async fn event(&self, reason: &str, _message: &str, _warning: bool) -> Result<(), ExecError> {
        self.lock().calls.push(format!("create event/{reason}"));
        Ok(())
    }

    fn database_id(&self) -> String {
        "fake/ns/db".into()
    }

    fn identity(&self) -> String {
        "fake".into()
    }

    async fn list_objects(
        &self,
        prefix_url: &str,
    ) -> Result<Vec<super::executor::ObjectInfo>, ExecError> {
        Ok(self
            .lock()
            .objects
            .iter()
            .filter(|(url, _)| url.starts_with(prefix_url))
            .map(|(url, (modified, bytes))| super::executor::ObjectInfo {
                url: url.clone(),
                modified: modified.clone(),
                size: bytes.len() as u64,
            })
            .collect())
    }

    async fn get_object(&self, url: &str) -> Result<Option<Vec<u8>>, ExecError> {
        Ok(self.lock().objects.get(url).map(|(_, b)| b.clone()))
    }
}

/// Mutating calls that touched the database itself (not the lock, the audit events).
pub fn actions(calls: &[String]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| !c.ends_with("lease") && !c.starts_with("create event"))
        .cloned()
        .collect()
}
