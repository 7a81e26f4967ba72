// The small Markdown subset messages are written in (docs/protocol.md, "Formatting"): `code`
// spans and fenced blocks, **bold**, *italics* and _italics_, ~~strike~~, > quotes, - and 1.
// lists, links (<https://…>, bare http(s) URLs, [text](https://…)), and @mentions.
//
// Two steps, so that the dangerous one is tiny:
//
//   parse(text, {mentions, me}) -> tree   pure: no DOM; tested with node --test
//   render(tree, document) -> [nodes]     createElement / createTextNode / setAttribute only
//
// Nothing in a message is HTML: every character of the text ends up in a text node (`<b>` shows
// as "<b>"), and the only attribute taken from the text is a link's href, which is kept only
// when it is an http:, https: or mailto: URL (anything else stays text). A link to this very
// page (`here`) with a "#room=" address (webpush.js placeOfUrl) gets the `place` it names: it
// is drawn with that fragment alone as its href and no new tab (it opens in place), and a bare
// URL of that kind reads as where it leads instead: the room's name ("#general"), or "a
// message in #general" for a message's link ("Copy link"). Whatever the input
// (unbalanced markers, deep nesting, 4000 characters of asterisks), parsing ends, in at most
// quadratic time, and nesting stops at a fixed depth.
//
// Mentions are never looked for inside code, as the server does (chatd.protocol.markup): an
// "@name" is a mention when the message's `mentions` (as the server found them) name it, or,
// for a text the server has not seen yet (`mentions` null), when it looks like one. A group
// mention (@room, @all, @everyone, @here) is marked when the message has a `group`, or, for a
// text not seen yet, when it looks like one; `groupMe` says whether it covers the reader. A
// user group's "@backend" is a mention (its pill, titled with the group's description and
// count) when the message's `user_groups` name it (`userGroups`, usergroups.js `pillsFor`); a
// neutral one (`unknown`) while the page does not know the groups yet.
//
// The words of the reader's notification keywords (`keywords`, keywords.js) are marked where
// they stand in plain text: a text node is split around them (a `keyword` node), never a
// link's words, code, a mention or an emoji, so nothing else is drawn differently. The marks
// are keywords.js `ranges` of each text node, so a keyword split by markup ("on **call**") is
// not marked, though its message still counts as matching (the rule reads the raw text).
//
// A custom emoji's ":name:" (outside code, not glued to a word before it) is its picture when
// `emoji` (a Map of the server's custom emoji by name, emoji.js) has it, and text otherwise:
// the text itself never changes. Its url is one emoji.js kept (a path of the server's emoji
// pictures), the only other attribute taken from outside the text.
//
// The tree: a root {type: "root", children: blocks}; blocks are
//   {type: "para", children: inlines}          text lines (line breaks kept as "\n")
//   {type: "code_block", text, lang}
//   {type: "quote", children: blocks}
//   {type: "list", ordered, start, items: [inlines]}
// and inlines are
//   {type: "text", text}  {type: "code", text}  {type: "strong" | "em" | "del", children}
//   {type: "link", href, children, place?}  {type: "mention", name, text, me, group?, userGroup?,
//   title?}
//   {type: "emoji", name, url}  {type: "keyword", text}

import { nameLabel } from "./conversations.js";
import { GROUP_TOKENS } from "./entries.js";
import { ranges } from "./keywords.js";
import { messageHash, placeOfUrl, roomHash } from "./webpush.js";

