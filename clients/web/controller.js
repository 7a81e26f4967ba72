// The controller: the one place where the state (state.js), the views and the outside world
// (the socket, timers, localStorage) meet. It holds no rules of its own:
//
//   socket frame ──► apply(state, frame, {request, now}) ─┐
//   view event ────► a reducer of state.js ───────────────┼─► effects ─► perform: requests,
//   timer ─────────► actions[name](state, …) ─────────────┘             timers, toasts
//                                                           └─► render every view (coalesced)
//
// Replies reach `apply` through socket.js's onReply as they are read, in the order the server
// sent them among the events. The outbox is saved to localStorage whenever it changed, so
// messages not yet acknowledged survive a reload and are sent again with their nonces.
//
// Files: the bytes of each attached file are kept here under its key while the state has an
// upload for it (uploads.js), and its XMLHttpRequest runs here; an upload the state let go of
// (removed, sent, its room left) is stopped and its bytes forgotten when the state changes.
//
// The service worker and pushes (install.js) follow the session: the subscription is made
// after each welcome (when notifications are allowed) and removed when the person leaves. A
// room named by a notification click or the address opens once the welcome or one of its pages
// (state.js, "The listing") has listed it; once the whole list is in without it, it is dropped.
// Alerts: an `alert` effect becomes a desktop notification and/or a chime (notifier.js); the
// settings (desktop, sound) are saved to localStorage per user whenever they changed. The
// browser's permission is asked for only from the settings' button, and followed when the
// person changes it in the browser; a grant is passed on to install.js, which subscribes.
// The person's tabs in this browser tell each alert once between them, and none while one of
// them shows its room: before alerting, a tab claims the alert on the record they share
// (tabs.js, kept by tabs-store.js), and a tab that shows a room (visible, focused) says so
// there whenever that changes, and again every tabs.LOOK_REFRESH_MS while it lasts; a lock
// held while the tab is open tells the others when it is gone. A tab that says it shows a room
// announces it (tabs-store.js), and every tab closes the notifications it shows for that room
// (tabs.js `toClose`); a room read on another connection (the `read` event) closes this tab's
// notification of it too, if it told of a message up to the marker.
//
// Drafts and the files attached in each room's box are saved together (drafts.js), whenever
// the saved form changes: the uploaded files come back in the box after a reload; those still
// uploading are told lost once (unless the tab uploading them is still open). Each text is
// saved with its time, and so is when the page last heard the server's drafts
// (`chatd.drafts-synced.<user>`): after a welcome the server's list is merged with them
// (drafts.js), the newer winning; typing saves to the server once the box is still.
//
// Idleness (idle.js): every key, pointer, touch and focus stamps the time, nothing more (and
// looks at once only while idle); one timer looks when the page would turn idle, and a change
// goes to the state (setIdle), which tells the server. `window.chatdIdleAfterMs`, when a
// positive number, replaces the 5 minutes from the next look on (the browser tests' hook).

import * as alerts from "./alerts.js";
import * as api from "./api.js";
import * as clock from "./clock.js";
import { commandsFor, planCommand } from "./commands.js";
import { $, h, toast } from "./dom.js";
import { messageUrl } from "./webpush.js";
import * as dismissals from "./dismissals.js";
import * as drafts from "./drafts.js";
import * as idle from "./idle.js";
import { confirmedFromHash, parseResetInfo } from "./email.js";
import { inviteFromHash, mayInvite, parseInviteRights } from "./invites.js";
import { joinFromHash } from "./roomlinks.js";
import { Install } from "./install.js";
import * as missed from "./missed.js";
import * as notifier from "./notifier.js";
import * as outbox from "./outbox.js";
import { closePopup } from "./popup.js";
import * as profiles from "./profiles.js";
import * as readmarks from "./readmarks.js";
import * as forwarding from "./forwarding.js";
import * as reminders from "./reminders.js";
import { nextTextChange, parseLocal, reminderProblem, shownItem } from "./saved.js";
import { currentRoom, nextTypingChange, roomOrder, sectionHolds } from "./select.js";
import { createdId, find as findSection, named, nameProblem } from "./sections.js";
import {
  deleteWords, moveMenu, nameFields, refusal as sectionRefusal,
} from "./view-sections.js";
import { excerpt, filesOf, filesSummary } from "./select-messages.js";
import {
  customField, newReminderFields, reminderMenu, showReminder, timeZone,
} from "./view-saved.js";
import { customAt, editedTime, timeProblem, whenText } from "./scheduled.js";
import { scheduleMenu, timeFields } from "./view-scheduled.js";
import { editOf as groupEdit, messageOf as groupRefusal } from "./usergroups.js";
import { createFields, editFields } from "./view-usergroups.js";
import { openPollDialog } from "./view-poll.js";
import { forwardFields } from "./view-forward.js";
import { refusedAs } from "./view-dialogs.js";
import {
  followHistory, GONE_TEXT as HISTORY_GONE, historyAnswered, historyFollows, historyRequest,
  refusalText,
} from "./edithistory.js";
import { historyFields, historyWaiting } from "./view-edithistory.js";
import { ReadersPanel } from "./view-receipts.js";
import { Connection, RequestError } from "./socket.js";
import * as model from "./state.js";
import { conversationName, nameLabel } from "./conversations.js";
import { hiddenInRoom, nextSummaryChange } from "./threads.js";
import * as tabs from "./tabs.js";
import * as tabsStore from "./tabs-store.js";

const ROOMS_REFRESH_MS = 150; // rooms seen in events are looked up together, this long after
const READ_THREAD_MS = 400; // a thread seen is told read once its replies stop coming this long
const SEEN_SAVE_MS = 1000; // what the page saw of its rooms is saved at most this often
const MAX_TIMER_MS = 2 ** 31 - 1;
const TAB_KEY = "chatd.tab"; // sessionStorage: this tab's name (see followTab)
// Where a message opened from outside every side panel (a forward's source, its destination)
// is opened from: no panel to close.
const NO_PANEL = Object.freeze({ itemOpened: () => {} });

