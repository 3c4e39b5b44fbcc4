/** Messages between the soak driver and its preload in the pns server process (gc-preload.ts), over IPC. */

export interface GcRequest {
  soak: 'gc';
  req: number;
}

export interface MemoryAnswer {
  soak: 'memory';
  req: number;
  memory: NodeJS.MemoryUsage;
}
