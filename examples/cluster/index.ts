/*
 * A cluster stack that uses secure-etcd as a component: it creates one ENI per control-plane member,
 * hands the ENIs' private IPs (Outputs) to SecureEtcd, and boots each instance on its ENI with the user
 * data and instance profile SecureEtcd made for that member (README "Secrets on the nodes").
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { SecureEtcd } from "secure-etcd";

const config = new pulumi.Config();
const subnetIds = config.requireObject<string[]>("subnetIds");
const ami = config.require("controlPlaneAmi");
const cluster = "payments";

// Member names are literals: they name resources, and `etcd.members["cp-9"]` would not compile.
const names = ["cp-1", "cp-2", "cp-3"] as const;

// The ENI outlives instance replacements, so the member keeps its address (and its certs stay valid).
const enis = names.map(
  (name, i) =>
    new aws.ec2.NetworkInterface(`${cluster}-${name}`, {
      subnetId: subnetIds[i % subnetIds.length],
      description: `etcd member ${name} of ${cluster}`,
      tags: { Name: `${cluster}-${name}` },
    }),
);

const etcd = new SecureEtcd(cluster, {
  clusterName: cluster,
  environment: pulumi.getStack(),
  etcdVersion: "3.7.4", // the etcd of Kubernetes 1.37; "3.6.17" for 1.34–1.36
  // ip and dnsNames are pulumi.Inputs: checked by the same schema once the ENIs exist.
  members: names.map((name, i) => ({
    name,
    ip: enis[i].privateIp,
    dnsNames: [pulumi.interpolate`${name}.${cluster}.internal`],
  })),
  encryption: { provider: "secretbox", keys: [{ name: "key-2026-11", state: "primary" }] },
});

const store = etcd.secretStore;
if (!store || !etcd.nodeUserData) throw new Error("this example keeps the secret store on (the default)");
const userData = etcd.nodeUserData;

export const controlPlane = names.map((name, i) => {
  const instance = new aws.ec2.Instance(`${cluster}-${name}`, {
    ami,
    instanceType: "m7i.large",
    primaryNetworkInterface: { networkInterfaceId: enis[i].id },
    // The role that alone may read this member's secret; user data holds no key.
    iamInstanceProfile: store.nodeInstanceProfileNames[name],
    userData: userData[name],
    metadataOptions: { httpTokens: "required", httpPutResponseHopLimit: 1 },
    tags: { Name: `${cluster}-${name}` },
  });
  return { member: name, instanceId: instance.id, privateIp: enis[i].privateIp };
});

export const etcdEndpoints = etcd.etcdEndpoints;
export const caCertPem = etcd.caCertPem;
export const apiserverFlags = etcd.apiserverFlags;
export const kubeadmClusterConfiguration = etcd.kubeadmClusterConfiguration;
export const cp1ServerCertPem = etcd.members["cp-1"].serverCertPem;
export const nodeRoleArns = store.nodeRoleArns;
export const encryptionKeyStates = etcd.encryptionKeyStates;
