export * from "../../harness/stackFiles";
