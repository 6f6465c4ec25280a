// The isolate's two ways to the host: `host` reports (console lines, timers,
// fetches, the outcome) and `hostSync` asks (random bytes, digests). Both stop
// at the execution's deadline, and reports are flow-controlled.
// Rule: as prelude.js: intrinsics captured at load only, and `host` and
// `hostSync` never reachable from anything the script can touch.
//
// Every call into the isolate is asynchronous: a report waits in the host
// process until its event loop takes it, at about a kilobyte a report, so a
// loop of console lines or timers could grow the sandbox without bound; every
// HOST_CALLS_IN_FLIGHT reports, one synchronous call waits for the host to
// have taken those before it (it handles its calls in order).
// Past the deadline nothing is reported and asking throws: a script spinning
// on host calls then spins in the isolate alone, where isolated-vm's timeout
// stops it at once (inside host calls it lands late).
const DateNow = Date.now;
const ErrorCtor = Error;

const HOST_CALLS_IN_FLIGHT = 256;

export function hostLink(hostAsync, hostCall) {
  let sent = 0;
  let sentAtBarrier = 0;
  let deadline = Infinity;

  function host(op, a, b, c, d, e, f) {
    if (DateNow() >= deadline) return;
    hostAsync(op, a, b, c, d, e, f);
    if (++sent % HOST_CALLS_IN_FLIGHT === 0) barrier();
  }

  function barrier() {
    sentAtBarrier = sent;
    hostCall('barrier');
  }

  function hostSync(op, a, b) {
    if (DateNow() >= deadline) throw new ErrorCtor('the execution has ended');
    return hostCall(op, a, b);
  }

  return {
    host,
    hostSync,
    /**
     * Before a call returns: the host takes its reports as tasks of their own,
     * which may come after the call's return, where it decides whether a script
     * that has not answered has anything left pending.
     */
    settle() {
      if (sent === sentAtBarrier || DateNow() >= deadline) return;
      try {
        barrier();
      } catch {
        // The host is gone or the execution over: nothing waits for the reports.
      }
    },
    /** The execution starts; `deadlineAt` is its end as a Date.now() time. */
    begin(deadlineAt) {
      deadline = deadlineAt;
    },
  };
}
