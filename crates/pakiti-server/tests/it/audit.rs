//! Issue 15 item 5: the audit log (web forms, the API with a token, the CLI, log-ins; only
//! administrators read it; no secret in it), request ids and JSON log lines of a real
//! `pakiti serve` process, and the log line of every refused report.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pakiti_server::api_types::{ApiAuditEntry, ApiAuditPage};
use pakiti_test_support::{TestDatabase, databases};
use reqwest::StatusCode;

use crate::authz::{Cred, accounts, csrf_of, get, login, no_redirects, post_form};
use crate::support::TestServer;

/// Runs `pakiti ARGS` on the test server's database, `stdin` on its standard input, as the
/// Unix user `auditor`; returns its standard output.
fn cli(s: &TestServer, args: &[&str], stdin: &str) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pakiti"))
        .args(["--database", &s.state.settings.database_url])
        .args(args)
        .env("PAKITI_LOG", "warn")
        .env("USER", "auditor")
        .env("PAKITI_AUTH__MODE", "accounts")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pakiti {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn audit(s: &TestServer, token: &str, query: &str) -> ApiAuditPage {
    let (st, body, _) = get(
        s,
        &Cred::Bearer(token.to_owned()),
        &format!("/api/v1/audit{query}"),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn find<'a>(entries: &'a [ApiAuditEntry], actor: &str, action: &str) -> &'a ApiAuditEntry {
    entries
        .iter()
        .find(|e| e.actor == actor && e.action == action)
        .unwrap_or_else(|| panic!("no {actor} {action} in {entries:#?}"))
}

/// An admin change through a web form, the API with a token and the CLI each appear with
/// their actor, action and target; log-ins (failed and not) too; the log holds no password,
/// token or CSRF value; only administrators read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_admin_changes_are_audited_without_secrets() {
    for db in databases().await {
        let be = if db.url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        };
        let s = TestServer::start(db, accounts).await;
        let users = pakiti_server::handlers::users::create_user;
        users(&s.state, "root", Some("root-pw-Xq7"), true)
            .await
            .unwrap();
        let alice = users(&s.state, "alice", Some("alice-pw-Zr4"), false)
            .await
            .unwrap();
        let root_user = s
            .state
            .store
            .get_user_by_name("root")
            .await
            .unwrap()
            .unwrap();
        let (_, root_token) =
            pakiti_server::handlers::users::create_token(&s.state, &root_user, "ci")
                .await
                .unwrap();
        let (_, alice_token) = pakiti_server::handlers::users::create_token(&s.state, &alice, "t")
            .await
            .unwrap();

        // Log-ins: a failed one and a good one.
        assert_eq!(
            login(&s, "root", "not-the-pw-Kk1").await,
            Err(StatusCode::UNAUTHORIZED)
        );
        let root = login(&s, "root", "root-pw-Xq7").await.unwrap();
        let alice_cookie = login(&s, "alice", "alice-pw-Zr4").await.unwrap();

        // Through the web form.
        let (_, page, _) = get(&s, &Cred::Cookie(root.clone()), "/users").await;
        let csrf = csrf_of(&page);
        let st = post_form(
            &s,
            &root,
            "/users",
            &[
                ("name", "carol"),
                ("password", "carol-pw-Jm2"),
                ("csrf", &csrf),
            ],
        )
        .await;
        assert!(st.is_redirection() || st.is_success(), "{be} {st}");
        assert_eq!(
            post_form(
                &s,
                &root,
                "/users/carol/admin",
                &[("admin", "true"), ("csrf", &csrf)]
            )
            .await,
            StatusCode::SEE_OTHER,
            "{be}"
        );

        // Through the API with a token: a user, and a token of hers (its secret is answered
        // once and must not be kept in the log).
        let api = reqwest::Client::new();
        let r = api
            .post(format!("{}/api/v1/users", s.base))
            .bearer_auth(&root_token)
            .header("content-type", "application/json")
            .body(serde_json::json!({"name": "dave", "password": "dave-pw-Pq9"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{be}");
        let r = api
            .post(format!("{}/api/v1/users/dave/tokens", s.base))
            .bearer_auth(&root_token)
            .header("content-type", "application/json")
            .body(serde_json::json!({"name": "dave's"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{be}");
        let answer: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let dave_token = answer["token"].as_str().unwrap().to_owned();
        // A non-admin's attempt is recorded as refused.
        let r = api
            .delete(format!("{}/api/v1/users/dave", s.base))
            .bearer_auth(&alice_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{be}");

        // Through the CLI.
        cli(
            &s,
            &["user", "add", "erin", "--password-stdin"],
            "erin-pw-Vb3\n",
        );
        let erin_token = cli(&s, &["user", "token", "erin", "--name", "laptop"], "");
        cli(&s, &["user", "grant", "erin", "--group", "physics"], "");

        let log = audit(&s, &root_token, "?limit=1000").await;
        let e = &log.entries;
        let web = find(e, "root", "POST /users");
        assert_eq!((web.via.as_str(), web.target.as_str()), ("web", ""), "{be}");
        assert_eq!(web.status, "303", "{be}");
        let admin = find(e, "root", "POST /users/{name}/admin");
        assert_eq!(admin.target, "name=carol", "{be}");
        let created = find(e, "root", "POST /api/v1/users");
        assert_eq!(
            (created.via.as_str(), created.status.as_str()),
            ("api", "201")
        );
        assert!(created.detail.contains("API token"), "{created:?}");
        let token = find(e, "root", "POST /api/v1/users/{name}/tokens");
        assert_eq!(token.target, "name=dave", "{be}");
        let refused = find(e, "alice", "DELETE /api/v1/users/{name}");
        assert_eq!(
            (refused.status.as_str(), refused.target.as_str()),
            ("403", "name=dave")
        );
        let add = find(e, "cli:auditor", "user add");
        assert_eq!(
            (add.via.as_str(), add.target.as_str(), add.status.as_str()),
            ("cli", "erin", "ok")
        );
        assert_eq!(find(e, "cli:auditor", "user token").target, "erin");
        assert_eq!(find(e, "cli:auditor", "user grant").detail, "group:physics");
        let logins: Vec<&str> = e
            .iter()
            .filter(|x| x.action == "login" && x.actor == "root")
            .map(|x| x.status.as_str())
            .collect();
        assert_eq!(logins, ["ok", "failed"], "{be}");
        // Newest first.
        assert!(e.windows(2).all(|w| w[0].id > w[1].id), "{be}");

        // Filters: by actor and by action prefix.
        let only = audit(&s, &root_token, "?actor=cli:auditor").await;
        assert_eq!(only.total, 3, "{be}");
        assert!(only.entries.iter().all(|x| x.via == "cli"));
        let logins = audit(&s, &root_token, "?action=login").await;
        assert_eq!(logins.total, 3, "{be}");

        // No secret anywhere in it: passwords, tokens, the session cookie, CSRF values.
        let (st, csv, _) = get(&s, &Cred::Cookie(root.clone()), "/audit?format=csv").await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            csv.starts_with("id,at,actor,via,action,target,detail,status"),
            "{csv}"
        );
        let (_, json, _) = get(&s, &Cred::Cookie(root.clone()), "/audit?format=json").await;
        let everything = format!(
            "{csv}\n{json}\n{}",
            serde_json::to_string(&log.entries).unwrap()
        );
        for secret in [
            "root-pw-Xq7",
            "alice-pw-Zr4",
            "not-the-pw-Kk1",
            "carol-pw-Jm2",
            "dave-pw-Pq9",
            "erin-pw-Vb3",
            root_token.as_str(),
            alice_token.as_str(),
            dave_token.as_str(),
            erin_token.trim(),
            root.as_str(),
            csrf.as_str(),
        ] {
            assert!(
                !everything.contains(secret),
                "{be}: {secret} in the audit log"
            );
        }

        // The page, for admins only; others get 403, no one 401 (or the log-in page).
        let (st, page, _) = get(
            &s,
            &Cred::Cookie(root.clone()),
            "/audit?actor=cli%3Aauditor",
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            page.contains("user grant") && page.contains("group:physics"),
            "{page}"
        );
        for p in ["/audit", "/audit?format=csv", "/api/v1/audit"] {
            for cred in [
                Cred::Cookie(alice_cookie.clone()),
                Cred::Bearer(alice_token.clone()),
            ] {
                let (st, body, _) = get(&s, &cred, p).await;
                assert_eq!(st, StatusCode::FORBIDDEN, "{be} {p}");
                assert!(!body.contains("cli:auditor"), "{p}");
            }
        }
        let (st, _, _) = get(&s, &Cred::Nothing, "/api/v1/audit").await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, _, loc) = get(&s, &Cred::Nothing, "/audit").await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        assert!(loc.unwrap().starts_with("/login"));
        s.finish().await;
    }
}

/// A running `pakiti serve` with its stderr lines.
struct Serve {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    base: String,
    _dir: tempfile::TempDir,
}

impl Serve {
    async fn start(db: &TestDatabase, env: &[(&str, &str)]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let port = pakiti_test_support::spare_port();
        let listen = format!("127.0.0.1:{port}");
        let mut c = Command::new(env!("CARGO_BIN_EXE_pakiti"));
        c.args(["serve"])
            .env("PAKITI_LOG", "info,sqlx=warn")
            .env("PAKITI_LISTEN", &listen)
            .env("PAKITI_DATABASE_URL", &db.url)
            .env("PAKITI_DATA_DIR", dir.path())
            .env("PAKITI_SYNC_FEEDS", "false")
            .env("PAKITI_SYNC_REPOS", "false")
            .env_remove("PAKITI_TEST_CRASH_POINT")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("run pakiti");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let base = format!("http://{listen}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await
                && r.status() == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "pakiti serve did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Serve {
            child,
            lines,
            seen: Vec::new(),
            base,
            _dir: dir,
        }
    }

    /// Waits until `n` stderr lines contain `needle`; returns them.
    fn wait_for(&mut self, needle: &str, n: usize) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let found: Vec<String> = self
                .seen
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if found.len() >= n {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no {n} × {needle:?} on stderr: {:#?}", self.seen),
            }
        }
    }

    /// Waits until a stderr line satisfies `f`.
    fn wait_until(&mut self, f: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.seen.iter().any(|l| f(l)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("no such line on stderr: {:#?}", self.seen),
            }
        }
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The `request_id` of a JSON log line's span (`span`, else the innermost of `spans`).
fn request_id(line: &serde_json::Value) -> Option<String> {
    line.get("span")
        .and_then(|s| s.get("request_id"))
        .or_else(|| {
            line.get("spans")?
                .as_array()?
                .iter()
                .rev()
                .find_map(|s| s.get("request_id"))
        })
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// With `PAKITI_LOG_FORMAT=json` every line is a JSON object; every line of one request
/// carries the same `request_id`, the one the reply's `X-Request-Id` gives (the client's
/// when it is sane, else a new one); a refused report's line says peer, host, protocol,
/// status and reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_15_json_logs_carry_the_request_id_and_refusal_reasons() {
    for db in databases().await {
        let mut p = Serve::start(&db, &[("PAKITI_LOG_FORMAT", "json")]).await;
        let client = no_redirects();
        // A protocol-5 report without one readable package line: refused (400).
        let r = client
            .post(format!("{}/feed/?protocol=5", p.base))
            .header("x-request-id", "audit-test-0001")
            .header("content-type", "text/plain")
            .body("#\nhost: nopkg.example.org\nsystem: Rocky Linux 9\n#\ngarbage\n#\n")
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(r.headers()["x-request-id"], "audit-test-0001");
        let refusal = p.wait_for("report refused", 1).remove(0);
        let line: serde_json::Value = serde_json::from_str(&refusal).unwrap();
        assert_eq!(
            request_id(&line).as_deref(),
            Some("audit-test-0001"),
            "{refusal}"
        );
        let fields = &line["fields"];
        assert_eq!(fields["peer"], "127.0.0.1", "{refusal}");
        assert_eq!(fields["status"], status.as_u16(), "{refusal}");
        assert!(
            fields["protocol"].as_str().is_some_and(|s| !s.is_empty()),
            "{refusal}"
        );
        assert!(
            fields["reason"].as_str().is_some_and(|s| !s.is_empty()),
            "{refusal}"
        );
        assert_eq!(fields["host"], "nopkg.example.org", "{refusal}");
        assert_eq!(fields["protocol"], "5", "{refusal}");
        assert!(
            fields["reason"]
                .as_str()
                .unwrap()
                .contains("no readable package"),
            "{refusal}"
        );
        assert_eq!(line["level"], "WARN", "{refusal}");
        // The request's answer line carries the same id.
        p.wait_until(|l| {
            l.contains("audit-test-0001") && l.contains("finished processing request")
        });

        // No id sent, or an insane one: a new one, in the reply and on its lines.
        let mut ids = Vec::new();
        for sent in [None, Some("bad id <script>")] {
            let mut rb = client.get(format!("{}/hosts", p.base));
            if let Some(v) = sent {
                rb = rb.header("x-request-id", v);
            }
            let r = rb.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
            assert_eq!(id.len(), 36, "a UUID: {id}");
            ids.push(id);
        }
        assert_ne!(ids[0], ids[1]);
        for id in &ids {
            p.wait_until(|l| l.contains(id.as_str()) && l.contains("finished processing request"));
        }

        // Every line is JSON; each request's lines agree on its id.
        let mut by_id: std::collections::HashMap<String, Vec<String>> = Default::default();
        for l in &p.seen {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            if let Some(id) = request_id(&v) {
                let msg = v["fields"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                by_id.entry(id).or_default().push(msg);
                // The span says which request it is.
                let span = &v["span"];
                assert!(
                    span["method"].is_string() && span["path"].is_string(),
                    "{l}"
                );
            }
        }
        let first = &by_id["audit-test-0001"];
        assert!(
            first.iter().any(|m| m == "report refused")
                && first
                    .iter()
                    .any(|m| m.contains("finished processing request")),
            "{first:?}"
        );
        for id in &ids {
            assert!(
                by_id[id]
                    .iter()
                    .any(|m| m.contains("finished processing request")),
                "{id}: {by_id:?}"
            );
        }
        assert!(!by_id.contains_key("bad id <script>"));
        p.stop();
        db.finish().await;
    }
}
