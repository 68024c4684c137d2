//! What an attendee trips over: a connection that drops in the middle of a chat (the state is
//! shown beside the chat box, what they send meanwhile waits and goes out once, the notice
//! goes when the connection is back); questions (their own cannot be upvoted, and one a
//! moderator merged into another says so and leads to it); and workshop places (how many are
//! left, or where on the waitlist they would be, before they register).

use anyhow::{Context, Result};
use fantoccini::{Client, Locator};
use plenary_protocol::Role;
use plenary_tests::browser::Driver;
use plenary_tests::demo::{STAGE, WORKSHOP_ROOM, WORKSHOP_SESSION};
use plenary_tests::{TestServer, eventually};

use super::{
    click_xpath, enter, enter_as, say, sign_in, submit, wait_for, wait_for_xpath, wait_gone,
    wait_gone_xpath, xpath_text,
};

/// Cut the page's connection, as a network drop does: it keeps trying an address that
/// refuses, until [`network_back`].
async fn network_drops(page: &Client) -> Result<()> {
    page.execute(
        "const connection = window.plenaryMedia.connection;
         connection.realUrl = connection.url;
         connection.url = 'ws://127.0.0.1:9/ws';
         connection.socket.close();",
        vec![],
    )
    .await?;
    Ok(())
}

/// The network is back: the browser says so (`online`), and the page reconnects.
async fn network_back(page: &Client) -> Result<()> {
    page.execute(
        "const connection = window.plenaryMedia.connection;
         connection.url = connection.realUrl;",
        vec![],
    )
    .await?;
    eventually("the page back online", async || {
        page.execute("window.dispatchEvent(new Event('online'))", vec![])
            .await?;
        Ok(page
            .find_all(Locator::Css("#status[data-state=online]"))
            .await?
            .first()
            .map(drop))
    })
    .await
}

/// The chat log items of a page with exactly this text.
fn chat_xpath(text: &str) -> String {
    format!(
        "//ol[@id='chat-log']/li[.//span[contains(@class,'chat-text') and text()={}]]",
        xpath_text(text)
    )
}

#[tokio::test]
async fn a_chat_sent_offline_waits_beside_the_chat_box_and_goes_out_once_on_reconnect() -> Result<()>
{
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let link = server.server.invite_link(Role::Attendee, 1);
    let ana = enter(&driver, &link, "Ana", STAGE).await?;
    let ben = enter(&driver, &link, "Ben", STAGE).await?;
    wait_for(&ana, "#chat-offline[hidden]").await?;

    network_drops(&ana).await?;
    let offline = wait_for(&ana, "#chat-offline:not([hidden])")
        .await
        .context("the chat says the connection is gone")?;
    assert!(offline.text().await?.contains("You are offline"));

    let text = "Sent from the train in the tunnel";
    say(&ana, text).await?;
    let item = wait_for_xpath(&ana, &format!("{}[@data-waiting]", chat_xpath(text)))
        .await
        .context("the message waits in the log")?;
    assert!(item.text().await?.contains("waiting to be sent"));
    let offline = wait_for(&ana, "#chat-offline").await?.text().await?;
    assert!(offline.contains("1 message will be sent"), "{offline}");

    network_back(&ana).await?;
    wait_for_xpath(&ben, &chat_xpath(text))
        .await
        .context("the other attendee gets the message")?;
    wait_for(&ana, "#chat-offline[hidden]")
        .await
        .context("back online, the notice goes")?;
    wait_gone(&ana, "#chat-log li[data-waiting]").await?;
    wait_for_xpath(&ana, &chat_xpath(text)).await?;
    for page in [&ana, &ben] {
        assert_eq!(
            page.find_all(Locator::XPath(&chat_xpath(text)))
                .await?
                .len(),
            1,
            "the message is in the chat once"
        );
    }
    assert_eq!(wait_for(&ana, "#notice").await?.text().await?, "");

    ana.close().await?;
    ben.close().await?;
    Ok(())
}

/// Ask a question in the workshop session, from the entered workshop room.
async fn ask_in_workshop(page: &Client, text: &str) -> Result<()> {
    wait_for(page, "#session-select")
        .await?
        .select_by_value(WORKSHOP_SESSION)
        .await?;
    submit(page, "#ask-input", text, "#ask-form button[type=submit]").await
}

/// The question item with this text in a page's Q&A.
fn question_xpath(text: &str) -> String {
    format!(
        "//ol[@id='questions']/li[.//span[contains(@class,'question-text') and text()={}]]",
        xpath_text(text)
    )
}

