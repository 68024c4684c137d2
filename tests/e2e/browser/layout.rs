//! What an attendee sees on entering a stage room, on a laptop (1280×900) and on a phone
//! (390×844): the stage's picture first, what is coming while nobody is on stage, chat,
//! questions and polls beside it or in tabs under it, and reactions that read without a
//! colour-emoji font. Each screen is saved as a PNG in the test's data directory (and, when
//! `PLENARY_SHOTS` names a directory, copied there to be looked at).

use std::path::Path;

use anyhow::{Context, Result, ensure};
use fantoccini::Client;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use plenary_protocol::Role;
use plenary_tests::browser::Driver;
use plenary_tests::demo::{KEYNOTE, STAGE};
use plenary_tests::{TestServer, eventually};
use serde_json::{Value, json};

use super::{clock_in, enter_page, wait_for, wait_for_frames, wait_for_text};

/// An element's box in the viewport (`getBoundingClientRect`), in CSS pixels.
#[derive(Debug)]
struct Rect {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

impl Rect {
    fn bottom(&self) -> f64 {
        self.y + self.height
    }
}

/// A number a page's script returned under `key`.
fn number(value: &Value, key: &str) -> Result<f64> {
    value[key]
        .as_f64()
        .with_context(|| format!("{key} is a number in {value}"))
}

async fn rect(page: &Client, css: &str) -> Result<Rect> {
    let value = page
        .execute(
            "const box = document.querySelector(arguments[0]).getBoundingClientRect();
             return { x: box.x, y: box.y, width: box.width, height: box.height };",
            vec![json!(css)],
        )
        .await
        .with_context(|| format!("the box of {css}"))?;
    Ok(Rect {
        x: number(&value, "x")?,
        y: number(&value, "y")?,
        width: number(&value, "width")?,
        height: number(&value, "height")?,
    })
}

/// The viewport's width and height, in CSS pixels.
async fn viewport(page: &Client) -> Result<(f64, f64)> {
    let value = page
        .execute("return { width: innerWidth, height: innerHeight };", vec![])
        .await?;
    Ok((number(&value, "width")?, number(&value, "height")?))
}

/// Emulate a screen and wait until the page has laid itself out for it.
async fn resize(driver: &Driver, page: &Client, width: u32, height: u32) -> Result<(f64, f64)> {
    driver
        .emulate_screen(page, width, height, width < 800)
        .await?;
    eventually(&format!("a {width}×{height} viewport"), async || {
        let shown = viewport(page).await?;
        Ok((shown == (f64::from(width), f64::from(height))).then_some(shown))
    })
    .await
}

/// Whether the page is wider than its viewport (a sideways scrollbar).
async fn overflows_sideways(page: &Client) -> Result<bool> {
    let value = page
        .execute(
            "return document.documentElement.scrollWidth > innerWidth",
            vec![],
        )
        .await?;
    value.as_bool().context("a boolean")
}

/// Take a screenshot, keep it in `dir`, and copy it to `PLENARY_SHOTS` if that is set.
async fn screenshot(page: &Client, dir: &Path, name: &str) -> Result<()> {
    let png = page.screenshot().await?;
    ensure!(png.starts_with(b"\x89PNG"), "{name} is a PNG");
    let path = dir.join(name);
    std::fs::write(&path, &png)?;
    if let Some(shots) = std::env::var_os("PLENARY_SHOTS") {
        std::fs::create_dir_all(&shots)?;
        std::fs::copy(&path, Path::new(&shots).join(name))?;
    }
    println!("screenshot: {}", path.display());
    Ok(())
}

/// Press a key and let it go, on whatever has the focus.
async fn press(page: &Client, key: Key) -> Result<()> {
    let value = char::from(key);
    page.perform_actions(
        KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value }),
    )
    .await?;
    Ok(())
}

/// The id of the focused element ("" if it has none).
async fn focused(page: &Client) -> Result<String> {
    let id = page
        .execute("return document.activeElement?.id ?? ''", vec![])
        .await?;
    Ok(id.as_str().unwrap_or_default().to_owned())
}

/// Whether an element is rendered (not `display: none`, itself or by an ancestor).
async fn displayed(page: &Client, css: &str) -> Result<bool> {
    Ok(wait_for(page, css).await?.is_displayed().await?)
}

