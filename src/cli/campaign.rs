//! `baton campaign …`: the command line of campaigns (one operation across many databases).

use clap::{Args, Subcommand};

use super::OpOutput;

#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// Show what a campaign would do, and send nothing: the databases the selection matched,
    /// those left out and why, the canary and the waves (counts per orchestra, the first
    /// databases of each) and an estimate of its duration.
    Plan(CampaignPlanArgs),
}

#[derive(Debug, Clone, Args)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnRefusalArg {
    Skip,
    Halt,
}
