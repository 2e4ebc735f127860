-- POST /organizations with a JSON body (wrk script).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"name":"Bench Org"}'
