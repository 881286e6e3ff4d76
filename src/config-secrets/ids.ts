/**
 * Time-ordered UUIDs (RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits)
 * for row ids and the unique part of new coordinates. They are ordinary UUIDs to every reader;
 * being ordered by time, new rows land at the right edge of each B-tree index instead of on a
 * random page, so a commit writes (and syncs) a few pages instead of one per row.
 */
import { randomUUID } from 'node:crypto';

/** The time part of the last UUID made, reused while the millisecond lasts. */
let lastMillis = -1;
let timePrefix = '';

/**
 * A version 7 UUID: `tttttttt-tttt-7rrr-Vrrr-rrrrrrrrrrrr` (t = milliseconds since 1970 in hex,
 * V = variant 8–b). Unique in practice (74 random bits per millisecond); it reveals when it was made.
 */
export function timeOrderedUuid(now: number = Date.now()): string {
  if (now !== lastMillis) {
    const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12);
    timePrefix = `${time.slice(0, 8)}-${time.slice(8)}-7`;
    lastMillis = now;
  }
  // randomUUID() is xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx: keep its random "xxx-Vxxx-xxxxxxxxxxxx" tail.
  return timePrefix + randomUUID().slice(15);
}
