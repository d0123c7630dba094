/** The lifecycle line: the newest events (created, destroyed, domid reused, …) that fit in one line. */

import type { LifecycleEvent, LifecycleKind } from '../../attach/sample.ts';
import { clock, textWidth, truncate } from './format.ts';

const LABELS: Record<LifecycleKind, string> = {
  created: 'created',
  destroyed: 'destroyed',
  'domid-reused': 'domid reused',
  shutdown: 'shutdown',
  appeared: 'appeared',
  vanished: 'vanished',
};

export function describeEvent(event: LifecycleEvent): string {
  const label = LABELS[event.kind] ?? event.kind;
  return `${clock(event.at)} ${label}${event.text ? `: ${event.text}` : ''}`;
}

/**
 * "events: <newest> │ <older> │ …" cut to `width`; events that do not fit whole are left out
 * (the newest is always shown, cut if it must be). Expects newest first.
 */
export function eventsLine(events: readonly LifecycleEvent[], width: number): string {
  const prefix = 'events: ';
  if (events.length === 0) return truncate(`${prefix}none yet`, width);
  let line = prefix + describeEvent(events[0]!);
  for (const e of events.slice(1)) {
    const next = `${line} │ ${describeEvent(e)}`;
    if (textWidth(next) > width) break;
    line = next;
  }
  return truncate(line, width);
}
