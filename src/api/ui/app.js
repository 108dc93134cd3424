/* lisec's compliance view (docs/ui.md). It asks lisecd's JSON API what the
 * client certificate's role may read (GET /v1/status says which role that
 * is) and draws it: hosts on a map of lisec's own country outlines by the
 * location the model decides with, their trust and attestation age, VMs,
 * and every violation grouped by requirement in lisec's own words. It
 * writes text only through textContent and SVG attributes (never HTML
 * from data), fetches nothing but lisecd's own paths, and lists any
 * Content-Security-Policy violation on the page so that a test can see it.
 * The VMs are the operator's alone to read, every one as the API answers
 * it, LI VMs too (it declared them; docs/model.md, "What each role
 * sees"); the auditor's page names no VM, and lisecd's report for it no
 * row naming an LI VM. The view names no LI and no target to operators or
 * auditors (docs/ui.md). */
'use strict';

(function () {
  const SVG = 'http://www.w3.org/2000/svg';
  const REFRESH_MS = 30000;

  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    return e;
  }

  function row(tbody, cells) {
    const tr = el('tr');
    for (const c of cells) {
      const td = el('td', c.attrs, c.text);
      if (c.cls) td.className = c.cls;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
    return tr;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function note(text) { document.getElementById('notes').appendChild(el('li', {}, text)); }

  /* Only lisecd's own paths: a relative URL on this origin. */
  async function api(path) {
    if (!path.startsWith('/')) throw new Error('not a lisecd path: ' + path);
    const r = await fetch(path, { credentials: 'same-origin', cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      const msg = body && body.error ? body.error.message : 'HTTP ' + r.status;
      const err = new Error(path + ': ' + msg);
      err.status = r.status;
      throw err;
    }
    return body;
  }

  /* "3 min", "2 h 5 min", "4 d": how long ago an ISO 8601 time was. */
  function age(iso, now) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return 'unknown';
    let s = Math.max(0, Math.round((now - t) / 1000));
    if (s < 90) return s + ' s';
    const m = Math.round(s / 60);
    if (m < 90) return m + ' min';
    const h = Math.floor(m / 60);
    if (h < 48) return h + ' h ' + (m % 60) + ' min';
    return Math.floor(h / 24) + ' d';
  }

  function shortId(id) { return id.length > 20 ? id.slice(0, 12) + '\u2026' : id; }

  /* Hosts as the view shows them, from what the role may read: the model's
   * hosts (operator) joined with their attestation, or the attested hosts
   * alone (auditor). */
  function hostsFrom(model, attested, now) {
    const att = new Map();
    for (const a of (attested && attested.hosts) || []) att.set(a.host, a);
    const out = [];
    if (model) {
      for (const h of model.hosts || []) {
        const st = h.state || {};
        const a = att.get(h.id);
        const loc = st.location || null;
        out.push({
          id: h.id,
          trust: st.attestation || st.trust || 'untrusted',
          trusted: st.trust === 'trusted',
          source: st.trust_source || 'none',
          country: loc ? loc.country : null,
          site: loc ? loc.site || '' : '',
          lat: loc ? loc.lat : undefined,
          lon: loc ? loc.lon : undefined,
          age: a && (a.last_ok_at || a.last_appraisal_at)
            ? age(a.last_ok_at || a.last_appraisal_at, now) : 'never attested',
        });
        att.delete(h.id);
      }
    }
    for (const a of att.values()) {
      const loc = a.location || null;
      out.push({
        id: a.host,
        trust: a.trust,
        trusted: a.trust === 'trusted',
        source: 'attested',
        country: loc ? loc.country : null,
        site: loc ? loc.site || '' : '',
        lat: loc ? loc.latitude : undefined,
        lon: loc ? loc.longitude : undefined,
        age: a.last_ok_at || a.last_appraisal_at
          ? age(a.last_ok_at || a.last_appraisal_at, now) : 'never attested',
      });
    }
    out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return out;
  }

  function ringCentre(rings) {
    let sx = 0, sy = 0, n = 0;
    for (const p of rings[0]) { sx += p[0]; sy += p[1]; n++; }
    return n ? [sx / n, sy / n] : [0, 0];
  }

  /* An equirectangular map, longitudes scaled by the cosine of the middle
   * latitude: coarse, and enough to see which country a host is in. */
  function drawMap(outlines, hosts) {
    const box = document.getElementById('map');
    clear(box);
    const countries = (outlines && outlines.countries) || {};
    const pts = [];
    for (const c of Object.values(countries)) for (const r of c.rings) for (const p of r) pts.push(p);
    const placed = [];
    for (const h of hosts) {
      let lon = h.lon, lat = h.lat;
      if ((typeof lon !== 'number' || typeof lat !== 'number') && h.country && countries[h.country])
        [lon, lat] = ringCentre(countries[h.country].rings);
      if (typeof lon === 'number' && typeof lat === 'number') {
        placed.push({ h, lon, lat });
        pts.push([lon, lat]);
      }
    }
    if (!pts.length) return;
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity;
    for (const [lon, lat] of pts) {
      minX = Math.min(minX, lon); maxX = Math.max(maxX, lon);
      minY = Math.min(minY, lat); maxY = Math.max(maxY, lat);
    }
    const k = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    const x = (lon) => (lon - minX) * k;
    const y = (lat) => maxY - lat;
    const pad = 1;
    const w = (maxX - minX) * k + 2 * pad, hgt = (maxY - minY) + 2 * pad;
    const root = svg('svg', {
      viewBox: [-pad, -pad, w, hgt].map((v) => v.toFixed(3)).join(' '),
      role: 'img', 'aria-label': 'hosts on a map by location',
    });
    const hostCountries = new Map();
    for (const h of hosts) {
      if (!h.country) continue;
      const s = hostCountries.get(h.country) || { n: 0, untrusted: 0 };
      s.n++;
      if (!h.trusted) s.untrusted++;
      hostCountries.set(h.country, s);
    }
    for (const [code, c] of Object.entries(countries)) {
      const d = c.rings.map((r) => 'M' + r.map((p) => x(p[0]).toFixed(3) + ',' + y(p[1]).toFixed(3)).join('L') + 'Z').join('');
      const s = hostCountries.get(code);
      const path = svg('path', { d, 'data-country': code });
      path.setAttribute('class', 'country' + (s ? ' has-hosts' : '') + (s && s.untrusted ? ' has-untrusted' : ''));
      const t = svg('title');
      t.textContent = c.name + ' (' + code + ')';
      path.appendChild(t);
      root.appendChild(path);
    }
    /* Hosts a few km apart share a spot: their labels are stacked. */
    const stacked = new Map();
    for (const { h, lon, lat } of placed) {
      const spot = Math.round(x(lon) * 2) + ',' + Math.round(y(lat) * 2);
      const nth = stacked.get(spot) || 0;
      stacked.set(spot, nth + 1);
      const g = svg('g', { 'data-host': h.id });
      const dot = svg('circle', { cx: x(lon).toFixed(3), cy: y(lat).toFixed(3), r: 0.28 });
      dot.setAttribute('class', 'host ' + (h.trusted ? 'trusted' : 'untrusted') + (h.source === 'declared' ? ' declared' : ''));
      const t = svg('title');
      t.textContent = h.id + ': ' + h.trust + ', ' + (h.country || '?') + (h.site ? ', ' + h.site : '');
      dot.appendChild(t);
      const label = svg('text', { x: (x(lon) + 0.4).toFixed(3), y: (y(lat) + 0.2 + 0.6 * nth).toFixed(3), class: 'label' });
      label.textContent = shortId(h.id);
      g.appendChild(dot);
      g.appendChild(label);
      root.appendChild(g);
    }
    box.appendChild(root);
  }

  function drawCountries(outlines, hosts) {
    const ul = document.getElementById('countries');
    clear(ul);
    const byCountry = new Map();
    for (const h of hosts) {
      const c = h.country || '';
      const s = byCountry.get(c) || { n: 0, trusted: 0 };
      s.n++;
      if (h.trusted) s.trusted++;
      byCountry.set(c, s);
    }
    const names = (outlines && outlines.countries) || {};
    for (const [code, s] of [...byCountry.entries()].sort()) {
      const name = code ? (names[code] ? names[code].name + ' (' + code + ')' : code) : 'no proven location';
      ul.appendChild(el('li', { 'data-country': code, class: 'country-entry' },
        name + ': ' + s.n + ' host' + (s.n === 1 ? '' : 's') + ', ' + s.trusted + ' trusted'));
    }
  }

  function drawHosts(hosts, vmsByHost, showVms) {
    const tbody = document.querySelector('#hosts tbody');
    clear(tbody);
    for (const h of hosts) {
      const tr = row(tbody, [
        { text: shortId(h.id), attrs: { title: h.id } },
        { text: h.country || 'none proven' },
        { text: h.site },
        { text: h.trust, cls: h.trusted ? 'trusted' : 'untrusted' },
        { text: h.source },
        { text: h.age },
        { text: showVms ? (vmsByHost.get(h.id) || []).join(', ') : 'not shown to this role' },
      ]);
      tr.setAttribute('data-host', h.id);
      tr.setAttribute('data-trust', h.trusted ? 'trusted' : 'untrusted');
      tr.setAttribute('data-country', h.country || '');
      tr.setAttribute('data-source', h.source);
      tr.setAttribute('data-age', h.age);
    }
  }

  function drawVms(vms, hvHost) {
    const tbody = document.querySelector('#vms tbody');
    clear(tbody);
    for (const v of vms) {
      const tr = row(tbody, [
        { text: v.id }, { text: v.hypervisor || '' }, { text: hvHost.get(v.hypervisor) || '' },
        { text: v.sensitivity || '' }, { text: v.domain || '' },
      ]);
      tr.setAttribute('data-vm', v.id);
    }
  }

  function drawViolations(report, liAdmin) {
    const box = document.getElementById('violations');
    clear(box);
    const groups = new Map();
    for (const v of report.violations || []) {
      const r = v.requirement || 'unnamed';
      if (!groups.has(r)) groups.set(r, []);
      groups.get(r).push(v);
    }
    if (!groups.size) {
      box.appendChild(el('p', { id: 'no-violations' }, 'No violation.'));
      return;
    }
    for (const [req, list] of [...groups.entries()].sort()) {
      const sec = el('div', { class: 'requirement', 'data-requirement': req });
      const h = el('h3', {}, req + ' \u2014 ' + list.length + ' violation' + (list.length === 1 ? '' : 's'));
      sec.appendChild(h);
      if (list[0].clauses) sec.appendChild(el('p', { class: 'clauses' }, list[0].clauses));
      const ul = el('ul');
      for (const v of list) {
        const li = el('li', { class: 'violation' });
        li.appendChild(el('span', { class: 'subject' }, v.subject || ''));
        li.appendChild(document.createTextNode(': '));
        li.appendChild(el('span', { class: 'sentence' }, v.sentence || ''));
        if (liAdmin && v.fact) li.appendChild(el('div', { class: 'fact' }, v.fact));
        ul.appendChild(li);
      }
      sec.appendChild(ul);
      box.appendChild(sec);
    }
  }

  function drawLis(lis) {
    document.getElementById('lis-section').hidden = false;
    const tbody = document.querySelector('#lis tbody');
    clear(tbody);
    for (const l of lis) {
      const tr = row(tbody, [
        { text: l.id }, { text: l.jurisdiction || '' }, { text: l.lea || '' },
        { text: l.monitored || '' }, { text: l.host || '' }, { text: l.valid_until || '' },
      ]);
      tr.setAttribute('data-li', l.id);
    }
  }

  async function load() {
    document.body.setAttribute('data-state', 'loading');
    clear(document.getElementById('notes'));
    try {
      const status = await api('/v1/status');
      const role = status.you ? status.you.role : '';
      document.getElementById('who').textContent = 'You: ' + role + ' (' + (status.you ? status.you.subject : '') + ')';
      document.body.setAttribute('data-role', role);
      const operator = role === 'operator', auditor = role === 'auditor', liAdmin = role === 'li-admin';
      const [outlines, report, model, attested, hvs, vms, lis] = await Promise.all([
        api('/ui/outlines.json').catch((e) => { note('no map: ' + e.message); return null; }),
        api('/v1/compliance'),
        operator ? api('/v1/model/host') : null,
        operator || auditor ? api('/v1/attest/hosts') : null,
        operator ? api('/v1/model/hypervisor') : null,
        operator ? api('/v1/model/vm') : null,
        liAdmin ? api('/v1/model/li') : null,
      ]);
      /* Ages by lisecd's clock (its report's time), not the viewer's: a
       * browser whose clock is behind would show a stale attestation as
       * fresh. */
      const reported = Date.parse(report.time);
      const now = Number.isNaN(reported) ? Date.now() : reported;
      const hosts = hostsFrom(model, attested, now);
      const hvHost = new Map();
      for (const hv of (hvs && hvs.hypervisors) || []) hvHost.set(hv.id, hv.host);
      /* The operator reads every VM, LI VMs too, as /v1/model/vm answers
       * it (the one role that reads VMs here; docs/model.md, "What each
       * role sees"): the page hides none the API shows it. */
      const shown = operator ? (vms && vms.vms) || [] : [];
      const vmsByHost = new Map();
      for (const v of shown) {
        const host = hvHost.get(v.hypervisor);
        if (!host) continue;
        if (!vmsByHost.has(host)) vmsByHost.set(host, []);
        vmsByHost.get(host).push(v.id);
      }
      /* li-admin reads no host list: no empty map or table for it. */
      document.getElementById('map-section').hidden = liAdmin;
      document.getElementById('hosts-section').hidden = liAdmin;
      drawMap(outlines, hosts);
      drawCountries(outlines, hosts);
      drawHosts(hosts, vmsByHost, operator);
      document.getElementById('vms-section').hidden = !operator;
      if (operator) drawVms(shown, hvHost);
      drawViolations(report, liAdmin);
      if (lis) drawLis(lis.lis || []);
      if (auditor) note('Hosts shown are those that attested with their TPM; the trust model\u2019s entities are the operator\u2019s to read.');
      if (liAdmin) note('Hosts are shown to operators and auditors; the LI administration reads the violations in full and its LI authorisations.');
      if (!operator && !auditor && !liAdmin) note('This role is not admitted to the compliance view.');
      /* Every role but li-admin reads the report without the LI rules' rows
       * (docs/model.md, "What each role sees"): its verdict is about the rest. */
      if (!liAdmin && report.redacted) note('Violations of the LI rules are shown to the LI administration only; the verdict here is about every other requirement.');
      const verdict = document.getElementById('verdict');
      verdict.textContent = report.compliant ? 'compliant' : 'not compliant: ' + (report.violations || []).length + ' violation(s)';
      verdict.className = 'verdict ' + (report.compliant ? 'compliant' : 'violating');
      verdict.setAttribute('data-compliant', report.compliant ? 'true' : 'false');
      verdict.setAttribute('title', 'report of ' + report.time);
      document.body.setAttribute('data-state', 'ready');
    } catch (e) {
      note(e.message);
      /* The verdict of an earlier read is no verdict now: a page left open
       * must not read "compliant" while lisecd cannot be read. */
      const verdict = document.getElementById('verdict');
      verdict.textContent = 'not known: the last read of lisecd failed';
      verdict.className = 'verdict unknown';
      verdict.removeAttribute('data-compliant');
      verdict.setAttribute('title', e.message);
      document.body.setAttribute('data-state', 'error');
    }
  }

  document.addEventListener('securitypolicyviolation', (e) => {
    document.getElementById('csp-violations').appendChild(
      el('li', { class: 'csp-violation' }, 'blocked by the page\u2019s policy: ' + e.violatedDirective + ' ' + e.blockedURI));
  });
  document.getElementById('reload').addEventListener('click', load);
  load();
  setInterval(load, REFRESH_MS);
}());
