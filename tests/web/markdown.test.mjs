// The Markdown subset of messages: what each marker makes, that hostile text stays text, and
// that the DOM step uses nothing but createElement, createTextNode and setAttribute.

import assert from "node:assert/strict";
import { test } from "node:test";

import { parse, plainText, render, safeHref } from "../../clients/web/markdown.js";

/** The inline nodes of a one-paragraph text. */
const inlines = (text, options) => {
  const tree = parse(text, options);
  assert.equal(tree.children.length, 1, JSON.stringify(tree));
  assert.equal(tree.children[0].type, "para");
  return tree.children[0].children;
};
const t = (text) => ({ type: "text", text });

/** Every character of the input, in order, as the tree shows it (markers aside). */
function shownText(node) {
  if (node.type === "text" || node.type === "code" || node.type === "code_block") return node.text;
  if (node.type === "mention") return node.text;
  if (node.type === "list") {
    return node.items.map((item) => item.map(shownText).join("")).join("\n");
  }
  return (node.children || []).map(shownText).join(node.type === "root" || node.type === "quote"
    ? "\n" : "");
}

test("code spans and fenced blocks keep their text as it is", () => {
  assert.deepEqual(inlines("run `rm -rf *` now"),
    [t("run "), { type: "code", text: "rm -rf *" }, t(" now")]);
  assert.deepEqual(inlines("`` a ` b ``"), [{ type: "code", text: "a ` b" }]);
  assert.deepEqual(inlines("an ` alone"), [t("an ` alone")]);
  const tree = parse("look:\n```js\nconst x = **1**;\n<b>@ann</b>\n```\nafter");
  assert.deepEqual(tree.children, [
    { type: "para", children: [t("look:")] },
    { type: "code_block", text: "const x = **1**;\n<b>@ann</b>", lang: "js" },
    { type: "para", children: [t("after")] },
  ]);
  // Not closed: the block runs to the end.
  assert.deepEqual(parse("~~~\nopen").children, [{ type: "code_block", text: "open", lang: "" }]);
  // ```x``` on one line is a code span, not a fence.
  assert.deepEqual(inlines("```x```"), [{ type: "code", text: "x" }]);
});

test("bold, italics, strike, nested, and markers that do not pair stay text", () => {
  assert.deepEqual(inlines("**bold** *it* _it_ ~~gone~~"), [
    { type: "strong", children: [t("bold")] }, t(" "), { type: "em", children: [t("it")] }, t(" "),
    { type: "em", children: [t("it")] }, t(" "), { type: "del", children: [t("gone")] }]);
  assert.deepEqual(inlines("*a **b** c*"), [{ type: "em", children: [t("a "),
    { type: "strong", children: [t("b")] }, t(" c")] }]);
  assert.deepEqual(inlines("2 * 3 * 4"), [t("2 * 3 * 4")]);
  assert.deepEqual(inlines("snake_case_name and file_"), [t("snake_case_name and file_")]);
  assert.deepEqual(inlines("**open and *half"), [t("**open and *half")]);
  assert.deepEqual(inlines("\\*not\\*"), [t("*not*")]);
  assert.deepEqual(inlines("`**` **x**"), [{ type: "code", text: "**" }, t(" "),
    { type: "strong", children: [t("x")] }]);
  assert.deepEqual(inlines("~single~ ~~~three~~~"), [t("~single~ ~~~three~~~")]);
});

test("quotes and lists", () => {
  const tree = parse(
    "> quoted **text**\n> > deeper\nnot\n- one\n- two\n  more\n1. first\n2. second");
  assert.deepEqual(tree.children, [
    { type: "quote", children: [
      { type: "para", children: [t("quoted "), { type: "strong", children: [t("text")] }] },
      { type: "quote", children: [{ type: "para", children: [t("deeper")] }] }] },
    { type: "para", children: [t("not")] },
    { type: "list", ordered: false, start: 1, items: [[t("one")], [t("two\nmore")]] },
    { type: "list", ordered: true, start: 1, items: [[t("first")], [t("second")]] },
  ]);
  assert.equal(parse("3. three").children[0].start, 3);
  assert.deepEqual(inlines("-not a list"), [t("-not a list")]);
});

