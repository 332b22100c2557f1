//! The Kubernetes Events of the open database: one list per object that matters — each member
//! pod and each StatefulSet — selected on the server by `involvedObject.name`, so a database
//! never gets the events of another whose name starts the same (`orders` / `orders-archive`)
//! and baton never reads a whole namespace's events. The newest `KEEP`, oldest first.

use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::{Api, ListParams};

use super::objects;
use crate::fleet::EventLine;

/// Events kept per database.
pub const KEEP: usize = 20;

/// The events about the objects `names` in `namespace`; None when they could not be read (what
/// is shown stays).
pub async fn of_objects(
    client: &kube::Client,
    namespace: &str,
    names: &[String],
) -> Option<Vec<EventLine>> {
    let api: Api<KubeEvent> = Api::namespaced(client.clone(), namespace);
    let lists = futures::future::join_all(names.iter().map(|name| {
        let api = &api;
        async move {
            api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
                .await
        }
    }))
    .await;
    let mut lines = Vec::new();
    for list in lists {
        match list {
            Ok(list) => lines.extend(list.items.into_iter().map(objects::event_line)),
            Err(e) => {
                tracing::debug!(error = %e, %namespace, "events");
                return None;
            }
        }
    }
    Some(newest(lines))
}

/// The newest `KEEP` lines, oldest first.
fn newest(mut lines: Vec<EventLine>) -> Vec<EventLine> {
    lines.sort_by_key(|l| l.at_ms);
    let drop = lines.len().saturating_sub(KEEP);
    lines.drain(..drop);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_in_time_order() {
        let line = |at_ms| EventLine {
            at_ms,
            kind: "Normal".into(),
            reason: "Started".into(),
            object: "pod/orders-1-0".into(),
            message: String::new(),
        };
        let lines: Vec<EventLine> = (0..30).rev().map(line).collect();
        let kept = newest(lines);
        assert_eq!(kept.len(), KEEP);
        assert_eq!(kept.first().map(|l| l.at_ms), Some(10));
        assert_eq!(kept.last().map(|l| l.at_ms), Some(29));
    }
}
