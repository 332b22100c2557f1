//! Neo4j 5 server management as a lab member answers it on `POST /db/system/tx/commit` (the
//! HTTP transactional API): a small, strict parser for `SHOW SERVERS`, `SHOW DATABASES` (with
//! the `YIELD … WHERE a <> b` forms the upgrade guide uses), `ENABLE SERVER`, `CORDON SERVER`,
//! `DEALLOCATE DATABASES FROM SERVER` and `DROP SERVER`; the server states of the operations
//! manual (Free, Enabled, Cordoned, Deallocating, Deallocated, Dropped); the answers in the
//! shapes of real servers (shared/fixtures/) and Neo4j's error shape for anything else. Which
//! servers host the database follows from the states (see [`requested`]); the Raft side
//! (lab/src/consensus.rs) turns that into configuration changes.

use serde_json::{Value, json};

/// A server's state in the DBMS (Neo4j 5 operations manual, "Managing servers in a cluster").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Discovered, never enabled: hosts nothing, gets nothing.
    Free,
    Enabled,
    /// Keeps what it hosts, gets nothing new.
    Cordoned,
    /// Its databases move to other servers.
    Deallocating,
    /// Hosts nothing but `system`; may be dropped (5.15+).
    Deallocated,
    Dropped,
}

impl ServerState {
    pub fn word(self) -> &'static str {
        match self {
            Self::Free => "Free",
            Self::Enabled => "Enabled",
            Self::Cordoned => "Cordoned",
            Self::Deallocating => "Deallocating",
            Self::Deallocated => "Deallocated",
            Self::Dropped => "Dropped",
        }
    }
}

/// One server of a database as the Raft side sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    /// The server id (Neo4j: a UUID; also its default name).
    pub name: String,
    /// The pod it runs (or last ran) in.
    pub pod: String,
    pub state: ServerState,
    /// Its process runs and answers.
    pub available: bool,
    /// It is in the database's Raft configuration (hosts `neo4j`).
    pub hosting: bool,
    /// It should host `neo4j` (see [`requested`]).
    pub requested: bool,
    /// Hosting as a primary (a voter) rather than a secondary (a learner).
    pub primary: bool,
    pub leader: bool,
    /// Hosting, but has not received the store yet (a new member before its snapshot).
    pub copying: bool,
}

/// Which servers the allocator wants hosting the database: those hosting it now unless they
/// are deallocating, and enabled ones that do not host it yet while the hosts fall short of the
/// topology (`wanted`: the database's primaries plus secondaries). `(id, state, hosting)` in;
/// the ids that should host out.
pub fn requested(servers: &[(u64, ServerState, bool)], wanted: usize) -> Vec<u64> {
    let mut out: Vec<u64> = servers
        .iter()
        .filter(|(_, s, h)| {
            *h && matches!(
                s,
                ServerState::Enabled | ServerState::Cordoned | ServerState::Free
            )
        })
        .map(|(id, _, _)| *id)
        .collect();
    for (id, s, h) in servers {
        if out.len() >= wanted {
            break;
        }
        if !*h && *s == ServerState::Enabled {
            out.push(*id);
        }
    }
    out.sort_unstable();
    out
}

/// A server-management command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Enable(String),
    Cordon(String),
    Deallocate(Vec<String>),
    Drop(String),
}

/// Why a command was refused: Neo4j's status code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    pub code: &'static str,
    pub message: String,
}

impl AdminError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

pub const SYNTAX: &str = "Neo.ClientError.Statement.SyntaxError";
pub const ARGUMENT: &str = "Neo.ClientError.Statement.ArgumentError";
pub const NOT_A_LEADER: &str = "Neo.ClientError.Cluster.NotALeader";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Operand {
    Column(String),
    Text(String),
}

/// `YIELD a, b WHERE x <> y` (both optional).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Projection {
    columns: Option<Vec<String>>,
    /// (left, equal?, right): `=` or `<>`.
    filter: Option<(Operand, bool, Operand)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Statement {
    ShowServers(Projection),
    ShowDatabases(Projection),
    Admin(Command),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Comma,
    Ne,
    Eq,
}

fn tokens(s: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = s.trim().trim_end_matches(';').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            ',' => out.push(Token::Comma),
            '=' => out.push(Token::Eq),
            '<' if chars.peek() == Some(&'>') => {
                chars.next();
                out.push(Token::Ne);
            }
            '\'' | '"' => {
                let mut t = String::new();
                loop {
                    match chars.next() {
                        Some(e) if e == c => break,
                        Some(e) => t.push(e),
                        None => return Err("unterminated string".into()),
                    }
                }
                out.push(Token::Text(t));
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '`' => {
                let mut w = String::new();
                if c != '`' {
                    w.push(c);
                }
                while let Some(n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || *n == '_' || *n == '-' {
                        w.push(*n);
                        chars.next();
                    } else if *n == '`' {
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(w));
            }
            other => return Err(format!("Invalid input '{other}'")),
        }
    }
    Ok(out)
}

