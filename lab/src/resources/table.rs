//! The columns `kubectl get` shows: `meta.k8s.io/v1` Table responses, each resource's column
//! definitions and cells (pod STATUS, ages as kubectl prints them), and `includeObject`.

use serde_json::{Value, json};

use super::{Resource, stored, to_view};

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn n(v: &Value, path: &[&str]) -> i64 {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// A duration as kubectl shows ages: 45s, 12m, 3h5m, 4d.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=599 => format!("{}m{}s", s / 60, s % 60),
        600..=10_799 => format!("{}m", s / 60),
        10_800..=86_399 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d", s / 86_400),
    }
}

fn age_of(ts: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => human_age((now - t.with_timezone(&chrono::Utc)).num_seconds()),
        Err(_) => "<unknown>".into(),
    }
}

/// The pod's STATUS column as kubectl computes it.
pub fn pod_status_reason(pod: &Value) -> String {
    if !s(pod, &["metadata", "deletionTimestamp"]).is_empty() {
        return "Terminating".into();
    }
    let mut reason = s(pod, &["status", "phase"]).to_string();
    if reason.is_empty() {
        reason = "Pending".into();
    }
    if let Some(cs) = pod["status"]["containerStatuses"].as_array() {
        for c in cs {
            let waiting = s(c, &["state", "waiting", "reason"]);
            let terminated = s(c, &["state", "terminated", "reason"]);
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if !terminated.is_empty() {
                reason = terminated.to_string();
            }
        }
    }
    reason
}

fn col(name: &str, ty: &str, priority: i64, description: &str) -> Value {
    json!({"name": name, "type": ty, "format": if name == "Name" {"name"} else {""}, "description": description, "priority": priority})
}