export class Controller {
  constructor(views) {
    this.views = views;
    this.state = null; // null while logged out
    this.session = null;
    this.conn = null;
    this.timers = new Map(); // key -> timeout of a `later` effect
    this.refreshTimer = null;
    this.typingTimer = null;
    this.laterTimer = null; // the Saved panel's reminder texts change by themselves
    this.welcomeWaiters = new Set(); // called at the next welcome (a reminder to send again)
    this.summaryTimer = null; // and the open room's "last reply 5 min ago"
    this.expiryTimer = null;
    this.renderQueued = false;
    this.savedOutbox = null;
    this.savedBoxes = null; // the drafts and attachments as last saved (JSON text)
    this.blobs = new Map(); // upload key -> {blob, name, stop}: the files being attached
    this.savedUploads = null;
    this.savedDrafts = null;
    this.pendingRoom = null; // {name, at}: a room to open once it is listed (openRoom)
    this.inviteRights = null; // who may register and invite here (GET /api/register), once known
    this.mails = null; // whether the server sends email (the same answer), once known
    this.readers = new ReadersPanel(); // "Read by…" of a message (view-receipts.js)
    this.editHistory = null; // the "Edit history" dialog following its message (edithistory.js)
    // Rooms read elsewhere: their notifications closed in one pass a burst (dismissals.js).
    this.readElsewhere = dismissals.gatherer((reads) => notifier.dismissRead(reads),
      (run) => setTimeout(run, dismissals.DISMISS_AFTER_MS));
    this.install = new Install({
      shownRoom: () => (this.state ? this.state.current : null),
      openRoom: (room, at) => this.openRoom(room, at),
    });
    this.savedAlerts = null;
    this.lastSound = null; // when (ms) the chime last played (when no record is shared)
    this.tab = newNonce(); // this tab's name in the record the person's tabs share (tabs.js)
    this.before = followTab(this.tab); // the name this tab had before a reload, or null
    tabsStore.holdWhileOpen(this.tab);
    tabsStore.watch((user) => this.othersLooked(user));
    this.looks = null; // the room this tab last said it shows the person, or null
    this.lookTimer = null; // says it again while it does
    this.savedSeen = null; // what the page saw of its rooms, as last saved (missed.js)
    this.seenSavedAt = -Infinity; // when (ms)
    this.seenTimer = null;
    this.watch = null; // idle.js, while logged in
    this.idleTimer = null;
    const input = () => {
      if (!this.watch) return;
      this.watch.lastInput = Date.now();
      if (this.watch.idle) this.lookIdle();
    };
    for (const type of ["keydown", "pointerdown", "pointermove", "touchstart", "wheel"]) {
      window.addEventListener(type, input, { capture: true, passive: true });
    }
    window.addEventListener("focus", input);

    const {
      auth, sidebar, conversation, members, composer, dialogs, connection, layout, extras,
      attachments, viewer, alertsView, search, moderation, admin, pins, profile, thread,
      saved, threads, scheduled, userGroups, switcher, invites, email, exporting, roomLinks,
      remindersSet, drafts: draftsView,
    } = views;
    const whenOnline = (action) => (...args) => {
      if (this.online) action(...args);
      else toast("Not connected right now; try again in a moment.");
    };
    // A new account made with an invitation opens in its first room (once the welcome lists it).
    auth.bind({ loggedIn: (session, { room = null } = {}) => {
      this.enter(session);
      if (room !== null) this.openRoom(room);
    } });
    sidebar.bind({
      selectRoom: (name) => this.choose(model.selectRoom, name),
      openDm: (user) => this.choose(model.openDm, user),
      removeContact: (user) => this.send({ op: "remove_contact", user }),
      createRoom: whenOnline(() => dialogs.createRoom()),
      browseRooms: whenOnline(() => dialogs.browseRooms()),
      newDm: whenOnline(() => dialogs.newDm(this.state)),
      addContact: whenOnline(() => dialogs.addContact()),
      logout: () => this.leave("", { revoke: true }),
      roomMenu: (name, opener, point) => alertsView.roomMenu(name, opener, point),
      // The person's sections (sections.js): collapsed and moved at once; named in dialogs.
      newSection: whenOnline(() => this.newSection()),
      collapseSection: whenOnline((id, collapsed) => this.act(model.collapseSection, id,
        collapsed)),
      shiftSection: whenOnline((id, by) => this.act(model.shiftSection, id, by)),
      renameSection: whenOnline((id) => this.renameSection(id)),
      readSection: whenOnline((id) => this.act(readmarks.markSectionRead, id)),
      deleteSection: whenOnline((id) => this.confirmDeleteSection(id)),
      dropRoom: whenOnline((room, id) => this.act(model.moveToSection, room, id)),
    });
    // The quick switcher (Ctrl+K): a person opens their 1:1, as "New direct message" does;
    // a closed conversation is started again.
    switcher.bind({
      state: () => this.state,
      openRoom: (name) => this.choose(model.openAgain, name),
      openPerson: (user) => this.choose(model.openConversation, [user]),
    });
    alertsView.bind({
      enableDesktop: async () => {
        const permission = await notifier.askPermission();
        this.act(model.setAlerts, { permission });
        if (permission === "granted") this.syncPush(); // subscribe to pushes now
        if (permission === "denied") {
          toast("Notifications are blocked: allow them in the browser's site settings.");
        }
      },
      setAlerts: (changes) => this.act(model.setAlerts, changes),
      setNotify: whenOnline((room, level) => this.act(model.setNotify, room, level)),
      closeConversation: whenOnline((room) => this.act(model.closeConversation, room)),
      favourite: whenOnline((room, on) => this.act(model.setFavourite, room, on)),
      moveTo: whenOnline((room, opener, point) => this.moveMenu(room, opener, point)),
      pause: whenOnline((choice) => this.act(model.pauseNotifications, choice)),
      resume: whenOnline(() => this.act(model.resumeNotifications)),
    });
    search.bind({
      search: (query) => this.act(model.searchFor, query),
      more: () => this.act(model.searchMore),
      retry: () => this.act(model.searchRetry),
      openResult: (result) => this.openResult(result),
      opened: (shown) => {
        closePopup(false);
        if (shown) this.closeSidePanels(search);
        if (shown) layout.closeDrawers();
        layout.syncInert();
      },
    });
    pins.bind({
      opened: (shown) => {
        closePopup(false);
        if (shown) {
          this.closeSidePanels(pins);
          layout.closeDrawers();
        }
        layout.syncInert();
        this.act(shown ? model.openPins : model.closePins);
      },
      more: () => this.act(model.morePins),
      retry: () => this.act(model.retryPins),
      openPinned: (item) => {
        if (!this.state || this.state.pinsPanel.room === null) return;
        this.act(model.openResult, { room: this.state.pinsPanel.room, msgId: item.msg_id,
          seq: item.seq, thread: item.thread ?? null, broadcast: item.broadcast === true });
        pins.itemOpened();
      },
      unpin: (msgId) => this.state && this.act(model.pinMessage, { room:
        this.state.pinsPanel.room, msgId, on: false, key: newNonce(), now: clock.now() }),
    });
    saved.bind({
      opened: this.sidePanelOpened(saved, model.openSaved),
      more: () => this.act(model.moreSaved),
      retry: () => this.act(model.retrySaved),
      openItem: (item) => {
        const held = this.state && this.state.rooms.get(item.room)?.byMsgId(item.msg_id);
        const seq = held ? held.seq : item.message ? item.message.seq : null;
        this.openResult({ room: item.room, msg_id: item.msg_id, seq }, saved);
      },
      done: (item) => this.act(model.saveMessage, { room: item.room, msgId: item.msg_id,
        on: false, now: clock.now() }),
      remind: (item, opener) => this.chooseReminder(item.room, item.msg_id, opener),
      newReminder: () => this.newReminder(),
      forOthers: whenOnline(() => remindersSet.open()),
    });
    // "Create a poll" (the room's box and the thread panel's): its dialog, the poll through the
    // outbox as any message (`send(poll, nonce)` puts it there), the dialog waiting for its
    // outcome.
    const createPoll = (send) => whenOnline((prefill) => openPollDialog(dialogs, this.state.maxText,
      (poll) => {
        const nonce = newNonce();
        send(poll, nonce);
        if (!this.state || !outbox.find(this.state.outbox, nonce)) {
          return Promise.reject(new Error("The poll cannot be sent here now."));
        }
        return extras.outcome(nonce);
      }, prefill));
    this.pollDialogs = {
      // (The thread's poll, as its button makes it; the room's, as the box's button.)
      thread: (prefill) => thread.on.createPoll(prefill),
      room: (prefill) => extras.on.createPoll(prefill),
    };
    thread.bind({
      opened: (shown) => {
        closePopup(false);
        if (shown) {
          this.closeSidePanels(thread);
          layout.closeDrawers();
        }
        layout.syncInert();
        if (!shown) this.act(model.closeThread);
      },
      more: () => this.act(model.moreThread),
      retry: () => this.act(model.retryThread),
      also: (on) => this.act(model.setThreadAlso, on),
      send: (text) => {
        if (!this.state) return false;
        const before = this.state.outbox;
        this.act(model.replyInThread, { text, nonce: newNonce(), now: clock.now() });
        return Boolean(this.state) && this.state.outbox !== before;
      },
      schedule: (text, sendAt) => this.schedule({ text, sendAt, thread: true }),
      command: (text) => this.runCommand(text, "thread"),
      // A poll as a reply in the thread (to the room too when "Also send" is ticked).
      createPoll: createPoll(({ question, options, multiple }, nonce) => this.act(
        model.replyInThread, { text: question, poll: { options, multiple }, nonce,
          now: clock.now() })),
      typed: () => this.act(model.typed, clock.now()),
      draft: (key, text) => this.act(drafts.typed, key, text, clock.now()),
      follow: (on) => {
        const panel = this.state && this.state.threadPanel;
        if (!panel || !panel.root) return;
        this.act(model.followThread, { room: panel.room, rootId: panel.root.msg_id, on });
      },
      // Seen up to its newest reply: told once things settle (a burst of replies, one read).
      read: (room, rootId, seq) => {
        this.pendingRead = { room, rootId, seq };
        clearTimeout(this.readTimer);
        this.readTimer = setTimeout(() => {
          const read = this.pendingRead;
          this.pendingRead = null;
          if (read) this.act(model.readThread, read);
        }, READ_THREAD_MS);
      },
      attach: (files, box) => this.attach(files, box),
      removeUpload: (key) => this.act(model.removeUpload, key),
      retryUpload: (key) => this.act(model.retryUpload, key),
    });
    threads.bind({
      opened: this.sidePanelOpened(threads, model.openThreads),
      more: () => this.act(model.moreThreads),
      retry: () => this.act(model.openThreads),
      openItem: (t) => {
        threads.close({ refocus: false });
        this.act(model.openFollowed, { room: t.room, rootId: t.rootId });
        if (this.state && this.state.threadPanel.shown) thread.open();
      },
    });
    draftsView.bind({
      opened: this.sidePanelOpened(draftsView, () => []),
      openItem: (d) => {
        draftsView.itemOpened();
        if (d.thread === null) {
          this.choose(model.selectRoom, d.room);
          composer.focus();
          return;
        }
        this.act(model.openFollowed, { room: d.room, rootId: d.thread });
        if (this.state && this.state.threadPanel.shown) thread.open();
      },
      remove: (key) => this.act(model.deleteDraft, key),
    });
    scheduled.bind({
      opened: this.sidePanelOpened(scheduled, model.openScheduled),
      retry: () => this.act(model.openScheduled),
      menu: (box, opener) => this.chooseTime(opener, {
        title: box === "thread" ? "Schedule the reply" : "Schedule the message",
        ok: "Schedule",
        set: (at) => (box === "thread" ? thread : composer).scheduleAt(at),
      }),
      sendNow: (item) => this.act(model.sendScheduledNow, item.item),
      reschedule: (item, opener) => this.chooseTime(opener, {
        title: "Reschedule the message", ok: "Reschedule", label: "Reschedule", current:
          item.send_at, set: (at) => this.act(model.rescheduleItem, item.item, at, clock.now()),
      }),
      edit: (item) => this.editScheduled(item),
      remove: (item) => this.confirmCancelScheduled(item),
    });
    notifier.prepareSound();
    notifier.watchPermission((permission) => this.act(model.setAlerts, { permission }));
    conversation.bind({
      sighted: (room, seqs) => this.act(readmarks.sighted, room, seqs),
      loadOlder: () => this.act(model.loadOlder),
      retry: (nonce) => this.act(model.retrySend, nonce),
      discard: (nonce) => this.act(model.discardSend, nonce),
      editTopic: whenOnline(() => dialogs.editTopic(this.state)),
      invite: whenOnline(() => dialogs.invite(this.state)),
      roomLink: whenOnline(() => {
        if (this.state && this.state.current) roomLinks.open(this.state.current);
      }),
      leave: whenOnline(() => dialogs.confirmLeave(this.state)),
      favourite: whenOnline((room, on) => this.act(model.setFavourite, room, on)),
      browseRooms: whenOnline(() => dialogs.browseRooms()),
      createRoom: whenOnline(() => dialogs.createRoom()),
      // Changes to messages: edits, deletions and reactions go through the outbox.
      reply: (msgId) => {
        this.act(model.startReply, msgId);
        composer.focus();
      },
      react: (msgId, emoji, on) => this.act(model.react,
        { msgId, emoji, on, key: newNonce(), now: clock.now() }),
      edit: (msgId) => this.act(model.startEdit, msgId),
      saveEdit: (text) => {
        this.act(model.saveEdit, { text, key: newNonce(), now: clock.now() });
        if (this.state && !this.state.editing) composer.focus();
      },
      cancelEdit: () => {
        this.act(model.cancelEdit);
        composer.focus();
      },
      remove: (msgId) => this.confirmDelete(msgId),
      markUnread: whenOnline((seq) => this.act(model.markUnread, this.state.current, seq)),
      removePreview: whenOnline((msgId) => this.act(model.removePreview, this.state.current,
        msgId)),
      pin: (msgId, on) => this.act(model.pinMessage, { room: this.state.current, msgId, on,
        key: newNonce(), now: clock.now() }),
      vote: (room, msgId, options) => this.act(model.vote, { room, msgId, options,
        key: newNonce(), now: clock.now() }),
      closePoll: (room, msgId) => this.act(model.closePoll, { room, msgId, key: newNonce(),
        now: clock.now() }),
      save: (msgId, on) => this.act(model.saveMessage, { room: this.state.current, msgId, on,
        now: clock.now() }),
      remind: (msgId, opener) => this.chooseReminder(this.state.current, msgId, opener),
      forward: whenOnline((room, msgId) => this.forwardMessage(room, msgId)),
      editHistory: whenOnline((room, msgId) => this.showEditHistory(room, msgId)),
      // A forwarded message's source (a public room's message, by its seq).
      openSource: (room, seq, panel = NO_PANEL) => this.openResult({ room, msg_id: null, seq },
        panel),
      jumpTo: (msgId) => this.act(model.jumpTo, msgId),
      copyLink: (room, message) => this.copyLink(room ?? this.state?.current, message),
      // "Read by…": who has read the message, asked of the server as the panel opens.
      readBy: whenOnline((room, msgId, opener) => this.readers.show(opener, this.state,
        (after) => this.ask("receipts", { room: room ?? this.state.current, msg_id: msgId,
          ...(after === null ? {} : { after }) }))),
      // Threads: the thread panel shows the thread of a message (a root, or a reply's root).
      openThread: (msgId) => {
        this.act(model.openThread, msgId);
        if (this.state && this.state.threadPanel.shown) thread.open();
      },
      // Files: signed links for what is drawn, the larger view of an image, downloads.
      wantLinks: (ids) => this.act(model.wantLinks, ids, clock.now()),
      linkBroken: (id) => this.act(model.linkBroken, id, clock.now()),
      openImage: (file, opener) => viewer.open(file, opener),
      download: (file) => this.download(file),
    });
    viewer.bind({
      wantLinks: (ids) => this.act(model.wantLinks, ids, clock.now()),
      download: (file) => this.download(file),
    });
    attachments.bind({
      wantLinks: (ids) => this.act(model.wantLinks, ids, clock.now()),
      linkBroken: (id) => this.act(model.linkBroken, id, clock.now()),
      attach: (files, room) => this.attach(files, room),
      remove: (key) => this.act(model.removeUpload, key),
      retry: (key) => this.act(model.retryUpload, key),
    });
    extras.bind({
      editLast: () => this.act(model.editLast),
      cancelReply: () => this.act(model.cancelReply),
      createPoll: createPoll((poll, nonce) => this.act(model.composePoll,
        { ...poll, nonce, now: clock.now() })),
      discard: (nonce) => this.act(model.discardSend, nonce),
    });
    members.bind({
      openDm: (user) => this.choose(model.openDm, user),
      kick: whenOnline((user) => dialogs.confirmKick(this.state, user)),
      moderate: whenOnline((member, opener) => moderation.memberMenu(member, opener)),
      moreMembers: () => this.act(model.moreMembers),
    });
    moderation.bind({
      ask: (op, fields) => this.ask(op, fields),
      dialog: (options) => dialogs.confirm(options),
      kick: whenOnline((user) => dialogs.confirmKick(this.state, user)),
    });
    admin.bind({
      call: (method, path, body) => {
        if (!this.session) return Promise.reject(new Error("Not logged in."));
        return api.authed(this.session.token, method, path, body);
      },
      ask: (op, fields) => this.ask(op, fields),
      dialog: (options) => dialogs.confirm(options),
      me: () => (this.state ? this.state.me : null),
      mayInvite: () => Boolean(this.state) && mayInvite(this.state.admin, this.inviteRights),
      invite: () => invites.open(),
      shown: (open) => {
        closePopup(false);
        layout.closeDrawers();
        if (open) this.closeSidePanels(null);
        $("app").hidden = open || !this.state;
      },
    });
    composer.bind({
      send: (text, room) => {
        // The box's text belongs to `room`: never send it into another one.
        if (!this.state || room !== this.state.current) return false;
        const before = this.state.outbox;
        this.act(model.compose, { text, nonce: newNonce(), now: clock.now() });
        return Boolean(this.state) && this.state.outbox !== before;
      },
      schedule: (text, room, sendAt) => {
        if (!this.state || room !== this.state.current) return false;
        return this.schedule({ text, sendAt, thread: false });
      },
      // A slash command typed in the box: for the room it was typed in only.
      command: (text, room) => {
        if (!this.state || room !== this.state.current) return null;
        return this.runCommand(text, "room");
      },
      typing: () => this.act(model.typed, clock.now()),
      draft: (room, text) => this.act(drafts.typed, room, text, clock.now()),
    });
    dialogs.bind({
      ask: (op, fields) => this.ask(op, fields),
      isOnline: () => this.online,
      openConversation: (users) => this.choose(model.openConversation, users),
      roomChosen: () => layout.roomChosen(),
      nonce: newNonce,
      roomLink: (room) => roomLinks.open(room),
    });
    connection.bind({ retry: () => this.conn && this.conn.retryNow() });
    remindersSet.bind({
      ask: (op, fields) => this.ask(op, fields),
      now: () => clock.now(),
    });
    roomLinks.bind({
      ask: (op, fields) => this.ask(op, fields),
      now: () => clock.now(),
      base: () => location.href,
      roomChosen: () => layout.roomChosen(),
    });
    profile.bind({
      ask: (op, fields) => this.ask(op, fields),
      // (The `profile` event that follows tells the page, as it tells the others.)
      setAvatar: (file) => api.setAvatar(this.session.token, file, file.name),
      removeAvatar: () => api.removeAvatar(this.session.token),
      dialog: (options) => dialogs.open(options),
      isOnline: () => this.online,
      customEmoji: () => this.views.emoji.open(),
      userGroups: () => userGroups.open(),
      readReceipts: whenOnline((on) => this.act(model.setReadReceipts, on)),
      keywords: () => this.views.keywords.open(),
      readAll: () => this.readAll(true),
      mayInvite: () => Boolean(this.state) && mayInvite(this.state.admin, this.inviteRights),
      invite: () => {
        closePopup(false);
        invites.open();
      },
      email: () => {
        closePopup(false);
        email.open();
      },
      mailsNot: () => this.mails === false,
      exportData: () => {
        closePopup(false);
        exporting.open();
      },
    });
    // "Download my data" (view-export.js), over HTTP.
    exporting.bind({
      call: (method, path, body) => {
        if (!this.session) return Promise.reject(new Error("Not logged in."));
        return api.authed(this.session.token, method, path, body);
      },
    });
    // The person's address and email notifications (view-email.js), over HTTP.
    email.bind({
      call: (method, path, body) => {
        if (!this.session) return Promise.reject(new Error("Not logged in."));
        return api.authed(this.session.token, method, path, body);
      },
    });
    invites.bind({
      call: (method, path, body) => {
        if (!this.session) return Promise.reject(new Error("Not logged in."));
        return api.authed(this.session.token, method, path, body);
      },
      me: () => (this.state ? this.state.me : null),
    });
    userGroups.bind({
      opened: this.sidePanelOpened(userGroups, model.openUserGroups),
      retry: () => this.act(model.listUserGroups),
      show: (name) => this.act(model.showUserGroup, name),
      back: () => {
        this.act(model.closeUserGroup);
        userGroups.focusFirst();
      },
      create: whenOnline(() => this.createUserGroup()),
      edit: whenOnline((group, members) => this.editUserGroup(group, members)),
      remove: whenOnline((group) => this.confirmDeleteUserGroup(group)),
    });
    this.views.keywords.bind({
      dialog: (options) => dialogs.confirm(options),
      set: (list) => this.act(model.setKeywords, list),
      opened: () => this.act(model.keywordsOpened),
    });
    this.views.emoji.bind({
      dialog: (options) => dialogs.open(options),
      // (The `custom_emoji` event that follows tells the page, as it tells everyone.)
      addEmoji: (name, file) => api.addEmoji(this.session.token, name, file),
      removeEmoji: (name) => api.removeEmoji(this.session.token, name),
    });
    layout.bind({
      moveRoom: (step) => {
        const order = roomOrder(this.state);
        if (!order.length) return;
        const index = order.indexOf(this.state.current);
        this.choose(model.selectRoom, order[(index + step + order.length) % order.length]);
      },
      readAll: () => this.readAll(true),
    });
    window.addEventListener("online", () => this.conn && this.conn.networkChanged(true));
    window.addEventListener("offline", () => this.conn && this.conn.networkChanged(false));
    window.addEventListener("focus", () => this.act(model.setFocused, true));
    window.addEventListener("blur", () => this.act(model.setFocused, false));
    // What the page saw of its rooms, for the next visit to compare with (missed.js).
    window.addEventListener("pagehide", () => {
      this.saveSeen();
      this.sayLooking(true); // (shown again from the back-forward cache: said again)
    });
    document.addEventListener("visibilitychange", () => {
      const visible = document.visibilityState === "visible";
      if (!visible) this.saveSeen();
      this.act(model.setVisible, visible);
      if (this.watch) {
        this.watch = idle.shown(this.watch, visible, Date.now());
        this.lookIdle();
      }
      // Changed in the browser's settings while away (where no change event tells).
      if (this.state && this.state.alerts.permission !== notifier.permission()) {
        this.act(model.setAlerts, { permission: notifier.permission() });
      }
      // Messages that arrived while the tab was hidden are read once seen: report them again.
      if (visible) conversation.reobserve();
    });
  }

