//! The lab's control server: fault injection and the lab's truth, reached by `baton lab fault`
//! and `baton lab report` through the URL and CA that the kubeconfig carries in its
//! `baton-lab` extension. It listens apart from the API servers so that an API server can be
//! taken down and brought back. Callers authenticate with any orchestra's operator token.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Orchestra;
use super::kubelet::PodRuntime;

/// Faults that act on Raft members (partitions, pauses) and the truth timeline; implemented by
/// the member runtime when the lab's databases run Raft.
pub trait MemberFaults: Send + Sync {
    /// Cuts (or restores) the member running in `pod_key` ("orchestra/namespace/pod") off its peers.
    fn partition(&self, pod_key: &str, on: bool) -> Result<(), String>;
    /// Pauses the member like a long GC.
    fn stall(&self, pod_key: &str, duration: Duration) -> Result<(), String>;
    /// Gives the member an empty volume for its next start (replace-member).
    fn wipe(&self, pod_key: &str);
    /// The truth per database: leader/quorum timeline and failed writes.
    fn report(&self) -> Value;
}

/// A fault request, as `baton lab fault` sends it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    pub fault: String,
    #[serde(default)]
    pub orchestra: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub pod: Option<String>,
    #[serde(default)]
    pub seconds: Option<f64>,
    /// Turn a lasting fault (crash-loop, garbage-status) off again.
    #[serde(default)]
    pub off: bool,
}

/// The faults the lab knows, with what each needs.
pub const FAULTS: &[(&str, &str)] = &[
    (
        "kill-member",
        "kill the member's process (--orchestra, --namespace, --pod); it restarts",
    ),
    (
        "partition",
        "cut the member off its peers (--orchestra, --namespace, --pod)",
    ),
    (
        "heal",
        "end the member's partition (--orchestra, --namespace, --pod)",
    ),
    (
        "stall",
        "pause the member like a GC (--orchestra, --namespace, --pod, --seconds)",
    ),
    (
        "crash-loop",
        "make every start of the member fail (--orchestra, --namespace, --pod; --off ends it)",
    ),
    (
        "garbage-status",
        "make the member answer malformed JSON (--orchestra, --namespace, --pod; --off ends it)",
    ),
    (
        "apiserver-down",
        "take one orchestra's API server down (--orchestra)",
    ),
    ("apiserver-up", "bring it back (--orchestra)"),
    (
        "expire-watches",
        "end every watch of an orchestra with 410 Expired (--orchestra)",
    ),
];

pub struct Control {
    pub orchestras: Vec<Arc<Orchestra>>,
    pub members: Option<Arc<dyn MemberFaults>>,
}

pub fn router(c: Arc<Control>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(c)
}

