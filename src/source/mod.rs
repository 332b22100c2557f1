//! Where the fleet comes from. So far: one-shot snapshots of Kubernetes orchestras for
//! `baton status` (`kube`): orchestras from the kubeconfig, databases discovered by profile
//! labels, members probed through the API server's pod proxy. The long-running supervisors with
//! watchers (for the TUI) come with the rest of issue 5.

pub mod kube;
