//! Operations in the dashboard, the pure part (no I/O: preflights and runs are [`Cmd`]s whose
//! tasks answer with [`Msg::Op`]): the menu of a database's operations, the parameter form, the
//! preflight shown in the confirmation (y/n for member-level ones, the database id typed for
//! database-wide or destructive ones and for taking over a stale lock), the runs this dashboard
//! started and their progress, the cancel and quit questions, and the offer to resume an
//! interrupted operation. Dangerous actions go through a pair, as in gitui: a dialog asks
//! (`Preflight`, `Ask`), its answer sends the command.
//!
//! - `campaign` — a campaign launched over the list's filter (form, plan, typed confirmation),
//!   the `:campaigns` keys' questions, and the coordinators that run here.
//! - `lease` — what the Leases say of everyone's operations (OP column, `:ops`, resume offers).
//! - `progress` — one run's progress folded from the runner's events; the pane's rows.
//!
//! The keys in the dialogs and the transitions between them are `update::flow`; the pane of
//! someone else's operation, folded from its Lease, is `update::follow`.
//!
//! [`Cmd`]: super::Cmd
//! [`Msg::Op`]: super::Msg::Op

pub mod campaign;
pub mod lease;
pub mod progress;

use std::collections::{BTreeMap, BTreeSet};

use tui_input::Input;

use crate::config::{OperationName, RunPlace};
use crate::fleet::catalog::{self, BlastRadius, Spec};
use crate::fleet::{Database, DbKey};
use crate::ops::runner::{Prepared, Request};
use crate::ops::safety::Check;
use crate::tui::msg::OpStart;

pub use progress::{Run, StepLine, StepState, step_lines};

/// Operations' part of the model.
#[derive(Debug, Clone, Default)]
pub struct Ops {
    /// The dialog on top of the screen, if any (it takes every key).
    pub dialog: Option<Dialog>,
    /// The last operation this dashboard started on each database (running or ended).
    pub runs: BTreeMap<DbKey, Run>,
    /// Ids of preflights and runs (answers name theirs).
    pub next_id: u64,
    /// The selected row of the `:ops` list.
    pub list_sel: usize,
    /// Interrupted operations already offered for resume: (database, its start).
    pub offered: BTreeSet<(DbKey, u64)>,
    /// Operations of others followed from their Leases (the follow key), per database.
    pub follows: BTreeMap<DbKey, Run>,
}

impl Ops {
    /// Runs of this dashboard still going.
    pub fn running(&self) -> usize {
        self.runs.values().filter(|r| r.running()).count()
    }

    /// The run whose pane a profile shows: this dashboard's while it runs, else the one
    /// followed from the Lease, else this dashboard's last.
    pub fn run_of(&self, key: &DbKey) -> Option<&Run> {
        match self.runs.get(key) {
            Some(r) if r.running() => Some(r),
            own => self.follows.get(key).or(own),
        }
    }

    pub(crate) fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The dialogs, one at a time.
#[derive(Debug, Clone)]
pub enum Dialog {
    Menu(Menu),
    Form(Form),
    /// The preflight runs (nothing is sent but reads).
    Preparing {
        id: u64,
        key: DbKey,
        title: String,
        /// What is being prepared (kept to prepare it again forced).
        start: OpStart,
    },
    Preflight(Box<Preflight>),
    Ask(Ask),
    Resume(ResumeOffer),
    /// A campaign over the list's filter: its form, then its plan for the typed confirmation.
    CampaignForm(campaign::CampaignForm),
    CampaignPlan(Box<campaign::CampaignPlan>),
    /// A `:campaigns` key's question (pause, resume, cancel).
    CampaignAsk(campaign::CampaignAsk),
}

/// A database's operations menu.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    pub key: DbKey,
    /// The member selected in the profile: member-level operations act on it.
    pub member: Option<String>,
    pub items: Vec<MenuItem>,
    pub sel: usize,
    /// What the Lease says is in flight (anyone's), for the menu's head.
    pub in_flight: Option<String>,
}

/// What a menu row starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Continue the interrupted operation on the Lease.
    Resume,
    Op(OperationName),
}

/// One row of the menu; `why_not` greys it with the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct MenuItem {
    pub choice: Choice,
    pub why_not: Option<String>,
    /// For `Resume`: what was interrupted (`rolling-restart step 2 (running): …`).
    pub about: String,
}

impl MenuItem {
    pub fn spec(&self) -> Option<&'static Spec> {
        match self.choice {
            Choice::Op(op) => Some(catalog::spec(op)),
            Choice::Resume => None,
        }
    }
}

/// The parameter form of one operation.
#[derive(Debug, Clone)]
pub struct Form {
    pub key: DbKey,
    pub op: OperationName,
    /// The member chosen in the profile (member-level operations), not asked again.
    pub member: Option<String>,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
    /// The menu it came from (Esc goes back to it).
    pub back: Option<Box<Menu>>,
}

/// One parameter being typed.
#[derive(Debug, Clone)]
pub struct Field {
    pub key: &'static str,
    pub help: &'static str,
    pub required: bool,
    pub input: Input,
}

