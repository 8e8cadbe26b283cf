//! `pakiti check`: a Nagios/Icinga plugin. One status line with performance data on standard
//! output, and the plugin exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
//!
//! It reads what `GET /api/v1/check` answers (`handlers/ops.rs`), from a server with an API
//! token (`--url`, `--token`) or from the store directly (`--database`, `--config`), and
//! judges it against the thresholds here. Thresholds follow the plugin guidelines: `-w 2`
//! means WARNING when the value is above 2 (so `-c 0`, the default, makes one exposed host
//! CRITICAL).
//!
//! What it cannot judge is UNKNOWN, never OK: no reachable server or store, a refused token,
//! no enabled vulnerability feed (every host would look clean), a KEV check without KEV data,
//! a `--host` that does not exist, refused-report thresholds without an administrator's token.

use std::fmt::Write as _;

use clap::Args;

use crate::api_types::ApiCheck;
use crate::handlers::ops::CheckQuery;
use crate::settings::Settings;

/// `pakiti check` arguments.
#[derive(Args, Debug, Clone, Default)]
pub struct CheckArgs {
    /// The server's base URL (`https://pakiti.example.org`): ask its API. Without it the
    /// store is read directly (`--database`, `--config`).
    #[arg(long)]
    pub url: Option<String>,
    /// An API token (`pakiti user token NAME`); also read from PAKITI_TOKEN, which keeps it
    /// out of the process list.
    #[arg(long, env = "PAKITI_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Exposed means a CVE carrying this tag (default: a CVE with any enabled tag).
    #[arg(long, conflicts_with_all = ["kev", "severity"])]
    pub tag: Option<String>,
    /// Exposed means a CVE in CISA's Known Exploited Vulnerabilities catalogue.
    #[arg(long, conflicts_with = "severity")]
    pub kev: bool,
    /// Exposed means a CVE of this vendor severity or worse (critical, high, medium, low), or
    /// of no known severity: a missing severity never hides a host.
    #[arg(long)]
    pub severity: Option<String>,
    /// Only hosts of this group.
    #[arg(long)]
    pub group: Option<String>,
    /// Only hosts of this DNS domain.
    #[arg(long)]
    pub domain: Option<String>,
    /// Only this host (its exact name).
    #[arg(long)]
    pub host: Option<String>,
    /// WARNING when more than this many hosts are exposed.
    #[arg(short = 'w', long)]
    pub warning: Option<i64>,
    /// CRITICAL when more than this many hosts are exposed.
    #[arg(short = 'c', long, default_value_t = 0)]
    pub critical: i64,
    /// A host whose last report is older than this many days is not reporting.
    #[arg(long, default_value_t = 7)]
    pub not_reporting_days: i64,
    /// WARNING when more than this many hosts are not reporting.
    #[arg(long)]
    pub not_reporting_warning: Option<i64>,
    /// CRITICAL when more than this many hosts are not reporting.
    #[arg(long)]
    pub not_reporting_critical: Option<i64>,
    /// WARNING when an enabled feed's or repository's last successful sync is older than
    /// this many hours (or never happened).
    #[arg(long, value_name = "HOURS")]
    pub source_age_warning: Option<i64>,
    /// CRITICAL when an enabled feed's or repository's last successful sync is older than
    /// this many hours (or never happened).
    #[arg(long, value_name = "HOURS")]
    pub source_age_critical: Option<i64>,
    /// The hours refused reports are counted over.
    #[arg(long, default_value_t = 24)]
    pub refused_hours: i64,
    /// WARNING when more reports than this were refused (needs an administrator).
    #[arg(long)]
    pub refused_warning: Option<i64>,
    /// CRITICAL when more reports than this were refused (needs an administrator).
    #[arg(long)]
    pub refused_critical: Option<i64>,
    /// Seconds to wait for the server.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
}

/// A plugin state, ordered by how bad it is (UNKNOWN sorts last but only wins over OK).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// 0.
    Ok,
    /// 1.
    Warning,
    /// 2.
    Critical,
    /// 3.
    Unknown,
}

impl State {
    /// The exit code.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    fn word(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }

