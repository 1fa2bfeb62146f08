/**
 * The upgrade drill's writer: puts `<prefix>w-000001`, `…2`, … one after another through every member's
 * client URL (etcdctl fails over), retrying a key until etcd acknowledges it, and records every
 * acknowledged write with the phase it happened in. What it acknowledged must all be readable at the end.
 */
import { etcdctlTlsArgs, runEtcdctl } from "../../harness/etcdctl";
import { sleep } from "../../harness/process";

export interface AckedWrite {
  key: string;
  value: string;
  phase: string;
}

export interface Writer {
  /** Every acknowledged write, in order. */
  acked: AckedWrite[];
  /** Attempts etcd did not acknowledge (retried): elections while a member restarts. */
  retries: number;
  /** Names what the writes that follow belong to (e.g. "3.5 → 3.6: etcd-2"). */
  phase(name: string): void;
  /** Acknowledged writes in a phase. */
  count(phase: string): number;
  stop(): Promise<void>;
}

export function startWriter(o: {
  etcdctl: string;
  dir: string;
  endpoints: () => string[];
  prefix: string;
}): Writer {
  const tls = etcdctlTlsArgs(o.dir, "apiserver-etcd-client");
  let phase = "start";
  let stopping = false;
  const w: Writer = {
    acked: [],
    retries: 0,
    phase: (name) => (phase = name),
    count: (p) => w.acked.filter((a) => a.phase === p).length,
    stop: async () => {
      stopping = true;
      await loop;
    },
  };
  const loop = (async () => {
    for (let seq = 1; !stopping;) {
      const key = `${o.prefix}w-${String(seq).padStart(6, "0")}`;
      const value = `v${seq}@${phase}`;
      const r = await runEtcdctl(
        o.etcdctl,
        [`--endpoints=${o.endpoints().join(",")}`, ...tls, "put", key, value],
        {
          dialTimeout: "2s",
          commandTimeout: "4s",
        },
      );
      if (r.code === 0 && /^OK/m.test(r.stdout)) {
        w.acked.push({ key, value, phase });
        seq++;
      } else {
        w.retries++;
        await sleep(200);
      }
    }
  })();
  return w;
}
