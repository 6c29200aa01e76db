// The sandbox page: asks /sandbox/api/state what the chosen person sees, draws it, and sends what
// they do to /sandbox/api/act, which turns it into the signed payload Slack would send Tandem.
"use strict";

const {blocks, mrkdwn, viewState, el, formatDate} = window.BlockKit;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const ui = {user: params.get("user") || "", conv: params.get("conv") || "", thread: "", data: null,
            drawn: {}, modalErrors: {}, busy: 0};

async function fetchState() {
  const query = new URLSearchParams({user: ui.user, conv: ui.conv, thread: ui.thread});
  const response = await fetch(`/sandbox/api/state?${query}`);
  ui.data = await response.json();
  ui.user = ui.data.user;
  ui.conv = ui.data.conv;
  draw();
}

async function act(kind, fields = {}) {
  ui.busy += 1;
  document.body.classList.add("busy");
  try {
    const response = await fetch("/sandbox/api/act", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(Object.assign({kind, user: ui.user, conv: ui.conv}, fields))});
    const result = await response.json();
    if (result.error) notice(result.error, true);
    else if (result.notice) notice(result.notice);
    await fetchState();
    return result;
  } finally {
    ui.busy -= 1;
    if (!ui.busy) document.body.classList.remove("busy");
  }
}

function notice(text, bad = false) {
  const box = $("notice");
  box.textContent = text;
  box.className = bad ? "bad" : "";
  box.hidden = false;
  clearTimeout(notice.timer);
  notice.timer = setTimeout(() => { box.hidden = true; }, 6000);
}

function context() {
  const d = ui.data;
  const me = d.people.find((p) => p.id === d.user);
  const people = Object.fromEntries(d.people.map((p) => [p.id, {...p, name: p.name, real_name: p.real_name}]));
  people.UBOT = {id: "UBOT", name: "tandem", real_name: "Tandem", is_bot: true};
  return {
    people, words: d.words, zone: me.tz, zoneOffset: me.tz_offset,
    locale: d.language === "zh_CN" ? "zh-CN" : "en-GB",
    channelNames: Object.fromEntries(d.channels.map((c) => [c.id, c.name])), allChannels: d.all_channels,
    onAction: () => {},
  };
}

// Draw a part only when what it shows changed, so a select or a half-typed answer is not reset.
function changed(part, value) {
  const key = JSON.stringify(value);
  if (ui.drawn[part] === key) return false;
  ui.drawn[part] = key;
  return true;
}

function draw() {
  const d = ui.data;
  const w = d.words;
  document.documentElement.lang = d.language === "zh_CN" ? "zh-CN" : "en";
  if (changed("chrome", [w, d.people, d.user])) {
    $("note").textContent = w.sandbox_note;
    $("connect").textContent = w.connect_hint;
    $("acting-label").textContent = w.acting_as;
    $("clock-label").textContent = w.clock;
    $("jump").placeholder = w.jump_hint;
    $("jump-go").textContent = w.jump;
    $("channels-label").textContent = w.channels;
    $("dms-label").textContent = w.direct_messages;
    $("home-link").textContent = `Tandem · ${w.app_home}`;
    $("compose").placeholder = w.composer;
    $("send").textContent = w.send;
    $("shortcut").textContent = `⚡ ${w.new_request}`;
    $("thread-label").textContent = w.thread;
    $("thread-send").textContent = w.send;
    const select = $("person");
    select.replaceChildren(...d.people.map((p) => el("option", {value: p.id, selected: p.id === d.user},
                                                          `${p.real_name} · ${p.tz}`)));
  }
  const ctx = context();
  $("now").textContent = formatDate(d.now_epoch, ctx);
  if (changed("channels", [d.channels, d.conv])) {
    $("channels").replaceChildren(...d.channels.map((c) => el("li", {},
      el("a", {href: "#", "data-conv": c.id, "data-testid": `conv-${c.name}`, class: c.id === d.conv ? "here" : ""}, `# ${c.name}`))));
    for (const link of document.querySelectorAll("#dms a")) link.classList.toggle("here", (link.dataset.conv === "dm" ? d.dm : "home") === d.conv);
  }
  drawConversation(ctx);
  drawThread(ctx);
  drawModal(ctx);
}

function title(d) {
  if (d.conv === "home") return `Tandem · ${d.words.app_home}`;
  if (d.conv === d.dm) return `Tandem · ${d.words.messages_tab}`;
  const channel = d.channels.find((c) => c.id === d.conv);
  return channel ? `# ${channel.name}` : d.conv;
}

