//! Filtering rules: which discovered repos the catalog mirrors. Include/exclude globs on repo ids and
//! authors (case-insensitive), gated repos on or off, a minimum of downloads, required file kinds. The
//! rules in force are recorded with every run.

use super::mapping::Mirror;
use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

/// The rules as configured (and as recorded with each run).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RuleSpec {
    /// Repo id globs (`litert-community/*`); when set, only matching repos are mirrored.
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    /// Author globs; when set, only these authors are mirrored.
    pub include_authors: Vec<String>,
    pub exclude_authors: Vec<String>,
    /// Mirror gated repos (default true).
    pub allow_gated: Option<bool>,
    /// Minimum upstream downloads (last 30 days).
    pub min_downloads: Option<i64>,
    /// File kinds a repo must contain at least one of: `tflite`, `litertlm`, `task`.
    pub required_files: Vec<String>,
}

/// Compiled rules.
#[derive(Debug, Clone)]
pub struct Rules {
    spec: RuleSpec,
    include: Option<GlobSet>,
    exclude: GlobSet,
    include_authors: Option<GlobSet>,
    exclude_authors: GlobSet,
}

fn glob(pattern: &str) -> Result<Glob, String> {
    GlobBuilder::new(pattern)
        .case_insensitive(true)
        .literal_separator(false)
        .build()
        .map_err(|e| format!("invalid glob '{pattern}': {e}"))
}

fn set(patterns: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(glob(p)?);
    }
    b.build().map_err(|e| e.to_string())
}

impl Rules {
    pub fn new(spec: RuleSpec) -> Result<Rules, String> {
        for kind in &spec.required_files {
            if !matches!(kind.as_str(), "tflite" | "litertlm" | "task") {
                return Err(format!(
                    "unknown required file kind '{kind}' (tflite, litertlm or task)"
                ));
            }
        }
        Ok(Rules {
            include: (!spec.include.is_empty())
                .then(|| set(&spec.include))
                .transpose()?,
            exclude: set(&spec.exclude)?,
            include_authors: (!spec.include_authors.is_empty())
                .then(|| set(&spec.include_authors))
                .transpose()?,
            exclude_authors: set(&spec.exclude_authors)?,
            spec,
        })
    }

    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// `Err(reason)` when the rules exclude the repo.
    pub fn check(&self, m: &Mirror) -> Result<(), String> {
        let id = m.repo_id.as_str();
        let author = m.author();
        if let Some(inc) = &self.include {
            if !inc.is_match(id) {
                return Err("not matched by the include rules".into());
            }
        }
        if self.exclude.is_match(id) {
            return Err("excluded by an exclude rule".into());
        }
        if let Some(inc) = &self.include_authors {
            if !inc.is_match(author) {
                return Err(format!("author '{author}' is not included"));
            }
        }
        if self.exclude_authors.is_match(author) {
            return Err(format!("author '{author}' is excluded"));
        }
        let gated = crate::domain::is_gated(m.gated.as_deref());
        if gated && self.spec.allow_gated == Some(false) {
            return Err("gated repos are not mirrored".into());
        }
        if let Some(min) = self.spec.min_downloads {
            if m.downloads < min {
                return Err(format!(
                    "{} downloads, fewer than the minimum {min}",
                    m.downloads
                ));
            }
        }
        if !self.spec.required_files.is_empty() {
            if let Some(files) = &m.files {
                let found = files.iter().any(|f| {
                    self.spec
                        .required_files
                        .iter()
                        .any(|k| f.to_ascii_lowercase().ends_with(&format!(".{k}")))
                });
                if !found {
                    return Err(format!("no {} file", self.spec.required_files.join("/")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LicenseType;

    fn mirror(id: &str, downloads: i64, gated: Option<&str>, files: &[&str]) -> Mirror {
        Mirror {
            object_id: "6909b87b734dd24dd19da3ef".into(),
            repo_id: id.parse().unwrap(),
            name: id.rsplit('/').next().unwrap().into(),
            card_description: None,
            license_type: LicenseType::Unknown,
            task: None,
            task_inferred: false,
            tags: vec![],
            sha: None,
            last_modified: None,
            created_at: None,
            downloads,
            likes: 0,
            gated: gated.map(str::to_string),
            library_name: None,
            files: Some(files.iter().map(|f| f.to_string()).collect()),
        }
    }

    #[test]
    fn rules_include_exclude_and_threshold() {
        let rules = Rules::new(RuleSpec {
            include: vec!["litert-community/*".into(), "google/*-litert-lm".into()],
            exclude: vec!["*/*-test".into()],
            exclude_authors: vec!["spam*".into()],
            allow_gated: Some(false),
            min_downloads: Some(10),
            required_files: vec!["tflite".into(), "litertlm".into()],
            ..Default::default()
        })
        .unwrap();
        assert!(rules
            .check(&mirror("LiteRT-Community/a", 10, None, &["a.tflite"]))
            .is_ok());
        assert!(rules
            .check(&mirror(
                "google/gemma-litert-lm",
                10,
                Some("false"),
                &["g.litertlm"]
            ))
            .is_ok());
        assert!(rules
            .check(&mirror("other/a", 10, None, &["a.tflite"]))
            .is_err());
        assert!(rules
            .check(&mirror("litert-community/x-test", 10, None, &["a.tflite"]))
            .is_err());
        assert!(rules
            .check(&mirror("litert-community/a", 9, None, &["a.tflite"]))
            .is_err());
        assert!(rules
            .check(&mirror(
                "litert-community/a",
                10,
                Some("auto"),
                &["a.tflite"]
            ))
            .is_err());
        assert!(rules
            .check(&mirror("litert-community/a", 10, None, &["README.md"]))
            .is_err());
        assert!(Rules::new(RuleSpec {
            include: vec!["[".into()],
            ..Default::default()
        })
        .is_err());
        assert!(Rules::new(RuleSpec {
            required_files: vec!["onnx".into()],
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn no_rules_let_everything_through() {
        let rules = Rules::new(RuleSpec::default()).unwrap();
        assert!(rules
            .check(&mirror("spam/x", 0, Some("manual"), &[]))
            .is_ok());
    }
}
