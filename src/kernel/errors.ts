/**
 * Errors a user can meet, each with a one-line summary and what to do. Kept
 * apart from bugs: the CLI prints these without a stack trace and exits 1.
 */
import { TcplifeError } from '../util/errors.js';

export { TcplifeError };

export class PermissionError extends TcplifeError {}
export class ClangMissingError extends TcplifeError {}
export class LibbpfMissingError extends TcplifeError {}
export class BtfMissingError extends TcplifeError {}
export class CompileError extends TcplifeError {}
export class VerifierError extends TcplifeError {}
/** The verifier refused the program, and its log came cut short: the verdict may be missing. */
export class VerifierLogTruncatedError extends VerifierError {}
export class AttachError extends TcplifeError {}

export const APT_HINT =
  'install them with: apt-get install -y clang libbpf-dev (or run scripts/setup.sh)';
