-- wrk script: POST a realistic Pod (~1.5 KB, what `kubectl run` plus a typical
-- manifest sends) with a unique name per request: PREFIX-<thread id>-<counter>.
-- Usage: wrk ... -s create_pod.lua URL -- TOKEN NAMESPACE PREFIX
-- done() prints one machine-readable "RESULT ..." line for bench/api/run.sh and
-- the first non-201 responses verbatim.
-- wrk's callbacks come from bench/lib/wrk_create.lua (found from this script's path)
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/") or ".") .. "/../lib/wrk_create.lua")

local template = [[
{"kind":"Pod","apiVersion":"v1","metadata":{"name":"%s","namespace":"%s","labels":{"app":"bench-web","run":"%s","tier":"frontend","version":"v1.4.2"},"annotations":{"bench.minik8s.io/run":"%s","prometheus.io/scrape":"true","prometheus.io/port":"9113"}},"spec":{"containers":[{"name":"web","image":"registry.example.com/library/nginx:1.25.3-alpine","imagePullPolicy":"IfNotPresent","args":["nginx","-g","daemon off;"],"ports":[{"name":"http","containerPort":80,"protocol":"TCP"},{"name":"metrics","containerPort":9113,"protocol":"TCP"}],"env":[{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},{"name":"POD_IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}},{"name":"LOG_LEVEL","value":"info"},{"name":"UPSTREAM","value":"http://backend.default.svc.cluster.local:8080"}],"resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":80},"initialDelaySeconds":2,"periodSeconds":5},"livenessProbe":{"tcpSocket":{"port":80},"initialDelaySeconds":10,"periodSeconds":10},"volumeMounts":[{"name":"config","mountPath":"/etc/nginx/conf.d","readOnly":true},{"name":"cache","mountPath":"/var/cache/nginx"}],"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File"}],"volumes":[{"name":"config","configMap":{"name":"web-config"}},{"name":"cache","emptyDir":{}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","nodeSelector":{"kubernetes.io/os":"linux"},"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]},"status":{}}]]

function create_path(namespace)
	return "/api/v1/namespaces/" .. namespace .. "/pods"
end

function create_body(name, namespace, prefix)
	return string.format(template, name, namespace, name, prefix)
end

create_headers = { ["User-Agent"] = "kubectl/v1.29.0 (linux/amd64) minik8s-bench" }
