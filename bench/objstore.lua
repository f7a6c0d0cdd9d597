-- bench/objstore.lua - wrk script for bench/objstore.sh: cycles through a
-- file of presigned request targets (one "/bucket/key?X-Amz-..." a line).
-- Thread i of N takes lines i, i+N, i+2N, ... so that no two threads send
-- the same target; a thread that reaches the end of its share starts over
-- (a PUT then overwrites its key) and the wraps are reported.
--   wrk -s bench/objstore.lua URL -- TARGETS METHOD BODYFILE|- NTHREADS
local threads = {}
local count = 0

function setup(thread)
    thread:set("id", count)
    count = count + 1
    table.insert(threads, thread)
end

function init(args)
    local nthreads = tonumber(args[4])
    targets = {}
    local i = 0
    for line in io.lines(args[1]) do
        if i % nthreads == id then
            targets[#targets + 1] = line
        end
        i = i + 1
    end
    assert(#targets > 0, "no targets for thread " .. id)
    method = args[2]
    if args[3] ~= "-" then
        local f = assert(io.open(args[3], "rb"))
        body = f:read("*a")
        f:close()
    end
    n = 0
    wraps = 0
end

function request()
    n = n + 1
    if n > #targets then
        n = 1
        wraps = wraps + 1
    end
    return wrk.format(method, targets[n], nil, body)
end

function done(summary, latency, requests)
    local w = 0
    for _, t in ipairs(threads) do
        w = w + t:get("wraps")
    end
    io.write(string.format("wraps %d\n", w))
end
