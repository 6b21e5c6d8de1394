-- The part of a wrk script that POSTs one new object per request, shared by
-- bench/api/create_pod.lua and bench/crd/create_cr.lua: wrk's setup, init, request,
-- response and done. The script loading it defines, before wrk calls init:
--   create_path(namespace)              the collection to POST to
--   create_body(name, namespace, prefix) the JSON body of one object
--   create_headers                      (optional) more request headers
-- Arguments: URL -- TOKEN NAMESPACE PREFIX; names are PREFIX-<thread id>-<counter>.
-- done() prints one machine-readable "RESULT ..." line for the bench's run.sh and
-- the first non-201 response verbatim.

local threads = {}
local next_id = 0

function setup(thread)
	thread:set("tid", next_id)
	next_id = next_id + 1
	table.insert(threads, thread)
end

local token, namespace, prefix
local counter = 0
non201 = 0
first_errors = {}

function init(args)
	token = args[1]
	namespace = args[2]
	prefix = args[3]
	wrk.method = "POST"
	wrk.path = create_path(namespace)
	wrk.headers["Authorization"] = "Bearer " .. token
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = "application/json"
	for k, v in pairs(create_headers or {}) do
		wrk.headers[k] = v
	end
end

function request()
	counter = counter + 1
	local name = string.format("%s-%d-%d", prefix, tid, counter)
	return wrk.format(nil, nil, nil, create_body(name, namespace, prefix))
end

function response(status, headers, body)
	if status ~= 201 then
		non201 = non201 + 1
		if #first_errors < 3 then
			table.insert(first_errors, tostring(status) .. " " .. string.sub(body or "", 1, 600))
		end
	end
end

function done(summary, latency, requests)
	local bad, sample = 0, ""
	for _, t in ipairs(threads) do
		bad = bad + t:get("non201")
		local errs = t:get("first_errors")
		if errs and sample == "" and errs[1] then
			sample = errs[1]
		end
	end
	local e = summary.errors
	io.write(string.format(
		"RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d non201=%d " ..
		"sock_errors=%d timeouts=%d\n",
		summary.requests, summary.duration, latency:percentile(50),
		latency:percentile(99), latency.max, bad,
		e.connect + e.read + e.write, e.timeout))
	if sample ~= "" then
		io.write("FIRST_ERROR " .. sample:gsub("\n", " ") .. "\n")
	end
end
