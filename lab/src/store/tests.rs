//! Unit tests of the object store: CRUD, generations, conflicts, watch history and expiry, names,
//! and list pages.

use super::*;
use crate::paging::{Page, Paging};
use crate::resources::{self, by_plural};

fn store() -> Store {
    let s = Store::new(1, 100);
    let ns = by_plural("namespaces").unwrap();
    s.create(ns, "", json!({"metadata": {"name": "a"}}))
        .unwrap();
    s
}

#[test]
fn create_get_update_delete_and_watch_history() {
    let s = store();
    let pods = resources::by_plural("pods").unwrap();
    let start = s.resource_version();
    let p = s
        .create(
            pods,
            "a",
            json!({"metadata": {"name": "p"}, "spec": {"x": 1}}),
        )
        .unwrap();
    assert_eq!(p["metadata"]["namespace"], "a");
    assert_eq!(p["metadata"]["generation"], 1);
    assert!(
        s.create(pods, "a", json!({"metadata": {"name": "p"}}))
            .is_err()
    );
    assert_eq!(
        s.create(pods, "nope", json!({"metadata": {"name": "p"}}))
            .unwrap_err()
            .code,
        404
    );
    let rv = p["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let u = s
        .update(pods, "a", "p", Some(&rv), |o| {
            o["spec"]["x"] = json!(2);
            Ok(())
        })
        .unwrap();
    assert_eq!(u["metadata"]["generation"], 2);
    assert_eq!(
        s.update(pods, "a", "p", Some(&rv), |_| Ok(()))
            .unwrap_err()
            .code,
        409
    );
    s.remove(pods, "a", "p").unwrap();
    assert_eq!(s.get(pods, "a", "p").unwrap_err().code, 404);
    let (past, _) = s.watch_from(start).unwrap();
    let kinds: Vec<_> = past
        .iter()
        .filter_map(|c| match &**c {
            Change::Object { kind, .. } => Some(*kind),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        [ChangeKind::Added, ChangeKind::Modified, ChangeKind::Deleted]
    );
}

#[test]
fn expiry_and_bounded_history() {
    let s = Store::new(1, 3);
    let ns = by_plural("namespaces").unwrap();
    for i in 0..10 {
        s.create(ns, "", json!({"metadata": {"name": format!("n{i}")}}))
            .unwrap();
    }
    assert_eq!(s.watch_from(2).unwrap_err().code, 410);
    assert!(s.watch_from(s.resource_version() - 2).is_ok());
    s.expire_watches();
    assert_eq!(
        s.watch_from(s.resource_version() - 1).unwrap_err().code,
        410
    );
    assert!(s.watch_from(s.resource_version()).is_ok());
}

#[test]
fn generate_name_and_name_rules() {
    let s = store();
    let jobs = by_plural("jobs").unwrap();
    let j = s
        .create(jobs, "a", json!({"metadata": {"generateName": "backup-"}}))
        .unwrap();
    let name = j["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("backup-") && name.len() == 12, "{name}");
    assert!(!valid_name("Bad_Name"));
    assert!(
        s.create(jobs, "a", json!({"metadata": {"name": "UPPER"}}))
            .is_err()
    );
}

#[test]
fn list_pages_follow_keys_keep_the_first_rv_and_expire_with_the_history() {
    let s = Store::new(1, 100);
    let nss = by_plural("namespaces").unwrap();
    let pods = by_plural("pods").unwrap();
    for ns in ["a", "b"] {
        s.create(nss, "", json!({"metadata": {"name": ns}}))
            .unwrap();
        for p in ["p1", "p2", "p3"] {
            s.create(pods, ns, json!({"metadata": {"name": p}}))
                .unwrap();
        }
    }
    let names = |page: &Page<Value>| -> Vec<String> {
        page.items
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    let two = |from| Paging {
        limit: Some(2),
        from,
    };
    let p1 = s.list_page(pods, None, &two(None), true, |_| true).unwrap();
    assert_eq!(names(&p1), ["a/p1", "a/p2"]);
    assert_eq!(p1.remaining, Some(4));
    let rv = p1.rv;
    s.create(pods, "b", json!({"metadata": {"name": "p4"}}))
        .unwrap();
    let p2 = s
        .list_page(pods, None, &two(p1.next.clone()), true, |_| true)
        .unwrap();
    assert_eq!(
        (names(&p2), p2.rv),
        (vec!["a/p3".to_string(), "b/p1".into()], rv)
    );
    let p3 = s
        .list_page(pods, None, &two(p2.next.clone()), true, |_| true)
        .unwrap();
    let p4 = s
        .list_page(pods, None, &two(p3.next.clone()), true, |_| true)
        .unwrap();
    assert_eq!(
        names(&p4),
        ["b/p4"],
        "later pages read the objects as they are now"
    );
    assert!(p4.next.is_none() && p4.remaining.is_none());

    // One namespace; a selector; a page that ends exactly at the last item has no token.
    let b = s
        .list_page(pods, Some("b"), &two(None), true, |_| true)
        .unwrap();
    assert_eq!(names(&b), ["b/p1", "b/p2"]);
    let b2 = s
        .list_page(pods, Some("b"), &two(b.next), true, |_| true)
        .unwrap();
    assert_eq!(names(&b2), ["b/p3", "b/p4"]);
    assert!(b2.next.is_none());
    let odd = s
        .list_page(pods, None, &two(None), false, |o| {
            o["metadata"]["name"] != "p2"
        })
        .unwrap();
    assert_eq!(names(&odd), ["a/p1", "a/p3"]);
    assert_eq!(odd.remaining, None, "not counted with a selector");

    s.expire_watches();
    let e = s
        .list_page(pods, None, &two(p1.next), true, |_| true)
        .unwrap_err();
    assert_eq!((e.code, e.reason), (410, "Expired"));
}