  /** Show the chat for the stored session, or the log-in form. */
  start() {
    this.install.start();
    const session = api.loadSession();
    window.addEventListener("hashchange", () => {
      this.invitedWhileIn();
      this.joinWhenIn();
      this.landed();
      if (this.session && this.views.auth.takeReset()) this.resetWhileIn();
    });
    this.landed();
    const reset = this.views.auth.takeReset(); // (off the address at once, logged in or not)
    if (session) {
      this.enter(session);
      this.invitedWhileIn();
      if (reset) this.resetWhileIn();
    } else {
      this.views.auth.show();
    }
  }

  /**
   * The page opened where a confirmation link lands ("#email-confirmed": the server confirmed
   * the address, then sent the browser here): said, and off the address.
   */
  landed() {
    if (!confirmedFromHash(location.hash)) return;
    history.replaceState(null, "", location.pathname + location.search);
    toast("Your email address is confirmed.");
    this.views.email.confirmedElsewhere();
  }

  /**
   * A password reset link opened where someone is logged in: the form that takes it is the
   * logged-out page's (view-auth.js holds the token, off the address); the page says so.
   */
  resetWhileIn() {
    if (!this.session || !this.views.auth.holdsReset) return;
    toast(`This link chooses a new password. You are logged in as ${this.session.username}: `
      + "log out to use it.", { label: "Log out", run: () => this.leave("", { revoke: true }) });
  }

