// chatd's web client: log in over HTTP, then speak the NDJSON protocol (docs/protocol.md) over
// /ws. This module only wires the parts together, in the spirit of TodoMVC:
//
//   state.js    the state and every change to it: apply(state, frame) for what the server
//               sends, one reducer per local action; pure (no DOM, no I/O, no clock)
//   outbox.js   sends not yet acknowledged, resent with the same nonce; pure
//   drafts.js   each room's half-typed message and uploaded files, kept per room (and across
//               a reload), merged with the server's drafts and saved there; pure
//   readmarks.js  where a room opens, and how far what was seen moves the read marker; pure
//   sightings.js  which messages of the list were seen on screen (for readmarks.js)
//   textlimit.js  the longest message, counted as the server counts; pure
//   uploads.js  the files attached in the message box, queued → uploading → done | failed; pure
//   links.js    signed links to files (for <img> and downloads), renewed before they expire; pure
//   files.js    sizes, kinds and preview boxes of files; pure
//   alerts.js   what a new message alerts (notification levels), the title's count; pure
//   missed.js   what the rooms not replayed missed while the page was away (from their
//               room objects' counts), told once per room when it comes back; pure
//   clock.js    the server's time as the page reckons it (the offset each welcome's `now`
//               gives), for comparing the server's `ts` with "now"
//   search.js   the search: query, pages of results, errors; pure
//   pins.js     the "Pinned" panel: the open room's pinned messages, paged, kept up to date; pure
//   threads.js  threads: a reply's change to its root's summary, what the timeline hides, the
//               thread panel (a thread of the open room, paged, kept up to date); pure
//   inbox.js    the threads the person follows: the Threads view's list, unread and mention
//               counts per thread, the sidebar's count; pure
//   saved.js    the messages the person saved for later and their reminders: the list, the
//               overdue count, the reminder presets' times by the person's time zone; pure
//   scheduled.js  the messages the person scheduled to be sent later: the list by send_at,
//               kept by events, the badge's counts, the times in words; pure
//   invites.js  invitation links: the sign-up page's invitation (#invite=TOKEN), the "Invite
//               people" dialog's choices and list of links; pure
//   email.js    email: the "Email notifications" dialog's state, the addresses the page opens
//               with (#email-confirmed, #reset=TOKEN), the password reset forms' rules; pure
//   export.js   "Download my data": the dialog's state (the latest export, being made, ready,
//               failed or expired), when to ask again, refusals in words; pure
//   admin.js    moderation and administration: who gets which control, ban durations, the
//               admin API's answers parsed and paged, figures formatted; pure
//   store.js    one room: messages by seq, resume point, unread; pure
//   select.js   what the views show, derived from the state; pure
//   switcher.js  the quick switcher (Ctrl+K): what it lists and in which order; pure
//   view-*.js   one view per region of the page, rendering from the state
//   controller.js  frames and view events in, effects (requests, timers) out, then render
//   socket.js, api.js  the WebSocket (replies matched by id, reconnects) and the HTTP API
//   notifier.js  desktop notifications and the chime (the browser's APIs for alerts.js)
//   popup.js    small menus and panels anchored to a button
//   profiles.js  display names and custom statuses: the cache, the names to ask for (in
//               batches), when a status ends, how they read; pure
//   keywords.js  notification keywords: the shared rule, where a message's words are marked,
//               the person's list as the server keeps it; pure
//   idle.js     whether the person is using the page (5 minutes without input, or hidden),
//               for the server's `away`; pure
//
// Everything a user typed reaches the page through textContent, never innerHTML. The page's
// CSP forbids inline scripts and styles, so there are none, and no style attributes either.

import { Controller } from "./controller.js";
import { AdminView } from "./view-admin.js";
import { AlertsView } from "./view-alerts.js";
import { AttachmentsView } from "./view-attachments.js";
import { AuthView } from "./view-auth.js";
import { ComposerView } from "./view-composer.js";
import { ComposerExtrasView } from "./view-composer-extras.js";
import { ConnectionView } from "./view-connection.js";
import { ConversationView } from "./view-conversation.js";
import { DialogsView } from "./view-dialogs.js";
import { RemindersSetView } from "./view-remindersset.js";
import { RoomLinksView } from "./view-roomlinks.js";
import { EmailView } from "./view-email.js";
import { EmojiView } from "./view-emoji.js";
import { ExportView } from "./view-export.js";
import { InvitesView } from "./view-invites.js";
import { KeywordsView } from "./view-keywords.js";
import { LayoutView } from "./view-layout.js";
import { MembersView } from "./view-members.js";
import { ModerationView } from "./view-moderation.js";
import { PinsView } from "./view-pins.js";
import { ProfileView } from "./view-profile.js";
import { SavedView } from "./view-saved.js";
import { ScheduledView } from "./view-scheduled.js";
import { SearchView } from "./view-search.js";
import { SidebarView } from "./view-sidebar.js";
import { SwitcherView } from "./view-switcher.js";
import { ThreadView } from "./view-thread.js";
import { ThreadsView } from "./view-threads.js";
import { DraftsView } from "./view-drafts.js";
import { UserGroupsView } from "./view-usergroups.js";
import { ViewerView } from "./view-viewer.js";

const conversation = new ConversationView();
// The room links' dialog and join screen borrow the dialog of the others.
const dialogs = new DialogsView();
const controller = new Controller({
  auth: new AuthView(),
  sidebar: new SidebarView(),
  switcher: new SwitcherView(),
  conversation,
  members: new MembersView(),
  composer: new ComposerView(),
  dialogs,
  connection: new ConnectionView(),
  layout: new LayoutView(),
  extras: new ComposerExtrasView(),
  attachments: new AttachmentsView(),
  viewer: new ViewerView(),
  alertsView: new AlertsView(),
  search: new SearchView(),
  pins: new PinsView(),
  saved: new SavedView(),
  threads: new ThreadsView(),
  drafts: new DraftsView(),
  scheduled: new ScheduledView(),
  userGroups: new UserGroupsView(),
  moderation: new ModerationView(),
  admin: new AdminView(),
  invites: new InvitesView(),
  roomLinks: new RoomLinksView(dialogs),
  remindersSet: new RemindersSetView(dialogs),
  email: new EmailView(),
  exporting: new ExportView(),
  profile: new ProfileView(),
  emoji: new EmojiView(),
  keywords: new KeywordsView(),
  // The thread panel draws its messages as the conversation does, with its handlers.
  thread: new ThreadView(conversation),
});
controller.start();
