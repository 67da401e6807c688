// Driven by test_vscode.py: node vscode_driver.js URL PROBE_REPORT SCREENSHOT
// Opens code-server in headless Chromium, waits for the probe extension to see Exhort's
// diagnostic, shows the Problems panel, screenshots it, then lets the probe go on.
const fs = require('fs');
const { chromium } = require('playwright-core');

const [url, reportPath, screenshotPath] = process.argv.slice(2);

function readReport() {
  try {
    return JSON.parse(fs.readFileSync(reportPath, 'utf8'));
  } catch {
    return undefined;
  }
}

async function waitForStage(stages, seconds) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const report = readReport();
    if (report && stages.includes(report.stage)) return report;
    if (Date.now() > deadline) throw new Error(`probe never reached ${stages.join('/')}: ${JSON.stringify(report)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 620 } });
    await page.goto(url);
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    const report = await waitForStage(['diagnostic', 'done'], 90);
    if (report.stage === 'diagnostic') {
      // The Problems panel, as a user opens it.
      await page.locator('.monaco-workbench').click({ position: { x: 600, y: 300 } });
      await page.keyboard.press('Control+Shift+M');
      const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'PRF001' }).first();
      await row.waitFor({ timeout: 30000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: screenshotPath });
      console.log(JSON.stringify({ problemsRow: (await row.innerText()).replace(/\s+/g, ' ') }));
      fs.writeFileSync(reportPath + '.go', '');
    }
    await waitForStage(['done'], 90);
  } finally {
    await browser.close();
  }
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
