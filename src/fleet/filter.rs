//! The filter language of the database list (`/`) and of a campaign's selection (`baton
//! campaign plan FILTER`): one parser for both. Its syntax: words ANDed, each a substring or
//! `field:value` for health, profile, orchestra, namespace, version, and any word negated with a
//! leading `!` (`version:5.24 profile:neo4j orchestra:aws- !dedicated`); and the match of one
//! database against it.

use crate::fleet::{Database, Health};

/// One term of a filter; terms are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Substring of `orchestra/namespace/name` or the orchestra's display name.
    Text(String),
    Health(Vec<Health>),
    Profile(String),
    Orchestra(String),
    Namespace(String),
    Version(String),
}

/// One word of a filter: a term, or (`!term`) its negation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub not: bool,
    pub term: Term,
}

/// A parsed filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub clauses: Vec<Clause>,
}

impl Filter {
    /// A filter no database passes (while a term is half typed, the list shows nothing rather
    /// than everything).
    pub fn nothing() -> Self {
        Self {
            clauses: vec![Clause {
                not: false,
                term: Term::Health(Vec::new()),
            }],
        }
    }

    /// Parses `text`: words separated by spaces, each a substring or `field:value` with field one
    /// of health, profile, orchestra (o), namespace (ns), version, either negated by a leading
    /// `!`. Case-insensitive.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut clauses = Vec::new();
        for word in text.split_whitespace() {
            let (not, word) = match word.strip_prefix('!') {
                Some("") => {
                    return Err(
                        "'!' negates the word after it, without a space: e.g. !dedicated or !version:5.26"
                            .into(),
                    );
                }
                Some(rest) => (true, rest),
                None => (false, word),
            };
            let lower = word.to_lowercase();
            let term = match lower.split_once(':') {
                Some(("health" | "h", v)) => Term::Health(parse_health(v)?),
                Some(("profile" | "p", v)) => Term::Profile(v.into()),
                Some(("orchestra" | "o" | "ctx", v)) => Term::Orchestra(v.into()),
                Some(("namespace" | "ns", v)) => Term::Namespace(v.into()),
                Some(("version" | "v", v)) => Term::Version(v.into()),
                Some((field, _)) if !field.is_empty() && !field.contains('/') => {
                    return Err(format!(
                        "unknown filter field '{field}': use health, profile, orchestra, namespace or version"
                    ));
                }
                _ => Term::Text(lower),
            };
            clauses.push(Clause { not, term });
        }
        Ok(Self { clauses })
    }

    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// The terms as written, without their negation (tests and explanations).
    pub fn terms(&self) -> Vec<&Term> {
        self.clauses.iter().map(|c| &c.term).collect()
    }

    /// Whether `d` passes every word. `display` is its orchestra's display name, lowercased.
    pub fn matches(&self, d: &Database, display: &str) -> bool {
        self.clauses
            .iter()
            .all(|c| c.not != Self::term_matches(&c.term, d, display))
    }

    /// The first word `d` fails, as written (`!dedicated`, `version:5.24`): why a database was
    /// not selected.
    pub fn first_failed(&self, d: &Database, display: &str) -> Option<String> {
        self.clauses
            .iter()
            .find(|c| c.not == Self::term_matches(&c.term, d, display))
            .map(|c| format!("{}{}", if c.not { "!" } else { "" }, c.term.word()))
    }

    fn term_matches(t: &Term, d: &Database, display: &str) -> bool {
        match t {
            Term::Text(s) => {
                let k = &d.key;
                k.name.contains(s.as_str())
                    || k.namespace.contains(s.as_str())
                    || k.orchestra.contains(s.as_str())
                    || display.contains(s.as_str())
                    || (s.contains('/') && k.id().contains(s.as_str()))
            }
            Term::Health(hs) => hs.contains(&d.state.health),
            Term::Profile(p) => d.profile.to_lowercase().contains(p.as_str()),
            Term::Orchestra(o) => {
                d.key.orchestra.contains(o.as_str()) || display.contains(o.as_str())
            }
            Term::Namespace(n) => d.key.namespace.contains(n.as_str()),
            Term::Version(v) => d.version().contains(v.as_str()),
        }
    }
}

impl Term {
    /// The term written back in the filter's syntax.
    pub fn word(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Health(hs) => format!(
                "health:{}",
                hs.iter().map(|h| h.word()).collect::<Vec<_>>().join("|")
            ),
            Self::Profile(p) => format!("profile:{p}"),
            Self::Orchestra(o) => format!("orchestra:{o}"),
            Self::Namespace(n) => format!("namespace:{n}"),
            Self::Version(v) => format!("version:{v}"),
        }
    }
}

