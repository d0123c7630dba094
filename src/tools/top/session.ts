/**
 * The interactive view without the terminal's plumbing: samples and keys in, the bytes of the
 * current screen out. The loop in terminal.ts owns timers, streams and signals and feeds this;
 * tests feed it directly and replay its bytes into a terminal model.
 */

import type { HostSample } from '../../attach/sample.ts';
import type { Frame, TopTracker } from './frame.ts';
import { repaint } from './repaint.ts';
import { type Paint, renderScreen, type ScreenSize, visibleVmRows } from './screen.ts';
import { applyKey, type KeyResult, type ViewState } from './state.ts';

export interface TerminalSize {
  columns: number;
  rows: number;
}

export class TopSession {
  #frame: Frame | undefined;

  constructor(
    private readonly tracker: TopTracker,
    public state: ViewState,
    private readonly paint: Paint,
    private readonly note?: string,
  ) {}

  get frame(): Frame | undefined {
    return this.#frame;
  }

  push(sample: HostSample): void {
    this.#frame = this.tracker.push(sample);
  }

  /** One key (as splitKeys gives them), with the VMs listed right now for ↑/↓ and drilling in. */
  key(key: string): KeyResult {
    const vmKeys = this.#frame ? visibleVmRows(this.#frame, this.state).map((r) => r.key) : [];
    const result = applyKey(this.state, key, vmKeys);
    this.state = result.state;
    return result;
  }

  /** The screen's lines for a terminal of this size: one row is left free at the bottom. */
  lines(terminal: TerminalSize, paint: Paint = this.paint): string[] {
    if (!this.#frame) return [];
    return renderScreen(this.#frame, this.state, screenSize(terminal), { paint, interactive: true, note: this.note });
  }

  /** Bytes that show the current screen whatever the terminal showed before; '' before the first sample. */
  draw(terminal: TerminalSize): string {
    if (!this.#frame) return '';
    return repaint(this.lines(terminal), terminal.rows);
  }
}

export function screenSize(terminal: TerminalSize): ScreenSize {
  return { columns: terminal.columns, rows: Math.max(3, terminal.rows - 1) };
}