fn kw(t: Option<&Token>, word: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

fn projection(t: &[Token], known: &[&str]) -> Result<Projection, String> {
    let mut p = Projection::default();
    let mut i = 0;
    let column = |t: Option<&Token>| match t {
        Some(Token::Word(w)) if known.contains(&w.as_str()) => Ok(w.clone()),
        Some(Token::Word(w)) => Err(format!("Variable `{w}` not defined")),
        other => Err(format!("Invalid input {other:?}: expected a column name")),
    };
    if kw(t.first(), "YIELD") {
        i = 1;
        let mut cols = Vec::new();
        if matches!(t.get(1), Some(Token::Word(w)) if w == "*") {
            i = 2;
        } else {
            loop {
                cols.push(column(t.get(i))?);
                i += 1;
                if t.get(i) == Some(&Token::Comma) {
                    i += 1;
                } else {
                    break;
                }
            }
            p.columns = Some(cols);
        }
    }
    if kw(t.get(i), "WHERE") {
        let operand = |t: Option<&Token>| match t {
            Some(Token::Text(s)) => Ok(Operand::Text(s.clone())),
            other => column(other).map(Operand::Column),
        };
        let left = operand(t.get(i + 1))?;
        let eq = match t.get(i + 2) {
            Some(Token::Eq) => true,
            Some(Token::Ne) => false,
            _ => return Err("Invalid input: the lab's WHERE compares with = or <>".into()),
        };
        let right = operand(t.get(i + 3))?;
        p.filter = Some((left, eq, right));
        i += 4;
    }
    if let Some(rest) = t.get(i) {
        return Err(format!("Invalid input {rest:?}"));
    }
    Ok(p)
}

fn names(t: &[Token]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match t.get(i) {
            Some(Token::Text(s)) => out.push(s.clone()),
            other => return Err(format!("Invalid input {other:?}: expected a server name")),
        }
        i += 1;
        match t.get(i) {
            None => return Ok(out),
            Some(Token::Comma) => i += 1,
            Some(other) => return Err(format!("Invalid input {other:?}")),
        }
    }
}

fn one(t: &[Token]) -> Result<String, String> {
    match names(t)?.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("expected one server name".into()),
    }
}

fn parse(statement: &str) -> Result<Statement, String> {
    let t = tokens(statement)?;
    let w = |i: usize, word: &str| kw(t.get(i), word);
    if w(0, "SHOW") && w(1, "SERVERS") {
        return projection(&t[2..], SERVER_COLUMNS).map(Statement::ShowServers);
    }
    if w(0, "SHOW") && w(1, "DATABASES") {
        return projection(&t[2..], DATABASE_COLUMNS).map(Statement::ShowDatabases);
    }
    if w(0, "ENABLE") && w(1, "SERVER") {
        return one(&t[2..]).map(|n| Statement::Admin(Command::Enable(n)));
    }
    if w(0, "CORDON") && w(1, "SERVER") {
        return one(&t[2..]).map(|n| Statement::Admin(Command::Cordon(n)));
    }
    if w(0, "DROP") && w(1, "SERVER") {
        return one(&t[2..]).map(|n| Statement::Admin(Command::Drop(n)));
    }
    if w(0, "DEALLOCATE")
        && (w(1, "DATABASES") || w(1, "DATABASE"))
        && w(2, "FROM")
        && (w(3, "SERVER") || w(3, "SERVERS"))
    {
        return names(&t[4..]).map(|n| Statement::Admin(Command::Deallocate(n)));
    }
    Err(format!(
        "Invalid input '{}': the lab answers SHOW SERVERS, SHOW DATABASES, ENABLE SERVER, CORDON SERVER, DEALLOCATE DATABASES FROM SERVER and DROP SERVER",
        statement.split_whitespace().next().unwrap_or("")
    ))
}

const SERVER_COLUMNS: &[&str] = &[
    "serverId",
    "name",
    "address",
    "state",
    "health",
    "hosting",
    "requestedHosting",
];
const SERVER_DEFAULT: &[&str] = &["name", "address", "state", "health", "hosting"];
const DATABASE_COLUMNS: &[&str] = &[
    "name",
    "type",
    "aliases",
    "access",
    "address",
    "role",
    "writer",
    "requestedStatus",
    "currentStatus",
    "statusMessage",
    "default",
    "home",
    "constituents",
];

