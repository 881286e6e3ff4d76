import { withContext, type GlobalOptions } from '../context.js';
import { out, outJson } from '../io.js';

/** `lockbox health` — a live check of every configured provider; exit 1 when any is down. */
export async function health(options: GlobalOptions): Promise<void> {
  await withContext(options, async ({ manager }) => {
    const report = await manager.health();
    if (options.json) outJson(report);
    else {
      for (const p of report.providers) out(`${p.status.padEnd(8)} ${p.provider}  ${p.latencyMs.toFixed(1)} ms${p.message ? `  ${p.message}` : ''}`);
      out(`overall: ${report.status}`);
    }
    if (report.providers.some((p) => p.status === 'down')) process.exitCode = 1;
  });
}
