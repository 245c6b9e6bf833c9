//! Settings people set once: the `KEYTRAIL_*` variables every such flag reads (clap's `env`),
//! and a settings file at the platform's usual place that sets the same variables.
//!
//! Precedence, highest first: the flag on the command line, the variable in the environment,
//! the settings file, the built-in default. `keytrail config` shows each setting's value and
//! where it came from.

use clap::CommandFactory;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The variable naming another settings file (empty: none).
pub const PATH_VARIABLE: &str = "KEYTRAIL_CONFIG";
/// The prefix of every setting's variable.
const PREFIX: &str = "KEYTRAIL_";

/// A setting: the flags that read it, and its default.
#[derive(Debug, Clone, Default)]
pub struct Setting {
    pub flags: Vec<String>,
    /// As `--help` shows it; `None` where the default is computed (threads: one per core).
    pub default: Option<String>,
}

/// The variables a setting can come from, each with the flags that read it, from the clap
/// definitions: every flag with an `env`.
pub fn variables() -> BTreeMap<String, Setting> {
    let mut out: BTreeMap<String, Setting> = BTreeMap::new();
    let cli = super::args::Cli::command();
    for command in cli.get_subcommands() {
        for arg in command.get_arguments() {
            let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
                continue;
            };
            let setting = out.entry(env.to_string_lossy().into_owned()).or_default();
            let flag = format!("--{long}");
            if !setting.flags.contains(&flag) {
                setting.flags.push(flag);
            }
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                setting.default = Some(defaults.join(","));
            }
        }
    }
    out
}

/// Where the settings file is looked for: `KEYTRAIL_CONFIG`, else `keytrail/config.toml` in the
/// platform's configuration folder (`$XDG_CONFIG_HOME` or `~/.config` on Linux and BSD,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows).
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(PATH_VARIABLE) {
        return (!p.is_empty()).then(|| PathBuf::from(p));
    }
    let var = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        var("APPDATA")
    } else if cfg!(target_os = "macos") {
        var("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        var("XDG_CONFIG_HOME").or_else(|| var("HOME").map(|h| h.join(".config")))
    };
    Some(base?.join("keytrail").join("config.toml"))
}

/// A setting the file gave, and the line it is on.
#[derive(Debug, Clone, PartialEq)]
pub struct FromFile {
    pub value: String,
    pub line: usize,
}

/// The settings a file gives, by variable. Keys are the variables' names without `KEYTRAIL_`,
/// in lower case (`threads = 4`, `price_per_10k = 0.03`, `quotas = ["us-east-1=150000"]`).
pub fn parse(text: &str) -> Result<BTreeMap<String, FromFile>, String> {
    let known = variables();
    let table: toml::Table = toml::from_str(text).map_err(|e| crate::text::toml_error(text, &e))?;
    // Spans of the keys, for line numbers: toml's Table does not keep them, so find each key at
    // the start of a line.
    let line_of = |key: &str| {
        text.lines()
            .position(|l| {
                let l = l.trim_start();
                l.strip_prefix(key)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map_or(1, |i| i + 1)
    };
    let mut out = BTreeMap::new();
    for (key, value) in &table {
        let var = format!("{PREFIX}{}", key.to_ascii_uppercase());
        if !known.contains_key(&var) || key.contains(|c: char| c.is_ascii_uppercase()) {
            let names: Vec<String> = known
                .keys()
                .map(|k| k[PREFIX.len()..].to_ascii_lowercase())
                .collect();
            return Err(format!(
                "line {}: unknown setting `{key}`; the settings are: {}",
                line_of(key),
                names.join(", ")
            ));
        }
        let scalar = |v: &toml::Value| match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Integer(i) => Some(i.to_string()),
            toml::Value::Float(f) => Some(f.to_string()),
            toml::Value::Boolean(b) => Some(b.to_string()),
            _ => None,
        };
        let text_value = match value {
            toml::Value::Array(items) => items
                .iter()
                .map(scalar)
                .collect::<Option<Vec<_>>>()
                .map(|v| v.join(",")),
            v => scalar(v),
        }
        .ok_or_else(|| {
            format!(
                "line {}: `{key}` takes a string, a number or a list of them",
                line_of(key)
            )
        })?;
        out.insert(
            var,
            FromFile {
                value: text_value,
                line: line_of(key),
            },
        );
    }
    Ok(out)
}

/// What the settings file gave, once it is read: its path, and the variables it set.
static LOADED: OnceLock<(Option<PathBuf>, BTreeMap<String, FromFile>)> = OnceLock::new();

/// Reads the settings file, if there is one, and sets each variable it gives that the
/// environment does not set already. Called by `main` before the arguments are parsed (clap
/// then reads the variables), while the process has one thread.
pub fn load() -> Result<(), String> {
    let path = path();
    let text = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(format!(
                    "cannot read the settings file {}: {e}",
                    p.display()
                ))
            }
        },
        None => None,
    };
    let mut applied = BTreeMap::new();
    if let (Some(p), Some(text)) = (&path, text) {
        let settings =
            parse(&text).map_err(|e| format!("the settings file {}: {e}", p.display()))?;
        for (var, from) in settings {
            if std::env::var_os(&var).is_none() {
                // Single-threaded here: nothing else reads the environment yet.
                std::env::set_var(&var, &from.value);
                applied.insert(var, from);
            }
        }
    }
    let _ = LOADED.set((path, applied));
    Ok(())
}

