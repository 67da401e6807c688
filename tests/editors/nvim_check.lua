-- Driven by test_editor_nvim.py: nvim --clean --headless -l nvim_check.lua RTP FILE REPORT
-- Loads the shipped editors/nvim/lsp/exhort.lua, opens FILE, and records what happened
-- (diagnostic, hover, quick fix, buffer after the fix) as JSON in REPORT. On any failure the
-- report also holds every diagnostic Neovim had and the tail of the LSP log.
-- EXHORT_WAIT in the environment: seconds to wait for each step (default 20).
local rtp, file, report_path = arg[1], arg[2], arg[3]
local wait_ms = (tonumber(os.getenv('EXHORT_WAIT')) or 20) * 1000
local report = { steps = {} }
local bufnr

-- Every message to and from the server goes to the LSP log, shown when the check fails.
vim.lsp.log.set_level('debug')

local function tail(path, limit)
  local handle = io.open(path, 'r')
  if not handle then
    return '(no file ' .. path .. ')'
  end
  local text = handle:read('*a')
  handle:close()
  return text:sub(-limit)
end

local function seen_diagnostics()
  return vim.tbl_map(function(d)
    return { source = d.source, code = d.code, message = d.message, lnum = d.lnum, col = d.col,
             end_lnum = d.end_lnum, end_col = d.end_col }
  end, vim.diagnostic.get(bufnr))
end

local function finish(ok, message)
  report.ok = ok
  report.message = message
  if not ok then
    -- pcall: the failure path must never fail itself.
    local got, diagnostics = pcall(seen_diagnostics)
    report.diagnostics_seen = got and diagnostics or ('(failed: ' .. tostring(diagnostics) .. ')')
    local _, log = pcall(tail, vim.lsp.log.get_filename(), 12000)
    report.lsp_log = log
    local _, messages = pcall(vim.api.nvim_exec2, 'messages', { output = true })
    report.messages = type(messages) == 'table' and messages.output or tostring(messages)
  end
  local out = assert(io.open(report_path, 'w'))
  out:write(vim.json.encode(report))
  out:close()
  vim.cmd(ok and 'qall!' or 'cquit!')
end

local function check(cond, message)
  if not cond then
    finish(false, message)
  end
end

local function main()
  vim.opt.runtimepath:prepend(rtp)
  vim.lsp.enable('exhort')
  vim.cmd.edit(vim.fn.fnameescape(file))
  bufnr = vim.api.nvim_get_current_buf()
  report.filetype = vim.bo[bufnr].filetype

  local client
  check(vim.wait(wait_ms, function()
    client = vim.lsp.get_clients({ bufnr = bufnr, name = 'exhort' })[1]
    return client ~= nil and client.initialized
  end, 50), 'the exhort client never attached to the buffer')
  report.offset_encoding = client.offset_encoding
  report.cmd = client.config.cmd
  report.root_dir = client.root_dir

  local function exhort_diagnostics()
    return vim.tbl_filter(function(d)
      return d.source == 'exhort'
    end, vim.diagnostic.get(bufnr))
  end

  local diag
  check(vim.wait(wait_ms, function()
    diag = exhort_diagnostics()[1]
    return diag ~= nil
  end, 50), 'no diagnostic from exhort')
  report.diagnostic = {
    code = diag.code,
    lnum = diag.lnum,
    col = diag.col,
    message = diag.message,
    covers = table.concat(vim.api.nvim_buf_get_text(bufnr, diag.lnum, diag.col, diag.end_lnum, diag.end_col, {}), '\n'),
    href = vim.tbl_get(diag, 'user_data', 'lsp', 'codeDescription', 'href'),
  }
  table.insert(report.steps, 'diagnostic')

  -- Hover where the diagnostic starts (the cursor position is converted by Neovim).
  vim.api.nvim_win_set_cursor(0, { diag.lnum + 1, diag.col })
  local hover = client:request_sync(
    'textDocument/hover',
    vim.lsp.util.make_position_params(0, client.offset_encoding),
    10000,
    bufnr
  )
  check(hover and hover.result, 'no hover result: ' .. vim.inspect(hover))
  local contents = hover.result.contents
  report.hover = type(contents) == 'table' and (contents.value or vim.inspect(contents)) or tostring(contents)
  table.insert(report.steps, 'hover')

  -- Quick fixes for that diagnostic, asked the way vim.lsp.buf.code_action() does.
  local lsp_diag = diag.user_data and diag.user_data.lsp
  check(lsp_diag ~= nil, 'diagnostic has no LSP form')
  local actions = client:request_sync('textDocument/codeAction', {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    range = lsp_diag.range,
    context = { diagnostics = { lsp_diag }, only = { 'quickfix' }, triggerKind = 1 },
  }, 10000, bufnr)
  check(actions and actions.result and #actions.result > 0, 'no code actions: ' .. vim.inspect(actions))
  report.actions = vim.tbl_map(function(a)
    return a.title
  end, actions.result)
  -- The preferred fix if the server marks one, else the first, as a user pressing Enter would.
  local fix = actions.result[1]
  for _, action in ipairs(actions.result) do
    if action.isPreferred then
      fix = action
      break
    end
  end
  check(fix.edit ~= nil, 'the chosen quick fix has no edit: ' .. vim.inspect(fix))
  report.applied = fix.title
  vim.lsp.util.apply_workspace_edit(fix.edit, client.offset_encoding)
  report.buffer = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), '\n')
  table.insert(report.steps, 'fix applied')

  -- The edit goes to the server as didChange; the diagnostic must go away.
  check(vim.wait(wait_ms, function()
    return #exhort_diagnostics() == 0
  end, 50), 'the diagnostic stayed after the fix')
  table.insert(report.steps, 'diagnostic cleared')
  finish(true, 'ok')
end

-- An error anywhere (a nil where a reply was expected, ...) still writes the report.
local ok, err = xpcall(main, debug.traceback)
if not ok then
  finish(false, 'error: ' .. tostring(err))
end
