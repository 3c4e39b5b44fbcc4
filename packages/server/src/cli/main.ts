#!/usr/bin/env node
import { publishCommand, publishHelp } from './publish-command.js';
import { serveCommand, serveHelp } from './serve-command.js';
import { tokenCommand, tokenHelp } from './token-command.js';
import { type CommandIo, UsageError } from './usage.js';

const help = `Usage: pns <command> [flags]

Commands:
  serve     run the server
  token     print a session token for a user
  publish   publish a message through the HTTP API

Run \`pns <command> --help\` for a command's flags.
`;

async function main(argv: string[], io: CommandIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'serve':
        await serveCommand(args, io);
        return 0;
      case 'token':
        await tokenCommand(args, io);
        return 0;
      case 'publish':
        await publishCommand(args, io);
        return 0;
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        io.out(help);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)} (try: serve, token, publish)`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`pns ${command ?? ''}: ${error.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    throw error;
  }
}

const io: CommandIo = {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};
main(process.argv.slice(2), io).then(
  (code) => {
    // serve keeps running; other commands end here.
    if (code !== 0 || process.argv[2] !== 'serve') process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`pns: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

export { help as mainHelp, publishHelp, serveHelp, tokenHelp };
