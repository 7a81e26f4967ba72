// Whether the person is using this page, for the server's `away` (docs/protocol.md, `idle`):
// idle after IDLE_AFTER_MS without input (a key, the pointer, a touch, the focus) or once the
// page has been hidden that long, in use again at the next input or when shown. A page opened
// hidden (a background tab) is idle from the start, and its hello says so. Pure: the
// controller keeps the watch, stamps `lastInput` at each input (nothing more per event), and
// runs one timer, for the moment `check` says to look again.

export const IDLE_AFTER_MS = 5 * 60 * 1000;

/** A new watch, at `now`; `hidden`: the page opened in a background tab (idle at once). */
export function created(now, hidden) {
  return { lastInput: hidden ? -Infinity : now, hiddenSince: hidden ? -Infinity : null,
    idle: Boolean(hidden) };
}

/** The page was hidden or shown at `now`; shown counts as input. */
export function shown(watch, visible, now) {
  if (visible) return { ...watch, hiddenSince: null, lastInput: Math.max(watch.lastInput, now) };
  return { ...watch, hiddenSince: watch.hiddenSince ?? now };
}

/** When (ms) the page is idle, by its last input and how long it has been hidden. */
export function idleAt(watch, after = IDLE_AFTER_MS) {
  const byHidden = watch.hiddenSince === null ? Infinity : watch.hiddenSince + after;
  return Math.min(watch.lastInput + after, byHidden);
}

/**
 * Look at the watch at `now`: the watch as it is now, what to report (`true`: idle, `false`:
 * in use again, `null`: no change) and in how many ms to look again (`null`: not until the
 * next input or change of visibility, which look at once).
 */
export function check(watch, now, after = IDLE_AFTER_MS) {
  const at = idleAt(watch, after);
  const idle = now >= at;
  return { watch: idle === watch.idle ? watch : { ...watch, idle },
    report: idle === watch.idle ? null : idle, wakeIn: idle ? null : at - now };
}