/// The contrast ratio (WCAG 2) of the text of the element an XPath finds against what is
/// behind it, with the opacity of it and its ancestors blended in.
async fn contrast(page: &Client, xpath: &str) -> Result<f64> {
    let ratio = page
        .execute(
            "const element = document.evaluate(arguments[0], document, null,
                 XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue;
             const rgba = (text) => (text.match(/[0-9.]+/g) ?? []).map(Number);
             let opacity = 1;
             let background = null;
             for (let node = element; node; node = node.parentElement) {
               const style = getComputedStyle(node);
               opacity *= Number(style.opacity);
               const [r, g, b, a = 1] = rgba(style.backgroundColor);
               if (!background && a > 0) background = [r, g, b];
             }
             background ??= [255, 255, 255];
             const [r, g, b, a = 1] = rgba(getComputedStyle(element).color);
             const alpha = a * opacity;
             const text = [r, g, b].map((c, i) => c * alpha + background[i] * (1 - alpha));
             const luminance = (rgb) => {
               const [lr, lg, lb] = rgb.map((c) => {
                 const s = c / 255;
                 return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
               });
               return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
             };
             const [light, dark] = [luminance(text), luminance(background)].sort((x, y) => y - x);
             return (light + 0.05) / (dark + 0.05);",
            vec![serde_json::json!(xpath)],
        )
        .await?;
    ratio
        .as_f64()
        .with_context(|| format!("a contrast ratio for {xpath}, not {ratio}"))
}

#[tokio::test]
async fn authors_cannot_upvote_their_own_question_and_see_where_a_merged_one_went() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let link = server.server.invite_link(Role::Attendee, 1);
    let ana = enter(&driver, &link, "Ana", WORKSHOP_ROOM).await?;
    let bo = enter(&driver, &link, "Bo", WORKSHOP_ROOM).await?;
    let moderator = enter_as(&driver, &server, Role::Moderator, "Mona", WORKSHOP_ROOM).await?;
    let kept = "How do we start a partnership";
    let duplicate = "How do we begin a partnership";
    ask_in_workshop(&ana, kept).await?;
    ask_in_workshop(&bo, duplicate).await?;

    // Each sees an Upvote on the other's question and none on their own.
    for (page, own, other) in [(&ana, kept, duplicate), (&bo, duplicate, kept)] {
        wait_for_xpath(
            page,
            &format!("{}//button[contains(@class,'vote')]", question_xpath(other)),
        )
        .await
        .context("another's question can be upvoted")?;
        let own = wait_for_xpath(page, &question_xpath(own)).await?;
        assert!(
            own.find_all(Locator::Css("button.vote")).await?.is_empty(),
            "no Upvote on one's own question"
        );
    }

    // The moderator merges Bo's question into Ana's.
    wait_for_xpath(&moderator, &question_xpath(kept)).await?;
    let kept_id = wait_for_xpath(&moderator, &question_xpath(kept))
        .await?
        .attr("data-question-id")
        .await?
        .context("a question id")?;
    wait_for_xpath(
        &moderator,
        &format!(
            "{}//button[@data-action='merge']",
            question_xpath(duplicate)
        ),
    )
    .await?
    .click()
    .await?;
    wait_for(&moderator, ".question-editor select")
        .await?
        .select_by_value(&kept_id)
        .await?;
    wait_for(&moderator, ".question-editor button[type=submit]")
        .await?
        .click()
        .await?;

    // The moderator still reads the merged question: number, text, author and badge keep
    // their contrast (WCAG AA, 4.5:1), as axe-core's color-contrast rule asks.
    let merged = format!("{}[@data-status='merged']", question_xpath(duplicate));
    wait_for_xpath(&moderator, &merged).await?;
    for part in [
        "question-number",
        "question-text",
        "question-author",
        "status-badge",
    ] {
        let ratio = contrast(
            &moderator,
            &format!("{merged}//span[contains(@class,'{part}')]"),
        )
        .await?;
        assert!(
            ratio >= 4.5,
            "{part} of the merged question: contrast {ratio:.2}"
        );
    }

    // Bo's question says where it went, and leads there.
    let note = wait_for_xpath(
        &bo,
        &format!(
            "{}[@data-status='merged']//span[contains(@class,'question-merged')]",
            question_xpath(duplicate)
        ),
    )
    .await
    .context("the author sees the question merged")?;
    assert_eq!(note.text().await?, format!("Merged into: “{kept}” Show it"));
    note.find(Locator::Css("button[data-follow]"))
        .await?
        .click()
        .await?;
    let focused = bo
        .execute(
            "return document.activeElement?.dataset.questionId ?? ''",
            vec![],
        )
        .await?;
    assert_eq!(
        focused.as_str(),
        Some(kept_id.as_str()),
        "Show it leads to the kept question"
    );
    // Others no longer see the duplicate.
    wait_gone_xpath(&ana, &question_xpath(duplicate)).await?;

    for page in [ana, bo, moderator] {
        page.close().await?;
    }
    Ok(())
}

