//! Mistakes in the command line: every command reports them the same way
//! (a message saying what is wrong, exit status 2).

use linkledger_config::Config;

/// A mistake in the command line (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// A `--line` that names no configured line is a usage error.
pub(crate) fn check_line(c: &Config, line: Option<&str>) -> anyhow::Result<()> {
    if let Some(id) = line {
        if !c.lines.iter().any(|l| l.id == id) {
            let ids: Vec<_> = c.lines.iter().map(|l| l.id.as_str()).collect();
            return Err(UsageError(format!(
                "--line {id:?}: no such line in {}; lines are {ids:?}",
                c.path.display()
            ))
            .into());
        }
    }
    Ok(())
}
