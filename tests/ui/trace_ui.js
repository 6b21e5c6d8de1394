#!/usr/bin/env node
/* The /ui/ page in a real headless browser (Debian's chromium, driven by
 * playwright-core; no browser is downloaded). Run inside the node's network
 * namespace by tests/e2e/trace.sh:
 *   node trace_ui.js API_URL TOKEN_FILE NS/SERVICE CLUSTER_IP SCREENSHOT
 * It may start before the service's pod runs: it waits (bounded) for the first
 * endpoint to be drawn and prints it ("endpoint: IP:PORT") for the shell to
 * check. Prints PASS:/FAIL: lines (the shell feeds them to lib.sh). Every wait
 * is bounded. */
'use strict';
const fs = require('fs');
const http = require('http');
const { chromium } = require('playwright-core');

const [api, tokenFile, svc, clusterIP, shot] = process.argv.slice(2);
let endpoint = null;
const token = fs.readFileSync(tokenFile, 'utf8').trim();
let failed = 0;
const pass = (n) => console.log('PASS: ui ' + n);
const fail = (n, why) => { failed++; console.log('FAIL: ui ' + n + (why ? ': ' + why : '')); };
const expectEq = (n, got, want) => (got === want ? pass(n) : fail(n, `got '${got}', want '${want}'`));

function get(url) {
  return new Promise((resolve) => {
    /* agent: false, a connection per request (Node's default agent keeps them
     * alive, and the counter counts connections) */
    const req = http.get(url, { timeout: 5000, agent: false }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

async function counter(page) {
  const t = await page.locator(`[data-counter="${endpoint}"]`).textContent({ timeout: 10000 });
  const m = /connections (\d+)/.exec(t || '');
  return m ? Number(m[1]) : -1;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    timeout: 30000,
  });
  try {
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 700 } });
    const page = await ctx.newPage();
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const resp = await page.goto(api + '/ui/#' + svc, { timeout: 15000 });
    expectEq('page served', resp.status(), 200);
    const csp = resp.headers()['content-security-policy'] || '';
    if (/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp)) pass('Content-Security-Policy without inline script');
    else fail('Content-Security-Policy', csp);
    await page.locator('#token').waitFor({ state: 'visible', timeout: 10000 });
    pass('the page asks for the token');
    await page.fill('#token', token);
    await page.click('#login-button');
    /* the endpoint's box, once the pod is ready and the node programmed it */
    const ready = page.locator('g[data-endpoint]').filter({ hasText: 'ready' }).filter({ hasNotText: 'not' });
    await ready.first().waitFor({ timeout: 60000 });
    endpoint = await ready.first().getAttribute('data-endpoint');
    console.log('endpoint: ' + endpoint);
    pass('service graph shows the endpoint');
    const svcText = await page.locator(`[data-service="${svc}"]`).textContent({ timeout: 5000 });
    if (svcText && svcText.includes(clusterIP)) pass('service box shows the ClusterIP');
    else fail('service box shows the ClusterIP', svcText);
    const stored = await page.evaluate(() => sessionStorage.getItem('minik8s-token'));
    expectEq('token kept in sessionStorage', stored === token, true);
    const cookies = await ctx.cookies();
    expectEq('no cookies', cookies.length, 0);

    const c0 = await counter(page);
    if (c0 >= 0) pass('counter shown'); else fail('counter shown');
    await page.evaluate(() => { window.__noReload = 1; });
    let ok = 0;
    for (let i = 0; i < 3; i++) if ((await get(`http://${clusterIP}/`)) === 200) ok++;
    expectEq('three requests to the ClusterIP answered', ok, 3);
    let c1 = c0;
    for (let i = 0; i < 50 && c1 < c0 + 3; i++) {
      await page.waitForTimeout(200);
      c1 = await counter(page);
    }
    expectEq('counter increased by 3 without reload', c1 - c0, 3);
    expectEq('no reload happened', await page.evaluate(() => window.__noReload), 1);
    await page.screenshot({ path: shot, fullPage: true });
    console.log('screenshot: ' + shot);
    if (fs.existsSync(shot) && fs.statSync(shot).size > 1000) pass('screenshot saved');
    else fail('screenshot saved');
    expectEq('no console errors', errors.join(' | '), '');
  } catch (e) {
    fail('browser run', String(e && e.message ? e.message.split('\n')[0] : e));
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
