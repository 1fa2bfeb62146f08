export * from "../../rehearsal/stackFiles";
