-- Headless Neovim: start `codeassist lsp` with the built-in LSP client, open a file, ask for a completion.
-- Inputs (environment): CODEASSIST_CMD (JSON list), CODEASSIST_ROOT, CODEASSIST_FILE, CODEASSIST_LINE and
-- CODEASSIST_CHARACTER (0-based), CODEASSIST_OUT (the JSON result is written there). Works on Neovim 0.7+.
local out = os.getenv("CODEASSIST_OUT")

local function finish(payload)
  local f = assert(io.open(out, "w"))
  f:write(vim.fn.json_encode(payload))
  f:close()
  vim.cmd("qa!")
end

if vim.lsp == nil or vim.lsp.start_client == nil then
  finish({ error = "this Neovim has no built-in LSP client" })
  return
end

local initialized = false
local statuses = {}
local config = {
  name = "codeassist",
  cmd = vim.fn.json_decode(os.getenv("CODEASSIST_CMD")),
  root_dir = os.getenv("CODEASSIST_ROOT"),
  init_options = { maxNewTokens = 24 },
  on_init = function() initialized = true end,
  handlers = {
    ["codeassist/status"] = function(_, result) table.insert(statuses, result.state) end,
  },
}
local client_id = vim.lsp.start and vim.lsp.start(config) or vim.lsp.start_client(config)
vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("CODEASSIST_FILE")))
local buf = vim.api.nvim_get_current_buf()
vim.lsp.buf_attach_client(buf, client_id)
if not vim.wait(60000, function() return initialized end, 100) then
  finish({ error = "the server did not initialize within 60 s" })
  return
end
local client = vim.lsp.get_client_by_id(client_id)

local state = "starting"
local deadline = vim.loop.now() + 600000
while state ~= "ready" and state ~= "failed" and vim.loop.now() < deadline do
  local resp = client.request_sync("workspace/executeCommand", { command = "codeassist.status" }, 10000, buf)
  if resp and resp.result then state = resp.result.state end
  vim.wait(500)
end
if state ~= "ready" then
  finish({ error = "the model is not ready: " .. state, statuses = statuses })
  return
end

local params = {
  textDocument = { uri = vim.uri_from_bufnr(buf) },
  position = { line = tonumber(os.getenv("CODEASSIST_LINE")), character = tonumber(os.getenv("CODEASSIST_CHARACTER")) },
}
local resp, err = client.request_sync("textDocument/completion", params, 300000, buf)
client.stop()
finish({ version = vim.version(), statuses = statuses, response = resp, error = err })
