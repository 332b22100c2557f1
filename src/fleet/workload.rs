//! What operations create and change, per database, trimmed to what baton shows and decides on:
//! the database's StatefulSets, baton's Jobs, and the operation Lease `baton-op-<database>`.
//! `Part` says how each kind is kept on a `Database` (StatefulSets and Jobs sorted by name, at
//! most one Lease), so the store folds all three with one piece of code. Pure data, no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::store::Database;

/// One StatefulSet of a database (Neo4j's Helm charts: one per server).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StatefulSetInfo {
    pub name: String,
    /// `spec.replicas` (1 when unset, as Kubernetes defaults it).
    pub replicas: u32,
    pub ready_replicas: u32,
    /// The first container's image (shared: `intern`).
    pub image: Arc<str>,
    /// The first container's memory request and limit, as written (`4Gi`; shared).
    pub memory_request: Option<Arc<str>>,
    pub memory_limit: Option<Arc<str>>,
    /// The revision pods are rolled to, and the one they run; equal once a roll is done (one
    /// copy then).
    pub update_revision: Option<Arc<str>>,
    pub current_revision: Option<Arc<str>>,
    /// Annotations whose key starts with `baton.io/`.
    pub annotations: BTreeMap<String, String>,
}

/// One Job baton started (label `app.kubernetes.io/managed-by=baton`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct JobInfo {
    pub name: String,
    /// Label `baton.io/operation`.
    pub operation: Option<String>,
    pub active: u32,
    pub succeeded: u32,
    pub failed: u32,
    /// `status.startTime` and `status.completionTime`, Unix ms.
    pub started_ms: Option<u64>,
    pub completed_ms: Option<u64>,
}

/// The operation Lease of a database: the lock and the shared progress of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LeaseInfo {
    pub name: String,
    pub holder: Option<String>,
    /// `spec.renewTime`, Unix ms.
    pub renewed_ms: Option<u64>,
    pub duration_s: Option<u32>,
    /// Annotation `baton.io/operation`: the operation's record (JSON), kept as written.
    pub operation: Option<String>,
}

/// A kind of object kept per database.
pub(crate) trait Part: Sized {
    /// Adds or replaces `self` on `d`; whether anything changed.
    fn put(self, d: &mut Database) -> bool;
    /// Drops every object of this kind not named in `names`; whether any went.
    fn keep(d: &mut Database, names: &BTreeSet<&str>) -> bool;
    /// Drops the object `name`; whether it was there.
    fn remove(d: &mut Database, name: &str) -> bool;
    fn name(&self) -> &str;
}

/// Inserts or replaces `item` in `list` (sorted by name); whether anything changed.
fn put_sorted<T: PartialEq>(list: &mut Vec<T>, item: T, name: impl Fn(&T) -> &str) -> bool {
    match list.binary_search_by(|x| name(x).cmp(name(&item))) {
        Ok(i) if list[i] == item => false,
        Ok(i) => {
            list[i] = item;
            true
        }
        Err(i) => {
            // Exactly one more: a database has a few of each, kept for the whole session.
            list.reserve_exact(1);
            list.insert(i, item);
            true
        }
    }
}

fn keep_named<T>(list: &mut Vec<T>, names: &BTreeSet<&str>, name: impl Fn(&T) -> &str) -> bool {
    let before = list.len();
    list.retain(|x| names.contains(name(x)));
    list.len() != before
}

fn remove_named<T>(list: &mut Vec<T>, gone: &str, name: impl Fn(&T) -> &str) -> bool {
    let before = list.len();
    list.retain(|x| name(x) != gone);
    list.len() != before
}

impl Part for StatefulSetInfo {
    fn put(self, d: &mut Database) -> bool {
        put_sorted(&mut d.statefulsets, self, |s| &s.name)
    }
    fn keep(d: &mut Database, names: &BTreeSet<&str>) -> bool {
        keep_named(&mut d.statefulsets, names, |s| &s.name)
    }
    fn remove(d: &mut Database, name: &str) -> bool {
        remove_named(&mut d.statefulsets, name, |s| &s.name)
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Part for JobInfo {
    fn put(self, d: &mut Database) -> bool {
        put_sorted(&mut d.jobs, self, |j| &j.name)
    }
    fn keep(d: &mut Database, names: &BTreeSet<&str>) -> bool {
        keep_named(&mut d.jobs, names, |j| &j.name)
    }
    fn remove(d: &mut Database, name: &str) -> bool {
        remove_named(&mut d.jobs, name, |j| &j.name)
    }
    fn name(&self) -> &str {
        &self.name
    }
}

impl Part for LeaseInfo {
    fn put(self, d: &mut Database) -> bool {
        if d.op_lease.as_deref() == Some(&self) {
            return false;
        }
        d.op_lease = Some(Box::new(self));
        true
    }
    fn keep(d: &mut Database, names: &BTreeSet<&str>) -> bool {
        match &d.op_lease {
            Some(l) if !names.contains(l.name.as_str()) => {
                d.op_lease = None;
                true
            }
            _ => false,
        }
    }
    fn remove(d: &mut Database, name: &str) -> bool {
        match &d.op_lease {
            Some(l) if l.name == name => {
                d.op_lease = None;
                true
            }
            _ => false,
        }
    }
    fn name(&self) -> &str {
        &self.name
    }
}