fn parse_health(v: &str) -> Result<Vec<Health>, String> {
    const ALL: [Health; 4] = [
        Health::Healthy,
        Health::Degraded,
        Health::Down,
        Health::Unknown,
    ];
    let hs: Vec<Health> = match v {
        "unhealthy" | "bad" | "!healthy" => vec![Health::Degraded, Health::Down, Health::Unknown],
        "" => Vec::new(),
        v => ALL
            .into_iter()
            .filter(|h| h.word().starts_with(v))
            .collect(),
    };
    if hs.is_empty() {
        Err(format!(
            "health:{v}: use healthy, degraded, down, unknown or unhealthy"
        ))
    } else {
        Ok(hs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::DbKey;

    #[test]
    fn filter_parsing() {
        let f = Filter::parse("health:degraded profile:etcd orchestra:aws pay").unwrap();
        assert_eq!(
            f.terms(),
            vec![
                &Term::Health(vec![Health::Degraded]),
                &Term::Profile("etcd".into()),
                &Term::Orchestra("aws".into()),
                &Term::Text("pay".into()),
            ]
        );
        assert_eq!(
            Filter::parse("health:d").unwrap().terms(),
            vec![&Term::Health(vec![Health::Degraded, Health::Down])]
        );
        assert_eq!(
            Filter::parse("HEALTH:unhealthy").unwrap().terms(),
            vec![&Term::Health(vec![
                Health::Degraded,
                Health::Down,
                Health::Unknown
            ])]
        );
        assert!(Filter::parse("health:purple").is_err());
        assert!(Filter::parse("colour:red").is_err());
        // Ids typed or pasted are substrings, not fields.
        assert_eq!(
            Filter::parse("aws/ns/x").unwrap().terms(),
            vec![&Term::Text("aws/ns/x".into())]
        );
        assert!(Filter::parse("  ").unwrap().is_empty());
    }

    /// A database of one member running `image`, as the store folds it from a pod list.
    fn database(orchestra: &str, name: &str, image: &str) -> Database {
        let mut fleet = crate::fleet::Fleet::new(0);
        let db = crate::fleet::DbRef {
            namespace: "ns".into(),
            name: name.into(),
        };
        let pod = crate::fleet::PodInfo {
            name: format!("{name}-0"),
            image: image.into(),
            ..Default::default()
        };
        fleet.apply(crate::fleet::FleetEvent::Pods {
            orchestra: orchestra.into(),
            profile: "neo4j".into(),
            pods: vec![(db, pod)],
            complete: true,
        });
        let key = DbKey {
            orchestra: orchestra.into(),
            namespace: "ns".into(),
            name: name.into(),
        };
        (*fleet.databases[&key]).clone()
    }

    #[test]
    fn a_word_is_negated_with_a_bang() {
        let f = Filter::parse("version:5.24 profile:neo4j orchestra:aws- !dedicated").unwrap();
        assert_eq!(
            f.clauses.last(),
            Some(&Clause {
                not: true,
                term: Term::Text("dedicated".into())
            })
        );
        let at = |o: &str, n: &str, v: &str| database(o, n, &format!("neo4j:{v}-enterprise"));
        assert!(f.matches(&at("aws-eu", "orders", "5.24.1"), "aws-eu"));
        assert!(!f.matches(&at("aws-eu", "dedicated-7", "5.24.1"), "aws-eu"));
        assert!(!f.matches(&at("gcp-eu", "orders", "5.24.1"), "gcp-eu"));
        assert_eq!(
            f.first_failed(&at("aws-eu", "dedicated-7", "5.24.1"), "aws-eu"),
            Some("!dedicated".into())
        );
        assert_eq!(
            f.first_failed(&at("aws-eu", "orders", "5.26.0"), "aws-eu"),
            Some("version:5.24".into())
        );
        let not_done = Filter::parse("!version:5.26").unwrap();
        assert!(not_done.matches(&at("a", "x", "5.24.1"), "a"));
        assert!(!not_done.matches(&at("a", "x", "5.26.0"), "a"));
        assert!(!Filter::parse("!health:healthy").unwrap().is_empty());
        let e = Filter::parse("orders ! dedicated").unwrap_err();
        assert!(e.contains("without a space"), "{e}");
    }
}
