/**
 * The slot for issue 20's last figure — Secret writes through the real kube-apiserver with each
 * encryption provider (secretbox, aescbc, aesgcm, kms v2) ÷ identity, throughput and p99 — which needs a
 * kube-apiserver harness (branch `apiserver`). Until the lead assigns it, `npm run bench` reports it as
 * not measured, in results.json's `targets` and in results.md, never as met.
 */
export interface ApiserverResult {
  measured: false;
  pending: string;
  /** The providers the figure will compare with identity. */
  providers: string[];
}

export function pendingApiserver(): ApiserverResult {
  return {
    measured: false,
    pending: "needs the kube-apiserver harness (branch apiserver); the lead assigns this section",
    providers: ["secretbox", "aescbc", "aesgcm", "kms v2"],
  };
}
