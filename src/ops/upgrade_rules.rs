//! Upgrade rules as data, one table per profile: which version changes a rolling `upgrade` may
//! make. Neo4j's upgrade guide forbids a downgrade, a rolling upgrade across a major version
//! (4.4 → 5 is a migration, not a rolling upgrade) and skipping a checkpoint release (5.26 LTS:
//! anything earlier goes to 5.26 first, then on to the 2025.x calendar versions); etcd's allows
//! one minor version at a time and no downgrade. `judge` applies the profile's table (told by the
//! image, as discovery tells a profile's pods) to every StatefulSet still to change. Pure.

use super::observe::StsObs;
use super::safety::Check;

/// Names of the rules, as refusals show them.
pub const DOWNGRADE: &str = "upgrade-no-downgrade";
pub const MAJOR: &str = "upgrade-no-major-roll";
pub const CHECKPOINT: &str = "upgrade-checkpoint";
pub const ONE_MINOR: &str = "upgrade-one-minor-at-a-time";
pub const UNREADABLE: &str = "upgrade-version";
/// The rule a passing judgement is shown under.
pub const RULES: &str = "upgrade-rules";

/// Versions whose first component lies in one of these ranges upgrade into each other by a
/// rolling upgrade; from one family to another is a migration.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub name: &'static str,
    pub majors: &'static [(u64, u64)],
}

/// A release every upgrade must pass through: from before it, only up to it.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    /// The release (first two components).
    pub release: [u64; 2],
    pub name: &'static str,
}

/// One profile's upgrade rules.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub profile: &'static str,
    /// Where the profile's image repository has this, the rules apply.
    pub image: &'static str,
    /// Tag suffixes that are not part of the version (`-enterprise`, etcd's `-0`).
    pub tag_suffixes: &'static [&'static str],
    pub families: &'static [Family],
    pub checkpoints: &'static [Checkpoint],
    /// The minor version may go up by one at most (etcd).
    pub one_minor_at_a_time: bool,
    /// Where the rules come from, for the refusal.
    pub guide: &'static str,
}

pub static PROFILES: &[Rules] = &[
    Rules {
        profile: "neo4j",
        image: "neo4j",
        tag_suffixes: &["-enterprise", "-community"],
        families: &[
            Family {
                name: "Neo4j 3",
                majors: &[(3, 3)],
            },
            Family {
                name: "Neo4j 4",
                majors: &[(4, 4)],
            },
            Family {
                name: "Neo4j 5 and the calendar versions (2025.x and later)",
                majors: &[(5, 5), (2025, u64::MAX)],
            },
        ],
        checkpoints: &[Checkpoint {
            release: [5, 26],
            name: "5.26 LTS",
        }],
        one_minor_at_a_time: false,
        guide: "Neo4j's upgrade guide",
    },
    Rules {
        profile: "etcd",
        image: "etcd",
        tag_suffixes: &["-0"],
        families: &[Family {
            name: "etcd 3",
            majors: &[(3, 3)],
        }],
        checkpoints: &[],
        one_minor_at_a_time: true,
        guide: "etcd's upgrade guide",
    },
    Rules {
        profile: "dynomite",
        image: "dynomite",
        tag_suffixes: &[],
        families: &[],
        checkpoints: &[],
        one_minor_at_a_time: false,
        guide: "Dynomite's release notes",
    },
];

/// The rules of the profile whose images look like `image`.
pub fn for_image(image: &str) -> Option<&'static Rules> {
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    PROFILES.iter().find(|r| last.contains(r.image))
}

/// The version in a tag: `5.26.0-enterprise` → `5.26.0`.
pub fn version_of<'a>(rules: &Rules, tag: &'a str) -> &'a str {
    let mut t = tag;
    for s in rules.tag_suffixes {
        t = t.strip_suffix(s).unwrap_or(t);
    }
    t
}

