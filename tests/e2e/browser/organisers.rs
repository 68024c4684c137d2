//! What organisers set and moderators meet: a conference open to invited people only
//! (`--guests deny`), where the bare address tells a person what to do without an invite and
//! an invite link still lets them in; removing a chat message, which is asked first; and the
//! moderator console's chat of every room, with the messages attendees flagged.

use anyhow::{Context, Result};
use plenary_protocol::Role;
use plenary_tests::TestServer;
use plenary_tests::browser::Driver;
use plenary_tests::demo::STAGE;

use super::{
    enter_as, say, sign_in, submit, wait_for, wait_for_text, wait_for_xpath, wait_gone,
    wait_gone_xpath, xpath_text,
};

#[tokio::test]
async fn without_guests_the_bare_address_says_to_use_an_invite_and_an_invite_link_lets_one_in()
-> Result<()> {
    let server = TestServer::start_with(|config| config.guests = false).await?;
    let driver = Driver::shared().await?;

    let walk_in = driver.page(&server.url("/")).await?;
    submit(
        &walk_in,
        "#join-form #name",
        "Walk-in",
        "#join-form button[type=submit]",
    )
    .await?;
    let intro = wait_for_text(&walk_in, "#join-intro", |text| text.contains("invite link"))
        .await
        .context("the page says what to do without an invite")?;
    assert!(intro.contains("ask them for one"), "{intro}");
    wait_for(&walk_in, "#join-form[hidden]").await?;
    wait_for_text(&walk_in, "#status", |text| text == "Not connected")
        .await
        .context("the page stops trying")?;
    assert!(
        wait_for(&walk_in, "#user")
            .await?
            .attr("hidden")
            .await?
            .is_some(),
        "nobody is signed in"
    );

    let invited = sign_in(
        &driver,
        &server.server.invite_link(Role::Attendee, 1),
        "Ines",
    )
    .await?;
    wait_for_text(&invited, "#user:not([hidden]) #user-name", |name| {
        name == "Ines"
    })
    .await
    .context("the invited person is signed in")?;

    walk_in.close().await?;
    invited.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_moderator_is_asked_before_a_chat_message_is_removed_for_everyone() -> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let attendee = enter_as(&driver, &server, Role::Attendee, "Tom", STAGE).await?;
    let moderator = enter_as(&driver, &server, Role::Moderator, "Mona", STAGE).await?;
    let text = "A message the moderator thinks twice about";
    say(&attendee, text).await?;
    let message = format!(
        "//ol[@id='chat-log']/li[.//span[contains(@class,'chat-text') and text()={}]]",
        xpath_text(text)
    );
    let remove = format!("{message}//button[contains(@class,'remove-chat')]");

    // Remove asks first; cancelled, the message stays for everyone.
    wait_for_xpath(&moderator, &remove).await?.click().await?;
    let question = wait_for(&moderator, "#chat-log .chat-menu .chat-menu-question").await?;
    assert!(question.text().await?.contains("cannot be undone"));
    wait_for(&moderator, "#chat-log .chat-menu button.cancel-sanction")
        .await?
        .click()
        .await?;
    wait_gone(&moderator, "#chat-log .chat-menu").await?;
    wait_for_xpath(&attendee, &message).await?;

    // Confirmed, it goes.
    wait_for_xpath(&moderator, &remove).await?.click().await?;
    wait_for(
        &moderator,
        "#chat-log .chat-menu button[data-confirm-removal]",
    )
    .await?
    .click()
    .await?;
    wait_gone_xpath(&attendee, &message)
        .await
        .context("the attendee no longer sees the removed message")?;

    attendee.close().await?;
    moderator.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_moderator_console_shows_each_rooms_chat_flags_from_attendees_and_remove_and_mute_asked_first()
-> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let moderator = sign_in(
        &driver,
        &server.server.invite_link(Role::Moderator, 1),
        "Mona",
    )
    .await?;
    wait_for(&moderator, "#staff-nav:not([hidden]) #open-console")
        .await?
        .click()
        .await?;
    let attendee = enter_as(&driver, &server, Role::Attendee, "Tom", STAGE).await?;
    let text = "Buy cheap watches in the stage chat";
    say(&attendee, text).await?;
    let message = format!(
        "//section[@data-room='{STAGE}']//ol[contains(@class,'console-chat')]\
         /li[.//span[contains(@class,'chat-text') and text()={}]]",
        xpath_text(text)
    );
    wait_for_xpath(&moderator, &message)
        .await
        .context("the console shows the stage's chat")?;

    // Another attendee flags it for the moderators; the console marks it.
    let ana = enter_as(&driver, &server, Role::Attendee, "Ana", STAGE).await?;
    let in_room = format!(
        "//ol[@id='chat-log']/li[.//span[contains(@class,'chat-text') and text()={}]]",
        xpath_text(text)
    );
    wait_for_xpath(
        &ana,
        &format!("{in_room}//button[contains(@class,'flag-chat')]"),
    )
    .await?
    .click()
    .await?;
    let flagged = wait_for_xpath(
        &ana,
        &format!("{in_room}//button[contains(@class,'flag-chat') and @disabled]"),
    )
    .await
    .context("the flag button says it was done")?;
    assert_eq!(flagged.text().await?, "Flagged");
    let badge = wait_for_xpath(
        &moderator,
        &format!("{message}//span[contains(@class,'chat-flagged')]"),
    )
    .await
    .context("the console marks the flagged message")?;
    assert_eq!(badge.text().await?, "Flagged by 1 person");
    ana.close().await?;

    // Mute asks first, then mutes the author.
    wait_for_xpath(
        &moderator,
        &format!("{message}//button[@data-chat-action='mute']"),
    )
    .await?
    .click()
    .await?;
    let asked = wait_for_xpath(
        &moderator,
        &format!("{message}//span[contains(@class,'chat-menu-question')]"),
    )
    .await?
    .text()
    .await?;
    assert!(asked.contains("Mute Tom for 10 minutes"), "{asked}");
    wait_for_xpath(
        &moderator,
        &format!("{message}//button[@data-chat-confirm='mute']"),
    )
    .await?
    .click()
    .await?;
    wait_for(&attendee, "#chat-muted:not([hidden])")
        .await
        .context("the attendee is muted from the console")?;

    // Remove asks first, then the message goes for everyone.
    wait_for_xpath(
        &moderator,
        &format!("{message}//button[@data-chat-action='remove']"),
    )
    .await?
    .click()
    .await?;
    wait_for_xpath(
        &moderator,
        &format!("{message}//button[@data-chat-confirm='remove']"),
    )
    .await?
    .click()
    .await?;
    wait_gone_xpath(&attendee, &in_room).await?;
    wait_gone_xpath(&moderator, &message).await?;

    attendee.close().await?;
    moderator.close().await?;
    Ok(())
}
