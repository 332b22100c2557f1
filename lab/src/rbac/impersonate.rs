//! Impersonation (`Impersonate-User`, `Impersonate-Group` headers; `kubectl --as`), as the API
//! server's impersonation filter does it: the caller must be allowed to `impersonate` the
//! ServiceAccount (in its namespace), user or groups; the request then acts as that identity.

use serde_json::Value;

use super::{Attributes, Identity, SA_PREFIX, authorize, forbidden_status};
use crate::store::Store;

/// The identity a request acts as: `caller` itself when it impersonates no one, else the
/// impersonated one when the caller may impersonate it; otherwise the `Status` body to answer
/// (with its code).
pub fn impersonate(
    store: &Store,
    caller: Identity,
    user: Option<&str>,
    groups: &[String],
) -> Result<Identity, Value> {
    let Some(user) = user.filter(|u| !u.is_empty()) else {
        if groups.is_empty() {
            return Ok(caller);
        }
        let mut status = crate::error::ApiError::bad_request(format!(
            "requested {groups:?} without impersonating a user"
        ))
        .status();
        status["code"] = 400.into();
        return Err(status);
    };
    let sa = user
        .strip_prefix(SA_PREFIX)
        .and_then(|r| r.split_once(':'))
        .filter(|(ns, n)| !ns.is_empty() && !n.is_empty());
    let mut asks: Vec<(&str, Option<&str>, &str)> = vec![match sa {
        Some((ns, name)) => ("serviceaccounts", Some(ns), name),
        None => ("users", None, user),
    }];
    asks.extend(groups.iter().map(|g| ("groups", None, g.as_str())));
    for (resource, namespace, name) in asks {
        let a = Attributes {
            verb: "impersonate",
            group: "",
            resource,
            namespace,
            name,
        };
        if authorize(store, &caller, &a).is_none() {
            return Err(forbidden_status(
                &caller,
                "impersonate",
                "",
                resource,
                namespace,
                name,
            ));
        }
    }
    Ok(Identity::from_user(user, groups.to_vec()))
}
