;;; emacs_check.el --- driven by test_editor_emacs.py  -*- lexical-binding: t; -*-
;; emacs --batch -q -l emacs_check.el, with in the environment:
;;   EXHORT_EL      the shipped editors/emacs/exhort.el
;;   EXHORT_FILE    the file to open
;;   EXHORT_REPORT  where to write the JSON report
;;   EXHORT_WAIT    seconds to wait for each step (default 30)
;;   EXHORT_MAIN_SERVER  optional, a JSON array: the main server's command line.  When set,
;;                  exhort.el's combined setup runs it beside Exhort through rass.
;;   EXHORT_INIT_OPTIONS  optional, an Elisp plist for `exhort-initialization-options'.
;; Loads exhort.el, opens the file under Eglot and records what happened (diagnostics,
;; hover, code actions, the buffer after the quick fix) as JSON.  On any failure the
;; report also holds every diagnostic Flymake had and the tail of the events log.

(require 'json)
(require 'eglot)
(require 'flymake)

(defvar check-report nil "Alist written as JSON at the end.")
(defvar check-steps nil)
(defvar check-wait-seconds (string-to-number (or (getenv "EXHORT_WAIT") "30")))
(defvar check-main-server (let ((value (getenv "EXHORT_MAIN_SERVER")))
                            (and value (append (json-read-from-string value) nil))))

(defun check-note (key value) (push (cons key value) check-report))

(defun check-lsp-diagnostic (diagnostic)
  (cdr (assoc 'eglot-lsp-diag (flymake-diagnostic-data diagnostic))))

(defun check-describe (diagnostic)
  "DIAGNOSTIC as an alist for the report.
A stale diagnostic may point past the edited text: its positions are clamped."
  (let* ((lsp (check-lsp-diagnostic diagnostic))
         (beg (min (point-max) (flymake-diagnostic-beg diagnostic)))
         (end (max beg (min (point-max) (flymake-diagnostic-end diagnostic)))))
    `((source . ,(plist-get lsp :source))
      (code . ,(plist-get lsp :code))
      (severity . ,(plist-get lsp :severity))
      (text . ,(flymake-diagnostic-text diagnostic))
      (line . ,(line-number-at-pos beg))
      (column . ,(save-excursion (goto-char beg) (current-column)))
      (covers . ,(buffer-substring-no-properties beg end))
      (lsp_range . ,(plist-get lsp :range))
      (href . ,(plist-get (plist-get lsp :codeDescription) :href)))))

(defun check-tail (buffer limit)
  (with-current-buffer buffer
    (buffer-substring-no-properties (max (point-min) (- (point-max) limit)) (point-max))))

