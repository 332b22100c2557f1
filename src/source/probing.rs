//! Probes every member of one database over the orchestra's route, with the credential gate of
//! `route`, bounded (a fleet-wide limit and a per-orchestra limit on proxied probes; the open
//! database waits for neither, nor for the first lists of `first_lists`), and reports each
//! member's answer, how the route went and whether the database looks healthy. A slow member
//! delays only its own database.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::first_lists::FirstLists;
use super::now_ms;
use super::route::{Reached, Route};
use crate::config::Credentials;
use crate::fleet::{self, DbRef, MemberInput, Probe};
use crate::probe::credentials::Resolver;
use crate::probe::{self, Endpoint};

/// One database's probe round.
pub struct ProbeJob {
    /// The API server's pod proxy (none for a static inventory).
    pub proxy: Option<crate::guard::proxy::ProxyHttp>,
    pub http: crate::guard::ProbeHttp,
    pub route: Route,
    pub db: DbRef,
    pub members: Vec<Endpoint>,
    pub timeout: Duration,
    pub lag_gate: u64,
    pub limit: Arc<Semaphore>,
    pub local_limit: Arc<Semaphore>,
    /// The database on screen: its probes wait for no permit (its few members cannot flood
    /// anything, and a queue of timing-out background probes must not freeze the profile).
    pub open: bool,
    pub resolver: Arc<Resolver>,
    pub credentials: Credentials,
    /// Off screen, the round waits until every orchestra answered its first list.
    pub first_lists: FirstLists,
}

/// What a probe round found.
#[derive(Debug, Clone)]
pub struct Probed {
    pub db: DbRef,
    /// (pod, probe) per member.
    pub results: Vec<(String, Probe)>,
    /// How each member was reached, for the route.
    pub reached: Vec<Reached>,
    pub healthy: bool,
    /// When the round ended, Unix ms.
    pub at_ms: u64,
}

pub async fn probe_database(job: ProbeJob) -> Probed {
    if !job.open {
        job.first_lists.wait().await;
    }
    let auth = if job.route.sends_credentials() {
        job.resolver.get(&job.credentials, &job.db.namespace).await
    } else {
        Ok(None)
    };
    let auth = &auth;
    let outcomes = futures::future::join_all(job.members.iter().map(|ep| {
        let job = &job;
        async move {
            // Proxied probes (and tries that may fall back to the proxy) are requests to the
            // API server (streams of its one HTTP/2 connection, or connections of their own
            // over HTTP/1.1): this orchestra's share bounds them. Taken before a fleet permit,
            // so a big orchestra's queue never sits on fleet permits.
            let _local = if job.open || job.route == Route::Direct {
                None
            } else {
                job.local_limit.acquire().await.ok()
            };
            let _permit = if job.open {
                None
            } else {
                job.limit.acquire().await.ok()
            };
            if !job.route.tries_direct() {
                return (via_proxy(job, ep).await, Reached::Proxy);
            }
            match probe::direct(&job.http, ep, auth).await {
                // A refusal (credentials go once direct is chosen) still proves the route.
                Ok(p) => (p, Reached::Direct),
                Err(probe::Unreachable(why)) if job.route == Route::Direct => (
                    Probe::Error(format!("unreachable: {why}")),
                    Reached::DirectFailed,
                ),
                Err(_) => (via_proxy(job, ep).await, Reached::DirectFailed),
            }
        }
    }))
    .await;
    let refused = outcomes.iter().any(|(p, how)| {
        *how == Reached::Direct
            && matches!(p, Probe::Error(e) if e.starts_with("HTTP 401") || e.starts_with("HTTP 403"))
    });
    if refused && matches!(auth, Ok(Some(_))) {
        job.resolver
            .refused(&job.credentials, &job.db.namespace)
            .await;
    }
    let (probes, reached): (Vec<Probe>, Vec<Reached>) = outcomes.into_iter().unzip();
    let results: Vec<(String, Probe)> = job
        .members
        .iter()
        .map(|ep| ep.pod.clone())
        .zip(probes)
        .collect();
    let inputs: Vec<MemberInput> = results
        .iter()
        .map(|(name, probe)| MemberInput {
            name: name.clone(),
            pod_ready: true,
            probe: probe.clone(),
        })
        .collect();
    let healthy = fleet::derive(&inputs, job.lag_gate).health == fleet::Health::Healthy;
    Probed {
        db: job.db,
        results,
        reached,
        healthy,
        at_ms: now_ms(),
    }
}

async fn via_proxy(job: &ProbeJob, ep: &Endpoint) -> Probe {
    match &job.proxy {
        Some(proxy) => probe::via_proxy(proxy, ep, job.timeout).await,
        None => Probe::Error("unreachable directly, and no API server to proxy through".into()),
    }
}
