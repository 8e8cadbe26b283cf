//! `pakiti host retire|delete HOSTNAME [--purge-history]`: take a host out of service from the
//! shell (decommissioned machines).

use std::io::Write;

use anyhow::Result;

use crate::auth::Viewer;
use crate::handlers::retire;
use crate::state::AppState;

/// Retires `hostname` (`purge` false: it leaves every list and count, its reports are kept)
/// or deletes it with its history (`purge` true).
///
/// # Errors
/// No such host, or the store fails.
pub async fn retire(
    state: &AppState,
    hostname: &str,
    purge: bool,
    out: &mut impl Write,
) -> Result<()> {
    let r: Result<()> = async {
        let name = retire::retire_or_delete(state, &Viewer::anonymous_admin(), hostname, purge)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.public_message()))?;
        if purge {
            writeln!(out, "deleted host {name} and its report history")?;
        } else {
            writeln!(
                out,
                "retired host {name}: it leaves every list and count; its reports are kept \
             (a new report puts it back in service)"
            )?;
        }
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(
        state,
        if purge { "host delete" } else { "host retire" },
        hostname,
        if purge { "purge history" } else { "" },
        r,
    )
    .await
}
