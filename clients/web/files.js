// Files as the page shows them: sizes as people read them, the kind of a file (for its icon),
// the box an image preview takes, and the name of a pasted image. Pure: no DOM, no I/O, no
// clock (a time is an argument).
//
// A file object is the server's (docs/protocol.md, "Files"): {id, name, size, content_type,
// url, thumbnail_url, width, height}; thumbnail_url, width and height are null for anything that
// is not an image the server could decode. Its name is user data: it only ever goes into text
// nodes and attributes.

/** The most files one message carries (docs/protocol.md, `send`). */
export const MAX_FILES = 10;

/** The longest file name the server gives (docs/protocol.md, "Files"). */
export const MAX_NAME = 200;

const optionalText = (value) => (typeof value === "string" ? value : null);
// A url of this server's (a path): a kept url is fetched with the Bearer token.
const ownPath = (value) => (typeof value === "string" && /^\/(?![/\\])/.test(value)
  ? value : null);
const optionalPixels = (value) => (Number.isSafeInteger(value) && value > 0 ? value : null);

/**
 * A file object as kept (in localStorage, say) made safe to use again: its fields of the
 * server's shape, checked, and nothing else (urls only as paths on this server); null when it
 * is no file object (no positive integer id, no name).
 */
export function cleanFile(value) {
  if (!value || typeof value !== "object" || Array.isArray(value)) return null;
  const { id, name, size } = value;
  if (!Number.isSafeInteger(id) || id <= 0 || typeof name !== "string" || name === "") {
    return null;
  }
  return Object.freeze({
    id,
    name: name.slice(0, MAX_NAME),
    size: Number.isSafeInteger(size) && size >= 0 ? size : 0,
    content_type: optionalText(value.content_type) || "application/octet-stream",
    url: ownPath(value.url),
    thumbnail_url: ownPath(value.thumbnail_url),
    width: optionalPixels(value.width),
    height: optionalPixels(value.height),
  });
}

const UNITS = ["KB", "MB", "GB", "TB"];
const STEP = 1024;

/**
 * A size as people read it: "0 bytes", "1 byte", "532 bytes", "1.5 KB", "24 KB", "25 MB"
 * (1 KB = 1024 bytes, as file managers on most systems and the server's limits count). One
 * decimal under 10 units, none from 10 on; "" for what is not a size.
 */
export function humanSize(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return "";
  if (bytes < STEP) return bytes === 1 ? "1 byte" : `${Math.round(bytes)} bytes`;
  let value = bytes / STEP;
  let unit = 0;
  for (;;) {
    const shown = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
    if (shown < STEP || unit === UNITS.length - 1) {
      return `${shown < 10 ? shown.toFixed(1) : String(shown)} ${UNITS[unit]}`;
    }
    value /= STEP;
    unit += 1;
  }
}

/** Sizes in a server's message ("… limit (26214400 bytes)") as people read them. */
export function humanSizesIn(text) {
  return String(text).replace(/\b(\d{4,}) bytes\b/g, (_, digits) => humanSize(Number(digits)));
}

const KINDS = [
  ["image", (type) => type.startsWith("image/")],
  ["video", (type) => type.startsWith("video/")],
  ["audio", (type) => type.startsWith("audio/")],
  ["pdf", (type, ext) => type === "application/pdf" || ext === "pdf"],
  ["archive", (type, ext) => /(zip|tar|gzip|x-7z|rar|bzip|xz|zstd)/.test(type)
    || ["zip", "tar", "gz", "tgz", "7z", "rar", "bz2", "xz", "zst"].includes(ext)],
  ["sheet", (type, ext) => /(spreadsheet|excel|csv)/.test(type)
    || ["csv", "xls", "xlsx", "ods", "tsv"].includes(ext)],
  ["slides", (type, ext) => /presentation|powerpoint/.test(type)
    || ["ppt", "pptx", "odp", "key"].includes(ext)],
  ["doc", (type, ext) => /(msword|wordprocessing|opendocument\.text|rtf)/.test(type)
    || ["doc", "docx", "odt", "rtf", "pages"].includes(ext)],
  ["code", (type, ext) => /(json|javascript|xml|x-sh|x-python|yaml|toml)/.test(type)
    || ["js", "mjs", "ts", "py", "rb", "go", "rs", "c", "h", "cpp", "java", "sh", "json",
      "yaml", "yml", "toml", "xml", "html", "css", "sql", "diff", "patch"].includes(ext)],
  ["text", (type, ext) => type.startsWith("text/") || ["txt", "md", "log"].includes(ext)],
];

/** The extension of a file name, lower case, without its dot ("" when none). */
export function extensionOf(name) {
  const match = /\.([A-Za-z0-9]{1,8})$/.exec(String(name || ""));
  return match ? match[1].toLowerCase() : "";
}

/**
 * What kind of file this is, for its icon: "image", "video", "audio", "pdf", "archive",
 * "sheet", "slides", "doc", "code", "text" or "file".
 */
export function fileKind(file) {
  const type = String((file && file.content_type) || "").toLowerCase();
  const ext = extensionOf(file && file.name);
  for (const [kind, matches] of KINDS) if (matches(type, ext)) return kind;
  return "file";
}

/** Whether the server made a preview of this file (an image it could decode). */
export function isPreviewable(file) {
  return Boolean(file) && typeof file.thumbnail_url === "string" && file.thumbnail_url !== ""
    && Number.isSafeInteger(file.width) && file.width > 0
    && Number.isSafeInteger(file.height) && file.height > 0;
}

/**
 * The box (whole CSS pixels) that shows a `width` × `height` image within `maxWidth` ×
 * `maxHeight`: the same shape, never larger than the image, at least 1 × 1.
 */
export function fitBox(width, height, maxWidth, maxHeight) {
  if (!(width > 0 && height > 0)) return { width: maxWidth, height: maxHeight };
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return {
    width: Math.max(1, Math.round(width * scale)),
    height: Math.max(1, Math.round(height * scale)),
  };
}

const IMAGE_EXTENSIONS = { "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif",
  "image/webp": "webp" };

/**
 * The name to upload a pasted file under. A screenshot on the clipboard comes as "image.png"
 * (or with no name): it gets one that says what and when, "Pasted image 2025-03-01 14.05.33.png",
 * from the local time `date`; a copied file keeps its own.
 */
export function pastedName(name, type, date) {
  if (name && !/^image\.(png|jpe?g|gif|webp)$/i.test(name)) return name;
  const two = (n) => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}`;
  const time = `${two(date.getHours())}.${two(date.getMinutes())}.${two(date.getSeconds())}`;
  const ext = IMAGE_EXTENSIONS[type] || extensionOf(name) || "png";
  return `Pasted image ${day} ${time}.${ext}`;
}

/**
 * The files a paste into a message box attaches, named (`pastedName`), with the event's
 * default prevented; null when the paste is text. Text copied from a document may come with
 * a picture of it: the text is what was meant.
 */
export function pastedFiles(event) {
  const data = event.clipboardData;
  if (!data || !data.files || !data.files.length) return null;
  if (data.types.includes("text/plain") && data.getData("text/plain")) return null;
  event.preventDefault();
  const now = new Date();
  return [...data.files].map((file) => {
    const name = pastedName(file.name, file.type, now);
    return name === file.name ? file : new File([file], name, { type: file.type });
  });
}

/** A file's one-line description for a label: "report.pdf, 1.2 MB". */
export function describe(file) {
  const size = humanSize(file.size);
  return size ? `${file.name}, ${size}` : String(file.name);
}
