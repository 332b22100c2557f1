//! What the supervisor's own tasks tell it (`Inner`: lists and changes from the watches, probe
//! answers, events) folded into its `State`, and the `FleetEvent`s that come of it.

use tokio::time::Instant;

use super::{EVENTS_EVERY, Inner, State, Supervisor, at_server};
use crate::fleet::{DbRef, FleetEvent, PodInfo};
use crate::probe::Endpoint;
use crate::source::now_ms;
use crate::source::route::Route;
use crate::source::watch::Seen;

impl Supervisor {
    /// Names of the open database's objects whose events are shown: member pods, StatefulSets.
    pub(super) fn event_objects(&self, st: &State, db: &DbRef) -> Vec<String> {
        let mut names = st.schedule.member_names(db);
        names.extend(
            st.statefulsets
                .get(db)
                .into_iter()
                .flat_map(|s| s.iter().map(|(name, _)| name.clone())),
        );
        names
    }

    pub(super) fn on_pods(
        &self,
        profile: usize,
        seen: Seen<(DbRef, PodInfo)>,
        st: &mut State,
        now: Instant,
    ) -> Vec<FleetEvent> {
        let orchestra = self.name.clone();
        let profile_name = self.shared.profiles[profile].0.clone();
        let endpoints = |pods: &[(DbRef, PodInfo)]| -> Vec<(DbRef, Endpoint)> {
            pods.iter()
                .map(|(db, p)| (db.clone(), self.endpoint(profile, db, p)))
                .collect()
        };
        match seen {
            Seen::Listed(pods) => {
                st.schedule.members(profile, &endpoints(&pods), true, now);
                let mut out = vec![FleetEvent::Pods {
                    orchestra,
                    profile: profile_name,
                    pods,
                    complete: true,
                }];
                // The pods first: once live, every database is known.
                out.extend(st.connection.listed(profile).map(|c| self.connection(c)));
                out
            }
            Seen::Applied(pod) => {
                let pods = vec![pod];
                st.schedule.members(profile, &endpoints(&pods), false, now);
                vec![FleetEvent::Pods {
                    orchestra,
                    profile: profile_name,
                    pods,
                    complete: false,
                }]
            }
            Seen::Deleted((db, pod)) => {
                st.schedule.gone(&db, &pod.name, now);
                vec![FleetEvent::PodGone {
                    orchestra,
                    db,
                    pod: pod.name,
                }]
            }
            Seen::Failed(f) => st
                .connection
                .watch_failed(profile, f, now_ms())
                .map(|c| self.connection(at_server(c, st.server.as_deref())))
                .into_iter()
                .collect(),
        }
    }

