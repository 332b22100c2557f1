//! The changes a plan asks for (`Action`, with the pod template change and the Job they may
//! carry) and how they read in the log and the progress pane.

/// A change to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delete the member's pod (graceful, with a UID precondition: never its replacement).
    DeletePod { pod: String, uid: String },
    /// Set a StatefulSet's replicas; `remember` writes the count to restore on start, `None`
    /// clears it.
    Scale {
        sts: String,
        replicas: i32,
        remember: Option<i32>,
    },
    /// Create the operation's Job.
    CreateJob(JobPlan),
    /// Change a StatefulSet's pod template; its controller replaces the pod.
    PatchTemplate { sts: String, change: TemplateChange },
    /// Give a member a fresh volume: delete its claim (if still the old one; name, uid), then
    /// its pod (UID precondition); the StatefulSet makes a new claim and pod.
    ReplaceVolume {
        pod: String,
        pod_uid: String,
        claim: Option<(String, String)>,
    },
    /// A Neo4j 5 server-management statement, sent to the `system` database on `pod`.
    Cypher { pod: String, statement: String },
    /// Surge: a new server StatefulSet `name`, a copy of `like` with `change` applied.
    CreateStatefulSet {
        like: String,
        name: String,
        change: TemplateChange,
    },
    /// Surge: an old server's StatefulSet goes (its server hosts nothing any more).
    DeleteStatefulSet { sts: String },
}

/// What a resize or an upgrade changes in a pod template (its first container).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateChange {
    pub container: String,
    pub image: Option<String>,
    pub memory: Option<String>,
}

impl TemplateChange {
    /// A strategic merge patch: containers merge by name, so only these fields change.
    pub fn patch(&self) -> serde_json::Value {
        let mut c = serde_json::json!({ "name": self.container });
        if let Some(i) = &self.image {
            c["image"] = serde_json::json!(i);
        }
        if let Some(m) = &self.memory {
            c["resources"] =
                serde_json::json!({"requests": {"memory": m}, "limits": {"memory": m}});
        }
        serde_json::json!({"spec": {"template": {"spec": {"containers": [c]}}}})
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(i) = &self.image {
            parts.push(format!("image {i}"));
        }
        if let Some(m) = &self.memory {
            parts.push(format!("memory {m}"));
        }
        parts.join(", ")
    }

    /// Whether a template or pod with this image and memory already has the change.
    pub fn holds(&self, image: &str, memory: Option<&str>) -> bool {
        self.image.as_deref().is_none_or(|i| i == image)
            && self.memory.as_deref().is_none_or(|m| Some(m) == memory)
    }
}

/// A backup or diagnostics Job to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    pub name: String,
    /// `backup` or `diagnostics`.
    pub kind: &'static str,
    pub member: String,
    pub target: String,
}

impl Action {
    pub fn describe(&self) -> String {
        match self {
            Self::DeletePod { pod, .. } => format!("restart {pod} (delete its pod)"),
            Self::Scale {
                sts,
                replicas,
                remember: Some(before),
            } => format!("scale statefulset {sts} {before} → {replicas}"),
            Self::Scale { sts, replicas, .. } => format!("scale statefulset {sts} to {replicas}"),
            Self::CreateJob(j) if j.kind == "restore" => {
                format!("create restore Job {} reading {}", j.name, j.target)
            }
            Self::CreateJob(j) => format!("create {} Job {} from {}", j.kind, j.name, j.member),
            Self::PatchTemplate { sts, change } => {
                format!(
                    "set {} on statefulset {sts} (its pod is replaced)",
                    change.describe()
                )
            }
            Self::ReplaceVolume {
                pod,
                claim: Some((claim, _)),
                ..
            } => format!("delete claim {claim} and pod {pod} (a fresh volume)"),
            Self::ReplaceVolume { pod, .. } => format!("delete pod {pod} (its claim is going)"),
            Self::Cypher { pod, statement } => format!("{statement} (on {pod})"),
            Self::CreateStatefulSet { like, name, change } => format!(
                "create statefulset {name} like {like} with {}",
                change.describe()
            ),
            Self::DeleteStatefulSet { sts } => format!("delete statefulset {sts}"),
        }
    }

    /// The member it acts on, for the progress pane.
    pub fn member(&self) -> Option<&str> {
        match self {
            Self::DeletePod { pod, .. } | Self::ReplaceVolume { pod, .. } => Some(pod),
            Self::CreateJob(j) => Some(j.member.as_str()).filter(|m| !m.is_empty()),
            Self::Scale { .. }
            | Self::PatchTemplate { .. }
            | Self::Cypher { .. }
            | Self::CreateStatefulSet { .. }
            | Self::DeleteStatefulSet { .. } => None,
        }
    }
}
