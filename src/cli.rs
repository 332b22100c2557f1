//! The command line (clap): global flags and subcommands; see DESIGN.md for the full contract.

pub mod campaign;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  baton                              the dashboard: every kubeconfig context, the config's inventory
  baton lab                          the dashboard on the demo lab, started in this process
  baton --kubeconfig /tmp/lab.kubeconfig status     every orchestra's databases, leaders and health
  baton lab fault --kubeconfig /tmp/lab.kubeconfig kill-member --orchestra aws-eu-west-1 -n team-commerce --pod orders-1-0
  baton lab serve --kubeconfig-out /tmp/lab.kubeconfig
                                     run the lab headless, then: kubectl --kubeconfig /tmp/lab.kubeconfig get pods -A
  baton op rolling-restart --orchestra aws-eu-west-1 --database orders --dry-run
                                     the plan and the safety checks, nothing sent
  baton op status                    operations in flight fleet-wide
  baton config check                 validate the config file and theme, print where files live
  baton completions bash             shell completions (bash, zsh, fish); baton man: the man page
  baton --theme light config check   validate with another theme
  NO_COLOR=1 baton config check      NO_COLOR selects the mono theme

Files:
  config   --config, else $BATON_CONFIG, else the platform config dir (baton/config.toml)
  themes   built in: default, light, high-contrast, mono; yours: <config dir>/themes/NAME.toml
  logs     <data dir>/logs/baton.log (level from BATON_LOG or RUST_LOG), never on screen

Exit codes: 0 ok, 1 operation or connection failed, 2 bad usage, config or input,
            3 refused (safety check, lock held, permission, read-only)";

/// baton — the on-call remote control for fleets of Raft-clustered databases on Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "baton", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Kubeconfig file(s) to read instead of $KUBECONFIG / ~/.kube/config.
    #[arg(long, global = true, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Only these kubeconfig contexts (repeatable).
    #[arg(long = "context", global = true, value_name = "NAME")]
    pub contexts: Vec<String>,
    /// Config file (default: $BATON_CONFIG, else the platform config dir).
    #[arg(long, global = true, value_name = "PATH", env = "BATON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Theme name: default, light, high-contrast, mono, or a user theme.
    #[arg(long, global = true, value_name = "NAME")]
    pub theme: Option<String>,
    /// Observer mode: no mutating request ever leaves the process.
    #[arg(long, global = true)]
    pub read_only: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The embedded lab: simulated Kubernetes clusters running Raft-clustered databases.
    /// Without a subcommand: start the demo lab in this process and open the dashboard on it
    /// (quitting the dashboard stops the lab).
    #[cfg_attr(
        not(feature = "lab"),
        command(about = "Not in this build (built without the `lab` feature): the embedded lab")
    )]
    Lab {
        #[command(subcommand)]
        command: Option<LabCommand>,
    },
    /// One fleet snapshot after every orchestra answered or timed out, then exit
    /// (exit 1 when an orchestra was unreachable).
    Status(StatusArgs),
    /// Measure the dashboard's engine and rendering against DESIGN.md's budgets (run it on the
    /// fleet lab: scripts/bench.sh); prints figures.
    Bench(BenchArgs),
    /// Campaigns: one operation across many databases, canary first, then in widening waves.
    Campaign {
        #[command(subcommand)]
        command: campaign::CampaignCommand,
    },
    /// Operations, headless: the same engine as the dashboard (list, status, resume, or run one).
    Op {
        #[command(subcommand)]
        command: OpCommand,
    },
    /// Check the config file and theme, and show where baton keeps its files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the shell completion script: `baton completions bash > ~/.local/share/bash-completion/completions/baton`,
    /// `baton completions zsh > "${fpath[1]}/_baton"`, `baton completions fish > ~/.config/fish/completions/baton.fish`.
    Completions {
        /// The shell: bash, zsh, fish (also elvish, powershell).
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `baton man > baton.1 && man ./baton.1`.
    Man,
}

/// Writes `shell`'s completion script for the whole command line to `out`. Made in memory
/// first: clap_complete panics on a failed write (`baton completions bash | head`).
pub fn completions(
    shell: clap_complete::Shell,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "baton", &mut script);
    out.write_all(&script)
}

