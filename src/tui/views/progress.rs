//! The progress pane of an operation this dashboard runs, in its database's profile under the
//! members (whose table highlights the member being worked on): the state and elapsed time on
//! the title, the outcome and artifact once it ended, the steps with their state and time (the
//! current one kept in view), and the last log lines (the runner's messages and the Job's pod
//! log). Side by side when the terminal is wide, stacked when it is not; at 80×24 it keeps the
//! steps around the current one and the last log lines.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::config::Theme;
use crate::config::keymap::Action;
use crate::ops::runner::Outcome;
use crate::tui::model::Model;
use crate::tui::ops::progress::{outcome_detail, outcome_word};
use crate::tui::ops::{Run, StepState, step_lines};
use crate::tui::widgets::{panel, put, put_right};

/// `850ms`, `8.2s`, `1m12s`, `1h03m`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{}h{:02}m", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// Whole seconds while running (the clock ticks once a second).
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    }
}

fn state_style(theme: &Theme, s: &StepState) -> ratatui::style::Style {
    match s {
        StepState::Done => theme.healthy,
        StepState::Running => theme.title,
        StepState::Waiting(_) => theme.warning,
        StepState::Stopped(_) => theme.error,
        StepState::Pending | StepState::Skipped => theme.muted,
    }
}

pub fn render(model: &Model, theme: &Theme, run: &Run, area: Rect, buf: &mut Buffer) {
    let now = model.now_ms;
    let state = match &run.outcome {
        None if run.cancelling => "cancelling".to_string(),
        None => "running".to_string(),
        Some(o) => outcome_word(o).to_string(),
    };
    let lines = step_lines(run, now);
    let whose = match &run.followed {
        Some(holder) => format!(" of {holder}"),
        None => String::new(),
    };
    let title = format!(
        " {}{}{whose} · {} · {} · step {}/{} ",
        if run.followed.is_some() {
            "following "
        } else if run.resumed {
            "resume "
        } else {
            ""
        },
        run.operation.as_str(),
        state,
        if run.running() {
            clock(run.elapsed_ms(now))
        } else {
            duration(run.elapsed_ms(now))
        },
        run.current().min(lines.len().max(1)),
        lines.len().max(1)
    );
    let cancel = model.keymap.label(Action::CancelOperation);
    let copy = model.keymap.label(Action::Copy);
    let hints = match (&run.outcome, &run.artifact) {
        (None, _) if run.followed.is_some() && run.cancelling => {
            format!(" cancel requested · {cancel} close (it goes on) ")
        }
        (None, _) if run.followed.is_some() => format!(" {cancel} cancel it or close "),
        _ if run.followed.is_some() => format!(" {cancel} close "),
        (None, _) => format!(" {cancel} cancel "),
        (Some(Outcome::Done(_)), Some(_)) => format!(" {copy} copy artifact · {cancel} close "),
        (Some(_), _) => format!(" {cancel} close "),
    };
    let inner = panel(theme, &title, &hints, true, area, buf);
    if inner.height == 0 {
        return;
    }
    let x0 = inner.x + 1;
    let w = inner.width.saturating_sub(2);
    let mut y = inner.y;
    // The head: the outcome once it ended, or what it waits for; the artifact.
    match &run.outcome {
        Some(o) => {
            let style = match o {
                Outcome::Done(_) | Outcome::Nothing(_) => theme.healthy,
                Outcome::Paused(_) | Outcome::Cancelled(_) => theme.warning,
                _ => theme.error,
            };
            let mut text = format!("{}: {}", outcome_word(o).to_uppercase(), outcome_detail(o));
            if matches!(o, Outcome::Paused(_)) {
                text.push_str(&format!(
                    " · {} opens the menu to resume it",
                    model.keymap.label(Action::Operations)
                ));
            }
            put(buf, x0, y, w, &text, style);
            y += 1;
        }
        None if run.cancelling => {
            put(
                buf,
                x0,
                y,
                w,
                "cancel asked: the current action finishes and the database settles first",
                theme.warning,
            );
            y += 1;
        }
        None => {}
    }
    if let Some(a) = &run.artifact
        && y < inner.bottom()
    {
        let x = put(buf, x0, y, w, "artifact ", theme.muted);
        let end = put(buf, x, y, (x0 + w).saturating_sub(x), a, theme.title);
        if matches!(run.outcome, Some(Outcome::Done(_))) {
            put(
                buf,
                end,
                y,
                (x0 + w).saturating_sub(end),
                &format!("  ({copy} copies it)"),
                theme.muted,
            );
        }
        y += 1;
    }
    let body = Rect::new(inner.x, y, inner.width, inner.bottom().saturating_sub(y));
    if body.height == 0 {
        return;
    }
    if body.width >= 140 {
        // Steps on the left, the log on the right.
        let left_w = body.width * 11 / 20;
        let left = Rect {
            width: left_w,
            ..body
        };
        let right = Rect {
            x: body.x + left_w,
            width: body.width - left_w,
            ..body
        };
        steps(theme, &lines, left, buf, true);
        log(theme, run, right, buf, true);
    } else {
        // Stacked: the steps (around the current one), then at least two log lines.
        let log_h = body
            .height
            .saturating_sub(lines.len() as u16 + 1)
            .max(if body.height >= 6 { 3 } else { 0 });
        let steps_h = body.height.saturating_sub(log_h);
        steps(
            theme,
            &lines,
            Rect {
                height: steps_h,
                ..body
            },
            buf,
            false,
        );
        if log_h > 0 {
            log(
                theme,
                run,
                Rect {
                    y: body.y + steps_h,
                    height: log_h,
                    ..body
                },
                buf,
                false,
            );
        }
    }
}

