//! What an attendee trips over: a connection that drops in the middle of a chat (the state is
//! shown beside the chat box, what they send meanwhile waits and goes out once, the notice
//! goes when the connection is back), and questions: their own cannot be upvoted, and one a
//! moderator merged into another says so and leads to it.

use anyhow::{Context, Result};
use fantoccini::{Client, Locator};
use plenary_protocol::Role;
use plenary_tests::browser::Driver;
use plenary_tests::demo::STAGE;
use plenary_tests::{TestServer, eventually};

use super::{enter, submit, wait_for, wait_for_xpath, wait_gone, xpath_text};

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
    submit(&ana, "#chat-input", text, "#chat-form button[type=submit]").await?;
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
