//! Where baton's files live: the config file, user themes, the data dir (logs, audit, lab state).
//! Paths come from `directories`; `BATON_CONFIG` and `BATON_DATA_DIR` override them.

use std::path::PathBuf;

use directories::ProjectDirs;

fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("", "", "baton")
}

/// The platform config dir, e.g. `~/.config/baton` on Linux.
pub fn config_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().to_path_buf())
}

/// `…/baton/config.toml` in the platform config dir.
pub fn default_config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

/// User themes: `…/baton/themes/*.toml` in the platform config dir.
pub fn user_themes_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("themes"))
}

/// The data dir (logs, audit trail, lab state): `BATON_DATA_DIR`, else the platform data dir,
/// e.g. `~/.local/share/baton`.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BATON_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    project_dirs().map(|d| d.data_dir().to_path_buf())
}

/// The log directory inside the data dir.
pub fn log_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("logs"))
}
