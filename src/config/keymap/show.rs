//! What the help overlay and the hint lines show of the keymap: the help's key sections
//! ([`HELP`], every action on one line) and each view's hint line, both built from the keys in
//! force so an override shows wherever its action is mentioned.

use super::Key;
use super::{Action, Context, Keymap};

/// How a help line shows the keys of its actions.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// Every key, two spaces apart: `Esc  h  ←`, `s  S`.
    List,
    /// The actions' keys side by side, each pair one space apart and pairs `sep` apart:
    /// `j k  ↓ ↑`, `g G Home End`.
    Pairs { sep: &'static str },
}

/// One line of the help overlay.
#[derive(Debug)]
pub struct HelpRow {
    pub actions: &'static [Action],
    pub layout: Layout,
    /// What the line says; `None`: the actions' own descriptions, ` / ` apart.
    pub about: Option<&'static str>,
}

const fn row(actions: &'static [Action]) -> HelpRow {
    HelpRow {
        actions,
        layout: Layout::List,
        about: None,
    }
}

const fn pairs(
    actions: &'static [Action],
    sep: &'static str,
    about: Option<&'static str>,
) -> HelpRow {
    HelpRow {
        actions,
        layout: Layout::Pairs { sep },
        about,
    }
}

/// The help overlay's key sections: every action on exactly one line.
pub const HELP: &[(&str, &[HelpRow])] = &[
    (
        "Everywhere",
        &[
            row(&[Action::Help]),
            row(&[Action::Quit]),
            row(&[Action::Back]),
            pairs(&[Action::Down, Action::Up], "  ", Some("move")),
            pairs(&[Action::PageDown, Action::PageUp], " ", Some("page")),
            pairs(&[Action::First, Action::Last], " ", None),
            row(&[Action::Copy]),
            row(&[Action::Command]),
        ],
    ),
    (
        "Fleet and lists",
        &[
            row(&[Action::Open]),
            row(&[Action::AllDatabases]),
            row(&[Action::Filter]),
            row(&[Action::Sort, Action::Reverse]),
            row(&[Action::Pane]),
        ],
    ),
    (
        "Operations",
        &[
            row(&[Action::Operations]),
            row(&[Action::CancelOperation]),
            row(&[Action::OperationsList]),
            row(&[Action::Follow]),
            HelpRow {
                actions: &[
                    Action::Campaign,
                    Action::PauseCampaign,
                    Action::ResumeCampaign,
                ],
                layout: Layout::List,
                about: Some("campaign/pause/resume"),
            },
        ],
    ),
];

/// One item of a hint line.
#[derive(Debug, Clone, Copy)]
enum Hint {
    /// The action's first key and its hint word.
    Act(Action),
    /// The action's first key and another word, for this view.
    Named(Action, &'static str),
    /// Two actions' first keys, `/` apart, and a word: `j/k member`.
    Pair(Action, Action, &'static str),
}

/// What each view's hint line offers, in order.
fn hint_items(ctx: Context) -> &'static [Hint] {
    use Action::*;
    match ctx {
        Context::Fleet => &[
            Hint::Named(Open, "databases"),
            Hint::Act(AllDatabases),
            Hint::Act(Filter),
            Hint::Act(Command),
            Hint::Act(Help),
            Hint::Act(Quit),
        ],
        Context::Databases => &[
            Hint::Act(Open),
            Hint::Act(Filter),
            Hint::Act(Sort),
            Hint::Act(Campaign),
            Hint::Act(Copy),
            Hint::Act(Back),
            Hint::Act(Help),
        ],
        Context::Profile => &[
            Hint::Pair(Down, Up, "member"),
            Hint::Named(Open, "detail"),
            Hint::Act(Pane),
            Hint::Named(Operations, "ops"),
            Hint::Act(Copy),
            Hint::Act(Back),
            Hint::Act(Help),
        ],
        Context::Campaigns => &[
            Hint::Named(Open, "open"),
            Hint::Act(PauseCampaign),
            Hint::Act(ResumeCampaign),
            Hint::Act(CancelOperation),
            Hint::Act(Copy),
            Hint::Act(Back),
            Hint::Act(Help),
        ],
        Context::Operations => &[
            Hint::Named(Open, "database"),
            Hint::Act(Operations),
            Hint::Act(Copy),
            Hint::Act(Back),
            Hint::Act(Help),
        ],
    }
}

impl Keymap {
    /// The key column of a help line.
    pub fn help_keys(&self, row: &HelpRow) -> String {
        match row.layout {
            Layout::List => row
                .actions
                .iter()
                .flat_map(|a| self.keys(*a).iter().map(Key::label))
                .collect::<Vec<_>>()
                .join("  "),
            Layout::Pairs { sep } => {
                let longest = row
                    .actions
                    .iter()
                    .map(|a| self.keys(*a).len())
                    .max()
                    .unwrap_or(0);
                (0..longest)
                    .map(|i| {
                        row.actions
                            .iter()
                            .filter_map(|a| self.keys(*a).get(i).map(Key::label))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join(sep)
            }
        }
    }

    /// The hint line of a view: ` ↵ open · / filter · … · ? help `.
    pub fn hints(&self, ctx: Context) -> String {
        self.hints_except(ctx, &[])
    }

    /// The hint line of a view without `hidden` (operations in read-only mode).
    pub fn hints_except(&self, ctx: Context, hidden: &[Action]) -> String {
        let items: Vec<String> = hint_items(ctx)
            .iter()
            .filter(|h| {
                let (Hint::Act(a) | Hint::Named(a, _) | Hint::Pair(a, _, _)) = **h;
                !hidden.contains(&a)
            })
            .map(|h| match *h {
                Hint::Act(a) => format!("{} {}", self.label(a), a.spec().hint),
                Hint::Named(a, word) => format!("{} {word}", self.label(a)),
                Hint::Pair(a, b, word) => format!("{}/{} {word}", self.label(a), self.label(b)),
            })
            .collect();
        format!(" {} ", items.join(" · "))
    }
}