const MAX_DEPTH = 8; // nested quotes and emphasis, beyond which the text is taken as it is
const SAFE_SCHEMES = ["http:", "https:", "mailto:"];
const PUNCTUATION = /[!-/:-@[-`{-~]/; // what a backslash escapes (ASCII punctuation)

const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const BULLET = /^ {0,3}[-*+] +(\S.*)$/;
const NUMBERED = /^ {0,3}(\d{1,9})[.)] +(\S.*)$/;
const CONTINUATION = /^ {2,}\S/;
// A bare URL: http(s), not ending in punctuation that more likely closes the sentence.
const BARE_URL = /^https?:\/\/[^\s<>"'`]*[^\s<>"'`.,;:!?)\]*_~]/i;
const AUTOLINK = /^<((?:https?:\/\/|mailto:)[^\s<>]+)>/i;
const LINK_TARGET = /^\(((?:[^\s()]|\([^\s()]*\))+)\)/;
const MENTION = /^@([A-Za-z0-9_.-]{1,32})/;
const CUSTOM_EMOJI = /^:([a-z0-9_+-]{1,32}):/;
const NAME_CHAR = /[A-Za-z0-9_.@-]/; // before "@": then it is an e-mail address, not a mention
const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * The tree of a message's text. `mentions`: the names the server found mentioned (as
 * registered), or null when not known; `me`: the reader's name (their mentions are marked);
 * `keywords`: the reader's notification keywords to mark (keywords.js), or null.
 */
export function parse(text, { mentions = null, me = null, group = null, groupMe = false,
  emoji = null, userGroups = null, here = null, keywords = null } = {}) {
  const ctx = {
    // This page's address (origin and path): a link to it at a room opens in place.
    here: typeof here === "string" ? here : null,
    // The user groups the message names (usergroups.js `pillsFor`): name -> {title, me,
    // unknown}.
    userGroups: userGroups instanceof Map && userGroups.size ? userGroups : null,
    emoji: emoji instanceof Map && emoji.size ? emoji : null,
    mentions: Array.isArray(mentions) ? mentions.map((n) => String(n).toLowerCase()) : null,
    me: typeof me === "string" ? me.toLowerCase() : null,
    group: group === "room" || group === "here" ? group : null,
    groupMe: groupMe === true,
  };
  const tree = { type: "root", children: blocks(String(text).split(/\r?\n/), ctx, 0) };
  return Array.isArray(keywords) && keywords.length ? marked(tree, keywords) : tree;
}

/** The nodes whose children are marked (a link's words, code and mentions are not). */
const MARKED_IN = new Set(["root", "para", "quote", "strong", "em", "del"]);

/** `tree` with the words of `keywords` in its text nodes split out as `keyword` nodes. */
function marked(node, keywords) {
  if (node.type === "list") {
    return { ...node, items: node.items.map((item) => markAll(item, keywords)) };
  }
  if (!MARKED_IN.has(node.type)) return node;
  return { ...node, children: markAll(node.children, keywords) };
}

function markAll(nodes, keywords) {
  return nodes.flatMap((node) => {
    if (node.type !== "text") return [marked(node, keywords)];
    const found = ranges(keywords, node.text);
    if (!found.length) return [node];
    const out = [];
    let at = 0;
    for (const [start, end] of found) {
      if (start > at) out.push({ type: "text", text: node.text.slice(at, start) });
      out.push({ type: "keyword", text: node.text.slice(start, end) });
      at = end;
    }
    if (at < node.text.length) out.push({ type: "text", text: node.text.slice(at) });
    return out;
  });
}

/**
 * DOM nodes for a tree, made with `doc` (the page's document). A text that is one paragraph
 * gives its inline nodes alone (no <p> around them).
 */
export function render(tree, doc = globalThis.document) {
  const children = tree.children || [];
  if (children.length === 1 && children[0].type === "para") {
    return children[0].children.map((node) => renderNode(node, doc));
  }
  return children.map((node) => renderNode(node, doc));
}

/**
 * The words of a text without its markers, on one line: for excerpts (a quote, the reply bar),
 * where "**bold**" should read "bold".
 */
export function plainText(text) {
  const words = (node) => {
    if (node.type === "text" || node.type === "code" || node.type === "code_block"
        || node.type === "mention" || node.type === "keyword") return node.text;
    if (node.type === "list") return node.items.map((item) => item.map(words).join("")).join(" ");
    return (node.children || []).map(words).join(node.type === "root" || node.type === "quote"
      ? " " : "");
  };
  return words(parse(text)).replace(/\s+/g, " ").trim();
}

/** Whether a URL may be a link's href: http, https or mailto, and nothing else. */
export function safeHref(url) {
  if (typeof url !== "string" || !/^(https?:\/\/|mailto:)/i.test(url)) return null;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  return SAFE_SCHEMES.includes(parsed.protocol) ? parsed.href : null;
}

// -- blocks ------------------------------------------------------------------------------------

function blocks(lines, ctx, depth) {
  const out = [];
  let para = [];
  const flush = () => {
    // Blank lines at the edges of a paragraph only separate it from the blocks around it.
    while (para.length && !para[0].trim()) para.shift();
    while (para.length && !para[para.length - 1].trim()) para.pop();
    if (para.length) out.push({ type: "para", children: inline(para.join("\n"), ctx, depth) });
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence && !(fence[1][0] === "`" && fence[2].includes("`"))) {
      flush();
      const marker = fence[1];
      const body = [];
      i += 1;
      while (i < lines.length && !closesFence(lines[i], marker)) {
        body.push(lines[i]);
        i += 1;
      }
      i += 1; // the closing fence (or the end of the text: the block runs to it)
      out.push({ type: "code_block", text: body.join("\n"), lang: fence[2].trim().split(/\s/)[0] });
      continue;
    }
    if (QUOTE.test(line) && depth < MAX_DEPTH) {
      flush();
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) {
        body.push(QUOTE.exec(lines[i])[1]);
        i += 1;
      }
      out.push({ type: "quote", children: blocks(body, ctx, depth + 1) });
      continue;
    }
    const item = listItem(line);
    if (item) {
      flush();
      const items = [];
      const start = item.ordered ? Number(item.number) : 1;
      while (i < lines.length) {
        const next = listItem(lines[i]);
        if (next && next.ordered === item.ordered) {
          items.push([next.text]);
        } else if (!next && items.length && CONTINUATION.test(lines[i])) {
          items[items.length - 1].push(lines[i].trim());
        } else {
          break;
        }
        i += 1;
      }
      out.push({ type: "list", ordered: item.ordered, start,
        items: items.map((parts) => inline(parts.join("\n"), ctx, depth)) });
      continue;
    }
    para.push(line);
    i += 1;
  }
  flush();
  return out;
}

