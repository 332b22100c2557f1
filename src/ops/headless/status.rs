//! `baton op status`: the operations in flight fleet-wide, from the `baton-op-*` Leases of every
//! orchestra (or one): database, operation, state, step, holder (a person's baton, or the
//! runner Job `job/<namespace>/<job>` it runs in) and age.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ListParams};

use crate::Exit;
use crate::cli::{GlobalArgs, OpOutput, OpStatusArgs};
use crate::config::Config;
use crate::ops::kube::{MANAGED_BY, lease_obs};
use crate::ops::record::{self, Lock};
use crate::source::now_ms;
use crate::source::targets::Origin;

/// `baton op status`: the `baton-op-*` Leases of every orchestra (or one).
pub(super) async fn status(global: &GlobalArgs, config: &Config, args: OpStatusArgs) -> Exit {
    let targets = match crate::source::targets::kube_targets(
        global.kubeconfig.as_deref(),
        &args.orchestra.iter().cloned().collect::<Vec<_>>(),
        config,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    let now = now_ms();
    let rows = futures::future::join_all(targets.into_iter().map(|t| async move {
        let name = t.name.clone();
        let Origin::Kube(cfg) = t.origin else {
            return Ok(Vec::new());
        };
        let mut cfg = *cfg;
        cfg.connect_timeout = Some(Duration::from_secs(5));
        cfg.read_timeout = Some(Duration::from_secs(10));
        // `op status` only reads: its client is read-only whatever the mode.
        let client = crate::guard::kube_client(cfg, true)
            .map_err(|e| (name.clone(), crate::probe::kube_reason(&e)))?;
        let api: Api<Lease> = Api::all(client);
        let list = api
            .list(&ListParams::default().labels(&format!("{}={}", MANAGED_BY.0, MANAGED_BY.1)))
            .await
            .map_err(|e| (name.clone(), crate::probe::kube_reason(&e)))?;
        Ok::<_, (String, String)>(
            list.items
                .iter()
                .filter(|l| {
                    l.metadata
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("baton-op-"))
                })
                .map(|l| {
                    let db = l
                        .metadata
                        .name
                        .as_deref()
                        .and_then(|n| n.strip_prefix("baton-op-"))
                        .unwrap_or("")
                        .to_string();
                    (
                        name.clone(),
                        l.metadata.namespace.clone().unwrap_or_default(),
                        db,
                        lease_obs(l),
                    )
                })
                .collect::<Vec<_>>(),
        )
    }))
    .await;
    let mut failed = false;
    let mut out = Vec::new();
    for r in rows {
        match r {
            Ok(v) => out.extend(v),
            Err((o, e)) => {
                failed = true;
                eprintln!("baton: orchestra '{o}': {e}");
            }
        }
    }
    let json_rows: Vec<serde_json::Value> = out
        .iter()
        .map(|(o, ns, db, l)| {
            let lock = record::classify(Some(l), now);
            let rec = l.record.as_ref().and_then(|r| r.as_ref().ok());
            let state = match (&lock, rec) {
                (Lock::Stale { .. }, Some(r)) if !r.state.finished() => {
                    format!("{} (stale)", r.state.word())
                }
                (_, Some(r)) => r.state.word().to_string(),
                _ => "?".into(),
            };
            serde_json::json!({
                "orchestra": o,
                "namespace": ns,
                "database": db,
                "operation": rec.map(|r| r.operation.as_str()),
                "state": state,
                "step": rec.map(|r| r.step),
                "detail": rec.map(|r| r.detail.clone()),
                "holder": l.holder,
                // A runner Job holds the Lease as `job/<namespace>/<job>`.
                "runs": if l.holder.starts_with("job/") { "in-cluster" } else { "local" },
                "age_s": rec.map(|r| now.saturating_sub(r.started_ms) / 1000),
                "renewed_s_ago": l.renew_ms.map(|r| now.saturating_sub(r) / 1000),
            })
        })
        .collect();
    match args.output {
        OpOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_rows).unwrap_or_default()
        ),
        OpOutput::Text => {
            if json_rows.is_empty() {
                println!("no operations recorded");
            } else {
                println!(
                    "{:<20} {:<28} {:<16} {:<16} {:<5} {:<10} {:<28} {:>6}  DETAIL",
                    "ORCHESTRA", "DATABASE", "OPERATION", "STATE", "STEP", "RUNS", "HOLDER", "AGE"
                );
                for r in &json_rows {
                    println!(
                        "{:<20} {:<28} {:<16} {:<16} {:<5} {:<10} {:<28} {:>5}s  {}",
                        r["orchestra"].as_str().unwrap_or(""),
                        format!(
                            "{}/{}",
                            r["namespace"].as_str().unwrap_or(""),
                            r["database"].as_str().unwrap_or("")
                        ),
                        r["operation"].as_str().unwrap_or("?"),
                        r["state"].as_str().unwrap_or("?"),
                        r["step"].as_u64().map_or("-".into(), |s| s.to_string()),
                        r["runs"].as_str().unwrap_or(""),
                        r["holder"].as_str().unwrap_or(""),
                        r["age_s"].as_u64().unwrap_or(0),
                        r["detail"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    if failed { Exit::Failed } else { Exit::Ok }
}
