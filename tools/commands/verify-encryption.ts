/*
 * secure-etcd verify-encryption --endpoints URLS --cacert F --cert F --key F
 *     [--resources secrets,configmaps] [--retiring NAME] [--json]
 *
 * Proves what kube-apiserver really stored: scans etcd, counts values per provider and key, names every
 * plaintext entry, and fails while the key about to be removed still encrypts anything — the gate
 * before a key leaves the EncryptionConfiguration. Reads values; never prints one.
 */
import { verifyEncryption, usage } from "../verifyEncryption/run";

export { usage };
export const verifyEncryptionCommand = verifyEncryption;