function closesFence(line, marker) {
  const match = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(line);
  return Boolean(match) && match[1][0] === marker[0] && match[1].length >= marker.length;
}

function listItem(line) {
  const bullet = BULLET.exec(line);
  if (bullet) return { ordered: false, text: bullet[1] };
  const numbered = NUMBERED.exec(line);
  if (numbered) return { ordered: true, number: numbered[1], text: numbered[2] };
  return null;
}

// -- inlines -----------------------------------------------------------------------------------

/** The inline nodes of `text` (`depth`: how deep in emphasis or quotes this is). */
function inline(text, ctx, depth, { links = true } = {}) {
  const out = [];
  const unclosed = {}; // marker -> the first opener of it that found no closer
  let plain = "";
  const push = (node) => {
    if (plain) out.push({ type: "text", text: plain });
    plain = "";
    out.push(node);
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    const rest = () => text.slice(i, i + 2048); // every construct below is shorter than this
    if (ch === "\\" && i + 1 < text.length && PUNCTUATION.test(text[i + 1])) {
      plain += text[i + 1];
      i += 2;
      continue;
    }
    if (ch === "`") {
      const span = codeSpan(text, i);
      if (span) {
        push({ type: "code", text: span.text });
        i = span.end;
      } else {
        const run = runLength(text, i, "`");
        plain += text.slice(i, i + run);
        i += run;
      }
      continue;
    }
    if (links && ch === "<") {
      const auto = AUTOLINK.exec(rest());
      const href = auto && safeHref(auto[1]);
      if (href) {
        push(linkNode(href, [{ type: "text", text: auto[1] }], ctx, true));
        i += auto[0].length;
        continue;
      }
    }
    if (links && ch === "[") {
      const link = bracketLink(text, i, ctx, depth);
      if (link) {
        push(link.node);
        i = link.end;
        continue;
      }
    }
    if (links && (ch === "h" || ch === "H") && (i === 0 || !WORD_CHAR.test(text[i - 1]))) {
      const bare = BARE_URL.exec(rest());
      const href = bare && safeHref(bare[0]);
      if (href) {
        push(linkNode(href, [{ type: "text", text: bare[0] }], ctx, true));
        i += bare[0].length;
        continue;
      }
    }
    if (ch === "@" && (i === 0 || !NAME_CHAR.test(text[i - 1]))) {
      const mention = mentionAt(rest(), ctx);
      if (mention) {
        push(mention);
        i += mention.text.length;
        continue;
      }
    }
    if (ch === ":" && ctx.emoji && (i === 0 || !WORD_CHAR.test(text[i - 1]))) {
      const match = CUSTOM_EMOJI.exec(text.slice(i, i + 35));
      const found = match && ctx.emoji.get(match[1]);
      if (found && typeof found.url === "string") {
        push({ type: "emoji", name: match[1], url: found.url });
        i += match[0].length;
        continue;
      }
    }
    if ((ch === "*" || ch === "_" || ch === "~") && depth < MAX_DEPTH) {
      const emphasis = emphasisAt(text, i, ctx, depth, links, unclosed);
      if (emphasis) {
        push(emphasis.node);
        i = emphasis.end;
        continue;
      }
      // Not an opener: the whole run of markers is text (so "***" is not tried three times).
      const run = runLength(text, i, ch);
      plain += text.slice(i, i + run);
      i += run;
      continue;
    }
    plain += ch;
    i += 1;
  }
  if (plain) out.push({ type: "text", text: plain });
  return out;
}