#[tokio::test]
async fn an_attendee_entering_the_stage_sees_the_picture_first_on_a_laptop_and_on_a_phone()
-> Result<()> {
    let server = TestServer::start().await?;
    let schedule = server.schedule().await?;
    let keynote = schedule["sessions"]
        .as_array()
        .and_then(|sessions| sessions.iter().find(|session| session["id"] == KEYNOTE))
        .context("the keynote in the schedule")?;
    let title = keynote["title"].as_str().context("title")?;
    let start = keynote["start"].as_str().context("start")?;

    // An attendee in Kolkata, writing British English, enters the main stage before anyone
    // is on it.
    let driver = Driver::shared_as(Some(("Asia/Kolkata", "en-GB"))).await?;
    let viewer_link = server.server.invite_link(Role::Attendee, 1);
    let host_link = server.server.invite_link(Role::Host, 1);
    let viewer = enter_page(driver.media_page(&viewer_link).await?, "Vera", STAGE).await?;
    resize(&driver, &viewer, 1280, 900).await?;

    // Nobody is on stage: the picture's place says what is coming, in the viewer's zone.
    wait_for(&viewer, "#stage-player[data-state=waiting]").await?;
    let coming = wait_for_text(&viewer, "#stage-coming .stage-coming-title", |text| {
        !text.is_empty()
    })
    .await?;
    assert_eq!(coming, title);
    let when = wait_for(&viewer, "#stage-coming .stage-coming-time time").await?;
    let at = clock_in(start, "Asia/Kolkata")?;
    // (en-GB writes the hours before ten without their zero: "Sat 5 Dec, 0:30".)
    let unpadded = format!(" {}", at.strip_prefix('0').unwrap_or(&at));
    let when_text = when.text().await?;
    assert!(
        when_text.contains(&at) || when_text.contains(&unpadded),
        "the start in Kolkata ({at}): {when_text}"
    );
    assert!(!displayed(&viewer, "#stage-video").await?, "no black box");
    screenshot(&viewer, server.dir.path(), "stage-waiting-1280x900.png").await?;

    // The reactions read on this device: each button is labelled, and where there is no
    // colour-emoji font (the page looked) it shows its name rather than an empty box.
    let emoji = viewer
        .execute("return document.documentElement.dataset.emoji", vec![])
        .await?;
    let applause = wait_for(&viewer, "#reaction-buttons button[data-emoji='👏']").await?;
    assert_eq!(
        applause.attr("aria-label").await?.as_deref(),
        Some("React: applause")
    );
    let visible = applause.text().await?;
    match emoji.as_str() {
        Some("none") => assert_eq!(visible, "Applause"),
        Some("colour") => assert_eq!(visible, "👏"),
        other => anyhow::bail!("the page decides how emoji read, not {other:?}"),
    }
    println!("colour emoji on this device: {emoji}");

    // A host goes live on the stage.
    let host = enter_page(driver.media_page(&host_link).await?, "Hugo", STAGE).await?;
    wait_for(&host, "#go-live:not([hidden])")
        .await?
        .click()
        .await?;
    wait_for(&viewer, "#stage-player[data-state=video]").await?;
    wait_for_frames(&viewer, 10).await?;

    // The laptop: the whole picture in the first screen, 16:9, with chat and questions beside
    // it and the reactions directly under it.
    let (width, height) = viewport(&viewer).await?;
    let video = rect(&viewer, "#stage-video").await?;
    println!("1280×900: video {video:?}");
    assert!(
        video.y >= 0.0 && video.bottom() <= height,
        "the picture is within the first screen: {video:?}"
    );
    assert!(
        (video.width / video.height - 16.0 / 9.0).abs() < 0.02,
        "16:9: {video:?}"
    );
    assert!(video.width >= 0.5 * width, "{video:?}");
    for panel in ["#chat", "#qa"] {
        let beside = rect(&viewer, panel).await?;
        assert!(
            beside.x >= video.x + video.width && beside.y < height,
            "{panel} beside the picture: {beside:?}"
        );
        assert!(displayed(&viewer, panel).await?);
    }
    assert!(
        !displayed(&viewer, "#room-tabs").await?,
        "no tabs on a laptop"
    );
    assert!(
        !overflows_sideways(&viewer).await?,
        "nothing sticks out sideways"
    );
    let reactions = rect(&viewer, "#reactions").await?;
    assert!(
        reactions.y >= video.bottom() && reactions.y - video.bottom() < 40.0,
        "the reactions are directly under the picture: {reactions:?}"
    );
    screenshot(&viewer, server.dir.path(), "stage-1280x900.png").await?;

    // The phone: the picture at the top, nearly the screen's width; the audio and slides
    // choices under it, before the tabs; chat, questions and polls in tabs.
    let (width, height) = resize(&driver, &viewer, 390, 844).await?;
    wait_for(&viewer, "#room-tabs:not([hidden])").await?;
    let video = rect(&viewer, "#stage-video").await?;
    println!("390×844: video {video:?}");
    assert!(
        video.y >= 0.0 && video.y < height,
        "the picture starts in the first screen: {video:?}"
    );
    assert!(
        video.width >= 0.6 * width,
        "at least 60 % of the width: {video:?}"
    );
    let audio_only = rect(&viewer, "#audio-only").await?;
    let tabs = rect(&viewer, "#room-tabs").await?;
    assert!(
        audio_only.y >= video.bottom() && audio_only.bottom() <= tabs.y,
        "audio only is under the picture and before the tabs: {audio_only:?} {tabs:?}"
    );
    assert!(
        audio_only.bottom() <= height && tabs.y < height,
        "no scrolling to reach them: {audio_only:?} {tabs:?}"
    );
    assert!(
        !overflows_sideways(&viewer).await?,
        "nothing sticks out sideways"
    );
    assert!(displayed(&viewer, "#chat").await?);
    assert!(!displayed(&viewer, "#qa").await?);
    assert!(!displayed(&viewer, "#polls").await?);
    screenshot(&viewer, server.dir.path(), "stage-390x844.png").await?;

    // Audio only, chosen under the picture: no video is received, and the stage says so
    // rather than showing a black box; unchosen, the picture comes back.
    wait_for(&viewer, "#audio-only").await?.click().await?;
    wait_for(&viewer, "#stage-player[data-state=sound]").await?;
    let why = wait_for_text(&viewer, "#stage-coming", |text| !text.is_empty()).await?;
    assert!(why.starts_with("Audio only"), "{why}");
    assert!(!displayed(&viewer, "#stage-video").await?);
    screenshot(&viewer, server.dir.path(), "stage-390x844-audio-only.png").await?;
    wait_for(&viewer, "#audio-only").await?.click().await?;
    wait_for(&viewer, "#stage-player[data-state=video]").await?;

    // The tabs by keyboard: Tab from the last choice reaches the selected tab, the arrows
    // move along them and show their panel, and Tab goes on into that panel.
    viewer
        .execute("document.getElementById('slides-only').focus()", vec![])
        .await?;
    let mut reached = false;
    for _ in 0..10 {
        press(&viewer, Key::Tab).await?;
        if focused(&viewer).await? == "tab-chat" {
            reached = true;
            break;
        }
    }
    assert!(reached, "Tab reaches the chat tab");
    press(&viewer, Key::Right).await?;
    assert_eq!(focused(&viewer).await?, "tab-qa");
    let tab = wait_for(&viewer, "#tab-qa").await?;
    assert_eq!(tab.attr("aria-selected").await?.as_deref(), Some("true"));
    assert!(displayed(&viewer, "#qa").await?);
    assert!(!displayed(&viewer, "#chat").await?);
    press(&viewer, Key::End).await?;
    assert_eq!(focused(&viewer).await?, "tab-polls");
    assert!(displayed(&viewer, "#polls").await?);
    press(&viewer, Key::Home).await?;
    assert_eq!(focused(&viewer).await?, "tab-chat");
    press(&viewer, Key::Tab).await?;
    let inside = focused(&viewer).await?;
    assert!(
        inside.starts_with("chat-"),
        "Tab goes from the tab into the chat: {inside}"
    );

    // Scrolling the chat's page keeps the picture at the top, and the tabs under it.
    viewer
        .execute("window.scrollTo(0, document.body.scrollHeight)", vec![])
        .await?;
    let scrolled = viewer.execute("return scrollY", vec![]).await?;
    assert!(
        scrolled.as_f64().unwrap_or_default() > 0.0,
        "the phone's page scrolls"
    );
    let video = rect(&viewer, "#stage-video").await?;
    assert!(
        video.y.abs() < 1.0,
        "the picture sticks to the top: {video:?}"
    );
    let tabs = rect(&viewer, "#room-tabs").await?;
    assert!(
        (tabs.y - video.bottom()).abs() < 1.0,
        "the tabs stick under it: {tabs:?}"
    );
    screenshot(&viewer, server.dir.path(), "stage-390x844-scrolled.png").await?;

    host.close().await?;
    viewer.close().await?;
    Ok(())
}
