/** Notifications to where users are (README "Notifications"): messages, sinks, the outbox and its dispatcher. */
export { NOTIFY_STATUSES, factsFromRow, formatNotification, toneOf, type NotificationFacts, type NotificationMessage, type NotificationRow, type NotifyStatus, type NotifyTone } from './message.js';
export { idempotencyKey, signBody, sinksFromConfig, telegramSink, webhookBody, webhookSink, type Delivery, type SendOutcome, type Sink } from './sinks.js';
export { claimDue, nextDueAt, outboxDepth, outboxDepthBySink, recordAttempt, syncSinks, type AttemptRecord, type ClaimedNotification } from './outbox.js';
export { createNotifyDispatcher, type DispatcherSettings, type NotifyDispatcher } from './dispatcher.js';

/** The channel the outbox trigger NOTIFYs on each queued message (payload: the reservation id). */
export const NOTIFICATIONS_CHANNEL = 'reservd_notifications';
