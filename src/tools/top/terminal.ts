/**
 * The interactive view on a terminal: alternate screen, raw-mode keys, every frame a full repaint
 * (repaint.ts).
 * Whatever ends the session (q, Ctrl-C, SIGTERM, SIGINT, an error anywhere) goes through one
 * `finish` that restores the terminal before anything else is printed.
 */

import type { SampleSource } from '../../attach/sample.ts';
import { isErrno } from '../../errors.ts';
import type { TopTracker } from './frame.ts';
import { VIEW_BEGIN, VIEW_END } from './repaint.ts';
import type { Paint } from './screen.ts';
import { TopSession } from './session.ts';
import { splitKeys, type ViewState } from './state.ts';

export interface TerminalOut {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
  on(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
}

export interface TerminalIn {
  isTTY?: boolean;
  setRawMode?(raw: boolean): unknown;
  setEncoding(encoding: BufferEncoding): unknown;
  resume(): unknown;
  pause(): unknown;
  on(event: 'data', listener: (data: string) => void): unknown;
  off(event: 'data', listener: (data: string) => void): unknown;
}

export interface InteractiveIo {
  stdout: TerminalOut;
  stdin: TerminalIn;
  stderr: { write(text: string): unknown };
  paint: Paint;
  /** A line shown under the table (ScreenOptions.note). */
  note?: string;
}

/** Exit codes: 0 after q or Ctrl-C, 128 + signal number after a signal, 2 after an error. */
export function runInteractive(
  source: SampleSource,
  tracker: TopTracker,
  initial: ViewState,
  io: InteractiveIo,
): Promise<number> {
  return new Promise<number>((resolve) => {
    const session = new TopSession(tracker, initial, io.paint, io.note);
    let timer: NodeJS.Timeout | undefined;
    let finished = false;

    // A full repaint each time (whatever was on the screen before), so a resize needs nothing more.
    const draw = () => {
      const bytes = session.draw({ columns: io.stdout.columns ?? 80, rows: io.stdout.rows ?? 24 });
      if (bytes !== '') io.stdout.write(bytes);
    };

    const sampleNow = () => {
      timer = undefined;
      guard(() => {
        session.push(source.sample());
        draw();
        schedule();
      });
    };

    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = session.state.paused || finished ? undefined : setTimeout(sampleNow, session.state.intervalMs);
    };

    const onData = (data: string) =>
      guard(() => {
        for (const key of splitKeys(data)) {
          const wasPaused = session.state.paused;
          const result = session.key(key);
          if (result.quit) return finish(0);
          if (wasPaused && !session.state.paused) sampleNow();
          else if (result.intervalChanged || session.state.paused !== wasPaused) schedule();
        }
        draw();
      });

    const onResize = () => guard(draw);

    const onSigterm = () => finish(128 + 15);
    const onSigint = () => finish(128 + 2);
    const onSighup = () => finish(128 + 1);
    const onUncaught = (error: unknown) => finish(2, error);

    function guard(fn: () => void): void {
      if (finished) return;
      try {
        fn();
      } catch (error) {
        finish(2, error);
      }
    }

    function restoreTerminal(): void {
      try {
        io.stdin.setRawMode?.(false);
      } catch (e) {
        // The terminal went away (hang-up): nothing left to restore on it.
        if (!isErrno(e, 'EIO', 'EBADF', 'ENOTTY', 'EINVAL')) throw e;
      }
      io.stdin.pause();
      io.stdout.write(VIEW_END);
    }

    function finish(code: number, error?: unknown): void {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      io.stdin.off('data', onData);
      io.stdout.off('resize', onResize);
      process.off('SIGTERM', onSigterm);
      process.off('SIGINT', onSigint);
      process.off('SIGHUP', onSighup);
      process.off('uncaughtException', onUncaught);
      restoreTerminal();
      try {
        source.close();
      } catch (closeError) {
        error ??= closeError;
        if (code === 0) code = 2;
      }
      if (error !== undefined)
        io.stderr.write(`hvkit top: ${error instanceof Error ? error.message : String(error)}\n`);
      resolve(code);
    }

    process.on('SIGTERM', onSigterm);
    process.on('SIGINT', onSigint);
    process.on('SIGHUP', onSighup);
    process.on('uncaughtException', onUncaught);
    guard(() => {
      io.stdout.write(VIEW_BEGIN);
      io.stdin.setRawMode?.(true);
      io.stdin.setEncoding('utf8');
      io.stdin.on('data', onData);
      io.stdin.resume();
      io.stdout.on('resize', onResize);
      sampleNow();
    });
  });
}
