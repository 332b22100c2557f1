//! The campaign's coordinator lock: the Lease `baton-campaign-<name>` in the home orchestra's
//! operations namespace. One coordinator holds it and renews it; when it dies (SSH drop,
//! `kill -9`) the Lease goes stale and `baton campaign resume` may take it over, at the
//! resourceVersion read, so of two bastions racing to resume exactly one wins (the other's
//! write is a 409). A coordinator that stops (finished, paused, halted) releases it.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, PostParams};
use serde_json::json;

/// The Lease's name prefix; the campaign's name follows.
pub const PREFIX: &str = "baton-campaign-";
/// A holder that stopped renewing this long ago is gone.
pub const DURATION_S: u64 = 15;
/// How often the holder renews.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

/// The Lease as read: who holds it and whether they still renew it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub resource_version: String,
    /// Empty: released.
    pub holder: String,
    pub renew_ms: Option<u64>,
    pub duration_s: u64,
}

impl Holder {
    /// Held by a coordinator that renews it (not released, not stale) at `now_ms`.
    pub fn live(&self, now_ms: u64) -> bool {
        !self.holder.is_empty()
            && self
                .renew_ms
                .is_some_and(|r| now_ms.saturating_sub(r) <= self.duration_s.max(1) * 1000)
    }

    /// Seconds since the last renewal.
    pub fn age_s(&self, now_ms: u64) -> u64 {
        self.renew_ms
            .map_or(u64::MAX, |r| now_ms.saturating_sub(r) / 1000)
    }
}

/// Why the lock was not taken or kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockError {
    /// Another coordinator holds it and renews it (or won the race for it).
    Held(String),
    /// Its holder stopped renewing: taking it over needs the engineer's word.
    Stale(Holder),
    Failed(String),
}

impl std::fmt::Display for LockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Held(h) => write!(f, "the campaign is coordinated by {h}"),
            Self::Stale(h) => write!(
                f,
                "the campaign's coordinator {} stopped renewing its Lease",
                h.holder
            ),
            Self::Failed(m) => f.write_str(m),
        }
    }
}

fn micro(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(0))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn object(ns: &str, campaign: &str, holder: &str, now_ms: u64, rv: Option<&str>) -> Lease {
    let mut v = json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": format!("{PREFIX}{campaign}"),
            "namespace": ns,
            "labels": {"app.kubernetes.io/managed-by": "baton", "baton.io/campaign": campaign},
        },
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": DURATION_S,
            "acquireTime": micro(now_ms),
            "renewTime": micro(now_ms),
        },
    });
    if let Some(rv) = rv {
        v["metadata"]["resourceVersion"] = json!(rv);
    }
    serde_json::from_value(v).unwrap_or_default()
}

fn holder_of(l: &Lease) -> Holder {
    let spec = l.spec.clone().unwrap_or_default();
    Holder {
        resource_version: l.metadata.resource_version.clone().unwrap_or_default(),
        holder: spec.holder_identity.unwrap_or_default(),
        renew_ms: spec
            .renew_time
            .and_then(|t| u64::try_from(t.0.as_millisecond()).ok()),
        duration_s: spec
            .lease_duration_seconds
            .and_then(|d| u64::try_from(d).ok())
            .unwrap_or(DURATION_S),
    }
}

/// The campaign's Lease in `ns`, if there is one.
pub async fn look(
    client: &kube::Client,
    ns: &str,
    campaign: &str,
) -> Result<Option<Holder>, String> {
    let api: Api<Lease> = Api::namespaced(client.clone(), ns);
    match api.get_opt(&format!("{PREFIX}{campaign}")).await {
        Ok(l) => Ok(l.as_ref().map(holder_of)),
        Err(e) => Err(crate::probe::kube_reason(&e)),
    }
}

/// The lock, held.
pub struct Lock {
    api: Api<Lease>,
    ns: String,
    campaign: String,
    pub holder: String,
    rv: String,
    renewed: Instant,
}

impl Lock {
    /// Takes the lock as `holder`: creates the Lease, or takes one released, or (with
    /// `take_over`) one whose holder stopped renewing — always at the version read.
    pub async fn take(
        client: &kube::Client,
        ns: &str,
        campaign: &str,
        holder: &str,
        take_over: bool,
        now_ms: u64,
    ) -> Result<Self, LockError> {
        let api: Api<Lease> = Api::namespaced(client.clone(), ns);
        let name = format!("{PREFIX}{campaign}");
        let pp = PostParams::default();
        let current = api
            .get_opt(&name)
            .await
            .map_err(|e| LockError::Failed(crate::probe::kube_reason(&e)))?;
        let written = match current.as_ref().map(holder_of) {
            None => {
                api.create(&pp, &object(ns, campaign, holder, now_ms, None))
                    .await
            }
            Some(h) if h.live(now_ms) && h.holder != holder => {
                return Err(LockError::Held(h.holder));
            }
            Some(h) if !h.holder.is_empty() && h.holder != holder && !take_over => {
                return Err(LockError::Stale(h));
            }
            Some(h) => {
                api.replace(
                    &name,
                    &pp,
                    &object(ns, campaign, holder, now_ms, Some(&h.resource_version)),
                )
                .await
            }
        };
        match written {
            Ok(l) => Ok(Self {
                api,
                ns: ns.to_string(),
                campaign: campaign.to_string(),
                holder: holder.to_string(),
                rv: l.metadata.resource_version.unwrap_or_default(),
                renewed: Instant::now(),
            }),
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let who = api
                    .get_opt(&name)
                    .await
                    .ok()
                    .flatten()
                    .map(|l| holder_of(&l).holder)
                    .filter(|h| !h.is_empty())
                    .unwrap_or_else(|| "another baton".into());
                Err(LockError::Held(format!("{who} (it took the Lease first)")))
            }
            Err(e) => Err(LockError::Failed(crate::probe::kube_reason(&e))),
        }
    }

    /// Renews when due. A 409 is a lost lock: someone took the Lease; a blip is retried at the
    /// next call.
    pub async fn renew(&mut self, now_ms: u64) -> Result<(), LockError> {
        if self.renewed.elapsed() < RENEW_EVERY {
            return Ok(());
        }
        self.write(&self.holder.clone(), now_ms).await
    }

    async fn write(&mut self, holder: &str, now_ms: u64) -> Result<(), LockError> {
        let name = format!("{PREFIX}{}", self.campaign);
        let lease = object(&self.ns, &self.campaign, holder, now_ms, Some(&self.rv));
        match self
            .api
            .replace(&name, &PostParams::default(), &lease)
            .await
        {
            Ok(l) => {
                self.rv = l.metadata.resource_version.unwrap_or_default();
                self.renewed = Instant::now();
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => {
                let who = self
                    .api
                    .get_opt(&name)
                    .await
                    .ok()
                    .flatten()
                    .map(|l| holder_of(&l).holder)
                    .unwrap_or_default();
                Err(LockError::Held(if who.is_empty() {
                    "someone else (the Lease changed)".into()
                } else {
                    who
                }))
            }
            Err(e) => Err(LockError::Failed(crate::probe::kube_reason(&e))),
        }
    }

    /// Gives the lock up (holder emptied): any baton may resume at once.
    pub async fn release(mut self, now_ms: u64) -> Result<(), LockError> {
        self.write("", now_ms).await
    }
}
