//! Campaigns in the dashboard, the pure part (no I/O: starting, resuming and the controls are
//! [`Cmd::Campaign`]s whose tasks answer with [`Msg::Campaign`]): the form that launches one over
//! the database list's filter, its plan computed over the fleet on screen and shown for the typed
//! confirmation (the campaign's name and its number of databases), the questions of the
//! `:campaigns` keys (pause: y/n; resume and cancel: the name typed), and what this dashboard
//! coordinates (each coordinator's last lines, and how it ended).
//!
//! [`Cmd::Campaign`]: crate::tui::msg::Cmd::Campaign
//! [`Msg::Campaign`]: crate::tui::msg::Msg::Campaign

use std::collections::{BTreeSet, VecDeque};

use tui_input::Input;

use crate::cli::OpOutput;
use crate::cli::campaign::{CampaignPlanArgs, OnRefusalArg};
use crate::config::OperationName;
use crate::fleet::{DbKey, Fleet};
use crate::ops::campaign::headless::{missing, plan_text, spec_of, watched_profiles};
use crate::ops::campaign::{plan, spec};

/// The lines kept of a coordinator that runs here.
pub const LINES_KEPT: usize = 200;

/// One field of the campaign form.
#[derive(Debug, Clone)]
pub struct CampaignField {
    /// As on the command line (`max-parallel`).
    pub key: &'static str,
    pub help: String,
    pub input: Input,
}

/// The campaign form, over the database list's filter.
#[derive(Debug, Clone)]
pub struct CampaignForm {
    /// The selection: the list's filter, with its orchestra when the list is one orchestra's.
    pub select: String,
    /// The orchestra the list shows (None: the fleet).
    pub scope: Option<String>,
    pub fields: Vec<CampaignField>,
    pub focus: usize,
    pub error: Option<String>,
}

/// A planned campaign, shown for its typed confirmation.
#[derive(Debug, Clone)]
pub struct CampaignPlan {
    pub args: CampaignPlanArgs,
    pub name: String,
    pub operation: OperationName,
    /// The plan as `baton campaign plan` prints it.
    pub lines: Vec<String>,
    /// Every database of its waves (the start checks the plan is still this one).
    pub databases: BTreeSet<DbKey>,
    /// Why it cannot start (a fleet not seen whole, nothing to run, read-only).
    pub blocked: Option<String>,
    pub typed: Input,
    /// Lines scrolled past.
    pub scroll: usize,
    /// The form it came from (Esc goes back to it).
    pub form: CampaignForm,
}

impl CampaignPlan {
    /// What must be typed: the name and the number of databases (`to-5-26 5`).
    pub fn expected(&self) -> String {
        format!("{} {}", self.name, self.databases.len())
    }

    pub fn typed_matches(&self) -> bool {
        self.typed.value().trim() == self.expected()
    }
}

/// The questions of the `:campaigns` keys.
#[derive(Debug, Clone)]
pub enum CampaignAsk {
    /// y/n: nothing new starts; what runs finishes.
    Pause { name: String },
    /// The name typed: un-pause a live coordinator, or take a stopped one over and coordinate
    /// here.
    Resume { name: String, typed: Input },
    /// The name typed: for good.
    Cancel { name: String, typed: Input },
}

impl CampaignAsk {
    pub fn name(&self) -> &str {
        match self {
            Self::Pause { name } | Self::Resume { name, .. } | Self::Cancel { name, .. } => name,
        }
    }
}

/// A coordinator that runs in this dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Here {
    /// Its last lines, oldest first.
    pub lines: VecDeque<String>,
    /// How it ended (None: it still runs).
    pub ended: Option<String>,
}

impl Here {
    pub fn push(&mut self, line: String) {
        if self.lines.len() == LINES_KEPT {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }
}

fn defaults() -> CampaignPlanArgs {
    crate::cli::campaign::plan_defaults()
}

/// The form for the list's filter `filter` (on `scope`, one orchestra, or the fleet), its
/// fields at the command line's defaults.
pub fn form(filter: &str, scope: Option<&str>) -> CampaignForm {
    let d = defaults();
    let ops: Vec<&str> = OperationName::ALL
        .into_iter()
        .filter(|o| spec::campaignable(*o) && crate::fleet::catalog::spec(*o).available)
        .map(OperationName::as_str)
        .collect();
    let field = |key: &'static str, value: &str, help: &str| CampaignField {
        key,
        help: help.to_string(),
        input: Input::new(value.to_string()),
    };
    let select = match scope {
        Some(o) if filter.trim().is_empty() => format!("orchestra:{o}"),
        Some(o) => format!("orchestra:{o} {}", filter.trim()),
        None => filter.trim().to_string(),
    };
    CampaignForm {
        select,
        scope: scope.map(str::to_string),
        fields: vec![
            field("operation", "", &format!("one of {}", ops.join(", "))),
            field(
                "set",
                "",
                "its parameters, the same for every database: version=5.26.0 (space between)",
            ),
            field(
                "name",
                "",
                "names its Lease and records; empty: <operation>-<yyyymmdd-hhmm>",
            ),
            field(
                "canary",
                &d.canary,
                "how many go first, or a filter of which (orchestra:dev)",
            ),
            field(
                "soak",
                &d.soak,
                "the canary is watched this long: 90s, 10m, 1h",
            ),
            field(
                "waves",
                &d.waves,
                "done by the end of each wave: a count or a share; the last takes the rest",
            ),
            field(
                "max-parallel",
                &d.max_parallel.to_string(),
                "operations at once, fleet-wide",
            ),
            field(
                "max-per-orchestra",
                &d.max_per_orchestra.to_string(),
                "operations at once on one orchestra",
            ),
            field(
                "on-refusal",
                "skip",
                "a database its preflight refuses: skip (recorded) or halt",
            ),
        ],
        focus: 0,
        error: None,
    }
}

