#!/usr/bin/env python3
"""Signs the cases in a JSON file with botocore (the oracle) and prints canonical requests and
signatures as JSON, for sigv4_botocore_test.cpp to compare with wharf's signer.

Input: {"cases": [{"mode": "header"|"query", "method", "host", "scheme", "key" (raw, unencoded),
"query": [[k, v], ...] (raw), "headers": [[k, v], ...], "payload_hash", "expires", "region",
"access_key", "secret_key", "token", "timestamp": "20240102T030405Z"}]}
Output: {"results": [{"canonical_request", "signature", "url"}]}
"""
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode


def sign(case):
    creds = Credentials(case["access_key"], case["secret_key"], case["token"] or None)
    # The object key is encoded the way botocore's REST serializer encodes {Key+} labels.
    path = "/" + percent_encode(case["key"], safe="/~")
    url = f'{case["scheme"]}://{case["host"]}{path}'
    request = AWSRequest(method=case["method"], url=url, headers=dict(case["headers"]),
                         params=dict(case["query"]))
    if case["mode"] == "query":
        auth = botocore.auth.S3SigV4QueryAuth(creds, "s3", case["region"], expires=case["expires"])
        # add_auth's steps, without its final injection of the signature into the URL.
        request.context["timestamp"] = case["timestamp"]
        auth._modify_request_before_signing(request)
        cr = auth.canonical_request(request)
        sts = auth.string_to_sign(request, cr)
        signature = auth.signature(sts, request)
        return {"canonical_request": cr, "signature": signature, "url": request.url + "&X-Amz-Signature=" + signature}
    auth = botocore.auth.S3SigV4Auth(creds, "s3", case["region"])
    request.context["timestamp"] = case["timestamp"]
    request.headers["X-Amz-Date"] = case["timestamp"]
    request.headers["X-Amz-Content-SHA256"] = case["payload_hash"]
    if case["token"]:
        request.headers["X-Amz-Security-Token"] = case["token"]
    cr = auth.canonical_request(request)
    sts = auth.string_to_sign(request, cr)
    return {"canonical_request": cr, "signature": auth.signature(sts, request), "url": url}


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    json.dump({"results": [sign(c) for c in cases]}, sys.stdout)


if __name__ == "__main__":
    main()
