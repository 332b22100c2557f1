//! What an orchestra's identity may do, as its API server answered SelfSubjectAccessReviews for
//! the permissions operations need (`fleet::catalog`), and what follows: the permissions an
//! operation is missing, and whether the identity is an observer (it may change nothing). Pure;
//! the reviews are sent by `source::access`.

use std::collections::BTreeMap;

/// A Kubernetes permission: (verb, resource, subresource), e.g. `("create", "jobs", "")`.
pub type Permission = (&'static str, &'static str, &'static str);

/// `create jobs`, `get pods/log`: a permission as people (and RBAC messages) say it.
pub fn say(p: &Permission) -> String {
    let (verb, resource, sub) = p;
    if sub.is_empty() {
        format!("{verb} {resource}")
    } else {
        format!("{verb} {resource}/{sub}")
    }
}

/// Whether a permission changes anything (anything but get, list, watch).
pub fn mutating(p: &Permission) -> bool {
    !matches!(p.0, "get" | "list" | "watch")
}

/// The answers of one orchestra's API server, per permission asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub answers: BTreeMap<Permission, bool>,
}

impl Access {
    /// The permissions of `needed` the identity was refused, as said (`create jobs`). A
    /// permission never asked about is not counted missing (the API server decides then).
    pub fn missing(&self, needed: &[Permission]) -> Vec<String> {
        needed
            .iter()
            .filter(|p| self.answers.get(*p) == Some(&false))
            .map(say)
            .collect()
    }

    /// The identity may change nothing that was asked about: an observer, whatever the config
    /// says. False until at least one mutating permission was asked.
    pub fn observer(&self) -> bool {
        let mut asked = self.answers.iter().filter(|(p, _)| mutating(p)).peekable();
        asked.peek().is_some() && asked.all(|(_, allowed)| !allowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_observer() {
        let mut a = Access::default();
        assert!(!a.observer(), "nothing asked: not known to be an observer");
        a.answers.insert(("create", "jobs", ""), false);
        a.answers.insert(("get", "pods", "log"), true);
        a.answers.insert(("delete", "pods", ""), false);
        assert_eq!(
            a.missing(&[
                ("create", "jobs", ""),
                ("get", "pods", "log"),
                ("patch", "x", "")
            ]),
            vec!["create jobs".to_string()]
        );
        assert!(a.observer());
        a.answers.insert(("delete", "pods", ""), true);
        assert!(!a.observer());
        assert_eq!(say(&("get", "pods", "proxy")), "get pods/proxy");
    }
}
