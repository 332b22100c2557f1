//! Asking an orchestra's API server what its identity may do: one SelfSubjectAccessReview per
//! permission an operation needs (`fleet::catalog`), plus reading Secrets (probe credentials) and
//! the pod proxy (probes). A review is a create that stores and changes nothing, so the guard
//! lets it through in read-only mode too (see `guard`). The answers become a `fleet::Access`.

use std::time::Duration;

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use tokio::sync::mpsc;

use crate::fleet::Access;
use crate::fleet::access::Permission;

/// What is asked: every permission of the catalog, Secrets and the pod proxy.
pub fn asked() -> Vec<Permission> {
    let mut out: Vec<Permission> = crate::fleet::catalog::CATALOG
        .iter()
        .flat_map(|s| s.permissions.iter().copied())
        .collect();
    out.extend(crate::fleet::catalog::permissions(
        crate::config::OperationName::Resize,
        "surge",
    ));
    out.extend([("get", "secrets", ""), ("get", "pods", "proxy")]);
    out.sort_unstable();
    out.dedup();
    out
}

/// The API group of a resource baton names in a permission.
fn group_of(resource: &str) -> &'static str {
    match resource {
        "statefulsets" => "apps",
        "jobs" => "batch",
        "leases" => "coordination.k8s.io",
        _ => "",
    }
}

/// Sends the reviews of `perms` (in `namespace`, or every namespace); `Err` when the API server
/// answered none of them.
pub async fn review(
    client: &kube::Client,
    perms: &[Permission],
    namespace: Option<&str>,
) -> Result<Access, String> {
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answers = futures::future::join_all(perms.iter().map(|p| {
        let api = api.clone();
        async move {
            let (verb, resource, sub) = *p;
            let ask = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        verb: Some(verb.into()),
                        group: Some(group_of(resource).into()),
                        resource: Some(resource.into()),
                        subresource: (!sub.is_empty()).then(|| sub.to_string()),
                        namespace: namespace.map(str::to_string),
                        ..ResourceAttributes::default()
                    }),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            (*p, api.create(&PostParams::default(), &ask).await)
        }
    }))
    .await;
    let mut access = Access::default();
    let mut last_error = None;
    for (p, answer) in answers {
        match answer {
            Ok(r) => {
                access
                    .answers
                    .insert(p, r.status.is_some_and(|s| s.allowed));
            }
            Err(e) => last_error = Some(crate::probe::kube_reason(&e)),
        }
    }
    match last_error {
        Some(e) if access.answers.is_empty() => Err(e),
        _ => Ok(access),
    }
}

/// Asks until the API server answers (every 15 s), then again every 10 minutes (bindings
/// change), sending each answer as `wrap(access)`.
pub async fn keep_asking<T>(client: kube::Client, wrap: fn(Access) -> T, tx: mpsc::Sender<T>) {
    let perms = asked();
    loop {
        let wait = match review(&client, &perms, None).await {
            Ok(access) => {
                if tx.send(wrap(access)).await.is_err() {
                    return;
                }
                Duration::from_secs(600)
            }
            Err(why) => {
                tracing::debug!(%why, "access reviews");
                Duration::from_secs(15)
            }
        };
        tokio::time::sleep(wait).await;
    }
}
