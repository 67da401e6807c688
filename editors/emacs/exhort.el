;;; exhort.el --- Exhort, a reviewer for Elixir code, through Eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: languages, tools
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; Registers `exhort serve' with Eglot for `elixir-mode', `elixir-ts-mode' and
;; `heex-ts-mode'.  Usage:
;;
;;   (require 'exhort)
;;   (exhort-eglot-setup)
;;
;; then M-x eglot in an Elixir buffer (or add `eglot-ensure' to the mode hooks).
;;
;; Eglot runs one language server per buffer.  To keep another Elixir server
;; (Expert, ElixirLS, Lexical) beside Exhort, install rassumfrassum
;; (`pip install rassumfrassum') and name that server's command:
;;
;;   (setq exhort-main-server-command '("expert" "--stdio"))
;;
;; Eglot then starts `rass PRESET -- expert --stdio -- exhort serve', PRESET being
;; exhort-rass-preset.py beside this file.  See README.md.

;;; Code:

(require 'cl-lib)
(require 'eglot)

(defgroup exhort nil
  "Exhort language server for Elixir."
  :group 'tools
  :prefix "exhort-")

(defcustom exhort-server-command '("exhort" "serve")
  "Command line that starts the Exhort language server over stdio."
  :type '(repeat string))

(defcustom exhort-main-server-command nil
  "Command line of an Elixir language server to run beside Exhort, or nil.
Eglot runs one server per buffer.  When this is set, for example to
\='(\"expert\" \"--stdio\"), \='(\"elixir-ls\") or \='(\"lexical\"), Eglot starts
`exhort-rass-command' instead: rassumfrassum runs this server first and
Exhort second, and merges their diagnostics and code actions.  Hover,
completion and navigation come from this main server."
  :type '(choice (const :tag "Exhort alone" nil) (repeat string)))

(defconst exhort-rass-preset
  (expand-file-name "exhort-rass-preset.py"
                    (file-name-directory (or load-file-name buffer-file-name default-directory)))
  "The rass preset shipped beside exhort.el.
It makes rass wait up to 30 s for every server's answer to `initialize' (rass's
own 3 s would leave a slowly starting server out of the session).")

(defcustom exhort-rass-command (list "rass" "--log-level" "warn" exhort-rass-preset)
  "How to start rassumfrassum (PyPI `rassumfrassum'), up to its first \"--\".
Used only when `exhort-main-server-command' is set."
  :type '(repeat string))

(defcustom exhort-initialization-options nil
  "Options sent to the server as initializationOptions.
A plist with the keys of the editor settings, for example:
  (:select [\"OTP\" \"PRF001\"] :ignore [\"STY\"] :severity (:PRF001 \"warning\"))
Use vectors for the lists of rule codes."
  :type 'plist)

(defconst exhort-major-modes
  '((elixir-mode :language-id "elixir")
    (elixir-ts-mode :language-id "elixir")
    (heex-ts-mode :language-id "heex"))
  "Major modes Exhort serves, with the LSP language id of each.")

(defclass exhort-eglot-server (eglot-lsp-server) ()
  :documentation "Eglot connection to the Exhort language server.")

(cl-defmethod eglot-initialization-options ((_server exhort-eglot-server))
  "Send `exhort-initialization-options' (an empty object when nil).
Behind rass they go to Exhort only: rass gives each server the entry under
\"rass\" whose key, a Python regular expression, matches the server's name
\(its program's file name, with \"#N\" after all but the first server)."
  (let ((options (or exhort-initialization-options eglot--{})))
    (if exhort-main-server-command
        (list :rass (list (intern (concat ":" (exhort--rass-name-pattern))) options))
      options)))

(cl-defmethod jsonrpc-connection-send :around ((server exhort-eglot-server) &rest args
                                                &key method params &allow-other-keys)
  "Send `exhort-initialization-options' with every configuration change too.
Eglot sends `workspace/didChangeConfiguration' on connecting (and on
\[eglot-signal-didChangeConfiguration]) with the settings of
`eglot-workspace-configuration', often none; Exhort takes what it receives as
its settings, which would undo the initialization options.  They go under the
\"exhort\" section, unless that variable gives one itself."
  (let ((settings (plist-get params :settings)))
    (when (and (eq method :workspace/didChangeConfiguration) exhort-initialization-options
               (not (and (consp settings) (plist-member settings :exhort))))
      (setq args (append (list :params (list :settings (append (list :exhort exhort-initialization-options)
                                                               (and (consp settings) settings))))
                         args))))
  (apply #'cl-call-next-method server args))

(defun exhort--rass-name-pattern ()
  "A Python regular expression matching the name rass gives Exhort's server."
  (concat "^"
          (replace-regexp-in-string "[^[:alnum:]_]" "\\\\\\&"
                                    (file-name-nondirectory (car exhort-server-command)))
          "(#[0-9]+)?$"))

(defun exhort-server-contact ()
  "The command line Eglot starts: Exhort alone, or rass with the main server and Exhort."
  (if exhort-main-server-command
      (append exhort-rass-command '("--") exhort-main-server-command
              '("--") exhort-server-command)
    exhort-server-command))

(defun exhort--contact (&rest _)
  "The Eglot contact for Exhort: its server class and command line."
  (cons 'exhort-eglot-server (exhort-server-contact)))

;;;###autoload
(defun exhort-eglot-setup ()
  "Make Eglot start Exhort in Elixir and HEEx buffers.
The entry goes first in `eglot-server-programs', so it wins over another
server registered for the same modes."
  (interactive)
  (setq eglot-server-programs
        (cons (cons exhort-major-modes #'exhort--contact)
              (cl-remove-if (lambda (entry) (eq (cdr entry) #'exhort--contact))
                            eglot-server-programs))))

;;;###autoload
(defun exhort-check-project ()
  "Run `exhort check' on the current project in a compilation buffer.
Works beside any language server: findings are `file:line:col:' links."
  (interactive)
  (let ((default-directory (or (and (project-current)
                                    (project-root (project-current)))
                               default-directory)))
    (compile "exhort check --color never --no-progress")))

(provide 'exhort)
;;; exhort.el ends here
