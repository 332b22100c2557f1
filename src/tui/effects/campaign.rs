//! The campaign effects: a start confirmed in the dashboard, a resume, and a control written,
//! each through the same function as `baton campaign start|resume|pause|cancel`, with the
//! coordinator's lines sent to the dashboard instead of stdout. A coordinator started here runs
//! as one of the dashboard's tasks, with an engine of its own, until the campaign stops or the
//! dashboard quits (then its Lease goes stale and `baton campaign resume` goes on).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Effects, NOT_WIRED, OpsEnv};
use crate::cli::GlobalArgs;
use crate::ops::campaign::coordinator::Say;
use crate::ops::campaign::headless;
use crate::tui::msg::{CampaignCmd, CampaignMsg, Msg};

impl OpsEnv {
    /// The command line this dashboard was started with, as the campaign commands take it.
    fn global(&self) -> GlobalArgs {
        GlobalArgs {
            kubeconfig: self.kubeconfig.clone(),
            contexts: self.contexts.clone(),
            config: None,
            theme: None,
            read_only: self.read_only,
        }
    }
}

/// Sends each line of `say`'s channel as a [`CampaignMsg::Line`] of `name` until the channel
/// closes; the task that does it.
fn forward(name: String, progress: mpsc::Sender<Msg>) -> (Say, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let h = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            let line = CampaignMsg::Line {
                name: name.clone(),
                text,
            };
            if progress.send(Msg::Campaign(line)).await.is_err() {
                return;
            }
        }
    });
    (Say::Lines(tx), h)
}

impl Effects {
    pub(super) fn campaign(&mut self, cmd: CampaignCmd) {
        let env: Option<Arc<OpsEnv>> = self.ops.clone();
        match cmd {
            CampaignCmd::Start { args, databases } => {
                let name = args.name.clone().unwrap_or_default();
                self.spawn(move |progress| async move {
                    let Some(env) = env else {
                        return ended(name, Err(NOT_WIRED.into()));
                    };
                    let (say, lines) = forward(name.clone(), progress);
                    let result = headless::start_confirmed(
                        &env.global(),
                        &env.config,
                        &args,
                        &databases,
                        say,
                    )
                    .await;
                    // Every line before the end (the sender went with the coordinator).
                    let _ = tokio::time::timeout(Duration::from_secs(2), lines).await;
                    ended(name, result)
                });
            }
            CampaignCmd::Resume { name } => self.spawn(move |progress| async move {
                let Some(env) = env else {
                    return ended(name, Err(NOT_WIRED.into()));
                };
                let (say, lines) = forward(name.clone(), progress);
                let a = crate::cli::campaign::CampaignResumeArgs {
                    name: name.clone(),
                    yes: true,
                    timeout: 30,
                    output: crate::cli::OpOutput::Text,
                };
                let result = headless::resume_with(&env.global(), &env.config, a, say)
                    .await
                    .map_err(|(_, m)| m);
                let _ = tokio::time::timeout(Duration::from_secs(2), lines).await;
                ended(name, result)
            }),
            CampaignCmd::Control { name, phase, why } => self.spawn(move |_| async move {
                let result = match env {
                    Some(env) => {
                        headless::write_control(&env.global(), &env.config, &name, phase, &why)
                            .await
                            .map_err(|(_, m)| m)
                    }
                    None => Err(NOT_WIRED.to_string()),
                };
                Msg::Campaign(CampaignMsg::Controlled { name, result })
            }),
        }
    }
}

fn ended(name: String, result: Result<crate::Exit, String>) -> Msg {
    Msg::Campaign(CampaignMsg::Ended { name, result })
}
