//! What organisers set and moderators meet: a conference open to invited people only
//! (`--guests deny`), where the bare address tells a person what to do without an invite and
//! an invite link still lets them in.

use anyhow::{Context, Result};
use plenary_protocol::Role;
use plenary_tests::TestServer;
use plenary_tests::browser::Driver;

use super::{sign_in, submit, wait_for, wait_for_text};

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
    let name = wait_for(&invited, "#user-name").await?.text().await?;
    assert_eq!(name, "Ines");

    walk_in.close().await?;
    invited.close().await?;
    Ok(())
}
