//! `agora init`: write a commented starting scenario for a registered mechanism.

use std::io::Write;
use std::path::Path;

use agora_core::Registry;
use anyhow::{Context, Result, bail};

use crate::cli::InitArgs;

/// `agora init FILE --mechanism NAME` or `agora init --list`.
pub fn init_command(args: &InitArgs) -> Result<()> {
    let registry = agora_mechanisms::registry();
    if args.list {
        print!("{}", list(&registry));
        return Ok(());
    }
    let (Some(file), Some(mechanism)) = (&args.file, &args.mechanism) else {
        bail!("`agora init` needs a FILE and --mechanism NAME, or --list");
    };
    let (keyword, text) = render(&registry, file, mechanism)?;
    write_new(file, &text)?;
    println!(
        "wrote {}, a starting {keyword} scenario; check it with `agora validate {0}`, run it with `agora run {0} --model rules`",
        file.display(),
    );
    Ok(())
}

/// One line per registered mechanism: the name to pass, the keyword, what it does.
fn list(registry: &Registry) -> String {
    let mechanisms = registry.mechanisms();
    let width = mechanisms
        .iter()
        .map(|m| cli_name(m.name).len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for m in mechanisms {
        let summary = m
            .template
            .map_or("(no starting scenario yet)", |t| t.summary);
        out.push_str(&format!(
            "{:width$}  {:12}  {summary}\n",
            cli_name(m.name),
            m.keyword
        ));
    }
    out
}

/// The name a mechanism is given on the command line: its table name, `-` for `_`.
fn cli_name(name: &str) -> String {
    name.replace('_', "-")
}

/// The starting scenario for `mechanism`, named after `file`, checked with the
/// scenario loader before anything is written.
fn render(registry: &Registry, file: &Path, mechanism: &str) -> Result<(&'static str, String)> {
    let names = || {
        registry
            .mechanisms()
            .iter()
            .map(|m| cli_name(m.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some(info) = registry.find(mechanism) else {
        bail!(
            "unknown mechanism `{mechanism}`; use one of: {} (`agora init --list` describes them)",
            names()
        );
    };
    let Some(template) = info.template else {
        bail!(
            "the {} mechanism has no starting scenario; copy one from scenarios/ instead, or choose one of: {}",
            info.keyword,
            names()
        );
    };
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| info.name.to_string());
    let text = agora_scenario::template::render(
        &name,
        &file.display().to_string(),
        info.keyword,
        &template,
    );
    // A template that does not load is a defect of the mechanism's template, not of
    // the user's input: refuse to write it.
    agora_scenario::parse(file, &text, registry)
        .with_context(|| format!("the starting scenario of {} is invalid", info.keyword))?;
    Ok((info.keyword, text))
}

/// Write `text` to `file`, which must not exist; nothing else is created.
fn write_new(file: &Path, text: &str) -> Result<()> {
    let mut out = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists; `agora init` never replaces a file: choose another name or remove it first",
            file.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "cannot create {}: its folder does not exist; create it first or choose another path",
            file.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", file.display())),
    };
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", file.display()))
}
