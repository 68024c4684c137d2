//! The web client in real headless Chromium (Debian's `chromium` and `chromium-driver`),
//! driven through WebDriver against the real server.

mod attendees;
mod hosts;
mod layout;
mod organisers;

use anyhow::{Context, Result};
use fantoccini::{Client, Locator};
use plenary_protocol::Role;
use plenary_tests::browser::Driver;
use plenary_tests::demo::{OTHER_WORKSHOP_ROOM, STAGE, WORKSHOP_ROOM};
use plenary_tests::{PATIENCE, TestServer, eventually};

/// Wait for an element.
async fn wait_for(page: &Client, css: &str) -> Result<fantoccini::elements::Element> {
    page.wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("waiting for {css}"))
}

/// Wait for an element found by XPath (for matching on text).
async fn wait_for_xpath(page: &Client, xpath: &str) -> Result<fantoccini::elements::Element> {
    page.wait()
        .at_most(PATIENCE)
        .for_element(Locator::XPath(xpath))
        .await
        .with_context(|| format!("waiting for {xpath}"))
}

/// Open an invite link and give a name; the page shows the programme.
async fn sign_in(driver: &Driver, link: &str, name: &str) -> Result<Client> {
    sign_in_page(driver.page(link).await?, name).await
}

/// Give a name on a page showing an invite link.
async fn sign_in_page(page: Client, name: &str) -> Result<Client> {
    wait_for(&page, "#join-form #name")
        .await?
        .send_keys(name)
        .await?;
    wait_for(&page, "#join-form button[type=submit]")
        .await?
        .click()
        .await?;
    wait_for(&page, "#status[data-state=online]").await?;
    Ok(page)
}

/// Open an invite link, give a name, and enter a room.
async fn enter(driver: &Driver, link: &str, name: &str, room: &str) -> Result<Client> {
    enter_page(driver.page(link).await?, name, room).await
}

/// A new page of `server` through a one-day invite for `role`, signed in as `name`, in
/// `room`.
async fn enter_as(
    driver: &Driver,
    server: &TestServer,
    role: Role,
    name: &str,
    room: &str,
) -> Result<Client> {
    enter(driver, &server.server.invite_link(role, 1), name, room).await
}

/// Send a chat message from the page's chat box.
pub(crate) async fn say(page: &Client, text: &str) -> Result<()> {
    submit(page, "#chat-input", text, "#chat-form button[type=submit]").await
}

