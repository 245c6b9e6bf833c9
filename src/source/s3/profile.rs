//! The shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`, or
//! `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`), read as the AWS CLI reads them: a profile's
//! settings are its section in both files, the credentials file's winning; `[sso-session NAME]`
//! sections are kept by that name.

use super::S3Error;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One profile's settings, credentials file over config file.
#[derive(Debug, Clone)]
pub struct Profile {
    pub name: String,
    values: BTreeMap<String, String>,
}

impl Profile {
    pub fn get(&self, key: &str) -> Option<String> {
        self.values.get(key).cloned()
    }

    /// The static keys it holds, with their session token if any.
    pub fn keys(&self) -> Option<(String, String, Option<String>)> {
        Some((
            self.get("aws_access_key_id")?,
            self.get("aws_secret_access_key")?,
            self.get("aws_session_token"),
        ))
    }
}

/// Both files, parsed.
#[derive(Debug, Default)]
pub struct Files {
    config: BTreeMap<String, BTreeMap<String, String>>,
    credentials: BTreeMap<String, BTreeMap<String, String>>,
}

impl Files {
    /// The user's files (missing ones are empty).
    pub fn read() -> Files {
        Files {
            config: read("AWS_CONFIG_FILE", "config"),
            credentials: read("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        }
    }

    #[cfg(test)]
    pub fn parse(config: &str, credentials: &str) -> Files {
        Files {
            config: sections(config),
            credentials: sections(credentials),
        }
    }

    /// The profile `name`, if either file has it.
    pub fn find(&self, name: &str) -> Option<Profile> {
        if !self.config.contains_key(name) && !self.credentials.contains_key(name) {
            return None;
        }
        let mut values = self.config.get(name).cloned().unwrap_or_default();
        values.extend(self.credentials.get(name).cloned().unwrap_or_default());
        Some(Profile {
            name: name.to_string(),
            values,
        })
    }

    /// A profile the user named: it must exist.
    pub fn load(&self, name: &str) -> Result<Profile, S3Error> {
        self.find(name).ok_or_else(|| {
            S3Error::Config(format!(
                "no profile {name:?} in the shared config or credentials files \
                 (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE, \
                 AWS_SHARED_CREDENTIALS_FILE)"
            ))
        })
    }

    /// The config file's `[sso-session NAME]` section.
    pub fn sso_session(&self, name: &str) -> Option<&BTreeMap<String, String>> {
        self.config.get(&format!("sso-session {name}"))
    }
}

fn home_file(var: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    Some(home()?.join(".aws").join(name))
}

/// The user's home folder.
pub fn home() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The sections of an INI file, by name (`[profile NAME]` as `NAME`).
fn sections(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = name.strip_prefix("profile ").unwrap_or(name).trim();
            current = Some(name.to_string());
            out.entry(name.to_string()).or_default();
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            out.entry(section.clone())
                .or_default()
                .insert(k.trim().to_lowercase(), v.trim().to_string());
        }
    }
    out
}

fn read(var: &str, name: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    home_file(var, name)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| sections(&t))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_read_from_both_files_credentials_first() {
        let config = "[default]\nregion = eu-west-1\n\n[profile audit]\nregion = us-east-2\n\
                      sso_session = corp\naws_access_key_id = FROMCONFIG\n\n\
                      [sso-session corp]\nsso_region = eu-west-1\n";
        let credentials = "[audit]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n";
        let files = Files::parse(config, credentials);
        assert_eq!(
            files.find("default").unwrap().get("region").unwrap(),
            "eu-west-1"
        );
        let audit = files.load("audit").unwrap();
        assert_eq!(audit.get("sso_session").unwrap(), "corp");
        assert_eq!(audit.keys().unwrap().0, "AKIA1");
        assert_eq!(
            files.sso_session("corp").unwrap()["sso_region"],
            "eu-west-1"
        );
        assert!(files.load("nobody").is_err());
    }
}
