//! `baton campaign status`, `pause` and `cancel`: the campaigns as the orchestras hold them
//! (any baton sees every campaign and its progress: no state on the bastion), and the control
//! written on the home orchestra at the version read, for the coordinator to take at its
//! next look.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};

use super::super::lock;
use super::super::run::DbState;
use super::super::state::{self, Control, Phase, SaveError};
use super::super::view::{self, Campaign};
use super::start::find;
use crate::Exit;
use crate::cli::campaign::{CampaignControlArgs, CampaignStatusArgs};
use crate::cli::{GlobalArgs, OpOutput};
use crate::config::Config;
use crate::ops::audit::Audit;
use crate::ops::connect;
use crate::source::now_ms;
use crate::source::objects::{CAMPAIGN_LABEL, MANAGED_BY_BATON};

/// A campaign as the orchestras hold it, and who coordinates it.
struct Seen {
    c: Campaign,
    coordinator: String,
}

pub async fn status(global: &GlobalArgs, config: &Config, a: CampaignStatusArgs) -> Exit {
    let targets = match crate::source::targets(
        global.kubeconfig.as_deref(),
        &global.contexts,
        config,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("baton: {e}");
            return Exit::Usage;
        }
    };
    let ns = &config.operations.namespace;
    let now = now_ms();
    let mut records = Vec::new();
    let mut clients = BTreeMap::new();
    let mut unread = Vec::new();
    for t in targets
        .iter()
        .filter(|t| matches!(t.origin, crate::source::targets::Origin::Kube(_)))
    {
        let client =
            match connect::client_of(global.kubeconfig.as_deref(), config, &t.name, true).await {
                Ok((c, _)) => c,
                Err((_, m)) => {
                    unread.push((t.name.clone(), m));
                    continue;
                }
            };
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        let list = match api
            .list(&ListParams::default().labels(&format!("{MANAGED_BY_BATON},{CAMPAIGN_LABEL}")))
            .await
        {
            Ok(l) => l,
            Err(e) => {
                unread.push((t.name.clone(), crate::probe::kube_reason(&e)));
                continue;
            }
        };
        clients.insert(t.name.clone(), client);
        for cm in &list.items {
            match state::of_configmap(cm) {
                Ok(s) if a.name.as_ref().is_none_or(|n| *n == s.definition.spec.name) => {
                    records.push((t.name.clone(), s));
                }
                Ok(_) => {}
                Err(e) => unread.push((t.name.clone(), e)),
            }
        }
    }
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for (name, c) in view::merge(records) {
        let coordinator = match clients.get(&c.def.home) {
            Some(client) => match lock::look(client, ns, &name).await {
                Ok(Some(h)) if h.live(now) => {
                    format!("{} (renewed {} s ago)", h.holder, h.age_s(now))
                }
                Ok(Some(h)) if !h.holder.is_empty() => {
                    format!("none: {} stopped renewing {} s ago", h.holder, h.age_s(now))
                }
                Ok(_) => "none".into(),
                Err(e) => format!("unknown: {e}"),
            },
            None => "unknown: its home orchestra was not read".into(),
        };
        seen.insert(name, Seen { c, coordinator });
    }
    if let Some(n) = &a.name
        && !seen.contains_key(n)
    {
        eprintln!("baton: no campaign {n} in namespace {ns} of the orchestras read");
        return Exit::Usage;
    }
    match a.output {
        OpOutput::Json => {
            let v: Vec<serde_json::Value> = seen
                .iter()
                .map(|(name, s)| {
                    let (wave, waves) = s.c.wave();
                    let (per_min, eta) = s.c.pace(now);
                    serde_json::json!({
                        "name": name,
                        "operation": s.c.def.spec.operation.as_str(),
                        "params": s.c.def.spec.params,
                        "home": s.c.def.home,
                        "created_by": s.c.def.created_by,
                        "created_ms": s.c.def.created_ms,
                        "control": s.c.control,
                        "coordinator": s.coordinator,
                        "wave": wave,
                        "waves": waves,
                        "counts": {"done": s.c.count("done"), "running": s.c.count("running"), "pending": s.c.count("pending"), "skipped": s.c.count("skipped"), "failed": s.c.count("failed")},
                        "per_minute": per_min,
                        "eta_minutes": eta,
                        "databases": s.c.states.iter().map(|(k, st)| serde_json::json!({"database": k.id(), "state": st})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let unread: Vec<_> = unread
                .iter()
                .map(|(o, why)| serde_json::json!({"orchestra": o, "why": why}))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"campaigns": v, "unread": unread})
                )
                .unwrap_or_default()
            );
        }
        OpOutput::Text => {
            if seen.is_empty() {
                println!("no campaigns in namespace {ns}");
            }
            for (name, s) in &seen {
                let (wave, waves) = s.c.wave();
                let (per_min, eta) = s.c.pace(now);
                let total = s.c.states.len().max(1);
                let ended = s.c.states.values().filter(|st| st.ended()).count();
                let bar_len = 20;
                let filled = ended * bar_len / total;
                println!(
                    "{name}  {} {}  [{}{}] {ended}/{}  wave {}/{waves}  done {} · running {} · pending {} · skipped {} · failed {}  {:.1}/min{}",
                    s.c.def.spec.operation.as_str(),
                    s.c.phase(),
                    "#".repeat(filled),
                    ".".repeat(bar_len - filled),
                    s.c.states.len(),
                    wave.map_or("-".into(), |w| w.to_string()),
                    s.c.count("done"),
                    s.c.count("running"),
                    s.c.count("pending"),
                    s.c.count("skipped"),
                    s.c.count("failed"),
                    per_min,
                    eta.map(|m| format!(" · ETA {m:.0} min"))
                        .unwrap_or_default()
                );
                if let Some(c) = &s.c.control
                    && c.phase != Phase::Running
                {
                    println!(
                        "  {} by {}{}{}",
                        c.phase.word(),
                        c.by,
                        c.database
                            .as_ref()
                            .map(|e| format!(" on {}", e.key().id()))
                            .unwrap_or_default(),
                        if c.why.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", c.why)
                        }
                    );
                }
                println!("  coordinator: {}", s.coordinator);
                if a.name.is_some() {
                    for (k, st) in &s.c.states {
                        let detail = match st {
                            DbState::Skipped { rule } => rule.clone(),
                            DbState::Failed { why } => why.clone(),
                            DbState::Running { holder, .. } => format!("held by {holder}"),
                            DbState::Done { at_goal: true, .. } => "already at the goal".into(),
                            _ => String::new(),
                        };
                        println!(
                            "    {:<8} {}{}",
                            st.word(),
                            k.id(),
                            if detail.is_empty() {
                                String::new()
                            } else {
                                format!(": {detail}")
                            }
                        );
                    }
                }
            }
            for (o, why) in &unread {
                println!("orchestra {o} not read: {why}");
            }
        }
    }
    if unread.is_empty() {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// `pause` and `cancel`: the home orchestra's control set at the version read.
pub async fn control(
    global: &GlobalArgs,
    config: &Config,
    a: CampaignControlArgs,
    phase: Phase,
) -> Exit {
    match write_control(global, config, &a.name, phase, &a.why).await {
        Ok(text) => {
            println!("done: {text}");
            Exit::Ok
        }
        Err((code, m)) => {
            eprintln!("baton: {m}");
            code
        }
    }
}

/// Writes `phase` (paused, cancelled) as campaign `name`'s control on its home orchestra, at
/// the version read (read again on a 409), audits it and posts the notice. Ok: what was done.
pub async fn write_control(
    global: &GlobalArgs,
    config: &Config,
    name: &str,
    phase: Phase,
    why: &str,
) -> Result<String, (Exit, String)> {
    if connect::read_only(global.read_only, config) {
        return Err((
            Exit::Refused,
            "refused (read-only): a campaign's control is a change".into(),
        ));
    }
    let found = find(global, config, name).await?;
    let ns = &config.operations.namespace;
    let holder = crate::ops::record::holder_identity();
    let Some(home) = found
        .values()
        .next()
        .map(|(_, s)| s.definition.home.clone())
    else {
        return Err((Exit::Usage, format!("no campaign {name}")));
    };
    let Some((client, mut s)) = found.get(&home).cloned() else {
        return Err((
            Exit::Failed,
            format!("the home orchestra {home} of campaign {name} holds no record"),
        ));
    };
    for _ in 0..3 {
        if matches!(s.control.phase, Phase::Finished | Phase::Cancelled) {
            return Err((
                Exit::Usage,
                format!("campaign {name} is {} already", s.control.phase.word()),
            ));
        }
        let control = Control::new(phase, &holder, why, now_ms());
        match state::save(
            &client,
            ns,
            &s.definition,
            &control,
            &s.states,
            Some(&s.resource_version),
        )
        .await
        {
            Ok(_) => {
                let text = format!(
                    "campaign {name} {} by {holder}{}: nothing new starts; what runs finishes, then its coordinator stops",
                    phase.word(),
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(" ({why})")
                    }
                );
                Audit::new(
                    Audit::default_path(),
                    &holder,
                    "campaign",
                    &format!("campaign {name}"),
                    "",
                )
                .record(
                    phase.word(),
                    &format!("configmap/{ns}/{}{name}", state::PREFIX),
                    "ok",
                );
                if let Some(url) = crate::ops::audit::webhook_from_env(
                    config.operations.webhook_url_env.as_deref(),
                ) && let Err(e) = crate::ops::audit::post_webhook(
                    &url,
                    &text,
                    serde_json::json!({"campaign": name}),
                )
                .await
                {
                    tracing::warn!(error = %e, "campaign notice not posted");
                    return Ok(format!("{text} (the notice was not posted: {e})"));
                }
                return Ok(text);
            }
            Err(SaveError::Conflict(_)) => match state::load(&client, ns, name).await {
                Ok(Some(again)) => s = again,
                Ok(None) => break,
                Err(e) => return Err((Exit::Failed, e.to_string())),
            },
            Err(SaveError::Failed(e)) => {
                return Err((
                    Exit::Failed,
                    format!("cannot write campaign {name}'s control: {e}"),
                ));
            }
        }
    }
    Err((
        Exit::Failed,
        format!("campaign {name}'s record kept changing; try again"),
    ))
}
