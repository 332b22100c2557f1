//! What an engineer asks of a campaign, checked before anything is planned: its name, the
//! operation and its parameters, the selection (the filter language), the canary, the soak, the
//! wave rule and the limits. Pure parsing with errors that name the flag.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::OperationName;
use crate::fleet::catalog;
use crate::fleet::filter::Filter;

/// What to do with a database whose operation's preflight refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnRefusal {
    /// Record the rule and go on with the others.
    #[default]
    Skip,
    /// Pause the campaign.
    Halt,
}

/// The canary: how many databases go first, or which.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Canary {
    Count(usize),
    /// Those of the selection this filter matches.
    Filter(String),
}

/// One step of the wave rule: the databases done by the end of a wave, as a count or a share of
/// the plan (cumulative).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Step {
    Count(usize),
    Percent(f64),
}

/// A campaign as asked for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Spec {
    pub name: String,
    pub operation: OperationName,
    pub params: BTreeMap<String, String>,
    /// The selection, in the filter language.
    pub select: String,
    pub canary: Canary,
    pub soak: Duration,
    /// After the canary; the last wave always takes the rest.
    pub waves: Vec<Step>,
    pub max_parallel: usize,
    pub max_per_orchestra: usize,
    pub on_refusal: OnRefusal,
}

/// The default wave rule after the canary: 5 %, then 25 %, then the rest (`--waves`' default
/// in `cli::campaign` says the same; a unit test keeps them equal).
pub const DEFAULT_WAVES: &str = "5%,25%,100%";

impl Spec {
    /// Checks a campaign as the command line gives it; the error names the flag.
    pub fn check(&self) -> Result<Filter, String> {
        check_name(&self.name)?;
        let spec = catalog::spec(self.operation);
        if !spec.available {
            return Err(format!(
                "{} is not built in this version",
                self.operation.as_str()
            ));
        }
        if !campaignable(self.operation) {
            return Err(format!(
                "a campaign runs one database-wide operation on each database; {} {}",
                self.operation.as_str(),
                if spec.params.iter().any(|p| p.key == "member") {
                    "acts on one member"
                } else {
                    "needs a value of its own for each database"
                }
            ));
        }
        for (k, v) in &self.params {
            if !spec.params.iter().any(|p| p.key == k) {
                let takes: Vec<&str> = spec.params.iter().map(|p| p.key).collect();
                return Err(format!(
                    "--set {k}: {} takes no parameter '{k}' (it takes: {})",
                    self.operation.as_str(),
                    takes.join(", ")
                ));
            }
            catalog::check_value(k, v).map_err(|e| format!("--set {k}: {e}"))?;
        }
        if let Some(p) = spec
            .params
            .iter()
            .find(|p| p.required && !self.params.contains_key(p.key))
        {
            return Err(format!(
                "{} needs --set {}=…: {}",
                self.operation.as_str(),
                p.key,
                p.help
            ));
        }
        if self.params.contains_key("expect-leader") {
            return Err("--set expect-leader names one database's pod; a campaign cannot".into());
        }
        if self.max_parallel == 0 || self.max_per_orchestra == 0 {
            return Err(
                "--max-parallel and --max-per-orchestra must be at least 1 (nothing would run)"
                    .into(),
            );
        }
        match &self.canary {
            Canary::Count(0) => {
                return Err("--canary 0: a campaign starts with at least one database".into());
            }
            Canary::Filter(f) => {
                Filter::parse(f).map_err(|e| format!("--canary: {e}"))?;
            }
            Canary::Count(_) => {}
        }
        Filter::parse(&self.select).map_err(|e| format!("--select: {e}"))
    }
}

/// Operations a campaign can run: database-wide, with parameters that are the same for every
/// database.
pub fn campaignable(op: OperationName) -> bool {
    let spec = catalog::spec(op);
    spec.radius != catalog::BlastRadius::Member
        && !spec.params.iter().any(|p| p.required && p.key == "member")
        && op != OperationName::Restore
}

/// A campaign's name: a DNS label (it names the campaign's Lease and ConfigMaps), at most 40.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--name '{name}': a campaign's name is lower-case letters, digits and '-', starting with a letter, at most 40 (e.g. upgrade-5-26)"
        ))
    }
}

/// `--canary`: a number of databases, or a filter.
pub fn parse_canary(text: &str) -> Canary {
    match text.trim().parse::<usize>() {
        Ok(n) => Canary::Count(n),
        Err(_) => Canary::Filter(text.trim().to_string()),
    }
}