/// The step rows; `wide`: the reason of a wait on its own line under the step.
fn steps(
    theme: &Theme,
    lines: &[crate::tui::ops::StepLine],
    area: Rect,
    buf: &mut Buffer,
    wide: bool,
) {
    if area.height == 0 || lines.is_empty() {
        return;
    }
    let x0 = area.x + 1;
    let w = area.width.saturating_sub(2);
    // The rows a step takes: one, two when its wait reason goes under it.
    let tall = |l: &crate::tui::ops::StepLine| matches!(l.state, StepState::Waiting(_));
    let rows = usize::from(area.height);
    // Keep the current step (the first not done) in view, with what came just before.
    let current = lines
        .iter()
        .position(|l| !matches!(l.state, StepState::Done))
        .unwrap_or(lines.len().saturating_sub(1));
    let needed: usize = lines.iter().map(|l| 1 + usize::from(tall(l))).sum();
    let mut first = 0;
    if needed > rows {
        first = current.saturating_sub(1);
        let from_first: usize = lines[first..]
            .iter()
            .map(|l| 1 + usize::from(tall(l)))
            .sum();
        if from_first < rows {
            // Room to spare at the end: show more of what was done.
            let mut spare = rows - from_first;
            while first > 0 && spare > 0 {
                first -= 1;
                spare -= 1;
            }
        }
    }
    let mut y = area.y;
    let num_w = lines.len().to_string().len() as u16;
    for l in &lines[first..] {
        if y >= area.bottom() {
            break;
        }
        let style = state_style(theme, &l.state);
        let mut x = put(buf, x0, y, 1, l.state.glyph(), style);
        x = put(
            buf,
            x + 1,
            y,
            num_w + 1,
            &format!("{:>width$}", l.n, width = usize::from(num_w)),
            theme.muted,
        );
        // Right side: state word and elapsed time.
        let elapsed = l.elapsed_ms.map(|ms| match l.state {
            StepState::Running | StepState::Waiting(_) => clock(ms),
            _ => duration(ms),
        });
        let right = match &elapsed {
            Some(e) => format!("{:<8}{e:>7}", l.state.word()),
            None => l.state.word().to_string(),
        };
        let right_w = 15.min(w.saturating_sub(20));
        let text_w = (x0 + w).saturating_sub(x + 1 + right_w + 1);
        let text_style = match l.state {
            StepState::Pending | StepState::Skipped => theme.muted,
            _ => theme.text,
        };
        put(buf, x + 1, y, text_w, &l.text, text_style);
        put_right(buf, x0 + w - right_w, y, right_w, &right, style);
        y += 1;
        if let StepState::Waiting(why) = &l.state
            && y < area.bottom()
        {
            let indent = if wide { 4 } else { 3 } + num_w;
            put(
                buf,
                x0 + indent,
                y,
                w.saturating_sub(indent),
                &format!("↳ {why}"),
                theme.warning,
            );
            y += 1;
        }
    }
}

/// The last log lines that fit, oldest first.
fn log(theme: &Theme, run: &Run, area: Rect, buf: &mut Buffer, wide: bool) {
    if area.height == 0 {
        return;
    }
    let (x0, w, mut y, rows) = if wide {
        // A rule on the left, the word on top.
        for yy in area.y..area.bottom() {
            buf.set_stringn(area.x, yy, "│", 1, theme.border);
        }
        put(
            buf,
            area.x + 2,
            area.y,
            area.width.saturating_sub(3),
            "Log",
            theme.header,
        );
        (
            area.x + 2,
            area.width.saturating_sub(3),
            area.y + 1,
            area.height - 1,
        )
    } else {
        // A rule with the word, then the lines.
        let x0 = area.x + 1;
        let w = area.width.saturating_sub(2);
        let label = "─ log ";
        let x = put(buf, x0, area.y, w, label, theme.border);
        let rest = (x0 + w).saturating_sub(x);
        put(
            buf,
            x,
            area.y,
            rest,
            &"─".repeat(usize::from(rest)),
            theme.border,
        );
        (x0, w, area.y + 1, area.height - 1)
    };
    if run.log.is_empty() && rows > 0 {
        put(buf, x0, y, w, "nothing yet", theme.muted);
        return;
    }
    let skip = run.log.len().saturating_sub(usize::from(rows));
    for line in run.log.iter().skip(skip) {
        let style = if line.starts_with('[') {
            theme.text
        } else if line.starts_with("waiting") || line.starts_with("note") {
            theme.warning
        } else {
            theme.muted
        };
        put(buf, x0, y, w, line, style);
        y += 1;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_well() {
        assert_eq!(super::duration(850), "850ms");
        assert_eq!(super::duration(8_240), "8.2s");
        assert_eq!(super::duration(72_000), "1m12s");
        assert_eq!(super::clock(72_900), "1m12s");
        assert_eq!(super::clock(5_900), "5s");
    }
}
