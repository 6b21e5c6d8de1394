-- wrk script: POST a CronTab (examples/crd.yaml's kind, ~0.5 KB, validated by its
-- structural schema, defaulted and pruned) with a unique name per request.
-- Usage: wrk ... -s create_cr.lua URL -- TOKEN NAMESPACE PREFIX
-- done() prints one machine-readable "RESULT ..." line for bench/crd/run.sh.
-- wrk's callbacks come from bench/lib/wrk_create.lua (found from this script's path)
dofile((debug.getinfo(1, "S").source:sub(2):match("^(.*)/") or ".") .. "/../lib/wrk_create.lua")

local template = [[
{"apiVersion":"stable.example.com/v1","kind":"CronTab","metadata":{"name":"%s","namespace":"%s","labels":{"app":"bench-cron","run":"%s"}},"spec":{"cronSpec":"*/5 * * * *","image":"registry.example.com/library/cron:1.2.3","size":"small","ports":[{"name":"http","port":80},{"name":"metrics","port":9113}],"selector":"app=bench-cron"}}]]

function create_path(namespace)
	return "/apis/stable.example.com/v1/namespaces/" .. namespace .. "/crontabs"
end

function create_body(name, namespace, prefix)
	return string.format(template, name, namespace, name)
end
