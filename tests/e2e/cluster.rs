//! The harness of the cluster tests (issue 13), on real nats-server processes: a JetStream
//! cluster of three elects a meta leader, elects another when the leader is killed, and
//! takes the killed server back; a single server runs JetStream; both sync every write.

use anyhow::{Result, ensure};
use plenary_tests::eventually;
use plenary_tests::nats::NatsCluster;
use serde_json::Value;

/// JetStream is on, and fsyncs every write (`sync_interval: always`).
fn assert_jetstream_syncs_always(jsz: &Value) {
    assert_eq!(jsz["config"]["sync_always"], true, "{jsz}");
    assert!(jsz["config"]["store_dir"].is_string(), "{jsz}");
    assert_ne!(jsz["disabled"], true, "{jsz}");
}

/// Whether the leader's view of the meta group has `name` as a current, online peer.
fn is_current_peer(leader_jsz: &Value, name: &str) -> bool {
    leader_jsz["meta_cluster"]["replicas"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|peer| peer["name"] == name && peer["current"] == true && peer["offline"] != true)
}

#[tokio::test]
async fn jetstream_cluster_elects_a_new_leader_when_one_is_killed_and_takes_it_back() -> Result<()>
{
    let mut cluster = NatsCluster::start(3).await?;
    assert_eq!(cluster.urls().split(',').count(), 3);
    let names: Vec<String> = (0..3).map(|i| cluster.name(i).to_owned()).collect();
    for i in 0..3 {
        let jsz = cluster.jsz(i).await?;
        assert_jetstream_syncs_always(&jsz);
        assert_eq!(jsz["meta_cluster"]["name"], "plenary-test", "{jsz}");
        assert_eq!(jsz["meta_cluster"]["cluster_size"], 3, "{jsz}");
    }
    // Every server names the same leader, one of the three.
    let leader = eventually("the three servers to agree on a meta leader", async || {
        let mut leaders = Vec::new();
        for i in 0..3 {
            leaders.push(cluster.meta_leader(i).await?);
        }
        Ok(match leaders.as_slice() {
            [Some(a), Some(b), Some(c)] if a == b && b == c => Some(a.clone()),
            _ => None,
        })
    })
    .await?;
    let killed = names
        .iter()
        .position(|name| *name == leader)
        .expect("the leader is one of the three");
    let others: Vec<usize> = (0..3).filter(|&i| i != killed).collect();

    cluster.kill(killed)?;
    assert!(!cluster.is_running(killed));
    assert!(!cluster.healthy(killed).await, "a killed server answers");
    let new_leader = eventually("the two left to elect another leader", async || {
        let a = cluster.meta_leader(others[0]).await?;
        let b = cluster.meta_leader(others[1]).await?;
        Ok(a.filter(|a| Some(a) == b.as_ref() && *a != leader))
    })
    .await?;
    ensure!(
        others.iter().any(|&i| names[i] == new_leader),
        "the new leader {new_leader} is not one of the two left"
    );
    let leader_index = others
        .iter()
        .copied()
        .find(|&i| names[i] == new_leader)
        .expect("checked above");
    eventually(
        "the new leader to see the killed server offline",
        async || {
            let jsz = cluster.jsz(leader_index).await?;
            Ok((!is_current_peer(&jsz, &names[killed])).then_some(()))
        },
    )
    .await?;

    cluster.restart(killed).await?;
    assert!(cluster.healthy(killed).await);
    assert_jetstream_syncs_always(&cluster.jsz(killed).await?);
    eventually("the restarted server to rejoin", async || {
        let follows = cluster.meta_leader(killed).await?.as_deref() == Some(&new_leader);
        let jsz = cluster.jsz(leader_index).await?;
        Ok((follows && is_current_peer(&jsz, &names[killed])).then_some(()))
    })
    .await?;

    // Dropping the cluster ends its servers.
    let monitor = cluster.monitor_url(0, "/healthz");
    drop(cluster);
    assert!(
        reqwest::get(monitor).await.is_err(),
        "a dropped cluster answers"
    );
    Ok(())
}

#[tokio::test]
async fn a_single_server_runs_jetstream_without_a_meta_cluster() -> Result<()> {
    let server = NatsCluster::shared_r1().await?;
    assert_eq!(server.len(), 1);
    assert_eq!(server.urls(), server.url(0));
    assert!(server.url(0).starts_with("nats://127.0.0.1:"));
    assert!(server.healthy(0).await);
    let jsz = server.jsz(0).await?;
    assert_jetstream_syncs_always(&jsz);
    assert_eq!(server.meta_leader(0).await?, None, "{jsz}");
    // Every test that asks shares the one server.
    assert_eq!(NatsCluster::shared_r1().await?.urls(), server.urls());
    Ok(())
}