/// `--waves 5%,25%,100%`: cumulative counts or shares, increasing.
pub fn parse_waves(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in text.split(',').map(str::trim) {
        let step = if let Some(p) = part.strip_suffix('%') {
            match p.trim().parse::<f64>() {
                Ok(v) if v > 0.0 && v <= 100.0 => Step::Percent(v),
                _ => {
                    return Err(format!(
                        "--waves: '{part}' is not a share between 0 and 100 %"
                    ));
                }
            }
        } else {
            match part.parse::<usize>() {
                Ok(n) if n > 0 => Step::Count(n),
                _ => {
                    return Err(format!(
                        "--waves: '{part}' is neither a count nor a share (e.g. 5%,25%,100% or 10,100,100%)"
                    ));
                }
            }
        };
        steps.push(step);
    }
    if steps.is_empty() {
        return Err("--waves: give at least one wave, e.g. 5%,25%,100%".into());
    }
    Ok(steps)
}

/// `--soak 10m`: seconds, minutes or hours (`90s`, `10m`, `1h`; a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit())
        .map_or((t, ""), |i| t.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration: write e.g. 90s, 10m or 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => {
            return Err(format!(
                "'{text}' is not a duration: write e.g. 90s, 10m or 1h"
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

/// A duration as a person reads it: `45 s`, `3 m 20 s`, `4 h 10 m`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} m", s / 60),
        60..3600 => format!("{} m {} s", s / 60, s % 60),
        _ => format!("{} h {} m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            name: "upgrade-5-26".into(),
            operation: OperationName::Upgrade,
            params: [("version".to_string(), "5.26.0".to_string())].into(),
            select: "version:5.24 !dedicated".into(),
            canary: Canary::Count(1),
            soak: Duration::from_secs(600),
            waves: parse_waves(DEFAULT_WAVES).unwrap(),
            max_parallel: 50,
            max_per_orchestra: 2,
            on_refusal: OnRefusal::Skip,
        }
    }

    #[test]
    fn a_campaign_is_checked_before_it_is_planned() {
        assert!(spec().check().is_ok());
        let mut s = spec();
        s.params.clear();
        assert!(s.check().unwrap_err().contains("--set version"));
        let mut s = spec();
        s.operation = OperationName::RestartMember;
        assert!(s.check().unwrap_err().contains("acts on one member"));
        let mut s = spec();
        s.operation = OperationName::Restore;
        assert!(s.check().unwrap_err().contains("a value of its own"));
        let mut s = spec();
        s.params.insert("memory".into(), "8Gi".into());
        assert!(
            s.check()
                .unwrap_err()
                .contains("takes no parameter 'memory'")
        );
        let mut s = spec();
        s.select = "colour:red".into();
        assert!(s.check().unwrap_err().starts_with("--select"));
        let mut s = spec();
        s.name = "Upgrade!".into();
        assert!(s.check().unwrap_err().starts_with("--name"));
        let mut s = spec();
        s.max_per_orchestra = 0;
        assert!(s.check().is_err());
        let mut s = spec();
        s.canary = Canary::Count(0);
        assert!(s.check().is_err());
    }

    #[test]
    fn the_command_lines_default_waves_are_these() {
        use clap::Parser as _;
        let cli =
            crate::cli::Cli::try_parse_from(["baton", "campaign", "plan", "upgrade"]).unwrap();
        let Some(crate::cli::Command::Campaign {
            command: crate::cli::campaign::CampaignCommand::Plan(a),
        }) = cli.command
        else {
            panic!("a campaign plan");
        };
        assert_eq!(a.waves, DEFAULT_WAVES);
    }

    #[test]
    fn waves_canaries_and_durations_parse() {
        assert_eq!(
            parse_waves("5%, 25%,100").unwrap(),
            [Step::Percent(5.0), Step::Percent(25.0), Step::Count(100)]
        );
        assert!(parse_waves("0%").is_err());
        assert!(parse_waves("5%,x").is_err());
        assert_eq!(parse_canary("3"), Canary::Count(3));
        assert_eq!(
            parse_canary("orchestra:dev"),
            Canary::Filter("orchestra:dev".into())
        );
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("10 minutes").is_err());
        assert_eq!(human(Duration::from_secs(200)), "3 m 20 s");
        assert_eq!(human(Duration::from_secs(15_000)), "4 h 10 m");
    }
}