/// Writes the man page, baton(1), to `out`.
pub fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cmd = <Cli as clap::CommandFactory>::command();
    clap_mangen::Man::new(cmd).render(out)
}

#[derive(Debug, Subcommand)]
pub enum OpCommand {
    /// The catalog: every operation with its blast radius, confirmation and parameters.
    List,
    /// Operations in flight fleet-wide (from the `baton-op-*` Leases), with holder, step and age.
    Status(OpStatusArgs),
    /// Continue an interrupted operation (killed process, SSH drop, paused) from its Lease.
    Resume(OpResumeArgs),
    /// Print, as YAML for an admin to `kubectl apply -f -`, the ServiceAccount `baton-operator`,
    /// its Role (exactly the verbs operations need) and RoleBinding that in-cluster runs use.
    Rbac(OpRbacArgs),
    /// Ask the operation in flight on a database to stop (from any baton, wherever it runs):
    /// it finishes the current action, lets the database settle, and ends cancelled.
    Cancel(OpCancelArgs),
    /// Restart every member one at a time: down ones first, secondaries, followers, leader last.
    RollingRestart(OpRunArgs),
    /// Restart one member (--member) and wait until the database has settled.
    RestartMember(OpRunArgs),
    /// A Job backs up the database from one member (default: a caught-up follower).
    Backup(OpRunArgs),
    /// A Job gathers a member's logs and heap and thread dumps (--member).
    Diagnostics(OpRunArgs),
    /// Scale every StatefulSet of the database to 0, remembering replicas; data stays.
    Stop(OpRunArgs),
    /// Scale a stopped database back to its remembered replicas.
    Start(OpRunArgs),
    /// Stop the database, replace its data with a backup (--set from=s3://…), start it again.
    Restore(OpRunArgs),
    /// Change every member's memory (--set memory=8Gi), one StatefulSet at a time, leader last.
    Resize(OpRunArgs),
    /// Change the version (--set version=5.27.0: the image tag), one StatefulSet at a time, leader last.
    Upgrade(OpRunArgs),
    /// Give one member (--member) a fresh volume; it rejoins as a new server that catches up
    /// (Neo4j 5: ENABLE SERVER the new, DEALLOCATE and DROP the old).
    ReplaceMember(OpRunArgs),
    /// Post the database's summary to the incident webhook.
    Incident(OpRunArgs),
}

#[derive(Debug, Clone, Args)]
pub struct OpTarget {
    /// The orchestra (kubeconfig context).
    #[arg(long)]
    pub orchestra: String,
    /// The database's name.
    #[arg(long)]
    pub database: String,
    /// Its namespace (found from the pods when the name is unique).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct OpRunArgs {
    #[command(flatten)]
    pub target: OpTarget,
    /// The member (pod) to act on or read from.
    #[arg(long)]
    pub member: Option<String>,
    /// Parameters as key=value (repeatable), e.g. --set target=s3://bucket/path.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Refuse unless this pod is the leader when the operation starts (compare-and-swap).
    #[arg(long, value_name = "POD")]
    pub expect_leader: Option<String>,
    /// Print the plan, the checks and any Job manifest; send no mutating request.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    /// Take over a stale lock (an interrupted operation) and start this one instead.
    #[arg(long)]
    pub take_over: bool,
    /// Run it in the orchestra as a Job of baton (it outlives this process and its SSH
    /// session); default from the config (operations.run, per orchestra).
    #[arg(long, conflicts_with = "local")]
    pub in_cluster: bool,
    /// Run it in this process, whatever the config says.
    #[arg(long)]
    pub local: bool,
    /// Go on although this safety rule fails (repeatable): majority, settled,
    /// no-other-operation or expected-leader. Needs operations.allow_force = true in the config;
    /// every forced failure is logged.
    #[arg(long, value_name = "RULE")]
    pub force: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OpOutput,
}

#[derive(Debug, Clone, Args)]
pub struct OpResumeArgs {
    #[command(flatten)]
    pub target: OpTarget,
    /// Continue an interrupted operation someone else started.
    #[arg(long)]
    pub take_over: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OpOutput,
}

