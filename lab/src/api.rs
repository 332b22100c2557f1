//! The HTTP face of one orchestra: translates Kubernetes API requests (discovery, list, get,
//! watch, create, replace, patch, delete, status, scale, logs, pod proxy, access reviews) into
//! store calls, checks the bearer token (operator or observer), and writes the request log.
//! Facts it follows: shared/LAB-API.md.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::Orchestra;
use super::controllers::delete_pod_gracefully;
use super::error::ApiError;
use super::paging::Paging;
use super::resources::{self, Resource};
use super::selector::{FieldSelector, LabelSelector};
use super::store::{Change, Frozen};

mod auth;
mod patch;
mod pods;
mod protobuf;
mod watch;

use patch::patch;
pub use patch::strategic_merge;
use pods::{logs, proxy};
use watch::watch;

pub use super::rbac::Identity;

/// The axum router of one orchestra's API server.
pub fn router(o: Arc<Orchestra>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(o)
}

struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(q.unwrap_or("").as_bytes())
                .filter(|(k, _)| !k.is_empty())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }
    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("true" | "1"))
    }
}

fn json_response(code: u16, v: &Value, content_type: &'static str) -> Response {
    serialized(code, v, content_type)
}

/// A list served from the store's objects; fields in the order `json!` gives them (sorted), so
/// the bytes are the ones a `Value` list would have.
#[derive(serde::Serialize)]
struct PlainList<'a> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    items: Vec<&'a Frozen>,
    kind: String,
    metadata: Value,
}

/// Any serializable body as JSON (a body that cannot be serialized is a 500, never a panic).
fn serialized(code: u16, v: &impl serde::Serialize, content_type: &'static str) -> Response {
    match serde_json::to_string(v) {
        Ok(text) => {
            let mut r =
                (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), text).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            r
        }
        Err(e) => error(&ApiError {
            code: 500,
            reason: "InternalError",
            message: format!("cannot serialize the body: {e}"),
        }),
    }
}

fn ok(v: &Value) -> Response {
    json_response(200, v, "application/json")
}

fn error(e: &ApiError) -> Response {
    json_response(e.code, &e.status(), "application/json")
}

async fn handle(State(o): State<Arc<Orchestra>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = Query::parse(parts.uri.query());
    let caller = auth::identify(&o, &parts.headers);
    let caller_name = caller.as_ref().map(Identity::user);
    let acting = caller.map(|id| auth::acting_as(&o, id, &parts.headers));
    // The request log names who the request acted as (the impersonated user, if any).
    let identity = match &acting {
        Some(Ok(id)) => Some(id.user()),
        _ => caller_name,
    };
    let verb = parts.method.clone();
    let response = match axum::body::to_bytes(body, 64 << 20).await {
        Err(e) => error(&ApiError::bad_request(format!("cannot read the body: {e}"))),
        Ok(_)
            if acting.is_none()
                && matches!(
                    path.as_str(),
                    "/healthz" | "/livez" | "/readyz" | "/version"
                ) =>
        {
            // Public info, as the system:public-info-viewer role grants on a real cluster.
            route(
                &o,
                Identity::Observer,
                &Method::GET,
                &path,
                &query,
                &parts.headers,
                Bytes::new(),
            )
            .await
        }
        Ok(body) => match acting {
            None => error(&ApiError {
                code: 401,
                reason: "Unauthorized",
                message: "Unauthorized".into(),
            }),
            Some(Err(status)) => auth::refused(&status),
            Some(Ok(id)) => {
                if o.is_down() {
                    // Answer once on a kept-alive HTTP/1 connection and close it; new ones are
                    // refused. HTTP/2 has no `Connection: close`: its requests get 503, as from a
                    // load balancer in front of a dead API server.
                    let mut r = error(&ApiError {
                        code: 503,
                        reason: "ServiceUnavailable",
                        message: "the lab's API server is down (fault injected)".into(),
                    });
                    if parts.version < axum::http::Version::HTTP_2 {
                        r.headers_mut()
                            .insert(header::CONNECTION, HeaderValue::from_static("close"));
                    }
                    r
                } else {
                    route(&o, id, &parts.method, &path, &query, &parts.headers, body).await
                }
            }
        },
    };
    o.log_request(
        identity.as_deref(),
        verb.as_str(),
        &path,
        parts.uri.query(),
        response.status().as_u16(),
    );
    response
}

