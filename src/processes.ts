/**
 * Whether a process with this id runs on this machine. One of another user counts as running:
 * it exists, it only cannot be signalled.
 */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error: unknown) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
