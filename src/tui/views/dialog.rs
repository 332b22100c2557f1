//! The operation dialogs, drawn over the view: the menu of a database's operations, the
//! parameter form, the preflight while it runs, the confirmation (checks ✓/✗, the plan, and y/n
//! or the database id to type), the yes/no questions (cancel, quit) and the resume offer. Each
//! box wears the orchestra's accent on its border and names the orchestra, so which cluster a
//! change goes to is never in doubt.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Widget};
use unicode_width::UnicodeWidthStr;

use crate::config::Theme;
use crate::fleet::DbKey;
use crate::fleet::catalog;
use crate::tui::model::Model;
use crate::tui::ops::{Ask, Choice, Dialog, Form, Menu, Preflight, ResumeOffer, lease};
use crate::tui::widgets::styles::accent_style;
use crate::tui::widgets::{Table, col, flex, put, select_row};

pub fn render(model: &Model, theme: &Theme, area: Rect, buf: &mut Buffer) {
    let Some(d) = &model.ops.dialog else {
        return;
    };
    match d {
        Dialog::Menu(menu) => render_menu(model, theme, menu, area, buf),
        Dialog::Form(form) => render_form(model, theme, form, area, buf),
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
            simple_box(
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
        Dialog::Preflight(pf) => render_preflight(model, theme, pf, area, buf),
        Dialog::Ask(ask) => render_ask(model, theme, ask, area, buf),
        Dialog::Resume(offer) => render_resume(model, theme, offer, area, buf),
    }
}

/// A centred box of at most `w`×`h` inside `area`: cleared, bordered in the orchestra's accent,
/// titled with what and where. Returns its inside.
#[allow(clippy::too_many_arguments)]
fn frame(
    model: &Model,
    theme: &Theme,
    key: &DbKey,
    title: &str,
    hints: &str,
    w: u16,
    h: u16,
    area: Rect,
    buf: &mut Buffer,
) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    let r = Rect::new(
        area.x + (area.width.saturating_sub(w)) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    );
    Clear.render(r, buf);
    buf.set_style(r, theme.text);
    let border = if model.accent(&key.orchestra).is_some() {
        accent_style(model, theme, &key.orchestra)
    } else {
        theme.border_focus
    };
    let place = format!(" {} ", model.display_name(&key.orchestra));
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(title.to_string(), theme.title))
        .title(
            Line::from(Span::styled(
                place,
                accent_style(model, theme, &key.orchestra).add_modifier(Modifier::BOLD),
            ))
            .right_aligned(),
        );
    if !hints.is_empty() && usize::from(w) > hints.width() + 4 {
        block = block
            .title_bottom(Line::from(Span::styled(hints.to_string(), theme.muted)).right_aligned());
    }
    let inner = block.inner(r);
    block.render(r, buf);
    // The accent is the border's colour and the orchestra's name in the title (readable without
    // colour); no glyph replaces the corner.
    inner
}

/// A box of plain lines.
#[allow(clippy::too_many_arguments)]
fn simple_box(
    model: &Model,
    theme: &Theme,
    key: &DbKey,
    title: &str,
    hints: &str,
    lines: Vec<Line>,
    area: Rect,
    buf: &mut Buffer,
) {
    let want = lines.iter().map(Line::width).max().unwrap_or(20) as u16 + 4;
    let w = want
        .max(title.width() as u16 + 24)
        .max(hints.width() as u16 + 6);
    let inner = frame(
        model,
        theme,
        key,
        title,
        hints,
        w,
        lines.len() as u16 + 2,
        area,
        buf,
    );
    for (i, l) in lines.iter().enumerate().take(usize::from(inner.height)) {
        buf.set_line(
            inner.x + 1,
            inner.y + i as u16,
            l,
            inner.width.saturating_sub(2),
        );
    }
}

/// Columns of the menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuCol {
    Name,
    Radius,
    Confirm,
    What,
}

