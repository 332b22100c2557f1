//! `baton op cancel`: asks the operation in flight on a database to stop, wherever it runs (this
//! bastion, another engineer's, a runner Job in the orchestra): a cancel request on its Lease,
//! which the holder honours after the current action, the database settled. Read-only mode and
//! observer identities cannot (the guard and the API server refuse the patch).

use crate::Exit;
use crate::cli::{GlobalArgs, OpCancelArgs};
use crate::config::Config;
use crate::ops::connect;
use crate::ops::executor::Executor;
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
    let who = crate::ops::record::holder_identity();
    match crate::ops::cancel::request(
        &exec,
        &who,
        crate::ops::audit::Audit::default_path(),
        now_ms(),
    )
    .await
    {
        Ok(r) => {
            println!(
                "cancel requested: {} runs {}; it stops after the current action, the database settled (baton op status shows it end)",
                r.holder, r.summary
            );
            Exit::Ok
        }
        Err(e) => {
            eprintln!("baton: {}", e.say(&id));
            if e.refused() {
                Exit::Refused
            } else {
                Exit::Failed
            }
        }
    }
}
