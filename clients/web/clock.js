// The server's time as the page reckons it. Every `ts` (and `expires_at`) the server sends is
// on its clock; the page compares them with "now" (is this message new or one it missed, is
// this link or ban still good, is this today) and must not trust its own clock for that: a
// laptop minutes behind after a sleep took every replayed message for a new one (a burst of
// notifications for hours-old news), one minutes ahead took every new one for a missed one.
//
// Theory of operation
// -------------------
// The welcome says the server's clock (`now`, docs/protocol.md "The client's clock"). The
// page's offset is that minus its own clock at the moment the server read it, which lies
// somewhere between sending the hello and reading the welcome: the midpoint is taken, so the
// offset is right to within half the round trip (NTP's reasoning; Cristian's algorithm), against
// a threshold of minutes (alerts.STALE_MS). It is measured again at every welcome: a clock
// changed while the page slept, or set right meanwhile, is followed at the next connection,
// which a sleep ends anyway. A welcome without `now` (an older server) keeps the offset the
// page had (none at first: its own clock, as before).
//
// Matrix has the server send `age` with every event for the same reason, and its clients
// keep a local receive time per event. One offset per connection serves every time the
// server gives (events, replies, pages of history, search results, link expiries) and costs
// nothing per event; the server encodes a message once for all its readers, which an age
// measured per reader would not allow.
//
// The state keeps the offset (`state.clockOffset`, state.js's welcome sets it with
// `corrected`); the views and the controller read the server's time with `now()`, whose
// offset the controller keeps equal to the state's (`follow`). The pure modules never read a
// clock: they are given `now`, on the server's clock.

let offset = 0; // ms to add to this page's clock (Date.now()) for the server's

/**
 * The offset after a welcome that said `serverNow`, read at `received` for a hello sent at
 * `sent` (both ms on the page's reckoning then, whose offset was `before`): the server's
 * clock minus the page's own at the midpoint. Without a usable `serverNow`: `before`.
 */
export function corrected(before, serverNow, sent, received) {
  if (!Number.isSafeInteger(serverNow) || !Number.isFinite(received)) return before;
  const asked = Number.isFinite(sent) && sent <= received ? sent : received;
  return Math.round(before + serverNow - (asked + received) / 2);
}

/** The server's time at the page's own time `local` (ms), with offset `by`. */
export function serverTime(local, by) {
  return local + by;
}

/** Use offset `by` from now on (the controller, after each change to the state's). */
export function follow(by) {
  offset = Number.isFinite(by) ? by : 0;
}

/** The server's time now, as the page reckons it (ms since the epoch). */
export function now() {
  return serverTime(Date.now(), offset);
}
