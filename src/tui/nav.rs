//! Navigation between views: opening a database list (each list with its own filter line), a
//! profile (Esc returns to the list it came from), a member's detail and the operations list, and
//! going back (Esc). `update` calls it for keys and `:` commands, the operation flows to open the
//! database an operation acts on; it imports neither.

use super::model::{Model, Note, Pane, View};
use crate::fleet::DbKey;

/// Makes the filter line the one of the list of `orchestra` (or of the fleet): the filter typed
/// in one list stays with that list, and comes back when it is opened again.
fn use_filter_of(m: &mut Model, orchestra: &Option<String>) {
    if m.filter_list == *orchestra {
        return;
    }
    let mine = m.saved_filters.remove(orchestra).unwrap_or_default();
    let theirs = std::mem::replace(&mut m.filter_input, tui_input::Input::new(mine));
    if !theirs.value().is_empty() {
        m.saved_filters
            .insert(m.filter_list.clone(), theirs.value().to_string());
    }
    m.filter_list = orchestra.clone();
    m.dirty = true;
}

/// Opens the database list of `orchestra` (or of the fleet), at its top.
pub(crate) fn open_list(m: &mut Model, orchestra: Option<String>) {
    use_filter_of(m, &orchestra);
    let target = View::Databases { orchestra };
    if m.view != target {
        m.view = target;
        m.rows.clear();
        m.db_sel = 0;
        m.db_offset = 0;
        m.dirty = true;
    }
}

/// Opens `key`'s profile; Esc goes back to the list it came from.
pub(crate) fn open_profile(m: &mut Model, key: DbKey) {
    let list = match &m.view {
        View::Fleet | View::Operations | View::Campaigns { .. } => Some(key.orchestra.clone()),
        View::Databases { orchestra } => orchestra.clone(),
        View::Profile { list, .. } => list.clone(),
    };
    // The profile belongs to its list (Esc returns to it, with that list's filter).
    use_filter_of(m, &list);
    m.view = View::Profile { key, list };
    m.member_sel = 0;
    m.pane = Pane::Members;
    m.events_offset = 0;
    m.member_detail = false;
    m.dirty = true;
}

/// Enter: the fleet opens the selected orchestra's list, a list (or the operations list) the
/// selected database's profile, a profile its selected member's detail.
pub(crate) fn open(m: &mut Model) {
    match &m.view {
        View::Fleet => {
            if let Some(o) = m.selected_orchestra().map(str::to_string) {
                open_list(m, Some(o));
            }
        }
        View::Databases { .. } => {
            if let Some(k) = m.row(m.db_sel).cloned() {
                open_profile(m, k);
            }
        }
        View::Operations | View::Campaigns { open: Some(_) } => {
            if let Some(k) = m.selected_database() {
                open_profile(m, k);
            }
        }
        View::Campaigns { open: None } => {
            if let Some(name) = m.campaigns.selected().map(str::to_string) {
                m.view = View::Campaigns { open: Some(name) };
                m.campaigns.db_sel = 0;
                m.dirty = true;
            }
        }
        View::Profile { .. } => {
            if m.open_database().is_some_and(|d| !d.members.is_empty()) {
                m.member_detail = true;
                m.pane = Pane::Members;
                m.dirty = true;
            }
        }
    }
}

/// Esc: member detail → profile → its database list (with the database selected) → fleet.
pub(crate) fn back(m: &mut Model) {
    if m.member_detail && matches!(m.view, View::Profile { .. }) {
        m.member_detail = false;
        m.dirty = true;
        return;
    }
    match &m.view {
        View::Profile { key, list } => {
            let key = key.clone();
            m.view = View::Databases {
                orchestra: list.clone(),
            };
            m.refresh();
            if let Some(i) = m.row_of(&key) {
                m.db_sel = i;
            }
        }
        View::Databases { .. } | View::Operations | View::Campaigns { open: None } => {
            m.view = View::Fleet
        }
        View::Campaigns { open: Some(_) } => m.view = View::Campaigns { open: None },
        View::Fleet => {}
    }
    if matches!(m.note, Some(Note::Error(_))) {
        m.note = None;
    }
    m.dirty = true;
}

/// `:campaigns`: every campaign; `:campaign NAME` opens one.
pub(crate) fn open_campaigns(m: &mut Model, open: Option<String>) {
    let target = View::Campaigns { open };
    if m.view != target {
        m.view = target;
        m.campaigns.db_sel = 0;
        m.dirty = true;
    }
}

/// `:ops`: the operations in flight, fleet-wide.
pub(crate) fn open_operations(m: &mut Model) {
    if m.view != View::Operations {
        m.view = View::Operations;
        m.ops.list_sel = 0;
        m.dirty = true;
    }
}
