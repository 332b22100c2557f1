//! Operations: a named, parameterised, confirmed change to one database, run as a reconcile
//! loop over observed state (DESIGN.md, Operations).
//! - (what exists, blast radius, parameters, permissions: `fleet::catalog`, which the sources read too)
//! - `observe`: one look at a database; `safety`: the rules; `plan`: each operation's goal, the
//!   next action from an observation (all three pure).
//! - `record`: the Lease record and the lock's states.
//! - `executor`: the trait every outside call goes through; `kube`: it on Kubernetes;
//!   `connect`: an executor for one database from the kubeconfig (`baton op` and the dashboard);
//!   `fake`: an in-memory database for tests.
//! - `plan::replace`: replace-member (a fresh volume, membership through Neo4j's server
//!   management); `neo4j_admin`: the Cypher it sends and the rows it reads (sent by `kube`).
//! - `runner`: the loop, and before it `runner::prepare` (lock, record, preflight);
//!   `progress`: events and outcomes; `audit`: audit.jsonl and webhooks; `incident`: the
//!   summary to the incident webhook; `cancel`: a cancel request on a Lease, for whoever holds
//!   it; `headless`: `baton op …`.
//! - `backups`: the object store's backups of a database, chosen and checked before a restore.
//! - `upgrade_rules`: which version changes an upgrade may make, per profile (data).
//! - `campaign`: one operation across many databases in waves (spec, plan, `baton campaign`).

pub mod audit;
pub mod backups;
pub mod campaign;
pub mod cancel;
pub mod connect;
pub mod executor;
pub mod fake;
pub mod headless;
pub mod in_cluster;
pub mod incident;
pub mod kube;
pub mod neo4j_admin;
pub mod observe;
pub mod plan;
pub mod progress;
pub mod record;
pub mod runner;
pub mod safety;
pub mod upgrade_rules;

pub use executor::{ExecError, Executor};
pub use runner::{OpEvent, Outcome};

#[cfg(test)]
mod tests;
