// Files as the page shows them (files.js): human sizes, kinds, preview boxes, pasted names.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  describe, extensionOf, fileKind, fitBox, humanSize, humanSizesIn, isPreviewable, pastedName,
} from "../../clients/web/files.js";

test("sizes read as people read them: bytes, then one decimal under 10 units", () => {
  assert.equal(humanSize(0), "0 bytes");
  assert.equal(humanSize(1), "1 byte");
  assert.equal(humanSize(1023), "1023 bytes");
  assert.equal(humanSize(1024), "1.0 KB");
  assert.equal(humanSize(1536), "1.5 KB");
  assert.equal(humanSize(10 * 1024), "10 KB");
  assert.equal(humanSize(48213), "47 KB");
  assert.equal(humanSize(25 * 1024 * 1024), "25 MB");
  assert.equal(humanSize(3 * 1024 ** 3), "3.0 GB");
  assert.equal(humanSize(5 * 1024 ** 5), "5120 TB");
});

test("a size just under the next unit rounds up into it, never to 1024 of the smaller", () => {
  assert.equal(humanSize(1024 * 1024 - 1), "1.0 MB");
  assert.equal(humanSize(1024 * 1023.7), "1.0 MB");
  assert.equal(humanSize(1024 * 9.96), "10 KB");
});

test("what is not a size is shown as nothing", () => {
  for (const value of [-1, NaN, Infinity, "12", null, undefined]) {
    assert.equal(humanSize(value), "");
  }
});

test("byte counts in a server's message become sizes; small numbers stay", () => {
  assert.equal(humanSizesIn("the file is over the size limit (26214400 bytes)"),
    "the file is over the size limit (25 MB)");
  assert.equal(humanSizesIn("over 512 bytes"), "over 512 bytes");
});

test("a file's kind comes from its type, else from its extension", () => {
  const kind = (name, type = "application/octet-stream") => fileKind({ name, content_type: type });
  assert.equal(kind("a.png", "image/png"), "image");
  assert.equal(kind("report.pdf"), "pdf");
  assert.equal(kind("x", "application/pdf"), "pdf");
  assert.equal(kind("logs.tar.gz"), "archive");
  assert.equal(kind("data.csv", "text/csv"), "sheet");
  assert.equal(kind("deck.pptx"), "slides");
  assert.equal(kind("letter.docx"), "doc");
  assert.equal(kind("main.py"), "code");
  assert.equal(kind("notes.txt", "text/plain"), "text");
  assert.equal(kind("song.mp3", "audio/mpeg"), "audio");
  assert.equal(kind("blob"), "file");
  assert.equal(fileKind(null), "file");
  assert.equal(extensionOf("a.b.TXT"), "txt");
  assert.equal(extensionOf("README"), "");
});

test("only a file with a thumbnail and its size is drawn as a preview", () => {
  const image = { id: 1, name: "a.png", thumbnail_url: "/api/thumbnails/1", width: 10, height: 5 };
  assert.equal(isPreviewable(image), true);
  assert.equal(isPreviewable({ ...image, thumbnail_url: null }), false);
  assert.equal(isPreviewable({ ...image, width: null }), false);
  assert.equal(isPreviewable({ ...image, height: 0 }), false);
  assert.equal(isPreviewable(undefined), false);
});

test("a preview's box keeps the image's shape inside the limits and never enlarges it", () => {
  assert.deepEqual(fitBox(3000, 2000, 360, 300), { width: 360, height: 240 });
  assert.deepEqual(fitBox(1000, 4000, 360, 300), { width: 75, height: 300 });
  assert.deepEqual(fitBox(100, 50, 360, 300), { width: 100, height: 50 });
  assert.deepEqual(fitBox(30000, 1, 360, 300), { width: 360, height: 1 });
  assert.deepEqual(fitBox(null, 10, 200, 100), { width: 200, height: 100 });
});

test("a pasted screenshot gets a name that says when; a copied file keeps its own", () => {
  const when = new Date(2025, 2, 1, 14, 5, 33);
  assert.equal(pastedName("image.png", "image/png", when), "Pasted image 2025-03-01 14.05.33.png");
  assert.equal(pastedName("", "image/jpeg", when), "Pasted image 2025-03-01 14.05.33.jpg");
  assert.equal(pastedName("holiday.jpg", "image/jpeg", when), "holiday.jpg");
});

test("a file's description names it and says its size", () => {
  assert.equal(describe({ name: "a.pdf", size: 2048 }), "a.pdf, 2.0 KB");
  assert.equal(describe({ name: "a.pdf" }), "a.pdf");
});