fn reply(code: u16, v: Value) -> Response {
    let mut r = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        v.to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn fail(code: u16, message: impl Into<String>) -> Response {
    reply(code, json!({"error": message.into()}))
}

async fn handle(State(c): State<Arc<Control>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !c.orchestras.iter().any(|o| o.operator_token == token) {
        return fail(401, "the lab's control server needs an operator token");
    }
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_else(|_| Bytes::new());
    match (parts.method.as_str(), parts.uri.path()) {
        ("GET", "/lab/v1/report") => reply(200, report(&c)),
        ("POST", "/lab/v1/fault") => match serde_json::from_slice::<FaultRequest>(&body) {
            Ok(f) => match apply(&c, &f) {
                Ok(v) => reply(200, v),
                Err((code, m)) => fail(code, m),
            },
            Err(e) => fail(400, format!("bad fault request: {e}")),
        },
        _ => fail(404, "no such control endpoint"),
    }
}

fn report(c: &Control) -> Value {
    let orchestras: Vec<Value> = c
        .orchestras
        .iter()
        .map(|o| {
            let (pods, _) = o.store.list(super::resources::pods(), None);
            let ready = pods
                .iter()
                .filter(|p| p["status"]["conditions"].as_array().is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")))
                .count();
            json!({"name": o.name, "apiserver": if o.is_down() { "down" } else { "up" }, "pods": pods.len(), "ready": ready})
        })
        .collect();
    json!({
        "orchestras": orchestras,
        "databases": c.members.as_ref().map(|m| m.report()).unwrap_or(Value::Null),
    })
}

type Failure = (u16, String);

fn apply(c: &Control, f: &FaultRequest) -> Result<Value, Failure> {
    let orchestra = || -> Result<&Arc<Orchestra>, Failure> {
        let name = f
            .orchestra
            .as_deref()
            .ok_or((400, format!("{} needs --orchestra", f.fault)))?;
        c.orchestras
            .iter()
            .find(|o| o.name == name)
            .ok_or((404, format!("no orchestra named '{name}'")))
    };
    let pod = || -> Result<(Arc<Orchestra>, Arc<PodRuntime>, String), Failure> {
        let o = orchestra()?;
        let ns = f
            .namespace
            .as_deref()
            .ok_or((400, format!("{} needs --namespace", f.fault)))?;
        let name = f
            .pod
            .as_deref()
            .ok_or((400, format!("{} needs --pod", f.fault)))?;
        let rt = o.kubelet.pod(ns, name).ok_or((
            404,
            format!("pod {ns}/{name} is not running in orchestra {}", o.name),
        ))?;
        Ok((o.clone(), rt, format!("{}/{ns}/{name}", o.name)))
    };
    let members = || {
        c.members.as_ref().ok_or((
            409,
            "this lab's databases do not run Raft members".to_string(),
        ))
    };
    let done = |what: String| Ok(json!({"fault": f.fault, "done": what}));
    match f.fault.as_str() {
        "kill-member" => {
            let (_, rt, key) = pod()?;
            rt.kill();
            done(format!("killed {key}"))
        }
        "replace-member" => {
            let (o, rt, key) = pod()?;
            members()?.wipe(&key);
            super::controllers::delete_pod_gracefully(&o.store, &rt.key.0, &rt.key.1, 30);
            done(format!("replacing {key} with an empty volume"))
        }
        "crash-loop" => {
            let (_, rt, key) = pod()?;
            rt.faults.crash_loop.store(!f.off, Ordering::SeqCst);
            if !f.off {
                rt.kill();
            }
            done(format!(
                "crash-loop {} for {key}",
                if f.off { "off" } else { "on" }
            ))
        }
        "garbage-status" => {
            let (_, rt, key) = pod()?;
            rt.faults.garbage.store(!f.off, Ordering::SeqCst);
            done(format!(
                "garbage status {} for {key}",
                if f.off { "off" } else { "on" }
            ))
        }
        "partition" | "heal" => {
            let (_, _, key) = pod()?;
            members()?
                .partition(&key, f.fault == "partition")
                .map_err(|e| (409, e))?;
            done(format!("{} {key}", f.fault))
        }
        "stall" => {
            let (_, _, key) = pod()?;
            let secs = f.seconds.unwrap_or(5.0);
            if !(0.0..=3600.0).contains(&secs) {
                return Err((400, "--seconds must be between 0 and 3600".into()));
            }
            members()?
                .stall(&key, Duration::from_secs_f64(secs))
                .map_err(|e| (409, e))?;
            done(format!("stalled {key} for {secs} s"))
        }
        "apiserver-down" | "apiserver-up" => {
            let o = orchestra()?;
            o.set_down(f.fault == "apiserver-down");
            done(format!(
                "{} is {}",
                o.name,
                if o.is_down() { "down" } else { "up" }
            ))
        }
        "expire-watches" => {
            let o = orchestra()?;
            o.store.expire_watches();
            done(format!("expired every watch of {}", o.name))
        }
        other => Err((
            400,
            format!(
                "unknown fault '{other}'; known: {}",
                FAULTS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