/// A version as numbers: `5.26.0` → [5, 26, 0], `2025.01.0` → [2025, 1, 0].
pub fn parse(rules: &Rules, tag: &str) -> Option<Vec<u64>> {
    let t = version_of(rules, tag);
    let parts: Option<Vec<u64>> = t.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// The tag of an image (`neo4j:5.26.0-enterprise` → `5.26.0-enterprise`).
pub fn tag(image: &str) -> &str {
    match image.rsplit_once(':') {
        Some((_, t)) if !t.contains('/') => t,
        _ => "",
    }
}

fn release(v: &[u64]) -> [u64; 2] {
    [
        v.first().copied().unwrap_or(0),
        v.get(1).copied().unwrap_or(0),
    ]
}

fn family<'a>(rules: &'a Rules, v: &[u64]) -> Option<&'a Family> {
    let major = v.first().copied().unwrap_or(0);
    rules
        .families
        .iter()
        .find(|f| f.majors.iter().any(|(lo, hi)| (*lo..=*hi).contains(&major)))
}

/// Whether a rolling upgrade from `from` to `to` is allowed by `rules`: the passing check, or
/// the refusal naming the rule.
pub fn allowed(rules: &Rules, from: &str, to: &str) -> Check {
    let (Some(f), Some(t)) = (parse(rules, from), parse(rules, to)) else {
        return Check::fail(
            UNREADABLE,
            None,
            format!(
                "cannot order '{from}' and '{to}' as {} versions (numbers separated by dots): the {} rules cannot be checked",
                rules.profile, rules.profile
            ),
        );
    };
    let (fs, ts) = (version_of(rules, from), version_of(rules, to));
    if t < f {
        return Check::fail(
            DOWNGRADE,
            None,
            format!(
                "{ts} is older than the running {fs}: a downgrade is not a rolling upgrade ({}); restore a backup taken on {ts} instead",
                rules.guide
            ),
        );
    }
    if !rules.families.is_empty() {
        let (ff, tf) = (family(rules, &f), family(rules, &t));
        if ff.map(|x| x.name) != tf.map(|x| x.name) || ff.is_none() {
            return Check::fail(
                MAJOR,
                None,
                format!(
                    "{fs} → {ts} crosses major versions ({} → {}): that is a migration, not a rolling upgrade ({})",
                    ff.map_or("unknown", |x| x.name),
                    tf.map_or("unknown", |x| x.name),
                    rules.guide
                ),
            );
        }
    }
    for cp in rules.checkpoints {
        if release(&f) < cp.release && release(&t) > cp.release {
            return Check::fail(
                CHECKPOINT,
                None,
                format!(
                    "{fs} → {ts} skips the checkpoint release {}: upgrade to {}.{} first, then on to {ts} ({})",
                    cp.name, cp.release[0], cp.release[1], rules.guide
                ),
            );
        }
    }
    if rules.one_minor_at_a_time
        && f.first() == t.first()
        && release(&t)[1] > release(&f)[1].saturating_add(1)
    {
        return Check::fail(
            ONE_MINOR,
            None,
            format!(
                "{fs} → {ts} skips a minor version: go one minor version at a time ({})",
                rules.guide
            ),
        );
    }
    Check::pass(
        RULES,
        format!(
            "{fs} → {ts}: no downgrade, same major line, no checkpoint skipped ({} rules)",
            rules.profile
        ),
    )
}

