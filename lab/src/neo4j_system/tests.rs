//! Unit tests of the system database answers: the statement subset, YIELD … WHERE rows in
//! transition, and the server-state rules of the commands.

use super::*;

fn info(name: &str, state: ServerState, hosting: bool, requested: bool) -> ServerInfo {
    ServerInfo {
        name: name.into(),
        pod: format!("pod-{name}"),
        state,
        available: true,
        hosting,
        requested,
        primary: true,
        leader: name == "a",
        copying: false,
    }
}

fn run(body: &str, servers: &[ServerInfo]) -> Value {
    tx_commit("ns", servers, 7, body.as_bytes(), &|_| Ok(())).1
}

#[test]
fn parses_the_subset_and_refuses_the_rest() {
    assert!(matches!(
        parse("show servers;"),
        Ok(Statement::ShowServers(_))
    ));
    assert_eq!(
        parse("DEALLOCATE DATABASES FROM SERVER 'x', \"y\"").unwrap(),
        Statement::Admin(Command::Deallocate(vec!["x".into(), "y".into()]))
    );
    assert_eq!(
        parse("ENABLE SERVER 'abc-1'").unwrap(),
        Statement::Admin(Command::Enable("abc-1".into()))
    );
    assert!(parse("MATCH (n) RETURN n").is_err());
    assert!(parse("SHOW SERVERS YIELD nope").is_err());
    assert!(parse("SHOW SERVERS YIELD name WHERE name > 'a'").is_err());
    assert!(parse("DROP SERVER").is_err());
    assert!(parse("ENABLE SERVER 'a' extra").is_err());
}

#[test]
fn yield_where_returns_only_the_rows_in_transition() {
    let servers = vec![
        info("a", ServerState::Enabled, true, true),
        info("b", ServerState::Deallocating, true, false),
        info("c", ServerState::Enabled, false, true),
        info("d", ServerState::Free, false, false),
    ];
    let r = run(
        r#"{"statements":[{"statement":"SHOW SERVERS YIELD name, hosting, requestedHosting WHERE requestedHosting <> hosting"}]}"#,
        &servers,
    );
    assert_eq!(r["errors"], json!([]));
    let rows = &r["results"][0]["data"];
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["row"][0].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c"]);
    assert_eq!(
        r["results"][0]["columns"],
        json!(["name", "hosting", "requestedHosting"])
    );
    let r = run(
        r#"{"statements":[{"statement":"SHOW DATABASES YIELD name, currentStatus, requestedStatus WHERE currentStatus <> requestedStatus"}]}"#,
        &servers,
    );
    // b: online but requested offline; c: requested but not hosting yet.
    assert_eq!(r["results"][0]["data"].as_array().unwrap().len(), 2);
    let settled = vec![info("a", ServerState::Enabled, true, true)];
    let r = run(
        r#"{"statements":[{"statement":"SHOW DATABASES YIELD name, currentStatus, requestedStatus WHERE currentStatus <> requestedStatus"},{"statement":"SHOW SERVERS YIELD name, hosting, requestedHosting WHERE requestedHosting <> hosting"}]}"#,
        &settled,
    );
    assert_eq!(r["results"][0]["data"], json!([]));
    assert_eq!(r["results"][1]["data"], json!([]));
    let r = run(r#"{"statements":[{"statement":"CREATE (n)"}]}"#, &settled);
    assert_eq!(r["errors"][0]["code"], SYNTAX);
}

#[test]
fn commands_follow_the_server_states() {
    let s = |st: &[(u64, &str, ServerState, bool)]| -> Vec<(u64, String, ServerState, bool)> {
        st.iter()
            .map(|(i, n, s, h)| (*i, n.to_string(), *s, *h))
            .collect()
    };
    use ServerState::*;
    let three = s(&[
        (1, "a", Enabled, true),
        (2, "b", Enabled, true),
        (3, "c", Enabled, true),
    ]);
    // Nowhere to move the database: refused.
    assert!(apply(&Command::Deallocate(vec!["b".into()]), &three, 3).is_err());
    let four = s(&[
        (1, "a", Enabled, true),
        (2, "b", Enabled, true),
        (3, "c", Enabled, true),
        (4, "d", Free, false),
    ]);
    assert!(apply(&Command::Deallocate(vec!["b".into()]), &four, 3).is_err());
    assert_eq!(
        apply(&Command::Enable("d".into()), &four, 3).unwrap(),
        vec![(4, Enabled)]
    );
    let four = s(&[
        (1, "a", Enabled, true),
        (2, "b", Enabled, true),
        (3, "c", Enabled, true),
        (4, "d", Enabled, false),
    ]);
    assert_eq!(
        apply(&Command::Deallocate(vec!["b".into()]), &four, 3).unwrap(),
        vec![(2, Deallocating)]
    );
    assert!(apply(&Command::Drop("b".into()), &four, 3).is_err());
    let done = s(&[(2, "b", Deallocated, false)]);
    assert_eq!(
        apply(&Command::Drop("b".into()), &done, 3).unwrap(),
        vec![(2, Dropped)]
    );
    assert!(apply(&Command::Enable("zzz".into()), &four, 3).is_err());
    // The allocator: b deallocating, d enabled takes its place.
    let want = requested(
        &[
            (1, Enabled, true),
            (2, Deallocating, true),
            (3, Enabled, true),
            (4, Enabled, false),
        ],
        3,
    );
    assert_eq!(want, vec![1, 3, 4]);
    // A free server is never allocated.
    assert_eq!(
        requested(&[(1, Enabled, true), (4, Free, false)], 2),
        vec![1]
    );
}
