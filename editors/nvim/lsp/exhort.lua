-- Exhort language server for Neovim 0.11+ (nvim-lspconfig format).
--
-- Put the folder that holds this lsp/ directory on 'runtimepath' (or copy this file to
-- ~/.config/nvim/lsp/exhort.lua), then:
--
--   vim.lsp.enable('exhort')
--
-- Override anything with vim.lsp.config('exhort', { ... }), for example init_options.
---@type vim.lsp.Config
return {
  cmd = { 'exhort', 'serve' },
  filetypes = { 'elixir', 'eelixir', 'heex' },
  root_markers = { 'mix.exs', '.git' },
  -- Sent as initializationOptions. Same keys as the VS Code settings:
  --   select = { 'OTP', 'PRF001' }, ignore = { 'STY' }, severity = { PRF001 = 'warning' }
  init_options = vim.empty_dict(),
  -- Sent again on workspace/didChangeConfiguration, e.g. after
  --   vim.lsp.config('exhort', { settings = { exhort = { ignore = { 'STY' } } } })
  settings = vim.empty_dict(),
}
