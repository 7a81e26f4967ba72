// Which messages of the list the person has seen, for the read marker (readmarks.js). A message
// is seen, while the tab is visible, when most of it is on screen or when its bottom edge is:
// a message taller than the view is seen once it was read (or scrolled) to its end. A message
// that a jump scrolled over is not seen, even if its top showed before the jump.
//
// An IntersectionObserver on the scrolling list keeps the set of messages on screen now; their
// geometry is checked when that set changes and once a frame while the list scrolls, so
// scrolling past a message, however fast a wheel turns, shows its bottom edge in some frame.

const SEEN_RATIO = 0.6; // this much of a message on screen counts as seen

export class Sightings {
  /**
   * `scroller`: the element that scrolls the list; `report(room, seqs)` is called with the
   * seqs of the messages of a room newly seen (each node says its own room and seq in its
   * data-room and data-seq attributes).
   */
  constructor(scroller, report) {
    this.scroller = scroller;
    this.report = report;
    this.onScreen = new Set(); // observed nodes that intersect the list's box now
    this.reported = new WeakSet();
    this.frame = null;
    this.observer = new IntersectionObserver((entries) => this.changed(entries),
      { root: scroller, threshold: [0, SEEN_RATIO, 1] });
    scroller.addEventListener("scroll", () => {
      if (this.frame === null) {
        this.frame = requestAnimationFrame(() => {
          this.frame = null;
          this.check();
        });
      }
    }, { passive: true });
  }

  observe(node) {
    this.observer.observe(node);
  }

  unobserve(node) {
    this.observer.unobserve(node);
    this.onScreen.delete(node);
  }

  changed(entries) {
    for (const entry of entries) {
      if (entry.isIntersecting) this.onScreen.add(entry.target);
      else this.onScreen.delete(entry.target);
    }
    this.check();
  }

  /** Report every message on screen again, as if none had been seen yet (a room marked
   * unread that is read again: what was seen while it was kept unread did not count). */
  again() {
    this.reported = new WeakSet();
    this.check();
  }

  /** Report the messages on screen now that are seen and were not reported yet. */
  check() {
    if (document.visibilityState !== "visible") return;
    const view = this.scroller.getBoundingClientRect();
    const seen = [];
    for (const node of this.onScreen) {
      if (this.reported.has(node) || !node.isConnected) continue;
      const box = node.getBoundingClientRect();
      const shown = Math.min(box.bottom, view.bottom) - Math.max(box.top, view.top);
      const bottomShown = box.bottom <= view.bottom + 1 && box.bottom > view.top;
      if ((box.height > 0 && shown >= SEEN_RATIO * box.height) || bottomShown) seen.push(node);
    }
    const byRoom = new Map();
    for (const node of seen) {
      this.reported.add(node);
      const { room, seq } = node.dataset;
      if (!room || !seq) continue;
      if (!byRoom.has(room)) byRoom.set(room, []);
      byRoom.get(room).push(Number(seq));
    }
    for (const [room, seqs] of byRoom) this.report(room, seqs);
  }
}
