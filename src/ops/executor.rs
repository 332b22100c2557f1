//! The `Executor`: every call an operation makes to the outside world for one database —
//! observe it (pods, a fresh probe of each member, StatefulSets, baton Jobs), delete a pod,
//! scale a StatefulSet, create a Job and follow its log, read and write the Lease, record an
//! Event, list and read the object store. The runner knows only this trait; `kube::KubeExecutor` talks to Kubernetes and
//! `fake::FakeExecutor` is an in-memory database for unit tests.

use std::future::Future;

use super::observe::Observed;
use super::plan::{JobPlan, TemplateChange};
use super::record::{LeaseObs, Record};

/// What the object store calls answer when no endpoint is configured.
pub const NO_ENDPOINT: &str =
    "no object store endpoint is configured (operations.object_store_endpoint in the config)";

/// One object of an object store listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// `s3://bucket/key`.
    pub url: String,
    /// ISO 8601, as S3 gives it.
    pub modified: String,
    pub size: u64,
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// 409: the object exists, or changed since it was read.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 401/403: this identity may not.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// Refused before it left the process (read-only mode).
    #[error("read-only: {0}")]
    ReadOnly(String),
    #[error("{0}")]
    Other(String),
}

/// The Kubernetes objects an operation writes, for the audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub verb: &'static str,
    pub object: String,
}

/// Calls for one database (orchestra, namespace, name fixed at construction).
pub trait Executor: Send + Sync {
    /// One look at the database: member pods, a fresh probe of each, StatefulSets, baton Jobs.
    fn observe(&self) -> impl Future<Output = Result<Observed, ExecError>> + Send;
    /// Graceful delete with a UID precondition (never the replacement pod).
    fn delete_pod(
        &self,
        pod: &str,
        uid: &str,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Deletes a PersistentVolumeClaim with a UID precondition (pvc-protection keeps it until
    /// its pod is gone; the StatefulSet then makes a new, empty one).
    fn delete_claim(
        &self,
        claim: &str,
        uid: &str,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Runs one server-management statement (Neo4j 5 Cypher) on the `system` database of
    /// member `pod`.
    fn cypher(
        &self,
        pod: &str,
        statement: &str,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Sets replicas; `remember` Some writes `baton.io/replicas-before-stop`, None removes it.
    fn scale(
        &self,
        sts: &str,
        replicas: i32,
        remember: Option<i32>,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Changes the pod template of a StatefulSet (its controller then replaces the pod).
    fn patch_template(
        &self,
        sts: &str,
        change: &TemplateChange,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Surge: creates StatefulSet `name` as a copy of `like` (labels naming `like` renamed, one
    /// replica) with `change` applied to its pod template.
    fn create_statefulset_like(
        &self,
        like: &str,
        name: &str,
        change: &TemplateChange,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Surge: deletes a StatefulSet (its pod goes with it; its claim stays).
    fn delete_statefulset(&self, sts: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// Creates the Job (its manifest from `job_manifest`).
    fn create_job(&self, job: &JobPlan) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// The Job's manifest, for `--dry-run` and the audit.
    fn job_manifest(&self, job: &JobPlan) -> serde_json::Value;
    /// New log lines of the Job's pod since `since` lines were seen: (pod, lines).
    fn job_log(
        &self,
        job: &str,
        since: usize,
    ) -> impl Future<Output = Result<Option<(String, Vec<String>)>, ExecError>> + Send;
    /// The Lease `baton-op-<database>`, if it exists.
    fn get_lease(&self) -> impl Future<Output = Result<Option<LeaseObs>, ExecError>> + Send;
    /// Creates the Lease (409 ⇒ Conflict: someone holds it).
    fn create_lease(
        &self,
        holder: &str,
        record: &Record,
    ) -> impl Future<Output = Result<LeaseObs, ExecError>> + Send;
    /// Replaces the Lease only if it still has `resource_version` (else Conflict).
    fn replace_lease(
        &self,
        resource_version: &str,
        holder: &str,
        record: &Record,
    ) -> impl Future<Output = Result<LeaseObs, ExecError>> + Send;
    /// Asks the Lease's holder to cancel (a merge patch of one annotation: `by`, who and when).
    fn request_cancel(&self, by: &str) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// A Kubernetes Event on the database's first StatefulSet (or a member pod).
    fn event(
        &self,
        reason: &str,
        message: &str,
        warning: bool,
    ) -> impl Future<Output = Result<(), ExecError>> + Send;
    /// The objects of the object store under `prefix_url` (`s3://bucket/prefix`): backups to
    /// choose from (`backups`). Default: no object store configured.
    fn list_objects(
        &self,
        prefix_url: &str,
    ) -> impl Future<Output = Result<Vec<ObjectInfo>, ExecError>> + Send {
        let _ = prefix_url;
        async { Err(ExecError::Other(NO_ENDPOINT.into())) }
    }
    /// One object's bytes (None: it does not exist), to check an artifact before using it.
    fn get_object(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, ExecError>> + Send {
        let _ = url;
        async { Err(ExecError::Other(NO_ENDPOINT.into())) }
    }
    /// `orchestra/namespace/name`.
    fn database_id(&self) -> String;
    /// The Kubernetes identity calls are made as (context and user), for the audit.
    fn identity(&self) -> String;
    /// Which of `needed` this identity may not do in the database's namespace, as said
    /// (`create jobs`), asked of the API server (SelfSubjectAccessReviews). Empty when all are
    /// allowed — and by default, for executors that have no API server to ask.
    fn missing_permissions(
        &self,
        needed: &[crate::fleet::catalog::Permission],
    ) -> impl Future<Output = Result<Vec<String>, ExecError>> + Send {
        let _ = needed;
        async { Ok(Vec::new()) }
    }
}
