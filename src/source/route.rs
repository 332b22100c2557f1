//! How probes reach the members of one orchestra: directly (the pod IP or a static member's
//! URL), through the API server's pod proxy, or trying direct first (the orchestra's
//! `transport = "auto"`), where the first database whose members answered or failed decides.
//! And the credential gate: credentials go only on direct requests (a proxy does not forward
//! them), and only once direct is known to reach the members — while trying, a pod IP may be
//! some other host on this network and plain HTTP would hand it the password. Pure.

use crate::config::Transport;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Direct,
    Proxy,
    /// Trying direct; falling back to the proxy member by member until one database decides.
    Trying,
}

/// How one member's probe went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reached {
    /// A direct request got an answer (a refusal too: the route works).
    Direct,
    /// A direct request could not connect.
    DirectFailed,
    /// Through the API server only.
    Proxy,
}

impl Route {
    pub fn of(transport: Transport) -> Self {
        match transport {
            Transport::Direct => Self::Direct,
            Transport::Proxy => Self::Proxy,
            Transport::Auto => Self::Trying,
        }
    }

    /// The credential gate: send the profile's credentials with this probe?
    pub fn sends_credentials(self) -> bool {
        self == Self::Direct
    }

    /// Whether direct requests are tried first.
    pub fn tries_direct(self) -> bool {
        self != Self::Proxy
    }

    /// The route after one database's probes went as `reached` (one per member): while trying,
    /// any direct answer chooses direct; direct failing with no direct answer chooses the proxy.
    pub fn after(self, reached: &[Reached]) -> Self {
        if self != Self::Trying {
            return self;
        }
        if reached.contains(&Reached::Direct) {
            Self::Direct
        } else if reached.contains(&Reached::DirectFailed) {
            Self::Proxy
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_only_on_a_known_direct_route() {
        assert!(Route::of(Transport::Direct).sends_credentials());
        assert!(!Route::of(Transport::Proxy).sends_credentials());
        assert!(
            !Route::of(Transport::Auto).sends_credentials(),
            "never to an untried pod IP"
        );
        assert!(Route::Trying.after(&[Reached::Direct]).sends_credentials());
        assert!(Route::Trying.tries_direct() && Route::Direct.tries_direct());
        assert!(!Route::Proxy.tries_direct());
    }

    #[test]
    fn the_first_deciding_database_picks_the_route() {
        use Reached::*;
        assert_eq!(
            Route::Trying.after(&[DirectFailed, Direct]),
            Route::Direct,
            "one direct answer is enough"
        );
        assert_eq!(Route::Trying.after(&[DirectFailed, Proxy]), Route::Proxy);
        assert_eq!(Route::Trying.after(&[]), Route::Trying);
        assert_eq!(Route::Trying.after(&[Proxy]), Route::Trying);
        // A chosen route stays.
        assert_eq!(Route::Direct.after(&[DirectFailed]), Route::Direct);
        assert_eq!(Route::Proxy.after(&[Direct]), Route::Proxy);
    }
}
