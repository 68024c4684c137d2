//! What a host does with an audience in a workshop room: brings a person whose hand is up on
//! stage (who declines, then is asked again from the people list, accepts and goes live), takes
//! them off again, and keeps broadcasting while looking at the programme, with the header
//! saying where they are live.

use anyhow::{Context, Result};
use fantoccini::Client;
use plenary_protocol::Role;
use plenary_tests::TestServer;
use plenary_tests::browser::Driver;
use plenary_tests::demo::WORKSHOP_ROOM;

use super::{enter_page, frames_decoded, wait_for, wait_for_frames, wait_for_text};

/// Wait until the page's stage names who is live, or says nobody is.
async fn stage_status(page: &Client, shows: &str) -> Result<String> {
    wait_for_text(page, "#stage-status", |text| text.contains(shows))
        .await
        .with_context(|| format!("the stage saying {shows:?}"))
}

#[tokio::test]
async fn a_host_brings_a_raised_hand_on_stage_takes_them_off_and_stays_live_while_looking_around()
-> Result<()> {
    let server = TestServer::start().await?;
    let driver = Driver::shared().await?;
    let room = WORKSHOP_ROOM;
    let attendee_link = server.server.invite_link(Role::Attendee, 1);
    let host_link = server.server.invite_link(Role::Host, 1);
    let ana = enter_page(driver.media_page(&attendee_link).await?, "Ana", room).await?;
    let host = enter_page(driver.media_page(&host_link).await?, "Hugo", room).await?;

    // Hands are raised to the host, who has none to raise; the attendee raises hers.
    wait_for(&host, "#hands-panel:not([hidden])").await?;
    wait_for(&host, "#hand-toggle[hidden]")
        .await
        .context("the host is not offered Raise hand")?;
    wait_for(&ana, "#hand:not([hidden]) #hand-toggle:not([hidden])")
        .await?
        .click()
        .await?;

    // The host invites her from the raised hands; she is asked, and her hand goes down.
    wait_for(
        &host,
        "#hands-queue li button[data-stage-user][data-stage-allowed='true']",
    )
    .await?
    .click()
    .await?;
    wait_for(&ana, "#stage-invite:not([hidden])")
        .await
        .context("the attendee is asked on stage")?;
    wait_for(&ana, "#hand-toggle[aria-pressed='false']").await?;
    wait_for(&host, "#room-people button[data-stage-allowed='false']")
        .await
        .context("the people list offers Take off stage")?;

    // She declines: the host may ask again, and she has nothing to publish with.
    wait_for(&ana, "#stage-invite:not([hidden]) #stage-decline")
        .await?
        .click()
        .await?;
    wait_for(&ana, "#publish-controls[hidden]").await?;
    let invite = wait_for(&host, "#room-people button[data-stage-allowed='true']").await?;
    assert_eq!(invite.text().await?, "Invite on stage");

    // Asked again from the people list, she accepts: her camera and microphone go live.
    invite.click().await?;
    wait_for(&ana, "#stage-invite:not([hidden]) #stage-accept")
        .await?
        .click()
        .await?;
    wait_for(&ana, "#stop-live:not([hidden])")
        .await
        .context("the attendee is live")?;
    stage_status(&host, "Ana").await?;
    wait_for_frames(&host, 0).await?;

    // Taken off stage, her broadcast ends for everyone.
    wait_for(&host, "#room-people button[data-stage-allowed='false']")
        .await?
        .click()
        .await?;
    wait_for(&ana, "#publish-controls[hidden]")
        .await
        .context("the attendee can no longer publish")?;
    stage_status(&host, "Nobody").await?;

    // The host goes live, then looks at the programme: the broadcast goes on, and the header
    // says where.
    wait_for(
        &host,
        "#publish-controls:not([hidden]) #go-live:not([hidden])",
    )
    .await?
    .click()
    .await?;
    wait_for(&host, "#stop-live:not([hidden])").await?;
    stage_status(&ana, "Hugo").await?;
    wait_for(&host, "#room:not([hidden]) #back-to-programme")
        .await?
        .click()
        .await?;
    wait_for(&host, "#programme:not([hidden])").await?;
    let banner = wait_for_text(&host, "#live-banner:not([hidden])", |text| {
        text.contains("You are live in Workshop room 1")
    })
    .await?;
    assert!(banner.contains("Back to Workshop room 1"), "{banner}");
    let frames = frames_decoded(&ana).await?;
    wait_for_frames(&ana, frames + 30)
        .await
        .context("the attendee keeps receiving the host's video")?;
    assert!(stage_status(&ana, "Hugo").await?.contains("Hugo"));

    // The header leads back to the room, still live …
    wait_for(&host, "#live-banner:not([hidden]) #live-return")
        .await?
        .click()
        .await?;
    wait_for(&host, "#room:not([hidden]) #stop-live:not([hidden])").await?;
    wait_for(&host, "#live-banner[hidden]").await?;
    // … and stops the broadcast from anywhere.
    wait_for(&host, "#room:not([hidden]) #back-to-programme")
        .await?
        .click()
        .await?;
    wait_for(&host, "#live-banner:not([hidden]) #live-stop")
        .await?
        .click()
        .await?;
    wait_for(&host, "#live-banner[hidden]").await?;
    stage_status(&ana, "Nobody").await?;

    ana.close().await?;
    host.close().await?;
    Ok(())
}
