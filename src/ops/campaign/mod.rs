//! Campaigns: one operation rolled across many databases of the fleet, in waves. `spec` is what
//! the engineer asks (selection in the dashboard's filter language, canary, soak, wave rule,
//! limits); `plan` turns it and the fleet as seen into the waves, what is left out and why, and
//! an estimate; `run` is the coordinator's decision at each look (what starts next, the soak,
//! halt on harm: pure, so any coordinator decides alike) and `judge` what it reads from the
//! fleet; `state` is where it is recorded, a ConfigMap per orchestra written with the
//! resourceVersion read, and `lock` the coordinator's Lease; `launch` starts each database's
//! ordinary operation; `coordinator` is the loop; `view` merges each orchestra's record into
//! what `status` and the dashboard show; `headless` is `baton campaign
//! plan|start|status|pause|resume|cancel`.

pub mod coordinator;
pub mod headless;
pub mod judge;
pub mod launch;
pub mod lock;
pub mod plan;
pub mod run;
pub mod spec;
pub mod state;
pub mod view;
