// Polling helpers shared by the node-side end-to-end suites (reference server and real servers).

/** Polls `fn` until it returns a truthy value (which is returned) or the timeout passes. */
export async function waitFor(fn, { timeout = 10_000, interval = 50, message } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastError;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const what = typeof message === 'function' ? await message() : message ?? fn.toString();
      const detail = lastError ? ` (last error: ${lastError.message})` : ` (last value: ${JSON.stringify(last)})`;
      throw new Error(`waitFor timed out after ${timeout} ms: ${what}${detail}`);
    }
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
