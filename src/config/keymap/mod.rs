//! The key bindings: one table ([`TABLE`]) says, for every [`Action`], what it does, its default
//! keys, the views it applies to and its word in hint lines. The same table drives dispatch in
//! `update`, the help overlay ([`HELP`]) and each view's hint line ([`Keymap::hints`]).
//!
//! The config's `[keys]` table replaces an action's keys (`quit = "ctrl-q"`,
//! `back = ["esc", "h"]`); [`Keymap::new`] refuses an unknown action and a key that two actions
//! would share in one view, and `config::Config::validate` reports that like any config error.
//!
//! Fixed, not in the table: Ctrl-C quits in every mode, even while typing; in the filter and
//! command lines Enter keeps or runs the line, Esc leaves it and other keys edit it; any key
//! closes the help overlay.

mod key;
mod show;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crossterm::event::KeyEvent;

pub use key::{KEY_SYNTAX, Key, KeyList};
pub use show::{HELP, HelpRow, Layout};

/// What a key does in the normal mode (not while typing a filter or a command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Help,
    Quit,
    Back,
    Down,
    Up,
    PageDown,
    PageUp,
    First,
    Last,
    Copy,
    Command,
    Open,
    AllDatabases,
    Filter,
    Sort,
    Reverse,
    Operations,
    CancelOperation,
    OperationsList,
    Follow,
    /// The profile: move between the members and the events pane.
    Pane,
    /// The database list: a campaign over its filter.
    Campaign,
    /// `:campaigns`: pause or resume the selected campaign.
    PauseCampaign,
    ResumeCampaign,
}

/// Where keys are looked up: the view that is open, in the normal mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Fleet,
    Databases,
    Profile,
    /// The `:ops` list.
    Operations,
    /// The `:campaigns` list and an open campaign.
    Campaigns,
}

impl Context {
    pub const ALL: [Context; 5] = [
        Self::Fleet,
        Self::Databases,
        Self::Profile,
        Self::Operations,
        Self::Campaigns,
    ];

    fn words(self) -> &'static str {
        match self {
            Self::Fleet => "the fleet view",
            Self::Databases => "the database list",
            Self::Profile => "a database's profile",
            Self::Operations => "the operations list",
            Self::Campaigns => "the campaigns list",
        }
    }
}

/// One row of the table.
#[derive(Debug)]
pub struct Spec {
    pub action: Action,
    /// Its name in the config's `[keys]` table.
    pub name: &'static str,
    /// Default keys, in the order help shows them (hint lines show the first).
    pub keys: &'static [&'static str],
    /// More default keys, not shown (habits from other tools); replaced with `keys` by the config.
    pub aliases: &'static [&'static str],
    /// Keys that stay bound whatever the config says, shown after the others.
    pub fixed: &'static [&'static str],
    /// What it does, in the help overlay.
    pub about: &'static str,
    /// Its word in hint lines.
    pub hint: &'static str,
    /// The views it applies to.
    pub contexts: &'static [Context],
}

const EVERYWHERE: &[Context] = &Context::ALL;

const fn spec(
    action: Action,
    name: &'static str,
    keys: &'static [&'static str],
    about: &'static str,
    hint: &'static str,
) -> Spec {
    Spec {
        action,
        name,
        keys,
        aliases: &[],
        fixed: &[],
        about,
        hint,
        contexts: EVERYWHERE,
    }
}

