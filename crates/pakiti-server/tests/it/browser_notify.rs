//! Browser test of notifications (headless Chromium, as `browser.rs`): an administrator
//! creates a rule on `/notifications` and presses its test-send button; the SMTP sink and the
//! webhook listener started here receive the message, and the outbox on the page says sent.

use pakiti_test_support::TestDatabase;

use crate::browser::Browser;
use crate::notify::{HookListener, SmtpSink, smtp_to, wait_for};
use crate::support::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_a_rule_and_test_send_it() {
    let browser = Browser::start().await;
    let sink = SmtpSink::start().await;
    let hook = HookListener::start("browser-secret").await;
    let s = TestServer::start(TestDatabase::sqlite(), smtp_to(sink.port)).await;

    browser.goto(&format!("{}/notifications", s.base)).await;
    assert!(browser.wait_source("Add a rule").await);
    browser
        .type_into("#new-rule input[name=name]", "on-call")
        .await;
    browser
        .type_into("#new-rule input[name=groups]", "prague")
        .await;
    browser.click("#new-rule input[name=trigger_kev]").await;
    browser
        .type_into("#new-rule input[name=emails]", "oncall@example.org")
        .await;
    browser
        .type_into("#new-rule input[name=webhook_url]", &hook.url)
        .await;
    browser
        .type_into("#new-rule input[name=webhook_secret]", &hook.secret)
        .await;
    browser.click("#new-rule button[type=submit]").await;
    assert!(browser.wait_source("data-rule=\"on-call\"").await);
    let row = browser.find("tr[data-rule=\"on-call\"]").await;
    let text = browser.text(&row).await;
    assert!(text.contains("group prague"), "{text}");
    assert!(text.contains("tagged, kev"), "{text}");
    assert!(text.contains("oncall@example.org"), "{text}");
    browser.screenshot("notify-01-rule-created").await;

    browser.click("tr[data-rule=\"on-call\"] .test-send").await;
    browser
        .wait_url("the page after test-send", |u| u.contains("queued=2"))
        .await;
    assert!(
        browser
            .wait_source("Test message queued to 2 destination(s)")
            .await
    );
    wait_for("the test mail and webhook", || {
        sink.mails().len() == 1 && hook.calls().len() == 1
    })
    .await;
    let mail = &sink.mails()[0];
    assert_eq!(mail.to, ["oncall@example.org"]);
    assert!(
        mail.data
            .contains("Subject: [pakiti] on-call: test message")
    );
    assert_eq!(hook.calls()[0].body["rule"], "on-call");
    assert_eq!(hook.bad.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The outbox on the page shows both delivered.
    browser.goto(&format!("{}/notifications", s.base)).await;
    assert!(browser.wait_source("status-sent").await);
    let sent = browser.find_all("#outbox tr.status-sent").await;
    assert_eq!(sent.len(), 2);
    browser.screenshot("notify-02-test-sent").await;
    browser.quit().await;
    s.finish().await;
}
