//! The Kubernetes Events of the open database: the namespace's events about objects whose names
//! start with the database's name, the newest `KEEP`, oldest first.

use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::api::{Api, ListParams};

use super::objects;
use crate::fleet::{DbKey, EventLine};

/// Events kept per database.
pub const KEEP: usize = 20;

/// The events about the database's objects; None when they could not be read (what is shown
/// stays).
pub async fn of_database(client: &kube::Client, key: &DbKey) -> Option<Vec<EventLine>> {
    let api: Api<KubeEvent> = Api::namespaced(client.clone(), &key.namespace);
    match api.list(&ListParams::default()).await {
        Ok(list) => Some(newest(
            list.items
                .into_iter()
                .filter(|e| {
                    e.involved_object
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with(&key.name))
                })
                .map(objects::event_line)
                .collect(),
        )),
        Err(e) => {
            tracing::debug!(error = %e, db = %key.id(), "events");
            None
        }
    }
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