  /**
   * An invitation link opened (or pasted into this tab) by someone logged in here: it makes a
   * new account only, the page says (logged out, the form takes it: view-auth.js).
   */
  invitedWhileIn() {
    if (!this.session || inviteFromHash(location.hash) === null) return;
    toast(`You are logged in as ${this.session.username}. The invitation link is for a new `
      + "account: log out to create one with it.");
  }

  /**
   * A room link opened (or pasted into this tab) by someone logged in: once connected, the
   * join screen asks the server what it leads to (view-roomlinks.js). The token goes off the
   * address at once: the address bar and the history keep no working link. Logged out, the
   * log-in form says what the link is for and leaves it on the address until then.
   */
  joinWhenIn() {
    const token = joinFromHash(location.hash);
    if (!this.session || token === null) return;
    history.replaceState(null, "", location.pathname + location.search);
    const show = () => this.views.roomLinks.showJoin(token);
    if (this.online) {
      show();
      return;
    }
    const welcomed = () => {
      this.welcomeWaiters.delete(welcomed);
      show();
    };
    this.welcomeWaiters.add(welcomed);
  }

  /** Whether the person is still using the page (idle.js); tell a change; the one timer. */
  lookIdle() {
    if (!this.watch || !this.state) return;
    const hook = Number(window.chatdIdleAfterMs);
    const after = hook > 0 ? hook : idle.IDLE_AFTER_MS;
    const { watch, report, wakeIn } = idle.check(this.watch, Date.now(), after);
    this.watch = watch;
    clearTimeout(this.idleTimer);
    this.idleTimer = wakeIn === null ? null
      : setTimeout(() => this.lookIdle(), Math.min(MAX_TIMER_MS, wakeIn));
    if (report !== null || this.state.idle !== watch.idle) this.act(model.setIdle, watch.idle);
  }

  get online() {
    return Boolean(this.conn && this.conn.isOnline);
  }

  // -- the session ---------------------------------------------------------------------------

  enter(session) {
    this.session = session;
    const boxes = loadBoxes(session.username);
    this.state = model.initialState({
      me: session.username,
      outbox: loadOutbox(session.username),
      visible: document.visibilityState === "visible",
      focused: document.hasFocus(),
      drafts: boxes.drafts,
      draftTimes: boxes.times,
      draftsSyncedAt: loadSyncedAt(session.username),
      draftsUnsaved: boxes.unsaved,
      uploads: boxes.uploads,
      alerts: { ...loadAlerts(session.username),
        pushed: this.install.pushedFor(session.username) },
      seen: loadSeen(session.username),
    });
    clock.follow(this.state.clockOffset); // its own clock until a welcome says the server's
    this.watch = idle.created(Date.now(), document.visibilityState === "hidden");
    this.lookIdle();
    this.savedAlerts = this.state.alerts;
    this.savedSeen = null;
    this.seenSavedAt = -Infinity;
    this.savedOutbox = this.state.outbox;
    this.savedDrafts = this.state.drafts;
    this.savedSyncedAt = this.state.draftSync.syncedAt;
    this.savedSaves = this.state.draftSync.saves;
    this.savedUploads = this.state.uploads;
    this.savedBoxes = null;
    this.saveBoxes(); // without what was uploading: it is told below, once
    this.tellLost(boxes.lost);
    this.install.signedIn(session);
    this.views.auth.hide();
    this.views.layout.showChat(true);
    this.expireAt(session);
    this.conn = new Connection({
      // The first rooms and contacts only (a server whose largest page is smaller gives a
      // page of that; one that does not page lists everything, without `rooms_more`).
      hello: () => ({ token: session.token, resume: model.helloResume(this.state),
        rooms_limit: model.WELCOME_ROOMS, contacts_limit: model.WELCOME_CONTACTS,
        ...model.helloIdle(this.state) }),
      onWelcome: (frame, { sentAt }) => this.receive(frame, null, sentAt),
      onEvent: (frame) => this.receive(frame),
      onReply: (frame, request) => this.receive(frame, request),
      onState: (phase, detail) => this.act(model.connectionChanged, phase, {
        attempt: detail.attempt || 0,
        retryAt: typeof detail.delay === "number" ? clock.now() + detail.delay : null,
      }),
      onAuthFailed: () => this.leave("Your session has ended. Please log in again."),
    });
    this.conn.start();
    this.learnInviteRights(session);
    this.joinWhenIn();
    this.render();
  }

  /**
   * Who may invite here (GET /api/register, public: nothing added to hello), for the
   * person's menu; asked once per log-in. No answer: administrators only (invites.js).
   */
  async learnInviteRights(session) {
    this.inviteRights = null;
    this.mails = null;
    try {
      const body = await api.registration();
      const rights = parseInviteRights(body);
      if (this.session !== session) return;
      this.inviteRights = rights;
      this.mails = parseResetInfo(body).offered; // (password resets go by email)
      this.render(); // (the administration view's button)
    } catch {
      // Not known: the menu offers "Invite people…" to administrators only.
    }
  }