/// Every action, its default keys, description and views. Keys are written as in the config.
pub const TABLE: &[Spec] = &[
    spec(Action::Help, "help", &["?"], "this help", "help"),
    Spec {
        fixed: &["ctrl-c"],
        ..spec(Action::Quit, "quit", &["q"], "quit", "quit")
    },
    Spec {
        aliases: &["backspace"],
        ..spec(Action::Back, "back", &["esc", "h", "left"], "back", "back")
    },
    spec(Action::Down, "down", &["j", "down"], "move down", "down"),
    spec(Action::Up, "up", &["k", "up"], "move up", "up"),
    Spec {
        aliases: &["ctrl-f", "ctrl-d"],
        ..spec(
            Action::PageDown,
            "page_down",
            &["pagedown"],
            "page down",
            "page down",
        )
    },
    Spec {
        aliases: &["ctrl-b", "ctrl-u"],
        ..spec(Action::PageUp, "page_up", &["pageup"], "page up", "page up")
    },
    spec(Action::First, "first", &["g", "home"], "first", "first"),
    spec(Action::Last, "last", &["G", "end"], "last", "last"),
    spec(Action::Copy, "copy", &["y"], "copy id (OSC52)", "copy id"),
    spec(
        Action::Command,
        "command",
        &[":"],
        "command line",
        "command",
    ),
    Spec {
        contexts: &[
            Context::Fleet,
            Context::Databases,
            Context::Profile,
            Context::Operations,
            Context::Campaigns,
        ],
        ..spec(
            Action::Open,
            "open",
            &["enter", "l", "right"],
            "open / detail",
            "open",
        )
    },
    spec(
        Action::AllDatabases,
        "all_databases",
        &["d", "tab"],
        "all databases",
        "all databases",
    ),
    spec(
        Action::Filter,
        "filter",
        &["/"],
        "filter the list",
        "filter",
    ),
    Spec {
        contexts: &[Context::Databases],
        ..spec(Action::Sort, "sort", &["s"], "sort", "sort")
    },
    Spec {
        contexts: &[Context::Databases],
        ..spec(Action::Reverse, "reverse", &["S"], "reverse", "reverse")
    },
    Spec {
        contexts: &[Context::Databases, Context::Profile, Context::Operations],
        ..spec(
            Action::Operations,
            "operations",
            &["o"],
            "operations menu",
            "operations",
        )
    },
    Spec {
        contexts: &[Context::Profile, Context::Campaigns],
        ..spec(
            Action::CancelOperation,
            "cancel_operation",
            &["x"],
            "cancel op / campaign",
            "cancel",
        )
    },
    spec(
        Action::OperationsList,
        "operations_list",
        &["O"],
        "ops in flight",
        "ops",
    ),
    Spec {
        contexts: &[Context::Profile, Context::Operations],
        ..spec(Action::Follow, "follow", &["f"], "follow an op", "follow")
    },
    Spec {
        contexts: &[Context::Profile],
        ..spec(Action::Pane, "pane", &["e"], "focus events pane", "events")
    },
    Spec {
        contexts: &[Context::Databases],
        ..spec(
            Action::Campaign,
            "campaign",
            &["C"],
            "campaign over the filter",
            "campaign",
        )
    },
    Spec {
        contexts: &[Context::Campaigns],
        ..spec(
            Action::PauseCampaign,
            "pause_campaign",
            &["p"],
            "pause a campaign",
            "pause",
        )
    },
    Spec {
        contexts: &[Context::Campaigns],
        ..spec(
            Action::ResumeCampaign,
            "resume_campaign",
            &["r"],
            "resume a campaign",
            "resume",
        )
    },
];

impl Action {
    /// Its row of [`TABLE`].
    pub fn spec(self) -> &'static Spec {
        // The table lists the actions in declaration order (a unit test checks it).
        &TABLE[self as usize]
    }

    /// The action a `[keys]` entry names.
    pub fn from_name(name: &str) -> Option<Self> {
        TABLE.iter().find(|s| s.name == name).map(|s| s.action)
    }
}

// ---------------------------------------------------------------------------------------------
// The keymap in force.

/// A `[keys]` entry that cannot be used: which action, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeymapError {
    /// The name as written under `[keys]`.
    pub action: String,
    pub message: String,
    pub fix: String,
}

impl fmt::Display for KeymapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keys.{}: {}", self.action, self.message)
    }
}

impl std::error::Error for KeymapError {}

/// The bindings in force: the table's defaults with the config's `[keys]` over them.
#[derive(Debug, Clone)]
pub struct Keymap {
    /// Per action (table order): the keys shown in help and hints, fixed ones last.
    shown: Vec<Vec<Key>>,
    lookup: HashMap<(Context, Key), Action>,
    /// Keys that quit in every mode.
    interrupt: Vec<Key>,
}

impl Default for Keymap {
    fn default() -> Self {
        match Self::new(&BTreeMap::new()) {
            Ok(k) => k,
            // The defaults are checked by a unit test; an empty map is the best fallback.
            Err(_) => Self {
                shown: vec![Vec::new(); TABLE.len()],
                lookup: HashMap::new(),
                interrupt: Vec::new(),
            },
        }
    }
}

fn parse_all(keys: &[&str]) -> Vec<Key> {
    keys.iter().filter_map(|k| k.parse().ok()).collect()
}

