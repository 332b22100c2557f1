//! Neo4j 5 server management as a lab member answers it on `POST /db/system/tx/commit` (the
//! HTTP transactional API): a small, strict parser for `SHOW SERVERS`, `SHOW DATABASES` (with
//! the `YIELD … WHERE a <> b` forms the upgrade guide uses), `ENABLE SERVER`, `CORDON SERVER`,
//! `DEALLOCATE DATABASES FROM SERVER` and `DROP SERVER`; the server states of the operations
//! manual (Free, Enabled, Cordoned, Deallocating, Deallocated, Dropped); the answers in the
//! shapes of real servers (shared/fixtures/) and Neo4j's error shape for anything else. Which
//! servers host the database follows from the states (see [`requested`]); the Raft side
//! (lab/src/consensus.rs) turns that into configuration changes.
//!
//! Here: the states, the commands' rules and the transaction; the parser is `cypher`, the
//! `SHOW` rows are `rows`.

use serde_json::{Value, json};

mod cypher;
mod rows;

use cypher::{DATABASE_COLUMNS, SERVER_DEFAULT, Statement, parse};
use rows::{database_rows, project, server_rows};

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
mod tests;
