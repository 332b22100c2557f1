//! Watches of what operations create and change, in one orchestra: the StatefulSets of each
//! discovered profile's databases, the Jobs baton started (`app.kubernetes.io/managed-by=baton`)
//! and the operation Leases (`baton-op-<database>`); and the campaigns' records (ConfigMaps in
//! the operations namespace). Followed like pods (quick backoff, complete
//! relists), but not part of the connection state: an identity that may not list Jobs still sees
//! its databases, and asks again only every minute.

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::watcher;
use tokio::sync::mpsc;

use super::objects::{self, MANAGED_BY_BATON};
use super::slim::SlimStatefulSet;
use super::watch::{Follow, Seen, follow};
use crate::config::ProfileConfig;
use crate::fleet::{CampaignInfo, DbRef, JobInfo, LeaseInfo, StatefulSetInfo};

/// After a 401/403, ask again this much later.
const FORBIDDEN_PAUSE: Duration = Duration::from_secs(60);

/// Follows the StatefulSets of `profile`'s databases.
pub async fn watch_statefulsets<M>(
    client: kube::Client,
    profile: ProfileConfig,
    wrap: impl Fn(Seen<(DbRef, StatefulSetInfo)>) -> M,
    out: mpsc::Sender<M>,
) {
    let cfg = watcher::Config::default()
        .labels(&profile.grouping_label)
        .page_size(500);
    let how = Follow {
        what: "statefulsets",
        forbidden_pause: Some(FORBIDDEN_PAUSE),
        trim: |s: &SlimStatefulSet| objects::statefulset(&s.0, &profile),
        wrap,
    };
    follow(Api::<SlimStatefulSet>::all(client), cfg, how, out).await;
}

/// Follows the Jobs baton started.
pub async fn watch_jobs<M>(
    client: kube::Client,
    wrap: impl Fn(Seen<(DbRef, JobInfo)>) -> M,
    out: mpsc::Sender<M>,
) {
    let cfg = watcher::Config::default().labels(MANAGED_BY_BATON);
    let how = Follow {
        what: "jobs",
        forbidden_pause: Some(FORBIDDEN_PAUSE),
        trim: objects::job,
        wrap,
    };
    follow(Api::<Job>::all(client), cfg, how, out).await;
}

/// Follows the operation Leases: baton labels them `app.kubernetes.io/managed-by=baton` (see
/// `ops::kube`), so the server filters out the nodes' and the control plane's Leases, which
/// renew every few seconds; those not named `baton-op-*` are dropped at once.
pub async fn watch_op_leases<M>(
    client: kube::Client,
    wrap: impl Fn(Seen<(DbRef, LeaseInfo)>) -> M,
    out: mpsc::Sender<M>,
) {
    let cfg = watcher::Config::default().labels(MANAGED_BY_BATON);
    let how = Follow {
        what: "leases",
        forbidden_pause: Some(FORBIDDEN_PAUSE),
        trim: objects::op_lease,
        wrap,
    };
    follow(Api::<Lease>::all(client), cfg, how, out).await;
}
/// Follows the campaigns' records in `namespace` (`operations.namespace`).
pub async fn watch_campaigns<M>(
    client: kube::Client,
    namespace: String,
    wrap: impl Fn(Seen<CampaignInfo>) -> M,
    out: mpsc::Sender<M>,
) {
    let cfg = watcher::Config::default()
        .labels(&format!("{MANAGED_BY_BATON},{}", objects::CAMPAIGN_LABEL));
    let how = Follow {
        what: "campaigns",
        forbidden_pause: Some(FORBIDDEN_PAUSE),
        trim: objects::campaign,
        wrap,
    };
    follow(
        Api::<ConfigMap>::namespaced(client, &namespace),
        cfg,
        how,
        out,
    )
    .await;
}

#[cfg(test)]
mod tests {
    /// Every orchestra keeps these tasks for its whole life: 200 orchestras, a dozen each. An
    /// object kept inline across an await (a Job was ~5 KiB of its watch task) or a request's
    /// future held between requests shows here.
    #[tokio::test]
    async fn the_tasks_each_orchestra_keeps_stay_small() {
        const MOST: usize = 2048;
        let cfg = kube::Config::new(http::Uri::from_static("https://127.0.0.1:1"));
        let client = kube::Client::try_from(cfg).unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel::<u8>(1);
        let profile = crate::config::builtin_profile("neo4j").unwrap();
        let (_live_tx, live) = tokio::sync::watch::channel(false);
        let sizes = [
            (
                "jobs",
                std::mem::size_of_val(&super::watch_jobs(client.clone(), |_| 0, tx.clone())),
            ),
            (
                "leases",
                std::mem::size_of_val(&super::watch_op_leases(client.clone(), |_| 0, tx.clone())),
            ),
            (
                "statefulsets",
                std::mem::size_of_val(&super::watch_statefulsets(
                    client.clone(),
                    profile.clone(),
                    |_| 0,
                    tx.clone(),
                )),
            ),
            (
                "pods",
                std::mem::size_of_val(&crate::source::pods::watch_pods(
                    client.clone(),
                    profile.clone(),
                    |_| 0,
                    tx.clone(),
                )),
            ),
            (
                "zones",
                std::mem::size_of_val(&crate::source::pods::list_zones(
                    client.clone(),
                    |_| 0,
                    tx.clone(),
                )),
            ),
            (
                "heartbeat",
                std::mem::size_of_val(&crate::source::watch::heartbeat(
                    client.clone(),
                    live,
                    |_| 0,
                    tx.clone(),
                )),
            ),
            (
                "access",
                std::mem::size_of_val(&crate::source::access::keep_asking(
                    client.clone(),
                    |_| 0,
                    tx.clone(),
                )),
            ),
        ];
        for (task, size) in sizes {
            assert!(
                size <= MOST,
                "the {task} task is {size} bytes (at most {MOST})"
            );
        }
    }
}
