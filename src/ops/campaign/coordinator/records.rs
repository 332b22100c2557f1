//! The coordinator's records: each database's state and the campaign's control, written to
//! the orchestras' ConfigMaps at the version read (a conflict reads again, keeping a newer
//! control of the home orchestra: another baton paused, resumed or cancelled).

use std::collections::BTreeMap;

use super::Coordinator;
use crate::fleet::DbKey;
use crate::ops::campaign::run::DbState;
use crate::ops::campaign::state::{self, Control, Entry, Phase, SaveError};
use crate::source::now_ms;

impl Coordinator {
    pub(super) fn set(&mut self, k: &DbKey, s: DbState) {
        let word = s.word();
        let detail = match &s {
            DbState::Skipped { rule } => rule.clone(),
            DbState::Failed { why } => why.clone(),
            DbState::Done { at_goal: true, .. } => "already at the goal".into(),
            _ => String::new(),
        };
        tracing::info!(campaign = %self.def.spec.name, database = %k.id(), state = word, %detail, "campaign database");
        self.say(
            serde_json::json!({"event": "database", "database": k.id(), "state": word, "detail": detail}),
            &format!(
                "{} {:<8} {}{}",
                crate::fleet::store::clock(now_ms()),
                word,
                k.id(),
                if detail.is_empty() { String::new() } else { format!(": {detail}") }
            ),
        );
        self.states.insert(k.clone(), s);
        self.dirty.insert(k.orchestra.clone());
    }

    pub(super) fn set_control(&mut self, phase: Phase, why: &str, database: Option<&DbKey>) {
        self.control = Control {
            phase,
            by: self.env.holder.clone(),
            why: why.to_string(),
            database: database.map(Entry::of),
            at_ms: now_ms(),
        };
        self.dirty.extend(self.held.keys().cloned());
    }

    /// Writes every ConfigMap that changed, at the version read; a conflict reads it again
    /// (keeping a newer control from the home orchestra) and writes once more.
    pub(super) async fn save(&mut self) {
        let dirty: Vec<String> = std::mem::take(&mut self.dirty).into_iter().collect();
        for o in dirty {
            let states: BTreeMap<Entry, DbState> = self
                .states
                .iter()
                .filter(|(k, _)| k.orchestra == o)
                .map(|(k, s)| (Entry::of(k), s.clone()))
                .collect();
            let Some(h) = self.held.get(&o) else { continue };
            let client = h.client.clone();
            let mut rv = h.rv.clone();
            let mut written = false;
            for _ in 0..3 {
                match state::save(
                    &client,
                    &self.ns,
                    &self.def,
                    &self.control,
                    &states,
                    rv.as_deref(),
                )
                .await
                {
                    Ok(new) => {
                        rv = Some(new);
                        written = true;
                        break;
                    }
                    Err(SaveError::Conflict(_)) => {
                        match state::load(&client, &self.ns, &self.def.spec.name).await {
                            Ok(Some(s)) => {
                                if o == self.def.home && s.control.at_ms > self.control.at_ms {
                                    self.adopt(s.control);
                                }
                                rv = Some(s.resource_version);
                            }
                            Ok(None) => rv = None,
                            Err(e) => {
                                tracing::warn!(orchestra = %o, error = %e, "campaign state not read");
                                break;
                            }
                        }
                    }
                    Err(SaveError::Failed(e)) => {
                        tracing::warn!(orchestra = %o, error = %e, "campaign state not written");
                        break;
                    }
                }
            }
            if let Some(h) = self.held.get_mut(&o) {
                h.rv = rv;
            }
            if !written {
                self.dirty.insert(o);
            }
        }
    }

    /// Takes a control another baton wrote (pause, resume, cancel).
    pub(super) fn adopt(&mut self, c: Control) {
        if c == self.control {
            return;
        }
        let text = format!(
            "campaign {} {} by {}{}",
            self.def.spec.name,
            c.phase.word(),
            c.by,
            if c.why.is_empty() {
                String::new()
            } else {
                format!(": {}", c.why)
            }
        );
        tracing::warn!(campaign = %self.def.spec.name, phase = c.phase.word(), by = %c.by, why = %c.why, "campaign control changed");
        self.say(serde_json::json!({"event": "control", "phase": c.phase.word(), "by": c.by, "why": c.why}), &text);
        self.control = c;
        self.dirty
            .extend(self.held.keys().filter(|o| **o != self.def.home).cloned());
    }

    /// The home orchestra's control, as another baton may have changed it.
    pub(super) async fn read_control(&mut self) {
        let Some(h) = self.held.get(&self.def.home) else {
            return;
        };
        if let Ok(Some(s)) = state::load(&h.client, &self.ns, &self.def.spec.name).await
            && s.control.at_ms > self.control.at_ms
        {
            self.adopt(s.control);
            if let Some(h) = self.held.get_mut(&self.def.home) {
                h.rv = Some(s.resource_version);
            }
        }
    }
}