#[allow(clippy::too_many_arguments)]
async fn route(
    o: &Arc<Orchestra>,
    id: Identity,
    method: &Method,
    path: &str,
    q: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["version"] => ok(&json!({
            "major": "1", "minor": "32", "gitVersion": "v1.32.4-baton-lab",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.8", "compiler": "gc",
            "platform": "linux/amd64",
        })),
        ["healthz" | "livez" | "readyz"] => (StatusCode::OK, "ok").into_response(),
        ["api"] => ok(&resources::api_versions()),
        ["apis"] => ok(&resources::api_group_list()),
        ["api", "v1"] => ok(&resources::resource_list("", "v1").unwrap_or_default()),
        ["apis", g, v] => match resources::resource_list(g, v) {
            Some(l) => ok(&l),
            None => error(&ApiError {
                code: 404,
                reason: "NotFound",
                message: format!("the server could not find the requested resource (get {g}/{v})"),
            }),
        },
        ["api", "v1", rest @ ..] => {
            resource_request(o, &id, method, "", "v1", rest, q, headers, body).await
        }
        ["apis", g, v, rest @ ..] => {
            resource_request(o, &id, method, g, v, rest, q, headers, body).await
        }
        _ => error(&ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
        }),
    }
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .next()
                .is_some_and(|first| first.contains("as=Table"))
        })
}

fn wants_metadata(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadata"))
}

fn partial(o: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
}

const TABLE_CT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Shapes an object (or list) the way the client asked: plain, Table or metadata-only.
fn present(
    view: &'static Resource,
    headers: &HeaderMap,
    q: &Query,
    obj: &Value,
) -> Result<Response, ApiError> {
    Ok(if wants_table(headers) {
        let include = include_object(q)?;
        json_response(
            200,
            &resources::table(view, std::slice::from_ref(obj), None, true, include),
            TABLE_CT,
        )
    } else if wants_metadata(headers) {
        json_response(
            200,
            &partial(obj),
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        )
    } else if std::ptr::eq(view, resources::stored(view)) {
        ok(obj)
    } else {
        ok(&resources::to_view(view, obj.clone()))
    })
}

/// The Table rows' `includeObject`; an unknown value is a 400, as from the API server.
fn include_object(q: &Query) -> Result<resources::Include, ApiError> {
    resources::Include::parse(q.get("includeObject")).map_err(ApiError::bad_request)
}

/// A field selector applies to the object as the client sees it (`regarding.name` for an
/// events.k8s.io Event, `involvedObject.name` for a core one).
/// Whether a stored object passes both selectors: the labels are read in place, and the object
/// is decoded only for a field selector.
fn selected(
    labels: &LabelSelector,
    fields: &FieldSelector,
    view: &'static Resource,
    obj: &Frozen,
) -> bool {
    labels.matches_frozen(obj) && (fields.is_empty() || fields_match(fields, view, &obj.to_value()))
}

fn fields_match(fields: &FieldSelector, view: &'static Resource, obj: &Value) -> bool {
    if std::ptr::eq(view, resources::stored(view)) {
        fields.matches(obj)
    } else {
        fields.matches(&resources::to_view(view, obj.clone()))
    }
}

