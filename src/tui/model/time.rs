//! What on screen depends on the clock: notes that expire, the marks compared at each tick
//! (HH:MM, ages, churn, the progress pane's clocks), and how times are written.

use super::{ERROR_TTL_MS, INFO_TTL_MS, Model, Note, View};
use crate::tui::ops::lease;

impl Model {
    /// Notes expire: an error after [`ERROR_TTL_MS`], a message after [`INFO_TTL_MS`] (counted
    /// from when `update` first saw them), once a key was pressed since they came: one that
    /// arrived while nobody was at the keyboard waits to be seen. Returns whether the note went.
    pub(crate) fn expire_note(&mut self) -> bool {
        let Some(note) = self.note.clone() else {
            self.note_seen = None;
            return false;
        };
        match &self.note_seen {
            Some((seen, since, keyed)) if *seen == note => {
                let ttl = match note {
                    Note::Error(_) => ERROR_TTL_MS,
                    Note::Info(_) => INFO_TTL_MS,
                };
                if *keyed && self.now_ms.saturating_sub(*since) >= ttl {
                    self.note = None;
                    self.note_seen = None;
                    return true;
                }
                false
            }
            _ => {
                self.note_seen = Some((note, self.now_ms, false));
                false
            }
        }
    }

    /// A key was pressed: the note on screen has been seen.
    pub(crate) fn key_pressed(&mut self) {
        if let Some((_, _, keyed)) = &mut self.note_seen {
            *keyed = true;
        }
    }

    /// The strings of everything on screen that depends on the clock.
    pub(crate) fn compute_time_marks(&self) -> Vec<String> {
        let mut marks = vec![clock_hm(self.now_ms)];
        if let Some(d) = self.open_database() {
            marks.push(d.history.churning(self.now_ms).to_string());
            // The profile shows when the open database was last probed.
            marks.push(
                d.probed_ms
                    .map_or_else(String::new, |p| (p / 1000).to_string()),
            );
            for m in &d.members {
                marks.push(age(self.now_ms, m.pod.created_ms));
            }
            // The progress pane's clocks (whole seconds) and the Lease's staleness.
            if let Some(r) = self.ops.run_of(&d.key).filter(|r| r.running()) {
                marks.push((r.elapsed_ms(self.now_ms) / 1000).to_string());
            }
            if let Some(i) = lease::in_flight(d, self.now_ms) {
                marks.push(format!("{} {}", i.stale, i.renewed_s));
            }
        }
        if self.view == View::Operations {
            for k in self.op_rows() {
                if let Some(i) = self
                    .fleet
                    .databases
                    .get(&k)
                    .and_then(|d| lease::in_flight(d, self.now_ms))
                {
                    marks.push(format!("{} {}", i.stale, lease::ago(i.age_s)));
                }
            }
        }
        marks
    }
}

/// `HH:MM` (UTC) of a Unix-ms time.
pub fn clock_hm(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}", s / 3600, (s / 60) % 60)
}

/// A pod age at minute resolution (`<1m`, `42m`, `5h07m`, `3d04h`), so it changes at most once a
/// minute; `-` when unknown.
pub fn age(now_ms: u64, created_ms: Option<u64>) -> String {
    let Some(c) = created_ms else {
        return "-".into();
    };
    let mins = now_ms.saturating_sub(c) / 60_000;
    match mins {
        0 => "<1m".into(),
        1..60 => format!("{mins}m"),
        60..1440 => format!("{}h{:02}m", mins / 60, mins % 60),
        _ => format!("{}d{:02}h", mins / 1440, (mins % 1440) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_change_once_a_minute() {
        assert_eq!(age(59_999, Some(0)), "<1m");
        assert_eq!(age(60_000, Some(0)), "1m");
        assert_eq!(age(3_723_000, Some(0)), "1h02m");
        assert_eq!(age(90_000_000, Some(0)), "1d01h");
        assert_eq!(age(5, None), "-");
        assert_eq!(clock_hm(3_723_000), "01:02");
    }
}
