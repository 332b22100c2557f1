//! How each kind of object operations create is kept on a `Database` (`Part`: StatefulSets and
//! Jobs sorted by name, at most one Lease), and the store's folds of them and of member pods, so
//! all kinds go through one piece of code.

use std::collections::{BTreeMap, BTreeSet};

use super::{Database, DbKey, DbRef, Fleet, Member, PodInfo, orchestra_range};
use crate::fleet::Probe;
use crate::fleet::workload::{JobInfo, LeaseInfo, StatefulSetInfo};

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

impl Fleet {
    /// Folds StatefulSets, Jobs or Leases of one orchestra. `profile`: the StatefulSets'
    /// profile, which a complete list covers (and names a database it brings); Jobs and Leases
    /// cover the whole orchestra.
    pub(super) fn apply_parts<P: Part>(
        &mut self,
        orchestra: &str,
        profile: Option<&str>,
        items: Vec<(DbRef, P)>,
        complete: bool,
    ) -> bool {
        let mut touched: BTreeMap<DbKey, Vec<P>> = BTreeMap::new();
        for (db, item) in items {
            touched
                .entry(DbKey::new(orchestra, &db))
                .or_default()
                .push(item);
        }
        let mut changed = false;
        if complete {
            let none = BTreeSet::new();
            for key in self.keys_of(orchestra) {
                if touched.contains_key(&key) {
                    continue;
                }
                if let Some(d) = self.find_mut(&key)
                    && profile.is_none_or(|p| d.profile == p)
                {
                    changed |= P::keep(d, &none);
                }
                self.settle(&key);
            }
        }
        for (key, items) in touched {
            let d = self.slot(&key);
            if let Some(p) = profile
                && d.profile.is_empty()
            {
                d.profile = p.to_string();
            }
            if complete {
                let names: BTreeSet<&str> = items.iter().map(P::name).collect();
                changed |= P::keep(d, &names);
            }
            for item in items {
                changed |= item.put(d);
            }
            self.settle(&key);
        }
        changed
    }

    pub(super) fn remove_part<P: Part>(&mut self, key: &DbKey, name: &str) -> bool {
        let changed = self.find_mut(key).is_some_and(|d| P::remove(d, name));
        self.settle(key);
        changed
    }

    pub(super) fn apply_pods(
        &mut self,
        orchestra: &str,
        profile: &str,
        pods: Vec<(DbRef, PodInfo)>,
        complete: bool,
    ) -> bool {
        let lag_gate = self.lag_gate;
        let mut touched: BTreeMap<DbKey, Vec<PodInfo>> = BTreeMap::new();
        let zones = self.zones.get(orchestra);
        for (db, mut pod) in pods {
            if let Some(z) = zones.and_then(|z| z.get(&*pod.node)) {
                pod.zone = z.clone();
            }
            touched
                .entry(DbKey::new(orchestra, &db))
                .or_default()
                .push(pod);
        }
        let mut changed = false;
        if complete {
            // Members of this orchestra and profile's databases that are not in the list are
            // gone (and so is a database left with nothing).
            let gone: Vec<DbKey> = self
                .databases
                .range(orchestra_range(orchestra))
                .filter(|(k, d)| {
                    d.profile == profile && !touched.contains_key(*k) && !d.members.is_empty()
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in gone {
                if let Some(d) = self.databases.get_mut(&k) {
                    d.members.clear();
                    d.rederive(lag_gate);
                }
                self.settle(&k);
                changed = true;
            }
        }
        for (key, pods) in touched {
            let d = self.slot(&key);
            if d.profile.is_empty() {
                d.profile = profile.to_string();
            }
            let mut db_changed = false;
            if complete {
                let before = d.members.len();
                d.members
                    .retain(|m| pods.iter().any(|p| p.name == m.pod.name));
                db_changed |= d.members.len() != before;
            }
            for pod in pods {
                match d.members.iter_mut().find(|m| m.pod.name == pod.name) {
                    Some(m) if m.pod == pod => {}
                    Some(m) => {
                        m.pod = pod;
                        db_changed = true;
                    }
                    None => {
                        d.members.push(Member {
                            pod,
                            probe: Probe::Pending,
                            probed_ms: None,
                        });
                        db_changed = true;
                    }
                }
            }
            if db_changed {
                d.members.sort_by(|a, b| a.pod.name.cmp(&b.pod.name));
                // Pushed one by one, three members would hold room for four (30 000 members:
                // ~3.5 MiB of slack).
                d.members.shrink_to_fit();
                d.rederive(lag_gate);
                changed = true;
            }
            self.settle(&key);
        }
        changed
    }
}
