-- wrk script: POST a CronTab (examples/crd.yaml's kind, ~0.5 KB, validated by its
-- structural schema, defaulted and pruned) with a unique name per request.
-- Usage: wrk ... -s create_cr.lua URL -- TOKEN NAMESPACE PREFIX
-- done() prints one machine-readable "RESULT ..." line for bench/crd/run.sh.

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

local template = [[
{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"%s","namespace":"%s","labels":{"app":"bench-cron","run":"%s"}},"spec":{"cronSpec":"*/5 * * * *","image":"registry.example.com/library/cron:1.2.3","size":"small","ports":[{"name":"http","port":80},{"name":"metrics","port":9113}],"selector":"app=bench-cron"}}]]

function init(args)
	token = args[1]
	namespace = args[2]
	prefix = args[3]
	wrk.method = "POST"
	wrk.path = "/apis/stable.example.com/v1/namespaces/" .. namespace .. "/crontabs"
	wrk.headers["Authorization"] = "Bearer " .. token
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = "application/json"
end

function request()
	counter = counter + 1
	local name = string.format("%s-%d-%d", prefix, tid, counter)
	return wrk.format(nil, nil, nil, string.format(template, name, namespace, name))
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
