//! Backups in the object store, as a restore chooses and checks them before it stops anything.
//!
//! The object store is reached S3-style over HTTP with path-style addressing (S3, MinIO, and
//! the lab's own store): `operations.object_store_endpoint` in the config is its base URL, and
//! `s3://bucket/key` is `GET <endpoint>/bucket/key`. Listing is `ListObjectsV2`
//! (`GET <endpoint>/bucket?list-type=2&prefix=…`, XML, pages followed by continuation token).
//! Requests are unsigned (a bucket readable by the network baton runs in); signing is not built.
//!
//! A database's backups are the `.backup` objects under `<artifacts>/<orchestra>/<namespace>/<db>/`
//! (where `baton op backup` writes them), newest first. Before a restore stops anything its
//! backup must exist, be readable (its metadata: `kind`, `database`, `applied_index`,
//! `state_digest`) and belong to this database; each is a rule with a name.

use std::collections::BTreeMap;

use super::executor::{ExecError, Executor, ObjectInfo};
use super::progress::Outcome;
use super::safety::Check;

pub const EXISTS: &str = "backup-exists";
pub const READABLE: &str = "backup-readable";
pub const SAME_DATABASE: &str = "backup-of-this-database";

/// `s3://bucket/key` → (bucket, key).
pub fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// Where a database's backups are: `<artifacts>/<orchestra>/<namespace>/<db>/`.
pub fn prefix(artifacts: &str, database_id: &str) -> String {
    format!("{}/{database_id}/", artifacts.trim_end_matches('/'))
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text of the first `<tag>…</tag>` in `xml`.
fn field<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&close)?;
    Some(&xml[start..start + len])
}

/// One page of a listing: its objects (key, last modified, size) and the next page's token.
pub type Page = (Vec<(String, String, u64)>, Option<String>);

