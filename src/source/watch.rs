//! Watching Kubernetes: kube runtime watchers with a quick backoff (an API server that comes
//! back is followed again within seconds), turned into what the supervisor needs — a complete
//! list after every (re)list, so what is gone leaves no ghost; single changes; and failures as
//! a connection state, never an exit. Also the API server's heartbeat.

use std::fmt::Debug;
use std::time::Duration;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, utils::Backoff};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};

use super::connection::Failure;

/// What one watch saw, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<T> {
    /// Everything there is (a first list or a relist).
    Listed(Vec<T>),
    Applied(T),
    Deleted(T),
    Failed(Failure),
}

/// Retries a broken watch quickly (250 ms doubling to 2 s, jittered) so an API server that comes
/// back is live again within seconds; kind enough for one client per cluster.
pub struct QuickBackoff {
    next: Duration,
}

impl QuickBackoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(2);

    pub fn new() -> Self {
        Self { next: Self::FIRST }
    }
}

impl Default for QuickBackoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Iterator for QuickBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(d.mul_f64(0.8 + rand::random::<f64>() * 0.4))
    }
}

impl Backoff for QuickBackoff {
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// A watch error as a failure: 401/403 is unauthorized; otherwise the most telling reason.
pub fn failure(e: &watcher::Error) -> Failure {
    let api = match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => match k {
            kube::Error::Api(s) => Some((s.code, s.message.clone())),
            _ => None,
        },
        watcher::Error::WatchError(s) => Some((s.code, s.message.clone())),
        watcher::Error::NoResourceVersion => None,
    };
    match api {
        Some((401 | 403, m)) => Failure::Unauthorized(crate::clip(&m, 120)),
        Some((code, m)) => Failure::Other(crate::clip(&format!("{code} {m}"), 120)),
        // The innermost cause says the most ("connection refused", "connection reset").
        None => Failure::Other(crate::probe::cause_reason(e)),
    }
}

/// How to follow one kind of object.
pub struct Follow<F, W> {
    /// For logs: `pods`, `statefulsets`, ….
    pub what: &'static str,
    /// After a 401/403, wait this long before asking again (for what is nice to have: an
    /// identity that may not list Jobs should not ask every 2 s); None: the quick backoff.
    pub forbidden_pause: Option<Duration>,
    /// The object trimmed, or None when it is not one of ours.
    pub trim: F,
    /// What the supervisor is told.
    pub wrap: W,
}

/// Follows the objects `cfg` selects until `out` is closed.
pub async fn follow<K, T, M, F, W>(
    api: Api<K>,
    cfg: watcher::Config,
    how: Follow<F, W>,
    out: mpsc::Sender<M>,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + 'static,
    K::DynamicType: Default,
    F: Fn(&K) -> Option<T>,
    W: Fn(Seen<T>) -> M,
{
    let mut stream = watcher::watcher(api, cfg)
        .backoff(QuickBackoff::new())
        .boxed();
    let mut listing: Vec<T> = Vec::new();
    loop {
        // The event is moved into a plain function at once: an object borrowed here, or the
        // `while let` scrutinee, would be kept in this task across the send below (a Job inline
        // is kilobytes, in each of 200 orchestras' tasks).
        let Some(item) = stream.next().await else {
            return;
        };
        let Some((seen, pause)) = judge(item, &how, &mut listing) else {
            continue;
        };
        if out.send((how.wrap)(seen)).await.is_err() {
            return;
        }
        if let Some(p) = pause {
            tokio::time::sleep(p).await;
        }
    }
}

/// What one watcher event means for the supervisor (None: nothing yet, or not one of ours),
/// and how long to pause after a refusal.
fn judge<K, T, F, W>(
    item: Result<Event<K>, watcher::Error>,
    how: &Follow<F, W>,
    listing: &mut Vec<T>,
) -> Option<(Seen<T>, Option<Duration>)>
where
    F: Fn(&K) -> Option<T>,
{
    let mut pause = None;
    let seen = match item {
        Ok(Event::Init) => {
            listing.clear();
            return None;
        }
        Ok(Event::InitApply(k)) => {
            listing.extend((how.trim)(&k));
            return None;
        }
        Ok(Event::InitDone) => Seen::Listed(std::mem::take(listing)),
        Ok(Event::Apply(k)) => Seen::Applied((how.trim)(&k)?),
        Ok(Event::Delete(k)) => Seen::Deleted((how.trim)(&k)?),
        // The watch outlived the server's history: the watcher relists at once; the
        // connection is fine.
        Err(watcher::Error::WatchError(s)) if s.code == 410 => {
            tracing::debug!(what = how.what, "watch expired; relisting");
            return None;
        }
        Err(e) => {
            tracing::debug!(what = how.what, error = %e, "watch");
            let f = failure(&e);
            if matches!(f, Failure::Unauthorized(_)) {
                pause = how.forbidden_pause;
            }
            Seen::Failed(f)
        }
    };
    Some((seen, pause))
}

/// Asks the API server `/version`: every 15 s while live (a hung connection is noticed), every
/// second while not (recovery is noticed even when a resumed watch has nothing to say).
pub async fn heartbeat<M>(
    client: kube::Client,
    mut live: watch::Receiver<bool>,
    wrap: impl Fn(Result<(), Failure>) -> M,
    out: mpsc::Sender<M>,
) {
    loop {
        let pause = if *live.borrow() {
            Duration::from_secs(15)
        } else {
            Duration::from_secs(1)
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            // Went stale: start asking every second.
            changed = live.changed() => {
                if changed.is_err() {
                    return;
                }
                continue;
            }
        }
        let answer = match tokio::time::timeout(
            Duration::from_secs(5),
            Box::pin(client.apiserver_version()),
        )
        .await
        {
            Err(_) => Err(Failure::Other("no answer within 5s".into())),
            Ok(Err(kube::Error::Api(s))) if s.code == 401 || s.code == 403 => {
                Err(Failure::Unauthorized(crate::clip(&s.message, 120)))
            }
            Ok(Err(e)) => Err(Failure::Other(crate::probe::kube_reason(&e))),
            Ok(Ok(_)) => Ok(()),
        };
        if out.send(wrap(answer)).await.is_err() {
            return;
        }
    }
}