function runLength(text, i, ch) {
  let j = i;
  while (text[j] === ch) j += 1;
  return j - i;
}

/** A code span at `i` (a run of n backticks, text, the next run of exactly n), or null. */
function codeSpan(text, i) {
  const n = runLength(text, i, "`");
  let j = i + n;
  while (j < text.length) {
    const k = text.indexOf("`", j);
    if (k < 0) return null;
    const m = runLength(text, k, "`");
    if (m === n) {
      let body = text.slice(i + n, k);
      // One space on each side is padding (so that `` `x` `` can show a backtick).
      if (body.length > 2 && body.startsWith(" ") && body.endsWith(" ") && body.trim()) {
        body = body.slice(1, -1);
      }
      return body ? { text: body, end: k + m } : null;
    }
    j = k + m;
  }
  return null;
}

/** "[text](url)" at `i` with a safe url: {node, end}, or null (then "[" is text). */
function bracketLink(text, i, ctx, depth) {
  const close = text.indexOf("]", i + 1);
  if (close < 0 || close - i > 1000) return null;
  const label = text.slice(i + 1, close);
  if (!label.trim() || label.includes("[") || label.includes("\n")) return null;
  const target = LINK_TARGET.exec(text.slice(close + 1, close + 2049));
  const href = target && safeHref(target[1]);
  if (!href) return null;
  return {
    node: linkNode(href, inline(label, ctx, depth + 1, { links: false }), ctx, false),
    end: close + 1 + target[0].length,
  };
}

/**
 * A link node. A link to this very page at a room (`ctx.here`; webpush.js placeOfUrl) carries
 * its `place` (webpush.js addressFromHash); written as a bare URL (`raw`), it reads as where it
 * leads (`placeText`).
 */
function linkNode(href, children, ctx, raw) {
  const place = ctx.here ? placeOfUrl(href, ctx.here) : null;
  if (!place) return { type: "link", href, children };
  return { type: "link", href, place,
    children: raw ? [{ type: "text", text: placeText(place, ctx.me) }] : children };
}

/**
 * The words of a bare link to this page at `place`: the room's name ("#general", "bob" for a
 * conversation) for a room, "a message in #general" ("a message with bob") for a message, as
 * Slack's message links say where they go, so a reader knows it opens a message.
 */
export function placeText(place, me) {
  const where = nameLabel(place.room, me);
  if (place.msgId === null) return where;
  return `a message ${place.room.startsWith("@") ? "with" : "in"} ${where}`;
}

function mentionAt(rest, ctx) {
  const match = MENTION.exec(rest);
  if (!match) return null;
  // "ask @bob." names bob (or a user called "bob."): as the server tries both.
  const names = [match[1]];
  const stripped = match[1].replace(/[.-]+$/, "");
  if (stripped && stripped !== match[1]) names.push(stripped);
  const word = names.find((n) => Object.hasOwn(GROUP_TOKENS, n.toLowerCase()));
  if (word) {
    // A group's word names nobody (the server does not look it up as a name).
    if (ctx.mentions !== null && ctx.group === null) return null;
    return { type: "mention", name: word, text: `@${word}`, group: GROUP_TOKENS[word.toLowerCase()],
      me: ctx.mentions !== null && ctx.groupMe };
  }
  const team = ctx.userGroups && names.find((n) => ctx.userGroups.has(n.toLowerCase()));
  if (team) {
    const { title, me, unknown } = ctx.userGroups.get(team.toLowerCase());
    const node = { type: "mention", name: team, text: `@${team}`, userGroup: true, title, me };
    if (unknown) node.unknown = true; // (the groups not known yet: usergroups.js pillsFor)
    return node;
  }
  const name = ctx.mentions === null ? (stripped || null)
    : names.find((n) => ctx.mentions.includes(n.toLowerCase()));
  if (!name) return null;
  return { type: "mention", name, text: `@${name}`,
    me: ctx.me !== null && name.toLowerCase() === ctx.me };
}

/**
 * Emphasis opened at `i`: **strong**, *em*, _em_, ~~del~~. The closer is the first matching
 * marker after it (outside code spans) that can close; the text between is parsed again, one
 * level deeper. Returns {node, end} or null. `unclosed` remembers where a marker found no
 * closer: none can be found from further on either (so many lone markers cost one scan).
 */
