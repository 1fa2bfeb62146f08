/*
 * secure-etcd encryption-config-status --apiservers URL[,URL...] [--expect FILE] [--kubeconfig FILE] [--json]
 *
 * Says which EncryptionConfiguration each kube-apiserver has loaded (the hash it reports in
 * apiserver_encryption_config_controller_last_config_info) and which one lags: the gate before every
 * key rotation step. Exit 0 all loaded, 1 one lags (named), 2 bad arguments, 3 one not checked.
 */
import { encryptionConfigStatus, usage } from "../encryptionConfigStatus/run";

export { usage };
export const encryptionConfigStatusCommand = encryptionConfigStatus;
