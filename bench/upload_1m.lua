-- wrk script for bench/run-bodies: POST /upload with a 1 MiB file as multipart/form-data.
local boundary = "----frostforkbench7MA4YWxkTrZu0gW"
local data = string.rep("0123456789abcdef", 65536)  -- 1 MiB
wrk.method = "POST"
wrk.path = "/upload"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
    "Content-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\n" ..
    "Content-Type: application/octet-stream\r\n\r\n" .. data .. "\r\n" ..
    "--" .. boundary .. "--\r\n"