/// Give a name on a page showing an invite link, and enter a room.
pub(crate) async fn enter_page(page: Client, name: &str, room: &str) -> Result<Client> {
    let page = sign_in_page(page, name).await?;
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
    let driver = Driver::shared().await?;
    let link = server.server.invite_link(Role::Attendee, 1);
    let ana = enter(&driver, &link, "Ana", STAGE).await?;
    let ben = enter(&driver, &link, "Ben", STAGE).await?;

    let hostile = "<img src=x onerror=alert(1)>";
    say(&ana, hostile).await?;
    say(&ana, "Greetings from Leeds").await?;

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
    let driver = Driver::shared().await?;
    let attendee_link = server.server.invite_link(Role::Attendee, 1);
    let moderator_link = server.server.invite_link(Role::Moderator, 1);
    let asker = enter(&driver, &attendee_link, "Priya", STAGE).await?;
    let listener = enter(&driver, &attendee_link, "Lars", STAGE).await?;
    let moderator = enter(&driver, &moderator_link, "Mona", STAGE).await?;

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

/// XPath of a question item with this exact text, in this state, under `scope`.
fn question_xpath(scope: &str, status: &str, text: &str) -> String {
    format!(
        "{scope}//li[@data-status='{status}'][.//span[contains(@class,'question-text') and text()={}]]",
        xpath_text(text)
    )
}

#[tokio::test]
async fn the_moderator_console_shows_pending_questions_of_every_room_and_approves_them()
-> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let attendee_link = server.server.invite_link(Role::Attendee, 1);
    let moderator_link = server.server.invite_link(Role::Moderator, 1);

    // The moderator opens the console before anything is asked: it joins every room.
    let moderator = sign_in(&driver, &moderator_link, "Mona").await?;
    wait_for(&moderator, "#open-console").await?.click().await?;
    for room in [STAGE, WORKSHOP_ROOM, OTHER_WORKSHOP_ROOM, "workshop-3"] {
        wait_for(
            &moderator,
            &format!("#console:not([hidden]) section.console-room[data-room='{room}']"),
        )
        .await?;
    }

    // One attendee asks in the live keynote, another in the panel (both moderated).
    let keynote_question = "What should a small library try first";
    let panel_question = "How do partners share the cost of travel";
    let aiko = enter(&driver, &attendee_link, "Aiko", STAGE).await?;
    let bruno = enter(&driver, &attendee_link, "Bruno", STAGE).await?;
    submit(
        &aiko,
        "#ask-input",
        keynote_question,
        "#ask-form button[type=submit]",
    )
    .await?;
    wait_for(&bruno, "#session-select")
        .await?
        .select_by_value("panel-partnerships")
        .await?;
    submit(
        &bruno,
        "#ask-input",
        panel_question,
        "#ask-form button[type=submit]",
    )
    .await?;

    // Both wait in the console, live; approving there publishes them.
    let main_stage = "//section[@data-room='main-stage']";
    for text in [keynote_question, panel_question] {
        let pending = wait_for_xpath(&moderator, &question_xpath(main_stage, "pending", text))
            .await
            .with_context(|| format!("the console shows {text:?} waiting"))?;
        pending
            .find(Locator::Css("button[data-action=approve]"))
            .await?
            .click()
            .await?;
    }
    wait_for(
        &moderator,
        "section.console-room[data-room='main-stage'][data-pending='0']",
    )
    .await
    .context("the console's queue empties once both are approved")?;

    // Each attendee sees the other's question, which was hidden until it was approved.
    wait_for(&aiko, "#session-select")
        .await?
        .select_by_value("panel-partnerships")
        .await?;
    wait_for_xpath(
        &aiko,
        &question_xpath("//ol[@id='questions']", "approved", panel_question),
    )
    .await
    .context("Aiko sees Bruno's approved panel question")?;
    wait_for(&bruno, "#session-select")
        .await?
        .select_by_value("keynote-open")
        .await?;
    wait_for_xpath(
        &bruno,
        &question_xpath("//ol[@id='questions']", "approved", keynote_question),
    )
    .await
    .context("Bruno sees Aiko's approved keynote question")?;

    for page in [moderator, aiko, bruno] {
        page.close().await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_host_runs_a_poll_and_the_attendee_vote_is_counted_on_both_pages() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let host = enter_as(&driver, &server, Role::Host, "Hana", WORKSHOP_ROOM).await?;
    let attendee = enter_as(&driver, &server, Role::Attendee, "Ravi", WORKSHOP_ROOM).await?;

    // The host writes a poll; it starts as a draft, then is opened with its results shown.
    wait_for(&host, "#poll-new").await?.click().await?;
    wait_for(&host, "#poll-question")
        .await?
        .send_keys("Which format suits your library")
        .await?;
    let options = host
        .find_all(Locator::Css("#poll-option-list input.poll-option-input"))
        .await?;
    assert_eq!(options.len(), 2, "a new poll starts with two options");
    options[0].send_keys("Book club").await?;
    options[1].send_keys("Maker space").await?;
    wait_for(&host, "#poll-create-submit")
        .await?
        .click()
        .await?;
    wait_for(
        &host,
        "#poll-list li.poll[data-state=draft] button[data-poll-action=open]",
    )
    .await?
    .click()
    .await?;
    wait_for(
        &host,
        "#poll-list li.poll[data-state=open] button[data-poll-action=show_results]",
    )
    .await?
    .click()
    .await?;
    wait_for(
        &host,
        "#poll-list li.poll[data-state=open][data-results-visible=true]",
    )
    .await?;

    // The attendee votes for the first option.
    wait_for(
        &attendee,
        "#poll-list li.poll[data-state=open] input[value='0']",
    )
    .await?
    .click()
    .await?;
    wait_for(&attendee, "#poll-list li.poll button.poll-vote-submit")
        .await?
        .click()
        .await?;

    // Both pages count one vote for it.
    let counted = "//ol[@id='poll-list']//li[contains(@class,'poll-result') and @data-index='0']\
                   //span[contains(@class,'poll-votes') and text()='1']";
    wait_for_xpath(&host, counted)
        .await
        .context("the host sees the vote counted")?;
    wait_for_xpath(&attendee, counted)
        .await
        .context("the attendee sees the results")?;
    let status = wait_for_text(&attendee, "#poll-list .poll-vote-status", |text| {
        !text.is_empty()
    })
    .await?;
    assert_eq!(
        status, "Your vote was counted.",
        "the attendee is told the vote counted"
    );

    host.close().await?;
    attendee.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_moderator_mutes_then_removes_an_attendee_and_the_attendee_page_follows() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let moderator = enter_as(&driver, &server, Role::Moderator, "Mona", STAGE).await?;
    let attendee = enter_as(&driver, &server, Role::Attendee, "Tom", STAGE).await?;
    say(&attendee, "Buy cheap watches here").await?;

    // Mute for ten minutes, through the author's menu and a confirmation.
    let message = "//ol[@id='chat-log']/li[.//span[contains(@class,'chat-text') and text()='Buy cheap watches here']]";
    wait_for_xpath(&moderator, message)
        .await?
        .find(Locator::Css("button.chat-person-menu"))
        .await?
        .click()
        .await?;
    wait_for(
        &moderator,
        "#chat-log .chat-menu button[data-sanction=mute-short]",
    )
    .await?
    .click()
    .await?;
    wait_for(
        &moderator,
        "#chat-log .chat-menu button[data-confirm-sanction]",
    )
    .await?
    .click()
    .await?;
    wait_for(&attendee, "#chat-muted:not([hidden])")
        .await
        .context("the attendee is told they are muted")?;
    wait_for(&attendee, "#chat-input:disabled")
        .await
        .context("the muted attendee cannot type")?;

    // A moderator who comes in later sees who is muted, and lifts it.
    let later = enter_as(&driver, &server, Role::Moderator, "Lena", STAGE).await?;
    let entry = wait_for(&later, "#muted-people:not([hidden]) li").await?;
    assert!(entry.text().await?.contains("Tom"));
    entry
        .find(Locator::Css("button[data-unmute]"))
        .await?
        .click()
        .await?;
    wait_for(&attendee, "#chat-input:not(:disabled)")
        .await
        .context("unmuted, the attendee may type again")?;
    wait_gone(&moderator, "#muted-people li").await?;
    later.close().await?;

    // Remove: the attendee is taken back to the programme and cannot enter again.
    wait_for_xpath(&moderator, message)
        .await?
        .find(Locator::Css("button.chat-person-menu"))
        .await?
        .click()
        .await?;
    wait_for(
        &moderator,
        "#chat-log .chat-menu button[data-sanction=remove]",
    )
    .await?
    .click()
    .await?;
    wait_for(
        &moderator,
        "#chat-log .chat-menu button[data-confirm-sanction]",
    )
    .await?
    .click()
    .await?;
    wait_for(&attendee, "#programme:not([hidden])")
        .await
        .context("the removed attendee is back on the programme")?;
    let notice = wait_for(&attendee, "#notice").await?.text().await?;
    assert!(
        notice.contains("Main stage"),
        "the notice names the room: {notice}"
    );
    wait_for(&attendee, "button[data-enter-room='main-stage']")
        .await?
        .click()
        .await?;
    wait_for(&attendee, "#programme:not([hidden])").await?;
    assert!(
        wait_for(&attendee, "#room")
            .await?
            .attr("hidden")
            .await?
            .is_some(),
        "the room stays closed to them"
    );

    moderator.close().await?;
    attendee.close().await?;
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
    eventually(&format!("more than {count} frames decoded"), async || {
        let frames = frames_decoded(page).await?;
        Ok((frames > count).then_some(frames))
    })
    .await
}

#[tokio::test]
async fn a_host_goes_live_in_chromium_and_a_viewer_page_decodes_the_video() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let room = WORKSHOP_ROOM;
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
    let driver = Driver::shared().await?;
    let (first_room, second_room) = (WORKSHOP_ROOM, OTHER_WORKSHOP_ROOM);
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
    eventually("the host publishing again after reconnecting", async || {
        let now = live_tracks(&second).await?;
        Ok((!now.is_empty() && now != before).then_some(()))
    })
    .await?;
    // (Stats of the ended tracks may be gone: count from now.)
    let resumed = frames_decoded(&second).await?;
    wait_for_frames(&second, resumed + 30).await?;

    for page in [first, second, host] {
        page.close().await?;
    }
    Ok(())
}