/// A `ListObjectsV2` answer.
pub fn parse_list(xml: &str) -> Result<Page, String> {
    if !xml.contains("<ListBucketResult") {
        return Err(match field(xml, "Code") {
            Some(code) => format!(
                "the object store answered {code}: {}",
                field(xml, "Message").map(unescape).unwrap_or_default()
            ),
            None => "the object store's answer is not a ListObjectsV2 result".into(),
        });
    }
    let mut out = Vec::new();
    for chunk in xml.split("<Contents>").skip(1) {
        let Some(key) = field(chunk, "Key") else {
            return Err("an object without a Key in the listing".into());
        };
        let modified = field(chunk, "LastModified").unwrap_or("").to_string();
        let size = field(chunk, "Size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        out.push((unescape(key), modified, size));
    }
    let next = (field(xml, "IsTruncated") == Some("true"))
        .then(|| field(xml, "NextContinuationToken").map(unescape))
        .flatten();
    Ok((out, next))
}

/// An S3-style object store at `endpoint` (path-style, unsigned).
#[derive(Clone)]
pub struct S3 {
    pub endpoint: String,
    /// The guarded client (reads only leave it in read-only mode; listing and reading are GETs).
    pub http: crate::guard::ProbeHttp,
}

fn other(e: impl std::fmt::Display) -> ExecError {
    ExecError::Other(e.to_string())
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl S3 {
    /// Every object under `prefix_url` (`s3://bucket/prefix`), all pages.
    pub async fn list(&self, prefix_url: &str) -> Result<Vec<ObjectInfo>, ExecError> {
        let (bucket, prefix) = split_url(prefix_url)
            .ok_or_else(|| other(format!("'{prefix_url}' is not an s3:// address")))?;
        let base = self.endpoint.trim_end_matches('/');
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = format!("{base}/{}?list-type=2&prefix={}", enc(bucket), enc(prefix));
            if let Some(t) = &token {
                url.push_str(&format!("&continuation-token={}", enc(t)));
            }
            let resp = self
                .http
                .request(reqwest::Method::GET, &url)
                .map_err(|r| other(format!("refused: {}", r.what)))?
                .send()
                .await
                .map_err(|e| other(format!("cannot list {prefix_url} at {base}: {e}")))?;
            let status = resp.status();
            let text = resp.text().await.map_err(other)?;
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(out);
            }
            if status == reqwest::StatusCode::FORBIDDEN {
                return Err(ExecError::Forbidden(format!("listing {prefix_url}")));
            }
            let (objects, next) = parse_list(&text).map_err(other)?;
            out.extend(objects.into_iter().map(|(key, modified, size)| ObjectInfo {
                url: format!("s3://{bucket}/{key}"),
                modified,
                size,
            }));
            match next {
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// One object's bytes; None when it does not exist.
    pub async fn get(&self, url: &str) -> Result<Option<Vec<u8>>, ExecError> {
        let (bucket, key) =
            split_url(url).ok_or_else(|| other(format!("'{url}' is not an s3:// address")))?;
        let base = self.endpoint.trim_end_matches('/');
        let resp = self
            .http
            .request(
                reqwest::Method::GET,
                &format!("{base}/{}/{}", enc(bucket), enc(key)),
            )
            .map_err(|r| other(format!("refused: {}", r.what)))?
            .send()
            .await
            .map_err(|e| other(format!("cannot read {url} at {base}: {e}")))?;
        match resp.status() {
            s if s.is_success() => Ok(Some(resp.bytes().await.map_err(other)?.to_vec())),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            reqwest::StatusCode::FORBIDDEN => Err(ExecError::Forbidden(format!("reading {url}"))),
            s => Err(other(format!("reading {url}: HTTP {s}"))),
        }
    }
}

/// The database's backups, newest first (by modification time, then key).
pub fn newest_first(mut objects: Vec<ObjectInfo>) -> Vec<ObjectInfo> {
    objects.retain(|o| o.url.ends_with(".backup"));
    objects.sort_by(|a, b| b.modified.cmp(&a.modified).then(b.url.cmp(&a.url)));
    objects
}

/// `restore needs --set backup=…` with the choice, newest first.
pub fn choose_text(database_id: &str, backups: &[ObjectInfo]) -> String {
    if backups.is_empty() {
        return format!(
            "restore needs --set backup=s3://…: no backups of {database_id} in the object store (`baton op backup` makes one)"
        );
    }
    let mut s =
        format!("restore needs --set backup=URL; the backups of {database_id}, newest first:");
    for b in backups.iter().take(20) {
        s.push_str(&format!(
            "\n  {}  ({}, {} bytes)",
            b.url, b.modified, b.size
        ));
    }
    if backups.len() > 20 {
        s.push_str(&format!("\n  … and {} older", backups.len() - 20));
    }
    s
}

/// Before a restore sends anything: the backup it restores (`backup`, or `from` as earlier
/// versions spelt it), read from the object store and checked. Without one, the database's
/// backups newest first, to choose from (a usage error). Any failing check refuses.
pub async fn restore_preflight<E: Executor>(
    exec: &E,
    artifacts: &str,
    params: &mut BTreeMap<String, String>,
) -> Result<Vec<Check>, Outcome> {
    if let Some(from) = params.remove("from") {
        params.entry("backup".into()).or_insert(from);
    }
    let db = exec.database_id();
    let refused = |rule, e: ExecError| {
        Outcome::Refused(Check::fail(
            rule,
            None,
            format!("cannot check the backup before stopping the database: {e}"),
        ))
    };
    let Some(url) = params.get("backup").cloned() else {
        let objects = exec
            .list_objects(&prefix(artifacts, &db))
            .await
            .map_err(|e| refused(EXISTS, e))?;
        return Err(Outcome::Usage(choose_text(&db, &newest_first(objects))));
    };
    if split_url(&url).is_none_or(|(_, key)| key.is_empty()) {
        return Err(Outcome::Usage(format!(
            "backup '{url}' is not an artifact address: write --set backup=s3://bucket/path (as `baton op backup` printed it)"
        )));
    }
    let bytes = exec
        .get_object(&url)
        .await
        .map_err(|e| refused(READABLE, e))?;
    let checks = verify(&url, bytes.as_deref(), &db);
    match checks.iter().find(|c| !c.ok) {
        Some(c) => Err(Outcome::Refused(c.clone())),
        None => Ok(checks),
    }
}

/// What the artifact's metadata says about it, judged for `database_id`
/// (`orchestra/namespace/name`): readable, and a backup of a database with this name.
pub fn verify(url: &str, bytes: Option<&[u8]>, database_id: &str) -> Vec<Check> {
    let Some(bytes) = bytes else {
        return vec![Check::fail(
            EXISTS,
            None,
            format!("{url} does not exist in the object store"),
        )];
    };
    let mut checks = vec![Check::pass(
        EXISTS,
        format!("{url} ({} bytes)", bytes.len()),
    )];
    let meta: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            checks.push(Check::fail(
                READABLE,
                None,
                format!("{url} is not a backup artifact (its metadata is not JSON: {e})"),
            ));
            return checks;
        }
    };
    let missing: Vec<&str> = ["kind", "database", "applied_index", "state_digest"]
        .into_iter()
        .filter(|k| meta[*k].is_null())
        .collect();
    if !meta["kind"]
        .as_str()
        .is_some_and(|k| k.ends_with("-backup"))
        || !missing.is_empty()
    {
        checks.push(Check::fail(
            READABLE,
            None,
            format!(
                "{url} is not a readable backup artifact (kind {}, missing {})",
                meta["kind"],
                if missing.is_empty() {
                    "nothing".to_string()
                } else {
                    missing.join(", ")
                }
            ),
        ));
        return checks;
    }
    checks.push(Check::pass(
        READABLE,
        format!(
            "taken {} from {}: applied index {}, state {}",
            meta["taken_at"].as_str().unwrap_or("?"),
            meta["member"].as_str().unwrap_or("?"),
            meta["applied_index"],
            meta["state_digest"].as_str().unwrap_or("?")
        ),
    ));
    let mut parts = database_id.rsplitn(3, '/');
    let name = parts.next().unwrap_or_default();
    let ns = parts.next().unwrap_or_default();
    let orch = parts.next().unwrap_or_default();
    let of = meta["database"].as_str().unwrap_or_default();
    let from = format!(
        "{}/{}/{of}",
        meta["orchestra"].as_str().unwrap_or("?"),
        meta["namespace"].as_str().unwrap_or("?")
    );
    if of != name {
        checks.push(Check::fail(
            SAME_DATABASE,
            None,
            format!("{url} is a backup of {from}, not of {database_id}: choose a backup of this database"),
        ));
    } else if from != format!("{orch}/{ns}/{name}") {
        checks.push(Check::pass(
            SAME_DATABASE,
            format!("a backup of '{of}', taken on {from} (another orchestra or namespace)"),
        ));
    } else {
        checks.push(Check::pass(SAME_DATABASE, format!("a backup of {from}")));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_parsed_and_sorted_newest_first() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>true</IsTruncated><NextContinuationToken>a&amp;b</NextContinuationToken>
<Contents><Key>o/n/db/1.backup</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><Size>10</Size></Contents>
<Contents><Key>o/n/db/2.backup</Key><LastModified>2026-01-02T00:00:00.000Z</LastModified><Size>12</Size></Contents>
<Contents><Key>o/n/db/diagnostics/x/heap.hprof</Key><LastModified>2026-01-03T00:00:00.000Z</LastModified><Size>9</Size></Contents>
</ListBucketResult>"#;
        let (objs, next) = parse_list(xml).unwrap();
        assert_eq!(next.as_deref(), Some("a&b"));
        assert_eq!(objs.len(), 3);
        let list = newest_first(
            objs.into_iter()
                .map(|(k, m, s)| ObjectInfo {
                    url: format!("s3://b/{k}"),
                    modified: m,
                    size: s,
                })
                .collect(),
        );
        assert_eq!(list.len(), 2, "only backups");
        assert_eq!(list[0].url, "s3://b/o/n/db/2.backup");
        let text = choose_text("o/n/db", &list);
        assert!(text.find("2.backup").unwrap() < text.find("1.backup").unwrap());
        assert!(
            parse_list("<Error><Code>AccessDenied</Code><Message>no</Message></Error>")
                .unwrap_err()
                .contains("AccessDenied")
        );
        assert_eq!(split_url("s3://b/k/x"), Some(("b", "k/x")));
        assert_eq!(prefix("s3://b/", "o/n/db"), "s3://b/o/n/db/");
    }

    #[test]
    fn an_artifact_is_checked_for_existence_readability_and_its_database() {
        let good = br#"{"kind":"baton-lab-backup","database":"orders","namespace":"team-a","orchestra":"lab-a","member":"orders-2-0","applied_index":7,"state_digest":"sha256:00","taken_at":"t"}"#;
        let ok = verify("s3://b/x.backup", Some(good), "lab-a/team-a/orders");
        assert!(ok.iter().all(|c| c.ok), "{ok:?}");
        assert_eq!(ok.len(), 3);
        let other = verify("s3://b/x.backup", Some(good), "lab-a/team-a/catalog");
        let last = other.last().unwrap();
        assert_eq!((last.rule, last.ok), (SAME_DATABASE, false));
        assert!(
            last.detail.contains("lab-a/team-a/orders"),
            "{}",
            last.detail
        );
        let moved = verify("s3://b/x.backup", Some(good), "lab-b/prod/orders");
        assert!(moved.iter().all(|c| c.ok), "{moved:?}");
        let missing = verify("s3://b/x.backup", None, "lab-a/team-a/orders");
        assert_eq!((missing[0].rule, missing[0].ok), (EXISTS, false));
        for bad in [
            &b"not json"[..],
            br#"{"kind":"baton-lab-backup","database":"orders"}"#,
        ] {
            let c = verify("s3://b/x.backup", Some(bad), "lab-a/team-a/orders");
            assert_eq!((c[1].rule, c[1].ok), (READABLE, false), "{c:?}");
        }
    }
}
