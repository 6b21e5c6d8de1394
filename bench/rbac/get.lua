-- wrk script: GETs one path with a bearer token; prints RESULT key=value figures.
-- Usage: wrk ... -s get.lua URL -- TOKEN PATH
local token, path
function init(args)
	token = args[1]
	path = args[2]
end
function request()
	return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token,
		["Accept"] = "application/json" })
end
local bad = 0
function response(status, headers, body)
	if status ~= 200 then bad = bad + 1 end
end
function done(summary, latency, requests)
	io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d timeouts=%d\n",
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
		summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write,
		summary.errors.timeout))
end