#[allow(clippy::too_many_arguments)]
async fn resource_request(
    o: &Arc<Orchestra>,
    id: &Identity,
    method: &Method,
    group: &str,
    version: &str,
    rest: &[&str],
    q: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    // /namespaces/{ns}/{resource}/… — but /namespaces/{name}[/status] is the namespace itself.
    let (ns, rest): (Option<&str>, &[&str]) = match rest {
        ["namespaces", ns, res, ..]
            if !(group.is_empty() && matches!(*res, "status" | "finalize")) =>
        {
            (Some(*ns), &rest[2..])
        }
        _ => (None, rest),
    };
    let (plural, name, sub, tail) = match rest {
        [p] => (*p, "", None, &[][..]),
        [p, n] => (*p, *n, None, &[][..]),
        [p, n, s, tail @ ..] => (*p, *n, Some(*s), tail),
        _ => return error(&ApiError::bad_request("bad path")),
    };
    let Some(view) = resources::find(group, version, plural) else {
        return error(&ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("the server could not find the requested resource ({plural})"),
        });
    };
    // `view` is the resource as the client names it, `res` where its objects live.
    let res = resources::stored(view);
    let out = |obj: Value| resources::to_view(view, obj);
    if res.namespaced && ns.is_none() && !name.is_empty() {
        return error(&ApiError::bad_request(format!(
            "{} is namespaced: use /namespaces/NS/{}",
            res.plural, res.plural
        )));
    }
    let ns_str = ns.unwrap_or("");
    let mutating = !matches!(*method, Method::GET | Method::HEAD);
    let is_review = res.plural == "selfsubjectaccessreviews";
    // RBAC, before anything else is looked at (as the API server's authorizer does).
    let rbac_verb = super::rbac::verb(method.as_str(), !name.is_empty(), q.flag("watch"));
    let rbac_resource = match sub {
        Some(s) => format!("{}/{s}", view.plural),
        None => view.plural.to_string(),
    };
    let attrs = super::rbac::Attributes {
        verb: rbac_verb,
        group: view.group,
        resource: &rbac_resource,
        namespace: ns,
        name,
    };
    if super::rbac::authorize(&o.store, id, &attrs).is_none() {
        return json_response(
            403,
            &super::rbac::forbidden_status(id, rbac_verb, view.group, &rbac_resource, ns, name),
            "application/json",
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("");
    let protobuf = content_type.contains("protobuf");
    let decodes_protobuf = is_review || sub == Some("token");
    if mutating && ((protobuf && !decodes_protobuf) || content_type.contains("cbor")) {
        return error(&ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: format!("the lab speaks JSON only, not {content_type}"),
        });
    }
    if q.get("dryRun").is_some() && mutating {
        return error(&ApiError::bad_request("the lab does not support dryRun"));
    }
    let body_json = || -> Result<Value, ApiError> {
        serde_json::from_slice(&body)
            .map(|v| resources::from_view(view, v))
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
    };
    let result: Result<Response, ApiError> = async {
        match (method.clone(), name, sub) {
            (Method::GET, "", None) => {
                if q.flag("watch") {
                    watch(o, view, ns, q, headers)
                } else {
                    list(o, view, ns, q, headers)
                }
            }
            (Method::GET, _, None) => present(view, headers, q, &o.store.get(res, ns_str, name)?),
            (Method::GET, _, Some("status")) => Ok(ok(&o.store.get(res, ns_str, name)?)),
            (Method::GET, _, Some("scale")) if res.plural == "statefulsets" => Ok(ok(&scale_of(&o.store.get(res, ns_str, name)?))),
            (Method::GET, _, Some("log")) if res.plural == "pods" => logs(o, ns_str, name, q).await,
            (Method::POST, _, Some("token")) if res.plural == "serviceaccounts" => auth::token_request(o, ns_str, name, &if protobuf { protobuf::token_request(&body)? } else { serde_json::from_slice(&body).unwrap_or(Value::Null) }),
            (_, _, Some("proxy")) if res.plural == "pods" => proxy(o, method, ns_str, name, tail, q, headers, &body),
            (Method::POST, "", None) if is_review => {
                let ask = if protobuf { protobuf::self_subject_access_review(&body)? } else { body_json()? };
                Ok(json_response(201, &super::rbac::review(&o.store, id, &ask), "application/json"))
            }
            (Method::POST, "", None) => {
                let obj = body_json()?;
                if res.plural == "pods" {
                    super::controllers::admit_pod(&o.store, ns_str, &obj)?;
                }
                let created = o.store.create(res, ns_str, obj)?;
                Ok(json_response(201, &out(created), "application/json"))
            }
            (Method::PUT, _, sub) => {
                let new = body_json()?;
                let expect = new["metadata"]["resourceVersion"].as_str().map(str::to_string);
                let updated = o.store.update(res, ns_str, name, expect.as_deref(), |cur| {
                    match sub {
                        None => {
                            let status = cur.get("status").cloned();
                            let meta_keep = cur["metadata"].clone();
                            *cur = new.clone();
                            if let Some(s) = status.filter(|_| res.subresources.contains(&"status")) {
                                cur["status"] = s;
                            }
                            for f in ["deletionTimestamp", "generation"] {
                                cur["metadata"][f] = meta_keep[f].clone();
                            }
                        }
                        Some("status") => cur["status"] = new["status"].clone(),
                        Some("scale") => cur["spec"]["replicas"] = new["spec"]["replicas"].clone(),
                        Some(other) => return Err(ApiError::bad_request(format!("no subresource {other}"))),
                    }
                    Ok(())
                })?;
                Ok(ok(&if sub == Some("scale") { scale_of(&updated) } else { out(updated) }))
            }
            (Method::PATCH, _, sub) => patch(o, view, ns_str, name, sub, headers, &body),
            (Method::DELETE, "", None) => {
                let sel = LabelSelector::parse(q.get("labelSelector").unwrap_or("")).map_err(ApiError::bad_request)?;
                let (items, _) = o.store.list_filtered(res, ns, |f| sel.matches_frozen(f));
                for it in &items {
                    delete_one(o, res, ns_str, it["metadata"]["name"].as_str().unwrap_or(""), q, &body)?;
                }
                let items: Vec<Value> = items.into_iter().map(out).collect();
                Ok(ok(&json!({"kind": list_kind(view), "apiVersion": view.api_version(), "metadata": {}, "items": items})))
            }
            (Method::DELETE, _, None) => Ok(ok(&out(delete_one(o, res, ns_str, name, q, &body)?))),
            _ => Err(ApiError { code: 405, reason: "MethodNotAllowed", message: format!("{method} is not supported on this path") }),
        }
    }
    .await;
    result.unwrap_or_else(|e| error(&e))
}