/// Judges an upgrade to `version` of the database's StatefulSets: every one not yet at
/// `version` must be allowed to go there. None when no StatefulSet has a profile with rules.
pub fn judge(version: &str, statefulsets: &[StsObs]) -> Option<Check> {
    let mut pass = None;
    for s in statefulsets {
        let Some(rules) = for_image(&s.image) else {
            continue;
        };
        let from = tag(&s.image);
        if parse(rules, from) == parse(rules, version) && parse(rules, from).is_some() {
            continue;
        }
        let c = allowed(rules, from, version);
        if !c.ok {
            return Some(c);
        }
        pass.get_or_insert(c);
    }
    pass
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neo4j() -> &'static Rules {
        for_image("neo4j:5.26.0-enterprise").unwrap()
    }

    #[test]
    fn the_profile_is_told_by_the_image() {
        assert_eq!(neo4j().profile, "neo4j");
        assert_eq!(
            for_image("registry.k8s.io/etcd:3.5.17-0").unwrap().profile,
            "etcd"
        );
        assert!(for_image("redis:7").is_none());
        assert_eq!(
            parse(neo4j(), "2025.01.0-enterprise"),
            Some(vec![2025, 1, 0])
        );
        assert_eq!(parse(neo4j(), "latest"), None);
        assert_eq!(tag("registry.local:5000/neo4j:5.20.0"), "5.20.0");
    }

    #[test]
    fn neo4j_table_of_versions() {
        let cases: &[(&str, &str, &str)] = &[
            // from, to, the rule (RULES: allowed)
            ("5.20.0", "5.26.0", RULES),
            ("5.26.0", "5.26.5", RULES),
            ("5.26.0", "2025.01.0", RULES),
            ("5.26.12", "2025.06.1", RULES),
            ("2025.01.0", "2025.03.0", RULES),
            ("2025.11.0", "2026.01.0", RULES),
            ("4.4.41", "4.4.42", RULES),
            ("5.26.0", "5.27.0", RULES),
            ("5.20.0", "2025.01.0", CHECKPOINT),
            ("5.20.0", "5.27.0", CHECKPOINT),
            ("5.1.0", "2026.02.0", CHECKPOINT),
            ("4.4.41", "5.26.0", MAJOR),
            ("4.4.41", "2025.01.0", MAJOR),
            ("3.5.35", "4.4.41", MAJOR),
            ("5.26.0", "5.20.0", DOWNGRADE),
            ("2025.01.0", "5.26.0", DOWNGRADE),
            ("5.26.1", "5.26.0", DOWNGRADE),
            ("5.26.0", "4.4.41", DOWNGRADE),
            ("5.26.0", "latest", UNREADABLE),
        ];
        for (from, to, rule) in cases {
            let c = allowed(neo4j(), from, to);
            assert_eq!(c.rule, *rule, "{from} → {to}: {}", c.line());
            assert_eq!(c.ok, *rule == RULES, "{from} → {to}: {}", c.line());
        }
        let c = allowed(neo4j(), "5.20.0", "2025.01.0");
        assert!(c.detail.contains("5.26 LTS"), "{}", c.detail);
        assert!(c.detail.contains("upgrade to 5.26 first"), "{}", c.detail);
        let c = allowed(neo4j(), "4.4.41", "5.26.0");
        assert!(c.detail.contains("migration"), "{}", c.detail);
    }

    #[test]
    fn etcd_goes_one_minor_version_at_a_time() {
        let etcd = for_image("registry.k8s.io/etcd:3.5.17-0").unwrap();
        assert!(allowed(etcd, "3.5.17-0", "3.6.0-0").ok);
        assert!(allowed(etcd, "3.5.17-0", "3.5.21-0").ok);
        assert_eq!(allowed(etcd, "3.4.30-0", "3.6.0-0").rule, ONE_MINOR);
        assert_eq!(allowed(etcd, "3.5.17-0", "3.4.30-0").rule, DOWNGRADE);
    }

    #[test]
    fn judge_looks_at_every_statefulset_still_to_change() {
        let sts = |name: &str, image: &str| StsObs {
            name: name.into(),
            replicas: 1,
            image: image.into(),
            ..StsObs::default()
        };
        // Mid-roll (a resume): one already at the target, the rest judged.
        let obs = vec![
            sts("orders-1", "neo4j:5.26.0-enterprise"),
            sts("orders-2", "neo4j:5.20.0-enterprise"),
        ];
        assert!(judge("5.26.0", &obs).unwrap().ok);
        assert_eq!(judge("2025.01.0", &obs).unwrap().rule, CHECKPOINT);
        // Already at the version everywhere: nothing to judge.
        assert!(judge("5.26.0", &obs[..1]).is_none());
        assert!(judge("1.0", &[sts("cache", "redis:7")]).is_none());
    }
}
