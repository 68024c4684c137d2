// The connection's resume after a drop, against a fake WebSocket, with its events applied to
// the client's state: `node --test web/`.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Connection } from "../connection.js";
import { applyEvent, applySnapshot, createState, newRoomData } from "../state.js";

/** A WebSocket the test plays the server of. */
class FakeSocket {
  static OPEN = 1;
  static opened = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.listeners = new Map();
    FakeSocket.opened.push(this);
  }

  addEventListener(name, callback) {
    if (!this.listeners.has(name)) this.listeners.set(name, []);
    this.listeners.get(name).push(callback);
  }

  fire(name, detail = {}) {
    for (const callback of this.listeners.get(name) ?? []) callback(detail);
  }

  send(text) {
    this.sent.push(JSON.parse(text));
  }

  close() {
    this.readyState = 3;
    this.fire("close");
  }

  // The server's side.

  open() {
    this.readyState = FakeSocket.OPEN;
    this.fire("open");
  }

  receive(message) {
    this.fire("message", { data: JSON.stringify(message) });
  }

  /** The last message of this type the client sent. */
  last(type) {
    return this.sent.findLast((message) => message.type === type);
  }
}

const ROOM = "main-stage";
const BEN = { id: "u-ben", name: "Ben" };

function chat(seq) {
  return { type: "event", room: ROOM, seq, event: { kind: "chat", id: seq, text: `m${seq}`, author: BEN } };
}

/** Let the promises the frames settled run (the answer to hello is one). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test("after a drop the room is joined again with `since`, and replayed events are not applied twice", async () => {
  const realWebSocket = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  try {
    const state = createState();
    state.data.set(ROOM, newRoomData());
    const connection = new Connection({ url: "ws://plenary.test/ws" });
    const seen = [];
    connection.on("snapshot", ({ room, snapshot }) => applySnapshot(state, room, snapshot));
    connection.on("event", ({ room, seq, event }) => {
      seen.push(seq);
      applyEvent(state, room, event);
    });

    connection.join(ROOM);
    connection.start({ name: "Ana" });
    const first = FakeSocket.opened.at(-1);
    first.open();
    first.receive({ type: "welcome", ref: first.last("hello").ref, user: { id: "u-ana", name: "Ana", role: "attendee" }, token: "personal" });
    await settle();
    const join = first.last("join");
    assert.equal(join.since, undefined, "the first join asks for a snapshot");
    first.receive({ type: "joined", ref: join.ref, room: ROOM, seq: 2, snapshot: { chat: [{ id: 2, text: "m2", author: BEN }] } });
    first.receive(chat(3));
    first.receive(chat(4));

    // The socket drops; the connection comes back (without waiting out the backoff).
    first.close();
    assert.equal(connection.state, "offline");
    connection.reconnectNow();
    const second = FakeSocket.opened.at(-1);
    assert.notEqual(second, first);
    second.open();
    assert.equal(second.last("hello").token, "personal", "the personal token says hello again");
    second.receive({ type: "welcome", ref: second.last("hello").ref, user: { id: "u-ana", name: "Ana", role: "attendee" } });
    await settle();
    const resume = second.last("join");
    assert.equal(resume.since, 4, "resumed after the last event seen");
    // Events that arrive before the join's answer wait for it; the replay overlaps.
    second.receive(chat(5));
    second.receive({ type: "joined", ref: resume.ref, room: ROOM, seq: 5 });
    second.receive(chat(4));
    second.receive(chat(6));

    assert.deepEqual(seen, [3, 4, 5, 6]);
    assert.deepEqual([...state.data.get(ROOM).chat.keys()], [2, 3, 4, 5, 6]);
  } finally {
    globalThis.WebSocket = realWebSocket;
  }
});

test("a chat sent while offline waits, and is sent once after the next hello and join", async () => {
  const realWebSocket = globalThis.WebSocket;
  globalThis.WebSocket = FakeSocket;
  try {
    const connection = new Connection({ url: "ws://plenary.test/ws" });
    connection.join(ROOM);
    connection.start({ token: "personal" });
    const first = FakeSocket.opened.at(-1);
    first.open();
    first.receive({ type: "welcome", ref: first.last("hello").ref, user: { id: "u-ana", name: "Ana", role: "attendee" } });
    await settle();
    first.receive({ type: "joined", ref: first.last("join").ref, room: ROOM, seq: 0, snapshot: { chat: [] } });
    first.close();

    // Offline: a chat (it has a client_id) waits; anything else is refused at once.
    const sent = connection.request({ type: "chat", room: ROOM, text: "from the tunnel", client_id: "c-1" });
    assert.equal(connection.waiting, 1);
    await assert.rejects(connection.request({ type: "react", room: ROOM, emoji: "👏" }), { code: "offline" });

    connection.reconnectNow();
    const second = FakeSocket.opened.at(-1);
    second.open();
    assert.equal(second.last("chat"), undefined, "nothing is sent before the hello is answered");
    second.receive({ type: "welcome", ref: second.last("hello").ref, user: { id: "u-ana", name: "Ana", role: "attendee" } });
    await settle();
    const types = second.sent.map((message) => message.type);
    assert.deepEqual(types, ["hello", "join", "chat"], "the room is joined again before the chat");
    const chatSent = second.last("chat");
    assert.equal(chatSent.client_id, "c-1");
    assert.equal(connection.waiting, 0);
    second.receive({ type: "ack", ref: chatSent.ref, id: 7 });
    assert.deepEqual(await sent, { type: "ack", ref: chatSent.ref, id: 7 });
  } finally {
    globalThis.WebSocket = realWebSocket;
  }
});
