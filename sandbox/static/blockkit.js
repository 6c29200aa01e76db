// Block Kit → DOM for the sandbox page: the blocks and elements Tandem sends, drawn the way Slack
// draws them closely enough to judge the flow (https://docs.slack.dev/reference/block-kit/blocks).
// `ctx` carries who is looking (people, channels, zone) and what to do on a click:
//   ctx.onAction(entry, blockId)   an interactive element fired (block_actions)
(() => {
"use strict";

const EMOJI = {
  warning: "⚠️", white_check_mark: "✅", rotating_light: "🚨", no_entry_sign: "🚫", alarm_clock: "⏰",
  wave: "👋", twisted_rightwards_arrows: "🔀", tada: "🎉", scissors: "✂️", rewind: "⏪", question: "❓",
  page_facing_up: "📄", new: "🆕", mag: "🔍", leftwards_arrow_with_hook: "↩️", information_source: "ℹ️",
  inbox_tray: "📥", hourglass_flowing_sand: "⏳", hammer_and_wrench: "🛠️", x: "❌", calendar: "📅",
  chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", memo: "📝", bell: "🔔",
};

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "html") node.innerHTML = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function escapeHtml(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function emoji(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
}

function formatDate(seconds, ctx, withTime = true) {
  const options = {timeZone: ctx.zone, year: "numeric", month: "short", day: "numeric"};
  if (withTime) Object.assign(options, {hour: "2-digit", minute: "2-digit", hour12: false});
  return new Intl.DateTimeFormat(ctx.locale, options).format(new Date(seconds * 1000));
}

// Slack markup inside <…>: mentions, channels, dates, links, special mentions.
function token(inner, ctx) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const person = ctx.people[target.slice(1)];
    return `<span class="mention">@${escapeHtml(person ? person.name : (label || target.slice(1)))}</span>`;
  }
  if (target.startsWith("#")) {
    const channel = ctx.channelNames[target.slice(1)];
    return `<span class="mention">#${escapeHtml(channel || label || target.slice(1))}</span>`;
  }
  if (target.startsWith("!date^")) {
    const seconds = Number(target.split("^")[1]);
    return `<time>${escapeHtml(formatDate(seconds, ctx))}</time>`;
  }
  if (target.startsWith("!subteam^")) return `<span class="mention">@${escapeHtml(label || "group")}</span>`;
  if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(target.slice(1))}</span>`;
  return `<a href="${escapeHtml(target)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
}

