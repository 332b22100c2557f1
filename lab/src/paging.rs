//! List pagination (`limit` and `continue`) as the API server does it ("API list chunking"): the
//! continue token, its expiry, and which request parameters combine.
//!
//! The token is opaque to clients; like the API server's it is URL-safe base64 (no padding) of
//! `{"v":"meta.k8s.io/v1","rv":N,"start":"NS/NAME\u0000"}`: the resourceVersion of the list's first
//! page and the key to start after. Every page of a chunked list reports that first
//! resourceVersion, so a watch from it replays every change made since the list began.
//!
//! The lab keeps no old versions of objects (no MVCC), so later pages read the objects as they are
//! now, not as they were at the first page's resourceVersion. For a client that lists and then
//! watches from the list's resourceVersion this is eventually the same: any object that changed
//! while it paged is replayed by the watch (an API server without a watch cache serving a list
//! from a store that had compacted the revision behaves likewise). A token whose resourceVersion
//! is older than the history the lab still keeps (the store's `oldest_rv`, as etcd compaction)
//! gets 410 Gone, reason `Expired`, as on a real API server.

use base64::Engine;
use serde_json::{Value, json};

use super::error::ApiError;

const TOKEN_VERSION: &str = "meta.k8s.io/v1";

/// Where a continued list resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue {
    /// The resourceVersion of the list's first page.
    pub rv: u64,
    /// The (namespace, name) key of the last object served; the next page starts after it.
    pub after: (String, String),
}

impl Continue {
    /// The opaque token a list page carries in `metadata.continue`.
    pub fn encode(&self) -> String {
        let (ns, name) = &self.after;
        let body = json!({
            "v": TOKEN_VERSION,
            "rv": self.rv,
            "start": format!("{ns}/{name}\u{0}"),
        });
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body.to_string())
    }

    /// Reads a token a client sent back; a malformed one is 400, as on the API server.
    pub fn decode(token: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| ApiError::bad_request(format!("invalid continue token: {why}"));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .map_err(|e| bad(&e.to_string()))?;
        let v: Value = serde_json::from_slice(&raw).map_err(|e| bad(&e.to_string()))?;
        if v["v"] != TOKEN_VERSION {
            return Err(bad(
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ));
        }
        let rv = v["rv"].as_u64().filter(|rv| *rv > 0).ok_or_else(|| {
            bad("continue key is not valid: incorrect encoded start resourceVersion")
        })?;
        let start = v["start"]
            .as_str()
            .ok_or_else(|| bad("continue key is not valid: no start key"))?;
        let key = start.strip_suffix('\u{0}').unwrap_or(start);
        let (ns, name) = key
            .split_once('/')
            .filter(|(_, name)| !name.is_empty() && !name.contains('/'))
            .ok_or_else(|| bad("continue key is not valid: bad start key"))?;
        Ok(Self {
            rv,
            after: (ns.to_string(), name.to_string()),
        })
    }
}

/// The 410 a token older than the kept history gets (the API server's exact words).
pub fn too_old() -> ApiError {
    ApiError {
        code: 410,
        reason: "Expired",
        message: "The provided continue parameter is too old to display a consistent list result. \
                  You can start a new list without the continue parameter."
            .into(),
    }
}

/// What a list request asked for, checked as the API server checks it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Paging {
    /// At most this many items (`None`: all).
    pub limit: Option<usize>,
    /// Resume after this key.
    pub from: Option<Continue>,
}

impl Paging {
    /// From the `limit`, `continue` and `resourceVersion` parameters. A list with
    /// `resourceVersion=0` (and no `continue`) is served whole, as from the API server's watch
    /// cache, which does not paginate.
    pub fn parse(
        limit: Option<&str>,
        cont: Option<&str>,
        resource_version: Option<&str>,
    ) -> Result<Self, ApiError> {
        let limit = match limit.filter(|l| !l.is_empty()) {
            None => None,
            Some(l) => match l.parse::<i64>() {
                Ok(n) if n > 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                Ok(_) => None,
                Err(_) => {
                    return Err(ApiError::bad_request(format!(
                        "invalid limit '{l}': not an integer"
                    )));
                }
            },
        };
        let rv = resource_version.filter(|r| !r.is_empty());
        let from = match cont.filter(|c| !c.is_empty()) {
            None => None,
            Some(_) if rv.is_some() => {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            Some(c) => Some(Continue::decode(c)?),
        };
        let limit = if rv == Some("0") { None } else { limit };
        Ok(Self { limit, from })
    }
}

/// One page of a list as the store serves it.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The list's resourceVersion: the first page's for every page.
    pub rv: u64,
    /// Set when more items remain.
    pub next: Option<Continue>,
    /// How many items remain after this page (only when it was counted: no selector).
    pub remaining: Option<usize>,
}