    pub(super) fn on_inner(&self, msg: Inner, st: &mut State) -> Vec<FleetEvent> {
        let now = Instant::now();
        let orchestra = self.name.clone();
        match msg {
            Inner::Pods { profile, seen } => self.on_pods(profile, *seen, st, now),
            Inner::StatefulSets { profile, seen } => {
                let profile_name = self.shared.profiles[profile].0.clone();
                let (sets, complete) = match *seen {
                    Seen::Listed(sets) => {
                        for names in st.statefulsets.values_mut() {
                            names.retain(|(_, p)| *p != profile);
                        }
                        st.statefulsets.retain(|_, names| !names.is_empty());
                        if let Some(a) = st.sets_answered.get_mut(profile) {
                            *a = true;
                        }
                        (sets, true)
                    }
                    Seen::Applied(set) => (vec![set], false),
                    Seen::Deleted((db, set)) => {
                        if let Some(names) = st.statefulsets.get_mut(&db) {
                            names.retain(|(name, _)| *name != set.name);
                        }
                        return vec![FleetEvent::StatefulSetGone {
                            orchestra,
                            db,
                            name: set.name,
                        }];
                    }
                    Seen::Failed(f) => {
                        if let Some(a) = st.sets_answered.get_mut(profile) {
                            *a = true;
                        }
                        tracing::debug!(orchestra = %self.name, ?f, "statefulsets");
                        return Vec::new();
                    }
                };
                for (db, s) in &sets {
                    let names = st.statefulsets.entry(db.clone()).or_default();
                    match names.iter_mut().find(|(name, _)| *name == s.name) {
                        Some(known) => known.1 = profile,
                        None => {
                            names.reserve_exact(1);
                            names.push((s.name.clone(), profile));
                        }
                    }
                }
                vec![FleetEvent::StatefulSets {
                    orchestra,
                    profile: profile_name,
                    sets,
                    complete,
                }]
            }
            Inner::Jobs(seen) => match *seen {
                Seen::Listed(jobs) => vec![FleetEvent::Jobs {
                    orchestra,
                    jobs,
                    complete: true,
                }],
                Seen::Applied(job) => vec![FleetEvent::Jobs {
                    orchestra,
                    jobs: vec![job],
                    complete: false,
                }],
                Seen::Deleted((db, job)) => vec![FleetEvent::JobGone {
                    orchestra,
                    db,
                    name: job.name,
                }],
                Seen::Failed(f) => {
                    tracing::debug!(orchestra = %self.name, ?f, "jobs");
                    Vec::new()
                }
            },
            Inner::Leases(seen) => match *seen {
                Seen::Listed(leases) => {
                    st.leases_answered = true;
                    vec![FleetEvent::OpLeases {
                        orchestra,
                        leases,
                        complete: true,
                    }]
                }
                Seen::Applied(lease) => vec![FleetEvent::OpLeases {
                    orchestra,
                    leases: vec![lease],
                    complete: false,
                }],
                Seen::Deleted((db, lease)) => vec![FleetEvent::OpLeaseGone {
                    orchestra,
                    db,
                    name: lease.name,
                }],
                Seen::Failed(f) => {
                    st.leases_answered = true;
                    tracing::debug!(orchestra = %self.name, ?f, "leases");
                    Vec::new()
                }
            },
            Inner::Campaigns(seen) => match *seen {
                Seen::Listed(campaigns) => vec![FleetEvent::Campaigns {
                    orchestra,
                    campaigns,
                    complete: true,
                }],
                Seen::Applied(c) => vec![FleetEvent::Campaigns {
                    orchestra,
                    campaigns: vec![c],
                    complete: false,
                }],
                Seen::Deleted(c) => vec![FleetEvent::CampaignGone {
                    orchestra,
                    name: c.name,
                }],
                Seen::Failed(f) => {
                    tracing::debug!(orchestra = %self.name, ?f, "campaigns");
                    Vec::new()
                }
            },
            Inner::Zones(zones) => vec![FleetEvent::Zones { orchestra, zones }],
            Inner::Access(access) => vec![FleetEvent::Access { orchestra, access }],
            Inner::Heartbeat(answer) => st
                .connection
                .heartbeat(answer, now_ms())
                .map(|c| self.connection(at_server(c, st.server.as_deref())))
                .into_iter()
                .collect(),
            Inner::Probed(p) => {
                let route = st.route.after(&p.reached);
                if route != st.route {
                    match route {
                        Route::Direct => {
                            tracing::info!(orchestra = %self.name, "probes go directly to pod IPs")
                        }
                        _ => tracing::info!(
                            orchestra = %self.name,
                            "pod IPs unreachable from here; probes go through the API server's pod proxy"
                        ),
                    }
                    st.route = route;
                }
                let shown = st
                    .schedule
                    .answered(&p.db, &p.results, p.healthy, &st.focus, now);
                if !shown {
                    return Vec::new();
                }
                vec![FleetEvent::Probed {
                    orchestra,
                    db: p.db,
                    results: p.results,
                    at_ms: p.at_ms,
                }]
            }
            Inner::Events { key, events } => {
                st.events_in_flight = false;
                st.events_due = now + EVENTS_EVERY;
                events
                    .map(|events| FleetEvent::Events { key: *key, events })
                    .into_iter()
                    .collect()
            }
        }
    }
}