/// The preflight's answer, shown for confirmation.
#[derive(Debug, Clone)]
pub struct Preflight {
    pub id: u64,
    pub key: DbKey,
    /// What runs: an operation, or `resume` before the Lease named it.
    pub title: String,
    pub operation: Option<OperationName>,
    pub resumed: bool,
    pub checks: Vec<Check>,
    pub plan: Vec<String>,
    pub taking_over: Option<String>,
    /// Ready to run (None when it cannot).
    pub prepared: Option<Box<Prepared>>,
    /// Why it cannot go ahead: refused (a rule, the lock, the role), nothing to do, bad input.
    pub blocked: Option<String>,
    /// The database id as typed so far.
    pub typed: Input,
    /// What was prepared (a new operation can be prepared again, forced).
    pub start: OpStart,
    /// The failing rules `F` would force past: every ✗ may be forced and the config allows it.
    pub forceable: Vec<String>,
    /// Where it will run: here, or in the orchestra as a runner Job (Tab switches, when a
    /// runner image is configured for the orchestra: `runner_image`).
    pub place: RunPlace,
    pub runner_image: Option<String>,
}

impl Preflight {
    /// The database id must be typed: database-wide or destructive, or taking over a lock.
    pub fn typed_confirmation(&self) -> bool {
        self.taking_over.is_some()
            || self
                .prepared
                .as_ref()
                .is_some_and(|p| !p.record.forced.is_empty())
            || self
                .operation
                .is_none_or(|op| catalog::spec(op).typed_confirmation)
    }

    /// No ✗ and nothing blocking: confirming is possible.
    pub fn can_confirm(&self) -> bool {
        self.prepared.is_some() && self.blocked.is_none() && self.checks.iter().all(|c| c.ok)
    }

    /// The typed text is exactly the database id.
    pub fn id_matches(&self) -> bool {
        self.typed.value() == self.key.id()
    }

    pub fn radius(&self) -> Option<BlastRadius> {
        self.operation.map(|op| catalog::spec(op).radius)
    }
}

/// A yes/no question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    /// Cancel the run `id` on `key`?
    Cancel {
        id: u64,
        key: DbKey,
        operation: OperationName,
    },
    /// Cancel the operation of `holder` on `key`, followed from its Lease (a runner Job's, another
    /// baton's)? Yes writes a cancel request on the Lease; `c` only stops following.
    CancelFollowed {
        key: DbKey,
        operation: OperationName,
        holder: String,
    },
    /// Quit while operations run, or campaigns are coordinated here?
    Quit {
        running: Vec<String>,
        campaigns: Vec<String>,
    },
    /// Post this incident (the database's summary, `None` while it is read) to the webhook?
    Incident {
        id: u64,
        key: DbKey,
        text: Option<String>,
    },
}

/// An interrupted operation found on the Lease of the database just opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeOffer {
    pub key: DbKey,
    pub operation: OperationName,
    pub holder: String,
    pub summary: String,
    pub renewed_s: u64,
    pub step: u32,
}

/// The profile kind of a database (`neo4j`, `etcd`, `dynomite`) the catalog's entries name.
pub fn kind_of(config: &crate::config::Config, d: &Database) -> &'static str {
    config.profile_kind(&d.profile)
}

/// Member-level operations act on one member.
pub fn member_level(op: OperationName) -> bool {
    matches!(
        op,
        OperationName::RestartMember | OperationName::Diagnostics
    )
}

/// The fields the form asks for `op` (none: it goes straight to the preflight). The member is
/// asked when a member-level operation has none chosen, and optionally for a backup; the
/// expected leader and the artifact target keep their defaults here.
pub fn fields_for(op: OperationName, member: Option<&str>) -> Vec<Field> {
    catalog::spec(op)
        .params
        .iter()
        .filter(|p| !matches!(p.key, "expect-leader" | "target"))
        .filter(|p| p.key != "member" || member.is_none() || !member_level(op))
        .map(|p| Field {
            key: p.key,
            help: p.help,
            required: p.required,
            input: Input::default(),
        })
        .collect()
}

/// The request of a filled form, or (field, what is wrong). Checked here so that nothing runs
/// with a value the runner would refuse.
pub fn validate(form: &Form, d: &Database) -> Result<Request, (usize, String)> {
    let mut req = Request {
        member: form.member.clone(),
        ..Request::default()
    };
    for (i, f) in form.fields.iter().enumerate() {
        let v = f.input.value().trim();
        if v.is_empty() {
            if f.required {
                return Err((i, format!("{} is needed: {}", f.key, f.help)));
            }
            continue;
        }
        if f.key == "member" {
            if !d.members.iter().any(|m| m.pod.name == v) {
                let names: Vec<&str> = d.members.iter().map(|m| m.pod.name.as_str()).collect();
                return Err((
                    i,
                    format!("no member '{v}'; its members: {}", names.join(", ")),
                ));
            }
            req.member = Some(v.to_string());
            continue;
        }
        catalog::check_value(f.key, v).map_err(|e| (i, e))?;
        req.params.insert(f.key.to_string(), v.to_string());
    }
    Ok(req)
}