function drawConversation(ctx) {
  const d = ui.data;
  const home = d.conv === "home";
  $("composer").hidden = home;
  if (!changed("conversation", [d.conv, d.user, d.language, home ? d.home : [d.messages, d.ephemerals]])) return;
  $("conv-title").textContent = title(d);
  const box = $("messages");
  if (home) {
    if (!d.home) {
      box.replaceChildren(el("p", {class: "empty"}, d.words.no_home));
      return;
    }
    const homeCtx = {...ctx, onAction: (entry) => act("action", {view_id: d.home.id, action: entry, state: {}})};
    box.replaceChildren(el("div", {class: "home", "data-testid": "home"}, blocks(d.home.blocks, homeCtx)));
    return;
  }
  const items = [...d.messages.map((m) => ({m, ephemeral: false})),
                 ...d.ephemerals.filter((e) => !e.thread_ts).map((m) => ({m, ephemeral: true}))]
    .sort((a, b) => Number(a.m.ts) - Number(b.m.ts));
  box.replaceChildren(...items.map(({m, ephemeral}) => message(m, ctx, {ephemeral})));
  box.scrollTop = box.scrollHeight;
}

function message(m, ctx, {ephemeral = false, inThread = false} = {}) {
  const d = ui.data;
  const author = ctx.people[m.user] || {name: m.user, real_name: m.user};
  const msgCtx = {...ctx, onAction: (entry) => act("action", {ts: m.ts, ephemeral, action: entry})};
  const head = el("div", {class: "msg-head"},
    el("b", {}, author.is_bot ? "Tandem" : author.real_name), author.is_bot ? el("span", {class: "app-tag"}, "APP") : null,
    el("time", {}, formatDate(Number(m.ts), ctx)), m.edited ? el("span", {class: "edited"}, `(${d.words.edited})`) : null,
    ephemeral ? el("span", {class: "only-you"}, d.words.only_you) : null);
  const body = m.blocks && m.blocks.length ? blocks(m.blocks, msgCtx) : el("div", {class: "mrkdwn", html: mrkdwn(m.text, ctx)});
  const files = (m.files || []).map((f) => (f.mimetype || "").startsWith("image/") || /\.png$/i.test(f.name || "")
    ? el("figure", {class: "file"}, el("img", {src: `/sandbox/files/${f.id}`, alt: f.title || f.name, "data-testid": "file-image"}),
         el("figcaption", {}, f.title || f.name))
    : el("a", {class: "file", href: `/sandbox/files/${f.id}`, download: f.name}, `📄 ${f.title || f.name}`));
  const node = el("div", {class: `msg${ephemeral ? " ephemeral" : ""}`, "data-ts": m.ts, "data-testid": "message"}, head, body, files);
  if (!ephemeral && !inThread) {
    const tools = el("div", {class: "msg-tools"},
      el("button", {type: "button", class: "link", "data-testid": "turn-into-request",
                    onclick: () => act("message_action", {ts: m.ts, callback_id: "request_from_message"})}, d.words.turn_into_request),
      el("button", {type: "button", class: "link", "data-testid": "reply",
                    onclick: () => openThread(m.ts)}, d.words.reply_in_thread));
    node.append(tools);
    if (m.reply_count) {
      node.append(el("button", {type: "button", class: "link replies", "data-testid": "replies",
                                onclick: () => openThread(m.ts)}, `${m.reply_count} ${d.words.replies}`));
    }
  }
  return node;
}

function openThread(ts) {
  ui.thread = ts;
  $("thread").hidden = false;
  fetchState();
}

function drawThread(ctx) {
  const d = ui.data;
  if (!ui.thread) {
    $("thread").hidden = true;
    return;
  }
  if (!changed("thread", [ui.thread, d.replies, d.messages.find((m) => m.ts === ui.thread), d.language])) return;
  const parent = d.messages.find((m) => m.ts === ui.thread);
  $("thread-parent").replaceChildren(parent ? message(parent, ctx, {inThread: true}) : "");
  const eph = d.ephemerals.filter((e) => e.thread_ts === ui.thread);
  $("replies").replaceChildren(...[...d.replies.map((m) => message(m, ctx, {inThread: true})),
                                   ...eph.map((m) => message(m, ctx, {ephemeral: true, inThread: true}))]);
}

