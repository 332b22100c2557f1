//! What an operation sees of its database at one moment: the member pods (with UIDs, so a
//! restart is told by something that cannot lag), a fresh probe of every member, the
//! StatefulSets and the baton Jobs — and what follows from them (roles, leader, voters, lag,
//! which members are healthy voters). Plain owned data filled by an `Executor`; pure helpers.

use std::collections::{BTreeMap, BTreeSet};

use crate::fleet::{self, DatabaseState, MemberInput, Probe, Role};

/// A member's pod as the operation needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PodObs {
    pub name: String,
    pub uid: String,
    pub ready: bool,
    pub phase: String,
    /// Has a deletion timestamp (going away).
    pub deleting: bool,
    pub ip: String,
    /// The StatefulSet that owns it, if any.
    pub owner: Option<String>,
    /// Its `controller-revision-hash` label: the StatefulSet template it was made from.
    pub revision: String,
    /// The first container's image and memory limit (else request).
    pub image: String,
    pub memory: Option<String>,
    /// The PersistentVolumeClaims it mounts (its volumes).
    pub claims: Vec<String>,
}

/// A PersistentVolumeClaim of a member.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClaimObs {
    pub name: String,
    pub uid: String,
    /// Has a deletion timestamp (held by pvc-protection until its pod is gone).
    pub deleting: bool,
}

/// A StatefulSet of the database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StsObs {
    pub name: String,
    pub replicas: i32,
    pub ready_replicas: i32,
    /// `baton.io/replicas-before-stop`, when a stop remembered them.
    pub remembered_replicas: Option<i32>,
    /// The pod template's first container: name, image, memory limit (else request).
    pub container: String,
    pub image: String,
    pub memory: Option<String>,
    /// `status.updateRevision`: the revision of the current template.
    pub update_revision: String,
}

/// A Job baton started for a database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JobObs {
    pub name: String,
    /// Its `baton.io/operation` label.
    pub operation: String,
    pub active: bool,
    pub succeeded: bool,
    pub failed: bool,
    /// `baton.io/artifact` annotation: where it writes.
    pub artifact: Option<String>,
}

/// One look at the database.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// Member pods, sorted by name.
    pub pods: Vec<PodObs>,
    /// A fresh probe of each member pod (same order as `pods`).
    pub probes: Vec<Probe>,
    pub statefulsets: Vec<StsObs>,
    pub jobs: Vec<JobObs>,
    /// The claims the member pods mount, sorted by name.
    pub claims: Vec<ClaimObs>,
    /// Neo4j 5 server management (`SHOW SERVERS`, `SHOW DATABASES`) as one member answers it;
    /// `None` where the profile has none, `Err` with why it could not be read.
    pub servers: Option<Result<super::neo4j_admin::ServerTable, String>>,
}

/// What follows from one look: per member its role, lag and whether it is a healthy voter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub state: DatabaseState,
    /// Member ids (as the members report them) of the voting set, sorted.
    pub voters: BTreeSet<String>,
    /// Pod name → member id (from its own probe).
    pub ids: BTreeMap<String, String>,
}

impl Observed {
    pub fn pod(&self, name: &str) -> Option<&PodObs> {
        self.pods.iter().find(|p| p.name == name)
    }

    /// The claim pod `pod` mounts (its first), as observed.
    pub fn claim_of(&self, pod: &str) -> Option<&ClaimObs> {
        let name = self.pod(pod)?.claims.first()?;
        self.claims.iter().find(|c| &c.name == name)
    }

    pub fn probe(&self, name: &str) -> Option<&Probe> {
        self.pods
            .iter()
            .position(|p| p.name == name)
            .and_then(|i| self.probes.get(i))
    }

    /// Roles, leader, lag and health, derived as the dashboard does.
    pub fn derive(&self, lag_gate: u64) -> Derived {
        let inputs: Vec<MemberInput> = self
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| MemberInput {
                name: p.name.clone(),
                pod_ready: p.ready && !p.deleting,
                probe: self.probes.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let state = fleet::derive(&inputs, lag_gate);
        let mut ids = BTreeMap::new();
        let mut voters = BTreeSet::new();
        for (p, probe) in self.pods.iter().zip(&self.probes) {
            if let Probe::Ok(r) = probe {
                ids.insert(p.name.clone(), r.member_id.clone());
                voters.extend(r.voters.iter().cloned());
            }
        }
        if voters.is_empty() {
            // Profiles that do not report the voting set: the members that say they vote.
            for (p, probe) in self.pods.iter().zip(&self.probes) {
                if let Probe::Ok(r) = probe
                    && r.voter
                {
                    voters.insert(ids.get(&p.name).cloned().unwrap_or_default());
                }
            }
        }
        Derived { state, voters, ids }
    }

    /// Active baton Jobs of the database, other than `except`.
    pub fn running_jobs<'a>(&'a self, except: Option<&'a str>) -> impl Iterator<Item = &'a JobObs> {
        self.jobs
            .iter()
            .filter(move |j| j.active && Some(j.name.as_str()) != except)
    }
}

impl Derived {
    pub fn role(&self, pod: &str) -> Role {
        self.state
            .members
            .iter()
            .find(|m| m.name == pod)
            .map_or(Role::Unknown, |m| m.role)
    }

    pub fn lag(&self, pod: &str) -> Option<u64> {
        self.state
            .members
            .iter()
            .find(|m| m.name == pod)
            .and_then(|m| m.lag)
    }

    /// Whether the pod's member votes (by its reported id; unknown ids count as voters when the
    /// set is unknown, so the majority arithmetic errs on the safe side).
    pub fn is_voter(&self, pod: &str) -> bool {
        match self.ids.get(pod) {
            Some(id) => self.voters.contains(id),
            None => !matches!(self.role(pod), Role::ReadReplica),
        }
    }
}