impl Keymap {
    /// The defaults with `overrides` (the config's `[keys]`: action name → keys) over them.
    pub fn new(overrides: &BTreeMap<String, KeyList>) -> Result<Self, KeymapError> {
        if let Some(name) = overrides.keys().find(|n| Action::from_name(n).is_none()) {
            let names: Vec<&str> = TABLE.iter().map(|s| s.name).collect();
            return Err(KeymapError {
                action: name.clone(),
                message: format!("there is no action '{}'", crate::clip(name, 40)),
                fix: format!("use one of: {}", names.join(", ")),
            });
        }
        // Per action: the keys that trigger it, and whether they came from the config.
        let bound: Vec<(Vec<Key>, bool)> = TABLE
            .iter()
            .map(|s| match overrides.get(s.name) {
                Some(list) => {
                    let mut keys = list.0.clone();
                    keys.extend(parse_all(s.fixed));
                    (keys, true)
                }
                None => {
                    let mut keys = parse_all(s.keys);
                    keys.extend(parse_all(s.aliases));
                    keys.extend(parse_all(s.fixed));
                    (keys, false)
                }
            })
            .collect();
        let mut lookup: HashMap<(Context, Key), Action> = HashMap::new();
        // Overridden actions last, so a clash is reported on an entry the user wrote.
        let order = (0..TABLE.len())
            .filter(|i| !bound[*i].1)
            .chain((0..TABLE.len()).filter(|i| bound[*i].1));
        for i in order {
            let spec = &TABLE[i];
            for key in &bound[i].0 {
                for ctx in spec.contexts {
                    match lookup.get(&(*ctx, *key)) {
                        Some(other) if *other != spec.action => {
                            return Err(clash(spec, other.spec(), *key, *ctx, overrides));
                        }
                        _ => {
                            lookup.insert((*ctx, *key), spec.action);
                        }
                    }
                }
            }
        }
        let shown = TABLE
            .iter()
            .map(|s| {
                let given = match overrides.get(s.name) {
                    Some(list) => list.0.clone(),
                    None => parse_all(s.keys),
                };
                let mut keys: Vec<Key> = Vec::new();
                for k in given.into_iter().chain(parse_all(s.fixed)) {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                keys
            })
            .collect();
        let interrupt = TABLE
            .iter()
            .filter(|s| s.action == Action::Quit)
            .flat_map(|s| parse_all(s.fixed))
            .collect();
        Ok(Self {
            shown,
            lookup,
            interrupt,
        })
    }

    /// What `ev` does in `ctx` (the normal mode).
    pub fn action(&self, ctx: Context, ev: &KeyEvent) -> Option<Action> {
        self.lookup.get(&(ctx, Key::from_event(ev))).copied()
    }

    /// Whether `ev` quits whatever the mode (Ctrl-C).
    pub fn interrupts(&self, ev: &KeyEvent) -> bool {
        self.interrupt.contains(&Key::from_event(ev))
    }

    /// The keys of `action` shown in help and hints.
    pub fn keys(&self, action: Action) -> &[Key] {
        self.shown.get(action as usize).map_or(&[], Vec::as_slice)
    }

    /// The label of the first key of `action` (what hints show), `-` if it has none.
    pub fn label(&self, action: Action) -> String {
        self.keys(action)
            .first()
            .map_or_else(|| "-".into(), Key::label)
    }
}

/// The error for `key` bound to both `spec` and `other` in `ctx`.
fn clash(
    spec: &Spec,
    other: &Spec,
    key: Key,
    ctx: Context,
    overrides: &BTreeMap<String, KeyList>,
) -> KeymapError {
    let fixed = parse_all(other.fixed).contains(&key);
    let message = format!("'{key}' is also bound to {} in {}", other.name, ctx.words());
    let fix = if fixed {
        format!(
            "'{key}' always does {}; give {} another key",
            other.name, spec.name
        )
    } else if overrides.contains_key(other.name) {
        format!("give {} and {} different keys", spec.name, other.name)
    } else {
        format!(
            "give {} another key, or move {} too (e.g. {} = \"…\")",
            spec.name, other.name, other.name
        )
    };
    KeymapError {
        action: spec.name.to_string(),
        message,
        fix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};
    use serde::Deserialize;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    fn keys(toml: &str) -> BTreeMap<String, KeyList> {
        #[derive(Deserialize)]
        struct File {
            keys: BTreeMap<String, KeyList>,
        }
        toml::from_str::<File>(toml).unwrap().keys
    }

    #[test]
    fn the_table_is_in_action_order_and_every_default_parses() {
        for (i, s) in TABLE.iter().enumerate() {
            assert_eq!(s.action as usize, i, "{:?}", s.action);
            for k in s.keys.iter().chain(s.aliases).chain(s.fixed) {
                assert!(k.parse::<Key>().is_ok(), "{k}");
            }
        }
        Keymap::new(&BTreeMap::new()).unwrap();
    }

    #[test]
    fn every_action_is_on_exactly_one_help_line() {
        for s in TABLE {
            let n = HELP
                .iter()
                .flat_map(|(_, rows)| rows.iter())
                .filter(|r| r.actions.contains(&s.action))
                .count();
            assert_eq!(n, 1, "{}", s.name);
        }
    }

    #[test]
    fn defaults_dispatch_by_view() {
        let k = Keymap::default();
        let none = KeyModifiers::NONE;
        let s = ev(KeyCode::Char('s'), none);
        assert_eq!(k.action(Context::Databases, &s), Some(Action::Sort));
        assert_eq!(k.action(Context::Fleet, &s), None);
        assert_eq!(
            k.action(
                Context::Fleet,
                &ev(KeyCode::Char('d'), KeyModifiers::CONTROL)
            ),
            Some(Action::PageDown)
        );
        assert_eq!(
            k.action(Context::Profile, &ev(KeyCode::Backspace, none)),
            Some(Action::Back)
        );
        assert_eq!(
            k.action(Context::Profile, &ev(KeyCode::Enter, none)),
            Some(Action::Open)
        );
        assert!(k.interrupts(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert!(!k.interrupts(&ev(KeyCode::Char('c'), none)));
        assert_eq!(
            k.hints(Context::Profile),
            " j/k member · ↵ detail · e events · o ops · y copy id · Esc back · ? help "
        );
        assert_eq!(
            k.hints_except(Context::Profile, &[Action::Operations]),
            " j/k member · ↵ detail · e events · y copy id · Esc back · ? help "
        );
        let o = ev(KeyCode::Char('o'), none);
        assert_eq!(k.action(Context::Profile, &o), Some(Action::Operations));
        assert_eq!(k.action(Context::Fleet, &o), None);
        let x = ev(KeyCode::Char('x'), none);
        assert_eq!(
            k.action(Context::Profile, &x),
            Some(Action::CancelOperation)
        );
        assert_eq!(
            k.action(Context::Fleet, &ev(KeyCode::Char('O'), KeyModifiers::SHIFT)),
            Some(Action::OperationsList)
        );
    }

    #[test]
    fn overrides_replace_keys_and_show_in_help_and_hints() {
        let k = Keymap::new(&keys("[keys]\nquit = \"ctrl-q\"\nfilter = \"F\"\n")).unwrap();
        let q = ev(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(k.action(Context::Fleet, &q), None);
        let cq = ev(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(k.action(Context::Fleet, &cq), Some(Action::Quit));
        // Ctrl-C stays.
        assert!(k.interrupts(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)));
        assert_eq!(k.help_keys(&HELP[0].1[1]), "Ctrl-Q  Ctrl-C");
        assert!(k.hints(Context::Fleet).contains("F filter"));
        assert!(k.hints(Context::Fleet).ends_with("Ctrl-Q quit "));
    }

    #[test]
    fn unknown_actions_and_clashes_are_refused() {
        let e = Keymap::new(&keys("[keys]\nfrobnicate = \"x\"\n")).unwrap_err();
        assert_eq!(e.action, "frobnicate");
        assert!(e.fix.contains("quit, back"), "{e:?}");
        let e = Keymap::new(&keys("[keys]\nfilter = \"d\"\n")).unwrap_err();
        assert_eq!(e.action, "filter");
        assert!(e.message.contains("all_databases"), "{e:?}");
        assert!(e.fix.contains("all_databases = "), "{e:?}");
        let e = Keymap::new(&keys("[keys]\nhelp = \"ctrl-c\"\n")).unwrap_err();
        assert!(e.fix.contains("always does quit"), "{e:?}");
        // Open and sort share the database list, so they cannot share a key.
        let e = Keymap::new(&keys("[keys]\nopen = \"s\"\n")).unwrap_err();
        assert!(e.message.contains("in the database list"), "{e:?}");
        // Moving the clashing default along is fine.
        Keymap::new(&keys("[keys]\nfilter = \"d\"\nall_databases = \"a\"\n")).unwrap();
    }
}