impl<T> Page<T> {
    /// The list's `metadata` (ListMeta).
    pub fn list_meta(&self) -> Value {
        let mut meta = json!({"resourceVersion": self.rv.to_string()});
        if let Some(next) = &self.next {
            meta["continue"] = json!(next.encode());
            if let Some(n) = self.remaining {
                meta["remainingItemCount"] = json!(n);
            }
        }
        meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_is_url_safe() {
        let c = Continue {
            rv: 4711,
            after: ("team-a".into(), "orders-1-0".into()),
        };
        let t = c.encode();
        assert!(
            t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{t}"
        );
        assert_eq!(Continue::decode(&t).unwrap(), c);
        let cluster = Continue {
            rv: 9,
            after: (String::new(), "node-1".into()),
        };
        assert_eq!(Continue::decode(&cluster.encode()).unwrap(), cluster);
    }

    #[test]
    fn malformed_tokens_are_400() {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        for bad in [
            "not base64 !".to_string(),
            enc("not json"),
            enc(r#"{"v":"other/v1","rv":3,"start":"a/b\u0000"}"#),
            enc(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a/b\u0000"}"#),
            enc(r#"{"v":"meta.k8s.io/v1","rv":"3","start":"a/b\u0000"}"#),
            enc(r#"{"v":"meta.k8s.io/v1","rv":3,"start":"nokey"}"#),
            enc(r#"{"v":"meta.k8s.io/v1","rv":3}"#),
        ] {
            let e = Continue::decode(&bad).unwrap_err();
            assert_eq!((e.code, e.reason), (400, "BadRequest"), "{bad}");
            assert!(e.message.starts_with("invalid continue token"), "{e:?}");
        }
    }

    #[test]
    fn parameters_combine_as_on_the_api_server() {
        let t = Continue {
            rv: 5,
            after: ("a".into(), "b".into()),
        }
        .encode();
        assert_eq!(Paging::parse(None, None, None).unwrap(), Paging::default());
        assert_eq!(
            Paging::parse(Some("0"), None, None).unwrap().limit,
            None,
            "limit=0 means all"
        );
        assert_eq!(Paging::parse(Some("2"), None, None).unwrap().limit, Some(2));
        assert_eq!(
            Paging::parse(Some("2"), None, Some("0")).unwrap().limit,
            None,
            "resourceVersion=0 lists are served whole"
        );
        assert_eq!(Paging::parse(Some("x"), None, None).unwrap_err().code, 400);
        assert_eq!(
            Paging::parse(Some("2"), Some(&t), Some("7"))
                .unwrap_err()
                .code,
            400
        );
        let p = Paging::parse(Some("2"), Some(&t), None).unwrap();
        assert_eq!(p.from.unwrap().rv, 5);
    }

    #[test]
    fn list_meta_carries_continue_and_remaining_only_when_more_remain() {
        let last: Page<()> = Page {
            items: vec![],
            rv: 7,
            next: None,
            remaining: Some(0),
        };
        assert_eq!(last.list_meta(), json!({"resourceVersion": "7"}));
        let more: Page<()> = Page {
            items: vec![],
            rv: 7,
            next: Some(Continue {
                rv: 7,
                after: ("a".into(), "b".into()),
            }),
            remaining: Some(3),
        };
        let m = more.list_meta();
        assert_eq!(m["remainingItemCount"], 3);
        assert_eq!(
            Continue::decode(m["continue"].as_str().unwrap())
                .unwrap()
                .rv,
            7
        );
    }
}
