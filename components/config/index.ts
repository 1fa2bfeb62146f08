export * from "./constants";
export * from "./errors";
export * from "./schema";
export * from "./stackConfig";