test("links: autolinks, bare URLs, [text](url); other schemes stay text", () => {
  assert.deepEqual(inlines("see <https://example.com/a?b=1> and https://x.org/p."), [
    t("see "), { type: "link", href: "https://example.com/a?b=1",
      children: [t("https://example.com/a?b=1")] },
    t(" and "), { type: "link", href: "https://x.org/p", children: [t("https://x.org/p")] },
    t(".")]);
  assert.deepEqual(inlines("[the *docs*](https://example.com/d_(x)) ok"), [
    { type: "link", href: "https://example.com/d_(x)", children: [t("the "),
      { type: "em", children: [t("docs")] }] }, t(" ok")]);
  assert.deepEqual(inlines("[mail me](mailto:ann@example.com)"), [
    { type: "link", href: "mailto:ann@example.com", children: [t("mail me")] }]);
  assert.deepEqual(inlines("**https://example.com**"), [{ type: "strong", children: [
    { type: "link", href: "https://example.com/", children: [t("https://example.com")] }] }]);
  for (const hostile of [
    "[x](javascript:alert(1))", "<javascript:alert(1)>", "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)", "[x](vbscript:msgbox)", "<data:text/html,x>",
    "[x](//evil.example)", "[x](java\u0000script:alert(1))", "javascript:alert(1)",
    "[x]( javascript:alert(1))", "<mailto:x@y javascript:alert(1)>", "[x](file:///etc/passwd)",
  ]) {
    const nodes = parse(hostile).children.flatMap((b) => b.children || []);
    assert.ok(!JSON.stringify(nodes).includes('"link"'), `${hostile} made a link`);
    assert.equal(shownText(parse(hostile)), hostile);
  }
  assert.equal(safeHref("https://a.example/"), "https://a.example/");
  assert.equal(safeHref("java\tscript:alert(1)"), null);
  assert.equal(safeHref("http://[bad"), null);
});

test("mentions: the names the server found, mine marked, never in code or e-mail", () => {
  const options = { mentions: ["Bob", "ann"], me: "ANN" };
  assert.deepEqual(inlines("hi @bob and @ann, not @carol", options), [
    t("hi "), { type: "mention", name: "bob", text: "@bob", me: false }, t(" and "),
    { type: "mention", name: "ann", text: "@ann", me: true }, t(", not @carol")]);
  assert.deepEqual(inlines("`@ann` mail ann@bob.com", options),
    [{ type: "code", text: "@ann" }, t(" mail ann@bob.com")]);
  assert.deepEqual(inlines("ask @bob.", options), [t("ask "),
    { type: "mention", name: "bob", text: "@bob", me: false }, t(".")]);
  // Not known yet (a message on its way): what looks like a mention is one.
  assert.deepEqual(inlines("hey @zed!"), [t("hey "),
    { type: "mention", name: "zed", text: "@zed", me: false }, t("!")]);
  assert.deepEqual(parse("```\n@ann\n```", options).children,
    [{ type: "code_block", text: "@ann", lang: "" }]);
});

test("hostile input: HTML is text, characters are kept, and 4000 characters end quickly", () => {
  for (const text of [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<b>bold?</b> &amp; &lt;",
    "*".repeat(4000), "_a".repeat(2000), "**a".repeat(1333), "*a ".repeat(1333),
    "[".repeat(4000), "[a](".repeat(1000), "`".repeat(3999), "> ".repeat(2000),
    ">".repeat(4000), "~~".repeat(2000), "a_".repeat(2000), "*a **b ".repeat(571),
    "https://".repeat(500), "<https://".repeat(444), "@".repeat(4000), "\\".repeat(4000),
    `${"- ".repeat(1)}${"x".repeat(3998)}`, "\n".repeat(4000), "```\n".repeat(1000),
    Array.from({ length: 4000 }, (_, i) => "*_~`[]()<>@\\\n>-1. "[i % 18]).join(""),
  ]) {
    const tree = parse(text, { mentions: [], me: "ann" });
    const nodes = JSON.stringify(tree);
    assert.ok(!nodes.includes('"link"') || text.includes("https://"), text.slice(0, 20));
    // Nothing is lost but the markers themselves: no character of an HTML tag disappears.
    if (text.includes("<")) assert.ok(shownText(tree).includes("<"), text.slice(0, 20));
  }
  assert.equal(shownText(parse("<script>alert(1)</script>")), "<script>alert(1)</script>");
  assert.equal(shownText(parse("*".repeat(4000))), "*".repeat(4000));
  // Deep nesting stops at a fixed depth.
  const deep = parse(`${"> ".repeat(50)}deep`);
  let depth = 0;
  for (let node = deep.children[0]; node && node.type === "quote"; node = node.children[0]) {
    depth += 1;
  }
  assert.ok(depth <= 8, `quotes nested ${depth} deep`);
});

// -- the DOM step ------------------------------------------------------------------------------

/** A document that records what is made: elements with tag, attributes and children. */
function fakeDocument() {
  const calls = [];
  class Element {
    constructor(tag) { this.tag = tag; this.attributes = {}; this.children = []; }
    setAttribute(name, value) { this.attributes[name] = value; }
    append(child) { this.children.push(child); }
    get textContent() { return this.children.map((c) => c.textContent).join(""); }
  }
  return {
    calls,
    createElement(tag) { calls.push(`element ${tag}`); return new Element(tag); },
    createTextNode(text) { calls.push("text"); return { text, textContent: text }; },
  };
}

