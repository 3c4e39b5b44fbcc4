// `npm audit --omit=dev` for CI: fails on any advisory against a production dependency unless docs/security.md
// explains it (its id listed under "Dependency audit"). A registry that cannot answer audits is reported loudly
// but does not fail the run: that is the network's state, not the project's.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const run = spawnSync('npm', ['audit', '--omit=dev', '--json'], { encoding: 'utf8' });
let report;
try {
  report = JSON.parse(run.stdout);
} catch {
  process.stderr.write(`npm audit gave no report:\n${run.stdout}${run.stderr}\n`);
  process.exit(1);
}
if (report.statusCode !== undefined || report.error !== undefined) {
  const reason = report.message ?? report.error?.summary ?? 'unknown error';
  process.stdout.write(`\n*** DEPENDENCY AUDIT NOT RUN: the registry did not answer the audit (${reason}) ***\n\n`);
  process.exit(0);
}
const explained = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
const findings = Object.values(report.vulnerabilities ?? {}).flatMap((entry) =>
  (entry.via ?? [])
    .filter((via) => typeof via === 'object')
    .map((via) => ({ name: entry.name, severity: via.severity, id: String(via.source), title: via.title })),
);
const unexplained = findings.filter((finding) => !explained.includes(finding.id));
for (const finding of findings) {
  process.stdout.write(
    `${unexplained.includes(finding) ? 'UNEXPLAINED' : 'explained  '} ${finding.severity} ${finding.name} ${finding.id}: ${finding.title}\n`,
  );
}
process.stdout.write(`npm audit --omit=dev: ${findings.length} findings, ${unexplained.length} not explained in docs/security.md\n`);
process.exit(unexplained.length === 0 ? 0 : 1);
