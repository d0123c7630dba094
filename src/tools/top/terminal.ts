/**
 * The interactive view on a terminal: alternate screen, raw-mode keys, redraws through log-update.
 * Whatever ends the session (q, Ctrl-C, SIGTERM, SIGINT, an error anywhere) goes through one
 * `finish` that restores the terminal before anything else is printed.
 */
import { createLogUpdate } from 'log-update';
import type { Frame, TopTracker } from './frame.ts';
import type { TopSource } from './model.ts';
import { type Paint, renderScreen, visibleVmRows } from './screen.ts';
import { applyKey, splitKeys, type ViewState } from './state.ts';

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
}

const ALT_SCREEN_ON = '\u001b[?1049h\u001b[H';
const ALT_SCREEN_OFF = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

/** Exit codes: 0 after q or Ctrl-C, 128 + signal number after a signal, 2 after an error. */
export function runInteractive(
  source: TopSource,
  tracker: TopTracker,
  initial: ViewState,
  io: InteractiveIo,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let state = initial;
    let frame: Frame | undefined;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    let log = createLogUpdate(io.stdout as NodeJS.WriteStream);

    const draw = () => {
      if (!frame) return;
      const size = { columns: io.stdout.columns ?? 80, rows: Math.max(3, (io.stdout.rows ?? 24) - 1) };
      const lines = renderScreen(frame, state, size, { paint: io.paint, interactive: true });
      // Always the same number of lines: log-update patches changed blocks in place, which is only
      // right when a block keeps its length (a removed line in the middle would shift nothing).
      while (lines.length < size.rows) lines.push('');
      log(lines.join('\n'));
    };

    const sampleNow = () => {
      timer = undefined;
      guard(() => {
        frame = tracker.push(source.sample());
        draw();
        schedule();
      });
    };

    const schedule = () => {
      if (timer) clearTimeout(timer);
      timer = state.paused || finished ? undefined : setTimeout(sampleNow, state.intervalMs);
    };

    const onData = (data: string) =>
      guard(() => {
        for (const key of splitKeys(data)) {
          const vmKeys = frame ? visibleVmRows(frame, state).map((r) => r.key) : [];
          const wasPaused = state.paused;
          const result = applyKey(state, key, vmKeys);
          state = result.state;
          if (result.quit) return finish(0);
          if (wasPaused && !state.paused) sampleNow();
          else if (result.intervalChanged || state.paused !== wasPaused) schedule();
        }
        draw();
      });

    const onResize = () =>
      guard(() => {
        // Start over on a clean screen: the old frame's line count means nothing after a resize.
        io.stdout.write('\u001b[2J\u001b[H');
        log = createLogUpdate(io.stdout as NodeJS.WriteStream);
        draw();
      });

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
        log.done();
      } catch {
        // The terminal may already be gone (SIGHUP); restoring the rest still matters.
      }
      try {
        io.stdin.setRawMode?.(false);
      } catch {}
      io.stdin.pause();
      io.stdout.write(SHOW_CURSOR + ALT_SCREEN_OFF);
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
      io.stdout.write(ALT_SCREEN_ON);
      io.stdin.setRawMode?.(true);
      io.stdin.setEncoding('utf8');
      io.stdin.on('data', onData);
      io.stdin.resume();
      io.stdout.on('resize', onResize);
      sampleNow();
    });
  });
}
