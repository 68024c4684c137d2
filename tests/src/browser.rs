//! Real headless Chromium (Debian's `chromium` and `chromium-driver`) through WebDriver: one
//! chromedriver process for every browser test of a test binary, started by the first test
//! that asks for it and ended when the binary exits; each page is a browser session of its
//! own, with its own profile, as two people on two machines would be.

use std::process::{ChildStdin, Command, Stdio};

use anyhow::{Context, Result, bail};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::eventually;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The shared chromedriver: where it listens, and the pipe that keeps it alive. It runs under
/// a shell that ends it once that pipe closes, which happens however the test binary exits
/// (statics are never dropped, so nothing else would end it).
struct Chromedriver {
    url: String,
    _alive: ChildStdin,
}

static CHROMEDRIVER_PROCESS: OnceCell<Chromedriver> = OnceCell::const_new();

impl Chromedriver {
    /// The running chromedriver, started on first use.
    async fn shared() -> Result<&'static Chromedriver> {
        CHROMEDRIVER_PROCESS
            .get_or_try_init(Chromedriver::start)
            .await
    }

    async fn start() -> Result<Chromedriver> {
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
        // `read` returns when the test binary's end of stdin closes; then the shell ends
        // chromedriver, which ends the browsers still open.
        let mut process = Command::new("sh")
            .args([
                "-c",
                "\"$0\" --port=\"$1\" & read -r _; kill \"$!\"",
                CHROMEDRIVER,
                &port.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver")?;
        let alive = process.stdin.take().context("chromedriver's stdin")?;
        let url = format!("http://127.0.0.1:{port}");
        eventually("chromedriver to answer", async || {
            Ok(reqwest::get(format!("{url}/status")).await.ok().map(drop))
        })
        .await?;
        Ok(Chromedriver { url, _alive: alive })
    }
}

/// A test's way to the shared chromedriver, and how the browsers it opens are set up: the
/// machine's time zone and language, or a person's elsewhere.
#[derive(Debug, Clone)]
pub struct Driver {
    url: String,
    /// The IANA time zone the browsers' pages run in; `None` keeps this machine's.
    zone: Option<String>,
    /// The language the browsers prefer (`Accept-Language`, `navigator.languages`).
    language: Option<String>,
}

impl Driver {
    /// Browsers set up as this machine is.
    pub async fn shared() -> Result<Driver> {
        Driver::shared_as(None).await
    }

    /// Browsers that run as a person's computer set to a time zone (an IANA name) and a
    /// language (`en-GB`) would; `None` keeps this machine's.
    pub async fn shared_as(locale: Option<(&str, &str)>) -> Result<Driver> {
        let chromedriver = Chromedriver::shared().await?;
        Ok(Driver {
            url: chromedriver.url.clone(),
            zone: locale.map(|(zone, _)| zone.to_owned()),
            language: locale.map(|(_, language)| language.to_owned()),
        })
    }

    /// A new browser window showing `url`.
    pub async fn page(&self, url: &str) -> Result<Client> {
        self.page_with(url, &[]).await
    }

    /// A new browser window with a fake camera and microphone that may use WebRTC over
    /// 127.0.0.1, as the server does in tests.
    pub async fn media_page(&self, url: &str) -> Result<Client> {
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
            json!({
                "binary": CHROMIUM,
                "args": args,
                "prefs": { "intl.accept_languages": self.language.as_deref().unwrap_or("en-US") },
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .context("opening a Chromium session")?;
        if let Some(zone) = &self.zone {
            self.set_time_zone(&client, zone).await?;
        }
        client.goto(url).await?;
        Ok(client)
    }

    /// Run a session's pages in time zone `zone`, through the DevTools protocol (the
    /// browsers share one chromedriver, so its `TZ` is everyone's).
    async fn set_time_zone(&self, client: &Client, zone: &str) -> Result<()> {
        self.devtools(
            client,
            "Emulation.setTimezoneOverride",
            json!({ "timezoneId": zone }),
        )
        .await
        .with_context(|| format!("setting the time zone {zone}"))
    }

    /// Lay a session's pages out as on a screen `width` × `height` CSS pixels; `mobile` as on
    /// a phone (the page's viewport meta tag counts, scrollbars overlay the page).
    pub async fn emulate_screen(
        &self,
        client: &Client,
        width: u32,
        height: u32,
        mobile: bool,
    ) -> Result<()> {
        self.devtools(
            client,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await
        .with_context(|| format!("emulating a {width}×{height} screen"))
    }

    /// Send a DevTools protocol command to a session's browser, through chromedriver.
    async fn devtools(&self, client: &Client, cmd: &str, params: serde_json::Value) -> Result<()> {
        let session = client
            .session_id()
            .await?
            .context("a Chromium session has an id")?;
        reqwest::Client::new()
            .post(format!("{}/session/{session}/goog/cdp/execute", self.url))
            .json(&json!({ "cmd": cmd, "params": params }))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }
}