/// Column definitions and cells for `kubectl get` of `res`.
pub fn table_columns(res: &Resource) -> Vec<Value> {
    match res.plural {
        "pods" => vec![
            col("Name", "string", 0, "Name of the pod"),
            col("Ready", "string", 0, "ready containers / containers"),
            col(
                "Status",
                "string",
                0,
                "The aggregate status of the containers",
            ),
            col(
                "Restarts",
                "string",
                0,
                "The number of times the containers were restarted",
            ),
            col("Age", "string", 0, "Time since creation"),
            col("IP", "string", 1, "Pod IP"),
            col("Node", "string", 1, "Node the pod runs on"),
        ],
        "statefulsets" => vec![
            col("Name", "string", 0, "Name"),
            col("Ready", "string", 0, "ready replicas / replicas"),
            col("Age", "string", 0, "Time since creation"),
            col("Containers", "string", 1, "Container names"),
            col("Images", "string", 1, "Container images"),
        ],
        "jobs" => vec![
            col("Name", "string", 0, "Name"),
            col("Status", "string", 0, "Job status"),
            col("Completions", "string", 0, "succeeded / completions"),
            col("Duration", "string", 0, "How long the job ran"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "services" => vec![
            col("Name", "string", 0, "Name"),
            col("Type", "string", 0, "Service type"),
            col("Cluster-IP", "string", 0, "Cluster IP"),
            col("External-IP", "string", 0, "External IP"),
            col("Port(s)", "string", 0, "Ports"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "namespaces" => vec![
            col("Name", "string", 0, "Name"),
            col("Status", "string", 0, "Phase"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "nodes" => vec![
            col("Name", "string", 0, "Name"),
            col("Status", "string", 0, "Ready condition"),
            col("Roles", "string", 0, "Node roles"),
            col("Age", "string", 0, "Time since creation"),
            col("Version", "string", 0, "Kubelet version"),
        ],
        "configmaps" => vec![
            col("Name", "string", 0, "Name"),
            col("Data", "string", 0, "Number of keys"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "secrets" => vec![
            col("Name", "string", 0, "Name"),
            col("Type", "string", 0, "Secret type"),
            col("Data", "string", 0, "Number of keys"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "events" => vec![
            col("Last Seen", "string", 0, "Time of the last occurrence"),
            col("Type", "string", 0, "Normal or Warning"),
            col("Reason", "string", 0, "Reason"),
            col("Object", "string", 0, "The object the event is about"),
            col("Message", "string", 0, "Message"),
        ],
        "serviceaccounts" => vec![
            col("Name", "string", 0, "Name"),
            col("Secrets", "string", 0, "Secrets of the service account"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "roles" => vec![
            col("Name", "string", 0, "Name"),
            col("Created At", "string", 0, "When the role was created"),
        ],
        "rolebindings" => vec![
            col("Name", "string", 0, "Name"),
            col("Role", "string", 0, "The role it binds"),
            col("Age", "string", 0, "Time since creation"),
        ],
        "leases" => vec![
            col("Name", "string", 0, "Name"),
            col("Holder", "string", 0, "Holder identity"),
            col("Age", "string", 0, "Time since creation"),
        ],
        _ => vec![
            col("Name", "string", 0, "Name"),
            col("Age", "string", 0, "Time since creation"),
        ],
    }
}

pub fn table_cells(res: &Resource, o: &Value, now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let name = json!(s(o, &["metadata", "name"]));
    let age = json!(age_of(s(o, &["metadata", "creationTimestamp"]), now));
    match res.plural {
        "pods" => {
            let statuses = o["status"]["containerStatuses"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let total = o["spec"]["containers"].as_array().map_or(0, Vec::len);
            let ready = statuses
                .iter()
                .filter(|c| c["ready"] == json!(true))
                .count();
            let restarts: i64 = statuses.iter().map(|c| n(c, &["restartCount"])).sum();
            let ip = s(o, &["status", "podIP"]);
            let node = s(o, &["spec", "nodeName"]);
            vec![
                name,
                json!(format!("{ready}/{total}")),
                json!(pod_status_reason(o)),
                json!(restarts.to_string()),
                age,
                json!(if ip.is_empty() { "<none>" } else { ip }),
                json!(if node.is_empty() { "<none>" } else { node }),
            ]
        }
        "statefulsets" => {
            let containers = o["spec"]["template"]["spec"]["containers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let names: Vec<&str> = containers
                .iter()
                .map(|c| c["name"].as_str().unwrap_or(""))
                .collect();
            let images: Vec<&str> = containers
                .iter()
                .map(|c| c["image"].as_str().unwrap_or(""))
                .collect();
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    n(o, &["status", "readyReplicas"]),
                    n(o, &["spec", "replicas"])
                )),
                age,
                json!(names.join(",")),
                json!(images.join(",")),
            ]
        }
        "jobs" => {
            let conds = o["status"]["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let done = |t: &str| {
                conds
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if done("Complete") {
                "Complete"
            } else if done("Failed") {
                "Failed"
            } else {
                "Running"
            };
            let start = s(o, &["status", "startTime"]);
            let end = s(o, &["status", "completionTime"]);
            let duration = match (chrono::DateTime::parse_from_rfc3339(start), end) {
                (Ok(st), "") => human_age((now - st.with_timezone(&chrono::Utc)).num_seconds()),
                (Ok(st), e) => chrono::DateTime::parse_from_rfc3339(e)
                    .map(|e| human_age((e - st).num_seconds()))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let completions = o["spec"]["completions"].as_i64().unwrap_or(1);
            vec![
                name,
                json!(status),
                json!(format!("{}/{completions}", n(o, &["status", "succeeded"]))),
                json!(duration),
                age,
            ]
        }
        "services" => {
            let ports: Vec<String> = o["spec"]["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            format!(
                                "{}/{}",
                                n(p, &["port"]),
                                p["protocol"].as_str().unwrap_or("TCP")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ty = s(o, &["spec", "type"]);
            let ip = s(o, &["spec", "clusterIP"]);
            vec![
                name,
                json!(if ty.is_empty() { "ClusterIP" } else { ty }),
                json!(if ip.is_empty() { "None" } else { ip }),
                json!("<none>"),
                json!(ports.join(",")),
                age,
            ]
        }
        "namespaces" => vec![name, json!("Active"), age],
        "nodes" => vec![
            name,
            json!("Ready"),
            json!("<none>"),
            age,
            json!(s(o, &["status", "nodeInfo", "kubeletVersion"])),
        ],
        "configmaps" => {
            let keys = o["data"].as_object().map_or(0, |d| d.len())
                + o["binaryData"].as_object().map_or(0, |d| d.len());
            vec![name, json!(keys.to_string()), age]
        }
        "secrets" => {
            let ty = s(o, &["type"]);
            vec![
                name,
                json!(if ty.is_empty() { "Opaque" } else { ty }),
                json!(o["data"].as_object().map_or(0, |d| d.len()).to_string()),
                age,
            ]
        }
        "events" => {
            // As the API server prints it: lastTimestamp, else firstTimestamp, else eventTime;
            // the series' last observation when the event repeats.
            let last = [
                &["series", "lastObservedTime"][..],
                &["lastTimestamp"],
                &["firstTimestamp"],
                &["eventTime"],
            ]
            .into_iter()
            .map(|p| s(o, p))
            .find(|t| !t.is_empty())
            .unwrap_or("");
            let kind = s(o, &["involvedObject", "kind"]).to_ascii_lowercase();
            vec![
                json!(age_of(last, now)),
                json!(s(o, &["type"])),
                json!(s(o, &["reason"])),
                json!(format!("{kind}/{}", s(o, &["involvedObject", "name"]))),
                json!(s(o, &["message"])),
            ]
        }
        "leases" => vec![name, json!(s(o, &["spec", "holderIdentity"])), age],
        "serviceaccounts" => {
            let secrets = o["secrets"].as_array().map_or(0, Vec::len);
            vec![name, json!(secrets), age]
        }
        "roles" => vec![name, json!(s(o, &["metadata", "creationTimestamp"]))],
        "rolebindings" => {
            let role = format!(
                "{}/{}",
                s(o, &["roleRef", "kind"]),
                s(o, &["roleRef", "name"])
            );
            vec![name, json!(role), age]
        }
        _ => vec![name, age],
    }
}

/// What each row of a Table carries, from the `includeObject` query parameter, as the API
/// server does: `Metadata` (the default) a PartialObjectMetadata, `Object` the whole object as
/// the client's API version shows it (`kubectl get --sort-by=.status.startTime` sorts on it),
/// `None` nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    /// The `includeObject` parameter; a value the API server would refuse is an error.
    pub fn parse(v: Option<&str>) -> Result<Self, String> {
        match v {
            None | Some("" | "Metadata") => Ok(Self::Metadata),
            Some("None") => Ok(Self::None),
            Some("Object") => Ok(Self::Object),
            Some(other) => Err(format!(
                "includeObject: Unsupported value: \"{other}\": supported values: \"None\", \"Metadata\", \"Object\""
            )),
        }
    }
}

/// A `meta.k8s.io/v1` Table of `items` as `view` shows them; `with_columns` false for watch
/// events after the first.
pub fn table(
    view: &'static Resource,
    items: &[Value],
    rv: Option<u64>,
    with_columns: bool,
    include: Include,
) -> Value {
    let res = stored(view);
    let now = chrono::Utc::now();
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let mut row = json!({ "cells": table_cells(res, o, now) });
            match include {
                // An empty RawExtension: the API server writes `null`.
                Include::None => row["object"] = Value::Null,
                Include::Metadata => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": o["metadata"],
                    });
                }
                Include::Object => row["object"] = to_view(view, o.clone()),
            }
            row
        })
        .collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": if with_columns { json!(table_columns(res)) } else { json!([]) },
        "rows": rows,
    });
    if let Some(rv) = rv {
        t["metadata"]["resourceVersion"] = json!(rv.to_string());
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::pods;

    #[test]
    fn table_rows_carry_what_include_object_asks() {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p-0", "namespace": "ns", "creationTimestamp": "2025-01-01T00:00:00Z"},
            "status": {"phase": "Running", "startTime": "2025-01-01T00:00:01Z"},
        });
        let items = std::slice::from_ref(&pod);
        let full = table(pods(), items, None, true, Include::Object);
        assert_eq!(
            full["rows"][0]["object"]["status"]["startTime"],
            "2025-01-01T00:00:01Z"
        );
        let meta = table(pods(), items, None, true, Include::Metadata);
        assert_eq!(meta["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert!(meta["rows"][0]["object"]["status"].is_null());
        let none = table(pods(), items, None, true, Include::None);
        assert!(none["rows"][0]["object"].is_null());
        assert_eq!(Include::parse(None), Ok(Include::Metadata));
        assert!(Include::parse(Some("Everything")).is_err());
    }
}
