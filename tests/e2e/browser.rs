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
        self.page_with(url, &[]).await
    }

    /// A new browser window with a fake camera and microphone that may use WebRTC over
    /// 127.0.0.1, as the server does in tests.
    async fn media_page(&self, url: &str) -> Result<Client> {
        self.page_with(
            url,
            &[
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        .await
    }

    async fn page_with(&self, url: &str, extra_args: &[&str]) -> Result<Client> {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
        ];
        args.extend_from_slice(extra_args);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
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
    enter_page(driver.page(link).await?, name, room).await
}

async fn enter_page(page: Client, name: &str, room: &str) -> Result<Client> {
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

/// Decoded video frames of a page's stage video, from `RTCPeerConnection.getStats()`.
async fn frames_decoded(page: &Client) -> Result<u64> {
    let frames = page
        .execute("return window.plenaryMedia.framesDecoded()", vec![])
        .await?;
    frames
        .as_u64()
        .or_else(|| frames.as_f64().map(|frames| frames as u64))
        .with_context(|| format!("framesDecoded is a number, not {frames}"))
}

/// The ids of the tracks a page's room lists as live, sorted.
async fn live_tracks(page: &Client) -> Result<Vec<String>> {
    let ids = page
        .execute(
            "return [...window.plenaryMedia.tracks.keys()].sort()",
            vec![],
        )
        .await?;
    Ok(serde_json::from_value(ids)?)
}

/// Wait, at most [`PATIENCE`], until a page has decoded more than `count` frames.
async fn wait_for_frames(page: &Client, count: u64) -> Result<u64> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let frames = frames_decoded(page).await?;
        if frames > count {
            return Ok(frames);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the viewer decoded {frames} frames, wanted more than {count}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_host_goes_live_in_chromium_and_a_viewer_page_decodes_the_video() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::start().await?;
    let room = "workshop-1";
    let viewer_link = server.server.invite_link(Role::Attendee, 1);
    let host_link = server.server.invite_link(Role::Host, 1);
    let viewer = enter_page(driver.media_page(&viewer_link).await?, "Vera", room).await?;
    let host = enter_page(driver.media_page(&host_link).await?, "Hugo", room).await?;

    wait_for(&host, "#go-live:not([hidden])")
        .await?
        .click()
        .await?;
    let live = std::time::Instant::now();
    wait_for(&host, "#stop-live:not([hidden])").await?;
    // The viewer's page names who is live, and its video decodes, and keeps decoding.
    let status = wait_for(&viewer, "#stage-status").await?;
    viewer
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='stage-status' and contains(text(), 'Hugo')]",
        ))
        .await
        .context("the viewer sees that Hugo is live")?;
    let first = wait_for_frames(&viewer, 0).await?;
    println!(
        "first decoded frames {first} after {:?} from going live",
        live.elapsed()
    );
    let later = wait_for_frames(&viewer, first + 30).await?;
    assert!(later > first);
    assert!(status.text().await?.contains("Hugo"));

    // A viewer who arrives while the host is live decodes video too.
    let late = enter_page(driver.media_page(&viewer_link).await?, "Lena", room).await?;
    let entered = std::time::Instant::now();
    wait_for_frames(&late, 0).await?;
    println!(
        "late viewer: first decoded frame {:?} after entering the room",
        entered.elapsed()
    );

    host.close().await?;
    viewer.close().await?;
    late.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_host_moves_to_another_workshop_and_comes_back_after_a_dropped_connection() -> Result<()>
{
    let server = TestServer::start().await?;
    let driver = Driver::start().await?;
    let (first_room, second_room) = ("workshop-1", "workshop-2");
    let viewer_link = server.server.invite_link(Role::Attendee, 1);
    let host_link = server.server.invite_link(Role::Host, 1);
    let first = enter_page(driver.media_page(&viewer_link).await?, "Vera", first_room).await?;
    let second = enter_page(driver.media_page(&viewer_link).await?, "Walt", second_room).await?;
    let host = enter_page(driver.media_page(&host_link).await?, "Hugo", first_room).await?;

    wait_for(&host, "#go-live:not([hidden])")
        .await?
        .click()
        .await?;
    wait_for_frames(&first, 0).await?;

    // One action moves the stream; the browser keeps its camera.
    wait_for(&host, "#move-row:not([hidden]) #move-room")
        .await?
        .select_by_value(second_room)
        .await?;
    wait_for(&host, "#move-go").await?.click().await?;
    wait_for_frames(&second, 0).await?;
    first
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(
            "//p[@id='stage-status' and contains(text(), 'Nobody')]",
        ))
        .await
        .context("the first room's viewer sees the host leave")?;
    wait_for(&host, "#room:not([hidden])").await?;
    assert_eq!(
        host.current_url().await?.fragment(),
        Some(format!("room={second_room}").as_str())
    );

    // The host's WebSocket drops: it reconnects and publishes again on its own, and the
    // viewer plays the new tracks.
    let before = live_tracks(&second).await?;
    assert!(!before.is_empty());
    host.execute("window.plenaryMedia.connection.socket.close()", vec![])
        .await?;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let now = live_tracks(&second).await?;
        if !now.is_empty() && now != before {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the host did not publish again after reconnecting: {now:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (Stats of the ended tracks may be gone: count from now.)
    let resumed = frames_decoded(&second).await?;
    wait_for_frames(&second, resumed + 30).await?;

    for page in [first, second, host] {
        page.close().await?;
    }
    Ok(())
}
