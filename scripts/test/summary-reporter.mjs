// A node:test reporter that writes one JSON object when the run ends: the counts of tests (suites
// excluded) and every skipped test with its file and reason. scripts/run-tests.mjs reads it to
// merge the host's pass with the KVM lane's and to refuse skips for lack of KVM.
export default async function* summaryReporter(source) {
  const summary = { tests: 0, pass: 0, fail: 0, skipped: 0, todo: 0, skips: [], failures: [] };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data;
    if (data.details?.type === 'suite') continue;
    summary.tests++;
    const where = { file: data.file ?? '', name: data.name };
    if (data.skip !== undefined && data.skip !== false) {
      summary.skipped++;
      summary.skips.push({ ...where, reason: typeof data.skip === 'string' ? data.skip : '' });
    } else if (data.todo !== undefined && data.todo !== false) summary.todo++;
    else if (event.type === 'test:pass') summary.pass++;
    else {
      summary.fail++;
      summary.failures.push(where);
    }
  }
  yield `${JSON.stringify(summary)}\n`;
}
