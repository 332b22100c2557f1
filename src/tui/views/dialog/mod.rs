//! The operation dialogs, drawn over the view: the menu of a database's operations, the
//! parameter form, the preflight while it runs, the confirmation (checks ✓/✗, the plan, and y/n
//! or the database id to type), the yes/no questions (cancel, quit) and the resume offer. Each
//! box wears the orchestra's accent on its border and names the orchestra, so which cluster a
//! change goes to is never in doubt.
//!
//! This module picks the dialog's drawing (and draws the one of a preflight under way); the parts:
//! - `frame` — the centred box every dialog is drawn in, and a box of plain lines.
//! - `menu` — the operations menu.
//! - `form` — the parameter form.
//! - `preflight` — the confirmation: checks, plan, and the y/n or typed-id line.
//! - `ask` — the questions (incident, cancel, quit) and the resume offer.
//! - `campaign` — a campaign's form, its plan with the typed confirmation, and the questions of
//!   the `:campaigns` keys.

mod ask;
mod campaign;
mod form;
mod frame;
mod menu;
mod preflight;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use crate::config::Theme;
use crate::tui::model::Model;
use crate::tui::ops::Dialog;

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(d) = &model.ops.dialog else {
        return;
    };
    match d {
        Dialog::Menu(menu) => menu::render_menu(model, theme, menu, area, buf),
        Dialog::Form(form) => form::render_form(model, theme, form, area, buf),
        Dialog::Preparing { key, title, .. } => {
            let lines = vec![
                Line::from(Span::styled(
                    format!("{title} on {}: preflight…", key.id()),
                    theme.text,
                )),
                Line::from(Span::styled(
                    "observing the database and the lock (reads only; nothing is sent)",
                    theme.muted,
                )),
            ];
            frame::simple_box(
                model,
                theme,
                key,
                &format!(" {title} "),
                " Esc cancel ",
                lines,
                area,
                buf,
            );
        }
        Dialog::Preflight(pf) => preflight::render_preflight(model, theme, pf, area, buf),
        Dialog::Ask(ask) => ask::render_ask(model, theme, ask, area, buf),
        Dialog::Resume(offer) => ask::render_resume(model, theme, offer, area, buf),
        Dialog::CampaignForm(f) => campaign::render_form(model, theme, f, area, buf),
        Dialog::CampaignPlan(p) => campaign::render_plan(model, theme, p, area, buf),
        Dialog::CampaignAsk(a) => campaign::render_ask(model, theme, a, area, buf),
    }
}
