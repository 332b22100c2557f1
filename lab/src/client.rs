//! The client side of the lab's control server, for `baton lab fault` and `baton lab report`:
//! finds the control URL and CA in the kubeconfig's `baton-lab` extension and an operator token
//! among its users.

use std::path::Path;

use serde_json::Value;

use super::LAB_EXTENSION;
use super::control::FaultRequest;

/// Why a control call failed: `Input` (exit 2) or `Failed` (exit 1).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Failed(String),
}

pub struct ControlClient {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl ControlClient {
    /// Reads `kubeconfig` (as kubectl would: YAML or JSON).
    pub fn from_kubeconfig(kubeconfig: &Path) -> Result<Self, ControlError> {
        let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| {
            ControlError::Input(format!(
                "{}: cannot read the kubeconfig: {e}",
                kubeconfig.display()
            ))
        })?;
        let ext = kc
            .extensions
            .as_ref()
            .and_then(|es| es.iter().find(|e| e.name == LAB_EXTENSION))
            .map(|e| e.extension.clone())
            .ok_or_else(|| {
                ControlError::Input(format!(
                    "{}: not a baton lab kubeconfig (no '{LAB_EXTENSION}' extension); use the file `baton lab serve` wrote",
                    kubeconfig.display()
                ))
            })?;
        let field = |k: &str| ext.get(k).and_then(Value::as_str).map(str::to_string);
        let (Some(url), Some(ca)) = (field("control"), field("ca")) else {
            return Err(ControlError::Input(format!(
                "{}: the '{LAB_EXTENSION}' extension lacks control/ca",
                kubeconfig.display()
            )));
        };
        let token = kc
            .auth_infos
            .iter()
            .filter(|a| a.name.ends_with("-operator"))
            .find_map(|a| {
                a.auth_info.as_ref()?.token.as_ref().map(|t| {
                    use secrecy::ExposeSecret;
                    t.expose_secret().to_string()
                })
            })
            .ok_or_else(|| {
                ControlError::Input(format!(
                    "{}: no operator user with a token",
                    kubeconfig.display()
                ))
            })?;
        let cert = reqwest::Certificate::from_pem(ca.as_bytes())
            .map_err(|e| ControlError::Input(format!("lab CA: {e}")))?;
        let http = reqwest::Client::builder()
            .add_root_certificate(cert)
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| ControlError::Failed(format!("HTTP client: {e}")))?;
        Ok(Self { url, token, http })
    }

    async fn answer(
        resp: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Value, ControlError> {
        let resp = resp.map_err(|e| {
            ControlError::Failed(format!(
                "the lab does not answer (is `baton lab serve` running?): {e}"
            ))
        })?;
        let status = resp.status();
        let body: Value = resp
            .json()
            .await
            .map_err(|e| ControlError::Failed(format!("bad answer from the lab: {e}")))?;
        if status.is_success() {
            Ok(body)
        } else {
            let msg = body["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string();
            if status.is_client_error() {
                Err(ControlError::Input(msg))
            } else {
                Err(ControlError::Failed(msg))
            }
        }
    }

    pub async fn fault(&self, req: &FaultRequest) -> Result<Value, ControlError> {
        Self::answer(
            self.http
                .post(format!("{}/lab/v1/fault", self.url))
                .bearer_auth(&self.token)
                .json(req)
                .send()
                .await,
        )
        .await
    }

    pub async fn report(&self) -> Result<Value, ControlError> {
        Self::answer(
            self.http
                .get(format!("{}/lab/v1/report", self.url))
                .bearer_auth(&self.token)
                .send()
                .await,
        )
        .await
    }
}
