;;; emacs_check.el --- driven by test_emacs.py  -*- lexical-binding: t; -*-
;; emacs --batch -q -l emacs_check.el, with EXHORT_EL, EXHORT_FILE and EXHORT_REPORT
;; in the environment.  Loads the shipped exhort.el, opens the file under Eglot and
;; records what happened (diagnostic, hover, quick fix, buffer after it) as JSON.

(require 'json)
(require 'eglot)
(require 'flymake)

(defvar check-report nil "Alist written as JSON at the end.")
(defvar check-steps nil)

(defun check-note (key value) (push (cons key value) check-report))

(defun check-finish (ok message)
  (check-note 'ok (if ok t :json-false))
  (check-note 'message message)
  (check-note 'steps (vconcat (reverse check-steps)))
  (let ((server (ignore-errors (eglot-current-server))))
    (when (and server (not ok))
      (with-current-buffer (eglot-events-buffer server)
        (check-note 'events (buffer-substring-no-properties
                             (max (point-min) (- (point-max) 6000)) (point-max))))))
  (let ((coding-system-for-write 'utf-8))
    (write-region (json-encode check-report) nil (getenv "EXHORT_REPORT")))
  (kill-emacs (if ok 0 1)))

(defun check-wait (seconds predicate)
  "Process server output until PREDICATE is true or SECONDS pass."
  (let ((deadline (+ (float-time) seconds)) result)
    (while (and (not (setq result (funcall predicate)))
                (< (float-time) deadline))
      (accept-process-output nil 0.05))
    result))

(defun check-exhort-diagnostics ()
  (cl-remove-if-not
   (lambda (d)
     (equal "exhort" (plist-get (cdr (assoc 'eglot-lsp-diag (flymake-diagnostic-data d))) :source)))
   (flymake-diagnostics)))

(condition-case err
    (progn
      ;; Debian has no elixir-mode: a stand-in with the same name is enough for Eglot.
      (define-derived-mode elixir-mode prog-mode "Elixir")
      (add-to-list 'auto-mode-alist '("\\.exs?\\'" . elixir-mode))
      (setq eglot-sync-connect 10 eglot-connect-timeout 30)
      (load (getenv "EXHORT_EL") nil t)
      (exhort-eglot-setup)
      (find-file (getenv "EXHORT_FILE"))
      (check-note 'major_mode (symbol-name major-mode))
      ;; What M-x eglot does.
      (apply #'eglot (eglot--guess-contact))
      (let ((server (check-wait 30 #'eglot-current-server)))
        (unless server (check-finish nil "Eglot did not connect"))
        (check-note 'server_class (symbol-name (eieio-object-class server)))
        (check-note 'command (vconcat (process-command (jsonrpc--process server)))))
      (let* ((diag (car (check-wait 30 #'check-exhort-diagnostics)))
             (lsp (and diag (cdr (assoc 'eglot-lsp-diag (flymake-diagnostic-data diag))))))
        (unless diag (check-finish nil "no diagnostic from exhort"))
        (check-note 'diagnostic `((code . ,(plist-get lsp :code))
                                  (text . ,(flymake-diagnostic-text diag))
                                  (line . ,(line-number-at-pos (flymake-diagnostic-beg diag)))
                                  (column . ,(save-excursion
                                               (goto-char (flymake-diagnostic-beg diag))
                                               (current-column)))
                                  (covers . ,(buffer-substring-no-properties
                                              (flymake-diagnostic-beg diag)
                                              (flymake-diagnostic-end diag)))
                                  (lsp_range . ,(plist-get lsp :range))))
        (push "diagnostic" check-steps)

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
          (unless (check-wait 30 (lambda () (null (check-exhort-diagnostics))))
            (check-finish nil "the diagnostic stayed after the fix"))
          (push "diagnostic cleared" check-steps)))
      (check-finish t "ok"))
  (error (check-finish nil (format "error: %S" err))))