(defmacro check-safely (key &rest body)
  "Note BODY's value under KEY; note the error instead if it fails (never raise here)."
  `(check-note ,key (condition-case err (progn ,@body) (error (format "(failed: %S)" err)))))

(defun check-finish (ok message)
  (check-note 'ok (if ok t :json-false))
  (check-note 'message message)
  (check-note 'steps (vconcat (reverse check-steps)))
  (unless ok
    ;; What a person needs to see why: the diagnostics Flymake holds now, and the JSON-RPC
    ;; traffic (Emacs 28's jsonrpc copies the server's stderr into the same log).
    (check-safely 'diagnostics_seen (vconcat (mapcar #'check-describe (flymake-diagnostics))))
    (check-safely 'buffer_now (buffer-substring-no-properties (point-min) (point-max)))
    (let ((server (ignore-errors (eglot-current-server))))
      (check-safely 'events (if server
                                (check-tail (jsonrpc-events-buffer server) 12000)
                              "(no Eglot server in this buffer)"))
      (check-safely 'stderr (let ((buffer (and server (jsonrpc-stderr-buffer server))))
                              (if (buffer-live-p buffer) (check-tail buffer 4000) "")))
      (check-safely 'messages (check-tail "*Messages*" 3000))))
  (let ((coding-system-for-write 'utf-8))
    (write-region (json-encode check-report) nil (getenv "EXHORT_REPORT")))
  (kill-emacs (if ok 0 1)))

(defun check-wait (predicate)
  "Process server output until PREDICATE is true or `check-wait-seconds' pass."
  (let ((deadline (+ (float-time) check-wait-seconds)) result)
    (while (and (not (setq result (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    result))

(defun check-diagnostics-from (source)
  (cl-remove-if-not (lambda (d) (equal source (plist-get (check-lsp-diagnostic d) :source)))
                    (flymake-diagnostics)))

(defun check-both-present ()
  "Exhort's diagnostics once they are there (and the main server's, when there is one)."
  (let ((exhort (check-diagnostics-from "exhort")))
    (and exhort (or (null check-main-server) (check-diagnostics-from "standin"))
         exhort)))

(condition-case err
    (progn
      ;; Debian has no elixir-mode: a stand-in with the same name is enough for Eglot.
      (define-derived-mode elixir-mode prog-mode "Elixir")
      (add-to-list 'auto-mode-alist '("\\.exs?\\'" . elixir-mode))
      (setq eglot-sync-connect check-wait-seconds eglot-connect-timeout check-wait-seconds)
      (load (getenv "EXHORT_EL") nil t)
      (when check-main-server
        (setq exhort-main-server-command check-main-server))
      (when (getenv "EXHORT_INIT_OPTIONS")
        (setq exhort-initialization-options (car (read-from-string (getenv "EXHORT_INIT_OPTIONS")))))
      (exhort-eglot-setup)
      (find-file (getenv "EXHORT_FILE"))
      (check-note 'major_mode (symbol-name major-mode))
      ;; What M-x eglot does.
      (apply #'eglot (eglot--guess-contact))
      (let ((server (check-wait #'eglot-current-server)))
        (unless server (check-finish nil "Eglot did not connect"))
        (check-note 'server_class (symbol-name (eieio-object-class server)))
        (check-note 'command (vconcat (process-command (jsonrpc--process server)))))
      (let* ((diag (car (or (check-wait #'check-both-present)
                            (check-finish nil (if check-main-server
                                                  "not both servers' diagnostics"
                                                "no diagnostic from exhort"))))))
        (check-note 'diagnostic (check-describe diag))
        (when check-main-server
          (check-note 'main_diagnostics (vconcat (mapcar #'check-describe
                                                         (check-diagnostics-from "standin")))))
        (push "diagnostic" check-steps)
        (when (getenv "EXHORT_INIT_OPTIONS")
          ;; Eglot sends the workspace configuration on connecting and whenever the user asks;
          ;; the initialization options must survive it.  A reset would republish at once.
          (eglot-signal-didChangeConfiguration (eglot--current-server-or-lose))
          (let ((until (+ (float-time) 2)))
            (while (< (float-time) until) (accept-process-output nil 0.05)))
          (setq diag (or (car (check-diagnostics-from "exhort"))
                         (check-finish nil "no Exhort diagnostic after the configuration change")))
          (check-note 'severity_after_configuration
                      (plist-get (check-lsp-diagnostic diag) :severity)))

        (goto-char (flymake-diagnostic-beg diag))
        (let* ((hover (jsonrpc-request (eglot--current-server-or-lose) :textDocument/hover
                                       (eglot--TextDocumentPositionParams)))
               (contents (plist-get hover :contents)))
          (check-note 'hover (if (stringp contents) contents (plist-get contents :value)))
          (push "hover" check-steps))

        (let* ((actions (eglot-code-actions (flymake-diagnostic-beg diag)
                                            (flymake-diagnostic-end diag) "quickfix"))
               (fix (or (cl-find-if (lambda (a) (plist-get a :isPreferred)) actions)
                        (car actions))))
          (check-note 'actions (vconcat (mapcar (lambda (a) (plist-get a :title)) actions)))
          (unless (plist-get fix :edit) (check-finish nil "no quick fix with an edit"))
          (check-note 'applied (plist-get fix :title))
          (eglot--apply-workspace-edit (plist-get fix :edit))
          (check-note 'buffer (buffer-substring-no-properties (point-min) (point-max)))
          (push "fix applied" check-steps)
          ;; Batch Emacs is never idle, so Eglot's idle timer would never send the change.
          (eglot--signal-textDocument/didChange)
          (unless (check-wait (lambda () (null (check-diagnostics-from "exhort"))))
            (check-finish nil "the diagnostic stayed after the fix"))
          (when check-main-server
            ;; rass publishes one server's diagnostics alone when the other is over a second
            ;; late, then again with both: Exhort's must still be gone after that window.
            (let ((until (+ (float-time) 1.5)))
              (while (< (float-time) until) (accept-process-output nil 0.05)))
            (when (check-diagnostics-from "exhort")
              (check-finish nil "Exhort's diagnostic came back after rass's aggregation window")))
          (push "diagnostic cleared" check-steps)
          (when check-main-server
            (check-note 'main_diagnostics_after (vconcat (mapcar #'check-describe
                                                               (check-diagnostics-from "standin")))))))
      (check-finish t "ok"))
  (error (check-finish nil (format "error: %S" err))))
