//! Operation Jobs in the lab: what a Job's pod does when its container env says `LAB_JOB`
//! (`backup`, `restore`, `diagnostics`). Artifacts go to the lab's object store, a folder under
//! the lab's data dir addressed like `s3://lab-backups/…`.
//!
//! Env: `LAB_DATABASE` (database name; the Job's namespace), `LAB_MEMBER` (pod to read from),
//! `LAB_TARGET` (where to write, for backup and diagnostics), `LAB_SOURCE` (restore). Each may
//! also be spelt `BATON_…` (and `LAB_JOB` as `BATON_OPERATION`), as baton's operations image
//! reads them.
//!
//! A backup artifact is JSON: `kind` ("baton-lab-backup"), `database`, `namespace`, `orchestra`,
//! `member`, `applied_index`, `term`, `state_digest` (`sha256:<hex>` of the member's state at
//! `applied_index`: any member at that index has the same digest), `taken_at`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::consensus::Consensus;
use super::kubelet::{Kubelet, RunContext, Workload};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Backup,
    Restore,
    Diagnostics,
}

impl JobKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "backup" => Some(Self::Backup),
            "restore" => Some(Self::Restore),
            "diagnostics" => Some(Self::Diagnostics),
            _ => None,
        }
    }
}

/// Maps `s3://bucket/key` to a path in the object store folder; refuses anything else.
pub fn object_path(store: &Path, url: &str) -> Result<PathBuf, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("'{url}' is not an s3:// address"))?;
    if rest.split('/').any(|seg| seg == ".." || seg.is_empty()) && !rest.ends_with('/') {
        return Err(format!("'{url}' has an empty or '..' segment"));
    }
    if rest.split('/').any(|seg| seg == "..") {
        return Err(format!("'{url}' has a '..' segment"));
    }
    Ok(store.join(rest))
}

pub struct JobWorkload {
    pub kind: JobKind,
    pub orchestra: String,
    pub namespace: String,
    pub env: Vec<(String, String)>,
    pub consensus: Arc<Consensus>,
    pub object_store: PathBuf,
    pub kubelet: Arc<OnceLock<Weak<Kubelet>>>,
}

impl JobWorkload {
    /// `LAB_X`, or `BATON_X` as baton's operations image names it.
    fn var(&self, k: &str) -> Option<&str> {
        let alias = k.strip_prefix("LAB_").map(|rest| format!("BATON_{rest}"));
        self.env
            .iter()
            .find(|(n, _)| n == k || Some(n) == alias.as_ref())
            .map(|(_, v)| v.as_str())
    }

    fn need(&self, k: &str) -> Result<&str, String> {
        self.var(k)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{k} is not set"))
    }

    async fn backup(&self, ctx: &RunContext) -> Result<(), String> {
        let db = self.need("LAB_DATABASE")?;
        let member = self.need("LAB_MEMBER")?;
        let target = self.need("LAB_TARGET")?;
        let path = object_path(&self.object_store, target)?;
        let key = format!("{}/{}/{member}", self.orchestra, self.namespace);
        ctx.log(format!(
            "Backing up database '{db}' from {member} to {target}"
        ));
        let st = self
            .consensus
            .status(&key)
            .ok_or_else(|| format!("{member} runs no member of '{db}'"))?;
        if !st.live || !st.reachable {
            return Err(format!("{member} is not available (down or unreachable)"));
        }
        ctx.log(format!(
            "Consistent snapshot at applied index {} (term {}), state {}",
            st.applied_index, st.term, st.state_digest
        ));
        for pct in [25, 50, 75, 100] {
            if !ctx.sleep(Duration::from_millis(250)).await {
                return Err("stopped".into());
            }
            ctx.log(format!("Copying store files: {pct}%"));
        }
        let artifact = json!({
            "kind": "baton-lab-backup", "database": db, "namespace": self.namespace, "orchestra": self.orchestra,
            "member": member, "applied_index": st.applied_index, "term": st.term,
            "state_digest": st.state_digest,
            "taken_at": super::store::now(),
        });
        write(&path, &artifact)?;
        ctx.log(format!(
            "Backup complete: {target} ({} bytes)",
            artifact.to_string().len()
        ));
        Ok(())
    }

