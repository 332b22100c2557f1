//! Pods of baton's runner image run the real baton executable (the lab's kubelet starts it as a
//! child process with the pod's args, env and a kubeconfig for its ServiceAccount): a Job's
//! `baton status --output json` completes and its log is the child's output; a failing command
//! fails the Job with the child's exit code; deleting a running runner pod kills the child; a
//! Job whose ServiceAccount does not exist gets no pod and a FailedCreate event.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use baton_lab::{Lab, LabOptions, RUNNER_IMAGE, RunnerImage};
use common::{TestLab, small_spec, wait_for, wait_some};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::{Value, json};

async fn start() -> TestLab {
    for v in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        assert!(
            std::env::var_os(v).is_none(),
            "unset {v} before running the lab tests"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let opts = LabOptions {
        profile: None,
        kubeconfig_out: Some(dir.path().join("kubeconfig")),
        request_log: Some(dir.path().join("requests.jsonl")),
        seed: Some(7),
        data_dir: Some(dir.path().join("lab-data")),
        bookmark_every: None,
    };
    let runner = RunnerImage::baton(env!("CARGO_BIN_EXE_baton").into());
    let spec = small_spec(&[("team-a", "orders", 3, 0)]);
    let lab = Lab::start_spec_with_runner(spec, opts, Some(runner))
        .await
        .unwrap();
    lab.wait_ready(Duration::from_secs(20)).await.unwrap();
    TestLab { lab, dir }
}

fn job(name: &str, sa: &str, args: &[&str]) -> Job {
    serde_json::from_value(json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {
                "serviceAccountName": sa,
                "restartPolicy": "Never",
                "containers": [{
                    "name": "baton",
                    "image": RUNNER_IMAGE,
                    "args": args,
                    "env": [
                        {"name": "BATON_POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "HTTPS_PROXY", "value": "http://127.0.0.1:9"},
                    ],
                }],
            }},
        },
    }))
    .unwrap()
}

fn condition(j: &Job, ty: &str) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == ty && c.status == "True"))
}

async fn pod_of(pods: &Api<Pod>, job: &str) -> Option<Pod> {
    pods.list(&ListParams::default().labels(&format!("job-name={job}")))
        .await
        .ok()?
        .items
        .into_iter()
        .next()
}

fn exit_code(p: &Pod) -> Option<i32> {
    p.status.as_ref()?.container_statuses.as_ref()?[0]
        .state
        .as_ref()?
        .terminated
        .as_ref()
        .map(|t| t.exit_code)
}

