//! Pod and node watches of one orchestra: the pods of each discovered profile (grouping label,
//! claimed by image), followed with a kube runtime watcher; and node → zone, relisted every
//! minute (nodes rarely move; without permission to list nodes the zone column stays empty).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::runtime::watcher;
use tokio::sync::mpsc;

use super::objects;
use super::slim::SlimPod;
use super::watch::{Follow, Seen, follow};
use crate::config::ProfileConfig;
use crate::fleet::{DbRef, PodInfo};

/// Follows the pods of `profile`'s databases.
pub async fn watch_pods<M>(
    client: kube::Client,
    profile: ProfileConfig,
    wrap: impl Fn(Seen<(DbRef, PodInfo)>) -> M,
    out: mpsc::Sender<M>,
) {
    let cfg = watcher::Config::default()
        .labels(&profile.grouping_label)
        .page_size(500);
    let how = Follow {
        what: "pods",
        // The pods are what the connection state is made of: keep asking quickly.
        forbidden_pause: None,
        trim: |p: &SlimPod| objects::pod(&p.0, &profile),
        wrap,
    };
    follow(Api::<SlimPod>::all(client), cfg, how, out).await;
}

/// Node → zone, every minute.
pub async fn list_zones<M>(
    client: kube::Client,
    wrap: impl Fn(HashMap<String, String>) -> M,
    out: mpsc::Sender<M>,
) {
    let nodes: Api<Node> = Api::all(client);
    loop {
        // The request boxed and the list turned into the map by a plain function: neither stays
        // in this task between lists (it lives as long as the orchestra is watched).
        let zones = zones_of(Box::pin(nodes.list_metadata(&ListParams::default())).await);
        if let Some(zones) = zones
            && out.send(wrap(zones)).await.is_err()
        {
            return;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

/// Node → zone from a node list (None when it could not be listed).
fn zones_of(
    list: kube::Result<kube::api::ObjectList<kube::core::PartialObjectMeta<Node>>>,
) -> Option<HashMap<String, String>> {
    let list = list.ok()?;
    Some(
        list.items
            .into_iter()
            .filter_map(|n| {
                let zone = n
                    .metadata
                    .labels
                    .as_ref()?
                    .get("topology.kubernetes.io/zone")?
                    .clone();
                Some((n.metadata.name?, zone))
            })
            .collect(),
    )
}
