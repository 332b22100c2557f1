//! Who a request is: the bearer token (the operator's, the observer's, or a ServiceAccount's
//! from the TokenRequest API), then impersonation headers; and the TokenRequest API itself
//! (`POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`, `kubectl create token`).

use super::*;
use crate::rbac;

/// The caller by its bearer token; None when the token is missing or unknown (401).
pub(super) fn identify(o: &Orchestra, headers: &HeaderMap) -> Option<Identity> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth.strip_prefix("Bearer ")?.trim();
    if token == o.operator_token {
        return Some(Identity::Operator);
    }
    if token == o.observer_token {
        return Some(Identity::Observer);
    }
    let bound = o.tokens.lookup(token)?;
    // A token dies with its ServiceAccount (a new one of the same name has another uid).
    let sa = o
        .store
        .get_shared(resources::serviceaccounts(), &bound.namespace, &bound.name)
        .ok()?;
    let pod_alive = bound.pod.as_ref().is_none_or(|(pod, uid)| {
        o.store
            .get_shared(resources::pods(), &bound.namespace, pod)
            .is_ok_and(|p| p["metadata"]["uid"] == uid.as_str())
    });
    (pod_alive && sa["metadata"]["uid"] == bound.uid.as_str()).then_some(Identity::ServiceAccount {
        namespace: bound.namespace,
        name: bound.name,
    })
}

/// The identity the request acts as: the caller's, or the one it may impersonate; else the
/// `Status` body to answer (403 when it may not).
pub(super) fn acting_as(
    o: &Orchestra,
    caller: Identity,
    headers: &HeaderMap,
) -> Result<Identity, Value> {
    let user = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok());
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    rbac::impersonate(&o.store, caller, user, &groups)
}

/// The answer to a refused impersonation.
pub(super) fn refused(status: &Value) -> Response {
    let code = status["code"]
        .as_u64()
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(403);
    json_response(code, status, "application/json")
}

/// A TokenRequest for the ServiceAccount `ns/name`: a token that authenticates as it.
pub(super) fn token_request(
    o: &Orchestra,
    ns: &str,
    name: &str,
    req: &Value,
) -> Result<Response, ApiError> {
    let sa = o.store.get(resources::serviceaccounts(), ns, name)?;
    let seconds = req["spec"]["expirationSeconds"].as_i64().unwrap_or(3600);
    if seconds < 600 {
        return Err(ApiError::invalid(format!(
            "TokenRequest.authentication.k8s.io \"{name}\" is invalid: spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes"
        )));
    }
    let audiences = match &req["spec"]["audiences"] {
        Value::Array(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!(["https://kubernetes.default.svc.cluster.local"]),
    };
    let token = o
        .tokens
        .issue(ns, name, sa["metadata"]["uid"].as_str().unwrap_or(""), None);
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(seconds))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(json_response(
        201,
        &json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": null},
            "spec": {"audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": req["spec"]["boundObjectRef"]},
            "status": {"token": token, "expirationTimestamp": expires},
        }),
        "application/json",
    ))
}
