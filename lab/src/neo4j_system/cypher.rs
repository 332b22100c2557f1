//! The statements the lab answers on the system database, parsed strictly: tokens, `YIELD …
//! WHERE a <> b` projections, server names, and the columns each `SHOW` can yield.

use super::Command;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Operand {
    Column(String),
    Text(String),
}

/// `YIELD a, b WHERE x <> y` (both optional).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Projection {
    pub(super) columns: Option<Vec<String>>,
    /// (left, equal?, right): `=` or `<>`.
    pub(super) filter: Option<(Operand, bool, Operand)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Statement {
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

pub(super) fn parse(statement: &str) -> Result<Statement, String> {
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
pub(super) const SERVER_DEFAULT: &[&str] = &["name", "address", "state", "health", "hosting"];
pub(super) const DATABASE_COLUMNS: &[&str] = &[
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
