// The search panel: a search box (opened from the sidebar's "Search messages" or with "/"), a
// short help on the query syntax, the results newest first (room, sender, time, and the
// matched words highlighted from the result's snippet segments, as text: never markup; the
// person's notification keywords marked as the message view marks them), and "More
// results"; a forward says whose message it forwards. A result opens its room at the
// message. Renders from the state (search.js).
//
// On a wide screen the panel is a column of its own, in the place of the member list, and stays
// open while results are opened beside it; on narrower screens it covers the conversation and
// closes when a result is opened. Escape closes it and puts the focus back where it was.

import { placeLabel } from "./alerts.js";
import { $, formatDay, formatFull, formatTime, h } from "./dom.js";
import { forwardedOf } from "./forwarding.js";
import { displayName } from "./profiles.js";
import { hits } from "./keywords.js";
import { markKeywords, segments, statusText, SYNTAX } from "./search.js";
import { sameUser } from "./store.js";
import { SidePanel } from "./view-panel.js";

export class SearchView extends SidePanel {
  constructor() {
    super("search", "searching");
    this.shownSearches = -1; // the search whose results the list holds
    this.shownCount = 0; // how many of its results are drawn
    this.shownKeywords = null; // the notification keywords they are drawn with (the state's)
    $("search-open").addEventListener("click", () => this.open());
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.on.search($("search-input").value);
    });
    $("search-more").addEventListener("click", () => this.on.more());
    $("search-retry").addEventListener("click", () => this.on.retry());
    document.addEventListener("keydown", (event) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
      if ($("app").hidden || $("dialog").open || $("viewer").open || typing(event.target)) return;
      event.preventDefault();
      this.open();
    });
    const help = $("search-help-list");
    help.replaceChildren(...SYNTAX.flatMap(([example, meaning]) => [
      h("dt", {}, h("code", {}, example)), h("dd", {}, meaning)]));
  }

  // Handlers (bind): search(query), more(), retry(), openResult(result), opened(shown).

  /** The focus goes in the box, its text selected, to type a new one. */
  focusFirst() {
    $("search-input").focus();
    $("search-input").select();
  }

  render(state) {
    const { search } = state;
    const list = $("search-results");
    if (search.searches !== this.shownSearches) {
      this.shownSearches = search.searches;
      this.shownCount = 0;
      list.replaceChildren();
      $("search-scroll").scrollTop = 0;
    }
    if (state.keywords.list !== this.shownKeywords) {
      // Other keywords mark other words: the results are drawn again, where they are.
      this.shownKeywords = state.keywords.list;
      this.shownCount = 0;
      list.replaceChildren();
    }
    for (const result of search.results.slice(this.shownCount)) {
      list.append(this.resultItem(result, state));
    }
    this.shownCount = search.results.length;
    $("search-status").textContent = statusText(search);
    $("search-status").classList.toggle("failed", search.status === "failed");
    const more = $("search-more");
    more.hidden = !search.more && search.status !== "paging";
    more.disabled = search.status === "paging";
    more.textContent = search.status === "paging" ? "Loading…" : "More results";
    $("search-retry").hidden = search.status !== "failed";
  }

  resultItem(result, state) {
    const where = placeLabel(state, result.room);
    const forwarded = forwardedOf(result); // (found by its comment or by what it forwards)
    // The person's notification keywords its text matches: marked as in the message view.
    const keywords = hits(state.keywords, result, sameUser(result.from, state.me));
    const text = h("span", { class: "result-text" }, markKeywords(segments(result), keywords)
      .map((part) => (part.keyword ? h("mark", { class: part.hit ? "keyword hit" : "keyword" },
        part.text) : part.hit ? h("mark", {}, part.text) : part.text)));
    return h("li", {},
      h("button", {
        type: "button", class: `result${keywords.length ? " mentions-me" : ""}`,
        dataset: { room: result.room, msgId: String(result.msg_id) },
        onclick: () => this.on.openResult(result),
      },
      h("span", { class: "result-head" },
        h("span", { class: "result-room" }, where),
        h("strong", { class: "result-from" }, displayName(state.profiles, result.from)),
        Number.isFinite(result.ts) ? h("time", { title: formatFull(result.ts) },
          `${formatDay(result.ts)} ${formatTime(result.ts)}`) : null),
      forwarded ? h("span", { class: "search-forwarded" }, "↪ Forwarded from ",
        displayName(state.profiles, forwarded.from)) : null,
      text));
  }
}

function typing(target) {
  return Boolean(target) && (target.isContentEditable
    || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}
