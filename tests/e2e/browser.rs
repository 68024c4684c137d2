//! The web client in real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven through WebDriver against the real server.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use plenary_protocol::Role;
use plenary_tests::{PATIENCE, TestServer};
use serde_json::json;
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process; each [`Driver::page`] is a separate browser with its own profile,
/// as two people on two machines would be.
struct Driver {
    url: String,
    _process: Child,
}

impl Driver {
    async fn start() -> Result<Driver> {
        for path in [CHROMIUM, CHROMEDRIVER] {
            if !std::path::Path::new(path).exists() {
                bail!(
                    "{path} is missing: install Debian's chromium and chromium-driver (the README's test command does)"
                );
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting chromedriver")?;
        let url = format!("http://127.0.0.1:{port}");
        // Wait until chromedriver answers.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while reqwest::get(format!("{url}/status")).await.is_err() {
            if tokio::time::Instant::now() > deadline {
                bail!("chromedriver did not start");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Driver {
            url,
            _process: process,
        })
    }

    /// A new browser window showing `url`.
    async fn page(&self, url: &str) -> Result<Client> {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1280,900"
                ]
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .context("opening a Chromium session")?;
        client.goto(url).await?;
        Ok(client)
    }
}

/// Wait for an element.
async fn wait_for(page: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    page.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting for {css}"))
}

/// Open an invite link, give a name, and enter a room.
async fn enter(driver: &Driver, link: &str, name: &str, room: &str) -> Result<Client> {
    let page = driver.page(link).await?;
    wait_for(&page, "#join-form #name")
        .await?
        .send_keys(name)
        .await?;
    wait_for(&page, "#join-form button[type=submit]")
        .await?
        .click()
        .await?;
    wait_for(&page, "#status[data-state=online]").await?;
    wait_for(&page, &format!("button[data-enter-room='{room}']"))
        .await?
        .click()
        .await?;
    wait_for(&page, "#room:not([hidden]) #chat-form").await?;
    Ok(page)
}

/// Type into a form's field and submit it.
async fn submit(page: &Client, field: &str, text: &str, button: &str) -> Result<()> {
    wait_for(page, field).await?.send_keys(text).await?;
    wait_for(page, button).await?.click().await?;
    Ok(())
}

/// XPath string literal for text without single quotes.
fn xpath_text(text: &str) -> String {
    assert!(!text.contains('\''), "test texts avoid single quotes");
    format!("'{text}'")
}

#[tokio::test]
async fn two_attendees_chat_in_chromium_and_markup_stays_text() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::start().await?;
    let link = server.server.invite_link(Role::Attendee, 1);
    let ana = enter(&driver, &link, "Ana", "main-stage").await?;
    let ben = enter(&driver, &link, "Ben", "main-stage").await?;

    let hostile = "<img src=x onerror=alert(1)>";
    submit(
        &ana,
        "#chat-input",
        hostile,
        "#chat-form button[type=submit]",
    )
    .await?;
    submit(
        &ana,
        "#chat-input",
        "Greetings from Leeds",
        "#chat-form button[type=submit]",
    )
    .await?;

    for text in [hostile, "Greetings from Leeds"] {
        let xpath = format!(
            "//ol[@id='chat-log']/li//span[contains(@class,'chat-text') and text()={}]",
            xpath_text(text)
        );
        ben.wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .with_context(|| format!("Ben sees {text:?}"))?;
    }
    // The markup was shown as text: no image element was made and no alert fired.
    assert!(
        ben.find_all(Locator::Css("#chat-log img"))
            .await?
            .is_empty()
    );
    assert!(ben.get_alert_text().await.is_err(), "no alert is open");
    let author = wait_for(&ben, "#chat-log li").await?.text().await?;
    assert!(
        author.contains("Ana"),
        "the message names its author: {author}"
    );

    ana.close().await?;
    ben.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_moderator_approves_a_question_and_attendee_pages_show_it() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::start().await?;
    let attendee_link = server.server.invite_link(Role::Attendee, 1);
    let moderator_link = server.server.invite_link(Role::Moderator, 1);
    let asker = enter(&driver, &attendee_link, "Priya", "main-stage").await?;
    let listener = enter(&driver, &attendee_link, "Lars", "main-stage").await?;
    let moderator = enter(&driver, &moderator_link, "Mona", "main-stage").await?;

    let question = "How did you fund the first exchange";
    submit(
        &asker,
        "#ask-input",
        question,
        "#ask-form button[type=submit]",
    )
    .await?;

    // The moderator's queue shows it waiting; approving it publishes it.
    let pending = wait_for(&moderator, "#questions li[data-status=pending]").await?;
    assert!(pending.text().await?.contains(question));
    pending
        .find(Locator::Css("button[data-action=approve]"))
        .await?
        .click()
        .await?;

    let shown = wait_for(
        &listener,
        "#questions li[data-status=approved] .question-text",
    )
    .await?;
    assert_eq!(shown.text().await?, question);
    let own = wait_for(&asker, "#questions li[data-status=approved] .question-text").await?;
    assert_eq!(own.text().await?, question);

    for page in [asker, listener, moderator] {
        page.close().await?;
    }
    Ok(())
}
