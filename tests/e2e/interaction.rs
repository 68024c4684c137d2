//! Live interaction through the real server: Q&A curation, chat moderation, polls,
//! reactions, raised hands and presence, including what the server refuses.

use anyhow::Result;
use plenary_protocol::Role;
use plenary_tests::demo::{KEYNOTE, STAGE, WORKSHOP_ROOM, WORKSHOP_SESSION};
use plenary_tests::{Client, TestServer};
use serde_json::{Value, json};

fn kind(message: &Value) -> (&str, &str) {
    (
        message["type"].as_str().unwrap_or(""),
        message["event"]["kind"].as_str().unwrap_or(""),
    )
}

/// Ask in the open-Q&A workshop and return the question id.
async fn ask(client: &mut Client, text: &str) -> Result<u64> {
    let (ack, _) = client
        .ok(json!({"type":"ask","session":WORKSHOP_SESSION,"text":text}))
        .await?;
    Ok(ack["id"].as_u64().expect("ask ack has an id"))
}

/// The next state of a question in a client's stream that has `field` set to `value`.
async fn question_with(client: &mut Client, id: u64, field: &str, value: Value) -> Result<Value> {
    Ok(client
        .recv_until(|m| {
            kind(m) == ("event", "question") && m["event"]["id"] == id && m["event"][field] == value
        })
        .await?["event"]
        .clone())
}

#[tokio::test]
async fn votes_can_be_withdrawn_authors_cannot_upvote_their_own_and_merging_counts_each_person_once()
-> Result<()> {
    let server = TestServer::start().await?;
    let mut ada = server.client(Role::Attendee, "Ada").await?;
    let mut bo = server.client(Role::Attendee, "Bo").await?;
    let mut cy = server.client(Role::Attendee, "Cy").await?;
    let mut mo = server.client(Role::Moderator, "Mo").await?;
    for client in [&mut ada, &mut bo, &mut cy, &mut mo] {
        client.join(WORKSHOP_ROOM).await?;
    }
    let original = ask(&mut ada, "How do we start a partnership?").await?;
    let duplicate = ask(&mut bo, "How to begin a partnership?").await?;

    // Nobody upvotes their own question: refused with a code of its own, nothing published.
    for (author, own) in [(&mut ada, original), (&mut bo, duplicate)] {
        let (refused, events) = author
            .request(json!({"type":"vote","question":own}))
            .await?;
        assert_eq!(refused["code"], "own_question", "{refused}");
        assert!(
            events.iter().all(|event| event["event"]["id"] != own),
            "a refused vote publishes nothing: {events:?}"
        );
    }

    // Ada votes for the duplicate, Cy for both.
    ada.ok(json!({"type":"vote","question":duplicate})).await?;
    cy.ok(json!({"type":"vote","question":original})).await?;
    cy.ok(json!({"type":"vote","question":duplicate})).await?;
    // Withdrawing and voting again leaves one vote each.
    let (_, events) = cy.ok(json!({"type":"unvote","question":duplicate})).await?;
    assert_eq!(
        events.last().map(|e| e["event"]["votes"].clone()),
        Some(json!(1))
    );
    cy.ok(json!({"type":"vote","question":duplicate})).await?;

    mo.ok(json!({"type":"moderate","question":duplicate,"action":"merge","into":original}))
        .await?;
    let merged = question_with(&mut bo, duplicate, "status", json!("merged")).await?;
    assert_eq!(
        merged["merged_into"], original,
        "the duplicate's author is told"
    );
    // The kept question's next state counts Cy once, and not Ada, whose question it is.
    let kept = cy
        .recv_until(|m| kind(m) == ("event", "question") && m["event"]["id"] == original)
        .await?;
    assert_eq!(kept["event"]["votes"], 1, "{kept}");
    // Cy's vote for the kept question survives; voting again changes nothing.
    let (_, events) = cy.ok(json!({"type":"vote","question":original})).await?;
    assert!(events.is_empty());
    Ok(())
}

