/** report.json's top-level keys, in order, as the README lists them. */
export const reportKeys = [
  "stack",
  "renderOnly",
  "artifactsDir",
  "etcdVersion",
  "kubeApiserverVersion",
  "remaps",
  "startedAt",
  "finishedAt",
  "passed",
  "drills",
  "skipped",
  "members",
  "backup",
];

/** Only a rehearsal that ran a cluster has these. */
export const liveOnlyReportKeys = ["kubeApiserverVersion", "members", "backup"];

/** report.json's `backup` keys (the backup drill's measurements). */
export const backupReportKeys = [
  "rpoMinutes",
  "schedule",
  "snapshotKey",
  "snapshotBytes",
  "dbBytes",
  "parts",
  "revision",
  "member",
  "scriptSeconds",
  "uploadSeconds",
  "restoreBreakdown",
  "restoreSeconds",
];
