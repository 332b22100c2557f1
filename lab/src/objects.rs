//! The lab's object store over HTTP, in the shapes of S3's REST API with path-style addressing
//! (as MinIO serves it on a private network): `GET /<bucket>?list-type=2&prefix=P` answers a
//! `ListObjectsV2` result (XML: `Key`, `LastModified`, `ETag`, `Size` per object, sorted by key,
//! at most `max-keys` (1000) of them, `IsTruncated` and a `NextContinuationToken` past that),
//! `GET /<bucket>/<key>` the object's bytes, and S3's XML errors (`NoSuchBucket`, `NoSuchKey`,
//! 404). Reads are anonymous, as for a bucket with a public-read policy; the lab serves no
//! writes over HTTP (its Jobs write the folder directly). Objects are the files under
//! `object_store/<bucket>/`, the same ones the Jobs read and write.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub struct ObjectStore {
    pub root: PathBuf,
}

pub fn router(store: Arc<ObjectStore>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(store)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn error(status: StatusCode, code: &str, message: &str, resource: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><Resource>{}</Resource></Error>",
        escape(message),
        escape(resource)
    );
    (status, [(header::CONTENT_TYPE, "application/xml")], body).into_response()
}

/// Every file under `dir`, as keys relative to `base` (`/`-separated).
fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, std::fs::Metadata)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = e.metadata() else { continue };
        if meta.is_dir() {
            walk(base, &path, out);
        } else if let Ok(rel) = path.strip_prefix(base) {
            let key: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push((key.join("/"), meta));
        }
    }
}

fn etag(meta: &std::fs::Metadata, key: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(key.as_bytes());
    h.update(meta.len().to_le_bytes());
    if let Ok(m) = meta.modified()
        && let Ok(d) = m.duration_since(std::time::UNIX_EPOCH)
    {
        h.update(d.as_nanos().to_le_bytes());
    }
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// `ListObjectsV2`: the objects of `bucket` whose key starts with `prefix`, by key.
pub fn list_xml(
    root: &Path,
    bucket: &str,
    prefix: &str,
    start_after: Option<&str>,
    max_keys: usize,
) -> String {
    let base = root.join(bucket);
    let mut all = Vec::new();
    walk(&base, &base, &mut all);
    all.retain(|(k, _)| k.starts_with(prefix) && start_after.is_none_or(|s| k.as_str() > s));
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let truncated = all.len() > max_keys;
    all.truncate(max_keys);
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        escape(bucket),
        escape(prefix),
        all.len()
    );
    if truncated && let Some((last, _)) = all.last() {
        xml.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(last)
        ));
    }
    for (key, meta) in &all {
        let modified = meta
            .modified()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .unwrap_or_default()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ");
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{modified}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            escape(key),
            escape(&etag(meta, key)),
            meta.len()
        ));
    }
    xml.push_str("</ListBucketResult>");
    xml
}

fn query(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// `%XX` escapes of a URL path decoded (a `+` stays a `+` in a path).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(State(store): State<Arc<ObjectStore>>, req: Request) -> Response {
    let path = percent_decode(req.uri().path().trim_start_matches('/'));
    if req.method() != http::Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the lab's object store serves reads only",
            &path,
        );
    }
    let (bucket, key) = path.split_once('/').unwrap_or((path.as_str(), ""));
    if bucket.is_empty() || bucket.contains("..") || !store.root.join(bucket).is_dir() {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist",
            bucket,
        );
    }
    if key.is_empty() {
        let q = query(&req);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("list-type") != Some("2") {
            return error(
                StatusCode::NOT_IMPLEMENTED,
                "NotImplemented",
                "the lab's object store lists with list-type=2 (ListObjectsV2) only",
                bucket,
            );
        }
        let max = get("max-keys")
            .and_then(|m| m.parse().ok())
            .unwrap_or(1000usize)
            .min(1000);
        let after = get("continuation-token").or(get("start-after"));
        let body = list_xml(&store.root, bucket, get("prefix").unwrap_or(""), after, max);
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response();
    }
    let file = match super::jobs::object_path(&store.root, &format!("s3://{bucket}/{key}")) {
        Ok(f) => f,
        Err(m) => return error(StatusCode::BAD_REQUEST, "InvalidArgument", &m, key),
    };
    match std::fs::read(&file) {
        Ok(bytes) if file.is_file() => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes,
        )
            .into_response(),
        _ => error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            key,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_by_prefix_in_key_order_with_escaping_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("bk/lab-a/team-a/orders");
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("2.backup"), "{}").unwrap();
        std::fs::write(b.join("1&.backup"), "{}").unwrap();
        std::fs::create_dir_all(dir.path().join("bk/other")).unwrap();
        std::fs::write(dir.path().join("bk/other/x"), "x").unwrap();
        let x = list_xml(dir.path(), "bk", "lab-a/", None, 1000);
        assert!(x.contains("<KeyCount>2</KeyCount>"), "{x}");
        let first = x.find("1&amp;.backup").unwrap();
        let second = x.find("lab-a/team-a/orders/2.backup").unwrap();
        assert!(first < second, "{x}");
        assert!(!x.contains("other/x"));
        let page = list_xml(dir.path(), "bk", "", None, 1);
        assert!(page.contains("<IsTruncated>true</IsTruncated>"), "{page}");
        assert!(
            page.contains(
                "<NextContinuationToken>lab-a/team-a/orders/1&amp;.backup</NextContinuationToken>"
            ),
            "{page}"
        );
        assert_eq!(percent_decode("a%2Fb+c%26"), "a/b+c&");
        let rest = list_xml(
            dir.path(),
            "bk",
            "",
            Some("lab-a/team-a/orders/1&.backup"),
            1000,
        );
        assert!(rest.contains("<KeyCount>2</KeyCount>"), "{rest}");
    }
}
