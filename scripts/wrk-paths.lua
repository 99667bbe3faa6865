-- wrk: each request asks a path drawn at random from a file (one path a line), so a benchmark measures
-- what users do — different models, different words — rather than one URL a cache has seen.
--   wrk ... -s scripts/wrk-paths.lua http://host:port -- paths.txt
local paths = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(os.time() + #paths + math.floor(os.clock() * 1e6))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)])
end
