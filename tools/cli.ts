#!/usr/bin/env node
/**
 * `secure-etcd <command> [args]`: the operator commands shipped with the package (the npm `bin`).
 * A command is one row in `commands`; it returns its exit code.
 */
import { encryptionConfigStatusCommand } from "./commands/encryption-config-status";
import { preflightCommand } from "./commands/preflight";
import { promoteCommand } from "./commands/promote";
import { restoreCommand } from "./commands/restore";
import { snapshotMarkerCommand } from "./commands/snapshotMarker";
import { verifyEncryptionCommand } from "./commands/verify-encryption";
import type { CommandIo } from "./shared/commandLine";

interface Command {
  summary: string;
  run: (argv: readonly string[], io: CommandIo) => Promise<number>;
}

const commands: Record<string, Command> = {
  restore: {
    summary: "verify a snapshot from S3 or a file and print (or, on loopback, run) every member's restore",
    run: restoreCommand,
  },
  "snapshot-marker": {
    summary:
      "verify a snapshot in S3 and point the latest marker at it (after a restore lowered the revision)",
    run: snapshotMarkerCommand,
  },
  promote: {
    summary:
      "show (and with --apply write) a stack file's promotable settings moved into the next environment",
    run: promoteCommand,
  },
  preflight: {
    summary:
      "check a live cluster before a new etcd version: members on the upgrade floor, no zombie members, v2 store",
    run: preflightCommand,
  },
  "verify-encryption": {
    summary: "scan etcd: count values per encryption provider and key, name every plaintext entry",
    run: verifyEncryptionCommand,
  },
  "encryption-config-status": {
    summary: "ask every kube-apiserver which EncryptionConfiguration it has loaded; name the ones that lag",
    run: encryptionConfigStatusCommand,
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    "usage: secure-etcd <command> [args]   (secure-etcd <command> --help for its flags)",
    "",
    "commands:",
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join("\n");
}

/** Runs the named command; exit code 2 for a missing or unknown command. */
export async function secureEtcd(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(usage());
    return 0;
  }
  const command = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    io.err(
      name === undefined
        ? "secure-etcd: no command given"
        : `secure-etcd: unknown command ${JSON.stringify(name)}`,
    );
    io.err(usage());
    return 2;
  }
  return command.run(rest, io);
}

if (require.main === module)
  secureEtcd(process.argv.slice(2), { out: console.log, err: console.error }).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      console.error(`secure-etcd: FAILED: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
