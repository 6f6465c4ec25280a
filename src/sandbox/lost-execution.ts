// What an execution gets when its sandbox dies under it. One that did nothing
// a second run could repeat runs again, once, on the new sandbox; one that
// made a request outside (it may have had an effect) or streamed console
// lines (a second run would stream them again) gets 1008 Interrupted; one
// that did not answer in time, its timeout; others, the cause.
import * as errors from '../errors.js';

export interface LostExecution {
  timeoutMs: number;
  /** Its sandbox was killed because it did not answer in time. */
  killedForTime: boolean;
  outbound: boolean;
  streamed: boolean;
  /** Sent again once already. */
  resent: boolean;
}

export interface SandboxLoss {
  /** Its exit code or signal. */
  reason: string;
  /** It went over SANDBOX_MEMORY (or the kernel killed it for memory). */
  forMemory: boolean;
  sandboxMemoryMb: number;
  /** The daemon is shutting down: nothing runs again. */
  closing: boolean;
}

/** 'again', or the error it is answered with. */
export function lostAnswer(lost: LostExecution, loss: SandboxLoss): 'again' | errors.RpcError {
  const { reason, forMemory, closing } = loss;
  if (lost.killedForTime) return errors.timeout(lost.timeoutMs, []);
  if (closing) return forMemory ? errors.memoryLimit(loss.sandboxMemoryMb, []) : errors.sandboxLost(`the sandbox exited (${reason})`);
  if (lost.outbound || lost.streamed) {
    const sandbox = forMemory ? 'went over SANDBOX_MEMORY' : `exited (${reason})`;
    return errors.interrupted(
      `its sandbox ${sandbox} after it had ${lost.outbound ? 'made a request outside' : 'streamed console lines'}`,
      [],
    );
  }
  if (!lost.resent) return 'again';
  return forMemory ? errors.memoryLimit(loss.sandboxMemoryMb, []) : errors.sandboxLost(`the sandbox exited (${reason})`);
}