    async fn restore(&self, ctx: &RunContext) -> Result<(), String> {
        let db = self.need("LAB_DATABASE")?;
        let source = self.need("LAB_SOURCE")?;
        let path = object_path(&self.object_store, source)?;
        ctx.log(format!("Restoring database '{db}' from {source}"));
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {source}: {e}"))?;
        let artifact: Value =
            serde_json::from_str(&text).map_err(|e| format!("{source} is not a backup: {e}"))?;
        if artifact["kind"] != "baton-lab-backup" || artifact["database"] != db {
            return Err(format!(
                "{source} is a backup of '{}', not of '{db}'",
                artifact["database"].as_str().unwrap_or("?")
            ));
        }
        for step in [
            "Verifying backup",
            "Restoring store files",
            "Recovering transaction logs",
        ] {
            if !ctx.sleep(Duration::from_millis(300)).await {
                return Err("stopped".into());
            }
            ctx.log(step);
        }
        ctx.log(format!(
            "Restore complete: '{db}' at index {} from {}",
            artifact["applied_index"],
            artifact["taken_at"].as_str().unwrap_or("?")
        ));
        Ok(())
    }

    async fn diagnostics(&self, ctx: &RunContext) -> Result<(), String> {
        let member = self.need("LAB_MEMBER")?;
        let target = self.need("LAB_TARGET")?;
        let dir = object_path(&self.object_store, target.trim_end_matches('/'))?;
        ctx.log(format!("Collecting diagnostics of {member}"));
        let logs = self
            .kubelet
            .get()
            .and_then(Weak::upgrade)
            .and_then(|k| k.pod(&self.namespace, member))
            .map(|rt| {
                rt.logs
                    .lines(false)
                    .into_iter()
                    .map(|(t, l)| format!("{t} {l}\n"))
                    .collect::<String>()
            })
            .ok_or_else(|| format!("{member} is not running"))?;
        let key = format!("{}/{}/{member}", self.orchestra, self.namespace);
        let status = self.consensus.status(&key);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot write {target}: {e}"))?;
        let put = |name: &str, body: &[u8]| {
            std::fs::write(dir.join(name), body)
                .map_err(|e| format!("cannot write {target}/{name}: {e}"))
        };
        put("neo4j.log", logs.as_bytes())?;
        ctx.log("Collected logs");
        if !ctx.sleep(Duration::from_millis(300)).await {
            return Err("stopped".into());
        }
        let threads = format!(
            "Full thread dump (baton lab) of {member}\n\"raft-member\" state=RUNNABLE role={} term={} applied={}\n",
            status.as_ref().map_or("DOWN", |s| s.role),
            status.as_ref().map_or(0, |s| s.term),
            status.as_ref().map_or(0, |s| s.applied_index)
        );
        put("threads.txt", threads.as_bytes())?;
        ctx.log("Took a thread dump");
        let mut heap = b"JAVA PROFILE 1.0.2\0".to_vec();
        heap.extend(std::iter::repeat_n(0u8, 4096));
        put("heap.hprof", &heap)?;
        ctx.log("Took a heap dump (4 KiB, simulated)");
        ctx.log(format!(
            "Diagnostics written to {}/",
            target.trim_end_matches('/')
        ));
        Ok(())
    }
}

fn write(path: &Path, v: &Value) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap_or_default())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

impl Workload for JobWorkload {
    fn run(self: Arc<Self>, ctx: RunContext) -> BoxFuture<'static, i32> {
        Box::pin(async move {
            let result = match self.kind {
                JobKind::Backup => self.backup(&ctx).await,
                JobKind::Restore => self.restore(&ctx).await,
                JobKind::Diagnostics => self.diagnostics(&ctx).await,
            };
            match result {
                Ok(()) => 0,
                Err(e) => {
                    ctx.log(format!("ERROR {e}"));
                    1
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_paths_stay_inside_the_store() {
        let s = Path::new("/lab/objects");
        assert_eq!(
            object_path(s, "s3://lab-backups/orders/1.backup").unwrap(),
            Path::new("/lab/objects/lab-backups/orders/1.backup")
        );
        assert!(object_path(s, "s3://lab-backups/../etc/passwd").is_err());
        assert!(object_path(s, "/etc/passwd").is_err());
        assert!(object_path(s, "s3://lab-backups//x").is_err());
    }
}
