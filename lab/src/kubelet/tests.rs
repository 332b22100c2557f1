//! Unit tests of the kubelet's pure helpers: when a readiness write would change nothing.

use serde_json::json;

use super::{readiness_is, set_condition};

#[test]
fn readiness_write_is_skipped_only_when_it_would_change_nothing() {
    let mut p = json!({"status": {"containerStatuses": [{"name": "a", "ready": true}]}});
    assert!(
        !readiness_is(&p, true),
        "no conditions yet: a write is needed"
    );
    set_condition(&mut p, "Ready", true);
    assert!(!readiness_is(&p, true), "ContainersReady missing");
    set_condition(&mut p, "ContainersReady", true);
    assert!(readiness_is(&p, true));
    assert!(!readiness_is(&p, false));
    p["status"]["containerStatuses"][0]["ready"] = json!(false);
    assert!(!readiness_is(&p, true), "a container disagrees");
}
