//! Browser tests: headless Chromium driven through chromedriver (W3C WebDriver over HTTP,
//! with a small client below) against a real server in accounts mode over the demo data.
//! Screenshots are kept in `$CARGO_TARGET_DIR/browser-artifacts/` (default
//! `target/browser-artifacts/`).
//!
//! Needs Debian's `chromium` and `chromium-driver` (`apt-get install chromium chromium-driver`);
//! without them the test FAILS saying so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pakiti_test_support::TestDatabase;
use serde_json::{Value, json};

use crate::authz::accounts;
use crate::support::TestServer;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process, killed on drop.
struct Driver {
    child: Child,
    base: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
pub(crate) struct Browser {
    http: reqwest::Client,
    session: String,
    artifacts: PathBuf,
    _driver: Driver,
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("browser-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        for (path, pkg) in [(CHROMEDRIVER, "chromium-driver"), (CHROMIUM, "chromium")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the browser tests need Debian's chromium and chromedriver; \
                 install them with `apt-get install chromium chromium-driver` ({pkg}), as .ci/run does"
            );
        }
        let port = pakiti_test_support::spare_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let r = http.get(format!("{}/status", driver.base)).send().await;
            if r.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"]
            }
        }}});
        let v = call(
            &http,
            "POST",
            &format!("{}/session", driver.base),
            Some(caps),
        )
        .await;
        let session = v["sessionId"].as_str().expect("a session id").to_owned();
        Browser {
            http,
            session: format!("{}/session/{session}", driver.base),
            artifacts: artifacts_dir(),
            _driver: driver,
        }
    }

    pub(crate) async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(&self.http, method, &format!("{}{path}", self.session), body).await
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).await;
    }

    pub(crate) async fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 10 s) until the current URL satisfies `want`: a click that submits a form
    /// may return before the next page is there.
    pub(crate) async fn wait_url(&self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let u = self.url().await;
            if want(&u) {
                // And until that page has loaded.
                while self
                    .cmd(
                        "POST",
                        "/execute/sync",
                        Some(json!({"script": "return document.readyState", "args": []})),
                    )
                    .await
                    != "complete"
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                return u;
            }
            assert!(
                Instant::now() < deadline,
                "still at {u}, waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 10 s) until the page source contains `text`: after a form post the URL can
    /// match before the new page has loaded.
    pub(crate) async fn wait_source(&self, text: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.source().await.contains(text) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    pub(crate) async fn find_all(&self, css: &str) -> Vec<String> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
            .collect()
    }

    pub(crate) async fn text(&self, element: &str) -> String {
        let v = self
            .cmd("GET", &format!("/element/{element}/text"), None)
            .await;
        v.as_str().unwrap().to_owned()
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})))
            .await;
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})))
            .await;
    }

    /// Saves a PNG screenshot as `<name>.png` in the artifacts directory.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.cmd("GET", "/screenshot", None).await;
        let png = base64_decode(v.as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub(crate) async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

async fn call(http: &reqwest::Client, method: &str, url: &str, body: Option<Value>) -> Value {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut rb = http.request(m, url);
    if let Some(b) = body {
        rb = rb
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = rb.send().await.expect("talk to chromedriver");
    let status = r.status();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(status.is_success(), "WebDriver {method} {url}: {v}");
    v["value"].clone()
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let clean: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

async fn log_out(browser: &Browser, s: &TestServer) {
    browser.goto(&format!("{}/logout", s.base)).await;
    browser.click("#logout").await;
    browser
        .wait_url("the log-in page", |u| u.ends_with("/login"))
        .await;
}

/// Log in, filter hosts, open a host, grant a user a group and see as that user, with
/// screenshots of each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_filter_hosts_open_a_host() {
    let browser = Browser::start().await;
    let s = TestServer::start(TestDatabase::sqlite(), accounts).await;
    pakiti_server::demo::populate(&s.state).await.unwrap();
    pakiti_server::handlers::users::create_user(&s.state, "admin", Some("correct horse"), true)
        .await
        .unwrap();

    // Unauthenticated: the hosts page sends us to the log-in form.
    browser.goto(&format!("{}/hosts", s.base)).await;
    assert!(
        browser.url().await.contains("/login?next=/hosts"),
        "{}",
        browser.url().await
    );
    browser.screenshot("01-login").await;

    // A wrong password says so and stays on the form.
    browser.type_into("#user", "admin").await;
    browser.type_into("#password", "wrong").await;
    browser.click("#login").await;
    let err = loop {
        let found = browser.find_all("#login-error").await;
        if let Some(e) = found.into_iter().next() {
            break e;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        browser
            .text(&err)
            .await
            .contains("Wrong user name or password")
    );
    browser.screenshot("02-login-failed").await;

    browser.type_into("#user", "admin").await;
    browser.type_into("#password", "correct horse").await;
    browser.click("#login").await;
    browser.wait_url("/hosts", |u| u.ends_with("/hosts")).await;
    let rows = browser.find_all("table.hosts tbody tr").await;
    assert_eq!(rows.len(), 42, "every demo host");
    browser.screenshot("03-hosts").await;

    // Filter by name.
    browser.type_into("input[name=search]", "brno").await;
    browser.click("input[name=vulnerable]").await;
    browser.click("form.filters button[type=submit]").await;
    browser
        .wait_url("the filtered list", |u| u.contains("search=brno"))
        .await;
    let rows = browser.find_all("table.hosts tbody tr").await;
    assert!(
        !rows.is_empty() && rows.len() < 42,
        "{} rows at {}",
        rows.len(),
        browser.url().await
    );
    for r in &rows {
        assert!(browser.text(r).await.contains(".brno.example.org"));
    }
    browser.screenshot("04-hosts-filtered").await;

    // Open the first host.
    let link = browser.find("table.hosts tbody tr td a").await;
    let name = browser.text(&link).await;
    browser
        .cmd("POST", &format!("/element/{link}/click"), Some(json!({})))
        .await;
    browser
        .wait_url("the host page", |u| u.ends_with(&format!("/hosts/{name}")))
        .await;
    let h1 = browser.find("h1").await;
    assert_eq!(browser.text(&h1).await, name);
    assert!(browser.wait_source("Install these updates").await);
    assert!(
        !browser.find_all("table tbody tr").await.is_empty(),
        "a vulnerable host has findings"
    );
    let shot = browser.screenshot("05-host").await;
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
    tag_a_cve_add_an_exception_and_see_the_counts_change(&browser, &s, &name).await;

    // Users & ACL through the forms: add alice, let her see the prague group only.
    browser.goto(&format!("{}/users", s.base)).await;
    browser
        .type_into("form[action='/users'] [name=name]", "alice")
        .await;
    browser
        .type_into("form[action='/users'] [name=password]", "alice's pw")
        .await;
    browser
        .click("form[action='/users'] button[type=submit]")
        .await;
    browser
        .wait_url("alice's page", |u| u.ends_with("/users/alice"))
        .await;
    let grant = "form[action='/users/alice/grants']";
    browser
        .type_into(&format!("{grant} [name=value]"), "prague")
        .await;
    browser.click(&format!("{grant} button[type=submit]")).await;
    browser
        .wait_url("alice's page", |u| u.ends_with("/users/alice"))
        .await;
    assert!(browser.wait_source("<td>prague</td>").await);
    browser.screenshot("06-user-granted").await;
    log_out(&browser, &s).await;

    // Alice sees prague's hosts and nothing else; brno's host is "not found" for her.
    browser.type_into("#user", "alice").await;
    browser.type_into("#password", "alice's pw").await;
    browser.click("#login").await;
    // A log-in without `next` lands on the front page: her scope's numbers.
    browser.wait_url("/", |u| u == format!("{}/", s.base)).await;
    assert!(browser.wait_source("What to patch first").await);
    browser.goto(&format!("{}/hosts", s.base)).await;
    let rows = browser.find_all("table.hosts tbody tr").await;
    assert!(!rows.is_empty());
    for r in &rows {
        assert!(browser.text(r).await.contains(".prague.example.org"));
    }
    browser.screenshot("07-hosts-as-alice").await;
    browser.goto(&format!("{}/hosts/{name}", s.base)).await;
    assert!(
        browser.wait_source("no host named").await,
        "{name} is hidden"
    );
    browser.goto(&format!("{}/users", s.base)).await;
    assert!(
        browser.wait_source("administrator").await,
        "users page is for admins"
    );
    log_out(&browser, &s).await;
    browser.goto(&format!("{}/hosts", s.base)).await;
    browser
        .wait_url("the log-in page", |u| u.contains("/login?next="))
        .await;

    browser.quit().await;
    s.finish().await;
}

/// "Tag a CVE, add an exception and see the counts change".
///
/// Called from `log_in_filter_hosts_open_a_host` after opening a host, logged in as admin:
/// POST /tags (`cve`, `tag`, `reason`, `info_url`) and POST /exceptions (`cve`, `package`,
/// `version`, `os_stream`, `reason`), each with its hidden `csrf`, through the real forms.
async fn tag_a_cve_add_an_exception_and_see_the_counts_change(
    browser: &Browser,
    s: &TestServer,
    host: &str,
) {
    // Pick a CVE that only one finding of this host carries, so excepting that package version
    // must lower the host's CVE count by one. (Read from the store: the test's HTTP client is
    // not logged in.)
    let store = &s.state.store;
    let h = store.get_host_by_name(host).await.unwrap().unwrap();
    let before = h.counts.cves;
    let findings = store.host_findings(h.id).await.unwrap();
    let mut count = std::collections::HashMap::<&str, usize>::new();
    for f in &findings {
        for c in &f.cves {
            *count.entry(c.as_str()).or_default() += 1;
        }
    }
    let (finding, cve) = findings
        .iter()
        .find_map(|f| {
            f.cves
                .iter()
                .find(|c| count[c.as_str()] == 1)
                .map(|c| (f, c.clone()))
        })
        .expect("a CVE from a single finding");

    browser.goto(&format!("{}/tags", s.base)).await;
    browser
        .type_into("form[action='/tags'] [name=cve]", &cve)
        .await;
    browser
        .type_into("form[action='/tags'] [name=tag]", "Critical")
        .await;
    browser
        .type_into(
            "form[action='/tags'] [name=reason]",
            "exploited <in the wild>",
        )
        .await;
    browser
        .type_into(
            "form[action='/tags'] [name=info_url]",
            "https://example.org/advisory",
        )
        .await;
    browser
        .click("form[action='/tags'] button[type=submit]")
        .await;
    assert!(browser.wait_source(&cve).await, "the tag is listed");
    browser.screenshot("08-cve-tagged").await;
    assert_eq!(
        store.get_host(h.id).await.unwrap().unwrap().counts.tagged,
        h.counts.tagged + 1,
        "the tag counts on the host"
    );

    browser.goto(&format!("{}/exceptions", s.base)).await;
    let f = "form[action='/exceptions']";
    browser.type_into(&format!("{f} [name=cve]"), &cve).await;
    browser
        .type_into(&format!("{f} [name=package]"), &finding.package.name)
        .await;
    browser
        .type_into(&format!("{f} [name=version]"), &finding.package.version)
        .await;
    browser
        .type_into(
            &format!("{f} [name=os_stream]"),
            &h.facts.stream.as_ref().unwrap().to_string(),
        )
        .await;
    browser
        .type_into(&format!("{f} [name=reason]"), "mitigated by configuration")
        .await;
    browser.click(&format!("{f} button[type=submit]")).await;
    browser
        .wait_url("the exceptions page", |u| u.contains("/exceptions"))
        .await;
    assert!(
        browser.wait_source("mitigated by configuration").await,
        "the exception is listed"
    );
    browser.screenshot("09-exception-added").await;

    browser.goto(&format!("{}/hosts/{host}", s.base)).await;
    assert_eq!(
        store.get_host(h.id).await.unwrap().unwrap().counts.cves,
        before - 1,
        "the exception lowers the count"
    );
    assert!(browser.wait_source(&format!("<dd>{} (", before - 1)).await);
    browser.screenshot("10-host-after-exception").await;
}

/// Issue 14's morning walk: the front page → the known-exploited (KEV) number → a host it
/// counts → its patch list, where the KEV finding is → "mark exception" on that row, back on
/// the host page → the host's CVE count and the front page's KEV number drop. Screenshots
/// `20-…` to `25-…`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_page_kev_finding_host_patch_list_exception() {
    let browser = Browser::start().await;
    let s = TestServer::start(TestDatabase::sqlite(), accounts).await;
    pakiti_server::demo::populate(&s.state).await.unwrap();
    pakiti_server::handlers::users::create_user(&s.state, "admin", Some("correct horse"), true)
        .await
        .unwrap();
    // A fixable CVE that a single finding of a vulnerable host carries: made KEV.
    let store = &s.state.store;
    // (Accounts mode: the test's HTTP client has no session; read the store.)
    let f = pakiti_store::HostFilter {
        vulnerable_only: true,
        ..Default::default()
    };
    let page = pakiti_store::Page {
        offset: 0,
        limit: 1000,
    };
    let listed = store
        .list_hosts(&f, Default::default(), page)
        .await
        .unwrap();
    let mut pick = None;
    'hosts: for h in &listed.hosts {
        let findings = store.host_findings(h.id).await.unwrap();
        for f in findings.iter().filter(|f| f.fixed_version.is_some()) {
            for c in &f.cves {
                if findings.iter().filter(|g| g.cves.contains(c)).count() == 1 {
                    pick = Some((h.clone(), f.clone(), c.clone()));
                    break 'hosts;
                }
            }
        }
    }
    let (host, finding, cve) = pick.expect("a fixable CVE of one finding");
    let mut facts = pakiti_core::risk::CveFactsIndex::default();
    facts.insert(
        cve.clone(),
        pakiti_core::risk::CveFacts {
            kev: Some(pakiti_core::risk::Kev {
                date_added: "2024-01-01".into(),
                due_date: Some("2024-01-22".into()),
                ransomware: true,
            }),
            ..Default::default()
        },
    );
    s.state.engine.set_cve_facts(facts);

    browser.goto(&format!("{}/login", s.base)).await;
    browser.type_into("#user", "admin").await;
    browser.type_into("#password", "correct horse").await;
    browser.click("#login").await;
    browser.wait_url("/", |u| u == format!("{}/", s.base)).await;
    assert!(browser.wait_source("What to patch first").await);
    let kev_link = "#summary-exposed_kev a.count";
    let kev_before: usize = browser
        .text(&browser.find(kev_link).await)
        .await
        .parse()
        .unwrap();
    assert!(kev_before >= 1, "the KEV CVE's host is counted");
    browser.screenshot("20-front-page").await;

    browser.click(kev_link).await;
    browser
        .wait_url("the KEV hosts", |u| u.contains("exposed=kev"))
        .await;
    let rows = browser.find_all("table.hosts tbody tr").await;
    assert_eq!(
        rows.len(),
        kev_before,
        "the number's link lists that many hosts"
    );
    browser.screenshot("21-kev-hosts").await;

    browser
        .click(&format!("table.hosts a[href='/hosts/{}']", host.hostname))
        .await;
    browser
        .wait_url("the host page", |u| {
            u.ends_with(&format!("/hosts/{}", host.hostname))
        })
        .await;
    assert!(browser.wait_source("Install these updates").await);
    let row = format!("tr.patch:has(option[value='{cve}'])");
    let first = browser.find("table.patches tbody tr.patch").await;
    assert!(
        browser.text(&first).await.contains(&cve),
        "the KEV finding is the first patch (no CVE is tagged)"
    );
    assert!(browser.source().await.contains(">KEV</span>"));
    browser.screenshot("22-host-patch-list").await;

    let before = store.get_host(host.id).await.unwrap().unwrap().counts.cves;
    browser.click(&format!("{row} details summary")).await;
    let form = format!(
        "{row} form.exception:has(option[value='{cve}'])[action='/exceptions']:has(input[value='{}'])",
        finding.package.name
    );
    browser
        .click(&format!("{form} option[value='{cve}']"))
        .await;
    browser
        .type_into(
            &format!("{form} [name=reason]"),
            "not exposed: service disabled",
        )
        .await;
    browser.screenshot("23-mark-exception").await;
    browser.click(&format!("{form} button[type=submit]")).await;
    browser
        .wait_url("back on the host page", |u| {
            u.ends_with(&format!("/hosts/{}", host.hostname))
        })
        .await;
    assert!(
        browser.wait_source("not exposed: service disabled").await,
        "the exception is shown as applied"
    );
    let after = store.get_host(host.id).await.unwrap().unwrap().counts.cves;
    assert_eq!(after, before - 1, "the exception lowers the host's count");
    assert!(browser.wait_source(&format!("<dd>{after} (")).await);
    assert!(
        !browser
            .source()
            .await
            .contains(&format!("<option value=\"{cve}\">")),
        "the finding left the patch list"
    );
    browser.screenshot("24-host-after-exception").await;

    browser.goto(&format!("{}/", s.base)).await;
    let kev_after: usize = browser
        .text(&browser.find(kev_link).await)
        .await
        .parse()
        .unwrap();
    assert!(kev_after < kev_before, "{kev_after} < {kev_before}");
    browser.screenshot("25-front-page-after").await;
    browser.quit().await;
    s.finish().await;
}
