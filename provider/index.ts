/*
 * The component provider: serves SecureEtcd to every Pulumi language (`pulumi package add`). Pulumi
 * launches this directory (PulumiPlugin.yaml `main: provider/`); the SDK's analyzer reads the schema from
 * the TypeScript types of the exported component. Loading this module starts the provider host, so
 * tests import ./secureEtcd instead.
 *
 * The args are the component's own (components/secureEtcdArgs.ts), re-exported, never restated. Keep that
 * export first: the analyzer walks this file's imports in order and takes a schema type's description
 * only from files it has walked before it meets the component.
 */
export * from "../components/secureEtcdArgs";
export * from "./secureEtcd";

import { componentProviderHost } from "@pulumi/pulumi/provider/experimental";
import { packageVersion } from "../components/packageInfo";
import { SecureEtcd } from "./secureEtcd";

// The version is the package's (provider/package.json only names the plugin and its entry); the host
// reads `version` (provider.js: `options.version ?? packageJSON.version`) though its type omits it.
const options = {
  name: "secure-etcd",
  version: packageVersion(),
  components: [SecureEtcd],
  dirname: __dirname,
};
void componentProviderHost(options);