fn render_menu(model: &Model, theme: &Theme, menu: &Menu, area: Rect, buf: &mut Buffer) {
    let extra = u16::from(menu.in_flight.is_some());
    let h = menu.items.len() as u16 + 5 + extra;
    let w = if area.width >= 140 { 120 } else { 96 };
    let title = format!(" Operations · {} ", menu.key.id());
    let inner = frame(
        model,
        theme,
        &menu.key,
        &title,
        " ↵ choose · Esc close ",
        w,
        h,
        area,
        buf,
    );
    if inner.height < 2 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    if let Some(f) = &menu.in_flight {
        put(buf, x0, y, w, f, theme.warning);
        y += 1;
    }
    if menu.items.is_empty() {
        let profile = model
            .fleet
            .databases
            .get(&menu.key)
            .map_or("?", |d| d.profile.as_str());
        put(
            buf,
            x0,
            y,
            w,
            &format!("no operations for the profile '{profile}'"),
            theme.muted,
        );
        return;
    }
    let cols = [
        col(MenuCol::Name, "OPERATION", 16, 0),
        col(MenuCol::Radius, "RADIUS", 8, 2),
        col(MenuCol::Confirm, "CONFIRM", 8, 3),
        flex(MenuCol::What, "WHAT IT DOES", 20, 1),
    ];
    let tbl = Table::new(&cols, w, x0);
    tbl.header(buf, y, theme.header, None);
    y += 1;
    // Rows that fit, keeping the selection on screen (two lines stay for the footer).
    let rows = usize::from(inner.bottom().saturating_sub(y).saturating_sub(2)).max(1);
    let offset = crate::tui::widgets::scroll(0, menu.sel, rows, menu.items.len());
    for (i, item) in menu.items.iter().enumerate().skip(offset).take(rows) {
        let selected = i == menu.sel;
        if selected {
            select_row(buf, theme, inner.x, y, inner.width);
        }
        let greyed = item.why_not.is_some();
        let st = |s: Style| {
            if selected {
                theme.selected
            } else if greyed {
                theme.muted
            } else {
                s
            }
        };
        let (name, radius, confirm) = match (item.choice, item.spec()) {
            (Choice::Op(op), Some(spec)) => (
                op.as_str().to_string(),
                spec.radius.word(),
                if spec.typed_confirmation {
                    "typed id"
                } else {
                    "y/n"
                },
            ),
            _ => ("resume".to_string(), "", "preflight"),
        };
        tbl.cell(buf, MenuCol::Name, y, &name, st(theme.text));
        tbl.cell(buf, MenuCol::Radius, y, radius, st(theme.muted));
        tbl.cell(buf, MenuCol::Confirm, y, confirm, st(theme.muted));
        let what = match &item.why_not {
            Some(why) => format!("✗ {why} — {}", item.about),
            None => item.about.clone(),
        };
        tbl.cell(buf, MenuCol::What, y, &what, st(theme.text));
        y += 1;
    }
    // The footer: what the selected row acts on, in full words.
    let foot_y = inner.bottom().saturating_sub(1);
    if let Some(item) = menu.items.get(menu.sel)
        && foot_y > y.saturating_sub(1)
    {
        let text = match (&item.why_not, item.choice) {
            (Some(why), _) => format!("✗ greyed: {why}"),
            (None, Choice::Resume) => "continue it from its Lease (preflight first)".into(),
            (None, Choice::Op(op)) => {
                let spec = catalog::spec(op);
                let on = match (&menu.member, crate::tui::ops::member_level(op)) {
                    (Some(m), true) => format!("acts on {m} (the selected member)"),
                    (None, true) => "asks which member".into(),
                    _ => format!("acts on the whole database ({} radius)", spec.radius.word()),
                };
                let confirm = if spec.typed_confirmation {
                    "confirm by typing the database id"
                } else {
                    "confirm with y"
                };
                format!("{on} · preflight first, then {confirm}")
            }
        };
        let style = if item.why_not.is_some() {
            theme.warning
        } else {
            theme.muted
        };
        put(buf, x0, foot_y, w, &text, style);
    }
}

