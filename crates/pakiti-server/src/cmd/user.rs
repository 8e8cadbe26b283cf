//! `pakiti user …`: manage users, their grants and API tokens from the shell (how a site
//! creates its first administrator).

use std::io::{BufRead, Write};

use anyhow::{Context, Result, bail};
use pakiti_store::{Grant, GrantKind};

use crate::handlers::users;
use crate::state::AppState;

/// What a grant or revoke names.
#[derive(Debug, Clone, Default)]
pub struct GrantArgs {
    /// Host groups.
    pub groups: Vec<String>,
    /// Domains.
    pub domains: Vec<String>,
    /// Hostnames.
    pub hosts: Vec<String>,
}

impl GrantArgs {
    fn grants(&self) -> Result<Vec<Grant>> {
        let mut out = Vec::new();
        for (kind, values) in [
            (GrantKind::Group, &self.groups),
            (GrantKind::Domain, &self.domains),
            (GrantKind::Host, &self.hosts),
        ] {
            for v in values {
                let value = if kind == GrantKind::Host {
                    v.trim().to_ascii_lowercase()
                } else {
                    v.trim().to_owned()
                };
                out.push(Grant { kind, value });
            }
        }
        if out.is_empty() {
            bail!("name at least one --group, --domain or --host");
        }
        Ok(out)
    }

    /// The grants named, for the audit log (`group:g domain:d host:h`).
    fn describe(&self) -> String {
        [
            ("group", &self.groups),
            ("domain", &self.domains),
            ("host", &self.hosts),
        ]
        .iter()
        .flat_map(|(k, vs)| vs.iter().map(move |v| format!("{k}:{v}")))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

async fn find(state: &AppState, name: &str) -> Result<pakiti_store::User> {
    state
        .store
        .get_user_by_name(name)
        .await?
        .with_context(|| format!("no user named {name}"))
}

/// `pakiti user add NAME [--admin] [--password-stdin]`: the password is the first line of
/// `stdin`.
///
/// # Errors
/// The name is taken or empty, or the store fails.
pub async fn add(
    state: &AppState,
    name: &str,
    admin: bool,
    password_stdin: bool,
    stdin: impl BufRead,
    out: &mut impl Write,
) -> Result<()> {
    let r: Result<()> = async {
        let password = if password_stdin {
            let mut line = String::new();
            stdin.take(64 * 1024).read_line(&mut line)?;
            let p = line.trim_end_matches(['\r', '\n']).to_owned();
            if p.is_empty() {
                bail!("--password-stdin: standard input has no password");
            }
            Some(p)
        } else {
            None
        };
        let u = users::create_user(state, name, password.as_deref(), admin)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(
            out,
            "added {}{}{}",
            u.name,
            if u.admin { " (admin)" } else { "" },
            if u.password_hash.is_some() {
                ""
            } else {
                " without a password (proxy/tls log-in or API tokens only)"
            }
        )?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "user add", name, if admin { "admin" } else { "" }, r).await
}

/// `pakiti user list`.
///
/// # Errors
/// The store fails.
pub async fn list(state: &AppState, out: &mut impl Write) -> Result<()> {
    for u in state.store.list_users().await? {
        let grants = state.store.user_grants(u.id).await?;
        let sees = if u.admin {
            "admin: everything".to_owned()
        } else if grants.is_empty() {
            "nothing".to_owned()
        } else {
            grants
                .iter()
                .map(|g| format!("{}:{}", g.kind.as_str(), g.value))
                .collect::<Vec<_>>()
                .join(" ")
        };
        writeln!(
            out,
            "{}\t{}{}",
            u.name,
            sees,
            if u.disabled { "\t(disabled)" } else { "" }
        )?;
    }
    Ok(())
}

/// `pakiti user remove NAME`.
///
/// # Errors
/// No such user, the last enabled administrator in `accounts` mode, or the store fails.
pub async fn remove(state: &AppState, name: &str, out: &mut impl Write) -> Result<()> {
    let r: Result<()> = async {
        let u = find(state, name).await?;
        let keep = state.settings.auth.mode == crate::settings::AuthMode::Accounts;
        match state.store.delete_user(u.id, keep).await {
            Err(e @ pakiti_store::StoreError::LastAdmin(_)) => bail!("{name} not removed: {e}"),
            r => r?,
        };
        writeln!(out, "removed {name}")?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "user remove", name, "", r).await
}

/// `pakiti user grant NAME --group G | --domain D | --host H` (repeatable).
///
/// # Errors
/// No such user, nothing named, or the store fails.
pub async fn grant(
    state: &AppState,
    name: &str,
    what: &GrantArgs,
    out: &mut impl Write,
) -> Result<()> {
    let r: Result<()> = async {
        let u = find(state, name).await?;
        for g in what.grants()? {
            let new = state.store.add_grant(u.id, &g).await?;
            writeln!(
                out,
                "{name} {} {}:{}",
                if new { "now sees" } else { "already sees" },
                g.kind.as_str(),
                g.value
            )?;
        }
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "user grant", name, &what.describe(), r).await
}

/// `pakiti user revoke NAME --group G | --domain D | --host H`.
///
/// # Errors
/// No such user or grant, or the store fails.
pub async fn revoke(
    state: &AppState,
    name: &str,
    what: &GrantArgs,
    out: &mut impl Write,
) -> Result<()> {
    let r: Result<()> = async {
        let u = find(state, name).await?;
        for g in what.grants()? {
            if !state.store.remove_grant(u.id, &g).await? {
                bail!("{name} has no grant {}:{}", g.kind.as_str(), g.value);
            }
            writeln!(out, "{name} no longer sees {}:{}", g.kind.as_str(), g.value)?;
        }
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(state, "user revoke", name, &what.describe(), r).await
}

/// `pakiti user token NAME [--name LABEL]`: prints a new API token (only this once).
///
/// # Errors
/// No such user, or the store fails.
pub async fn token(
    state: &AppState,
    name: &str,
    label: Option<&str>,
    out: &mut impl Write,
) -> Result<()> {
    let r: Result<()> = async {
        let u = find(state, name).await?;
        let (_, token) = users::create_token(state, &u, label.unwrap_or("cli"))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        writeln!(out, "{token}")?;
        anyhow::Ok(())
    }
    .await;
    crate::audit::record_cli(
        state,
        "user token",
        name,
        &format!("label {}", label.unwrap_or("cli")),
        r,
    )
    .await
}
