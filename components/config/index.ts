export * from "./backup";
export * from "./constants";
export * from "./cron";
export * from "./errors";
export * from "./schema";
export * from "./secretStore";
export * from "./stackConfig";
export * from "./promotion";
