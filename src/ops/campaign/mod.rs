//! Campaigns: one operation rolled across many databases of the fleet, in waves. `spec` is what
//! the engineer asks (selection in the dashboard's filter language, canary, soak, wave rule,
//! limits); `plan` turns it and the fleet as seen into the waves, what is left out and why, and
//! an estimate; `headless` is `baton campaign plan`.

pub mod headless;
pub mod plan;
pub mod spec;