#[derive(Debug, Clone, Args)]
pub struct OpCancelArgs {
    #[command(flatten)]
    pub target: OpTarget,
}

#[derive(Debug, Clone, Args)]
pub struct OpRbacArgs {
    /// The database's namespace the runner Jobs run in.
    #[arg(long, short = 'n', default_value = "default")]
    pub namespace: String,
}

#[derive(Debug, Clone, Args)]
pub struct OpStatusArgs {
    /// Only this orchestra.
    #[arg(long)]
    pub orchestra: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OpOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OpOutput {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config file and the chosen theme; exit 2 with the file, line and key on error.
    Check,
    /// Print the config file, themes, data and log paths.
    Paths,
}

#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Run the lab headless: prints `ready kubeconfig=PATH` once every API server answers,
    /// then serves until SIGINT or SIGTERM.
    Serve(LabServeArgs),
    /// Inject a fault into a running lab.
    Fault(LabFaultArgs),
    /// Print the lab's truth: API servers, pods, and per database the leader/quorum timeline.
    Report(LabReportArgs),
}

#[derive(Debug, Clone, Args)]
#[command(after_help = "Faults:
  kill-member      kill the member's process; it restarts       (--orchestra --namespace --pod)
  partition        cut the member off its peers                   (--orchestra --namespace --pod)
  heal             end the member's partition                     (--orchestra --namespace --pod)
  stall            pause the member like a GC                     (--orchestra --namespace --pod --seconds)
  replace-member   empty volume + pod deleted; it must catch up    (--orchestra --namespace --pod)
  crash-loop       every start of the member fails; --off ends it (--orchestra --namespace --pod)
  garbage-status   the member answers malformed JSON; --off ends  (--orchestra --namespace --pod)
  apiserver-down   take one orchestra's API server down           (--orchestra)
  apiserver-up     bring it back                                  (--orchestra)
  expire-watches   end every watch of an orchestra with 410       (--orchestra)")]
pub struct LabFaultArgs {
    /// The fault to inject (see below).
    pub fault: String,
    /// Orchestra (kubeconfig context) to act on.
    #[arg(long)]
    pub orchestra: Option<String>,
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// The member's pod.
    #[arg(long)]
    pub pod: Option<String>,
    /// Duration for `stall`.
    #[arg(long)]
    pub seconds: Option<f64>,
    /// End a lasting fault (crash-loop, garbage-status).
    #[arg(long)]
    pub off: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LabReportArgs {
    /// Print JSON (default: a short text summary).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LabServeArgs {
    /// `demo` (4 orchestras, 15 databases), `fleet` (200 orchestras, 10 000 databases) or a TOML file.
    #[arg(long, default_value = "demo", value_name = "demo|fleet|PATH")]
    pub profile: String,
    /// Where to write the kubeconfig (default: a file in a temporary directory).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Append one JSON line per API request (time, orchestra, identity, verb, path, status).
    #[arg(long, value_name = "PATH")]
    pub request_log: Option<PathBuf>,
    /// Seed for tokens and passwords, for reproducible labs.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    #[arg(long, value_enum, default_value = "table")]
    pub output: StatusOutput,
    /// Only this orchestra (kubeconfig context or inventory orchestra).
    #[arg(long)]
    pub orchestra: Option<String>,
    /// Only databases with this name.
    #[arg(long)]
    pub database: Option<String>,
    /// Seconds to wait for every orchestra to answer and every member to be probed once.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Give up waiting for a complete snapshot after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub limit: u64,
    /// Every orchestra's background interval for this run, in seconds (else the config's:
    /// `background_interval`, default 60).
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(5..=3600))]
    pub background_interval: Option<u64>,
    /// Seconds the fleet view runs before idle is measured: the first background cycle, in which
    /// every database moves onto its orchestra's beat (default: one background interval).
    #[arg(long)]
    pub settle: Option<u64>,
    /// Seconds of steady state to measure idle CPU and terminal output over (default: two
    /// background intervals; each beat carries its share of the full rounds, see
    /// `source::schedule`).
    #[arg(long)]
    pub idle: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusOutput {
    Table,
    Json,
}
