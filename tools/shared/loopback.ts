/** Loopback addresses (127.0.0.0/8 and ::1): where a restore may run for real and the harness listens. */
export const isLoopbackIp = (ip: string): boolean =>
  /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === "::1";