fn render_form(model: &Model, theme: &Theme, form: &Form, area: Rect, buf: &mut Buffer) {
    let spec = catalog::spec(form.op);
    let h = form.fields.len() as u16 * 3 + 6;
    let title = format!(" {} · {} ", form.op.as_str(), form.key.id());
    let inner = frame(
        model,
        theme,
        &form.key,
        &title,
        " ↵ check and preflight · Tab next · Esc back ",
        if area.width >= 140 { 110 } else { 90 },
        h,
        area,
        buf,
    );
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    put(buf, x0, y, w, spec.description, theme.muted);
    y += 1;
    if let Some(m) = &form.member {
        put(buf, x0, y, w, &format!("member: {m}"), theme.text);
    }
    y += 1;
    let label_w = form
        .fields
        .iter()
        .map(|f| f.key.width() + 1)
        .max()
        .unwrap_or(6) as u16
        + 2;
    for (i, f) in form.fields.iter().enumerate() {
        if y + 1 >= inner.bottom() {
            break;
        }
        let focused = i == form.focus;
        let label = if f.required {
            format!("{}*", f.key)
        } else {
            f.key.to_string()
        };
        put(
            buf,
            x0,
            y,
            label_w,
            &label,
            if focused { theme.title } else { theme.text },
        );
        let box_w = w.saturating_sub(label_w).min(60);
        let field_style = if focused {
            theme.selected
        } else {
            theme.border
        };
        let bx = x0 + label_w;
        buf.set_style(Rect::new(bx, y, box_w, 1), field_style);
        let room = usize::from(box_w.saturating_sub(1)).max(1);
        let scroll = f.input.visual_scroll(room);
        let shown: String = f.input.value().chars().skip(scroll).collect();
        let end = put(buf, bx, y, box_w.saturating_sub(1), &shown, field_style);
        if focused {
            // The cursor, drawn (the terminal cursor stays hidden in dialogs).
            let cx = (bx + (f.input.visual_cursor().saturating_sub(scroll)) as u16).min(end);
            buf.set_style(
                Rect::new(cx, y, 1, 1),
                field_style.add_modifier(Modifier::REVERSED),
            );
        }
        put(
            buf,
            bx,
            y + 1,
            w.saturating_sub(label_w),
            f.help,
            theme.muted,
        );
        y += 3;
    }
    if let Some(e) = &form.error {
        put(
            buf,
            x0,
            inner.bottom().saturating_sub(1),
            w,
            &format!("✗ {e}"),
            theme.error,
        );
    } else {
        put(
            buf,
            x0,
            inner.bottom().saturating_sub(1),
            w,
            "* needed · checked before anything runs",
            theme.muted,
        );
    }
}