// mrkdwn (https://docs.slack.dev/messaging/formatting-message-text): the text arrives escaped
// (&amp; &lt; &gt;), so it is HTML-safe once quotes are taken care of; <…> are Slack's tokens.
function mrkdwn(text, ctx) {
  const tokens = [];
  let html = String(text || "").replace(/<([^<>]+)>/g, (all, inner) => {
    tokens.push(token(inner, ctx));
    return `\u0000${tokens.length - 1}\u0000`;
  });
  html = html.replace(/"/g, "&quot;");
  html = html.replace(/```([\s\S]*?)```/g, (all, code) => `<pre>${code}</pre>`);
  html = html.replace(/`([^`\n]+)`/g, "<code>$1</code>");
  // Bold and italic need a boundary on each side: a space, punctuation (CJK's too) or the ends.
  const before = "(^|[\\s(>“\"（「，。：；、])", after = "(?=$|[\\s().,:;!?<”\"（）」，。：；、！？])";
  html = html.replace(new RegExp(`${before}\\*([^*\\n]+)\\*${after}`, "g"), "$1<b>$2</b>");
  html = html.replace(new RegExp(`${before}_([^_\\n]+)_${after}`, "g"), "$1<i>$2</i>");
  html = html.replace(/(^|[\s(>])~([^~\n]+)~(?=$|[\s).,:;!?<])/g, "$1<s>$2</s>");
  html = html.split("\n").map((line) => line.startsWith("&gt; ") ? `<blockquote>${line.slice(5)}</blockquote>` : line)
    .join("<br>");
  html = html.replace(/\u0000(\d+)\u0000/g, (all, i) => tokens[Number(i)]);
  return emoji(html);
}

function textNode(obj, ctx, tag = "span") {
  if (!obj) return null;
  if (obj.type === "mrkdwn") return el(tag, {class: "mrkdwn", html: mrkdwn(obj.text, ctx)});
  return el(tag, {class: "plain", html: emoji(escapeHtml(obj.text))});
}

function plain(obj) {
  return obj ? obj.text : "";
}

function optionsOf(element) {
  if (element.options) return element.options;
  return (element.option_groups || []).flatMap((group) => group.options);
}

// -- elements ------------------------------------------------------------------------------------
// Each input-like element keeps how to read its state (Slack's view.state.values shape) in node.stateOf.
function element(def, ctx, blockId, {dispatch} = {}) {
  const fire = (entry) => ctx.onAction(Object.assign({action_id: def.action_id, block_id: blockId, type: def.type}, entry));
  const testid = `el-${def.action_id}`;
  switch (def.type) {
    case "button": {
      const button = el("button", {type: "button", class: `btn ${def.style || ""}`, "data-testid": testid,
                                   "data-value": def.value}, plain(def.text));
      button.addEventListener("click", () => {
        if (def.confirm && !window.confirm(plain(def.confirm.text))) return;
        if (def.url) window.open(def.url, "_blank", "noopener");
        fire({value: def.value, text: def.text});
      });
      return button;
    }
    case "overflow": {
      const wrap = el("span", {class: "overflow"});
      const menu = el("div", {class: "menu", hidden: true});
      for (const option of def.options) {
        menu.append(el("button", {type: "button", class: "link", "data-value": option.value,
                                  onclick: () => { menu.hidden = true; fire({selected_option: option}); }}, plain(option.text)));
      }
      wrap.append(el("button", {type: "button", class: "btn", "data-testid": testid,
                                onclick: () => { menu.hidden = !menu.hidden; }}, "⋯"), menu);
      return wrap;
    }
    case "static_select":
    case "radio_buttons": {
      const options = optionsOf(def);
      let node;
      if (def.type === "radio_buttons") {
        node = el("div", {class: "radios", "data-testid": testid});
        options.forEach((option, i) => {
          const id = `${blockId}-${def.action_id}-${i}`;
          const input = el("input", {type: "radio", name: `${blockId}-${def.action_id}`, id, value: option.value,
                                     checked: def.initial_option && def.initial_option.value === option.value});
          input.addEventListener("change", () => (dispatch ? fire({selected_option: option}) : null));
          node.append(el("label", {for: id}, input, plain(option.text)));
        });
        node.stateOf = () => {
          const checked = node.querySelector("input:checked");
          return {type: def.type, selected_option: checked ? options.find((o) => o.value === checked.value) : null};
        };
      } else {
        node = el("select", {"data-testid": testid}, el("option", {value: ""}, plain(def.placeholder) || ctx.words.choose || "…"));
        for (const option of options) {
          node.append(el("option", {value: option.value, selected: def.initial_option && def.initial_option.value === option.value},
                         plain(option.text)));
        }
        node.stateOf = () => ({type: def.type, selected_option: options.find((o) => o.value === node.value) || null});
        node.addEventListener("change", () => (dispatch ? fire({selected_option: node.stateOf().selected_option}) : null));
      }
      return node;
    }
    case "multi_static_select":
    case "checkboxes": {
      const options = optionsOf(def);
      const initial = new Set((def.initial_options || []).map((o) => o.value));
      const node = el("div", {class: "checks", "data-testid": testid});
      options.forEach((option, i) => {
        const id = `${blockId}-${def.action_id}-${i}`;
        node.append(el("label", {for: id}, el("input", {type: "checkbox", id, value: option.value, checked: initial.has(option.value)}),
                       plain(option.text)));
      });
      node.stateOf = () => ({type: def.type, selected_options: options.filter(
        (o) => node.querySelector(`input[value="${CSS.escape(o.value)}"]`).checked)});
      node.addEventListener("change", () => (dispatch ? fire(node.stateOf()) : null));
      return node;
    }
    case "users_select":
    case "multi_users_select":
    case "conversations_select":
    case "channels_select": {
      const users = def.type.includes("users");
      const multi = def.type.startsWith("multi_");
      const choices = users ? Object.values(ctx.people).filter((p) => !p.is_bot).map((p) => [p.id, p.real_name])
        : ctx.allChannels.map((c) => [c.id, `#${c.name}`]);
      const initial = new Set([].concat(def.initial_user || def.initial_users || def.initial_conversation || def.initial_channel || []));
      const node = el("select", {"data-testid": testid, multiple: multi, size: multi ? Math.min(choices.length, 5) : null});
      if (!multi) node.append(el("option", {value: ""}, plain(def.placeholder) || ctx.words.choose || "…"));
      for (const [id, label] of choices) node.append(el("option", {value: id, selected: initial.has(id)}, label));
      const key = {users_select: "selected_user", multi_users_select: "selected_users",
                   conversations_select: "selected_conversation", channels_select: "selected_channel"}[def.type];
      node.stateOf = () => ({type: def.type, [key]: multi ? [...node.selectedOptions].map((o) => o.value) : (node.value || null)});
      node.addEventListener("change", () => (dispatch ? fire(node.stateOf()) : null));
      return node;
    }
    case "datepicker": {
      const node = el("input", {type: "date", "data-testid": testid, value: def.initial_date || "", title: ctx.words.pick_date});
      node.stateOf = () => ({type: def.type, selected_date: node.value || null});
      node.addEventListener("change", () => (dispatch ? fire(node.stateOf()) : null));
      return node;
    }
    case "datetimepicker": {
      const offset = ctx.zoneOffset;  // seconds east of UTC, for the person looking
      const initial = def.initial_date_time ? new Date((def.initial_date_time + offset) * 1000).toISOString().slice(0, 16) : "";
      const node = el("input", {type: "datetime-local", "data-testid": testid, value: initial});
      node.stateOf = () => ({type: def.type, selected_date_time: node.value ? Date.parse(node.value + ":00Z") / 1000 - offset : null});
      node.addEventListener("change", () => (dispatch ? fire(node.stateOf()) : null));
      return node;
    }
    case "plain_text_input":
    case "number_input":
    case "email_text_input":
    case "url_text_input": {
      const attrs = {"data-testid": testid, placeholder: plain(def.placeholder), maxlength: def.max_length};
      const node = def.multiline ? el("textarea", Object.assign(attrs, {rows: 4}), def.initial_value || "")
        : el("input", Object.assign(attrs, {type: def.type === "number_input" ? "text" : "text", value: def.initial_value || ""}));
      node.stateOf = () => ({type: def.type, value: node.value === "" ? null : node.value});
      return node;
    }
    case "file_input": {
      const node = el("input", {type: "file", "data-testid": testid, accept: (def.filetypes || []).map((t) => `.${t}`).join(",")});
      node.stateOf = async () => {
        const files = [];
        for (const file of node.files) {
          const data = new Uint8Array(await file.arrayBuffer());
          let binary = "";
          data.forEach((b) => { binary += String.fromCharCode(b); });
          files.push({upload: {name: file.name, base64: btoa(binary)}});
        }
        return {type: def.type, files};
      };
      return node;
    }
    case "image":
      return el("img", {class: "ctx-img", src: def.image_url, alt: def.alt_text});
    default:
      return el("span", {class: "unknown"}, `[${def.type}]`);
  }
}