fn address(namespace: &str, pod: &str) -> String {
    format!("{pod}.{namespace}.svc.cluster.local:7687")
}

fn server_rows(namespace: &str, servers: &[ServerInfo]) -> Vec<Vec<(&'static str, Value)>> {
    servers
        .iter()
        .filter(|s| s.state != ServerState::Dropped)
        .map(|s| {
            let system = s.state != ServerState::Free;
            let list = |neo4j: bool| {
                let mut l = Vec::new();
                if neo4j {
                    l.push("neo4j");
                }
                if system {
                    l.push("system");
                }
                json!(l)
            };
            vec![
                ("serverId", json!(s.name)),
                ("name", json!(s.name)),
                ("address", json!(address(namespace, &s.pod))),
                ("state", json!(s.state.word())),
                (
                    "health",
                    json!(if s.available {
                        "Available"
                    } else {
                        "Unavailable"
                    }),
                ),
                ("hosting", list(s.hosting)),
                ("requestedHosting", list(s.requested)),
            ]
        })
        .collect()
}

fn database_rows(namespace: &str, servers: &[ServerInfo]) -> Vec<Vec<(&'static str, Value)>> {
    let mut rows = Vec::new();
    for db in ["neo4j", "system"] {
        for s in servers {
            let hosts = match db {
                "neo4j" => s.hosting || s.requested,
                _ => !matches!(s.state, ServerState::Free | ServerState::Dropped),
            };
            if !hosts {
                continue;
            }
            // Every server that is not Free hosts `system`.
            let hosted = db == "system" || s.hosting;
            let (role, current, message) = match (s.available, hosted) {
                (false, _) => ("unknown", "unknown", "Server is unavailable"),
                (true, false) => ("unknown", "starting", ""),
                (true, true) if db == "neo4j" && s.copying => ("unknown", "store copying", ""),
                (true, true) if s.primary => ("primary", "online", ""),
                (true, true) => ("secondary", "online", ""),
            };
            let requested = if db == "neo4j" && !s.requested {
                "offline"
            } else {
                "online"
            };
            rows.push(vec![
                ("name", json!(db)),
                (
                    "type",
                    json!(if db == "system" { "system" } else { "standard" }),
                ),
                ("aliases", json!([])),
                ("access", json!("read-write")),
                (
                    "address",
                    if s.available {
                        json!(address(namespace, &s.pod))
                    } else {
                        Value::Null
                    },
                ),
                ("role", json!(role)),
                ("writer", json!(s.available && s.leader && s.hosting)),
                ("requestedStatus", json!(requested)),
                ("currentStatus", json!(current)),
                ("statusMessage", json!(message)),
                ("default", json!(db == "neo4j")),
                ("home", json!(db == "neo4j")),
                ("constituents", json!([])),
            ]);
        }
    }
    rows
}

fn project(rows: Vec<Vec<(&'static str, Value)>>, p: &Projection, default: &[&str]) -> Value {
    let columns: Vec<String> = p
        .columns
        .clone()
        .unwrap_or_else(|| default.iter().map(|c| c.to_string()).collect());
    let get = |row: &[(&str, Value)], c: &str| {
        row.iter()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null)
    };
    let data: Vec<Value> = rows
        .iter()
        .filter(|row| match &p.filter {
            None => true,
            Some((l, eq, r)) => {
                let val = |o: &Operand| match o {
                    Operand::Column(c) => get(row, c),
                    Operand::Text(t) => json!(t),
                };
                (val(l) == val(r)) == *eq
            }
        })
        .map(|row| {
            let cells: Vec<Value> = columns.iter().map(|c| get(row, c)).collect();
            let meta: Vec<Value> = columns.iter().map(|_| Value::Null).collect();
            json!({"row": cells, "meta": meta})
        })
        .collect();
    json!({"columns": columns, "data": data})
}