fn render_preflight(model: &Model, theme: &Theme, pf: &Preflight, area: Rect, buf: &mut Buffer) {
    let typed = pf.typed_confirmation();
    let can = pf.can_confirm();
    let id = pf.key.id();
    // The bottom lines: the verdict and how to go on.
    let mut tail: Vec<Line> = Vec::new();
    if let Some(prev) = &pf.taking_over {
        // Whose it was and where it stopped, on a line of its own.
        tail.push(Line::from(Span::styled(
            "⚠ takes over a stale lock (its holder stopped renewing it):",
            theme.warning,
        )));
        tail.push(Line::from(Span::styled(format!("  {prev}"), theme.warning)));
    }
    if !can {
        let why = pf.blocked.clone().unwrap_or_else(|| {
            "a check fails (✗): fix the database first; nothing was sent".to_string()
        });
        tail.push(Line::from(Span::styled(format!("✗ {why}"), theme.error)));
        if !pf.forceable.is_empty() {
            tail.push(Line::from(vec![
                Span::styled("F", theme.key_hint),
                Span::styled(
                    format!(
                        " force past {}: the config allows it; logged; the id typed",
                        pf.forceable.join(", ")
                    ),
                    theme.warning,
                ),
            ]));
        }
    } else if typed {
        tail.push(Line::from(vec![
            Span::styled("type the database id to confirm: ", theme.text),
            Span::styled(id.clone(), theme.title),
        ]));
        tail.push(Line::from(Span::raw(""))); // the input, drawn below
    } else {
        let what = match pf.prepared.as_ref().and_then(|p| p.record.param("member")) {
            Some(m) => format!("run {} on member {m}?", pf.title),
            None => format!("run {} on {id}?", pf.title),
        };
        tail.push(Line::from(vec![
            Span::styled(what, theme.text),
            Span::styled("  y run · n cancel", theme.key_hint),
        ]));
    }
    let hints = if !can && !pf.forceable.is_empty() {
        " F force · Esc close "
    } else if !can {
        " Esc close "
    } else if typed {
        " ↵ run (when the id matches) · Esc cancel "
    } else {
        " y run · n / Esc cancel "
    };
    // A failing check wraps onto up to three lines: its reason names the member at fault, and
    // at 80 columns that is often past the edge.
    let box_w: u16 = if area.width >= 140 { 130 } else { 100 };
    let text_w = usize::from(box_w.min(area.width).saturating_sub(2 + 2 + 3)).max(10);
    let check_lines: Vec<Vec<String>> = pf
        .checks
        .iter()
        .map(|c| {
            let text = match &c.member {
                Some(m) => format!("{} ({m}): {}", c.rule, c.detail),
                None => format!("{}: {}", c.rule, c.detail),
            };
            crate::tui::widgets::text::wrap(&text, text_w, if c.ok { 1 } else { 3 })
        })
        .collect();
    let head = 2
        + check_lines.iter().map(Vec::len).sum::<usize>()
        + usize::from(!pf.plan.is_empty())
        + pf.plan.len();
    let want_h = (head + 1 + tail.len()) as u16 + 2;
    let radius = pf.radius().map_or("", |r| r.word());
    let title = format!(
        " {}{} · {} ",
        if pf.resumed { "resume " } else { "" },
        pf.title,
        id
    );
    let inner = frame(
        model, theme, &pf.key, &title, hints, box_w, want_h, area, buf,
    );
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let tail_top = inner.bottom().saturating_sub(tail.len() as u16);
    let mut y = inner.y;
    let radius_line = if radius.is_empty() {
        "preflight (reads only; nothing was sent)".to_string()
    } else {
        format!(
            "blast radius: {radius} · on {} · nothing sent yet",
            model.display_name(&pf.key.orchestra)
        )
    };
    put(buf, x0, y, w, &radius_line, theme.muted);
    y += 1;
    if y < tail_top {
        put(buf, x0, y, w, "Checks", theme.header);
        y += 1;
    }
    for (c, lines) in pf.checks.iter().zip(&check_lines) {
        if y >= tail_top {
            break;
        }
        // A forced rule passes, but never looks like one that holds.
        let forced = c.ok && c.detail.starts_with("FORCED");
        let (glyph, style) = match (c.ok, forced) {
            (true, false) => ("✓", theme.healthy),
            (true, true) => ("!", theme.warning),
            (false, _) => ("✗", theme.error),
        };
        let x = put(buf, x0 + 1, y, 2, glyph, style);
        for line in lines {
            if y >= tail_top {
                break;
            }
            put(
                buf,
                x + 1,
                y,
                w.saturating_sub(x + 1 - x0),
                line,
                theme.text,
            );
            y += 1;
        }
    }
    if !pf.plan.is_empty() && y < tail_top {
        put(buf, x0, y, w, "Plan (in order)", theme.header);
        y += 1;
        let room = usize::from(tail_top.saturating_sub(y));
        let n = pf.plan.len();
        for (i, step) in pf.plan.iter().enumerate() {
            if y >= tail_top {
                break;
            }
            let text = if n > room && i + 1 == room {
                format!("… and {} more", n - i)
            } else {
                format!("{}. {step}", i + 1)
            };
            put(buf, x0 + 1, y, w.saturating_sub(1), &text, theme.text);
            y += 1;
        }
    }
    for (i, l) in tail.iter().enumerate() {
        buf.set_line(x0, tail_top + i as u16, l, w);
    }
    if can && typed {
        // The typed id, with its own cursor; it says when it matches.
        let iy = inner.bottom().saturating_sub(1);
        let matches = pf.id_matches();
        let prompt = "> ";
        let x = put(buf, x0, iy, 2, prompt, theme.key_hint);
        let box_w = (id.width() as u16 + 2).min(w.saturating_sub(2));
        let style = if matches {
            theme.healthy
        } else {
            theme.selected
        };
        buf.set_style(Rect::new(x, iy, box_w, 1), style);
        let room = usize::from(box_w.saturating_sub(1)).max(1);
        let scroll = pf.typed.visual_scroll(room);
        let shown: String = pf.typed.value().chars().skip(scroll).collect();
        put(buf, x, iy, box_w.saturating_sub(1), &shown, style);
        let cx = x + (pf.typed.visual_cursor().saturating_sub(scroll)) as u16;
        buf.set_style(
            Rect::new(cx.min(x + box_w.saturating_sub(1)), iy, 1, 1),
            style.add_modifier(Modifier::REVERSED),
        );
        let note = if matches {
            "  ✓ matches: ↵ runs it"
        } else {
            "  ↵ does nothing until it matches exactly"
        };
        let nx = x + box_w;
        put(
            buf,
            nx,
            iy,
            (x0 + w).saturating_sub(nx),
            note,
            if matches { theme.healthy } else { theme.muted },
        );
    }
}

