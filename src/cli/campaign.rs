//! `baton campaign …`: the command line of campaigns (one operation across many databases).

use clap::{Args, Subcommand};

use super::OpOutput;

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Show what a campaign would do, and send nothing: the databases the selection matched,
    /// those left out and why, the canary and the waves (counts per orchestra, the first
    /// databases of each) and an estimate of its duration.
    Plan(CampaignPlanArgs),
    /// Plan the campaign, ask for it to be confirmed (its name and the number of databases,
    /// typed), record it in the orchestras and coordinate it here until it ends, pauses or
    /// halts. Closing the terminal stops nothing in flight: `resume` goes on from any baton.
    Start(CampaignStartArgs),
    /// Every campaign the orchestras hold (or one, with its databases): phase, coordinator,
    /// wave, counts, throughput and an estimate of what is left.
    Status(CampaignStatusArgs),
    /// Nothing new starts; what runs finishes. The coordinator stops once nothing runs.
    Pause(CampaignControlArgs),
    /// Go on: un-pause a live coordinator, or take over a stale one (after a typed
    /// confirmation) and coordinate here from the recorded state.
    Resume(CampaignResumeArgs),
    /// Stop for good: nothing new starts; what runs finishes.
    Cancel(CampaignControlArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CampaignStartArgs {
    #[command(flatten)]
    pub plan: CampaignPlanArgs,
    /// Start without the typed confirmation.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CampaignStatusArgs {
    /// One campaign, with each of its databases.
    pub name: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OpOutput,
}

#[derive(Debug, Clone, Args)]
pub struct CampaignControlArgs {
    pub name: String,
    /// Why (it goes into the record, the audit and the notice).
    #[arg(long, default_value = "")]
    pub why: String,
}

#[derive(Debug, Clone, Args)]
pub struct CampaignResumeArgs {
    pub name: String,
    /// Take over a stale coordinator without the typed confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Give up waiting for every orchestra's databases and Leases after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OpOutput,
}

#[derive(Debug, Clone, PartialEq, Args)]
pub struct CampaignPlanArgs {
    /// The operation each database gets (a database-wide one: rolling-restart, upgrade, resize,
    /// backup, stop, start, incident).
    pub operation: String,
    /// Which databases, in the dashboard's filter language: words ANDed, `field:value` for
    /// health, profile, orchestra, namespace, version, `!` to negate (quote it:
    /// --select 'version:5.24 profile:neo4j orchestra:aws- !dedicated'). Default: all.
    #[arg(long, default_value = "")]
    pub select: String,
    /// An operation parameter, the same for every database (repeatable): --set version=5.26.0.
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The campaign's name (it names its Lease and state): default `<operation>-<yyyymmdd-hhmm>`.
    #[arg(long)]
    pub name: Option<String>,
    /// The canary: how many databases go first, or a filter of which (--canary 'orchestra:dev').
    #[arg(long, default_value = "1")]
    pub canary: String,
    /// How long the canary is watched (health, leader churn, lag) before the waves: 90s, 10m, 1h.
    #[arg(long, default_value = "10m")]
    pub soak: String,
    /// The waves after the canary: the databases done by the end of each, a count or a share of
    /// the plan; the last takes the rest.
    // The same as `ops::campaign::spec::DEFAULT_WAVES` (a unit test keeps them equal).
    #[arg(long, default_value = "5%,25%,100%")]
    pub waves: String,
    /// Operations at once, fleet-wide.
    #[arg(long, default_value_t = 10)]
    pub max_parallel: usize,
    /// Operations at once on one orchestra.
    #[arg(long, default_value_t = 1)]
    pub max_per_orchestra: usize,
    /// A database whose preflight refuses it: skip it (recorded with the rule) or halt.
    #[arg(long, value_enum, default_value = "skip")]
    pub on_refusal: OnRefusalArg,
    /// Give up waiting for every orchestra's databases and Leases after this many seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OpOutput,
}

/// `plan`'s arguments at their defaults (the operation left empty): the dashboard's campaign
/// form starts from them, so both have the same defaults.
pub fn plan_defaults() -> CampaignPlanArgs {
    #[derive(clap::Parser)]
    struct Plan {
        #[command(flatten)]
        a: CampaignPlanArgs,
    }
    use clap::Parser as _;
    Plan::try_parse_from(["baton", ""]).map_or_else(|_| fallback(), |p| p.a)
}

/// The same defaults written out (a unit test keeps them equal to clap's), in case clap's
/// parse of them ever failed.
fn fallback() -> CampaignPlanArgs {
    CampaignPlanArgs {
        operation: String::new(),
        select: String::new(),
        set: Vec::new(),
        name: None,
        canary: "1".into(),
        soak: "10m".into(),
        waves: "5%,25%,100%".into(),
        max_parallel: 10,
        max_per_orchestra: 1,
        on_refusal: OnRefusalArg::Skip,
        timeout: 30,
        output: OpOutput::Text,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_defaults_parse_and_equal_the_fallback() {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Plan {
            #[command(flatten)]
            a: super::CampaignPlanArgs,
        }
        let parsed = Plan::try_parse_from(["baton", ""]).map(|p| p.a);
        assert_eq!(parsed.ok(), Some(super::fallback()));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnRefusalArg {
    Skip,
    Halt,
}
