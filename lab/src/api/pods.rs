//! A pod's subresources that are not objects: `log` (with `follow`, `tailLines`, `limitBytes`)
//! and `proxy` (the member's HTTP endpoints reached through the API server).

use super::watch::stream_response;
use super::*;

pub(super) async fn logs(
    o: &Orchestra,
    ns: &str,
    name: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    let pod = o.store.get(resources::pods(), ns, name)?;
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let container = match q.get("container") {
        Some(c) if containers.iter().any(|x| x == c) => c.to_string(),
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let waiting = pod["status"]["containerStatuses"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == container.as_str()))
        .and_then(|c| c["state"]["waiting"]["reason"].as_str())
        .map(str::to_string);
    let Some(rt) = o.kubelet.pod(ns, name) else {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
        )));
    };
    let previous = q.flag("previous");
    if previous && !rt.logs.has_previous() {
        return Err(ApiError::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    if !previous && rt.logs.lines(false).is_empty() && !rt.logs.is_running() && waiting.is_some() {
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {}",
            waiting.unwrap_or_default()
        )));
    }
    let follow = q.flag("follow") && !previous;
    let timestamps = q.flag("timestamps");
    let tail = q.get("tailLines").and_then(|t| t.parse::<usize>().ok());
    let mut limit = q
        .get("limitBytes")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(usize::MAX);
    let since = q
        .get("sinceSeconds")
        .and_then(|t| t.parse::<i64>().ok())
        .map(|s| chrono::Utc::now() - chrono::Duration::seconds(s));
    let fmt = move |(ts, line): &(String, String)| {
        if timestamps {
            format!("{ts} {line}\n")
        } else {
            format!("{line}\n")
        }
    };
    let keep = move |(ts, _): &(String, String)| {
        since.is_none_or(|s| chrono::DateTime::parse_from_rfc3339(ts).is_ok_and(|t| t >= s))
    };
    let lines = rt.logs.lines(previous);
    let start = tail.map_or(0, |t| lines.len().saturating_sub(t));
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let mut changed = rt.logs.changed.subscribe();
    tokio::spawn(async move {
        let mut sent = start;
        let mut pending: Vec<(String, String)> = lines[start..].to_vec();
        loop {
            for l in pending.iter().filter(|l| keep(l)) {
                // limitBytes counts bytes, and may cut a character: send bytes, not a str.
                let mut bytes = fmt(l).into_bytes();
                bytes.truncate(limit);
                limit -= bytes.len();
                if tx.send(Bytes::from(bytes)).await.is_err() || limit == 0 {
                    return;
                }
            }
            sent += pending.len();
            if !follow {
                return;
            }
            let now = rt.logs.lines(false);
            if now.len() > sent {
                pending = now[sent..].to_vec();
                continue;
            }
            if !rt.logs.is_running() && !now.is_empty() {
                return;
            }
            pending.clear();
            tokio::select! {
                r = changed.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(30)) => if tx.is_closed() { return },
            }
            let now = rt.logs.lines(false);
            if now.len() < sent {
                // The container restarted: follow the new run.
                sent = 0;
            }
            pending = now[sent.min(now.len())..].to_vec();
        }
    });
    Ok(stream_response(rx, "text/plain"))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn proxy(
    o: &Orchestra,
    method: &Method,
    ns: &str,
    name_port: &str,
    tail: &[&str],
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let (name, port) = match name_port.split_once(':') {
        Some((n, p)) => (n, p.parse::<u16>().ok()),
        None => (name_port, None),
    };
    let pod = o.store.get(resources::pods(), ns, name)?;
    let port = match port {
        Some(p) => p,
        None => pod["spec"]["containers"][0]["ports"][0]["containerPort"]
            .as_u64()
            .unwrap_or(80) as u16,
    };
    let unavailable = |why: String| ApiError {
        code: 503,
        reason: "ServiceUnavailable",
        message: format!("error trying to reach service: {why}"),
    };
    let Some(rt) = o.kubelet.pod(ns, name) else {
        return Err(unavailable(format!(
            "dial tcp {}:{port}: connect: connection refused",
            pod["status"]["podIP"].as_str().unwrap_or("<none>")
        )));
    };
    let mut path = format!("/{}", tail.join("/"));
    let query: Vec<String> = q.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let req = crate::kubelet::HttpRequest {
        port,
        method: method.to_string(),
        path,
        accept: headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        // Like a real API server, the proxy consumes the client's Authorization header (its
        // bearer token) and never forwards it to the pod.
        authorization: None,
        body: body.to_vec(),
    };
    match rt.http(&req) {
        Some(reply) => {
            let mut r = (
                StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK),
                reply.body,
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(reply.content_type),
            );
            Ok(r)
        }
        None => Err(unavailable(format!(
            "dial tcp {}:{port}: connect: connection refused",
            rt.ip
        ))),
    }
}
