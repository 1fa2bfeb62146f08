import * as pulumi from "@pulumi/pulumi";

/** What the engine receives for one resource registration: the options mocks do not show. */
export interface Registration {
  type: string;
  name: string;
  protect: boolean;
  retainOnDelete: boolean;
  dependencies: string[];
  ignoreChanges: string[];
  /** Top-level properties sent as secrets (the serialized request carries Pulumi's secret signature). */
  secretProps: string[];
}

// Pulumi's wire format for a secret value (runtime/rpc).
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

/**
 * Wraps the current mock monitor's registerResource (call it after every `setMocks`, which makes a new
 * monitor) and appends each request's options to `log` before the mocks' `newResource` sees it.
 */
export function spyOnRegistrations(log: Registration[]): void {
  const monitor = (pulumi.runtime as unknown as { getMonitor: () => Record<string, unknown> }).getMonitor();
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const original = (monitor.registerResource as (req: any, cb: any) => void).bind(monitor);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  monitor.registerResource = (req: any, cb: any) => {
    const raw = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    log.push({
      type: req.getType(),
      name: req.getName(),
      protect: req.getProtect() === true,
      retainOnDelete: req.getRetainondelete() === true,
      dependencies: req.getDependenciesList(),
      ignoreChanges: req.getIgnorechangesList(),
      secretProps: Object.entries(raw)
        .filter(([, v]) => isSecretValue(v))
        .map(([k]) => k),
    });
    return original(req, cb);
  };
}