function emphasisAt(text, i, ctx, depth, links, unclosed) {
  const ch = text[i];
  const run = runLength(text, i, ch);
  let marker;
  if (ch === "~") marker = run === 2 ? "~~" : null;
  else if (ch === "_") marker = run === 1 ? "_" : null;
  else marker = run === 2 ? "**" : run === 1 ? "*" : null;
  if (!marker) return null;
  const after = text[i + marker.length];
  if (after === undefined || /\s/.test(after)) return null;
  if (ch === "_" && i > 0 && WORD_CHAR.test(text[i - 1])) return null; // snake_case
  if (unclosed[marker] !== undefined && unclosed[marker] < i) return null;
  let j = i + marker.length;
  while (j < text.length) {
    const c = text[j];
    if (c === "\\") {
      j += 2;
      continue;
    }
    if (c === "`") {
      const span = codeSpan(text, j);
      j = span ? span.end : j + runLength(text, j, "`");
      continue;
    }
    if (c !== ch) {
      j += 1;
      continue;
    }
    const closing = runLength(text, j, ch);
    if (closing === marker.length && !/\s/.test(text[j - 1]) && j > i + marker.length
        && !(ch === "_" && j + 1 < text.length && WORD_CHAR.test(text[j + 1]))) {
      const type = ch === "~" ? "del" : marker === "**" ? "strong" : "em";
      return {
        node: { type, children: inline(text.slice(i + marker.length, j), ctx, depth + 1,
          { links }) },
        end: j + marker.length,
      };
    }
    j += closing;
  }
  unclosed[marker] = i;
  return null;
}

// -- DOM ---------------------------------------------------------------------------------------

const TAGS = { strong: "strong", em: "em", del: "del", quote: "blockquote", para: "p" };

function renderNode(node, doc) {
  const el = (tag, className, children = []) => {
    const element = doc.createElement(tag);
    if (className) element.setAttribute("class", className);
    for (const child of children) element.append(renderNode(child, doc));
    return element;
  };
  switch (node.type) {
    case "text":
      return doc.createTextNode(node.text);
    case "code": {
      const code = el("code", "md-code");
      code.append(doc.createTextNode(node.text));
      return code;
    }
    case "code_block": {
      const pre = el("pre", "md-pre");
      const code = doc.createElement("code");
      code.append(doc.createTextNode(node.text));
      pre.append(code);
      return pre;
    }
    case "link": {
      if (node.place) {
        // This very page: its fragment alone, so that it opens in place (install.js follows
        // the address's change), not in a new tab.
        const { room, msgId } = node.place;
        const a = el("a", "md-link md-place", node.children);
        a.setAttribute("href", msgId === null ? roomHash(room)
          : messageHash(room, msgId, node.place));
        a.setAttribute("title", node.href);
        return a;
      }
      const a = el("a", "md-link", node.children);
      a.setAttribute("href", node.href);
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer nofollow");
      return a;
    }
    case "mention": {
      const span = el("span", `mention${node.group ? " group" : ""}${node.userGroup
        ? " usergroup" : ""}${node.unknown ? " unknown" : ""}${node.me ? " me" : ""}`);
      if (node.userGroup && node.title) span.setAttribute("title", node.title);
      span.append(doc.createTextNode(node.text));
      return span;
    }
    case "keyword": {
      // One of the reader's notification keywords (keywords.js), as its own words.
      const mark = el("mark", "keyword");
      mark.append(doc.createTextNode(node.text));
      return mark;
    }
    case "emoji":
      return customEmojiImage(node, doc);
    case "list": {
      const list = el(node.ordered ? "ol" : "ul", "md-list");
      if (node.ordered && node.start !== 1) list.setAttribute("start", String(node.start));
      for (const item of node.items) list.append(el("li", null, item));
      return list;
    }
    case "strong":
    case "em":
    case "del":
    case "para":
    case "quote":
      return el(TAGS[node.type], `md-${node.type}`, node.children);
    default:
      return doc.createTextNode("");
  }
}

/** A custom emoji's picture, `:name:` its alt text and title (so that copying keeps it). */
export function customEmojiImage({ name, url }, doc = globalThis.document, className = "custom-emoji") {
  const img = doc.createElement("img");
  img.setAttribute("class", className);
  img.setAttribute("src", url);
  img.setAttribute("alt", `:${name}:`);
  img.setAttribute("title", `:${name}:`);
  img.setAttribute("draggable", "false");
  return img;
}
