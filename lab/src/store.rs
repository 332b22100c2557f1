//! One orchestra's object store: every Kubernetes object as JSON keyed by (resource, namespace,
//! name), a single resourceVersion counter, and a bounded history of changes that feeds watches
//! and answers "too old resource version". Every resource gets get/list/create/update/delete/watch
//! from this one code path; controllers and the HTTP layer sit on top.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::error::ApiError;
use super::resources::Resource;

mod frozen;
mod list;
pub use frozen::{Frozen, Json};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One entry of the change history, shared by every watcher.
#[derive(Debug)]
pub enum Change {
    Object {
        rv: u64,
        kind: ChangeKind,
        resource: &'static Resource,
        /// Shared with the store's map until the object changes again (no copy per change).
        object: Arc<Frozen>,
    },
    /// The history was dropped (forced watch expiry): every open watch ends with 410.
    Expired { rv: u64 },
}

/// Objects are immutable once stored, compactly (see [`Frozen`]): an update stores a new `Arc`,
/// so the map, the history and every reader share one copy of each version.
type Objects = BTreeMap<(String, String), Arc<Frozen>>;

/// The changes a new watch must replay, and the receiver of the ones after them.
pub type WatchStart = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

struct Inner {
    rv: u64,
    objects: HashMap<&'static str, Objects>,
    history: VecDeque<Arc<Change>>,
    /// Watches from a resourceVersion below this get 410 Expired.
    oldest_rv: u64,
    uid_seq: u64,
    history_cap: usize,
}

/// The store of one orchestra. Cheap to share (`Arc<Store>`).
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Change>>,
    /// Distinguishes UIDs between orchestras.
    uid_prefix: u32,
}

/// Now in the format Kubernetes uses for timestamps.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn meta<J: Json>(obj: &J, field: &str) -> Option<String> {
    obj.get("metadata")?
        .get(field)?
        .as_str()
        .map(str::to_string)
}