function drawModal(ctx) {
  const d = ui.data;
  const layer = $("modal-layer");
  const top = d.modals[d.modals.length - 1];
  if (!top) {
    layer.hidden = true;
    layer.replaceChildren();
    ui.drawn.modal = null;
    ui.drawnView = null;
    return;
  }
  const errors = ui.modalErrors[top.id] || {};
  if (!changed("modal", [top.id, top.hash, errors, d.modals.length, d.language])) return;
  layer.hidden = false;
  const modalCtx = {...ctx, onAction: async (entry) => {
    const state = await viewState(layer);
    act("action", {view_id: top.id, action: entry, state});
  }};
  const form = el("form", {class: "modal", "data-testid": "modal", "data-callback": top.callback_id});
  const back = d.modals.length > 1;
  form.append(el("div", {class: "modal-head"},
    back ? el("button", {type: "button", class: "link", "data-testid": "modal-back",
                         onclick: () => act("close", {view_id: top.id})}, `‹ ${d.words.back}`) : null,
    el("h3", {"data-testid": "modal-title"}, BlockKit.plain(top.title)),
    el("button", {type: "button", class: "link", "data-testid": "modal-x", title: d.words.close,
                  onclick: () => act("close", {view_id: top.id, all: true})}, "×")));
  form.append(el("div", {class: "modal-body"}, blocks(top.blocks, modalCtx, errors)));
  const foot = el("div", {class: "modal-foot"});
  if (top.close) foot.append(el("button", {type: "button", class: "btn", "data-testid": "modal-close",
                                           onclick: () => act("close", {view_id: top.id, all: !back})}, BlockKit.plain(top.close)));
  if (top.submit) foot.append(el("button", {type: "submit", class: "btn primary", "data-testid": "modal-submit"}, BlockKit.plain(top.submit)));
  form.append(foot);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const state = await viewState(form);
    const result = await act("submit", {view_id: top.id, state});
    ui.modalErrors[top.id] = (result && result.errors) || {};
    ui.drawn.modal = null;
    draw();
  });
  const kept = ui.drawnView === top.id ? snapshot(layer) : {};
  layer.replaceChildren(form);
  restore(form, kept);
  ui.drawnView = top.id;
}

// What a person typed or picked survives an update of the same view: Slack keeps an input's value
// when views.update leaves its block_id and action_id unchanged
// (https://docs.slack.dev/surfaces/modals#updating_views).
function controls(root) {
  const found = {};
  for (const block of root.querySelectorAll("[data-block-id]")) {
    for (const element of block.querySelectorAll("[data-testid^=el-]")) {
      const list = element.matches("input, select, textarea") ? [element]
        : [...element.querySelectorAll("input:not([type=file]), select, textarea")];
      list.forEach((control, index) => {
        if (control.type !== "file") found[`${block.dataset.blockId}|${element.dataset.testid}|${index}`] = control;
      });
    }
  }
  return found;
}

function snapshot(root) {
  return Object.fromEntries(Object.entries(controls(root)).map(([key, c]) => [key,
    c.type === "checkbox" || c.type === "radio" ? c.checked : c.multiple ? [...c.selectedOptions].map((o) => o.value) : c.value]));
}

function restore(root, kept) {
  for (const [key, control] of Object.entries(controls(root))) {
    if (!(key in kept)) continue;
    const value = kept[key];
    if (control.type === "checkbox" || control.type === "radio") control.checked = value;
    else if (control.multiple) for (const option of control.options) option.selected = value.includes(option.value);
    else control.value = value;
  }
}

// -- what the person does --------------------------------------------------------------------------
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-conv]");
  if (!link) return;
  event.preventDefault();
  const target = link.dataset.conv;
  ui.conv = target === "dm" ? ui.data.dm : target;
  ui.thread = "";
  if (target === "home") act("home");
  else fetchState();
});

$("person").addEventListener("change", (event) => {
  ui.user = event.target.value;
  ui.conv = "";
  ui.thread = "";
  ui.modalErrors = {};
  fetchState();
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("compose").value;
  $("compose").value = "";
  await act("send", {text});
});

$("thread-composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("thread-compose").value;
  $("thread-compose").value = "";
  await act("send", {text, thread: ui.thread});
});

$("thread-close").addEventListener("click", () => { ui.thread = ""; fetchState(); });
$("shortcut").addEventListener("click", () => act("shortcut", {callback_id: "request_new"}));
$("jump-go").addEventListener("click", () => act("clock", {text: $("jump").value}));
$("jump").addEventListener("keydown", (event) => {
  if (event.key === "Enter") act("clock", {text: $("jump").value});
});

// A modal left open by an earlier visit goes, as a reload closes Slack's modals.
fetchState().then(() => {
  const open = ui.data.modals[0];
  if (open) act("close", {view_id: open.id, all: true});
});
setInterval(() => { if (!ui.busy) fetchState(); }, 1500);