/// A Role that lets baton's runner read what `baton status` reads in the namespace.
const READER: &str = r#"{"apiVersion":"v1","kind":"List","items":[
 {"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"baton-operator","namespace":"team-a"}},
 {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"baton-operator","namespace":"team-a"},
  "rules":[{"apiGroups":["","apps","batch","coordination.k8s.io"],"resources":["*"],"verbs":["get","list","watch"]}]},
 {"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"baton-operator","namespace":"team-a"},
  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"baton-operator"},
  "subjects":[{"kind":"ServiceAccount","name":"baton-operator","namespace":"team-a"}]}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runner_pods_run_baton_for_real() {
    let t = start().await;
    let file = t.dir.path().join("rbac.json");
    std::fs::write(&file, READER).unwrap();
    let (code, out, err) = t
        .kubectl(&["apply", "--validate=false", "-f", file.to_str().unwrap()])
        .await;
    assert_eq!(code, 0, "{out}{err}");
    let client = t.kube_client("lab-a").await;
    let jobs: Api<Job> = Api::namespaced(client.clone(), "team-a");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "team-a");
    let within = Duration::from_secs(60);

    // A run that succeeds: exit code 0, the Job completes, the log is the child's output.
    jobs.create(
        &PostParams::default(),
        &job("version", "baton-operator", &["--version"]),
    )
    .await
    .unwrap();
    wait_for("the version Job completes", within, || async {
        jobs.get("version")
            .await
            .is_ok_and(|j| condition(&j, "Complete"))
    })
    .await;
    let (code, log, err) = t.kubectl(&["logs", "job/version", "-n", "team-a"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(log.starts_with("baton "), "{log}");
    assert_eq!(exit_code(&pod_of(&pods, "version").await.unwrap()), Some(0));

    // baton status, finding its cluster through KUBECONFIG (context "lab-a"), as the
    // ServiceAccount: it lists pods at the cluster scope, which a ServiceAccount with only a
    // Role may not (403, as on a real cluster), so it reports the orchestra unreachable and
    // exits 1.
    jobs.create(
        &PostParams::default(),
        &job(
            "status",
            "baton-operator",
            &["status", "--output", "json", "--timeout", "20"],
        ),
    )
    .await
    .unwrap();
    wait_for("the status Job ends", within, || async {
        jobs.get("status")
            .await
            .is_ok_and(|j| condition(&j, "Complete") || condition(&j, "Failed"))
    })
    .await;
    let (code, log, err) = t.kubectl(&["logs", "job/status", "-n", "team-a"]).await;
    assert_eq!(code, 0, "{err}");
    let json_start = log
        .find('{')
        .unwrap_or_else(|| panic!("JSON in the log:\n{log}"));
    let status: Value = serde_json::from_str(log[json_start..].trim())
        .unwrap_or_else(|e| panic!("{e}: the log is baton's JSON:\n{log}"));
    assert_eq!(status["orchestras"][0]["name"], "lab-a", "{status}");
    assert!(
        status["orchestras"][0]["connection"]
            .as_str()
            .is_some_and(|c| c.contains(
                "User \"system:serviceaccount:team-a:baton-operator\" cannot list resource \"pods\""
            )),
        "{status}"
    );
    let pod = pod_of(&pods, "status").await.unwrap();
    assert_eq!(exit_code(&pod), Some(1));
    assert!(condition(&jobs.get("status").await.unwrap(), "Failed"));
    assert_eq!(
        pod.spec.as_ref().unwrap().service_account_name.as_deref(),
        Some("baton-operator")
    );
    // The child's kubeconfig: one context named as the orchestra, the pod's namespace, the
    // ServiceAccount's token; its requests are the ServiceAccount's in the request log.
    let pod_name = pod.metadata.name.clone().unwrap();
    let kc_path = t
        .dir
        .path()
        .join("lab-data/runner/lab-a/team-a")
        .join(&pod_name)
        .join("kubeconfig");
    let kc: Value = serde_json::from_str(&std::fs::read_to_string(&kc_path).unwrap()).unwrap();
    assert_eq!(kc["current-context"], "lab-a");
    assert_eq!(kc["contexts"][0]["name"], "lab-a");
    assert_eq!(kc["contexts"][0]["context"]["namespace"], "team-a");
    assert!(
        t.request_log()
            .iter()
            .any(|r| r["identity"] == "system:serviceaccount:team-a:baton-operator"),
        "the runner's requests are the ServiceAccount's"
    );

    // A usage error: exit code 2, the Job fails.
    jobs.create(
        &PostParams::default(),
        &job("bad", "baton-operator", &["op", "rolling-restart", "--yes"]),
    )
    .await
    .unwrap();
    wait_for("the bad Job fails", within, || async {
        jobs.get("bad").await.is_ok_and(|j| condition(&j, "Failed"))
    })
    .await;
    let pod = pod_of(&pods, "bad").await.unwrap();
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Failed")
    );
    assert_eq!(exit_code(&pod), Some(2));
    let (_, log, _) = t.kubectl(&["logs", "job/bad", "-n", "team-a"]).await;
    assert!(
        log.contains("--orchestra") || log.contains("required"),
        "clap's usage error:\n{log}"
    );

    // A long run (a status that waits for an API server that never answers): deleting the
    // pod kills the child.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_kc = t.dir.path().join("silent.kubeconfig");
    std::fs::write(
        &dead_kc,
        json!({"apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "silent", "cluster": {"server": format!("http://{}", silent.local_addr().unwrap())}}],
            "users": [{"name": "u", "user": {"token": "x"}}],
            "contexts": [{"name": "silent", "context": {"cluster": "silent", "user": "u"}}],
            "current-context": "silent"})
        .to_string(),
    )
    .unwrap();
    let args = [
        "--kubeconfig",
        dead_kc.to_str().unwrap(),
        "status",
        "--timeout",
        "600",
    ];
    jobs.create(
        &PostParams::default(),
        &job("long", "baton-operator", &args),
    )
    .await
    .unwrap();
    let runner = t.lab.runners[0].clone();
    let (pod_name, pid) = wait_some("the long pod's child runs", within, || async {
        let p = pod_of(&pods, "long").await?;
        let name = p.metadata.name?;
        runner.pid("team-a", &name).map(|pid| (name, pid))
    })
    .await;
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    pods.delete(&pod_name, &DeleteParams::default().grace_period(2))
        .await
        .unwrap();
    wait_for("the child is gone", within, || async {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
    .await;
    wait_for("the pod is gone", within, || async {
        pods.get_opt(&pod_name).await.is_ok_and(|p| p.is_none())
    })
    .await;

    // A ServiceAccount that does not exist: no pod, a FailedCreate event.
    jobs.create(&PostParams::default(), &job("nosa", "nobody", &["status"]))
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), "team-a");
    let message = wait_some("a FailedCreate event", within, || async {
        events
            .list(&ListParams::default().fields("involvedObject.name=nosa"))
            .await
            .ok()?
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("FailedCreate"))
            .and_then(|e| e.message)
    })
    .await;
    assert!(
        message.contains(
            "error looking up service account team-a/nobody: serviceaccount \"nobody\" not found"
        ),
        "{message}"
    );
    assert!(pod_of(&pods, "nosa").await.is_none());
    let j = jobs.get("nosa").await.unwrap();
    assert_eq!(j.status.as_ref().and_then(|s| s.active).unwrap_or(0), 0);
    drop(silent);
    t.lab.shutdown().await;
}
