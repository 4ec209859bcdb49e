import { formatDuration } from './table.ts';

/** Where progress goes: a write function and whether it is an interactive terminal. */
export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPIN_MS = 80;

/**
 * One line per step; `wait` shows a spinner with the elapsed time on a TTY and
 * two plain lines (start, end) otherwise, so logs and CI output stay readable.
 */
export class Progress {
  private spinning = 0;

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number = Date.now,
  ) {}

  /** A scenario header. */
  heading(text: string): void {
    this.sink.write(`\n${text}\n`);
  }

  step(message: string): void {
    this.sink.write(`  • ${message}\n`);
  }

  note(message: string): void {
    this.sink.write(`    ${message}\n`);
  }

  async wait<T>(message: string, work: Promise<T>): Promise<T> {
    const start = this.now();
    const elapsed = (): string => formatDuration(this.now() - start);
    let timer: NodeJS.Timeout | undefined;
    // Nested waits on a TTY would fight over the line: only the outermost spins.
    const spin = this.sink.isTTY && this.spinning === 0;
    this.spinning++;
    if (spin) {
      let frame = 0;
      const draw = (): void => {
        this.sink.write(`\r\x1b[2K  ${FRAMES[frame++ % FRAMES.length]} ${message} (${elapsed()})`);
      };
      draw();
      timer = setInterval(draw, SPIN_MS);
    } else {
      this.sink.write(`  … ${message}\n`);
    }
    const finish = (mark: string): void => {
      this.spinning--;
      if (timer !== undefined) clearInterval(timer);
      this.sink.write(`${spin ? '\r\x1b[2K' : ''}  ${mark} ${message} (${elapsed()})\n`);
    };
    try {
      const value = await work;
      finish('✔');
      return value;
    } catch (error) {
      finish('✖');
      throw error;
    }
  }
}

/** A sink that drops everything (for `--json` without progress). */
export const nullSink: ProgressSink = { write() {}, isTTY: false };