/// `keytrail config`: where the settings file is, and each setting's value and source.
pub fn report() -> String {
    let (path, applied) = LOADED.get().cloned().unwrap_or_default();
    let mut out = match &path {
        Some(p) if p.exists() => format!("settings file: {} (read)\n", p.display()),
        Some(p) => format!("settings file: {} (none there)\n", p.display()),
        None => format!("settings file: none ({PATH_VARIABLE} is empty)\n"),
    };
    out.push_str(
        "precedence: the flag, then the variable, then the settings file, then the default\n\n",
    );
    for (var, setting) in variables() {
        let key = var[PREFIX.len()..].to_ascii_lowercase();
        let line = match (applied.get(&var), std::env::var(&var)) {
            (Some(from), _) => {
                format!("{key} = {} (settings file, line {})", from.value, from.line)
            }
            (None, Ok(v)) => format!("{key} = {v} (environment: {var})"),
            (None, Err(_)) => match &setting.default {
                Some(d) => format!("{key} = {d} (default)"),
                None => format!("{key}: default (see --help)"),
            },
        };
        out.push_str(&format!("{line}\n    {var}, {}\n", setting.flags.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_a_flag_with_a_keytrail_variable() {
        let vars = variables();
        assert!(vars["KEYTRAIL_THREADS"]
            .flags
            .contains(&"--threads".to_string()));
        assert!(vars["KEYTRAIL_QUOTAS"]
            .flags
            .contains(&"--quota".to_string()));
        assert_eq!(vars["KEYTRAIL_WINDOW"].default.as_deref(), Some("5"));
        assert!(vars.keys().all(|v| v.starts_with(PREFIX)), "{vars:?}");
    }

    #[test]
    fn a_settings_file_gives_variables_with_their_lines() {
        let got = parse("# mine\nthreads = 4\nquotas = [\"us-east-1=150000\", \"eu-west-1=50000\"]\nprice_per_10k = 0.03\n").unwrap();
        assert_eq!(
            got["KEYTRAIL_THREADS"],
            FromFile {
                value: "4".into(),
                line: 2
            }
        );
        assert_eq!(
            got["KEYTRAIL_QUOTAS"].value,
            "us-east-1=150000,eu-west-1=50000"
        );
        assert_eq!(got["KEYTRAIL_PRICE_PER_10K"].line, 4);
        let e = parse("\nthreds = 4\n").unwrap_err();
        assert!(
            e.starts_with("line 2: unknown setting `threds`; the settings are: "),
            "{e}"
        );
        assert!(e.contains("threads"), "{e}");
        let e = parse("threads = \n").unwrap_err();
        assert!(e.starts_with("line 1, column "), "{e}");
        assert!(parse("threads = { a = 1 }").is_err());
    }
}