/// The text of an element, once `done` accepts it.
pub(crate) async fn wait_for_text(
    page: &Client,
    css: &str,
    done: impl Fn(&str) -> bool,
) -> Result<String> {
    eventually(&format!("{css} showing the text wanted"), async || {
        let text = wait_for(page, css).await?.text().await?;
        Ok(done(&text).then_some(text))
    })
    .await
}

/// Wait until no element matches.
async fn wait_gone(page: &Client, css: &str) -> Result<()> {
    eventually(&format!("{css} gone"), async || {
        Ok(page
            .find_all(Locator::Css(css))
            .await?
            .is_empty()
            .then_some(()))
    })
    .await
}

/// Click the element an XPath finds once it is there, finding it again if the page drew it
/// anew in between (a stale element).
async fn click_xpath(page: &Client, xpath: &str) -> Result<()> {
    eventually(&format!("clicking {xpath}"), async || {
        let Ok(element) = page.find(Locator::XPath(xpath)).await else {
            return Ok(None);
        };
        Ok(element.click().await.ok())
    })
    .await
}

/// Wait until nothing matches an XPath.
async fn wait_gone_xpath(page: &Client, xpath: &str) -> Result<()> {
    eventually(&format!("{xpath} gone"), async || {
        Ok(page
            .find_all(Locator::XPath(xpath))
            .await?
            .is_empty()
            .then_some(()))
    })
    .await
}

