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
//! `applied_index`: any member at that index has the same digest), `voters` and `learners` (the
//! group's member ids then), `taken_at`.
//!
//! A restore is `neo4j-admin database restore` on a stopped database: it needs `kind`,
//! `database` (the Job's database), `applied_index`, `term` and `state_digest`; it fails unless
//! no member of the database runs (the operator scales each StatefulSet to 0 first; the volumes
//! stay), then gives every member's volume the backup's state (a snapshot at `applied_index`
//! carrying the digest, with the group's current membership). Started again, the members elect
//! a leader from there and new writes chain on from the restored state.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::consensus::{Consensus, RestorePoint, parse_digest};
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

/// The `kind` of a lab backup artifact.
pub const BACKUP_KIND: &str = "baton-lab-backup";

/// A backup artifact as a restore reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Backup {
    pub database: String,
    /// `orchestra/namespace/member` the backup was taken from (for the log).
    pub taken_from: String,
    pub taken_at: String,
    pub point: RestorePoint,
    /// The digest as the artifact spells it (`sha256:<hex>`).
    pub state_digest: String,
    /// The group's voters and learners when the backup was taken (sorted; empty if unknown).
    pub members: Vec<u64>,
}

impl Backup {
    /// Reads an artifact's text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("{source} is not a backup artifact (not JSON: {e})"))?;
        let bad = |why: String| format!("{source} is not a valid backup artifact: {why}");
        if v["kind"] != BACKUP_KIND {
            return Err(bad(format!("kind is {}, not \"{BACKUP_KIND}\"", v["kind"])));
        }
        let text_field = |k: &str| {
            v[k].as_str()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(format!("no {k}")))
        };
        let number = |k: &str| {
            v[k].as_u64()
                .ok_or_else(|| bad(format!("no {k} (a whole number)")))
        };
        let database = text_field("database")?.to_string();
        let index = number("applied_index")?;
        let term = number("term")?;
        let state_digest = text_field("state_digest")?.to_string();
        let digest = parse_digest(&state_digest).ok_or_else(|| {
            bad(format!(
                "state_digest '{state_digest}' is not sha256:<64 hex digits>"
            ))
        })?;
        let field = |k: &str| v[k].as_str().unwrap_or("?");
        let mut members: Vec<u64> = ["voters", "learners"]
            .iter()
            .flat_map(|k| v[*k].as_array().into_iter().flatten())
            .filter_map(Value::as_u64)
            .collect();
        members.sort_unstable();
        Ok(Self {
            members,
            taken_from: format!(
                "{}/{}/{}",
                field("orchestra"),
                field("namespace"),
                field("member")
            ),
            taken_at: field("taken_at").to_string(),
            database,
            point: RestorePoint {
                index,
                term,
                digest,
            },
            state_digest,
        })
    }
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
            "kind": BACKUP_KIND, "database": db, "namespace": self.namespace, "orchestra": self.orchestra,
            "member": member, "applied_index": st.applied_index, "term": st.term,
            "state_digest": st.state_digest,
            "voters": st.voters, "learners": st.learners,
            "taken_at": super::store::now(),
        });
        write(&path, &artifact)?;
        ctx.log(format!(
            "Backup complete: {target} ({} bytes)",
            artifact.to_string().len()
        ));
        Ok(())
    }

    /// `neo4j-admin database restore` on a stopped database: reads and checks the artifact,
    /// refuses while any member of the database runs, then replaces every member's volume with
    /// the backup's state (see [`Consensus::restore`]).
    async fn restore(&self, ctx: &RunContext) -> Result<(), String> {
        let db = self.need("LAB_DATABASE")?;
        let source = self.need("LAB_SOURCE")?;
        let path = object_path(&self.object_store, source)?;
        ctx.log(format!("Restoring database '{db}' from {source}"));
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!("cannot read {source}: it does not exist"),
            _ => format!("cannot read {source}: {e}"),
        })?;
        let backup = Backup::parse(&text, source)?;
        if backup.database != db {
            return Err(format!(
                "{source} is a backup of '{}', not of '{db}'",
                backup.database
            ));
        }
        ctx.log(format!(
            "Verified backup of '{db}' taken from {} at {}: applied index {} (term {}), state {}",
            backup.taken_from,
            backup.taken_at,
            backup.point.index,
            backup.point.term,
            backup.state_digest
        ));
        let group = format!("{}/{}/{db}", self.orchestra, self.namespace);
        ctx.log(format!("Checking that every member of '{db}' is stopped"));
        let members = self.consensus.stopped_members(&group)?;
        ctx.log(format!(
            "Every member of '{db}' is stopped: {}",
            members
                .iter()
                .map(|(pod, id)| format!("{pod} (member {id})"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut hosts: Vec<u64> = members.iter().map(|(_, id)| *id).collect();
        hosts.sort_unstable();
        if !backup.members.is_empty() && backup.members != hosts {
            ctx.log(format!(
                "The backup was taken when the group had members {:?}; restoring onto members {hosts:?}",
                backup.members
            ));
        }
        if !ctx.sleep(Duration::from_millis(300)).await {
            return Err("stopped".into());
        }
        ctx.log("Restoring store files");
        let restored = self.consensus.restore(&group, &backup.point)?;
        for v in &restored {
            ctx.log(format!(
                "{} the volume of {} (member {}): applied index {}, state {}",
                if v.replaced { "Replaced" } else { "Created" },
                v.pod,
                v.id,
                backup.point.index,
                backup.state_digest
            ));
        }
        ctx.log(format!(
            "Restore complete: '{db}' at applied index {} on {} member(s); start the members to bring it online",
            backup.point.index,
            restored.len()
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

    #[test]
    fn a_restore_reads_what_it_needs_from_the_artifact_and_names_what_is_wrong() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let good = json!({
            "kind": "baton-lab-backup", "database": "orders", "namespace": "team-a", "orchestra": "lab-a",
            "member": "orders-1-0", "applied_index": 42, "term": 3, "state_digest": digest,
            "voters": [3, 1, 2], "learners": [101], "taken_at": "2025-01-01T00:00:00Z",
        });
        let b = Backup::parse(&good.to_string(), "s3://b/x").unwrap();
        assert_eq!(b.database, "orders");
        assert_eq!(b.taken_from, "lab-a/team-a/orders-1-0");
        assert_eq!(
            b.point,
            RestorePoint {
                index: 42,
                term: 3,
                digest: [0xab; 32]
            }
        );
        assert_eq!(b.members, vec![1, 2, 3, 101]);
        let err = |v: Value| Backup::parse(&v.to_string(), "s3://b/x").unwrap_err();
        assert!(
            Backup::parse("{not json", "s3://b/x")
                .unwrap_err()
                .starts_with("s3://b/x is not a backup artifact (not JSON")
        );
        let mut v = good.clone();
        v["kind"] = json!("tarball");
        assert!(err(v).contains("kind is \"tarball\""));
        for (k, why) in [
            ("applied_index", "no applied_index"),
            ("term", "no term"),
            ("state_digest", "no state_digest"),
            ("database", "no database"),
        ] {
            let mut v = good.clone();
            v.as_object_mut().unwrap().remove(k);
            assert_eq!(
                err(v),
                format!("s3://b/x is not a valid backup artifact: {why}")
                    + if k.ends_with("index") || k == "term" {
                        " (a whole number)"
                    } else {
                        ""
                    }
            );
        }
        let mut v = good.clone();
        v["applied_index"] = json!(-1);
        assert!(err(v).contains("no applied_index"));
        let mut v = good;
        v["state_digest"] = json!("sha256:zz");
        assert!(err(v).contains("is not sha256:<64 hex digits>"));
    }
}
