/**
 * The command that runs `argv` pinned to `cpu` with the open-file limit
 * raised to its hard limit: `sh -c 'ulimit -n <hard>; exec taskset -c <cpu> …'`.
 * Both steps exec, so the process id is the final program's (measured and
 * signalled as such).
 */
export function pinnedCommand(cpu: number, argv: readonly string[]): { command: string; args: string[] } {
  return {
    command: 'sh',
    args: ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec taskset -c "$0" "$@"', String(cpu), ...argv],
  };
}
