//! What the coordinator tells: lines or JSON events on stdout (or, in the dashboard, lines on a
//! channel), the audit, webhook notices, the campaign's counts when they change, and which
//! databases the engine probes often.

use std::collections::BTreeMap;
use std::io::Write as _;

use super::Coordinator;
use crate::cli::OpOutput;
use crate::fleet::DbKey;
use crate::ops::audit::Audit;
use crate::ops::campaign::run::{self, DbState};
use crate::ops::campaign::state::Entry;
use crate::source::{Focus, now_ms};

/// Where a coordinator's lines go: stdout as text or JSON events (`baton campaign`), or a
/// channel (the dashboard, which owns the terminal).
#[derive(Debug, Clone)]
pub enum Say {
    Out(OpOutput),
    Lines(tokio::sync::mpsc::UnboundedSender<String>),
}

impl Say {
    /// A line a person reads (on stdout in either output, as `start` and `resume` always did).
    pub fn line(&self, text: &str) {
        match self {
            Say::Out(_) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{text}");
                let _ = out.flush();
            }
            Say::Lines(tx) => {
                let _ = tx.send(text.to_string());
            }
        }
    }
}

impl Coordinator {
    /// Prints a line (text) or an event (JSON, with its time `at_ms`).
    pub(super) fn say(&self, mut event: serde_json::Value, text: &str) {
        if let Some(o) = event.as_object_mut() {
            o.insert("at_ms".into(), serde_json::json!(now_ms()));
        }
        match &self.output {
            Say::Out(OpOutput::Json) => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{event}");
                let _ = out.flush();
            }
            say => say.line(text),
        }
    }

    pub(super) fn audit(&self, database: &str, verb: &str, object: &str, result: &str) {
        Audit::new(
            Audit::default_path(),
            &self.env.holder,
            "campaign coordinator",
            &format!("campaign {}", self.def.spec.name),
            database,
        )
        .record(verb, object, result);
    }

    /// A Slack-compatible notice, when the config names a webhook; never blocks the loop.
    pub(super) fn notify(&self, text: String) {
        let fields = serde_json::json!({
            "campaign": self.def.spec.name,
            "operation": self.def.spec.operation.as_str(),
            "phase": self.control.phase.word(),
            "coordinator": self.env.holder,
        });
        if let Some(n) = &self.notices {
            let _ = n.send((text, fields));
        }
    }

    pub(super) fn summary(&mut self, d: &run::Decision) {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for k in self.def.waves.iter().flatten() {
            let s = self.states.get(&k.key()).map_or("pending", DbState::word);
            *counts.entry(s).or_default() += 1;
        }
        let n = |w: &str| counts.get(w).copied().unwrap_or(0);
        let wave = d.wave.map_or("-".to_string(), |w| {
            format!("{}/{}", w + 1, self.def.waves.len())
        });
        let text = format!(
            "campaign {} {} · wave {wave} · done {} · running {} · pending {} · skipped {} · failed {}{}",
            self.def.spec.name,
            self.control.phase.word(),
            n("done"),
            n("running"),
            n("pending"),
            n("skipped"),
            n("failed"),
            d.soaking_until
                .map(|u| format!(
                    " · the canary soaks until {}",
                    crate::fleet::store::clock(u)
                ))
                .unwrap_or_default()
        );
        if text != self.said {
            self.say(serde_json::json!({"event": "campaign", "phase": self.control.phase.word(), "wave": d.wave, "done": n("done"), "running": n("running"), "pending": n("pending"), "skipped": n("skipped"), "failed": n("failed"), "soaking_until_ms": d.soaking_until}), &text);
            self.said = text;
        }
    }

    pub(super) fn focus(&self) {
        let now = now_ms();
        let mut visible: Vec<DbKey> = self
            .states
            .iter()
            .filter(|(_, s)| match s {
                DbState::Running { .. } => true,
                DbState::Done { ended_ms, .. } => now.saturating_sub(*ended_ms) < 120_000,
                _ => false,
            })
            .map(|(k, _)| k.clone())
            .collect();
        visible.extend(self.def.waves.first().into_iter().flatten().map(Entry::key));
        visible.sort();
        visible.dedup();
        self.engine.set_focus(Focus {
            open: None,
            visible,
        });
    }
}

/// Where notices are told, and the task that posts them.
pub(super) type Poster = (
    tokio::sync::mpsc::UnboundedSender<(String, serde_json::Value)>,
    tokio::task::JoinHandle<()>,
);

/// Posts the notices in the order they were told (one at a time), when the config names a
/// webhook: a notice that fails is logged, never blocks the coordinator.
pub(super) fn poster(env: &crate::ops::campaign::launch::Env) -> Option<Poster> {
    let url =
        crate::ops::audit::webhook_from_env(env.config.operations.webhook_url_env.as_deref())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, serde_json::Value)>();
    let h = tokio::spawn(async move {
        while let Some((text, fields)) = rx.recv().await {
            if let Err(e) = crate::ops::audit::post_webhook(&url, &text, fields).await {
                tracing::warn!(error = %e, "campaign notice not posted");
            }
        }
    });
    Some((tx, h))
}