/// "HH:MM" of an RFC 3339 instant in time zone `zone`.
fn clock_in(instant: &str, zone: &str) -> Result<String> {
    let timestamp: jiff::Timestamp = instant.parse()?;
    Ok(timestamp.in_tz(zone)?.strftime("%H:%M").to_string())
}

#[tokio::test]
async fn the_programme_shows_local_times_for_the_browser_zone_and_filters_by_day_track_and_kind()
-> Result<()> {
    let server = TestServer::start().await?;
    let schedule =
        crate::import::imported(&server, crate::import::fixture("31c3-schedule.xml")).await?;
    // The file gives only offsets (+01:00), so the conference's zone is a fixed one.
    let venue = schedule["conference"]["timezone"]
        .as_str()
        .context("timezone")?;
    let days = schedule["days"].as_array().context("days")?;
    let sessions = schedule["sessions"].as_array().context("sessions")?;
    let on_day = |session: &serde_json::Value, day: &serde_json::Value| {
        let start = session["start"].as_str().unwrap_or_default();
        day["start"].as_str().is_some_and(|from| from <= start)
            && day["end"].as_str().is_some_and(|to| start < to)
    };
    // A session on the second day with a track, and another of another track that day.
    let day = &days[1];
    let date = day["date"].as_str().context("date")?;
    let chosen = sessions
        .iter()
        .find(|session| on_day(session, day) && session["track"].is_string())
        .context("a session with a track on day two")?;
    let other = sessions
        .iter()
        .find(|session| {
            on_day(session, day)
                && session["track"].is_string()
                && session["track"] != chosen["track"]
        })
        .context("a session of another track on day two")?;
    let id = chosen["id"].as_str().context("id")?;
    let start = chosen["start"].as_str().context("start")?;
    let in_kolkata = clock_in(start, "Asia/Kolkata")?;
    let in_venue = clock_in(start, venue)?;
    assert_ne!(in_kolkata, in_venue);

    // A browser in Kolkata, writing British English (24-hour clock).
    let driver = Driver::shared_as(Some(("Asia/Kolkata", "en-GB"))).await?;
    let page = driver.page(&server.url("/")).await?;
    wait_for(&page, &format!("#programme-days button[data-day='{date}']"))
        .await?
        .click()
        .await?;
    let time_css = format!("#programme-rooms li[data-session='{id}'] .session-time time");
    let shown = wait_for_text(&page, &time_css, |text| !text.is_empty()).await?;
    assert!(
        shown.contains(&in_kolkata),
        "{id} starts at {start}: {in_kolkata} in Kolkata, the page shows {shown:?}"
    );
    let note = wait_for(&page, "#timezone-note").await?.text().await?;
    // (Chromium's ICU still names the zone by its old name.)
    assert!(
        note.contains("Asia/Kolkata") || note.contains("Asia/Calcutta"),
        "{note}"
    );

    // Switched to the conference's zone, the same session shows the venue's clock.
    wait_for(&page, "#zone-switch input[value=venue]")
        .await?
        .click()
        .await?;
    let shown = wait_for_text(&page, &time_css, |text| text.contains(&in_venue)).await?;
    assert!(!shown.contains(&in_kolkata), "{shown}");

    // Filtering by the session's track leaves out the other track's session …
    let other_css = format!(
        "#programme-rooms li[data-session='{}']",
        other["id"].as_str().context("other id")?
    );
    assert!(!page.find_all(Locator::Css(&other_css)).await?.is_empty());
    wait_for(&page, "#filter-track")
        .await?
        .select_by_value(chosen["track"].as_str().context("track")?)
        .await?;
    wait_for(&page, &time_css).await?;
    assert!(page.find_all(Locator::Css(&other_css)).await?.is_empty());
    // … and a kind it is not of leaves it out too; "all kinds" brings it back.
    let kind = chosen["kind"].as_str().context("kind")?;
    let other_kind = sessions
        .iter()
        .filter_map(|session| session["kind"].as_str())
        .find(|other| *other != kind)
        .context("a second kind")?;
    let kinds = wait_for(&page, "#filter-kind").await?;
    kinds.select_by_value(other_kind).await?;
    let item_css = format!("#programme-rooms li[data-session='{id}']");
    wait_gone(&page, &item_css).await?;
    kinds.select_by_value("").await?;
    wait_for(&page, &item_css).await?;

    // Another day's tab shows that day's sessions instead.
    let first = days[0]["date"].as_str().context("first date")?;
    wait_for(
        &page,
        &format!("#programme-days button[data-day='{first}']"),
    )
    .await?
    .click()
    .await?;
    wait_gone(&page, &item_css).await?;
    page.close().await?;
    Ok(())
}

