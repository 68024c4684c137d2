//! The loadtest's own instrument, checked end to end: a small `chat-fanout` against a real
//! server (and the bare-stack baseline) must count every delivery, and lose none.

use std::process::Command;

use anyhow::{Context, Result};
use plenary_tests::TestServer;
use serde_json::Value;

#[tokio::test]
async fn a_small_fan_out_delivers_every_message_to_everyone_and_counts_it() -> Result<()> {
    let server =
        TestServer::start_with(|config| *config = config.clone().without_rate_limits()).await?;
    let dir = tempfile::tempdir()?;
    let json = dir.path().join("fanout.json");
    let mut loadtest = Command::new(env!("CARGO_BIN_EXE_plenary-loadtest"));
    loadtest
        .args(["--url", &format!("ws://{}/ws", server.addr())])
        .args(["--baseline-bin", env!("CARGO_BIN_EXE_plenary-baseline")])
        .args(["--json", json.to_str().context("a UTF-8 path")?])
        .args([
            "chat-fanout",
            "--attendees",
            "40",
            "--posters",
            "3",
            "--rate",
            "30",
        ])
        .args(["--duration", "2", "--drain", "10", "--baseline"]);
    // Off the runtime's thread: the server runs on it.
    let output = tokio::task::spawn_blocking(move || loadtest.output()).await??;
    assert!(
        output.status.success(),
        "the loadtest failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    for side in ["plenary", "baseline"] {
        let run = &result[side];
        assert_eq!(run["attendees_connected"], 40, "{side}");
        assert_eq!(run["messages_sent"], 60, "{side}");
        assert_eq!(run["expected_deliveries"], 60 * 40, "{side}");
        assert_eq!(run["delivered"], 60 * 40, "{side}: {run}");
        assert_eq!(run["lost"], 0, "{side}");
        assert_eq!(run["duplicates"], 0, "{side}");
        assert_eq!(
            run["latency"]["samples"],
            60 * 40,
            "{side}: one latency per delivery"
        );
    }
    assert_eq!(result["plenary"]["messages_acked"], 60);
    Ok(())
}
