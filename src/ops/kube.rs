//! The `Executor` on Kubernetes (kube-rs): one database's pods, StatefulSets and baton Jobs,
//! fresh member probes (direct or through the API server's pod proxy, as the orchestra's
//! transport says; credentials only on direct routes), graceful pod deletes with a UID
//! precondition, StatefulSet merge patches, Jobs and their logs, the Lease, Events. Every
//! mutating call refuses in read-only mode before a request is built.
//!
//! Submodules: `lease` (the Lease object written and read back), `objects` (pods, StatefulSets
//! and Jobs read into observations).

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event as KubeEvent, PersistentVolumeClaim, Pod};
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use super::executor::{ExecError, Executor};
use super::neo4j_admin;
use super::observe::{JobObs, Observed, PodObs, StsObs};
use super::plan::{JobPlan, TemplateChange};
use super::record::{LeaseObs, Record};
use crate::config::{ProfileConfig, Transport};
use crate::fleet::Probe;
use crate::probe::credentials::Resolver;
use crate::probe::{self, Endpoint};

mod lease;
mod neo4j;
mod objects;

pub use lease::{lease_name, lease_obs};
use objects::{job_obs, pod_obs, sts_obs};

/// The annotation on a Lease that holds the operation's record (JSON).
pub const RECORD_ANNOTATION: &str = "baton.io/operation";
/// The annotation on a StatefulSet that remembers its replicas across a stop.
pub const REPLICAS_ANNOTATION: &str = "baton.io/replicas-before-stop";
/// Labels of every Job baton creates.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "baton");

/// One database on one orchestra.
pub struct KubeExecutor {
    pub client: kube::Client,
    pub orchestra: String,
    pub namespace: String,
    pub database: String,
    pub profile: ProfileConfig,
    pub transport: Transport,
    /// Kubeconfig context and user, for the audit.
    pub identity: String,
    /// Image of operation Jobs (None: the member's own image).
    pub job_image: Option<String>,
    pub read_only: bool,
    pub http: crate::guard::ProbeHttp,
    pub resolver: Arc<Resolver>,
    pub probe_timeout: Duration,
    /// The object store, S3-style (`operations.object_store_endpoint`), if configured.
    pub object_store: Option<super::backups::S3>,
}

pub(super) fn err(e: kube::Error) -> ExecError {
    match &e {
        kube::Error::Api(s) if s.code == 409 => ExecError::Conflict(s.message.clone()),
        kube::Error::Api(s) if s.code == 401 || s.code == 403 => {
            ExecError::Forbidden(s.message.clone())
        }
        kube::Error::Api(s) if s.code == 404 => ExecError::NotFound(s.message.clone()),
        _ => ExecError::Other(probe::kube_reason(&e)),
    }
}

/// RFC 3339 with microseconds, as Kubernetes writes MicroTime.
fn micro_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

impl KubeExecutor {
    fn guard(&self, what: &str) -> Result<(), ExecError> {
        if self.read_only {
            Err(ExecError::ReadOnly(format!(
                "{what} refused: baton runs read-only"
            )))
        } else {
            Ok(())
        }
    }

    fn selector(&self) -> String {
        format!("{}={}", self.profile.grouping_label, self.database)
    }

    async fn probe_member(&self, p: &PodObs) -> Probe {
        let ep = Endpoint {
            namespace: self.namespace.as_str().into(),
            pod: p.name.clone(),
            address: p.ip.clone(),
            port: self.profile.port,
            kind: self.profile.probe,
        };
        let via = crate::guard::proxy::ProxyHttp::from(self.client.clone());
        let proxy = || probe::via_proxy(&via, &ep, self.probe_timeout);
        match self.transport {
            Transport::Proxy => proxy().await,
            Transport::Direct | Transport::Auto => {
                // Credentials only once the member answered directly without them (a pod IP
                // that does not answer may be some other host on this network).
                match probe::direct(&self.http, &ep, &Ok(None)).await {
                    Ok(Probe::Error(e))
                        if e.starts_with("HTTP 401") || e.starts_with("HTTP 403") =>
                    {
                        let auth = self
                            .resolver
                            .get(&self.profile.credentials, &self.namespace)
                            .await;
                        match probe::direct(&self.http, &ep, &auth).await {
                            Ok(p) => p,
                            Err(probe::Unreachable(why)) => {
                                Probe::Error(format!("unreachable: {why}"))
                            }
                        }
                    }
                    Ok(p) => p,
                    Err(_) if self.transport == Transport::Auto => proxy().await,
                    Err(probe::Unreachable(why)) => Probe::Error(format!("unreachable: {why}")),
                }
            }
        }
    }
}