fn value<'a>(f: &'a CampaignForm, key: &str) -> &'a str {
    f.fields
        .iter()
        .find(|x| x.key == key)
        .map_or("", |x| x.input.value().trim())
}

fn field_index(f: &CampaignForm, key: &str) -> usize {
    f.fields.iter().position(|x| x.key == key).unwrap_or(0)
}

/// The command line's arguments of a filled form, or (field, what is wrong).
pub fn args_of(f: &CampaignForm, now_ms: u64) -> Result<CampaignPlanArgs, (usize, String)> {
    let mut a = defaults();
    let op = value(f, "operation");
    if op.is_empty() {
        return Err((
            field_index(f, "operation"),
            "operation is needed".to_string(),
        ));
    }
    a.operation = op.to_string();
    a.select = f.select.clone();
    a.set = value(f, "set")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let name = value(f, "name");
    a.name = Some(if name.is_empty() {
        let t = chrono::DateTime::from_timestamp_millis(i64::try_from(now_ms).unwrap_or(0))
            .map(|t| t.format("%Y%m%d-%H%M").to_string())
            .unwrap_or_default();
        format!("{op}-{t}")
    } else {
        name.to_string()
    });
    a.canary = value(f, "canary").to_string();
    a.soak = value(f, "soak").to_string();
    a.waves = value(f, "waves").to_string();
    for (key, slot) in [
        ("max-parallel", &mut a.max_parallel),
        ("max-per-orchestra", &mut a.max_per_orchestra),
    ] {
        *slot = match value(f, key).parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err((
                    field_index(f, key),
                    format!("{key} is a whole number, at least 1"),
                ));
            }
        };
    }
    a.on_refusal = match value(f, "on-refusal") {
        "skip" | "" => OnRefusalArg::Skip,
        "halt" => OnRefusalArg::Halt,
        other => {
            return Err((
                field_index(f, "on-refusal"),
                format!("on-refusal '{other}': skip or halt"),
            ));
        }
    };
    a.output = OpOutput::Text;
    Ok(a)
}

/// The form's campaign planned over the fleet on screen (the same checks and plan as `baton
/// campaign plan`), or (field, what is wrong). `read_only`: nothing can start (said in the plan).
pub fn plan_of(
    form: &CampaignForm,
    fleet: &Fleet,
    config: &crate::config::Config,
    read_only: bool,
    now_ms: u64,
) -> Result<CampaignPlan, (usize, String)> {
    let a = args_of(form, now_ms)?;
    let spec = match spec_of(&a, now_ms) {
        Ok(s) => s,
        Err(e) => return Err((0, e)),
    };
    let selection = match spec.check() {
        Ok(s) => s,
        Err(e) => {
            let i = field_index(form, if e.contains("name") { "name" } else { "set" });
            return Err((i, e));
        }
    };
    if let Some(o) = form.scope.clone() {
        let also: Vec<&str> = fleet
            .orchestras
            .keys()
            .filter(|x| **x != o && x.contains(o.as_str()))
            .map(String::as_str)
            .collect();
        if !also.is_empty() {
            return Err((
                0,
                format!(
                    "orchestra:{o} would also select {}: launch it from the fleet-wide list with a filter that names only what you mean",
                    also.join(", ")
                ),
            ));
        }
    }
    let p = match plan::plan(&spec, &selection, fleet, config, now_ms) {
        Ok(p) => p,
        Err(e) => return Err((0, e)),
    };
    // Orchestras whose databases are all static inventory have no Leases to list.
    let kube = |o: &str| {
        !fleet
            .databases
            .values()
            .filter(|d| d.key.orchestra == o)
            .all(|d| d.is_static())
    };
    let missing = missing(fleet, kube, &watched_profiles(config));
    let databases: BTreeSet<DbKey> = p
        .waves
        .iter()
        .flat_map(|w| w.databases.iter().cloned())
        .collect();
    let blocked = if read_only {
        Some("read-only: no campaign can start from this dashboard".to_string())
    } else if !missing.is_empty() {
        Some(format!(
            "orchestra(s) {} are not all known: a campaign starts over a fleet it sees whole",
            missing
                .iter()
                .map(|(o, _)| o.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    } else if databases.is_empty() {
        Some("nothing to run: no database is left once the exclusions are out".to_string())
    } else {
        None
    };
    let text = plan_text(&spec, &p, &missing, None, "nothing was sent yet");
    Ok(CampaignPlan {
        name: spec.name.clone(),
        operation: spec.operation,
        lines: text.lines().map(str::to_string).collect(),
        databases,
        blocked,
        typed: Input::default(),
        scroll: 0,
        args: a,
        form: form.clone(),
    })
}