/// Answers `POST /db/system/tx/commit` (auth already checked): runs each statement in order,
/// server-management commands through `admin` (which may refuse with Neo4j's error), and stops
/// at the first error as a failed transaction does (HTTP 200, `errors` filled, no results).
pub fn tx_commit(
    namespace: &str,
    servers: &[ServerInfo],
    bookmark: u64,
    body: &[u8],
    admin: &dyn Fn(&Command) -> Result<(), AdminError>,
) -> (u16, Value) {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return (
            400,
            json!({"results": [], "errors": [{"code": "Neo.ClientError.Request.InvalidFormat", "message": "Unable to deserialize request"}]}),
        );
    };
    let failed = |code: &str, message: String| {
        (
            200,
            json!({"results": [], "errors": [{"code": code, "message": message}]}),
        )
    };
    let Some(statements) = req["statements"].as_array() else {
        return failed(
            "Neo.ClientError.Request.InvalidFormat",
            "the body needs a `statements` list".into(),
        );
    };
    let mut results = Vec::new();
    for st in statements {
        let text = st["statement"].as_str().unwrap_or("");
        let parsed = match parse(text) {
            Ok(p) => p,
            Err(e) => return failed(SYNTAX, e),
        };
        match parsed {
            Statement::ShowServers(p) => {
                results.push(project(server_rows(namespace, servers), &p, SERVER_DEFAULT))
            }
            Statement::ShowDatabases(p) => results.push(project(
                database_rows(namespace, servers),
                &p,
                DATABASE_COLUMNS,
            )),
            Statement::Admin(c) => match admin(&c) {
                Ok(()) => results.push(json!({"columns": [], "data": []})),
                Err(e) => return failed(e.code, e.message),
            },
        }
    }
    (
        200,
        json!({"results": results, "errors": [], "lastBookmarks": [format!("FB:lab{bookmark}")]}),
    )
}

/// Applies `cmd` to the server states (`(id, name, state, hosting)`), or says why Neo4j would
/// refuse it. `wanted`: hosts the database's topology needs. Returns the changed states.
pub fn apply(
    cmd: &Command,
    servers: &[(u64, String, ServerState, bool)],
    wanted: usize,
) -> Result<Vec<(u64, ServerState)>, AdminError> {
    let find = |name: &str| {
        servers
            .iter()
            .find(|(_, n, s, _)| n == name && *s != ServerState::Dropped)
            .ok_or_else(|| AdminError::new(ARGUMENT, format!("Server '{name}' does not exist.")))
    };
    match cmd {
        Command::Enable(name) => {
            let (id, _, s, _) = find(name)?;
            match s {
                ServerState::Free | ServerState::Cordoned | ServerState::Enabled => {
                    Ok(vec![(*id, ServerState::Enabled)])
                }
                other => Err(AdminError::new(
                    ARGUMENT,
                    format!("Server '{name}' is {} and cannot be enabled.", other.word()),
                )),
            }
        }
        Command::Cordon(name) => {
            let (id, _, s, _) = find(name)?;
            match s {
                ServerState::Enabled | ServerState::Cordoned => {
                    Ok(vec![(*id, ServerState::Cordoned)])
                }
                other => Err(AdminError::new(
                    ARGUMENT,
                    format!(
                        "Server '{name}' is {} and cannot be cordoned.",
                        other.word()
                    ),
                )),
            }
        }
        Command::Deallocate(names) => {
            let mut ids = Vec::new();
            for n in names {
                let (id, _, s, _) = find(n)?;
                if matches!(s, ServerState::Free | ServerState::Dropped) {
                    return Err(AdminError::new(
                        ARGUMENT,
                        format!("Cannot deallocate server(s) '{n}': it is {}.", s.word()),
                    ));
                }
                ids.push(*id);
            }
            // Where the databases could go: enabled servers not being deallocated.
            let room = servers
                .iter()
                .filter(|(id, _, s, _)| *s == ServerState::Enabled && !ids.contains(id))
                .count()
                + servers
                    .iter()
                    .filter(|(id, _, s, h)| *h && *s == ServerState::Cordoned && !ids.contains(id))
                    .count();
            if room < wanted {
                return Err(AdminError::new(
                    ARGUMENT,
                    format!(
                        "Cannot deallocate server(s) {}: unable to reallocate 'neo4j'; its topology needs {wanted} servers and {room} enabled servers would remain.",
                        names
                            .iter()
                            .map(|n| format!("'{n}'"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            Ok(ids
                .into_iter()
                .filter(|id| {
                    servers
                        .iter()
                        .any(|(i, _, s, _)| i == id && *s != ServerState::Deallocated)
                })
                .map(|id| (id, ServerState::Deallocating))
                .collect())
        }
        Command::Drop(name) => {
            let (id, _, s, hosting) = find(name)?;
            match (s, hosting) {
                (ServerState::Free | ServerState::Deallocated, false) => {
                    Ok(vec![(*id, ServerState::Dropped)])
                }
                _ => Err(AdminError::new(
                    ARGUMENT,
                    format!(
                        "Cannot drop server '{name}': it is {} and {}; deallocate its databases first.",
                        s.word(),
                        if *hosting {
                            "hosts databases"
                        } else {
                            "hosts none"
                        }
                    ),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
