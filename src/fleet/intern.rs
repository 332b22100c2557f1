//! One copy of each of the strings that repeat across the fleet — pod phases, images, node
//! and zone names, memory sizes, namespaces: 30 000 members each holding their own copies of
//! the same few values were megabytes of the dashboard. Interned strings live as long as the
//! process; only values that many objects share and that rarely come and go belong here (never
//! pod names or member ids).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

static STRINGS: LazyLock<Mutex<HashSet<Arc<str>>>> = LazyLock::new(Mutex::default);

/// The one shared copy of `s`.
pub fn intern(s: &str) -> Arc<str> {
    let mut strings = STRINGS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = strings.get(s) {
        return Arc::clone(known);
    }
    let new: Arc<str> = Arc::from(s);
    strings.insert(Arc::clone(&new));
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_copy() {
        let a = intern("neo4j:5.26.0-enterprise");
        let b = intern(&String::from("neo4j:5.26.0-enterprise"));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*a, "neo4j:5.26.0-enterprise");
        assert!(!Arc::ptr_eq(&a, &intern("neo4j:5.26.1-enterprise")));
    }
}
