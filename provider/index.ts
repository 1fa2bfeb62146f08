/*
 * The component provider: serves SecureEtcd to every Pulumi language (`pulumi package add`). Pulumi
 * launches this directory (PulumiPlugin.yaml `main: provider/`); the SDK's analyzer reads the schema from
 * the TypeScript types of the exported component. Loading this module starts the provider host, so
 * tests import ./secureEtcd instead.
 */
import { componentProviderHost } from "@pulumi/pulumi/provider/experimental";
import { packageVersion } from "../components/packageInfo";
import { SecureEtcd } from "./secureEtcd";

export { SecureEtcd } from "./secureEtcd";
export * from "./enums";
export type * from "./secureEtcdArgs";

// The version is the package's (provider/package.json only names the plugin and its entry); the host
// reads `version` (provider.js: `options.version ?? packageJSON.version`) though its type omits it.
const options = {
  name: "secure-etcd",
  version: packageVersion(),
  components: [SecureEtcd],
  dirname: __dirname,
};
void componentProviderHost(options);
