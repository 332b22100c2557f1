//! The campaign dialogs: the form over the list's filter (one line a field, the focused one's
//! help under them), the plan as `baton campaign plan` prints it with the line to type the name
//! and the number of databases, and the `:campaigns` keys' questions (pause, resume, cancel).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use tui_input::Input;
use unicode_width::UnicodeWidthStr;

use super::frame::{frame_at, input_line};
use crate::config::Theme;
use crate::tui::model::Model;
use crate::tui::ops::campaign::{CampaignAsk, CampaignForm, CampaignPlan};
use crate::tui::widgets::put;

pub(super) fn render_form(
    model: &Model,
    theme: &Theme,
    f: &CampaignForm,
    area: Rect,
    buf: &mut Buffer,
) {
    let h = f.fields.len() as u16 + 7;
    let inner = frame_at(
        model,
        theme,
        f.scope.as_deref().unwrap_or(""),
        " campaign ",
        " ↵ plan it (nothing is sent) · Tab next · Esc close ",
        if area.width >= 140 { 110 } else { 90 },
        h,
        area,
        buf,
    );
    if inner.height < 3 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    let over = if f.select.is_empty() {
        "every database of the fleet (no filter)".to_string()
    } else {
        format!("the databases the filter '{}' selects", f.select)
    };
    put(buf, x0, y, w, &format!("over {over}"), theme.text);
    y += 2;
    let label_w = f.fields.iter().map(|x| x.key.width()).max().unwrap_or(8) as u16 + 2;
    let box_w = w.saturating_sub(label_w).min(40);
    for (i, field) in f.fields.iter().enumerate() {
        if y + 2 >= inner.bottom() {
            break;
        }
        let focused = i == f.focus;
        put(
            buf,
            x0,
            y,
            label_w,
            field.key,
            if focused { theme.title } else { theme.text },
        );
        let style = if focused {
            theme.selected
        } else {
            theme.border
        };
        input_line(buf, x0 + label_w, y, box_w, &field.input, style, focused);
        y += 1;
    }
    let help = f.fields.get(f.focus).map_or("", |x| x.help.as_str());
    put(
        buf,
        x0,
        inner.bottom().saturating_sub(2),
        w,
        help,
        theme.muted,
    );
    let (last, style) = match &f.error {
        Some(e) => (format!("✗ {e}"), theme.error),
        None => (
            "planned over the fleet on screen; the plan is shown before anything runs".into(),
            theme.muted,
        ),
    };
    put(buf, x0, inner.bottom().saturating_sub(1), w, &last, style);
}

pub(super) fn render_plan(
    model: &Model,
    theme: &Theme,
    p: &CampaignPlan,
    area: Rect,
    buf: &mut Buffer,
) {
    let want_w = p.lines.iter().map(|l| l.width()).max().unwrap_or(60) as u16 + 4;
    let h = (p.lines.len() as u16 + 6).max(10);
    let inner = frame_at(
        model,
        theme,
        p.form.scope.as_deref().unwrap_or(""),
        &format!(" campaign {} · {} ", p.name, p.operation.as_str()),
        " ↵ start · ↑↓ PgUp PgDn scroll · Esc back to the form ",
        want_w.max(70),
        h,
        area,
        buf,
    );
    if inner.height < 3 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let room = usize::from(inner.height.saturating_sub(3));
    for (i, l) in p.lines.iter().skip(p.scroll).take(room).enumerate() {
        put(buf, x0, inner.y + i as u16, w, l, theme.text);
    }
    let y = inner.bottom().saturating_sub(2);
    if let Some(why) = &p.blocked {
        put(buf, x0, y, w, &format!("✗ {why}"), theme.error);
        put(
            buf,
            x0,
            y + 1,
            w,
            "nothing was sent; Esc goes back to the form",
            theme.muted,
        );
        return;
    }
    let ask = format!(
        "type the campaign's name and its number of databases to start it: {}",
        p.expected()
    );
    put(buf, x0, y, w, &ask, theme.warning);
    let box_w = w.min(40);
    input_line(buf, x0, y + 1, box_w, &p.typed, theme.selected, true);
    let note = if p.typed_matches() {
        "  ✓ matches: ↵ starts it, coordinated by this dashboard"
    } else {
        "  ↵ does nothing until it matches exactly"
    };
    put(
        buf,
        x0 + box_w,
        y + 1,
        w.saturating_sub(box_w),
        note,
        theme.muted,
    );
}

pub(super) fn render_ask(
    model: &Model,
    theme: &Theme,
    a: &CampaignAsk,
    area: Rect,
    buf: &mut Buffer,
) {
    let name = a.name();
    let home = model
        .campaigns
        .all
        .get(name)
        .map_or("", |c| c.def.home.as_str());
    let (title, lines, typed, hints): (&str, Vec<String>, Option<&Input>, &str) = match a {
        CampaignAsk::Pause { .. } => (
            " pause ",
            vec![
                format!("Pause campaign {name}?"),
                "Nothing new starts; what runs finishes its operation, then the coordinator stops."
                    .into(),
                "r resumes it (from this dashboard, or `baton campaign resume`).".into(),
            ],
            None,
            " y pause it · n / Esc keep it going ",
        ),
        CampaignAsk::Resume { typed, .. } => (
            " resume ",
            vec![
                format!("Resume campaign {name}?"),
                "A live coordinator goes on where it is; a stopped one is taken over here, and"
                    .into(),
                "this dashboard coordinates it from the recorded state until it quits.".into(),
                format!("Type its name ({name}) to go on:"),
            ],
            Some(typed),
            " ↵ resume · Esc nothing is sent ",
        ),
        CampaignAsk::Cancel { typed, .. } => (
            " cancel ",
            vec![
                format!("Cancel campaign {name} for good?"),
                "Nothing new starts; what runs finishes. A cancelled campaign does not resume."
                    .into(),
                format!("Type its name ({name}) to go on:"),
            ],
            Some(typed),
            " ↵ cancel it · Esc nothing is sent ",
        ),
    };
    let w = lines.iter().map(|l| l.width()).max().unwrap_or(40) as u16 + 4;
    let h = lines.len() as u16 + 2 + u16::from(typed.is_some());
    let inner = frame_at(
        model,
        theme,
        home,
        title,
        hints,
        w.max(hints.width() as u16 + 6),
        h,
        area,
        buf,
    );
    let x0 = inner.x + 1;
    let iw = inner.width.saturating_sub(2);
    for (i, l) in lines.iter().enumerate().take(usize::from(inner.height)) {
        let style = if i == 0 { theme.warning } else { theme.text };
        put(buf, x0, inner.y + i as u16, iw, l, style);
    }
    if let Some(t) = typed {
        let y = inner.y + lines.len() as u16;
        if y < inner.bottom() {
            input_line(buf, x0, y, iw.min(40), t, theme.selected, true);
        }
    }
}
