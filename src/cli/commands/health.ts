import { withContext, type GlobalOptions } from '../context.js';
import { out, outJson } from '../io.js';
import { adviceFor } from './doctor-advice.js';

/**
 * `lockbox health` — a live check of every configured provider; exit 1 when any is down. A
 * provider that is not ready gets the first checks of seed 002's Troubleshooting section for
 * its type (`lockbox doctor` tells authentication, reachability and permission apart).
 */
export async function health(options: GlobalOptions): Promise<void> {
  await withContext(options, async ({ config, manager }) => {
    const report = await manager.health();
    const adviceOf = (id: string): string[] => {
      const entry = config.providers.find((p) => p.id === id);
      return entry ? adviceFor('general', { type: entry.type, options: entry.options ?? {}, tenant: options.tenant ?? config.tenant, baseDir: config.baseDir }) : [];
    };
    if (options.json) {
      outJson({ ...report, providers: report.providers.map((p) => (p.status === 'ready' ? p : { ...p, advice: adviceOf(p.provider) })) });
    } else {
      for (const p of report.providers) {
        out(`${p.status.padEnd(8)} ${p.provider}  ${p.latencyMs.toFixed(1)} ms${p.message ? `  ${p.message}` : ''}`);
        if (p.status !== 'ready') for (const line of adviceOf(p.provider)) out(`         check: ${line}`);
      }
      out(`overall: ${report.status}`);
      if (report.status !== 'ready') out('run `lockbox doctor` to tell authentication, reachability and permission problems apart');
    }
    if (report.providers.some((p) => p.status === 'down')) process.exitCode = 1;
  });
}