    /// The worse of two: CRITICAL > WARNING > UNKNOWN > OK (a real problem found wins over
    /// a part that could not be judged).
    fn worst(self, other: State) -> State {
        let rank = |s: State| match s {
            State::Ok => 0,
            State::Unknown => 1,
            State::Warning => 2,
            State::Critical => 3,
        };
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

/// The status line and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The state (its [`State::code`] is the exit code).
    pub state: State,
    /// `PAKITI CRITICAL - … | perfdata`.
    pub line: String,
}

/// The line of a check that could not run.
#[must_use]
pub fn unknown(reason: &str) -> Verdict {
    Verdict {
        state: State::Unknown,
        line: format!("PAKITI UNKNOWN - {}", clean(reason)),
    }
}

/// What a status line may carry: no newline, no `|` (it starts the performance data).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '|' => '/',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

fn over(value: i64, threshold: Option<i64>) -> bool {
    threshold.is_some_and(|t| value > t)
}

fn level(value: i64, warning: Option<i64>, critical: Option<i64>) -> State {
    if over(value, critical) {
        State::Critical
    } else if over(value, warning) {
        State::Warning
    } else {
        State::Ok
    }
}

fn opt(v: Option<i64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Judges `s` against the thresholds of `args`.
#[must_use]
pub fn judge(args: &CheckArgs, s: &ApiCheck) -> Verdict {
    let mut state = State::Ok;
    let mut problems: Vec<(State, String)> = Vec::new();
    let mut note = |st: State, msg: String| {
        if st != State::Ok {
            problems.push((st, msg));
        }
    };
    // The exposure statement always comes first.
    let exposed_state = level(s.exposed, args.warning, Some(args.critical));
    let mut headline = format!(
        "{} of {} hosts exposed to {}",
        s.exposed, s.hosts, s.exposure
    );
    if !s.exposed_hosts.is_empty() {
        let more = if s.exposed > i64::try_from(s.exposed_hosts.len()).unwrap_or(0) {
            ", …"
        } else {
            ""
        };
        let _ = write!(headline, " ({}{more})", s.exposed_hosts.join(", "));
    }
    state = state.worst(exposed_state);
    if !s.sources.iter().any(|x| x.kind == "feed") {
        note(
            State::Unknown,
            "no enabled vulnerability feed: exposure cannot be judged".to_owned(),
        );
    }
    if args.kev && !s.cve_facts_loaded {
        note(
            State::Unknown,
            "no KEV data loaded: KEV exposure cannot be judged".to_owned(),
        );
    }
    if let Some(h) = &args.host
        && s.hosts == 0
    {
        note(
            State::Unknown,
            format!("host {h} is not known (or not visible to this token)"),
        );
    }
    let stale_state = level(
        s.not_reporting,
        args.not_reporting_warning,
        args.not_reporting_critical,
    );
    note(
        stale_state,
        format!(
            "{} hosts not reporting for {} days",
            s.not_reporting, s.not_reporting_days
        ),
    );
    // The stalest enabled source (never synced counts as infinitely old).
    let stalest = s
        .sources
        .iter()
        .max_by_key(|x| x.age_secs.unwrap_or(i64::MAX));
    if let Some(src) = stalest {
        let age = src.age_secs.unwrap_or(i64::MAX);
        let hours = |h: Option<i64>| h.map(|h| h.saturating_mul(3600));
        let st = level(
            age,
            hours(args.source_age_warning),
            hours(args.source_age_critical),
        );
        let what = match src.age_secs {
            Some(a) => format!("{} {} last updated {} h ago", src.kind, src.name, a / 3600),
            None => format!("{} {} never synced", src.kind, src.name),
        };
        note(st, what);
    }
    match s.refused {
        Some(r) => note(
            level(r, args.refused_warning, args.refused_critical),
            format!("{r} reports refused in {} h", s.refused_hours),
        ),
        None if args.refused_warning.is_some() || args.refused_critical.is_some() => note(
            State::Unknown,
            "refused reports are counted for administrators only".to_owned(),
        ),
        None => {}
    }
    for (st, _) in &problems {
        state = state.worst(*st);
    }
    // Worst first.
    problems.sort_by_key(|(st, _)| match st {
        State::Critical => 0,
        State::Warning => 1,
        _ => 2,
    });
    let mut text = headline;
    for (_, p) in &problems {
        text.push_str("; ");
        text.push_str(p);
    }
    let mut perf = format!(
        "hosts={n};;;0 exposed={e};{w};{c};0;{n} not_reporting={s};{sw};{sc};0;{n} \
         not_covered={nc};;;0;{n} pending={p};;;0;{n}",
        n = s.hosts,
        e = s.exposed,
        w = opt(args.warning),
        c = args.critical,
        s = s.not_reporting,
        sw = opt(args.not_reporting_warning),
        sc = opt(args.not_reporting_critical),
        nc = s.not_covered,
        p = s.pending,
    );
    if let Some(age) = s.sources.iter().filter_map(|x| x.age_secs).max() {
        let _ = write!(
            perf,
            " source_age={age}s;{};{};0",
            opt(args.source_age_warning.map(|h| h * 3600)),
            opt(args.source_age_critical.map(|h| h * 3600))
        );
    }
    if let Some(r) = s.refused {
        let _ = write!(
            perf,
            " refused={r};{};{};0",
            opt(args.refused_warning),
            opt(args.refused_critical)
        );
    }
    Verdict {
        state,
        line: format!("PAKITI {} - {} | {perf}", state.word(), clean(&text)),
    }
}

fn query(args: &CheckArgs) -> CheckQuery {
    CheckQuery {
        tag: args.tag.clone(),
        kev: args.kev.then_some(true),
        severity: args.severity.clone(),
        group: args.group.clone(),
        domain: args.domain.clone(),
        host: args.host.clone(),
        not_reporting_days: Some(args.not_reporting_days),
        refused_hours: Some(args.refused_hours),
    }
}

/// Asks the server at `url`.
async fn from_api(args: &CheckArgs, url: &str) -> Result<ApiCheck, String> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(args.timeout.max(1)))
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))?;
    let mut params: Vec<(&str, String)> = vec![
        ("not_reporting_days", args.not_reporting_days.to_string()),
        ("refused_hours", args.refused_hours.to_string()),
    ];
    for (k, v) in [
        ("tag", &args.tag),
        ("severity", &args.severity),
        ("group", &args.group),
        ("domain", &args.domain),
        ("host", &args.host),
    ] {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    if args.kev {
        params.push(("kev", "true".to_owned()));
    }
    let endpoint = format!("{}/api/v1/check", url.trim_end_matches('/'));
    let mut req = client.get(&endpoint).query(&params);
    if let Some(t) = args.token.as_deref().filter(|t| !t.is_empty()) {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("cannot reach {endpoint}: {e}"))?;
    let status = resp.status();
    let body = resp
        .text()
        .await
        .map_err(|e| format!("reading the answer of {endpoint}: {e}"))?;
    if !status.is_success() {
        let first = body.lines().next().unwrap_or("").trim();
        return Err(format!("{endpoint} answered {status}: {first}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{endpoint} answered unreadable JSON: {e}"))
}

/// Reads the store of `settings` directly, as an administrator.
async fn from_store(args: &CheckArgs, settings: Settings) -> Result<ApiCheck, String> {
    let state = crate::cmd::serve::open_state(settings)
        .await
        .map_err(|e| format!("opening the store: {e:#}"))?;
    let viewer = crate::auth::Viewer::anonymous_admin();
    let r = crate::handlers::ops::check_summary(&state, &viewer, query(args)).await;
    state.store.close().await;
    r.map_err(|e| e.public_message())
}

/// Runs the check: against `--url`, else the store of `settings` (called only then).
pub async fn run(args: &CheckArgs, settings: impl FnOnce() -> anyhow::Result<Settings>) -> Verdict {
    if let Some(s) = &args.severity
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "critical" | "high" | "medium" | "low"
        )
    {
        return unknown(&format!(
            "unknown severity {s:?}: one of critical, high, medium, low"
        ));
    }
    let summary = match &args.url {
        Some(url) => from_api(args, url).await,
        None => match settings() {
            Ok(s) => from_store(args, s).await,
            Err(e) => Err(format!("{e:#}")),
        },
    };
    match summary {
        Ok(s) => judge(args, &s),
        Err(e) => unknown(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api_types::ApiCheckSource;

    fn summary() -> ApiCheck {
        ApiCheck {
            exposure: "tagged CVEs".into(),
            hosts: 10,
            exposed: 3,
            exposed_hosts: vec!["a".into(), "b|x".into(), "c\n".into()],
            not_reporting_days: 7,
            not_reporting: 2,
            not_covered: 1,
            pending: 0,
            cve_facts_loaded: false,
            sources: vec![ApiCheckSource {
                kind: "feed".into(),
                name: "dsa".into(),
                last_success: Some("2026-01-01T00:00:00Z".into()),
                age_secs: Some(7200),
                records: 5,
                last_failed: false,
            }],
            refused_hours: 24,
            refused: Some(4),
        }
    }

    #[test]
    fn thresholds_are_above_the_value() {
        let s = summary();
        let a = CheckArgs {
            warning: Some(1),
            critical: 5,
            ..CheckArgs::default()
        };
        let v = judge(&a, &s);
        assert_eq!(v.state, State::Warning, "{}", v.line);
        assert_eq!(
            v.line,
            "PAKITI WARNING - 3 of 10 hosts exposed to tagged CVEs (a, b/x, c ) | hosts=10;;;0 \
             exposed=3;1;5;0;10 not_reporting=2;;;0;10 not_covered=1;;;0;10 pending=0;;;0;10 \
             source_age=7200s;;;0 refused=4;;;0"
        );
        let a = CheckArgs {
            critical: 3,
            ..CheckArgs::default()
        };
        assert_eq!(judge(&a, &s).state, State::Ok);
        let a = CheckArgs {
            critical: 2,
            ..CheckArgs::default()
        };
        assert_eq!(judge(&a, &s).state, State::Critical);
    }

    #[test]
    fn no_feed_is_unknown_not_ok() {
        let mut s = summary();
        s.exposed = 0;
        s.exposed_hosts.clear();
        s.sources.clear();
        let v = judge(&CheckArgs::default(), &s);
        assert_eq!(v.state, State::Unknown, "{}", v.line);
        assert!(
            v.line.contains("no enabled vulnerability feed"),
            "{}",
            v.line
        );
    }

    #[test]
    fn other_thresholds_and_worst_first() {
        let s = summary();
        let a = CheckArgs {
            critical: 10,
            not_reporting_warning: Some(1),
            source_age_critical: Some(1),
            refused_warning: Some(3),
            ..CheckArgs::default()
        };
        let v = judge(&a, &s);
        assert_eq!(v.state, State::Critical, "{}", v.line);
        assert!(
            v.line.starts_with(
                "PAKITI CRITICAL - 3 of 10 hosts exposed to tagged CVEs (a, b/x, c ); feed dsa \
                 last updated 2 h ago; 2 hosts not reporting for 7 days; 4 reports refused in 24 h |"
            ),
            "{}",
            v.line
        );
    }
}
