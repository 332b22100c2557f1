//! The protobuf bodies the lab reads: a SelfSubjectAccessReview and a TokenRequest, as
//! client-go's typed clients (`kubectl auth can-i`, `kubectl create token`) send them (`application/vnd.kubernetes.protobuf`: the `k8s\0`
//! magic, a `runtime.Unknown` envelope, the message in its `raw` field). Decoded to the JSON
//! the rest of the lab reads; answers go back as JSON (those clients accept it).

use serde_json::{Value, json};

use super::ApiError;

/// The fields of one protobuf message: (number, bytes of a length-delimited field), and varints
/// as (number, their value in `varints`); fixed-width fields are skipped.
fn fields(b: &[u8]) -> Result<Vec<(u64, &[u8])>, ApiError> {
    Ok(fields_and_varints(b)?.0)
}

type Fields<'a> = (Vec<(u64, &'a [u8])>, Vec<(u64, u64)>);

fn fields_and_varints(mut b: &[u8]) -> Result<Fields<'_>, ApiError> {
    let bad = || ApiError::bad_request("the protobuf body is malformed");
    let varint = |b: &mut &[u8]| -> Result<u64, ApiError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or_else(bad)?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(bad())
    };
    let mut out = Vec::new();
    let mut numbers = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let skip = match key & 7 {
            0 => {
                numbers.push((key >> 3, varint(&mut b)?));
                0
            }
            1 => 8,
            2 => {
                let len = usize::try_from(varint(&mut b)?).map_err(|_| bad())?;
                let (field, rest) = b.split_at_checked(len).ok_or_else(bad)?;
                out.push((key >> 3, field));
                b = rest;
                0
            }
            5 => 4,
            _ => return Err(bad()),
        };
        b = b.get(skip..).ok_or_else(bad)?;
    }
    Ok((out, numbers))
}

fn strings(b: &[u8], names: &[(u64, &str)]) -> Result<Value, ApiError> {
    let mut o = json!({});
    for (n, bytes) in fields(b)? {
        if let Some((_, name)) = names.iter().find(|(k, _)| *k == n) {
            o[*name] = json!(String::from_utf8_lossy(bytes));
        }
    }
    Ok(o)
}

/// The message inside the `runtime.Unknown` envelope.
fn raw(body: &[u8]) -> Result<&[u8], ApiError> {
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| ApiError::bad_request("a protobuf body starts with the k8s magic"))?;
    Ok(fields(envelope)?
        .into_iter()
        .find(|(n, _)| *n == 2)
        .map(|(_, raw)| raw)
        .unwrap_or_default())
}

/// A protobuf TokenRequest (authentication.k8s.io/v1) as JSON: its audiences and expiration.
pub(super) fn token_request(body: &[u8]) -> Result<Value, ApiError> {
    let mut spec = json!({});
    for (n, field) in fields(raw(body)?)? {
        if n != 2 {
            continue;
        }
        let (strings, numbers) = fields_and_varints(field)?;
        let audiences: Vec<String> = strings
            .iter()
            .filter(|(k, _)| *k == 1)
            .map(|(_, a)| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !audiences.is_empty() {
            spec["audiences"] = json!(audiences);
        }
        if let Some((_, secs)) = numbers.iter().find(|(k, _)| *k == 4) {
            spec["expirationSeconds"] = json!(secs);
        }
    }
    Ok(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}))
}

/// A protobuf SelfSubjectAccessReview (authorization.k8s.io/v1) as JSON.
pub(super) fn self_subject_access_review(body: &[u8]) -> Result<Value, ApiError> {
    let raw = raw(body)?;
    let mut spec = json!({});
    for (n, review_field) in fields(raw)? {
        if n != 2 {
            continue;
        }
        for (k, attrs) in fields(review_field)? {
            match k {
                1 => {
                    spec["resourceAttributes"] = strings(
                        attrs,
                        &[
                            (1, "namespace"),
                            (2, "verb"),
                            (3, "group"),
                            (4, "version"),
                            (5, "resource"),
                            (6, "subresource"),
                            (7, "name"),
                        ],
                    )?
                }
                2 => spec["nonResourceAttributes"] = strings(attrs, &[(1, "path"), (2, "verb")])?,
                _ => {}
            }
        }
    }
    Ok(
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": spec}),
    )
}