// -- blocks --------------------------------------------------------------------------------------
function block(def, ctx, errors) {
  const id = def.block_id || "";
  const wrap = el("div", {class: `block block-${def.type}`, "data-block-id": id});
  switch (def.type) {
    case "header":
      wrap.append(el("h3", {}, emoji(plain(def.text))));
      break;
    case "divider":
      wrap.append(el("hr"));
      break;
    case "section": {
      const body = el("div", {class: "section-body"});
      if (def.text) body.append(textNode(def.text, ctx, "div"));
      if (def.fields) body.append(el("div", {class: "fields"}, def.fields.map((f) => textNode(f, ctx, "div"))));
      wrap.append(body);
      if (def.accessory) {
        const acc = element(def.accessory, ctx, id, {dispatch: true});
        wrap.append(el("div", {class: "accessory"}, acc));
      }
      break;
    }
    case "context":
      wrap.append(...def.elements.map((e) => (e.type === "image" ? element(e, ctx, id) : textNode(e, ctx))));
      break;
    case "actions":
      wrap.append(...def.elements.map((e) => element(e, ctx, id, {dispatch: true})));
      break;
    case "image": {
      const src = def.image_url || (def.slack_file && (def.slack_file.url || `/sandbox/files/${def.slack_file.id}`));
      if (def.title) wrap.append(el("div", {class: "img-title"}, plain(def.title)));
      wrap.append(el("img", {src, alt: def.alt_text, class: "block-img"}));
      break;
    }
    case "input": {
      const label = el("label", {class: "input-label"}, plain(def.label));
      if (def.optional) label.append(el("span", {class: "optional"}, ` ${ctx.words.optional}`));
      const input = element(def.element, ctx, id, {dispatch: def.dispatch_action});
      input.classList.add("input-el");
      wrap.append(label, input);
      if (def.hint) wrap.append(el("div", {class: "hint"}, plain(def.hint)));
      if (errors && errors[id]) wrap.append(el("div", {class: "error", "data-testid": `error-${id}`}, errors[id]));
      break;
    }
    case "rich_text":
      wrap.append(el("div", {class: "mrkdwn"}, JSON.stringify(def.elements).slice(0, 200)));
      break;
    default:
      wrap.append(el("span", {class: "unknown"}, `[${def.type}]`));
  }
  return wrap;
}

function blocks(list, ctx, errors) {
  return el("div", {class: "blocks"}, (list || []).map((b) => block(b, ctx, errors)));
}

// view.state.values as Slack sends it: every stateful element of the view, by block and action id.
async function viewState(root) {
  const values = {};
  for (const node of root.querySelectorAll("[data-block-id]")) {
    for (const input of node.querySelectorAll(":scope .input-el, :scope .accessory > *, :scope > select, :scope > input")) {
      if (!input.stateOf) continue;
      const actionId = (input.dataset.testid || "").replace(/^el-/, "");
      const blockId = node.dataset.blockId;
      values[blockId] = values[blockId] || {};
      values[blockId][actionId] = await input.stateOf();
    }
  }
  return values;
}

window.BlockKit = {blocks, mrkdwn, viewState, el, formatDate, textNode, plain};
})();
