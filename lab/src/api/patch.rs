//! PATCH as the API server applies it: JSON patch, merge patch, the lab's strategic merge
//! (server-side apply creates what is missing), on the object, its status or its scale.

use super::*;

/// Strategic merge as far as the lab needs it: maps merge, `null` deletes, lists of objects with
/// a `name` merge by name, other lists are replaced.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if k == "$patch"
                    || k.starts_with("$setElementOrder")
                    || k.starts_with("$retainKeys")
                {
                    continue;
                }
                if v.is_null() {
                    t.remove(k);
                } else if let Some(cur) = t.get_mut(k) {
                    strategic_merge(cur, v);
                } else {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
        (Value::Array(t), Value::Array(p))
            if !p.is_empty()
                && p.iter().all(|e| e.get("name").is_some())
                && t.iter().all(|e| e.get("name").is_some()) =>
        {
            for pe in p {
                match t.iter_mut().find(|te| te["name"] == pe["name"]) {
                    Some(te) => strategic_merge(te, pe),
                    None => t.push(pe.clone()),
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub(super) fn patch(
    o: &Orchestra,
    view: &'static Resource,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|c| c.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ct = ct.split(';').next().unwrap_or("").trim().to_string();
    let res = resources::stored(view);
    let patch_body: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the patch is not JSON: {e}")))?;
    // A patch applies to the object as the client sees it.
    let apply = |stored: &mut Value| -> Result<(), ApiError> {
        let mut viewed = resources::to_view(view, std::mem::take(stored));
        let target = &mut viewed;
        let result = match ct.as_str() {
            "application/json-patch+json" => {
                let p: json_patch::Patch = serde_json::from_value(patch_body.clone())
                    .map_err(|e| ApiError::bad_request(format!("bad JSON patch: {e}")))?;
                json_patch::patch(target, &p)
                    .map_err(|e| ApiError::invalid(format!("the JSON patch does not apply: {e}")))
            }
            "application/merge-patch+json" => {
                json_patch::merge(target, &patch_body);
                Ok(())
            }
            "application/strategic-merge-patch+json" | "application/apply-patch+yaml" => {
                strategic_merge(target, &patch_body);
                Ok(())
            }
            other => Err(ApiError {
                code: 415,
                reason: "UnsupportedMediaType",
                message: format!("the lab does not accept patches of type '{other}'"),
            }),
        };
        *stored = resources::from_view(view, viewed);
        result
    };
    if ct == "application/apply-patch+yaml" && sub.is_none() && o.store.get(res, ns, name).is_err()
    {
        let mut obj = resources::from_view(view, patch_body.clone());
        obj["metadata"]["name"] = json!(name);
        let created = o.store.create(res, ns, obj)?;
        return Ok(json_response(
            201,
            &resources::to_view(view, created),
            "application/json",
        ));
    }
    let updated = o.store.update(res, ns, name, None, |cur| match sub {
        None => {
            let status = cur.get("status").cloned();
            apply(cur)?;
            if res.subresources.contains(&"status") {
                match status {
                    Some(s) => cur["status"] = s,
                    None => {
                        if let Some(m) = cur.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            Ok(())
        }
        Some("status") => {
            let mut copy = cur.clone();
            apply(&mut copy)?;
            cur["status"] = copy["status"].clone();
            Ok(())
        }
        Some("scale") => {
            let mut scale = scale_of(cur);
            apply(&mut scale)?;
            cur["spec"]["replicas"] = scale["spec"]["replicas"].clone();
            Ok(())
        }
        Some(other) => Err(ApiError::bad_request(format!("no subresource {other}"))),
    })?;
    Ok(ok(&if sub == Some("scale") {
        scale_of(&updated)
    } else {
        resources::to_view(view, updated)
    }))
}
