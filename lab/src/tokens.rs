//! ServiceAccount tokens of one orchestra, as the TokenRequest API (`POST
//! …/serviceaccounts/NAME/token`, what `kubectl create token` and the kubelet's projected token
//! volume ask) hands them out, and who a bearer token is: a token names its ServiceAccount
//! (namespace, name, uid) and stops working when that ServiceAccount is deleted.

use std::collections::HashMap;
use std::sync::Mutex;

use rand::Rng;

/// The ServiceAccount a token was issued for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundAccount {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// The pod (name, uid) a kubelet-issued token is bound to: it dies with the pod.
    pub pod: Option<(String, String)>,
}

/// The tokens issued so far.
#[derive(Default)]
pub struct Tokens(Mutex<HashMap<String, BoundAccount>>);

impl Tokens {
    /// A new token for the ServiceAccount `namespace/name` (of uid `uid`), bound to a pod
    /// (name, uid) when the kubelet asks for it.
    pub fn issue(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        pod: Option<(String, String)>,
    ) -> String {
        let mut rng = rand::rng();
        let hex: String = (0..40)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect();
        let token = format!("sa-{hex}");
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(
            token.clone(),
            BoundAccount {
                namespace: namespace.into(),
                name: name.into(),
                uid: uid.into(),
                pod,
            },
        );
        token
    }

    /// The ServiceAccount `token` was issued for.
    pub fn lookup(&self, token: &str) -> Option<BoundAccount> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }
}