/// An organiser sets how many people `room` takes.
async fn set_capacity(server: &TestServer, room: &str, capacity: u32) -> Result<()> {
    let organiser = server.token(Role::Organiser, "Olga");
    reqwest::Client::new()
        .patch(server.url(&format!("/api/rooms/{room}")))
        .bearer_auth(&organiser)
        .json(&serde_json::json!({ "capacity": capacity }))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

#[tokio::test]
async fn workshop_cards_show_places_left_and_where_on_the_waitlist_one_would_be() -> Result<()> {
    let server = TestServer::start().await?;
    // Workshop room 2 takes two people; three have asked, so one waits.
    set_capacity(&server, "workshop-2", 2).await?;
    for name in ["Ada", "Bo", "Cy"] {
        let mut early = server.client(Role::Attendee, name).await?;
        early
            .ok(serde_json::json!({"type":"register","session":"workshop-fundraising"}))
            .await?;
    }

    let driver = Driver::shared().await?;
    let page = sign_in(
        &driver,
        &server.server.invite_link(Role::Attendee, 1),
        "Dana",
    )
    .await?;
    let registration = |session: &str, text: &str| {
        format!(
            "//li[@data-session='{session}']//span[@class='registration' and text()={}]",
            xpath_text(text)
        )
    };
    wait_for_xpath(&page, &registration(WORKSHOP_SESSION, "40 places left.")).await?;
    wait_for_xpath(
        &page,
        &registration(
            "workshop-fundraising",
            "Full — join the waitlist (you would be 2nd).",
        ),
    )
    .await
    .context("the full workshop says where on the waitlist she would be")?;
    click_xpath(
        &page,
        "//button[@data-register='workshop-fundraising' and text()='Join the waitlist']",
    )
    .await?;
    wait_for_xpath(
        &page,
        &registration("workshop-fundraising", "On the waitlist: number 2."),
    )
    .await
    .context("she is where the card said she would be")?;

    // Where places are left, registering gives her one.
    click_xpath(
        &page,
        &format!("//button[@data-register='{WORKSHOP_SESSION}']"),
    )
    .await?;
    wait_for_xpath(
        &page,
        &format!(
            "//li[@data-session='{WORKSHOP_SESSION}']//span[@class='registration' \
             and text()='You have a place.']"
        ),
    )
    .await?;
    page.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_programme_leads_into_rooms_lists_my_agenda_and_tells_a_promotion_as_good_news()
-> Result<()> {
    let server = TestServer::start().await?;
    // Workshop room 2 takes one person, and Ada has that place.
    set_capacity(&server, "workshop-2", 1).await?;
    let mut ada = server.client(Role::Attendee, "Ada").await?;
    ada.ok(serde_json::json!({"type":"register","session":"workshop-fundraising"}))
        .await?;

    let driver = Driver::shared().await?;
    let page = sign_in(
        &driver,
        &server.server.invite_link(Role::Attendee, 1),
        "Dana",
    )
    .await?;

    // What comes next says when; the break (and what has ended) is nothing to add to one's agenda.
    wait_for_xpath(
        &page,
        "//ul[@id='programme-now-list']/li[@data-state='next']\
         //span[@class='countdown' and starts-with(text(), 'Starts in ')]",
    )
    .await
    .context("what is next says when it starts")?;
    wait_for(&page, "button[data-bookmark='keynote-open']").await?;
    for done in ["break-morning", "welcome"] {
        assert!(
            page.find_all(Locator::Css(&format!("button[data-bookmark='{done}']")))
                .await?
                .is_empty(),
            "{done} offers no Add to my agenda"
        );
    }

    // My agenda lists what she bookmarks, and leads to its room.
    wait_for(
        &page,
        "#my-agenda:not([hidden]) #my-agenda-empty:not([hidden])",
    )
    .await?;
    click_xpath(&page, "//button[@data-bookmark='showcases']").await?;
    wait_for_xpath(
        &page,
        "//ol[@id='my-agenda-list']/li[@data-session='showcases'][contains(., 'Main stage')]",
    )
    .await
    .context("my agenda lists the bookmarked session and its room")?;
    wait_for(&page, "#my-agenda-empty[hidden]").await?;

    // She waits for the full workshop; Ada gives her place up, and it is good news.
    click_xpath(&page, "//button[@data-register='workshop-fundraising']").await?;
    wait_for_xpath(
        &page,
        "//li[@data-session='workshop-fundraising']//span[@class='registration' \
         and text()='On the waitlist: number 1.']",
    )
    .await?;
    ada.ok(serde_json::json!({"type":"unregister","session":"workshop-fundraising"}))
        .await?;
    let notice = wait_for(&page, "#notice-bar.is-good #notice")
        .await
        .context("the promotion is shown as good news")?;
    assert!(notice.text().await?.contains("you are now registered"));

    // "Now and next" leads into the room of what is on.
    click_xpath(
        &page,
        "//ul[@id='programme-now-list']/li[@data-session='keynote-open']//a[@class='now-title']",
    )
    .await?;
    let title = wait_for(&page, "#room:not([hidden]) #room-title").await?;
    assert_eq!(title.text().await?, "Main stage");
    page.close().await?;
    Ok(())
}
