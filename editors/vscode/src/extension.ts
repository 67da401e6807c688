// VS Code client for the Exhort language server (`exhort serve` over stdio).
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';

// Exhort is installed from a clone of its repository (it is not published to a package index).
const INSTALL_HINT = '`python3 -m pip install .` in a clone of the Exhort repository';
const SETTINGS_THAT_RESTART = ['exhort.server.command'];
const SETTINGS_SENT_TO_SERVER = [
  'exhort.select', 'exhort.ignore', 'exhort.severity', 'exhort.baseline', 'exhort.baselineFindings',
];

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;

/** The settings the server understands, as sent in initializationOptions and on change. */
export function serverSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration('exhort');
  const settings: Record<string, unknown> = {};
  // An empty list means "not set": the project's .exhort.toml decides.
  const select = config.get<string[]>('select', []);
  if (select.length > 0) {
    settings.select = select;
  }
  const ignore = config.get<string[]>('ignore', []);
  if (ignore.length > 0) {
    settings.ignore = ignore;
  }
  const severity = config.get<Record<string, string>>('severity', {});
  if (Object.keys(severity).length > 0) {
    settings.severity = severity;
  }
  const baseline = config.get<string>('baseline', '');
  if (baseline) {
    settings.baseline = baseline;
    settings.baselineFindings = config.get<string>('baselineFindings', 'hint');
  }
  return settings;
}

/** Where `command` resolves to, or undefined when it cannot be found. */
function resolveCommand(command: string): string | undefined {
  const isFile = (candidate: string) => {
    try {
      return fs.statSync(candidate).isFile();
    } catch {
      return false;
    }
  };
  if (command.includes('/') || command.includes('\\')) {
    return isFile(command) ? command : undefined;
  }
  const extensions = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const extension of extensions) {
      const candidate = path.join(dir, command + extension);
      if (dir && isFile(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

async function reportMissingServer(command: string, detail?: string): Promise<void> {
  const message =
    `Exhort: the language server \`${command}\` was not found${detail ? ` (${detail})` : ''}. ` +
    `Install it with ${INSTALL_HINT}, or set "exhort.server.command" to the path of the exhort executable.`;
  output.appendLine(message);
  const choice = await vscode.window.showErrorMessage(message, 'Open Settings', 'Show Output');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'exhort.server.command');
  } else if (choice === 'Show Output') {
    output.show(true);
  }
}

async function startClient(): Promise<void> {
  const command = vscode.workspace.getConfiguration('exhort').get<string>('server.command', 'exhort') || 'exhort';
  const executable = resolveCommand(command);
  if (executable === undefined) {
    await reportMissingServer(command);
    return;
  }
  output.appendLine(`Starting ${executable} serve`);
  const serverOptions: ServerOptions = {
    command: executable,
    // No `transport`: TransportKind.stdio would append `--stdio`, which `exhort serve` rejects.
    // Without it the client still talks over the process's stdin/stdout.
    args: ['serve'],
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'elixir' },
      { scheme: 'file', language: 'heex' },
      { scheme: 'untitled', language: 'elixir' },
      { scheme: 'untitled', language: 'heex' },
    ],
    initializationOptions: serverSettings(),
    outputChannel: output,
    traceOutputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  client = new LanguageClient('exhort', 'Exhort', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/ENOENT|EACCES/.test(text)) {
      await reportMissingServer(command, text);
    } else {
      output.appendLine(`Exhort: the server did not start: ${text}`);
      void vscode.window.showErrorMessage(`Exhort: the server did not start: ${text}`, 'Show Output').then((choice) => {
        if (choice) {
          output.show(true);
        }
      });
    }
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running && running.state !== State.Stopped) {
    try {
      await running.stop();
    } catch (error) {
      output.appendLine(`Exhort: stopping the server failed: ${error}`);
    }
  }
}

async function restartClient(): Promise<void> {
  await stopClient();
  await startClient();
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('Exhort');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('exhort.restartServer', restartClient),
    vscode.commands.registerCommand('exhort.showOutput', () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (SETTINGS_THAT_RESTART.some((section) => event.affectsConfiguration(section))) {
        await restartClient();
      } else if (SETTINGS_SENT_TO_SERVER.some((section) => event.affectsConfiguration(section))) {
        if (client?.state === State.Running) {
          await client.sendNotification(DidChangeConfigurationNotification.type, {
            settings: { exhort: serverSettings() },
          });
        }
      }
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(restartClient),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