  /**
   * Leave when the session's token expires (its `expires_at` is the server's time: set again
   * once a welcome has measured the server's clock).
   */
  expireAt(session) {
    clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      this.leave("Your session has expired. Please log in again.");
    }, Math.min(MAX_TIMER_MS, Math.max(0, session.expires_at - clock.now())));
  }

  async leave(message = "", { revoke = false } = {}) {
    const session = this.session;
    clearTimeout(this.expiryTimer);
    if (this.conn) this.conn.stop();
    this.conn = null;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    clearTimeout(this.refreshTimer);
    clearTimeout(this.typingTimer);
    clearTimeout(this.laterTimer);
    clearTimeout(this.summaryTimer);
    clearTimeout(this.readTimer);
    this.pendingRead = null;
    clearTimeout(this.idleTimer);
    this.watch = null;
    if (!revoke) this.saveSeen(); // logged out on purpose: forgotten below
    this.sayLooking(true);
    clearTimeout(this.seenTimer);
    this.seenTimer = null;
    this.session = null;
    this.state = null;
    this.forgetUploads(new Set());
    closePopup(false);
    this.closeSidePanels();
    this.views.admin.close({ refocus: false });
    this.views.invites.close();
    this.views.email.close();
    this.views.exporting.close();
    document.title = "chatd";
    this.views.viewer.close();
    this.views.dialogs.close();
    this.views.switcher.close();
    this.views.connection.clear();
    this.views.conversation.reset(null);
    this.views.composer.reset();
    this.views.layout.showChat(false);
    if (revoke && session) forgetKept(session.username); // logged out on purpose
    await this.install.signedOut(session); // while the token still works
    if (revoke) await api.logout(session);
    else api.forgetSession();
    this.views.auth.show(message);
  }

  /**
   * The `opened` handler of a side panel kept by a list it asks for (saved, followed threads,
   * scheduled, user groups): shown, it closes the others and the drawers and does `open`.
   */
  sidePanelOpened(panel, open) {
    return (shown) => {
      closePopup(false);
      if (shown) {
        this.closeSidePanels(panel);
        this.views.layout.closeDrawers();
        this.act(open);
      }
      this.views.layout.syncInert();
    };
  }

  /**
   * "Mark all as read" (the person's menu, Shift+Esc, /readall): with `ask`, a confirmation
   * first when more than a few rooms are unread (readmarks.js `readAllAsks`), as Slack asks.
   */
  readAll(ask) {
    if (!this.state) return;
    if (!this.online) {
      toast("Not connected right now; try again in a moment.");
      return;
    }
    const count = readmarks.unreadRooms(this.state).length;
    if (!ask || !readmarks.readAllAsks(this.state)) {
      this.act(readmarks.markAllRead);
      return;
    }
    this.views.dialogs.confirm({
      title: "Mark all as read?",
      ok: "Mark all as read",
      fields: [h("p", {}, `${count} rooms and conversations have unread messages. Followed `
        + "threads keep theirs (the Threads view).")],
      submit: async () => this.act(readmarks.markAllRead),
    });
  }

  /**
   * One side panel at a time in that place (search, pins, a thread, saved, followed threads,
   * scheduled, user groups): close every one but `keep`, none taking the focus back.
   */
  closeSidePanels(keep = null) {
    const { search, pins, thread, saved, threads, scheduled, userGroups, drafts: draftsView,
    } = this.views;
    for (const panel of [search, pins, thread, saved, threads, scheduled, userGroups,
      draftsView]) {
      if (panel !== keep) panel.close({ refocus: false });
    }
  }

  // -- changes -------------------------------------------------------------------------------

  /**
   * A frame from the server (`request`: the request a reply answers; `sentAt`: for a welcome,
   * when its hello was sent, by this page's clock).
   */
  receive(frame, request = null, sentAt = null) {
    const listed = Boolean(this.state && this.state.roomsListed);
    const offset = this.state ? this.state.clockOffset : 0;
    const sent = sentAt === null ? null : clock.serverTime(sentAt, offset);
    this.act(model.apply, frame, { request, now: clock.now(), sent });
    if (!this.state) return;
    this.followEditHistory(frame);
    // The welcome measured the server's clock: everything after it reads the server's time.
    clock.follow(this.state.clockOffset);
    if (frame.op === "welcome") this.expireAt(this.session);
    const pending = this.pendingRoom;
    if (pending !== null && this.state.rooms.has(pending.name)) {
      this.openRoom(pending.name, pending.at);
    } else if (this.state.roomsListed && (!listed || frame.op === "welcome")) {
      // The whole list is in without it: a room's address opens nothing; a message's says why
      // (a public room offers to join it, as a search result does).
      this.pendingRoom = null;
      if (pending !== null && pending.at !== null) this.openMessage(pending.name, pending.at);
    }
    if (frame.op === "welcome") {
      this.syncPush();
      for (const welcomed of [...this.welcomeWaiters]) welcomed();
    }
  }

  /** Keep the push subscription on the server, and the state told whether it is. */
  syncPush() {
    const state = this.state;
    return this.install.sync().then(() => {
      if (this.state === state) {
        this.act(model.setAlerts, { pushed: this.install.pushedFor(state.me) });
      }
    });
  }

  /**
   * Show room `name` (a notification was clicked, or the address named it), at the message
   * `at` names ({msgId, seq, thread}: webpush.js addressFromHash) if the address named one:
   * now if the state has the room, else once it is listed (after the welcome, or on one of
   * its pages).
   */
  openRoom(name, at = null) {
    this.pendingRoom = null;
    if (this.state && (this.state.rooms.has(name) || (at !== null && this.state.roomsListed))) {
      // (A message of a room not held, the whole list in: the page says why it cannot show it.)
      if (at === null) this.choose(model.selectRoom, name);
      else this.openMessage(name, at);
    } else {
      this.pendingRoom = { name, at };
    }
  }

  /** Open the message an address named, highlighted, as a search result opens. */
  openMessage(name, { msgId, seq, thread }) {
    this.openResult({ room: name, msg_id: msgId, seq, thread },
      { itemOpened: () => this.views.layout.roomChosen() });
  }

  /**
   * Put the address of `message` of `room` on the clipboard ("Copy link"): with its seq, and
   * its thread's root when the room's timeline leaves it out (a reply not sent to the room).
   */
  async copyLink(room, message) {
    if (typeof room !== "string" || !message || !Number.isSafeInteger(message.msg_id)) return;
    const address = messageUrl(location.href, room, message.msg_id, { seq: message.seq,
      thread: hiddenInRoom(message) ? message.thread : null });
    try {
      await navigator.clipboard.writeText(address);
      toast("Link copied.");
    } catch {
      toast(`The link could not be copied: ${address}`);
    }
  }

  /** A local action: a reducer of state.js with its arguments. */
  act(reducer, ...args) {
    if (!this.state) return;
    let effects;
    try {
      effects = reducer(this.state, ...args);
    } catch (error) {
      // A bug here must not stop the frames read after this one: report it and go on.
      reportError(error);
      effects = [];
    }
    this.settle(effects);
  }

  /** A local action that opens a room the person chose. */
  choose(reducer, ...args) {
    this.act(reducer, ...args);
    this.views.layout.roomChosen();
  }

  settle(effects) {
    this.perform(effects);
    if (this.state && this.state.outbox !== this.savedOutbox) {
      saveOutbox(this.state.me, this.state.outbox);
      this.savedOutbox = this.state.outbox;
    }
    if (this.state && (this.state.drafts !== this.savedDrafts
        || this.state.uploads !== this.savedUploads
        || this.state.draftSync.saves !== this.savedSaves)) {
      this.saveBoxes();
      this.savedDrafts = this.state.drafts;
      this.savedSaves = this.state.draftSync.saves;
    }
    if (this.state && this.state.draftSync.syncedAt !== this.savedSyncedAt) {
      // When the page last heard the server's drafts: a reload merges from there (drafts.js).
      this.savedSyncedAt = this.state.draftSync.syncedAt;
      saveSyncedAt(this.state.me, this.savedSyncedAt);
    }
    if (this.state && this.state.alerts !== this.savedAlerts) {
      saveAlerts(this.state.me, this.state.alerts);
      this.savedAlerts = this.state.alerts;
    }
    if (this.state && this.state.uploads !== this.savedUploads) {
      this.forgetUploads(new Set(this.state.uploads.map((item) => item.key)));
      this.savedUploads = this.state.uploads;
    }
    this.saveSeenSoon();
    this.sayLooking();
    this.render();
  }

  /**
   * Tell the person's other tabs which room this one shows them now (visible, focused, the
   * room open: alerts.js `looking`), or that it shows none (`away`: it is going): when that
   * changes, and again every tabs.LOOK_REFRESH_MS while it shows one (tabs.js). A failed
   * write is let go: the other tabs then alert for the room, as they did before tabs.js.
   */
  sayLooking(away = false) {
    const state = this.state;
    if (!state) return;
    const room = !away && state.current !== null && alerts.looking(state, state.current)
      ? state.current : null;
    if (room === this.looks) return;
    this.looks = room;
    clearInterval(this.lookTimer);
    this.lookTimer = null;
    const say = () => tabsStore.update(state.me, (saved) => ({
      record: tabs.look(saved, this.tab, room, Date.now()),
    })).then(() => {
      if (room !== null) tabsStore.announce(state.me); // the others close their notifications
    }, () => {});
    say();
    // Notifications of the room that the service worker shows (pushes) are seen now too.
    if (room !== null) notifier.dismiss(`chatd:${room}`, { workers: true });
    if (room !== null) this.lookTimer = setInterval(say, tabs.LOOK_REFRESH_MS);
  }

  /**
   * Another tab announced a change of `user`'s record (a look): close the notifications this
   * tab shows for the room an open tab looks at now (tabs.js `toClose`).
   */
  async othersLooked(user) {
    const state = this.state;
    if (!state || user !== state.me.toLowerCase() || !notifier.shownRooms().length) return;
    let saved;
    let alive;
    try {
      [saved, alive] = await Promise.all([tabsStore.read(state.me), tabsStore.openTabs()]);
    } catch {
      return; // no record to read: the notifications stay, as before tabs.js
    }
    if (this.state !== state) return;
    for (const room of tabs.toClose(saved, notifier.shownRooms(), Date.now(), alive)) {
      notifier.dismiss(`chatd:${room}`);
    }
  }

  /** Save the drafts and the attachments of every box, when their saved form changed. */
  saveBoxes() {
    const state = this.state;
    if (!state) return;
    const text = JSON.stringify(drafts.saveDrafts(state.drafts, state.uploads, this.tab,
      state.draftSync.times, state.draftSync.unsaved));
    if (text === this.savedBoxes) return; // (progress of an upload changes nothing saved)
    this.savedBoxes = text;
    try {
      if (text !== "{}") localStorage.setItem(draftsKey(state.me), text);
      else localStorage.removeItem(draftsKey(state.me));
    } catch {
      // Storage full or refused: the boxes stay in the page, only a reload loses them.
    }
  }

  /**
   * Tell the person, once, of the files that had not finished uploading when the page closed
   * (drafts.js `restoreBoxes`): their bytes are gone. Not those a tab still open uploads.
   */
  async tellLost(lost) {
    if (!lost.length) return;
    const state = this.state;
    const alive = await tabsStore.openTabs();
    if (this.state !== state) return;
    // This tab's own, before the reload: gone for sure (even if its old lock is still let go).
    const gone = lost.filter((item) => item.tab === null || item.tab === this.before
      || alive === null || !alive.has(item.tab));
    const label = (name) => {
      const room = state.rooms.get(name);
      if (room) return alerts.roomLabel(room);
      if (!name.startsWith("@")) return `#${name}`; // (not listed yet: the welcome is coming)
      return `your conversation with ${nameLabel(name, state.me)}`; // (conversations.js)
    };
    const text = drafts.lostNotice(gone, label);
    if (text) toast(text);
  }

  /**
   * Save what the page saw of its rooms: now if it was not saved for SEEN_SAVE_MS (so the
   * welcome's rooms are saved as they come), else once that time is up (a burst of messages
   * writes once).
   */
  saveSeenSoon() {
    if (this.seenTimer !== null) return;
    const wait = this.seenSavedAt + SEEN_SAVE_MS - Date.now();
    if (wait <= 0) {
      this.saveSeen();
      return;
    }
    this.seenTimer = setTimeout(() => {
      this.seenTimer = null;
      this.saveSeen();
    }, wait);
  }

  saveSeen() {
    if (!this.state) return;
    const seen = missed.remember(this.state);
    if (seen === null) return;
    this.seenSavedAt = Date.now();
    const text = JSON.stringify(missed.saveSeen(seen));
    if (text === this.savedSeen) return;
    this.savedSeen = text;
    try {
      localStorage.setItem(seenKey(this.state.me), text);
    } catch {
      // Storage full or refused: the next visit compares with an older record, or none.
    }
  }

  perform(effects) {
    for (const effect of effects) {
      if (effect.request) {
        this.send(effect.request);
      } else if (effect.refreshRooms) {
        clearTimeout(this.refreshTimer);
        this.refreshTimer = setTimeout(() => this.send(model.ROOMS_REFRESH), ROOMS_REFRESH_MS);
      } else if (effect.toast) {
        toast(effect.toast);
      } else if (effect.upload) {
        this.upload(effect.upload.key, effect.upload.room);
      } else if (effect.fetchLinks) {
        this.fetchLinks(effect.fetchLinks);
      } else if (effect.remind) {
        const told = effect.remind;
        showReminder(told, () => this.openAlerted(told));
      } else if (effect.alert) {
        this.alert(effect.alert).catch(reportError);
      } else if (effect.readElsewhere) {
        // Gathered while a burst lasts ("Mark all as read": one event a room), closed in one pass.
        this.readElsewhere(effect.readElsewhere.room, effect.readElsewhere.seq);
      } else if (effect.checkFiles) {
        this.checkFiles(effect.checkFiles);
      } else if (effect.later !== undefined && !this.timers.has(effect.key)) {
        this.timers.set(effect.key, setTimeout(() => {
          this.timers.delete(effect.key);
          this.act(model.actions[effect.action], ...effect.args, clock.now());
        }, effect.later));
      }
    }
  }

  // -- alerts and search ---------------------------------------------------------------------

  /**
   * Tell the person of a new message (alerts.js `alertFor` said how), unless another of their
   * tabs told of it already or shows them its room: the tab that claims it first on the record
   * the tabs share tells it (tabs.js `claim`).
   */
  async alert(alert) {
    const state = this.state;
    let told;
    try {
      const alive = await tabsStore.openTabs();
      told = await tabsStore.update(state.me, (saved) => {
        const claimed = tabs.claim(saved, alert, this.tab, Date.now(), alive);
        return { record: claimed.record, result: claimed };
      });
    } catch {
      // No record shared (no IndexedDB, storage refused or full, no answer in time): alert as
      // if this tab were alone. Another tab may alert too; better twice than never.
      told = { desktop: alert.desktop,
        sound: alert.sound && alerts.soundDue(this.lastSound, Date.now()) };
    }
    if (this.state !== state) return; // logged out meanwhile
    if (told.sound) {
      this.lastSound = Date.now();
      try {
        notifier.chime();
      } catch (error) {
        reportError(error); // no sound is no reason to lose the notification
      }
    }
    if (told.desktop) notifier.notify(alert, (shown) => this.openAlerted(shown));
  }

  /** A notification was clicked: open its room at its message. */
  openAlerted(alert) {
    if (!this.state) return;
    this.act(model.openResult, { room: alert.room, msgId: alert.msgId, seq: alert.seq });
    this.views.layout.closeDrawers();
  }

  /**
   * The reminder menu of message `msgId` of `room` under `opener` (a message's menu, or the
   * Saved panel): a preset saves it with that time, "Custom date and time…" asks for one in a
   * dialog, "No reminder" keeps it saved without one.
   */
  chooseReminder(room, msgId, opener) {
    if (!this.state || typeof room !== "string") return;
    const item = shownItem(this.state.saved, room, msgId);
    const current = item ? item.remind_at : null;
    const set = (remindAt) => this.act(model.saveMessage, { room, msgId, remindAt,
      now: clock.now() });
    reminderMenu(opener, { now: clock.now(), current, pick: set, custom: () => {
      const { input, fields } = customField(clock.now(), current);
      this.views.dialogs.open({
        title: "Remind me about this",
        ok: "Set the reminder",
        fields,
        submit: async () => {
          const at = parseLocal(input.value, timeZone());
          const problem = reminderProblem(at, clock.now());
          if (problem) throw new Error(problem);
          set(at);
        },
      });
    } });
  }

  /**
   * For the dialog about to open with `form` (its `waiting(on)` shows the wait): the
   * `backOnline()` of outbox.js `sendUntilAnswered`, a promise true at the next welcome, or
   * false once the dialog is closed (the person gave up waiting, or had closed it already).
   */
  dialogBackOnline(form) {
    let open = true;
    $("dialog").addEventListener("close", () => {
      open = false;
    }, { once: true });
    return () => new Promise((resolve) => {
      if (!open) {
        resolve(false);
        return;
      }
      form.waiting(true);
      const done = (online) => {
        $("dialog").removeEventListener("close", gaveUp);
        this.welcomeWaiters.delete(welcomed);
        form.waiting(false);
        resolve(online);
      };
      const welcomed = () => done(true);
      const gaveUp = () => done(false);
      $("dialog").addEventListener("close", gaveUp, { once: true });
      this.welcomeWaiters.add(welcomed);
    });
  }

  /**
   * "New reminder" (the Saved panel): a reminder of anything, written to the notes to self
   * and saved with its time by `remind` (reminders.js). The dialog stays open until the
   * server answers, shows its refusal, and sends the same request again (the same nonce) when
   * the connection dropped before the reply, once the page is back online; Cancel gives up
   * waiting. The note and the item come by their events, as any note's and save's.
   */
  newReminder() {
    if (!this.state) return;
    const reminder = reminders.newReminder();
    const form = newReminderFields(clock.now());
    this.views.dialogs.whenClosed(() => {
      if (this.views.saved.isOpen) this.views.saved.focusFirst();
    });
    const backOnline = this.dialogBackOnline(form);
    this.views.dialogs.open({
      title: "New reminder",
      ok: "Set reminder",
      fields: form.fields,
      submit: async () => {
        if (!this.state) throw new Error("Not logged in.");
        const made = reminders.reminderRequest(reminder, { ...form.read(), now: clock.now(),
          timeZone: timeZone(), fresh: newNonce, max: this.state.maxText });
        if (made.problem) throw new Error(made.problem);
        await reminders.sendReminder(made.fields, { ask: (op, fields) => this.ask(op, fields),
          backOnline }).catch(refusedAs(reminders.refusal));
      },
    });
  }

  /**
   * "(edited)" on a message: the "Edit history" dialog (view-edithistory.js) asks the server
   * for its versions (`edit_history`, edithistory.js) and shows them, oldest first, the words
   * each edit changed marked; a refusal shows in it. While it is open it follows the message
   * (`followEditHistory`): an edit made meanwhile is added as the newest version, and a
   * deletion says the message is gone.
   */
  showEditHistory(room, msgId) {
    if (!this.state) return;
    const name = room || this.state.current;
    const view = h("div", { id: "edit-history-view" },
      ...historyWaiting("Loading the versions…"));
    this.views.dialogs.confirm({
      title: "Edit history",
      ok: "Close",
      single: true,
      fields: [view],
      submit: async () => {},
    });
    const followed = followHistory(name, msgId);
    // (Drawn only while this dialog is open: not in another one opened meanwhile.)
    const open = () => view.isConnected && $("dialog").open;
    const draw = (edited = false) => {
      if (!open()) return;
      if (followed.gone) view.replaceChildren(...historyWaiting(HISTORY_GONE));
      else if (followed.answer) {
        view.replaceChildren(...historyFields(followed.answer,
          this.state ? this.state.profiles : null, edited));
      }
    };
    this.editHistory = { followed, open, draw };
    const { op, ...fields } = historyRequest(name, msgId);
    this.ask(op, fields).then((answer) => {
      historyAnswered(followed, answer);
      draw();
    }, (error) => {
      if (open() && !followed.gone) view.replaceChildren(...historyWaiting(refusalText(error)));
    });
  }

  /** A frame while an "Edit history" dialog is open: an edit or deletion of its message. */
  followEditHistory(frame) {
    const shown = this.editHistory;
    if (!shown || (frame.op !== "edited" && frame.op !== "deleted")) return;
    if (!shown.open()) {
      this.editHistory = null; // closed, or another dialog took its place
      return;
    }
    if (historyFollows(shown.followed, frame)) shown.draw(frame.op === "edited");
  }

  /**
   * "Forward…" (a message's menu): the "Forward message" dialog (view-forward.js) sends
   * `forward` (forwarding.js) and stays open until the server answers: a refusal shows in it,
   * a connection lost before the reply sends the same request (its nonce) again once the page
   * is back online (Cancel gives up waiting), as "New reminder" does. Once forwarded, the
   * dialog closes and a toast says where, with a button to go there.
   */
  forwardMessage(name, msgId) {
    if (!this.state) return;
    const message = model.messageHeld(this.state, name, msgId);
    if (!message) return;
    const forward = forwarding.newForward(name, msgId);
    const form = forwardFields(this.state, name, message);
    const backOnline = this.dialogBackOnline(form);
    this.views.dialogs.open({
      title: "Forward message",
      ok: "Forward",
      fields: form.fields,
      submit: async () => {
        if (!this.state) throw new Error("Not logged in.");
        const target = form.target();
        const made = forwarding.forwardRequest(forward, { target, text: form.text(),
          fresh: newNonce, max: this.state.maxText });
        if (made.problem) throw new Error(made.problem);
        const label = forwarding.targetLabel(this.state, target);
        const reply = await forwarding.sendForward(made.fields, {
          ask: (op, fields) => this.ask(op, fields), backOnline,
        }).catch(refusedAs(forwarding.refusal));
        const done = forwarding.confirmation(reply, { label, me: this.state.me });
        toast(done.text, done.room ? { label: "Go there", run: () => this.openResult({
          room: done.room, msg_id: reply.msg_id, seq: reply.seq }, NO_PANEL) } : null);
      },
    });
  }

  /**
   * Schedule what a box holds (the room's, or the thread panel's with `thread`) for `sendAt`:
   * returns whether the request went (the box is then emptied, as on send).
   */
  schedule({ text, sendAt, thread }) {
    if (!this.state) return false;
    const effects = model.scheduleMessage(this.state, { text, sendAt, thread,
      now: clock.now() });
    this.settle(effects);
    return effects.some((effect) => effect.request);
  }

  /**
   * The "Schedule for later" menu under `opener`: a preset, or "Custom time…" (a dialog with
   * a day and a time, in the person's time zone), gives `set(sendAt)` the time chosen.
   */
  chooseTime(opener, { title, ok, label = "Schedule for later", current = null, set }) {
    if (!this.state) return;
    scheduleMenu(opener, { now: clock.now(), label, pick: set, custom: () => {
      const { dateInput, timeInput, fields } = timeFields(clock.now(), current);
      this.views.dialogs.open({
        title,
        ok,
        fields,
        submit: async () => {
          const at = customAt(dateInput.value, timeInput.value, timeZone());
          const problem = timeProblem(at, clock.now());
          if (problem) throw new Error(problem);
          set(at);
        },
      });
    } });
  }

  /**
   * Change the text of a scheduled message, and its time if one is typed in "When" (as
   * `/remind` reads it: when.js), in a dialog.
   */
  editScheduled(item) {
    if (!this.state) return;
    const box = h("textarea", { id: "scheduled-edit-text", rows: "5", required: true },
      item.text);
    const when = h("input", { id: "scheduled-edit-when", type: "text", autocomplete: "off",
      placeholder: "tomorrow 9:00", "aria-describedby": "scheduled-edit-when-hint" });
    this.views.dialogs.open({
      title: "Edit the scheduled message",
      ok: "Save",
      fields: [h("label", { for: "scheduled-edit-text" },
        `To be sent ${whenText(item.send_at, clock.now(), timeZone())}`), box,
      h("label", { for: "scheduled-edit-when" }, "New time (optional)"), when,
      h("p", { class: "hint", id: "scheduled-edit-when-hint" },
        "Blank keeps the time: in 2h, tomorrow, tomorrow 17:30, 9:00…")],
      submit: async () => {
        if (!box.value.trim()) throw new Error("A message needs some text: delete it instead.");
        const now = clock.now();
        const time = editedTime(when.value, now, timeZone());
        if (time.problem) throw new Error(time.problem);
        this.act(model.editScheduledText, item.item, box.value, { sendAt: time.at, now });
      },
    });
  }

  /**
   * Open a search result (or a saved message, from `panel`): its room at its message. A
   * public room the person is not in is joined first, once they said so.
   */
  openResult(result, panel = this.views.search) {
    if (!this.state) return;
    const target = { room: result.room, msgId: result.msg_id, seq: result.seq,
      thread: result.thread ?? null, broadcast: result.broadcast === true };
    const room = this.state.rooms.get(result.room);
    if (room && !room.draft) {
      this.act(model.openResult, target);
      panel.itemOpened();
      return;
    }
    if (result.room.startsWith("@")) {
      toast("That conversation is not open on this page.");
      return;
    }
    if (!this.online) {
      toast("Not connected right now; try again in a moment.");
      return;
    }
    this.views.dialogs.open({
      title: `Join #${result.room}?`,
      ok: "Join",
      fields: [h("p", { class: "confirm-text" }, `The message is in #${result.room}, a room you `
        + "are not in. Join it to read the message where it was said.")],
      submit: async () => {
        await this.ask("join", { room: result.room });
        // Once the dialog has closed (and given the focus back to the result): the message
        // takes the focus then.
        $("dialog").addEventListener("close", () => {
          this.act(model.openResult, target);
          panel.itemOpened();
        }, { once: true });
      },
    });
  }

  // -- files ---------------------------------------------------------------------------------

  /** Files attached in `room`'s box: kept here under new keys, handed to the state. */
  attach(files, room) {
    if (!this.state) return [];
    const items = files.map((blob) => ({ key: newNonce(), name: blob.name || "file",
      size: blob.size, type: blob.type, blob }));
    for (const item of items) this.blobs.set(item.key, { blob: item.blob, name: item.name });
    this.act(model.attachFiles, { room, files: items.map(({ blob, ...meta }) => meta) });
    // Those the state refused (too many, no room to upload to) are not kept.
    if (this.state) this.forgetUploads(new Set(this.state.uploads.map((item) => item.key)));
    return items.map((item) => item.key);
  }

  /** Send the bytes of upload `key` (an effect of the state: it is now "uploading"). */
  upload(key, room) {
    const held = this.blobs.get(key);
    if (!held || !this.session) {
      this.act(model.uploadFailed, key, { status: 0, message: "" });
      return;
    }
    if (held.stop) held.stop();
    held.stop = api.uploadFile(this.session.token, room, held.blob, held.name, {
      onProgress: (loaded, total) => this.act(model.uploadProgress, key, loaded, total),
      onDone: (file) => {
        held.stop = null;
        this.act(model.uploadDone, key, file);
      },
      onFailed: (answer) => {
        held.stop = null;
        this.act(model.uploadFailed, key, answer);
      },
    });
  }

  /** Stop the uploads and forget the bytes of every key but those in `keep`. */
  forgetUploads(keep) {
    for (const [key, held] of this.blobs) {
      if (keep.has(key)) continue;
      if (held.stop) held.stop();
      this.blobs.delete(key);
    }
  }

  /**
   * Which of the files of the refused send `nonce` the server still has: those it gives links
   * for (docs/protocol.md, `POST /api/files/links`: the files the user may read; an expired
   * upload is not one).
   */
  async checkFiles({ nonce, ids, error }) {
    const session = this.session;
    if (!session) return;
    let links;
    try {
      links = await api.fileLinks(session.token, ids);
    } catch {
      if (this.session === session) this.act(model.filesUnchecked, nonce, error);
      return;
    }
    if (this.session !== session) return;
    this.act(model.filesChecked, nonce, links.map((link) => link && link.id), error);
  }

  async fetchLinks(ids) {
    const session = this.session;
    if (!session) return;
    try {
      const links = await api.fileLinks(session.token, ids);
      if (this.session === session) this.act(model.linksReceived, ids, links, clock.now());
    } catch {
      if (this.session === session) this.act(model.linksFailed, ids, clock.now());
    }
  }

  /** Download a file with the token (no signed link at hand): its bytes, saved under its name. */
  async download(file) {
    if (!this.session) return;
    try {
      const blob = await api.fetchFile(this.session.token, file.url);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: file.name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      toast(`Cannot download ${file.name}: ${error.message}`);
    }
  }

  // -- slash commands (commands.js) ----------------------------------------------------------

  /**
   * The slash command `text` typed in a box (`box`: "room" or "thread"), carried out through
   * the page's own operations: null when the text is a message to send as it is, else a
   * promise of the outcome: {} (done: the box is emptied), {problem}, {note} or {help}
   * (shown under the box; with a problem the text stays).
   */
  runCommand(text, box) {
    if (!this.state) return null;
    const plan = planCommand(text, { room: currentRoom(this.state),
      profile: profiles.profileOf(this.state.profiles, this.state.me),
      dndUntil: this.state.dndUntil ?? null, now: clock.now(), timeZone: timeZone(),
      maxText: this.state.maxText || undefined, sections: this.state.sections,
      me: this.state.me });
    return plan === null ? null : this.carry(plan, box);
  }

  async carry(plan, box) {
    const { dialogs, layout, search } = this.views;
    const offline = { problem: "Not connected right now: try again in a moment." };
    const changed = (action, ...args) => {
      const before = this.state.outbox;
      this.act(action, ...args);
      return Boolean(this.state) && this.state.outbox !== before;
    };
    const now = clock.now();
    switch (plan.do) {
      case undefined: return { problem: plan.problem };
      case "send": {
        const sent = box === "thread"
          ? changed(model.replyInThread, { text: plan.text, nonce: newNonce(), now })
          : changed(model.compose, { text: plan.text, nonce: newNonce(), now });
        return sent ? {} : { problem: "It cannot be sent here now." };
      }
      case "ask": {
        for (const { op, fields } of plan.requests) {
          try {
            await this.ask(op, fields);
          } catch (error) {
            return { problem: error.message };
          }
          if (op === "join") layout.roomChosen();
        }
        return {};
      }
      case "dialog": {
        if (plan.name === "drafts") { // (the page's own list: offline too)
          this.views.drafts.open();
          return {};
        }
        if (!this.online) return offline;
        if (plan.name === "keywords" && this.state.keywords.list === null) {
          return { problem: "This server does not keep notification keywords." };
        }
        if (plan.name === "topic") dialogs.editTopic(this.state);
        else if (plan.name === "leave") dialogs.confirmLeave(this.state);
        else if (plan.name === "keywords") this.views.keywords.open(plan.prefill);
        else this.pollDialogs[box](plan.prefill);
        return {};
      }
      case "dm": {
        // Only into that conversation: were it not opened, the text would go to the room.
        const name = conversationName(this.state.me, plan.users);
        this.choose(model.openConversation, plan.users);
        if (!this.state || name === null || this.state.current !== name) {
          return { problem: "That conversation cannot be opened." };
        }
        if (plan.text && !changed(model.compose, { text: plan.text, nonce: newNonce(), now })) {
          return { problem: "The conversation is open, but the text could not be sent." };
        }
        return {};
      }
      case "close":
        if (!this.online) return offline;
        this.act(model.closeConversation, plan.room);
        return {};
      case "readall":
        if (!this.online) return offline;
        this.readAll(false);
        return {};
      case "section": {
        if (!this.online) return offline;
        let id = plan.section ?? null;
        let name = plan.name;
        if (plan.create !== undefined) {
          try {
            const reply = await this.ask("create_section", { name: plan.create });
            id = createdId(reply) ?? named(this.state.sections.confirmed, plan.create)?.id ?? null;
          } catch (error) {
            return { problem: `No section was made: ${sectionRefusal(error, plan.create)}` };
          }
          if (id === null) return { problem: "The section was made, but the room was not moved." };
          name = plan.create;
        }
        this.act(model.moveToSection, plan.room, id);
        return { note: `Moved to ${name}.` };
      }
      case "notify":
        if (!this.online) return offline;
        this.act(model.setNotify, plan.room, plan.level);
        return { note: plan.level === "none" ? "This room is muted: /unmute turns it back on."
          : "This room's notifications are on again." };
      case "dnd":
        if (!this.online) return offline;
        if (plan.off) this.act(model.resumeNotifications);
        else this.act(model.pauseNotifications, { duration: plan.duration });
        return {};
      case "status":
        try {
          await this.ask("set_profile", plan.body);
        } catch (error) {
          return { problem: `Your status was not changed: ${error.message}` };
        }
        return {};
      case "remind":
        try {
          await this.ask("remind", { text: plan.text, remind_at: plan.remindAt,
            nonce: newNonce(), ...(plan.user ? { user: plan.user } : {}) });
        } catch (error) {
          return { problem: reminders.refusal(error, plan.user) };
        }
        if (plan.user) {
          return { note: `${plan.user} will be reminded: ${new Date(plan.remindAt).toLocaleString()}.` };
        }
        return { note: `Reminder set: ${new Date(plan.remindAt).toLocaleString()}. The Saved panel lists it.` };
      case "poll": {
        const poll = { options: plan.options, multiple: plan.multiple };
        const sent = box === "thread"
          ? changed(model.replyInThread, { text: plan.question, poll, nonce: newNonce(), now })
          : changed(model.composePoll, { question: plan.question, ...poll, nonce: newNonce(),
            now });
        return sent ? {} : { problem: "The poll cannot be sent here now." };
      }
      case "search":
        search.open();
        $("search-input").value = plan.query;
        this.act(model.searchFor, plan.query);
        return {};
      case "help": return { help: commandsFor("") };
      default: return { note: plan.text };
    }
  }

  /** Send a request; its reply (or "disconnected") comes back through `receive`. */
  send(request) {
    if (!this.state) return;
    const { op, ...fields } = request;
    if (!this.online) {
      this.receive({ op: "error", id: null, code: "disconnected", message: "not connected" },
        request);
      return;
    }
    this.conn.request(op, fields).catch(() => {}); // the state has it through onReply
  }

  /** A request whose outcome a dialog waits for (the state has it first, through onReply). */
  ask(op, fields) {
    // A refusal with the code a lost connection has, so that callers tell it apart (resend
    // once online, say "not connected") whether the socket was down before or during it.
    if (!this.online) {
      return Promise.reject(new RequestError("disconnected", "Not connected right now."));
    }
    return this.conn.request(op, fields);
  }

  // -- sections (sections.js, view-sections.js) ---------------------------------------------

  /** Room `name`'s "Move to…" menu, where its own menu was (`opener`, `point`). */
  moveMenu(name, opener, point) {
    const room = this.state && this.state.rooms.get(name);
    if (!room) return;
    moveMenu(opener, {
      state: this.state, room, point,
      move: (id) => this.act(model.moveToSection, name, id),
      newSection: () => this.newSection(name),
      // The sidebar is drawn anew on every change: the room's button of the moment.
      back: () => (opener.isConnected ? opener : [...document.querySelectorAll(
        "#sidebar li[data-room]")].find((li) => li.dataset.room === name)
        ?.querySelector("button") || $("composer-text")),
    });
  }

  /**
   * The "New section" dialog: made by the server's `ok` (its `sections` event tells every
   * device); from a room's "Move to…" (`room`), the room is moved into it then.
   */
  newSection(room = null) {
    if (!this.state) return;
    const form = nameFields();
    this.views.dialogs.open({
      title: room ? "Move to a new section" : "New section",
      ok: "Create",
      fields: form.fields,
      submit: async () => {
        const name = form.value();
        const problem = nameProblem(this.state.sections.confirmed, name);
        if (problem) throw new Error(problem);
        const reply = await this.ask("create_section", { name })
          .catch(refusedAs((error) => sectionRefusal(error, name)));
        const made = createdId(reply) ?? named(this.state.sections.confirmed, name)?.id ?? null;
        if (room && made !== null) this.act(model.moveToSection, room, made);
      },
    });
  }

  /** Rename section `id`, in a dialog (a name taken is said there). */
  renameSection(id) {
    const section = this.state && findSection(this.state.sections.shown, id);
    if (!section) return;
    const form = nameFields(section.name);
    this.views.dialogs.open({
      title: `Rename ${section.name}`,
      ok: "Rename",
      fields: form.fields,
      submit: async () => {
        const name = form.value();
        if (name === section.name) return;
        const problem = nameProblem(this.state.sections.confirmed, name, id);
        if (problem) throw new Error(problem);
        await this.ask("edit_section", { section: id, name })
          .catch(refusedAs((error) => sectionRefusal(error, name)));
      },
    });
  }

  /** Delete section `id` once confirmed: its rooms go back to their usual lists. */
  confirmDeleteSection(id) {
    const section = this.state && findSection(this.state.sections.shown, id);
    if (!section) return;
    this.views.dialogs.confirm({
      title: `Delete the section ${section.name}?`,
      ok: "Delete",
      danger: true,
      // (Its favourites too, listed in Favourites: the server moves them as well.)
      fields: deleteWords(sectionHolds(this.state, id)),
      submit: async () => {
        await this.ask("delete_section", { section: id }).catch(refusedAs(sectionRefusal));
      },
    });
  }

  // -- user groups (view-usergroups.js) ------------------------------------------------------

  /** The "New user group" dialog: created by the server's `ok` (its event tells every page). */
  createUserGroup() {
    if (!this.state) return;
    const form = createFields(this.state);
    this.views.dialogs.open({
      title: "New user group",
      ok: "Create",
      fields: form.fields,
      submit: async () => {
        const { name, description, members } = form.values();
        await this.ask("create_user_group", { name, description, members })
          .catch(refusedAs(groupRefusal));
        this.act(model.showUserGroup, name);
      },
    });
  }

  /** Change a group's description and members, in a dialog. */
  editUserGroup(group, members) {
    if (!this.state) return;
    const form = editFields(this.state, group, members);
    this.views.dialogs.open({
      title: `Edit @${group.name}`,
      ok: "Save",
      fields: form.fields,
      submit: async () => {
        const fields = groupEdit(group, members, form.values());
        if (!fields) return;
        await this.ask("edit_user_group", fields).catch(refusedAs(groupRefusal));
        this.act(model.showUserGroup, group.name); // its members as they are now
      },
    });
  }

  /** Delete a group once confirmed: its mentions stay plain text in the messages to come. */
  confirmDeleteUserGroup(group) {
    if (!this.state) return;
    // The Delete button goes with the group's page: the focus stays in the panel.
    this.views.dialogs.focusBackIn(this.views.userGroups, $("usergroups-panel"));
    this.views.dialogs.confirm({
      danger: true,
      title: `Delete @${group.name}?`,
      ok: "Delete",
      fields: [h("p", { class: "confirm-text" }, `@${group.name} will no longer notify its `
        + `${group.members === 1 ? "member" : `${group.members} members`}. This cannot be undone.`)],
      submit: async () => {
        await this.ask("delete_user_group", { name: group.name }).catch(refusedAs(groupRefusal));
        this.act(model.closeUserGroup);
      },
    });
  }

  /** Delete a scheduled message once confirmed (as Slack asks): it is not sent. */
  confirmCancelScheduled(item) {
    if (!this.state) return;
    // The Delete button went with its item: the focus stays in the panel (where Escape closes
    // it), not on the page's body.
    this.views.dialogs.focusBackIn(this.views.scheduled, $("scheduled-panel"));
    this.views.dialogs.confirm({
      danger: true,
      title: "Delete this scheduled message?",
      ok: "Delete",
      fields: [
        h("p", { class: "confirm-text" },
          `It will not be sent${filesOf(item).length ? ", and its files will be gone" : ""}. `
          + "This cannot be undone."),
        h("blockquote", { class: "confirm-quote" },
          excerpt(item.text, 200) || filesSummary(item)),
      ],
      submit: async () => this.act(model.cancelScheduled, item.item),
    });
  }

  /** Ask before deleting message `msgId` of the open room (a dialog), then delete it. */
  confirmDelete(msgId) {
    const room = this.state && this.state.rooms.get(this.state.current);
    const message = room && room.byMsgId(msgId);
    if (!message) return;
    this.views.dialogs.whenClosed(() => this.views.composer.focus());
    this.views.dialogs.confirm({
      danger: true,
      title: "Delete this message?",
      ok: "Delete",
      fields: [
        h("p", { class: "confirm-text" },
          `It will show as deleted for everyone${filesOf(message).length
            ? ", and its files will be gone" : ""}. This cannot be undone.`),
        h("blockquote", { class: "confirm-quote" },
          excerpt(message.text, 200) || filesSummary(message)),
      ],
      submit: async () => this.act(model.deleteMessage,
        { room: room.name, msgId, key: newNonce(), now: clock.now() }),
    });
  }

  // -- rendering -----------------------------------------------------------------------------

  /** Render every view from the state, once for all the changes of the current task. */
  render() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    queueMicrotask(() => {
      this.renderQueued = false;
      if (!this.state) return;
      const now = clock.now();
      const {
        sidebar, conversation, members, composer, connection, extras, attachments, viewer,
        alertsView, search, moderation, admin, pins, profile, emoji, thread, saved, threads,
        scheduled, userGroups, invites, keywords, drafts: draftsView,
      } = this.views;
      // (The scheduled messages' view last: its clocks follow the Send buttons drawn before.)
      for (const view of [sidebar, conversation, members, composer, connection, extras,
        attachments, viewer, alertsView, search, moderation, admin, pins, profile, emoji,
        thread, saved, threads, draftsView, scheduled, userGroups, invites, keywords]) {
        view.render(this.state, now);
      }
      this.readers.render(this.state); // (a reader's name learnt since it opened)
      // The names drawn whose display names and statuses the page has not heard of are
      // asked for (profiles.js; checked first, so that a render asks nothing twice).
      const names = profiles.namesOnScreen(this.state);
      if (profiles.lacking(this.state.profiles, names)) this.act(model.wantProfiles, names);
      // The notification of the room the person is looking at has been seen.
      if (this.state.current !== null && alerts.looking(this.state, this.state.current)) {
        notifier.dismiss(`chatd:${this.state.current}`);
      }
      // The typing line changes by itself when someone's indicator expires.
      clearTimeout(this.typingTimer);
      const next = nextTypingChange(this.state, now);
      if (next !== null) this.typingTimer = setTimeout(() => this.render(), next - now + 1);
      // So do the Saved panel's reminders ("in 5 min"), while it is open.
      clearTimeout(this.laterTimer);
      const due = saved.isOpen ? nextTextChange(this.state.saved, now) : null;
      if (due !== null) {
        this.laterTimer = setTimeout(() => this.render(), Math.min(MAX_TIMER_MS, due - now + 1));
      }
      // And the open room's thread summaries ("last reply 5 min ago"): a render when the first
      // of them changes its words (once a minute at most; only the summaries that changed are
      // drawn again, view-message.js's pieces).
      clearTimeout(this.summaryTimer);
      const words = nextSummaryChange(currentRoom(this.state), now);
      if (words !== null) {
        this.summaryTimer = setTimeout(() => this.render(),
          Math.min(MAX_TIMER_MS, words - now + 1));
      }
    });
  }
}

