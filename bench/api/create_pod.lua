-- wrk script: POST a realistic Pod (~1.5 KB, what `kubectl run` plus a typical
-- manifest sends) with a unique name per request: PREFIX-<thread id>-<counter>.
-- Usage: wrk ... -s create_pod.lua URL -- TOKEN NAMESPACE PREFIX
-- done() prints one machine-readable "RESULT ..." line for bench/api/run.sh and
-- the first non-201 responses verbatim.

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
codes = ""
first_errors = {}

local template = [[
{"kind":"Pod","apiVersion":"v1","metadata":{"name":"%s","namespace":"%s","labels":{"app":"bench-web","run":"%s","tier":"frontend","version":"v1.4.2"},"annotations":{"bench.minik8s.io/run":"%s","prometheus.io/scrape":"true","prometheus.io/port":"9113"}},"spec":{"containers":[{"name":"web","image":"registry.example.com/library/nginx:1.25.3-alpine","imagePullPolicy":"IfNotPresent","args":["nginx","-g","daemon off;"],"ports":[{"name":"http","containerPort":80,"protocol":"TCP"},{"name":"metrics","containerPort":9113,"protocol":"TCP"}],"env":[{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"POD_IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}},{"name":"LOG_LEVEL","value":"info"},{"name":"UPSTREAM","value":"http://backend.default.svc.cluster.local:8080"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":80},"initialDelaySeconds":2,"periodSeconds":5},"livenessProbe":{"tcpSocket":{"port":80},"initialDelaySeconds":10,"periodSeconds":10},"volumeMounts":[{"name":"config","mountPath":"/etc/nginx/conf.d","readOnly":true},{"name":"cache","mountPath":"/var/cache/nginx"}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"volumes":[{"name":"config","configMap":{"name":"web-config"}},{"name":"cache","emptyDir":{}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeSelector":{"kubernetes.io/os":"linux"},"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},"status":{}}]]

function init(args)
	token = args[1]
	namespace = args[2]
	prefix = args[3]
	wrk.method = "POST"
	wrk.path = "/api/v1/namespaces/" .. namespace .. "/pods"
	wrk.headers["Authorization"] = "Bearer " .. token
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Accept"] = "application/json"
	wrk.headers["User-Agent"] = "kubectl/v1.29.0 (linux/amd64) minik8s-bench"
end

function request()
	counter = counter + 1
	local name = string.format("%s-%d-%d", prefix, tid, counter)
	local body = string.format(template, name, namespace, name, prefix)
	return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
	if status ~= 201 then
		non201 = non201 + 1
		codes = codes .. tostring(status) .. " "
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
