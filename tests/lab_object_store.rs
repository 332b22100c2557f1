//! The lab's object store over HTTP, as an S3 client sees it (path-style): ListObjectsV2 by
//! prefix with pages, GetObject, S3's XML errors for a missing bucket or key, no writes — and
//! its URL in the kubeconfig's `baton-lab` extension.

// A test: a panic is how it reports a failure (clippy.toml allows this in #[test] fns only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestLab, small_spec};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_reads_objects_like_s3_and_names_what_is_missing() {
    let t = TestLab::start(small_spec(&[("team-a", "orders", 1, 0)])).await;
    let kc: Value =
        serde_json::from_str(&std::fs::read_to_string(t.kubeconfig()).unwrap()).unwrap();
    let url = kc["extensions"][0]["extension"]["object_store"]
        .as_str()
        .expect("object_store in the baton-lab extension")
        .to_string();
    assert_eq!(url, t.lab.object_store_url);
    let dir = t.lab.object_store.join("lab-backups/lab-a/team-a/orders");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 1..=3 {
        std::fs::write(dir.join(format!("{i}.backup")), format!("{{\"n\":{i}}}")).unwrap();
    }
    std::fs::write(t.lab.object_store.join("lab-backups/elsewhere"), "x").unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |path: String| {
        let http = http.clone();
        let url = url.clone();
        async move {
            let r = http.get(format!("{url}{path}")).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };

    let (code, xml) = get("/lab-backups?list-type=2&prefix=lab-a/team-a/orders/".into()).await;
    assert_eq!(code, 200, "{xml}");
    assert!(xml.contains("<ListBucketResult"), "{xml}");
    assert!(xml.contains("<KeyCount>3</KeyCount>"), "{xml}");
    assert!(!xml.contains("elsewhere"), "{xml}");
    assert!(
        xml.contains("<LastModified>") && xml.contains("<Size>7</Size>"),
        "{xml}"
    );
    // Pages: max-keys and the continuation token.
    let (_, page) = get("/lab-backups?list-type=2&prefix=lab-a/&max-keys=2".into()).await;
    assert!(page.contains("<IsTruncated>true</IsTruncated>"), "{page}");
    let token = page
        .split("<NextContinuationToken>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_string();
    let (_, rest) = get(format!(
        "/lab-backups?list-type=2&prefix=lab-a/&continuation-token={token}"
    ))
    .await;
    assert!(
        rest.contains("<KeyCount>1</KeyCount>") && rest.contains("3.backup"),
        "{rest}"
    );

    let (code, body) = get("/lab-backups/lab-a/team-a/orders/2.backup".into()).await;
    assert_eq!((code, body.as_str()), (200, "{\"n\":2}"));
    let (code, body) = get("/lab-backups/lab-a/team-a/orders/9.backup".into()).await;
    assert_eq!(code, 404);
    assert!(body.contains("<Code>NoSuchKey</Code>"), "{body}");
    let (code, body) = get("/no-bucket?list-type=2".into()).await;
    assert_eq!(code, 404);
    assert!(body.contains("<Code>NoSuchBucket</Code>"), "{body}");
    let (code, body) = get("/lab-backups/../../etc/passwd".into()).await;
    assert_ne!(code, 200, "{body}");
    let put = http
        .put(format!("{url}/lab-backups/x"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 405);
    t.lab.shutdown().await;
}
