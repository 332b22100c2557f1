//! `baton op cancel`: asks the operation in flight on a database to stop, wherever it runs (this
//! bastion, another engineer's, a runner Job in the orchestra): a cancel request on its Lease,
//! which the holder honours after the current action, the database settled. Read-only mode and
//! observer identities cannot (the guard and the API server refuse the patch).

use crate::Exit;
use crate::cli::{GlobalArgs, OpCancelArgs};
use crate::config::Config;
use crate::ops::connect;
use crate::ops::executor::{ExecError, Executor};
use crate::ops::record::{self, Lock};
use crate::source::now_ms;

pub(super) async fn cancel(global: &GlobalArgs, config: &Config, args: OpCancelArgs) -> Exit {
    let read_only = connect::read_only(global.read_only, config)
        || connect::orchestra_read_only(config, &args.target.orchestra);
    if read_only {
        eprintln!(
            "baton: refused (read-only): baton runs read-only (--read-only or the config); it cannot cancel"
        );
        return Exit::Refused;
    }
    let exec = match connect::executor(
        global.kubeconfig.as_deref(),
        config,
        read_only,
        &args.target,
    )
    .await
    {
        Ok(e) => e,
        Err((code, m)) => {
            eprintln!("baton: {m}");
            return code;
        }
    };
    let id = exec.database_id();
    let lease = match exec.get_lease().await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("baton: cannot read the operation Lease of {id}: {e}");
            return Exit::Failed;
        }
    };
    match record::classify(lease.as_ref(), now_ms()) {
        Lock::Held {
            holder, summary, ..
        } => {
            let by = format!(
                "{} ({}) at {}",
                record::holder_identity(),
                exec.identity(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            let audit = crate::ops::audit::Audit::new(
                crate::ops::audit::Audit::default_path(),
                &record::holder_identity(),
                &exec.identity(),
                "cancel",
                &id,
            );
            let object = format!("lease/{}", crate::ops::kube::lease_name(&exec.database));
            match exec.request_cancel(&by).await {
                Ok(()) => {
                    audit.record("patch", &object, "ok: cancel requested");
                    println!(
                        "cancel requested: {holder} runs {summary}; it stops after the current action, the database settled (baton op status shows it end)"
                    );
                    Exit::Ok
                }
                Err(e) => {
                    audit.record("patch", &object, &e.to_string());
                    eprintln!("baton: cannot ask {holder} to cancel on {id}: {e}");
                    match e {
                        ExecError::Forbidden(_) | ExecError::ReadOnly(_) => Exit::Refused,
                        _ => Exit::Failed,
                    }
                }
            }
        }
        Lock::Stale {
            holder, summary, ..
        } => {
            eprintln!(
                "baton: nothing runs to cancel on {id}: {summary} was interrupted ({holder} stopped renewing); resume it with baton op resume --take-over, or leave it"
            );
            Exit::Failed
        }
        Lock::Free | Lock::Finished { .. } => {
            eprintln!("baton: no operation is in flight on {id}");
            Exit::Failed
        }
    }
}
