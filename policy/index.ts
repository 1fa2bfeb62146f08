/*
 * The secure-etcd CrossGuard pack: `pulumi preview --policy-pack policy`. The ONLY file that constructs
 * the PolicyPack — constructing one starts the analyzer's gRPC server, so tests import ./policies and
 * ./pack instead.
 */
import { PolicyPack } from "@pulumi/policy";
import { packArgs, packName } from "./pack";

new PolicyPack(packName, packArgs());