fn list_kind(res: &Resource) -> String {
    format!("{}List", res.kind)
}

fn scale_of(sts: &Value) -> Value {
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": sts["metadata"]["name"], "namespace": sts["metadata"]["namespace"], "uid": sts["metadata"]["uid"], "resourceVersion": sts["metadata"]["resourceVersion"], "creationTimestamp": sts["metadata"]["creationTimestamp"]},
        "spec": {"replicas": sts["spec"]["replicas"]},
        "status": {"replicas": sts["status"]["replicas"].as_i64().unwrap_or(0), "selector": sts["spec"]["selector"]["matchLabels"].as_object().map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>().join(",")).unwrap_or_default()},
    })
}

fn selectors(q: &Query) -> Result<(LabelSelector, FieldSelector), ApiError> {
    Ok((
        LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?,
        FieldSelector::parse(q.get("fieldSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?,
    ))
}

fn list(
    o: &Orchestra,
    view: &'static Resource,
    ns: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let res = resources::stored(view);
    let (labels, fields) = selectors(q)?;
    let ns = if res.namespaced { ns } else { None };
    let paging = Paging::parse(q.get("limit"), q.get("continue"), q.get("resourceVersion"))?;
    let unfiltered = labels.is_empty() && fields.is_empty();
    // A plain list of objects as stored (no Table, no metadata only, no renamed view, no field
    // selector): served straight from the store's objects, with the same JSON.
    if fields.is_empty()
        && std::ptr::eq(view, res)
        && !wants_table(headers)
        && !wants_metadata(headers)
    {
        let page = o
            .store
            .list_page_shared(res, ns, &paging, unfiltered, |f| labels.matches_frozen(f))?;
        let list = PlainList {
            api_version: view.api_version(),
            items: page.items.iter().map(|i| &**i).collect(),
            kind: list_kind(view),
            metadata: page.list_meta(),
        };
        return Ok(serialized(200, &list, "application/json"));
    }
    let page = o.store.list_page(res, ns, &paging, unfiltered, |f| {
        selected(&labels, &fields, view, f)
    })?;
    let meta = page.list_meta();
    if wants_table(headers) {
        let include = include_object(q)?;
        let mut table = resources::table(view, &page.items, None, true, include);
        table["metadata"] = meta;
        return Ok(json_response(200, &table, TABLE_CT));
    }
    if wants_metadata(headers) {
        let items: Vec<Value> = page.items.iter().map(partial).collect();
        return Ok(json_response(
            200,
            &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": items}),
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
        ));
    }
    let items: Vec<Value> = page
        .items
        .into_iter()
        .map(|v| resources::to_view(view, v))
        .collect();
    Ok(ok(&json!({
        "kind": list_kind(view),
        "apiVersion": view.api_version(),
        "metadata": meta,
        "items": items,
    })))
}

/// Deletes one object; pods terminate gracefully unless the grace period is zero.
fn delete_one(
    o: &Orchestra,
    res: &'static Resource,
    ns: &str,
    name: &str,
    q: &Query,
    body: &Bytes,
) -> Result<Value, ApiError> {
    let opts: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let grace = q
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse::<i64>().ok())
        .or_else(|| opts["gracePeriodSeconds"].as_i64());
    if res.plural == "pods" && grace != Some(0) {
        o.store.get(res, ns, name)?;
        delete_pod_gracefully(&o.store, ns, name, grace.unwrap_or(30));
        return o.store.get(res, ns, name).or_else(|_| Ok(json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "details": {"name": name, "kind": "pods"}})));
    }
    if res.plural == "persistentvolumeclaims" {
        return super::controllers::delete_claim(&o.store, ns, name);
    }
    o.store.remove(res, ns, name)
}