#[tokio::test]
async fn moderators_edit_reject_and_restore_and_every_action_is_logged() -> Result<()> {
    let server = TestServer::start().await?;
    let mut asker = server.client(Role::Attendee, "Asker").await?;
    let mut mo = server.client(Role::Moderator, "Mo").await?;
    asker.join(WORKSHOP_ROOM).await?;
    mo.join(WORKSHOP_ROOM).await?;
    let id = ask(&mut asker, "Waht about funding?").await?;

    mo.ok(json!({"type":"moderate","question":id,"action":"edit","text":"What about funding?"}))
        .await?;
    let edited = question_with(&mut asker, id, "edited", json!(true)).await?;
    assert_eq!(
        edited["text"], "What about funding?",
        "the asker sees the edit"
    );
    mo.ok(json!({"type":"moderate","question":id,"action":"reject"}))
        .await?;
    question_with(&mut asker, id, "status", json!("rejected")).await?;
    mo.ok(json!({"type":"moderate","question":id,"action":"restore"}))
        .await?;
    let restored = question_with(&mut asker, id, "status", json!("approved")).await?;
    assert_eq!(restored["text"], "What about funding?");
    let (refused, _) = mo
        .request(json!({"type":"moderate","question":id,"action":"edit"}))
        .await?;
    assert_eq!(refused["code"], "bad_request", "edit needs text");

    let (log, _) = mo
        .ok(json!({"type":"moderation_log","session":WORKSHOP_SESSION}))
        .await?;
    assert_eq!(log["type"], "moderation_log");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, ["edit", "reject", "restore"]);
    assert_eq!(log["entries"][0]["by"]["name"], "Mo");
    assert_eq!(log["entries"][0]["detail"], "was: Waht about funding?");

    let (refused, _) = asker
        .request(json!({"type":"moderation_log","session":WORKSHOP_SESSION}))
        .await?;
    assert_eq!(refused["code"], "forbidden");
    Ok(())
}

#[tokio::test]
async fn closed_qa_refuses_questions_until_reopened() -> Result<()> {
    let server = TestServer::start().await?;
    let mut attendee = server.client(Role::Attendee, "Late").await?;
    let mut host = server.client(Role::Host, "Host").await?;
    attendee.join(STAGE).await?;
    let (refused, _) = attendee
        .request(json!({"type":"set_qa","session":KEYNOTE,"open":false}))
        .await?;
    assert_eq!(refused["code"], "forbidden");
    host.ok(json!({"type":"set_qa","session":KEYNOTE,"open":false}))
        .await?;
    let closed = attendee
        .recv_until(|m| kind(m) == ("event", "qa_state"))
        .await?;
    assert_eq!(
        closed["event"],
        json!({"kind":"qa_state","session":KEYNOTE,"open":false})
    );
    let (refused, _) = attendee
        .request(json!({"type":"ask","session":KEYNOTE,"text":"Too late?"}))
        .await?;
    assert_eq!(refused["code"], "qa_closed");
    // A newcomer learns it from the snapshot.
    let mut newcomer = server.client(Role::Attendee, "New").await?;
    let joined = newcomer.join(STAGE).await?;
    let closed = joined["snapshot"]["qa_closed"]
        .as_array()
        .expect("qa_closed");
    assert!(closed.contains(&json!(KEYNOTE)), "{closed:?}");

    host.ok(json!({"type":"set_qa","session":KEYNOTE,"open":true}))
        .await?;
    attendee
        .ok(json!({"type":"ask","session":KEYNOTE,"text":"Open again?"}))
        .await?;
    Ok(())
}

