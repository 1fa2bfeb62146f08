export * from "../../harness/stackFiles";
export { toPulumiConfig } from "../../tools/shared/stackFiles";
