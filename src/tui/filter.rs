//! The `/` filter of the database list: its syntax (words ANDed, each a substring or
//! `field:value` for health, profile, orchestra, namespace, version) and the match of one
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

/// A parsed `/` filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub terms: Vec<Term>,
}

impl Filter {
    /// Parses `text`: words separated by spaces, each a substring or `field:value` with field one
    /// of health, profile, orchestra (o), namespace (ns), version. Case-insensitive.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for word in text.split_whitespace() {
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
            terms.push(term);
        }
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether `d` passes every term. `display` is its orchestra's display name, lowercased.
    pub fn matches(&self, d: &Database, display: &str) -> bool {
        self.terms.iter().all(|t| match t {
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
        })
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

    #[test]
    fn filter_parsing() {
        let f = Filter::parse("health:degraded profile:etcd orchestra:aws pay").unwrap();
        assert_eq!(
            f.terms,
            vec![
                Term::Health(vec![Health::Degraded]),
                Term::Profile("etcd".into()),
                Term::Orchestra("aws".into()),
                Term::Text("pay".into()),
            ]
        );
        assert_eq!(
            Filter::parse("health:d").unwrap().terms,
            vec![Term::Health(vec![Health::Degraded, Health::Down])]
        );
        assert_eq!(
            Filter::parse("HEALTH:unhealthy").unwrap().terms,
            vec![Term::Health(vec![
                Health::Degraded,
                Health::Down,
                Health::Unknown
            ])]
        );
        assert!(Filter::parse("health:purple").is_err());
        assert!(Filter::parse("colour:red").is_err());
        // Ids typed or pasted are substrings, not fields.
        assert_eq!(
            Filter::parse("aws/ns/x").unwrap().terms,
            vec![Term::Text("aws/ns/x".into())]
        );
        assert!(Filter::parse("  ").unwrap().is_empty());
    }
}
