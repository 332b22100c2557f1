//! The store's reads of many objects: whole lists (decoded or shared), list pages after a
//! continue token (see `paging`), counts and keys, each under one lock.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use serde_json::Value;

use super::{Frozen, Objects, Store};
use crate::error::ApiError;
use crate::paging::{self, Continue, Page, Paging};
use crate::resources::Resource;

impl Store {
    /// Objects of `res` in `ns` (all namespaces when `None`) and the list's resourceVersion.
    pub fn list(&self, res: &'static Resource, ns: Option<&str>) -> (Vec<Value>, u64) {
        self.list_filtered(res, ns, |_| true)
    }

    /// The objects `keep` accepts (it reads them in place), each decoded to a `Value`.
    pub fn list_filtered(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        keep: impl Fn(&Frozen) -> bool,
    ) -> (Vec<Value>, u64) {
        let (items, rv) = self.list_shared(res, ns, keep);
        (items.iter().map(|o| o.to_value()).collect(), rv)
    }

    /// Like `list_filtered`, sharing the stored objects (no copy): `keep` reads them in place.
    pub fn list_shared(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        keep: impl Fn(&Frozen) -> bool,
    ) -> (Vec<Arc<Frozen>>, u64) {
        let inner = self.lock();
        let items = match inner.objects.get(res.plural) {
            None => Vec::new(),
            Some(m) => match ns {
                Some(ns) => m
                    .range((ns.to_string(), String::new())..)
                    .take_while(|((n, _), _)| n == ns)
                    .map(|(_, v)| v)
                    .filter(|v| keep(v))
                    .cloned()
                    .collect(),
                None => m.values().filter(|v| keep(v)).cloned().collect(),
            },
        };
        (items, inner.rv)
    }

    /// One page of the objects of `res` in `ns` (all namespaces when `None`) that `keep` accepts:
    /// at most `paging.limit`, after `paging.from`'s key. A continued page keeps the first page's
    /// resourceVersion; a token older than the kept history is 410 Expired (see `paging`).
    /// `count_remaining` counts what is left (the API server does so only without selectors).
    pub fn list_page(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        paging: &Paging,
        count_remaining: bool,
        keep: impl Fn(&Frozen) -> bool,
    ) -> Result<Page<Value>, ApiError> {
        self.list_page_as(res, ns, paging, count_remaining, |o| o.to_value(), keep)
    }

    /// As [`Store::list_page`], the objects shared as the store keeps them (no decoding): for a
    /// plain list whose selector reads them in place (a list of 200 orchestras' pods decoded
    /// every pod to a `Value` only to serialize and drop it).
    pub fn list_page_shared(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        paging: &Paging,
        count_remaining: bool,
        keep: impl Fn(&Frozen) -> bool,
    ) -> Result<Page<Arc<Frozen>>, ApiError> {
        self.list_page_as(res, ns, paging, count_remaining, Arc::clone, keep)
    }

    /// A page of the objects `keep` accepts (it reads them in place), each made a `T` by
    /// `as_item`; what is only counted is never converted.
    fn list_page_as<T>(
        &self,
        res: &'static Resource,
        ns: Option<&str>,
        paging: &Paging,
        count_remaining: bool,
        as_item: impl Fn(&Arc<Frozen>) -> T,
        keep: impl Fn(&Frozen) -> bool,
    ) -> Result<Page<T>, ApiError> {
        let inner = self.lock();
        let rv = match &paging.from {
            Some(c) if c.rv + 1 < inner.oldest_rv => return Err(paging::too_old()),
            Some(c) => c.rv,
            None => inner.rv,
        };
        let empty = Objects::new();
        let all = inner.objects.get(res.plural).unwrap_or(&empty);
        let lower = match (&paging.from, ns) {
            (Some(c), Some(ns)) if c.after.0.as_str() < ns => {
                Bound::Included((ns.to_string(), String::new()))
            }
            (Some(c), _) => Bound::Excluded(c.after.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_string(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut matching = all
            .range((lower, Bound::Unbounded))
            .take_while(|((n, _), _)| ns.is_none_or(|ns| n == ns))
            .filter(|(_, v)| keep(v));
        let limit = paging.limit.unwrap_or(usize::MAX);
        let items: Vec<(&(String, String), T)> = matching
            .by_ref()
            .take(limit)
            .map(|(k, v)| (k, as_item(v)))
            .collect();
        let next = match items.last() {
            Some((key, _)) if items.len() == limit => {
                let mut rest = matching.peekable();
                rest.peek().is_some().then(|| {
                    let remaining = count_remaining.then(|| rest.count());
                    (
                        Continue {
                            rv,
                            after: (*key).clone(),
                        },
                        remaining,
                    )
                })
            }
            _ => None,
        };
        let (next, remaining) = match next {
            Some((c, n)) => (Some(c), n),
            None => (None, None),
        };
        Ok(Page {
            items: items.into_iter().map(|(_, v)| v).collect(),
            rv,
            next,
            remaining,
        })
    }

    /// Number of objects of `res`.
    pub fn count(&self, res: &'static Resource) -> usize {
        self.lock().objects.get(res.plural).map_or(0, BTreeMap::len)
    }

    /// The (namespace, name) of every object of `res` (no copy of any object).
    pub fn keys(&self, res: &'static Resource) -> Vec<(String, String)> {
        self.lock()
            .objects
            .get(res.plural)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Number of objects of `res` that `keep` accepts, and of all objects of `res`, looked at
    /// in place (no copy of any object).
    pub fn count_where(
        &self,
        res: &'static Resource,
        keep: impl Fn(&Frozen) -> bool,
    ) -> (usize, usize) {
        let inner = self.lock();
        inner.objects.get(res.plural).map_or((0, 0), |m| {
            (m.values().filter(|v| keep(v)).count(), m.len())
        })
    }
}
