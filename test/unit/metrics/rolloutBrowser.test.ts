// The rollout browser's page: its data cannot close the script element it sits in, steps are spread over
// the run, and the report links to it. (What it draws: test/integration/report/rolloutBrowser.test.ts.)
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { renderReport } from '../../../core/metrics/report.ts';
import {
  browserPath,
  renderRolloutBrowser,
  scriptJson,
  spreadSteps,
} from '../../../core/metrics/rolloutBrowser.ts';

it('model text cannot end the data script or open a tag', () => {
  const hostile = '</script><script>alert(1)</script><!--';
  assert.ok(!scriptJson({ text: hostile }).includes('<'));
  assert.deepEqual(JSON.parse(scriptJson({ text: hostile })), { text: hostile });
  const page = renderRolloutBrowser({ runId: 'r', steps: [] }, 'now');
  assert.equal(page.match(/<script/g)?.length, 2, 'the data and the script');
});

it('steps are spread over the run, first and last always in', () => {
  const steps = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(spreadSteps(steps, 5), [1, 26, 51, 75, 100]);
  assert.deepEqual(spreadSteps([3, 4], 5), [3, 4]);
  assert.deepEqual(spreadSteps(steps, 1), [100]);
  assert.equal(browserPath('/x/report.html', 'run-1'), '/x/report-rollouts-run-1.html');
});

it('the report lists its links', () => {
  const html = renderReport({
    title: 't',
    generatedAt: 'now',
    tables: [],
    charts: [],
    links: [{ text: 'rollouts of a&b', href: 'r-rollouts-x.html' }],
  });
  assert.match(
    html,
    /<nav class="links"><ul><li><a href="r-rollouts-x\.html">rollouts of a&amp;b<\/a><\/li><\/ul><\/nav>/,
  );
});