#[tokio::test]
async fn older_chat_comes_in_pages_before_the_snapshot() -> Result<()> {
    let server = TestServer::start_with(|config| {
        config.chat_history = 5;
        *config = config.clone().without_rate_limits();
    })
    .await?;
    let mut poster = server.client(Role::Attendee, "Poster").await?;
    poster.join(STAGE).await?;
    for n in 0..12 {
        poster
            .ok(json!({"type":"chat","room":STAGE,"text":format!("message {n}")}))
            .await?;
    }
    let mut reader = server.client(Role::Attendee, "Reader").await?;
    let joined = reader.join(STAGE).await?;
    let snapshot = joined["snapshot"]["chat"].as_array().expect("chat").clone();
    let texts = |messages: &[Value]| -> Vec<String> {
        messages
            .iter()
            .map(|m| m["text"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(
        texts(&snapshot),
        (7..12).map(|n| format!("message {n}")).collect::<Vec<_>>()
    );
    let oldest = snapshot[0]["id"].clone();
    let (page, _) = reader
        .ok(json!({"type":"chat_history","room":STAGE,"before":oldest,"limit":4}))
        .await?;
    assert_eq!(page["type"], "chat_history");
    let page = page["messages"].as_array().expect("messages").clone();
    assert_eq!(
        texts(&page),
        (3..7).map(|n| format!("message {n}")).collect::<Vec<_>>()
    );
    let mut outsider = server.client(Role::Attendee, "Outsider").await?;
    let (refused, _) = outsider
        .request(json!({"type":"chat_history","room":STAGE,"before":oldest}))
        .await?;
    assert_eq!(refused["code"], "not_joined");
    Ok(())
}

#[tokio::test]
async fn replies_quote_their_message_and_mentions_name_people_in_the_room() -> Result<()> {
    let server = TestServer::start().await?;
    let mut ingrid = server.client(Role::Attendee, "Ingrid Solberg").await?;
    let mut rahul = server.client(Role::Attendee, "Rahul").await?;
    ingrid.join(STAGE).await?;
    rahul.join(STAGE).await?;
    let (ack, _) = ingrid
        .ok(json!({"type":"chat","room":STAGE,"text":"Who runs a makerspace?"}))
        .await?;
    let question = ack["id"].clone();
    rahul
        .ok(json!({"type":"chat","room":STAGE,"text":"@Ingrid Solberg we do, in Pune","reply_to":question}))
        .await?;
    let answer = ingrid
        .recv_until(|m| kind(m) == ("event", "chat") && m["event"]["author"]["name"] == "Rahul")
        .await?;
    assert_eq!(answer["event"]["reply_to"]["id"], question);
    assert_eq!(
        answer["event"]["reply_to"]["excerpt"],
        "Who runs a makerspace?"
    );
    assert_eq!(
        answer["event"]["reply_to"]["author"]["name"],
        "Ingrid Solberg"
    );
    assert_eq!(answer["event"]["mentions"][0]["name"], "Ingrid Solberg");
    assert_eq!(answer["event"]["mentions"][0]["id"], ingrid.user_id);
    let (refused, _) = rahul
        .request(json!({"type":"chat","room":STAGE,"text":"to nothing","reply_to":999_999}))
        .await?;
    assert_eq!(refused["code"], "not_found");
    Ok(())
}

#[tokio::test]
async fn a_muted_person_cannot_chat_on_any_connection_until_unmuted() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Loud");
    let mut tab1 = Client::connect(server.addr()).await?;
    let mut tab2 = Client::connect(server.addr()).await?;
    for tab in [&mut tab1, &mut tab2] {
        tab.hello(&token).await?;
        tab.join(STAGE).await?;
    }
    let mut mo = server.client(Role::Moderator, "Mo").await?;
    mo.join(STAGE).await?;
    let user = tab1.user_id.clone();
    let (refused, _) = tab1
        .request(json!({"type":"mute","room":STAGE,"user":mo.user_id}))
        .await?;
    assert_eq!(refused["code"], "forbidden");
    mo.ok(json!({"type":"mute","room":STAGE,"user":user,"minutes":10}))
        .await?;
    let told = tab2.recv_until(|m| kind(m) == ("event", "muted")).await?;
    assert_eq!(told["event"]["user"]["id"], user);
    for tab in [&mut tab1, &mut tab2] {
        let (refused, _) = tab
            .request(json!({"type":"chat","room":STAGE,"text":"let me speak"}))
            .await?;
        assert_eq!(refused["code"], "muted");
    }
    // A moderator who arrives later sees who is muted, and until when; attendees do not.
    let mut later = server.client(Role::Moderator, "Later Mo").await?;
    let joined = later.join(STAGE).await?;
    let muted = &joined["snapshot"]["muted"];
    assert_eq!(muted[0]["user"]["id"], user, "{muted}");
    assert_eq!(muted[0]["user"]["name"], "Loud");
    assert!(muted[0]["until"].is_string(), "{muted}");
    let mut bystander = server.client(Role::Attendee, "Calm").await?;
    let joined = bystander.join(STAGE).await?;
    assert!(joined["snapshot"].get("muted").is_none(), "{joined}");
    later
        .ok(json!({"type":"unmute","room":STAGE,"user":user}))
        .await?;
    tab1.ok(json!({"type":"chat","room":STAGE,"text":"thank you"}))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_removed_person_is_told_on_every_connection_and_cannot_come_back() -> Result<()> {
    let server = TestServer::start().await?;
    let token = server.token(Role::Attendee, "Troll");
    let mut tab1 = Client::connect(server.addr()).await?;
    let mut tab2 = Client::connect(server.addr()).await?;
    for tab in [&mut tab1, &mut tab2] {
        tab.hello(&token).await?;
        tab.join(STAGE).await?;
    }
    let mut bystander = server.client(Role::Attendee, "Kind").await?;
    bystander.join(STAGE).await?;
    let mut mo = server.client(Role::Moderator, "Mo").await?;
    mo.join(STAGE).await?;
    let user = tab1.user_id.clone();
    mo.ok(json!({"type":"remove_person","room":STAGE,"user":user}))
        .await?;
    for tab in [&mut tab1, &mut tab2] {
        let removed = tab.recv_until(|m| m["type"] == "removed").await?;
        assert_eq!(removed["room"], STAGE);
        let (refused, _) = tab
            .request(json!({"type":"chat","room":STAGE,"text":"still here?"}))
            .await?;
        assert_eq!(refused["code"], "not_joined");
        let (refused, _) = tab.request(json!({"type":"join","room":STAGE})).await?;
        assert_eq!(refused["code"], "forbidden");
        let (refused, _) = tab
            .request(json!({"type":"chat_history","room":STAGE,"before":1_000}))
            .await?;
        assert_eq!(refused["code"], "not_joined", "no reading after removal");
    }
    let (ack, _) = bystander
        .ok(json!({"type":"chat","room":STAGE,"text":"calm again"}))
        .await?;
    assert_eq!(ack["type"], "ack");
    Ok(())
}

#[tokio::test]
async fn a_poll_goes_from_draft_to_open_to_closed_with_live_results() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host = server.client(Role::Host, "Host").await?;
    let mut ada = server.client(Role::Attendee, "Ada").await?;
    let mut bo = server.client(Role::Attendee, "Bo").await?;
    for client in [&mut host, &mut ada, &mut bo] {
        client.join(WORKSHOP_ROOM).await?;
    }
    let poll = json!({"type":"create_poll","room":WORKSHOP_ROOM,"question":"Which partner first?",
        "options":["A library abroad","A school nearby","A museum"],"multiple":false});
    let (refused, _) = ada.request(poll.clone()).await?;
    assert_eq!(refused["code"], "forbidden");
    let (ack, _) = host.ok(poll).await?;
    let id = ack["id"].as_u64().expect("poll id");
    let (refused, _) = ada
        .request(json!({"type":"poll_vote","poll":id,"choices":[0]}))
        .await?;
    assert_eq!(
        refused["code"], "not_found",
        "a draft is invisible to attendees"
    );

    host.ok(json!({"type":"poll_action","poll":id,"action":"open"}))
        .await?;
    let opened = ada.recv_until(|m| kind(m) == ("event", "poll")).await?;
    assert_eq!(opened["event"]["state"], "open");
    assert!(
        opened["event"]["options"][0].get("votes").is_none(),
        "results hidden"
    );

    ada.ok(json!({"type":"poll_vote","poll":id,"choices":[0]}))
        .await?;
    bo.ok(json!({"type":"poll_vote","poll":id,"choices":[0]}))
        .await?;
    // Bo changes their mind while the poll is open.
    bo.ok(json!({"type":"poll_vote","poll":id,"choices":[2]}))
        .await?;
    let (refused, _) = bo
        .request(json!({"type":"poll_vote","poll":id,"choices":[0,1]}))
        .await?;
    assert_eq!(refused["code"], "bad_request", "single choice");
    // Staff see the counts as they settle (published at most once a second).
    let counts = host
        .recv_until(|m| {
            kind(m) == ("event", "poll")
                && m["event"]["voters"] == 2
                && m["event"]["options"][2]["votes"] == 1
        })
        .await?;
    assert_eq!(counts["event"]["options"][0]["votes"], 1);

    host.ok(json!({"type":"poll_action","poll":id,"action":"show_results"}))
        .await?;
    let shown = ada
        .recv_until(|m| kind(m) == ("event", "poll") && m["event"]["results_visible"] == true)
        .await?;
    assert_eq!(shown["event"]["options"][2]["votes"], 1);
    host.ok(json!({"type":"poll_action","poll":id,"action":"close"}))
        .await?;
    ada.recv_until(|m| kind(m) == ("event", "poll") && m["event"]["state"] == "closed")
        .await?;
    let (refused, _) = ada
        .request(json!({"type":"poll_vote","poll":id,"choices":[1]}))
        .await?;
    assert_eq!(refused["code"], "conflict", "a closed poll takes no votes");

    // The closed poll stays in the room's history, with the person's own choice.
    let mut again = Client::connect(server.addr()).await?;
    again.hello(&server.token(Role::Attendee, "Later")).await?;
    let joined = again.join(WORKSHOP_ROOM).await?;
    assert_eq!(joined["snapshot"]["polls"][0]["state"], "closed");
    Ok(())
}

#[tokio::test]
async fn reactions_are_counted_into_one_message_per_interval() -> Result<()> {
    let server = TestServer::start().await?;
    let mut fans = Vec::new();
    for n in 0..3 {
        let mut fan = server.client(Role::Attendee, &format!("Fan {n}")).await?;
        fan.join(STAGE).await?;
        fans.push(fan);
    }
    for fan in &mut fans {
        fan.ok(json!({"type":"react","room":STAGE,"emoji":"👏"}))
            .await?;
    }
    fans[0]
        .ok(json!({"type":"react","room":STAGE,"emoji":"🎉"}))
        .await?;
    let (refused, _) = fans[0]
        .request(json!({"type":"react","room":STAGE,"emoji":"💩"}))
        .await?;
    assert_eq!(refused["code"], "bad_request");
    // Every reaction is counted, in as few messages as the intervals they fell into.
    let watcher = &mut fans[1];
    watcher.ephemeral = true;
    let (mut claps, mut parties, mut messages) = (0, 0, 0);
    while claps < 3 || parties < 1 {
        let reactions = watcher.recv_until(|m| m["type"] == "reactions").await?;
        messages += 1;
        claps += reactions["counts"]["👏"].as_u64().unwrap_or(0);
        parties += reactions["counts"]["🎉"].as_u64().unwrap_or(0);
    }
    assert_eq!((claps, parties), (3, 1));
    assert!(messages <= 2, "four reactions came in {messages} messages");

    // One person clapping without pause is held to their allowance.
    let fan = &mut fans[2];
    let mut refused = 0;
    for _ in 0..30 {
        let (answer, _) = fan
            .request(json!({"type":"react","room":STAGE,"emoji":"👏"}))
            .await?;
        if answer["code"] == "rate_limited" {
            refused += 1;
        }
    }
    assert!(refused > 0, "30 reactions in a row exceed a burst of 20");
    Ok(())
}

#[tokio::test]
async fn hands_are_raised_in_workshops_and_hosts_see_and_clear_the_queue() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host = server.client(Role::Host, "Host").await?;
    host.ephemeral = true;
    let mut ada = server.client(Role::Attendee, "Ada").await?;
    let mut bo = server.client(Role::Attendee, "Bo").await?;
    host.join(WORKSHOP_ROOM).await?;
    for attendee in [&mut ada, &mut bo] {
        attendee.join(WORKSHOP_ROOM).await?;
        attendee.join(STAGE).await?;
    }
    ada.ok(json!({"type":"hand","room":WORKSHOP_ROOM,"raised":true}))
        .await?;
    bo.ok(json!({"type":"hand","room":WORKSHOP_ROOM,"raised":true}))
        .await?;
    let queue = host
        .recv_until(|m| m["type"] == "hands" && m["queue"].as_array().map(Vec::len) == Some(2))
        .await?;
    assert_eq!(
        queue["queue"][0]["user"]["name"], "Ada",
        "in the order raised"
    );
    assert_eq!(queue["queue"][1]["user"]["name"], "Bo");
    let (refused, _) = ada
        .request(json!({"type":"hand","room":STAGE,"raised":true}))
        .await?;

    assert_eq!(refused["code"], "conflict", "no hands on the stage");
    let (refused, _) = ada
        .request(json!({"type":"clear_hands","room":WORKSHOP_ROOM}))
        .await?;
    assert_eq!(refused["code"], "forbidden");
    let (_, before) = host
        .ok(json!({"type":"clear_hands","room":WORKSHOP_ROOM,"user":ada.user_id}))
        .await?;
    // The new queue reaches the host before the ack.
    let queue = before
        .iter()
        .rev()
        .find(|m| m["type"] == "hands")
        .expect("the new queue");
    assert_eq!(queue["queue"].as_array().map(Vec::len), Some(1));
    assert_eq!(queue["queue"][0]["user"]["name"], "Bo");
    // Ada is told her hand came down.
    ada.ephemeral = true;
    let yours = ada
        .recv_until(|m| m["type"] == "hands" && m["room"] == WORKSHOP_ROOM)
        .await?;
    assert_eq!(yours["queue"], json!([]));
    Ok(())
}

#[tokio::test]
async fn presence_counts_each_person_once_and_follows_closed_tabs() -> Result<()> {
    let server = TestServer::start().await?;
    let mut host = server.client(Role::Host, "Host").await?;
    host.ephemeral = true;
    host.join(WORKSHOP_ROOM).await?;
    let token = server.token(Role::Attendee, "Two Tabs");
    let mut tab1 = Client::connect(server.addr()).await?;
    let mut tab2 = Client::connect(server.addr()).await?;
    for tab in [&mut tab1, &mut tab2] {
        tab.hello(&token).await?;
        tab.join(WORKSHOP_ROOM).await?;
    }
    let present = |count: u64| move |m: &Value| m["type"] == "presence" && m["count"] == count;
    // A second tab of the same person learns who is here at once, though nothing changed.
    let mut tab3 = Client::connect(server.addr()).await?;
    tab3.ephemeral = true;
    tab3.hello(&token).await?;
    let both = host.recv_until(present(2)).await?;
    let names: Vec<&str> = both["people"]
        .as_array()
        .expect("workshop rooms list people")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Host", "Two Tabs"]);
    tab3.join(WORKSHOP_ROOM).await?;
    let told = tab3.recv_until(|m| m["type"] == "presence").await?;
    assert_eq!(told["count"], 2);
    tab1.close().await?;
    tab2.close().await?;
    tab3.close().await?;
    host.recv_until(present(1)).await?;
    Ok(())
}

#[tokio::test]
async fn a_token_limited_to_a_room_says_so_and_its_role_counts_only_there() -> Result<()> {
    let server = TestServer::start().await?;
    let workshop = "workshop-1";
    let token = plenary_tests::scoped_token(
        server.dir.path(),
        Role::Moderator,
        "Wanda",
        Some(vec![workshop.into()]),
    );
    let mut wanda = Client::connect(server.addr()).await?;
    let welcome = wanda.hello(&token).await?;
    assert_eq!(welcome["rooms"], json!([workshop]), "{welcome}");
    let mut everywhere = Client::connect(server.addr()).await?;
    let welcome = everywhere
        .hello(&server.token(Role::Moderator, "Mo"))
        .await?;
    assert!(welcome.get("rooms").is_none(), "{welcome}");

    let mut loud = server.client(Role::Attendee, "Loud").await?;
    for room in [STAGE, workshop] {
        loud.join(room).await?;
        wanda.join(room).await?;
    }
    let mute = |room: &str| json!({"type":"mute","room":room,"user":loud.user_id,"minutes":5});
    let (refused, _) = wanda.request(mute(STAGE)).await?;
    assert_eq!(refused["code"], "forbidden");
    wanda.ok(mute(workshop)).await?;
    Ok(())
}

#[tokio::test]
async fn a_flagged_chat_message_reaches_staff_only_and_stays_flagged_after_a_restart() -> Result<()>
{
    let server = TestServer::start().await?;
    let mut tom = server.client(Role::Attendee, "Tom").await?;
    let mut ana = server.client(Role::Attendee, "Ana").await?;
    let mut mo = server.client(Role::Moderator, "Mo").await?;
    for client in [&mut tom, &mut ana, &mut mo] {
        client.join(STAGE).await?;
    }
    let (ack, _) = tom
        .ok(json!({"type":"chat","room":STAGE,"text":"Buy cheap watches"}))
        .await?;
    let id = ack["id"].as_u64().expect("chat ack has an id");

    ana.ok(json!({"type":"flag_chat","room":STAGE,"id":id}))
        .await?;
    let flagged = mo
        .recv_until(|m| kind(m) == ("event", "chat_flagged"))
        .await?;
    assert_eq!(
        flagged["event"],
        json!({"kind":"chat_flagged","id":id,"flags":1})
    );
    // Flagging twice counts once; a message that is not there is not_found.
    let (_, events) = ana
        .ok(json!({"type":"flag_chat","room":STAGE,"id":id}))
        .await?;
    assert!(events.iter().all(|event| kind(event).1 != "chat_flagged"));
    let (refused, _) = ana
        .request(json!({"type":"flag_chat","room":STAGE,"id":id + 1000}))
        .await?;
    assert_eq!(refused["code"], "not_found");
    // Attendees never hear of flags, neither live nor in a snapshot.
    let (_, seen) = tom.ok(json!({"type":"agenda"})).await?;
    assert!(
        seen.iter().all(|event| kind(event).1 != "chat_flagged"),
        "{seen:?}"
    );
    assert!(tom.join(STAGE).await?["snapshot"].get("flagged").is_none());

    let dir = server.stop().await;
    let server = TestServer::start_in(dir).await?;
    let mut later = server.client(Role::Moderator, "Lena").await?;
    let joined = later.join(STAGE).await?;
    assert_eq!(
        joined["snapshot"]["flagged"],
        json!({ id.to_string(): 1 }),
        "{joined}"
    );
    Ok(())
}