#[tokio::test]
async fn an_attendee_bookmarks_and_registers_from_the_programme_and_a_reload_keeps_both()
-> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let link = server.server.invite_link(Role::Attendee, 1);
    let page = sign_in(&driver, &link, "Planner").await?;
    wait_for(
        &page,
        "button[data-bookmark='showcases'][aria-pressed='false']",
    )
    .await?
    .click()
    .await?;
    wait_for(
        &page,
        "button[data-bookmark='showcases'][aria-pressed='true']",
    )
    .await?;
    wait_for(&page, "button[data-register='workshop-partnerships']")
        .await?
        .click()
        .await?;
    let place = "//li[@data-session='workshop-partnerships']//span[@class='registration' \
                 and text()='You have a place.']";
    wait_for_xpath(&page, place).await?;
    // The calendar link names this person.
    let calendar = wait_for(&page, "#agenda-calendar a").await?;
    let href = calendar.attr("href").await?.unwrap_or_default();
    assert!(href.starts_with("/api/me/agenda.ics?token="), "{href}");

    // What the page shows after a reload comes from the server.
    page.goto(&server.url("/")).await?;
    wait_for(
        &page,
        "button[data-bookmark='showcases'][aria-pressed='true']",
    )
    .await?;
    wait_for_xpath(&page, place).await?;
    let ics = reqwest::get(server.url(&href))
        .await?
        .error_for_status()?
        .text()
        .await?;
    assert!(ics.contains("UID:showcases@"), "{ics}");
    page.close().await?;
    Ok(())
}