impl Store {
    /// `history_cap` changes are kept for watches; the live channel buffers at most 1024
    /// (a watcher that falls further behind gets 410 and relists, as on a real API server).
    pub fn new(uid_prefix: u32, history_cap: usize) -> Self {
        let (tx, _) = broadcast::channel(history_cap.clamp(16, 1024));
        Self {
            inner: Mutex::new(Inner {
                rv: 1,
                objects: HashMap::new(),
                history: VecDeque::new(),
                oldest_rv: 1,
                uid_seq: 0,
                history_cap,
            }),
            tx,
            uid_prefix,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the data consistent enough for a lab.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    fn record(&self, inner: &mut Inner, change: Change) {
        let change = Arc::new(change);
        inner.history.push_back(change.clone());
        while inner.history.len() > inner.history_cap {
            if let Some(old) = inner.history.pop_front() {
                let rv = match &*old {
                    Change::Object { rv, .. } | Change::Expired { rv } => *rv,
                };
                inner.oldest_rv = rv + 1;
            }
        }
        let _ = self.tx.send(change);
    }

    pub fn get(&self, res: &'static Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.get_shared(res, ns, name).map(|o| o.to_value())
    }

    /// The stored object itself, shared (no copy): for readers that only look at it.
    pub fn get_shared(
        &self,
        res: &'static Resource,
        ns: &str,
        name: &str,
    ) -> Result<Arc<Frozen>, ApiError> {
        let inner = self.lock();
        inner
            .objects
            .get(res.plural)
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .cloned()
            .ok_or_else(|| ApiError::not_found(res, name))
    }

    /// Creates `obj` (metadata.name or generateName required) and returns it as stored.
    pub fn create(
        &self,
        res: &'static Resource,
        ns: &str,
        mut obj: Value,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body is not a JSON object"));
        }
        let mut inner = self.lock();
        if res.namespaced
            && !inner
                .objects
                .get("namespaces")
                .is_some_and(|m| m.contains_key(&(String::new(), ns.to_string())))
        {
            return Err(ApiError {
                code: 404,
                reason: "NotFound",
                message: format!("namespaces \"{ns}\" not found"),
            });
        }
        inner.uid_seq += 1;
        let seq = inner.uid_seq;
        let name = match meta(&obj, "name").filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => match meta(&obj, "generateName") {
                Some(prefix) => {
                    format!("{prefix}{}", suffix(seq ^ u64::from(self.uid_prefix) << 20))
                }
                None => {
                    return Err(ApiError::invalid(
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        if !valid_name(&name) {
            return Err(ApiError::invalid(format!(
                "metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            )));
        }
        let key = key_of(res, ns, &name);
        if inner
            .objects
            .get(res.plural)
            .is_some_and(|m| m.contains_key(&key))
        {
            return Err(ApiError::already_exists(res, &name));
        }
        inner.rv += 1;
        let rv = inner.rv;
        obj["apiVersion"] = json!(res.api_version());
        obj["kind"] = json!(res.kind);
        let m = obj
            .as_object_mut()
            .map(|o| o.entry("metadata").or_insert_with(|| json!({})))
            .ok_or_else(|| ApiError::bad_request("the body is not a JSON object"))?;
        if !m.is_object() {
            *m = json!({});
        }
        m["name"] = json!(name);
        if res.namespaced {
            m["namespace"] = json!(ns);
        } else if let Some(o) = m.as_object_mut() {
            o.remove("namespace");
        }
        m["uid"] = json!(format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            self.uid_prefix,
            (seq >> 32) & 0xffff,
            (seq >> 20) & 0xfff,
            (seq >> 8) & 0xfff,
            seq
        ));
        m["resourceVersion"] = json!(rv.to_string());
        m["creationTimestamp"] = json!(now());
        m["generation"] = json!(1);
        if let Some(o) = m.as_object_mut() {
            o.remove("managedFields");
            o.remove("deletionTimestamp");
        }
        super::resources::apply_defaults(res, &mut obj);
        let shared = Arc::new(Frozen::from(&obj));
        inner
            .objects
            .entry(res.plural)
            .or_default()
            .insert(key, shared.clone());
        self.record(
            &mut inner,
            Change::Object {
                rv,
                kind: ChangeKind::Added,
                resource: res,
                object: shared,
            },
        );
        Ok(obj)
    }

    /// Changes an object with `f`. `expect_rv` (from the request body) must match when given.
    /// Bumps `metadata.generation` when `spec` changed. Returns the stored object.
    pub fn update(
        &self,
        res: &'static Resource,
        ns: &str,
        name: &str,
        expect_rv: Option<&str>,
        f: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let key = key_of(res, ns, name);
        let current = inner
            .objects
            .get(res.plural)
            .and_then(|m| m.get(&key))
            .ok_or_else(|| ApiError::not_found(res, name))?;
        if let Some(want) = expect_rv.filter(|r| !r.is_empty())
            && meta(&**current, "resourceVersion").as_deref() != Some(want)
        {
            return Err(ApiError::conflict(res, name));
        }
        // One decoded copy, compared with the stored version in place.
        let current = current.clone();
        let mut next = current.to_value();
        f(&mut next)?;
        // Identity fields cannot change.
        for field in ["name", "namespace", "uid", "creationTimestamp"] {
            next["metadata"][field] = current["metadata"][field].to_value();
        }
        if !res.namespaced
            && let Some(o) = next["metadata"].as_object_mut()
        {
            o.remove("namespace");
        }
        next["apiVersion"] = json!(res.api_version());
        next["kind"] = json!(res.kind);
        if *current == next {
            return Ok(next);
        }
        let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
        let same_spec = match (current.get("spec"), next.get("spec")) {
            (Some(a), Some(b)) => a == b,
            (a, b) => a.is_none() && b.is_none(),
        };
        next["metadata"]["generation"] = json!(if same_spec {
            generation
        } else {
            generation + 1
        });
        inner.rv += 1;
        let rv = inner.rv;
        next["metadata"]["resourceVersion"] = json!(rv.to_string());
        let shared = Arc::new(Frozen::from(&next));
        if let Some(m) = inner.objects.get_mut(res.plural) {
            m.insert(key, shared.clone());
        }
        self.record(
            &mut inner,
            Change::Object {
                rv,
                kind: ChangeKind::Modified,
                resource: res,
                object: shared,
            },
        );
        Ok(next)
    }

    /// Removes an object now and returns it (with the deletion's resourceVersion).
    pub fn remove(&self, res: &'static Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let key = key_of(res, ns, name);
        let removed = inner
            .objects
            .get_mut(res.plural)
            .and_then(|m| m.remove(&key))
            .ok_or_else(|| ApiError::not_found(res, name))?;
        let mut obj = removed.to_value();
        inner.rv += 1;
        let rv = inner.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let shared = Arc::new(Frozen::from(&obj));
        self.record(
            &mut inner,
            Change::Object {
                rv,
                kind: ChangeKind::Deleted,
                resource: res,
                object: shared,
            },
        );
        Ok(obj)
    }

    /// Changes after `from_rv` still in the history, and a receiver for what comes next.
    /// `Err` when `from_rv` is older than the history (410 Expired).
    pub fn watch_from(&self, from_rv: u64) -> Result<WatchStart, ApiError> {
        let inner = self.lock();
        if from_rv + 1 < inner.oldest_rv {
            return Err(ApiError::expired(from_rv, inner.oldest_rv));
        }
        let rx = self.tx.subscribe();
        let past = inner
            .history
            .iter()
            .filter(|c| matches!(&***c, Change::Object { rv, .. } if *rv > from_rv))
            .cloned()
            .collect();
        Ok((past, rx))
    }

    /// Subscribes to changes from now on (for controllers).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    /// Forgets the history: open watches end with 410 Expired and clients must relist.
    pub fn expire_watches(&self) {
        let mut inner = self.lock();
        inner.rv += 1;
        let rv = inner.rv;
        inner.history.clear();
        inner.oldest_rv = rv + 1;
        let _ = self.tx.send(Arc::new(Change::Expired { rv }));
    }
}

/// Where an object lives in the store: namespaced objects by (namespace, name), others by ("", name).
fn key_of(res: &Resource, ns: &str, name: &str) -> (String, String) {
    let ns = if res.namespaced { ns } else { "" };
    (ns.to_string(), name.to_string())
}

/// A five-character suffix like Kubernetes' generateName (consonants and digits).
pub fn suffix(n: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (n >> 7);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
            x /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// An RFC 1123 subdomain, as Kubernetes requires of most names.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests;