test("the DOM step makes elements and text nodes only; hrefs are the safe ones", () => {
  const doc = fakeDocument();
  const nodes = render(parse("**hi** <img src=x onerror=alert(1)> [a](https://e.x/) @ann",
    { mentions: ["ann"], me: "ann" }), doc);
  assert.deepEqual(nodes.map((n) => n.tag || "#text"),
    ["strong", "#text", "a", "#text", "span"]);
  assert.equal(nodes[1].text, " <img src=x onerror=alert(1)> ");
  assert.deepEqual(nodes[2].attributes, { class: "md-link", href: "https://e.x/",
    target: "_blank", rel: "noopener noreferrer nofollow" });
  assert.deepEqual(nodes[4].attributes, { class: "mention me" });
  assert.ok(doc.calls.every((c) => c === "text" || c.startsWith("element ")));
  // Several blocks: each in its element; one paragraph alone needs none.
  const blocks = render(parse("para\n> q\n- a\n```\ncode\n```"), fakeDocument());
  assert.deepEqual(blocks.map((n) => n.tag), ["p", "blockquote", "ul", "pre"]);
  assert.equal(blocks[3].textContent, "code");
  const ordered = render(parse("7. seven"), fakeDocument());
  assert.deepEqual(ordered[0].attributes, { class: "md-list", start: "7" });
});

test("an excerpt reads the words without the markers", () => {
  assert.equal(plainText("**release notes** are _up_:\n> `x` [docs](https://e.x/)\n- a\n- b"),
    "release notes are up: x docs a b");
  assert.equal(plainText("<b>kept</b> *"), "<b>kept</b> *");
});

// -- links to this very page ------------------------------------------------------------------

const HERE = "https://chat.example/";

test("a link to this page at a message reads as a message of its room, with its place", () => {
  const url = "https://chat.example/#room=general&msg=42";
  const place = { room: "general", msgId: 42, seq: null, thread: null };
  assert.deepEqual(inlines(`see ${url} now`, { here: HERE }),
    [t("see "), { type: "link", href: url, place, children: [t("a message in #general")] },
      t(" now")]);
  assert.deepEqual(inlines(`<${url}>`, { here: HERE }),
    [{ type: "link", href: url, place, children: [t("a message in #general")] }]);
  const room = "https://chat.example/#room=general";
  assert.deepEqual(inlines(room, { here: HERE }), [{ type: "link", href: room,
    place: { room: "general", msgId: null, seq: null, thread: null },
    children: [t("#general")] }], "a room's link: the room's name");
  const dm = "https://chat.example/#room=%40ann%3Abob&msg=7&seq=3";
  assert.deepEqual(inlines(dm, { here: HERE, me: "ann" })[0].children,
    [t("a message with bob")], "a conversation's message");
  assert.deepEqual(inlines(`[the plan](${url})`, { here: HERE }),
    [{ type: "link", href: url, place, children: [t("the plan")] }], "its own text kept");
  assert.deepEqual(inlines("https://chat.example/#room=%40ann%3Abob", { here: HERE, me: "ann" }),
    [{ type: "link", href: "https://chat.example/#room=%40ann%3Abob",
      place: { room: "@ann:bob", msgId: null, seq: null, thread: null }, children: [t("bob")] }],
    "a conversation reads as its other one");
});

test("other links stay links to open elsewhere, whatever the page", () => {
  for (const url of ["https://chat.example/#top", "https://chat.example/",
    "https://evil.example/#room=general", "https://chat.example/x#room=general",
    "http://chat.example/#room=general"]) {
    assert.deepEqual(inlines(url, { here: HERE }), [{ type: "link", href: url,
      children: [t(url)] }], url);
  }
  const url = "https://chat.example/#room=general";
  assert.deepEqual(inlines(url), [{ type: "link", href: url, children: [t(url)] }],
    "without `here`, no place");
});

test("a link to this page is drawn with its fragment alone and no new tab", () => {
  const nodes = render(parse("https://chat.example/#room=a%20b&seq=3&msg=7&thread=2 and "
    + "https://chat.example/#room=dev", { here: HERE }), fakeDocument());
  assert.deepEqual(nodes[0].attributes, { class: "md-link md-place",
    href: "#room=a%20b&msg=7&seq=3&thread=2",
    title: "https://chat.example/#room=a%20b&seq=3&msg=7&thread=2" });
  assert.equal(nodes[0].textContent, "a message in #a b");
  assert.deepEqual(nodes[2].attributes, { class: "md-link md-place", href: "#room=dev",
    title: "https://chat.example/#room=dev" });
});
