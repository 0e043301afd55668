/**
 * The rollout browser's script, inlined into its page: renders the embedded records for the state in the
 * URL's fragment (`#step=S&only=F&group=G`), so every view has an address to share or to screenshot, and
 * the back button walks through views. Model text goes in through textContent only (never as HTML).
 * Plain ES2017 in a string: the page must run as written in any browser, with no build step.
 */
export const ROLLOUT_BROWSER_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('rollout-data').textContent);
  var FILTERS = ['correct', 'wrong', 'truncated', 'tools'];
  var root = document.getElementById('browser');

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // As the report's tables: integers as they are, else 3 significant digits, tiny values in exponent form.
  function num(x) {
    if (Number.isInteger(x)) return String(x);
    var m = Math.abs(x);
    if (m < 1e-3) return x.toExponential(2);
    return x.toFixed(Math.max(0, 3 - (Math.floor(Math.log10(m)) + 1)));
  }
  function signed(x) { return (x >= 0 ? '+' : '') + x.toFixed(3); }
  function matches(r, only) {
    if (only === 'correct') return r.correct;
    if (only === 'wrong') return !r.correct;
    if (only === 'truncated') return r.finishReason === 'length';
    if (only === 'tools') return r.toolCalls.length > 0;
    return true;
  }
  function state() {
    var p = new URLSearchParams(location.hash.slice(1));
    var steps = data.steps.map(function (s) { return s.step; });
    var step = Number(p.get('step'));
    // A step the page does not hold (not among the spread, or no step named): the nearest one it holds,
    // the newest when none is named.
    if (steps.indexOf(step) < 0) {
      var named = p.get('step') !== null && p.get('step') !== '' && isFinite(step);
      step = named ? steps.reduce(function (best, x) { return Math.abs(x - step) < Math.abs(best - step) ? x : best; })
        : steps[steps.length - 1];
    }
    var only = FILTERS.indexOf(p.get('only')) >= 0 ? p.get('only') : '';
    var group = p.get('group') === null || p.get('group') === '' ? null : Number(p.get('group'));
    return { step: step, only: only, group: group };
  }
  function href(s) {
    var parts = ['step=' + s.step];
    if (s.only) parts.push('only=' + s.only);
    if (s.group !== null) parts.push('group=' + s.group);
    return '#' + parts.join('&');
  }
  function with_(s, change) {
    return { step: 'step' in change ? change.step : s.step, only: 'only' in change ? change.only : s.only,
      group: 'group' in change ? change.group : s.group };
  }
  function mean(xs) { return xs.reduce(function (a, b) { return a + b; }, 0) / Math.max(1, xs.length); }

  function controls(s, records) {
    var bar = el('nav', 'controls');
    var label = el('label', null, 'step ');
    var select = el('select');
    select.id = 'step-select';
    data.steps.forEach(function (st) {
      var o = el('option', null, 'step ' + st.step + ' · accuracy ' +
        num(mean(st.responses.map(function (r) { return r.correct ? 1 : 0; }))) + ' · mean reward ' +
        num(mean(st.responses.map(function (r) { return r.reward; }))));
      o.value = String(st.step);
      if (st.step === s.step) o.selected = true;
      select.appendChild(o);
    });
    select.addEventListener('change', function () { location.hash = href(with_(s, { step: Number(select.value), group: null })); });
    label.appendChild(select);
    bar.appendChild(label);
    var filters = el('span', 'filters');
    [''].concat(FILTERS).forEach(function (f) {
      var a = el('a', 'filter' + (f === s.only ? ' active' : ''), f || 'all');
      a.id = 'filter-' + (f || 'all');
      a.href = href(with_(s, { only: f }));
      filters.appendChild(a);
    });
    bar.appendChild(filters);
    if (s.group !== null) {
      var back = el('a', 'filter', 'all groups');
      back.href = href(with_(s, { group: null }));
      bar.appendChild(back);
    }
    return bar;
  }

  function card(r, maxAdv) {
    var c = el('article', 'resp ' + (r.correct ? 'correct' : 'wrong') + (r.inLoss ? '' : ' out'));
    c.id = 'resp-' + r.group + '-' + r.sample;
    var head = el('header');
    head.appendChild(el('span', 'badge ' + (r.correct ? 'ok' : 'bad'), 'reward ' + num(r.reward)));
    head.appendChild(el('span', 'sample', '#' + r.sample + ' · ' + (r.correct ? 'correct' : 'wrong')));
    c.appendChild(head);
    var adv = el('div', 'adv');
    var track = el('span', 'track');
    track.id = 'adv-' + r.group + '-' + r.sample;
    var fill = el('span', 'fill ' + (r.advantage >= 0 ? 'pos' : 'neg'));
    fill.style.width = (maxAdv > 0 ? (50 * Math.abs(r.advantage)) / maxAdv : 0) + '%';
    fill.style[r.advantage >= 0 ? 'left' : 'right'] = '50%';
    track.appendChild(fill);
    adv.appendChild(el('span', 'advlabel', 'advantage ' + signed(r.advantage)));
    adv.appendChild(track);
    c.appendChild(adv);
    var terms = Object.keys(r.rewardParts).map(function (k) { return k + ' ' + num(r.rewardParts[k]); });
    c.appendChild(el('div', 'meta', [r.tokens + ' tokens' + (r.sampledTokens !== r.tokens ? ' (' +
      (r.tokens - r.sampledTokens) + ' from tools)' : ''), r.finishReason === 'length' ? 'truncated' : r.finishReason,
      r.inLoss ? 'in loss' : 'not in loss'].join(' · ')));
    c.appendChild(el('div', 'meta', terms.join(' · ') + (r.verdict ? ' · verdict: ' + r.verdict : '')));
    var text = el('div', 'text');
    var calls = 0;
    r.segments.forEach(function (seg) {
      if (seg.omitted) text.appendChild(el('span', 'omitted', '[… ' + seg.omitted + ' characters left out …]'));
      else if (seg.inserted) {
        var t = el('span', 'tool', seg.text);
        t.id = 'tool-' + r.group + '-' + r.sample + '-' + calls++;
        t.title = 'inserted by the tool';
        text.appendChild(t);
      } else text.appendChild(el('span', null, seg.text));
    });
    c.appendChild(text);
    return c;
  }

  function group(prompt, responses, s) {
    var g = el('section', 'group' + (prompt.kept ? '' : ' dropped'));
    g.id = 'group-' + prompt.group;
    var h = el('h2');
    var a = el('a', null, 'group ' + prompt.group);
    a.href = href(with_(s, { group: prompt.group }));
    h.appendChild(a);
    var all = responses.all;
    h.appendChild(document.createTextNode(' · problem ' + prompt.problem + ' · ' + all.length + ' responses · mean reward ' +
      num(mean(all.map(function (r) { return r.reward; }))) + (prompt.kept ? '' : ' · dropped from the batch')));
    g.appendChild(h);
    var p = el('details', 'prompt');
    p.appendChild(el('summary', null, 'prompt'));
    p.appendChild(el('pre', null, prompt.text));
    g.appendChild(p);
    var row = el('div', 'row');
    var maxAdv = Math.max.apply(null, all.map(function (r) { return Math.abs(r.advantage); }).concat([0]));
    responses.shown.forEach(function (r) { row.appendChild(card(r, maxAdv)); });
    g.appendChild(row);
    return g;
  }

  function render() {
    var s = state();
    var records = data.steps.filter(function (st) { return st.step === s.step; })[0];
    root.textContent = '';
    if (!records) { root.appendChild(el('p', null, 'no recorded steps')); return; }
    root.appendChild(controls(s, records));
    var shown = 0;
    var list = el('div', 'groups');
    records.prompts.forEach(function (prompt) {
      if (s.group !== null && prompt.group !== s.group) return;
      var all = records.responses.filter(function (r) { return r.group === prompt.group; });
      var picked = all.filter(function (r) { return matches(r, s.only); });
      if (picked.length === 0) return;
      shown += picked.length;
      list.appendChild(group(prompt, { all: all, shown: picked }, s));
    });
    var count = el('p', 'count', 'step ' + records.step + ' · showing ' + shown + ' of ' + records.responses.length +
      ' responses' + (s.only ? ' · ' + s.only : '') + (s.group !== null ? ' · group ' + s.group : ''));
    count.id = 'count';
    root.appendChild(count);
    root.appendChild(list);
  }
  window.addEventListener('hashchange', render);
  render();
})();
`;