function newNonce() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The name this tab's page had before it was reloaded (kept in sessionStorage, which is the
 * tab's own and survives a reload), or null; `tab` is kept as the name it has now.
 */
function followTab(tab) {
  try {
    const before = sessionStorage.getItem(TAB_KEY);
    sessionStorage.setItem(TAB_KEY, tab);
    return before;
  } catch {
    return null; // storage refused: a tab still open is told apart by its lock only
  }
}

function outboxKey(me) {
  return `chatd.outbox.${me.toLowerCase()}`;
}

function loadOutbox(me) {
  try {
    return outbox.restore(JSON.parse(localStorage.getItem(outboxKey(me)) || "[]"));
  } catch {
    return []; // a damaged entry is an empty outbox
  }
}

function saveOutbox(me, items) {
  if (items.length) localStorage.setItem(outboxKey(me), JSON.stringify(outbox.save(items)));
  else localStorage.removeItem(outboxKey(me));
}

function draftsKey(me) {
  return `chatd.drafts.${me.toLowerCase()}`;
}

function syncedKey(me) {
  return `chatd.drafts-synced.${me.toLowerCase()}`;
}

/** When the page last heard the server's drafts (drafts.js `syncedAt`), or null. */
function loadSyncedAt(me) {
  try {
    const value = JSON.parse(localStorage.getItem(syncedKey(me)) || "null");
    return Number.isSafeInteger(value) ? value : null;
  } catch {
    return null; // a damaged entry: as if never heard
  }
}

