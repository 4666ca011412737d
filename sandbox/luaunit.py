"""A small `luaunit` for the sandbox's Lua: the part of luaunit's API that MultiPL-E's
Lua tests and SandboxFusion's Lua programs use.

Debian ships no luaunit and nothing may be downloaded at run time, so the toolchain
puts this module beside every Lua program (`require('luaunit')` finds it in the work
dir). `LuaUnit.run()` runs the global functions whose names start with `test`, in name
order, and returns the number that failed; a failed assertion is reported on stderr as
an `AssertionError` (a wrong answer), any other error as what it is (a runtime error).
"""

from __future__ import annotations

__all__ = ["LUAUNIT"]

LUAUNIT = r"""-- luaunit subset (rewardgate): assertions and LuaUnit.run().
local M = {}
local FAIL = {}

local function show(v, seen)
  if type(v) == 'string' then return string.format('%q', v) end
  if type(v) ~= 'table' then return tostring(v) end
  seen = seen or {}
  if seen[v] then return '<cycle>' end
  seen[v] = true
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = show(k, seen) .. '=' .. show(v[k], seen) end
  return '{' .. table.concat(parts, ', ') .. '}'
end

local function equal(a, b, seen)
  if a == b then return true end
  if type(a) ~= 'table' or type(b) ~= 'table' then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do if not equal(v, b[k], seen) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function fail(message)
  error(setmetatable({message = message}, FAIL), 3)
end

function M.assertEquals(actual, expected)
  if not equal(actual, expected) then
    fail('expected: ' .. show(expected) .. ', actual: ' .. show(actual))
  end
end
function M.assertNotEquals(actual, expected)
  if equal(actual, expected) then fail('values are equal: ' .. show(actual)) end
end
function M.assertAlmostEquals(actual, expected, margin)
  margin = margin or 1e-11
  if type(actual) ~= 'number' or math.abs(actual - expected) > margin then
    fail('expected ' .. show(expected) .. ' within ' .. margin .. ', actual: ' .. show(actual))
  end
end
function M.assertTrue(v) if v ~= true then fail('expected true, actual: ' .. show(v)) end end
function M.assertFalse(v) if v ~= false then fail('expected false, actual: ' .. show(v)) end end
function M.assertNil(v) if v ~= nil then fail('expected nil, actual: ' .. show(v)) end end
function M.assertNotNil(v) if v == nil then fail('expected a value, actual: nil') end end
function M.assertIsTrue(v) M.assertTrue(v) end
function M.assertIsFalse(v) M.assertFalse(v) end
function M.assertIsNil(v) M.assertNil(v) end
function M.assertStrContains(s, sub)
  if type(s) ~= 'string' or not s:find(sub, 1, true) then
    fail(show(s) .. ' does not contain ' .. show(sub))
  end
end
function M.assertItemsEquals(actual, expected)
  local function counts(t)
    local c = {}
    for _, v in pairs(t) do local k = show(v); c[k] = (c[k] or 0) + 1 end
    return c
  end
  if type(actual) ~= 'table' or not equal(counts(actual), counts(expected)) then
    fail('expected the items of ' .. show(expected) .. ', actual: ' .. show(actual))
  end
end
function M.fail(message) fail(message or 'failure') end
M.assert_equals = M.assertEquals
M.assertEqual = M.assertEquals

M.LuaUnit = {}
function M.LuaUnit.run()
  local names = {}
  for name, value in pairs(_G) do
    local named = type(name) == 'string' and name:lower():sub(1, 4) == 'test'
    if named and type(value) == 'function' then
      names[#names + 1] = name
    end
  end
  table.sort(names)
  local failed = 0
  for _, name in ipairs(names) do
    local ok, err = xpcall(_G[name], function(e)
      if getmetatable(e) == FAIL then return e end
      return debug.traceback(tostring(e), 2)
    end)
    if not ok then
      failed = failed + 1
      if getmetatable(err) == FAIL then
        io.stderr:write(name .. ' failed: AssertionError: ' .. err.message .. '\n')
      else
        io.stderr:write(name .. ' errored: ' .. tostring(err) .. '\n')
      end
    end
  end
  io.stdout:write(string.format('Ran %d tests, %d failed\n', #names, failed))
  return failed
end
M.run = M.LuaUnit.run
return M
"""