impl Executor for KubeExecutor {
    async fn observe(&self) -> Result<Observed, ExecError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let sts: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let jobs: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let by_db = ListParams::default().labels(&self.selector());
        let job_sel = ListParams::default().labels(&format!(
            "{}={},baton.io/database={}",
            MANAGED_BY.0, MANAGED_BY.1, self.database
        ));
        let (pod_list, sts_list, job_list) =
            tokio::try_join!(pods.list(&by_db), sts.list(&by_db), jobs.list(&job_sel))
                .map_err(err)?;
        let mut pods: Vec<PodObs> = pod_list
            .items
            .iter()
            .filter(|p| {
                // A Job's pod may carry the database label; members are owned by StatefulSets.
                p.metadata
                    .labels
                    .as_ref()
                    .is_none_or(|l| l.get(MANAGED_BY.0).map(String::as_str) != Some(MANAGED_BY.1))
            })
            .map(pod_obs)
            .collect();
        pods.sort_by(|a, b| a.name.cmp(&b.name));
        let probes = futures::future::join_all(pods.iter().map(|p| async move {
            if p.ip.is_empty() || p.deleting {
                Probe::Error("no running pod".into())
            } else {
                self.probe_member(p).await
            }
        }))
        .await;
        let mut statefulsets: Vec<StsObs> = sts_list.items.iter().map(sts_obs).collect();
        statefulsets.sort_by(|a, b| a.name.cmp(&b.name));
        // A runner Job is the operation itself, not other work on the database.
        let own = super::record::runner_job().filter(|(ns, _)| *ns == self.namespace);
        let mut jobs: Vec<JobObs> = job_list
            .items
            .iter()
            .map(job_obs)
            .filter(|j| own.as_ref().is_none_or(|(_, name)| *name != j.name))
            .collect();
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        let (claims, servers) = tokio::join!(self.claims(&pods), self.server_table(&pods, &probes));
        Ok(Observed {
            pods,
            probes,
            statefulsets,
            jobs,
            claims,
            servers,
        })
    }

    async fn delete_claim(&self, claim: &str, uid: &str) -> Result<(), ExecError> {
        self.guard("delete persistentvolumeclaim")?;
        let api: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), &self.namespace);
        let dp = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(claim, &dp).await {
            Ok(_) => Ok(()),
            // Already gone or already a new claim: the next observation says which.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn create_statefulset_like(
        &self,
        like: &str,
        name: &str,
        change: &TemplateChange,
    ) -> Result<(), ExecError> {
        self.guard("create statefulset")?;
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let source = api.get(like).await.map_err(err)?;
        let mut v = serde_json::to_value(&source).map_err(|e| ExecError::Other(e.to_string()))?;
        let new = super::plan::template::surge::statefulset_like(&mut v, like, name, change);
        let sts: StatefulSet =
            serde_json::from_value(new).map_err(|e| ExecError::Other(e.to_string()))?;
        match api.create(&PostParams::default(), &sts).await {
            // Made by an earlier attempt (a resume): the next observation goes on from it.
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn delete_statefulset(&self, sts: &str) -> Result<(), ExecError> {
        self.guard("delete statefulset")?;
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.delete(sts, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn cypher(&self, pod: &str, statement: &str) -> Result<(), ExecError> {
        self.guard("server management")?;
        let answer = self.system_query(pod, &[statement]).await?;
        neo4j_admin::results(&answer)
            .map(|_| ())
            .map_err(ExecError::Other)
    }

    async fn delete_pod(&self, pod: &str, uid: &str) -> Result<(), ExecError> {
        self.guard("delete pod")?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let dp = DeleteParams {
            preconditions: Some(kube::api::Preconditions {
                uid: Some(uid.to_string()),
                resource_version: None,
            }),
            ..DeleteParams::default()
        };
        match api.delete(pod, &dp).await {
            Ok(_) => Ok(()),
            // Already gone or replaced: the step is done, the next observation says so.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn scale(
        &self,
        sts: &str,
        replicas: i32,
        remember: Option<i32>,
    ) -> Result<(), ExecError> {
        self.guard("scale statefulset")?;
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let annotation = match remember {
            Some(r) => json!(r.to_string()),
            None => Value::Null,
        };
        let patch = json!({
            "metadata": {"annotations": {REPLICAS_ANNOTATION: annotation}},
            "spec": {"replicas": replicas},
        });
        api.patch(sts, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(err)
    }

    async fn patch_template(&self, sts: &str, change: &TemplateChange) -> Result<(), ExecError> {
        self.guard("patch statefulset")?;
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let patch = change.patch();
        api.patch(sts, &PatchParams::default(), &Patch::Strategic(&patch))
            .await
            .map(|_| ())
            .map_err(err)
    }

    fn job_manifest(&self, job: &JobPlan) -> Value {
        let labels = json!({
            MANAGED_BY.0: MANAGED_BY.1,
            "baton.io/operation": job.kind,
            "baton.io/database": self.database,
        });
        let image = self
            .job_image
            .clone()
            .unwrap_or_else(|| "neo4j:5-enterprise".into());
        let env = |k: &str, v: &str| json!({"name": k, "value": v});
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job.name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": {"baton.io/artifact": job.target, "baton.io/member": job.member},
            },
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{
                            "name": job.kind,
                            "image": image,
                            "env": [
                                env("BATON_OPERATION", job.kind),
                                env("BATON_DATABASE", &self.database),
                                env("BATON_NAMESPACE", &self.namespace),
                                env("BATON_MEMBER", &job.member),
                                // A restore reads the artifact; the others write one.
                                if job.kind == "restore" {
                                    env("BATON_SOURCE", &job.target)
                                } else {
                                    env("BATON_TARGET", &job.target)
                                },
                            ],
                        }],
                    }
                }
            }
        })
    }

    async fn create_job(&self, job: &JobPlan) -> Result<(), ExecError> {
        self.guard("create job")?;
        let api: Api<Job> = Api::namespaced(self.client.clone(), &self.namespace);
        let obj: Job = serde_json::from_value(self.job_manifest(job))
            .map_err(|e| ExecError::Other(e.to_string()))?;
        match api.create(&PostParams::default(), &obj).await {
            Ok(_) => Ok(()),
            // Created before an interruption: the step is done.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    async fn job_log(
        &self,
        job: &str,
        since: usize,
    ) -> Result<Option<(String, Vec<String>)>, ExecError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = pods
            .list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .map_err(err)?;
        let Some(pod) = list
            .items
            .iter()
            .filter_map(|p| p.metadata.name.clone())
            .next()
        else {
            return Ok(None);
        };
        let text = match pods.logs(&pod, &LogParams::default()).await {
            Ok(t) => t,
            // Not started yet.
            Err(kube::Error::Api(s)) if s.code == 400 || s.code == 404 => return Ok(None),
            Err(e) => return Err(err(e)),
        };
        let lines: Vec<String> = text
            .lines()
            .skip(since)
            .map(|l| crate::clip(l, 400))
            .collect();
        Ok(Some((pod, lines)))
    }

    async fn get_lease(&self) -> Result<Option<LeaseObs>, ExecError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        api.get_opt(&self.lease_name())
            .await
            .map(|l| l.as_ref().map(lease_obs))
            .map_err(err)
    }

    async fn create_lease(&self, holder: &str, record: &Record) -> Result<LeaseObs, ExecError> {
        self.guard("create lease")?;
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        let obj = self.lease_object(holder, record, None)?;
        api.create(&PostParams::default(), &obj)
            .await
            .map(|l| lease_obs(&l))
            .map_err(err)
    }

    async fn replace_lease(
        &self,
        rv: &str,
        holder: &str,
        record: &Record,
    ) -> Result<LeaseObs, ExecError> {
        self.guard("update lease")?;
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        let obj = self.lease_object(holder, record, Some(rv))?;
        api.replace(&self.lease_name(), &PostParams::default(), &obj)
            .await
            .map(|l| lease_obs(&l))
            .map_err(err)
    }

    async fn request_cancel(&self, by: &str) -> Result<(), ExecError> {
        self.guard("patch lease")?;
        let api: Api<Lease> = Api::namespaced(self.client.clone(), &self.namespace);
        let patch = json!({"metadata": {"annotations": {lease::CANCEL_ANNOTATION: by}}});
        api.patch(
            &self.lease_name(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map(|_| ())
        .map_err(err)
    }

    async fn event(&self, reason: &str, message: &str, warning: bool) -> Result<(), ExecError> {
        self.guard("create event")?;
        let sts: Api<StatefulSet> = Api::namespaced(self.client.clone(), &self.namespace);
        let list = sts
            .list(&ListParams::default().labels(&self.selector()))
            .await
            .map_err(err)?;
        let (kind, name, uid) = match list.items.first() {
            Some(s) => (
                "StatefulSet",
                s.metadata.name.clone().unwrap_or_default(),
                s.metadata.uid.clone().unwrap_or_default(),
            ),
            None => ("Lease", self.lease_name(), String::new()),
        };
        let now = micro_now();
        let secs = now.get(..19).unwrap_or("").replace([':', '-', 'T'], "");
        let v = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.baton.{secs}.{}", std::process::id()), "namespace": self.namespace},
            "involvedObject": {"kind": kind, "name": name, "namespace": self.namespace, "uid": uid,
                               "apiVersion": if kind == "StatefulSet" { "apps/v1" } else { "coordination.k8s.io/v1" }},
            "reason": reason,
            "message": message,
            "type": if warning { "Warning" } else { "Normal" },
            "source": {"component": "baton"},
            "reportingComponent": "baton",
            "firstTimestamp": now.get(..19).map(|s| format!("{s}Z")),
            "lastTimestamp": now.get(..19).map(|s| format!("{s}Z")),
            "count": 1,
        });
        let ev: KubeEvent =
            serde_json::from_value(v).map_err(|e| ExecError::Other(e.to_string()))?;
        let api: Api<KubeEvent> = Api::namespaced(self.client.clone(), &self.namespace);
        match api.create(&PostParams::default(), &ev).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(err(e)),
        }
    }

    fn database_id(&self) -> String {
        format!("{}/{}/{}", self.orchestra, self.namespace, self.database)
    }

    fn identity(&self) -> String {
        self.identity.clone()
    }

    async fn list_objects(
        &self,
        prefix_url: &str,
    ) -> Result<Vec<super::executor::ObjectInfo>, ExecError> {
        match &self.object_store {
            Some(s3) => s3.list(prefix_url).await,
            None => Err(ExecError::Other(super::executor::NO_ENDPOINT.into())),
        }
    }

    async fn get_object(&self, url: &str) -> Result<Option<Vec<u8>>, ExecError> {
        match &self.object_store {
            Some(s3) => s3.get(url).await,
            None => Err(ExecError::Other(super::executor::NO_ENDPOINT.into())),
        }
    }

    async fn missing_permissions(
        &self,
        needed: &[crate::fleet::catalog::Permission],
    ) -> Result<Vec<String>, ExecError> {
        let access = crate::source::access::review(&self.client, needed, Some(&self.namespace))
            .await
            .map_err(ExecError::Other)?;
        Ok(access.missing(needed))
    }
}
