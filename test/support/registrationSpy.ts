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
  custom: boolean;
  /** The parent's URN ("" for none). */
  parent: string;
  /** The inputs as sent (serialized: secrets carry Pulumi's secret signature). */
  object: Record<string, unknown>;
  /** Per input property, the URNs its value depends on. */
  propertyDependencies: Record<string, string[]>;
  additionalSecretOutputs: string[];
  /** Filled in from the monitor's answer: the resource's URN and its state (serialized). */
  urn?: string;
  state?: Record<string, unknown>;
}

// Pulumi's wire format for a secret value (runtime/rpc).
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

export function isSecretValue(v: unknown): boolean {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SECRET_SIG] === SECRET_VALUE;
}

type Monitor = Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Rpc = (this: unknown, req: any, cb: any) => void;

const currentMonitor = () => (pulumi.runtime as unknown as { getMonitor: () => Monitor }).getMonitor();

/**
 * Replaces `target[method]` (a monitor, or MockMonitor.prototype to catch monitors not made yet) with
 * `wrap(original)`, called with the monitor as `this`. Returns the undo.
 */
function wrapRpc(target: Monitor, method: string, wrap: (original: Rpc) => Rpc): () => void {
  const own = Object.prototype.hasOwnProperty.call(target, method);
  const original = target[method] as Rpc;
  target[method] = wrap(original);
  return () => {
    if (own) target[method] = original;
    else delete target[method];
  };
}

/** The MockMonitor class's prototype: spying there sees the monitor a later `setMocks` creates (e.g. runProgram's). */
export function mockMonitorPrototype(): Monitor {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- internal, no typings
  return (require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: Monitor } }).MockMonitor
    .prototype;
}

/**
 * Wraps the current mock monitor's registerResource (call it after every `setMocks`, which makes a new
 * monitor; or pass `mockMonitorPrototype()`) and appends each request's options to `log` before the
 * mocks' `newResource` sees it; the monitor's answer fills in `urn` and `state`. Returns the undo.
 */
export function spyOnRegistrations(log: Registration[], monitor: Monitor = currentMonitor()): () => void {
  return wrapRpc(
    monitor,
    "registerResource",
    (original) =>
      function (this: unknown, req, cb) {
        const entry = registrationOf(req);
        log.push(entry);
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        return original.call(this, req, (err: any, resp: any) => {
          if (resp) {
            entry.urn = resp.getUrn();
            entry.state = (resp.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
          }
          cb(err, resp);
        });
      },
  );
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function registrationOf(req: any): Registration {
  const raw = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
  return {
    type: req.getType(),
    name: req.getName(),
    protect: req.getProtect() === true,
    retainOnDelete: req.getRetainondelete() === true,
    dependencies: req.getDependenciesList(),
    ignoreChanges: req.getIgnorechangesList(),
    secretProps: Object.entries(raw)
      .filter(([, v]) => isSecretValue(v))
      .map(([k]) => k),
    custom: req.getCustom() === true,
    parent: req.getParent(),
    object: raw,
    propertyDependencies: Object.fromEntries(
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      [...req.getPropertydependenciesMap().entries()].map(([k, v]: [string, any]) => [k, v.getUrnsList()]),
    ),
    additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
  };
}

/**
 * Records what components pass to `registerOutputs` (serialized, secrets signed), by URN: under the
 * engine these become the component's outputs, which stack policies see. Returns the undo.
 */
export function spyOnResourceOutputs(
  outputs: Map<string, Record<string, unknown>>,
  monitor: Monitor = currentMonitor(),
): () => void {
  return wrapRpc(
    monitor,
    "registerResourceOutputs",
    (original) =>
      function (this: unknown, req, cb) {
        outputs.set(req.getUrn(), (req.getOutputs()?.toJavaScript() ?? {}) as Record<string, unknown>);
        return original.call(this, req, cb);
      },
  );
}