fn render_ask(model: &Model, theme: &Theme, ask: &Ask, area: Rect, buf: &mut Buffer) {
    match ask {
        Ask::Incident { key, text, .. } => {
            let mut lines: Vec<Line> = Vec::new();
            let hints = match text {
                None => {
                    lines.push(Line::from(Span::styled(
                        format!(
                            "reading {}'s state for the incident (reads only)…",
                            key.id()
                        ),
                        theme.muted,
                    )));
                    " Esc cancel "
                }
                Some(t) => {
                    lines.push(Line::from(Span::styled(
                        "Post this to the incident webhook?",
                        theme.warning,
                    )));
                    let room = usize::from(area.height.saturating_sub(5)).max(1);
                    for l in t.lines().take(room) {
                        lines.push(Line::from(Span::styled(l.to_string(), theme.text)));
                    }
                    " y post it · n / Esc nothing is sent "
                }
            };
            simple_box(model, theme, key, " incident ", hints, lines, area, buf);
        }
        Ask::Cancel { key, operation, .. } => {
            let lines = vec![
                Line::from(Span::styled(
                    format!("Cancel {} on {}?", operation.as_str(), key.id()),
                    theme.text,
                )),
                Line::from(Span::styled(
                    "The current action finishes and the database settles first;",
                    theme.muted,
                )),
                Line::from(Span::styled(
                    "the Lease records where it stopped, and then it is released.",
                    theme.muted,
                )),
            ];
            simple_box(
                model,
                theme,
                key,
                " cancel ",
                " y cancel it · n / Esc keep it running ",
                lines,
                area,
                buf,
            );
        }
        Ask::Quit { running } => {
            let mut lines: Vec<Line> = vec![Line::from(Span::styled(
                format!(
                    "{} operation{} of this dashboard still run{}:",
                    running.len(),
                    if running.len() == 1 { "" } else { "s" },
                    if running.len() == 1 { "s" } else { "" }
                ),
                theme.warning,
            ))];
            for r in running.iter().take(5) {
                lines.push(Line::from(Span::styled(format!("  · {r}"), theme.text)));
            }
            lines.push(Line::from(Span::styled(
                "Quitting stops them where they are: their Leases keep the state,",
                theme.muted,
            )));
            lines.push(Line::from(Span::styled(
                "and opening the database again offers to resume. Quit now?",
                theme.muted,
            )));
            let w = lines.iter().map(Line::width).max().unwrap_or(40) as u16 + 4;
            let h = lines.len() as u16 + 2;
            let r = Rect::new(
                area.x + area.width.saturating_sub(w) / 2,
                area.y + area.height.saturating_sub(h) / 2,
                w.min(area.width),
                h.min(area.height),
            );
            Clear.render(r, buf);
            buf.set_style(r, theme.text);
            let inner = crate::tui::widgets::panel(
                theme,
                " quit? ",
                " y quit · n / Esc stay ",
                true,
                r,
                buf,
            );
            for (i, l) in lines.iter().enumerate().take(usize::from(inner.height)) {
                buf.set_line(
                    inner.x + 1,
                    inner.y + i as u16,
                    l,
                    inner.width.saturating_sub(2),
                );
            }
        }
    }
}

fn render_resume(model: &Model, theme: &Theme, o: &ResumeOffer, area: Rect, buf: &mut Buffer) {
    let lines = vec![
        Line::from(Span::styled(
            format!("An interrupted operation holds {}:", o.key.id()),
            theme.warning,
        )),
        Line::from(Span::styled(format!("  {}", o.summary), theme.text)),
        Line::from(Span::styled(
            format!(
                "  by {} · stopped at step {} · last renewed {} ago",
                o.holder,
                o.step,
                lease::ago(o.renewed_s)
            ),
            theme.muted,
        )),
        Line::from(Span::styled(
            "Resume it? A preflight runs first; nothing is sent before you confirm.",
            theme.text,
        )),
    ];
    simple_box(
        model,
        theme,
        &o.key,
        &format!(" resume {}? ", o.operation.as_str()),
        " ↵ / r resume · Esc leave it ",
        lines,
        area,
        buf,
    );
}
