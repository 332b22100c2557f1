//! Campaigns: one operation rolled across many databases of the fleet, in waves. `spec` is what
//! the engineer asks (selection in the dashboard's filter language, canary, soak, wave rule,
//! limits); `plan` turns it and the fleet as seen into the waves, what is left out and why, and
//! an estimate; `run` is the coordinator's decision at each look (what starts next, the soak,
//! halt on harm: pure, so any coordinator decides alike); `state` is where it is recorded, a
//! ConfigMap per orchestra written with the resourceVersion read; `headless` is `baton campaign
//! plan`. Not built yet: the campaign Lease and the coordinator loop that launches each database's ordinary operation, `start|status|pause|resume|cancel`,
//! and the dashboard's `:campaigns`.

pub mod headless;
pub mod plan;
pub mod run;
pub mod spec;
pub mod state;
