import { gzipSync } from "fflate";
import { stringify } from "yaml";

/*
 * EC2 user data for a control-plane node: installs the package's bootstrap and a systemd timer that runs
 * it, and nothing secret: names, a region and the public key the node verifies its bundle with. The bootstrap fetches the member's bundle from Secrets Manager with the node's
 * role, installs it, and exits 75 (EX_TEMPFAIL) while the secret does not exist yet (an instance may boot
 * before `pulumi up` has written it): the timer runs it again, so a renewed cert or the next rotation step
 * reaches the node within one period, and a node that booted early catches up.
 */

/** EC2's limit for raw user data. */
export const EC2_USER_DATA_LIMIT_BYTES = 16 * 1024;

/** Where the user data puts things on the node. */
export const nodeBootstrapPaths = Object.freeze({
  script: "/usr/local/sbin/secure-etcd-bootstrap",
  env: "/etc/secure-etcd/bootstrap.env",
  service: "/etc/systemd/system/secure-etcd-bootstrap.service",
  timer: "/etc/systemd/system/secure-etcd-bootstrap.timer",
});

/** The bootstrap's exit status for "secret not there yet, try again later" (sysexits.h EX_TEMPFAIL). */
export const BOOTSTRAP_RETRY_EXIT = 75;

export interface BootstrapEnv {
  /** SECURE_ETCD_SECRET_ID: the member's secret name (known before the secret exists) or ARN. */
  secretId: string;
  /** SECURE_ETCD_REGION */
  region: string;
  /** SECURE_ETCD_MEMBER: the bootstrap refuses a bundle for any other member. */
  member: string;
  /** SECURE_ETCD_CLUSTER and SECURE_ETCD_ENVIRONMENT: a bundle of another cluster or environment is refused. */
  cluster: string;
  environment: string;
  /** SECURE_ETCD_SIGNING_KEY: the bundle-signing public key, base64 DER; a bundle it did not sign is refused. */
  signingKey: string;
  /** SECURE_ETCD_ENDPOINT_URL: a Secrets Manager endpoint other than the region's (tests, labs). */
  endpointUrl?: string;
}

export interface NodeUserDataInput extends BootstrapEnv {
  /** Minutes between runs (1–60). */
  bootstrapIntervalMinutes: number;
  /** The bootstrap script, as shipped in the package (`readBootstrapScript()`). */
  script: string;
}

const envValue = /^[A-Za-z0-9._:/+=@-]+$/;

/** The systemd EnvironmentFile the bootstrap runs with (no secret: names, a region, a member). */
export function renderBootstrapEnv(e: BootstrapEnv): string {
  const vars: [string, string | undefined][] = [
    ["SECURE_ETCD_SECRET_ID", e.secretId],
    ["SECURE_ETCD_REGION", e.region],
    ["SECURE_ETCD_MEMBER", e.member],
    ["SECURE_ETCD_CLUSTER", e.cluster],
    ["SECURE_ETCD_ENVIRONMENT", e.environment],
    ["SECURE_ETCD_SIGNING_KEY", e.signingKey],
    ["SECURE_ETCD_ENDPOINT_URL", e.endpointUrl],
  ];
  return (
    vars
      // An empty value is left out: the bootstrap then stops with "set SECURE_ETCD_…" (exit 64).
      .filter((v): v is [string, string] => v[1] !== undefined && v[1] !== "")
      .map(([k, v]) => {
        if (!envValue.test(v))
          throw new Error(`bootstrap env: ${k}=${JSON.stringify(v)} has characters systemd would mangle`);
        return `${k}=${v}\n`;
      })
      .join("")
  );
}

/** A oneshot run of the bootstrap; exit 75 is "retry on the next tick", not a failed unit. */
export function renderBootstrapService(): string {
  return [
    "[Unit]",
    "Description=secure-etcd bootstrap: install this etcd member's certs, keys and EncryptionConfiguration from Secrets Manager",
    "Wants=network-online.target",
    "After=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    `EnvironmentFile=${nodeBootstrapPaths.env}`,
    `ExecStart=${nodeBootstrapPaths.script}`,
    `SuccessExitStatus=${BOOTSTRAP_RETRY_EXIT}`,
    // A hung AWS CLI call must not hold the unit (and so the timer) forever.
    "TimeoutStartSec=2min",
    "UMask=0077",
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "",
  ].join("\n");
}

/**
 * Runs the bootstrap 30 s after boot and then every `intervalMinutes` after each run. AccuracySec=1s keeps
 * the period honest (systemd's default coalesces by up to a minute). Persistent=true is kept as asked of
 * the design, though systemd applies it to OnCalendar= timers only.
 */
export function renderBootstrapTimer(intervalMinutes: number): string {
  if (!Number.isInteger(intervalMinutes) || intervalMinutes < 1 || intervalMinutes > 60)
    throw new Error(
      `bootstrap timer: interval ${intervalMinutes} is not a whole number of minutes from 1 to 60`,
    );
  return [
    "[Unit]",
    `Description=secure-etcd bootstrap every ${intervalMinutes} min: renewed certs and rotation steps reach this node`,
    "",
    "[Timer]",
    "OnBootSec=30s",
    `OnUnitActiveSec=${intervalMinutes}min`,
    "AccuracySec=1s",
    "Persistent=true",
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

/**
 * The script as cloud-init's `gz+b64` content: with every check it makes it no longer fits EC2's 16 KB as
 * text. fflate (pure JS, pinned) with mtime 0, so the same script gives the same user data on every
 * machine and Node version (node:zlib's output follows the zlib build Node bundles).
 */
export function packScript(script: string): string {
  return Buffer.from(gzipSync(Buffer.from(script, "utf8"), { level: 9, mtime: 0 })).toString("base64");
}

/**
 * The `#cloud-config` for one member. Not a secret: it carries the bootstrap (a public script, packed),
 * the secret's name, the region, names and the bundle-signing public key. Throws if it would exceed
 * EC2's 16 KB.
 */
export function renderNodeUserData(i: NodeUserDataInput): string {
  const file = (path: string, permissions: string, content: string, encoding?: string) => ({
    path,
    owner: "root:root",
    permissions,
    ...(encoding ? { encoding } : {}),
    content,
  });
  const doc = {
    write_files: [
      file(nodeBootstrapPaths.script, "0755", packScript(i.script), "gz+b64"),
      file(nodeBootstrapPaths.env, "0600", renderBootstrapEnv(i)),
      file(nodeBootstrapPaths.service, "0644", renderBootstrapService()),
      file(nodeBootstrapPaths.timer, "0644", renderBootstrapTimer(i.bootstrapIntervalMinutes)),
    ],
    runcmd: ["systemctl daemon-reload", "systemctl enable --now secure-etcd-bootstrap.timer"],
  };
  const header = [
    "#cloud-config",
    `# secure-etcd node bootstrap for etcd member ${i.member}. No secret in here: the node fetches its`,
    "# signed bundle from Secrets Manager with its own IAM role, now and every timer period. The bootstrap",
    "# is the package's tools/bootstrap/secure-etcd-bootstrap.sh (read it: base64 -d | gunzip).",
  ].join("\n");
  const text = `${header}\n${stringify(doc, { lineWidth: 0, blockQuote: "literal" })}`;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > EC2_USER_DATA_LIMIT_BYTES)
    throw new Error(
      `nodeUserData for member ${JSON.stringify(i.member)} is ${bytes} bytes; EC2 accepts at most ${EC2_USER_DATA_LIMIT_BYTES} (the bootstrap script is ${Buffer.byteLength(i.script, "utf8")} bytes)`,
    );
  return text;
}
