// Test-only probe, installed next to the Exhort .vsix by tests/editors/test_vscode.py.
// It opens EXHORT_PROBE_FILE, waits for Exhort's diagnostic, then (once the test has taken its
// screenshot) checks a settings change, hover and quick fix, writing JSON reports as it goes.
const fs = require('fs');
const vscode = require('vscode');

const reportPath = process.env.EXHORT_PROBE_REPORT;
const report = { steps: [] };

function save() {
  fs.writeFileSync(reportPath + '.tmp', JSON.stringify(report, null, 2));
  fs.renameSync(reportPath + '.tmp', reportPath);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, seconds, probe) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function exhortDiagnostics(uri) {
  return vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'exhort');
}

/** The list when it is not empty, else undefined (for waitFor). */
const nonEmpty = (list) => (list.length > 0 ? list : undefined);

function describe(diagnostic, document) {
  return {
    code: typeof diagnostic.code === 'object' ? String(diagnostic.code.value) : String(diagnostic.code),
    href: typeof diagnostic.code === 'object' && diagnostic.code.target ? diagnostic.code.target.toString() : null,
    message: diagnostic.message,
    severity: vscode.DiagnosticSeverity[diagnostic.severity],
    line: diagnostic.range.start.line,
    covers: document.getText(diagnostic.range),
  };
}

async function run() {
  const uri = vscode.Uri.file(process.env.EXHORT_PROBE_FILE);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(document);
  report.languageId = document.languageId;
  report.steps.push('opened');

  let diagnostic = (await waitFor('a diagnostic from exhort', 60, () => nonEmpty(exhortDiagnostics(uri))))[0];
  const extension = vscode.extensions.getExtension('exhort.exhort');
  report.extensionActive = Boolean(extension && extension.isActive);
  report.diagnostic = describe(diagnostic, document);
  report.steps.push('diagnostic');
  report.stage = 'diagnostic';
  save();

  // The test screenshots the Problems panel now, then tells us to go on.
  await waitFor('the go-ahead from the test', 60, () => fs.existsSync(reportPath + '.go'));

  // A settings change reaches the running server (workspace/didChangeConfiguration).
  await vscode.workspace
    .getConfiguration('exhort')
    .update('severity', { PRF001: 'error' }, vscode.ConfigurationTarget.Global);
  diagnostic = (
    await waitFor('the new severity', 30, () =>
      nonEmpty(exhortDiagnostics(uri).filter((d) => d.severity === vscode.DiagnosticSeverity.Error)),
    )
  )[0];
  report.severityAfterChange = vscode.DiagnosticSeverity[diagnostic.severity];
  report.steps.push('settings change');

  const hovers = await vscode.commands.executeCommand('vscode.executeHoverProvider', uri, diagnostic.range.start);
  report.hover = hovers
    .flatMap((hover) => hover.contents)
    .map((content) => (typeof content === 'string' ? content : content.value))
    .join('\n---\n');
  report.steps.push('hover');

  const actions = await vscode.commands.executeCommand(
    'vscode.executeCodeActionProvider',
    uri,
    diagnostic.range,
    vscode.CodeActionKind.QuickFix.value,
  );
  report.actions = actions.map((action) => action.title);
  const fix = actions.find((action) => action.isPreferred) || actions[0];
  if (!fix || !fix.edit) throw new Error('no quick fix with an edit');
  report.applied = fix.title;
  if (!(await vscode.workspace.applyEdit(fix.edit))) throw new Error('applyEdit failed');
  report.text = document.getText();
  report.steps.push('fix applied');

  await waitFor('the diagnostic to clear', 30, () => exhortDiagnostics(uri).length === 0);
  report.steps.push('diagnostic cleared');
  report.stage = 'done';
  report.ok = true;
  save();
}

exports.activate = function activate() {
  if (!reportPath) return;
  run().catch((error) => {
    report.stage = 'done';
    report.ok = false;
    report.error = String(error && error.stack ? error.stack : error);
    // Every diagnostic VS Code holds for the file, whichever its source: why it failed.
    try {
      const uri = vscode.Uri.file(process.env.EXHORT_PROBE_FILE);
      const document = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      report.diagnostics_seen = vscode.languages
        .getDiagnostics(uri)
        .map((d) => ({ source: d.source, ...(document ? describe(d, document) : { message: d.message }) }));
      if (document) report.buffer_now = document.getText();
    } catch (inner) {
      report.diagnostics_seen = `(failed: ${inner})`;
    }
    save();
  });
};

exports.deactivate = function deactivate() {};
