/** Where a command writes: data to stdout's descriptor, everything else to stderr. */
export interface Io {
  readonly stdoutFd: number;
  readonly stderr: (s: string) => void;
}

export const defaultIo: Io = { stdoutFd: 1, stderr: (s) => process.stderr.write(s) };