function saveSyncedAt(me, at) {
  try {
    if (Number.isSafeInteger(at)) localStorage.setItem(syncedKey(me), JSON.stringify(at));
  } catch {
    // Storage full or refused: a reload then keeps the drafts typed here (none is lost).
  }
}

function loadBoxes(me) {
  try {
    return drafts.restoreBoxes(JSON.parse(localStorage.getItem(draftsKey(me)) || "{}"));
  } catch {
    return drafts.restoreBoxes(null); // a damaged entry is empty boxes
  }
}

function alertsKey(me) {
  return `chatd.alerts.${me.toLowerCase()}`;
}

function loadAlerts(me) {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(alertsKey(me)) || "null");
  } catch {
    // a damaged entry is the defaults
  }
  return alerts.restoreSettings(saved, notifier.permission());
}

function saveAlerts(me, settings) {
  try {
    localStorage.setItem(alertsKey(me), JSON.stringify(alerts.saveSettings(settings)));
  } catch {
    // Storage full or refused: the settings hold until the page is reloaded.
  }
}

function seenKey(me) {
  return `chatd.seen.${me.toLowerCase()}`;
}

function loadSeen(me) {
  try {
    return missed.restoreSeen(JSON.parse(localStorage.getItem(seenKey(me)) || "null"));
  } catch {
    return null; // a damaged entry: nothing remembered
  }
}

/** What this browser kept of `me` (drafts, what the page saw, the alerts told), for one who
 * logged out. */
function forgetKept(me) {
  localStorage.removeItem(draftsKey(me));
  localStorage.removeItem(syncedKey(me));
  localStorage.removeItem(seenKey(me));
  tabsStore.forget(me); // the alerts told lately (tabs.js)
}
