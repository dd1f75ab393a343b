/** Yes/no questions on the terminal (SPEC §6: "on a TTY it asks"). */
import readline from 'node:readline/promises';

/** Asks on stderr, reads stdin; anything but y/yes is no. */
export async function askYesNo(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
