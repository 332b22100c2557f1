//! The operation's Lease on Kubernetes: its name, the object baton writes (holder, duration,
//! the record in an annotation), what baton reads back from one, and a cancel request on it.

use k8s_openapi::api::coordination::v1::Lease;
use serde_json::json;

use super::{KubeExecutor, MANAGED_BY, RECORD_ANNOTATION, micro_now};
use crate::ops::executor::ExecError;
use crate::ops::record::{LEASE_SECONDS, LeaseObs, Record};

impl KubeExecutor {
    pub(super) fn lease_name(&self) -> String {
        lease_name(&self.database)
    }

    pub(super) fn lease_object(
        &self,
        holder: &str,
        record: &Record,
        rv: Option<&str>,
    ) -> Result<Lease, ExecError> {
        let text = serde_json::to_string(record).map_err(|e| ExecError::Other(e.to_string()))?;
        let mut v = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.lease_name(),
                "namespace": self.namespace,
                "labels": {MANAGED_BY.0: MANAGED_BY.1, "baton.io/database": self.database},
                "annotations": {RECORD_ANNOTATION: text},
            },
            "spec": {
                "holderIdentity": holder,
                "leaseDurationSeconds": LEASE_SECONDS,
                "acquireTime": micro_of(record.started_ms),
                "renewTime": micro_now(),
            }
        });
        if let Some(rv) = rv {
            v["metadata"]["resourceVersion"] = json!(rv);
        }
        serde_json::from_value(v).map_err(|e| ExecError::Other(e.to_string()))
    }
}

/// On the Lease: a request to its holder to cancel (who and when), written by any baton with a
/// merge patch; the holder finishes the current action, lets the database settle and stops.
pub const CANCEL_ANNOTATION: &str = "baton.io/cancel-requested";

/// `baton-op-<database>`.
pub fn lease_name(database: &str) -> String {
    format!("baton-op-{database}")
}

fn micro_of(ms: u64) -> String {
    let secs = i64::try_from(ms / 1000).unwrap_or(0);
    let nanos = u32::try_from((ms % 1000) * 1_000_000).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, nanos)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The Lease, trimmed; its record parsed (or why not).
pub fn lease_obs(l: &Lease) -> LeaseObs {
    let spec = l.spec.as_ref();
    LeaseObs {
        resource_version: l.metadata.resource_version.clone().unwrap_or_default(),
        holder: spec
            .and_then(|s| s.holder_identity.clone())
            .unwrap_or_default(),
        renew_ms: spec
            .and_then(|s| s.renew_time.as_ref())
            .and_then(|t| u64::try_from(t.0.as_millisecond()).ok()),
        duration_s: spec
            .and_then(|s| s.lease_duration_seconds)
            .and_then(|d| u64::try_from(d).ok())
            .unwrap_or(LEASE_SECONDS),
        record: l
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(RECORD_ANNOTATION))
            .map(|t| {
                serde_json::from_str::<Record>(t).map_err(|e| crate::clip(&e.to_string(), 120))
            }),
        cancel_requested: l
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CANCEL_ANNOTATION))
            .map(|t| crate::clip(t, 200)),
    }
}
