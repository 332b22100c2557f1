//! An orchestra's first objects: its nodes, namespaces, the databases' auth secrets and
//! objects (at fleet scale each StatefulSet's pods already Running and Ready).

use serde_json::json;

use crate::kubelet::{self, IpAllocator};
use crate::store::Store;
use crate::{LabError, controllers, error, profile, resources};

pub(crate) fn seed_orchestra(
    store: &Store,
    o: &profile::OrchestraSpec,
    nodes: &[(String, String)],
    zone_base: &str,
    services: bool,
    running: Option<&IpAllocator>,
    rng: &mut rand::rngs::StdRng,
) -> Result<(), LabError> {
    let fail = |e: error::ApiError| LabError::Input(format!("orchestra {}: {}", o.name, e.message));
    for (i, (node, ip)) in nodes.iter().enumerate() {
        let zone = format!("{zone_base}-{}", ["a", "b", "c"][i % 3]);
        store
            .create(
                resources::nodes(),
                "",
                json!({
                    "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node, "topology.kubernetes.io/zone": zone, "topology.kubernetes.io/region": zone_base, "node.kubernetes.io/instance-type": "m6i.2xlarge"}},
                    "spec": {},
                    "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": node}],
                               "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                               "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                               "allocatable": {"cpu": "7910m", "memory": "30Gi", "pods": "110"},
                               "nodeInfo": {"kubeletVersion": "v1.32.4", "containerRuntimeVersion": "containerd://1.7.27", "osImage": "baton lab", "architecture": "amd64", "operatingSystem": "linux"}},
                }),
            )
            .map_err(fail)?;
    }
    let mut namespaces: Vec<&str> = o.databases.iter().map(|d| d.namespace.as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for ns in ["default", "kube-system"]
        .into_iter()
        .chain(namespaces.iter().copied())
    {
        if store.get(resources::namespaces(), "", ns).is_ok() {
            continue;
        }
        store
            .create(
                resources::namespaces(),
                "",
                json!({"metadata": {"name": ns}}),
            )
            .map_err(fail)?;
        controllers::ensure_default_service_account(store, ns);
    }
    for ns in namespaces {
        store
            .create(
                resources::secrets(),
                ns,
                profile::auth_secret(&profile::password(rng)),
            )
            .map_err(fail)?;
    }
    for d in &o.databases {
        for (plural, obj) in profile::database_objects(d, services) {
            let res = resources::by_plural(plural)
                .ok_or_else(|| LabError::Io(format!("no resource {plural}")))?;
            let created = store.create(res, &d.namespace, obj).map_err(fail)?;
            // At fleet scale, pods start out Running and Ready instead of walking the lifecycle.
            if let (Some(ips), "statefulsets") = (running, plural) {
                let revision = controllers::template_revision(&created);
                let replicas = created["spec"]["replicas"].as_i64().unwrap_or(1);
                for i in 0..replicas {
                    controllers::ensure_claims(store, &created, i);
                    let mut pod = controllers::pod_for(&created, i, &revision);
                    let node = &nodes[(i as usize + d.name.len()) % nodes.len()];
                    kubelet::seed_running(&mut pod, node, &ips.next());
                    store
                        .create(resources::pods(), &d.namespace, pod)
                        .map_err(fail)?;
                }
            }
        }
    }
    Ok(())
}
