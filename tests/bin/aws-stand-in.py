#!/usr/bin/env python3
"""Stand-in for the AWS endpoints secret-aws talks to, on 127.0.0.1 only.

It is the one stand-in of the secret-aws tests: no AWS endpoint can run
here.  It speaks the same wire formats as the real services:

  POST /  X-Amz-Target: secretsmanager.GetSecretValue   (JSON 1.1 protocol)
  POST /  Action=AssumeRoleWithWebIdentity               (STS query, XML answer)
  PUT  /latest/api/token, GET /latest/meta-data/iam/security-credentials/[role]
                                                         (IMDSv2)
  GET  <container.path>                                  (ECS / EKS Pod Identity)

  POST /  Action=DescribeDBInstances|DescribeDBClusters   (RDS query, XML)
  POST /  Action=DescribeReplicationGroups|DescribeCacheClusters
                                                         (ElastiCache query, XML)
  POST /  Action=DescribeSubnets                         (EC2 query, XML)
  GET  /api/v2/clusters, /v1/clusters/ARN/bootstrap-brokers,
       /v1/configurations/ARN/revisions/N               (MSK REST-JSON)
  GET  /clusters/NAME[/node-groups[/NG]]                 (EKS REST-JSON)

and verifies the SigV4 Authorization header of every Secrets Manager and
control-plane request by recomputing the signature with the secret key it
knows for the key id, as strictly as AWS (the canonical URI encodes each
path segment again).  The control-plane answers follow botocore's service
models (rds 2014-10-31, elasticache 2015-02-02, ec2 2016-11-15, kafka
2018-11-14, eks 2017-11-01): the AWS CLI parses them.

Usage:
  aws-stand-in.py CONFIG.json   serve; prints the port on stdout; stops at
                                EOF on stdin or on SIGTERM
  aws-stand-in.py --self-test   check the verifier against the worked example
                                of AWS's SigV4 documentation (TAP)

CONFIG.json:
  {"region": "us-east-1",
   "keys": {"AKID": {"secret": "...", "token": "... or null"}},
   "secrets": {"id": {"SecretString": "...", "delay": 0, "fail_first": 0}},
   "sts": {"role_arn": "...", "token": "...", "issue": {AccessKeyId, SecretAccessKey, SessionToken}},
   "imds": {"role": "...", "issue": {AccessKeyId, SecretAccessKey, Token}},
   "container": {"path": "/v1/credentials", "auth": "...", "issue": {...}},
   "log": "requests.jsonl",
   "rds": {"instances": [{DBInstance fields}], "clusters": [{DBCluster fields}]},
   "elasticache": {"groups": [{ReplicationGroup fields}],
                   "cache_clusters": [{CacheCluster fields, CacheNodes only
                                       with ShowCacheNodeInfo=true}]},
   "ec2": {"subnets": {"subnet-id": "zone"}},
   "kafka": {"clusters": [{Cluster, wire names}], "brokers": {"ARN": {...}},
             "configurations": {"ARN/REV": "server.properties text"}},
   "eks": {"clusters": {"name": {...}}, "nodegroups": {"name": [{Nodegroup}]}},
   "page_size": 100,
   "port": 0,                   (0: any free port)
   "faults": {"Action": {"throttle": N, "deny": true, "malformed": true,
                         "hang": seconds, "reset": N}}}
  "reset": N resets the connection (TCP RST, no answer) of the first N
  calls of the action; a stand-in started late (a fixed "port") shows a
  refused connection.
"""
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request, "
    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$")


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _uri_encode(s, keep_slash):
    safe = "-_.~" + ("/" if keep_slash else "")
    return urllib.parse.quote(s, safe=safe)


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = sorted((_uri_encode(k, False), _uri_encode(v, False)) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in enc)


def canonical_uri(path):
    """As AWS computes it for every service but S3: the path as sent on the
    wire, each segment URI-encoded again (an MSK ARN segment arn%3Aaws...
    is signed as arn%253Aaws...)."""
    return _uri_encode(path or "/", True)


def canonical_request(method, path, query, headers, signed, body):
    """headers: dict of lower-case name -> raw value; path as sent."""
    lines = [method, canonical_uri(path), canonical_query(query)]
    for h in signed:
        value = " ".join(headers.get(h, "").strip().split())
        lines.append(f"{h}:{value}")
    lines.append("")
    lines.append(";".join(signed))
    lines.append(hashlib.sha256(body).hexdigest())
    return "\n".join(lines)


def signature(secret, amz_date, scope, creq):
    date, region, service = scope
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, f"{date}/{region}/{service}/aws4_request",
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    k = _hmac(k, "aws4_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


def verify(auth, method, path, query, headers, body, keys, region, service, now=None):
    """Return (None, akid) when valid, else (("ErrorType", "message"), akid)."""
    m = AUTH_RE.match(auth or "")
    if not m:
        return ("IncompleteSignatureException",
                "Authorization header is not of the SigV4 form"), None
    akid, date, reg, svc, signed_s, sig = m.groups()
    signed = signed_s.split(";")
    if signed != sorted(signed) or "host" not in signed or "x-amz-date" not in signed:
        return ("IncompleteSignatureException", "SignedHeaders must be sorted and include "
                "host and x-amz-date"), akid
    amz_date = headers.get("x-amz-date", "")
    if not re.match(r"^\d{8}T\d{6}Z$", amz_date) or amz_date[:8] != date:
        return ("IncompleteSignatureException", "X-Amz-Date missing or not the scope date"), akid
    if reg != region or svc != service:
        return ("InvalidSignatureException",
                f"Credential should be scoped to {region}/{service}"), akid
    if now is not None:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
        if abs((now - t).total_seconds()) > 900:
            return ("InvalidSignatureException", "Signature expired"), akid
    key = keys.get(akid)
    if key is None:
        return ("UnrecognizedClientException",
                "The security token included in the request is invalid."), akid
    want_token = key.get("token")
    got_token = headers.get("x-amz-security-token")
    if want_token is not None and (got_token != want_token or
                                   "x-amz-security-token" not in signed):
        return ("UnrecognizedClientException",
                "The security token included in the request is invalid."), akid
    if want_token is None and got_token is not None:
        return ("UnrecognizedClientException",
                "The security token included in the request is invalid."), akid
    creq = canonical_request(method, path, query, headers, signed, body)
    good = signature(key["secret"], amz_date, (date, reg, svc), creq)
    if not hmac.compare_digest(good, sig):
        return ("InvalidSignatureException",
                "The request signature we calculated does not match the signature you "
                "provided."), akid
    return None, akid


QUERY_ACTIONS = {
    "DescribeDBInstances": ("rds", "2014-10-31"),
    "DescribeDBClusters": ("rds", "2014-10-31"),
    "DescribeReplicationGroups": ("elasticache", "2015-02-02"),
    "DescribeCacheClusters": ("elasticache", "2015-02-02"),
    "DescribeSubnets": ("ec2", "2016-11-15"),
}
QUERY_NS = {
    "rds": "http://rds.amazonaws.com/doc/2014-10-31/",
    "elasticache": "http://elasticache.amazonaws.com/doc/2015-02-02/",
    "ec2": "http://ec2.amazonaws.com/doc/2016-11-15/",
}
# list shapes of the query protocol: <List><Member>...</Member></List>
LIST_MEMBERS = {
    "DBClusterMembers": "DBClusterMember", "AvailabilityZones": "AvailabilityZone",
    "NodeGroups": "NodeGroup", "NodeGroupMembers": "NodeGroupMember",
    "MemberClusters": "ClusterId", "VpcSecurityGroups": "VpcSecurityGroupMembership",
    "CacheClusters": "CacheCluster", "CacheNodes": "CacheNode",
}


def xesc(s):
    return str(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_xml(name, v):
    if isinstance(v, bool):
        return f"<{name}>{'true' if v else 'false'}</{name}>"
    if isinstance(v, dict):
        return f"<{name}>" + "".join(to_xml(k, x) for k, x in v.items()) + f"</{name}>"
    if isinstance(v, list):
        m = LIST_MEMBERS.get(name, "member")
        return f"<{name}>" + "".join(to_xml(m, x) for x in v) + f"</{name}>"
    return f"<{name}>{xesc(v)}</{name}>"


def rest_action(segs):
    if segs[:3] == ["api", "v2", "clusters"]:
        return "ListClustersV2"
    if segs[:2] == ["v1", "clusters"] and segs[3:4] == ["bootstrap-brokers"]:
        return "GetBootstrapBrokers"
    if segs[:2] == ["v1", "configurations"] and segs[3:4] == ["revisions"]:
        return "DescribeConfigurationRevision"
    if segs[:1] == ["clusters"]:
        return {2: "DescribeCluster", 3: "ListNodegroups", 4: "DescribeNodegroup"}.get(
            len(segs), "unknown")
    return "unknown"


def self_test():
    """The worked example of AWS's SigV4 documentation (IAM ListUsers)."""
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    headers = {"content-type": "application/x-www-form-urlencoded; charset=utf-8",
               "host": "iam.amazonaws.com", "x-amz-date": "20150830T123600Z"}
    signed = ["content-type", "host", "x-amz-date"]
    creq = canonical_request("GET", "/", "Action=ListUsers&Version=2010-05-08", headers,
                             signed, b"")
    want_hash = "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
    want_sig = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    got = signature(secret, "20150830T123600Z", ("20150830", "us-east-1", "iam"), creq)
    auth = ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=" + want_sig)
    keys = {"AKIDEXAMPLE": {"secret": secret, "token": None}}
    results = [
        (hashlib.sha256(creq.encode()).hexdigest() == want_hash,
         "canonical request of the worked example hashes to f536975d..."),
        (got == want_sig, "signature of the worked example is 5d672d79..."),
        (verify(auth, "GET", "/", "Action=ListUsers&Version=2010-05-08", headers, b"",
                keys, "us-east-1", "iam")[0] is None,
         "verifier accepts the worked example's Authorization header"),
        (verify(auth, "GET", "/", "Action=ListUsers&Version=2010-05-09", headers, b"",
                keys, "us-east-1", "iam")[0][0] == "InvalidSignatureException",
         "verifier rejects the same header on a changed query"),
        (verify(auth, "GET", "/", "Action=ListUsers&Version=2010-05-08", headers, b"",
                {"AKIDEXAMPLE": {"secret": secret[:-1] + "X", "token": None}},
                "us-east-1", "iam")[0][0] == "InvalidSignatureException",
         "verifier rejects it under another secret key"),
        (verify(auth.replace("Signature=5", "Signature=x"), "GET", "/", "", headers, b"",
                keys, "us-east-1", "iam")[0][0] == "IncompleteSignatureException",
         "verifier rejects a malformed Authorization header"),
    ]
    print(f"1..{len(results)}")
    for i, (ok, desc) in enumerate(results, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {desc}")
    return 0 if all(ok for ok, _ in results) else 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aws-stand-in"

    def log_message(self, *args):
        pass

    def _log(self, **kw):
        path = self.server.conf.get("log")
        if not path:
            return
        kw.update(method=self.command, path=self.path)
        with self.server.lock, open(path, "a") as f:
            f.write(json.dumps(kw) + "\n")

    def _send(self, status, body, ctype):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json_error(self, status, etype, msg):
        self._send(status, json.dumps({"__type": etype, "message": msg}),
                   "application/x-amz-json-1.1")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_PUT(self):
        conf = self.server.conf
        body = self._body()
        if self.path == "/latest/api/token" and "imds" in conf:
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                self._log(kind="imds-token", ok=False)
                return self._send(400, "missing TTL header", "text/plain")
            self._log(kind="imds-token", ok=True, body=len(body))
            return self._send(200, conf["imds"].get("session", "imds-session-token"),
                              "text/plain")
        self._send(404, "not found", "text/plain")

    def do_GET(self):
        conf = self.server.conf
        if self.path.startswith(("/api/v2/clusters", "/v1/clusters/", "/v1/configurations/",
                                 "/clusters/")):
            return self._rest()
        prefix = "/latest/meta-data/iam/security-credentials/"
        if self.path.startswith(prefix) and "imds" in conf:
            imds = conf["imds"]
            if self.headers.get("X-aws-ec2-metadata-token") != imds.get(
                    "session", "imds-session-token"):
                self._log(kind="imds", ok=False)
                return self._send(401, "", "text/plain")
            rest = self.path[len(prefix):]
            self._log(kind="imds", ok=True, role=rest)
            if rest == "":
                if not imds.get("role"):
                    return self._send(404, "", "text/plain")
                return self._send(200, imds["role"] + "\n", "text/plain")
            if rest != imds.get("role"):
                return self._send(404, "", "text/plain")
            ans = dict(imds["issue"], Code="Success", Type="AWS-HMAC",
                       LastUpdated="2024-01-01T00:00:00Z", Expiration="2099-01-01T00:00:00Z")
            return self._send(200, json.dumps(ans), "text/plain")
        cont = conf.get("container")
        if cont and self.path == cont.get("path"):
            ok = self.headers.get("Authorization") == cont.get("auth")
            self._log(kind="container", ok=ok)
            if not ok:
                return self._send(403, "{}", "application/json")
            return self._send(200, json.dumps(dict(cont["issue"],
                                                   Expiration="2099-01-01T00:00:00Z")),
                              "application/json")
        self._send(404, "not found", "text/plain")

    def do_POST(self):
        body = self._body()
        if self.headers.get("X-Amz-Target"):
            return self._secrets_manager(body)
        form = urllib.parse.parse_qs(body.decode(errors="replace"))
        if form.get("Action") == ["AssumeRoleWithWebIdentity"]:
            return self._sts(form)
        if form.get("Action", [""])[0] in QUERY_ACTIONS:
            return self._query(form, body)
        self._send(400, "unknown request", "text/plain")

    # ---- the control plane: query protocol (XML) and REST-JSON ----

    def _verify(self, service, body):
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        parsed = urllib.parse.urlsplit(self.path)
        err, akid = verify(hdrs.get("authorization"), self.command, parsed.path,
                           parsed.query, hdrs, body, self.server.keys,
                           self.server.conf.get("region", "us-east-1"), service,
                           datetime.datetime.now(datetime.timezone.utc))
        return err, akid

    def _fault(self, action):
        """(kind, None) for a configured fault of this call, else None."""
        f = self.server.conf.get("faults", {}).get(action)
        if not f:
            return None
        with self.server.lock:
            n = self.server.calls.get(action, 0)
            self.server.calls[action] = n + 1
        if f.get("hang"):
            time.sleep(f["hang"])
        if n < f.get("reset", 0):
            return "reset"
        if n < f.get("throttle", 0):
            return "throttle"
        if f.get("deny"):
            return "deny"
        if f.get("malformed"):
            return "malformed"
        return None

    def _query(self, form, body):
        action = form["Action"][0]
        service, version = QUERY_ACTIONS[action]
        err, akid = self._verify(service, body)
        self._log(kind=service, action=action, ok=err is None, akid=akid,
                  error=err[0] if err else None,
                  form={k: v[0] for k, v in form.items()})
        if err:
            return self._xml_error(service, 403, err[0], err[1])
        if form.get("Version") != [version]:
            return self._xml_error(service, 400, "InvalidParameterValue",
                                   "unsupported Version")
        fault = self._fault(action)
        if fault == "reset":
            return self._reset()
        if fault == "throttle":
            return self._xml_error(service, 400 if service != "ec2" else 503,
                                   "Throttling" if service != "ec2" else "RequestLimitExceeded",
                                   "Rate exceeded")
        if fault == "deny":
            code = "UnauthorizedOperation" if service == "ec2" else "AccessDenied"
            return self._xml_error(service, 403, code,
                                   f"User: arn:aws:iam::123456789012:user/ci is not authorized "
                                   f"to perform: {service}:{action} on resource: *")
        if fault == "malformed":
            return self._send(200, f"<{action}Response><{action}Result><Oops>",
                              "text/xml")
        return getattr(self, "_q_" + action)(form, service, version)

    def _reset(self):
        """Drop the connection with a TCP RST (SO_LINGER 0), no answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _xml_error(self, service, status, code, msg):
        if service == "ec2":
            xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
                   f"<Code>{code}</Code><Message>{xesc(msg)}</Message></Error></Errors>"
                   "<RequestID>ea966190-f9aa-478e-9ede-cb5432daacc0</RequestID></Response>")
        else:
            ns = QUERY_NS[service]
            xml = (f"<ErrorResponse xmlns=\"{ns}\"><Error><Type>Sender</Type>"
                   f"<Code>{code}</Code><Message>{xesc(msg)}</Message></Error>"
                   "<RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ErrorResponse>")
        self._send(status, xml, "text/xml")

    def _page(self, items, form, marker_key="Marker", size_key="MaxRecords"):
        size = int(self.server.conf.get("page_size", 100))
        if form.get(size_key):
            size = min(size, int(form[size_key][0]))
        start = int(form.get(marker_key, ["0"])[0] or 0)
        nxt = start + size if start + size < len(items) else None
        return items[start:start + size], (str(nxt) if nxt is not None else None)

    def _q_answer(self, action, service, version, inner, marker):
        ns = QUERY_NS[service]
        m = f"<Marker>{marker}</Marker>" if marker else ""
        xml = (f"<{action}Response xmlns=\"{ns}\"><{action}Result>{m}{inner}"
               f"</{action}Result><ResponseMetadata><RequestId>"
               "b3a1c5a2-0000-4000-8000-000000000001</RequestId></ResponseMetadata>"
               f"</{action}Response>")
        self._send(200, xml, "text/xml")

    def _q_DescribeDBInstances(self, form, service, version):
        items = self.server.conf.get("rds", {}).get("instances", [])
        if form.get("DBInstanceIdentifier"):
            items = [i for i in items
                     if i.get("DBInstanceIdentifier") == form["DBInstanceIdentifier"][0]]
        page, marker = self._page(items, form)
        inner = "<DBInstances>" + "".join(to_xml("DBInstance", i) for i in page) + \
            "</DBInstances>"
        self._q_answer("DescribeDBInstances", service, version, inner, marker)

    def _q_DescribeDBClusters(self, form, service, version):
        items = self.server.conf.get("rds", {}).get("clusters", [])
        page, marker = self._page(items, form)
        inner = "<DBClusters>" + "".join(to_xml("DBCluster", i) for i in page) + \
            "</DBClusters>"
        self._q_answer("DescribeDBClusters", service, version, inner, marker)

    def _q_DescribeReplicationGroups(self, form, service, version):
        items = self.server.conf.get("elasticache", {}).get("groups", [])
        page, marker = self._page(items, form)
        inner = "<ReplicationGroups>" + "".join(to_xml("ReplicationGroup", i)
                                                for i in page) + "</ReplicationGroups>"
        self._q_answer("DescribeReplicationGroups", service, version, inner, marker)

    def _q_DescribeCacheClusters(self, form, service, version):
        items = self.server.conf.get("elasticache", {}).get("cache_clusters", [])
        if form.get("CacheClusterId"):
            items = [i for i in items if i.get("CacheClusterId") == form["CacheClusterId"][0]]
            if not items:
                return self._xml_error(service, 404, "CacheClusterNotFound",
                                       f"CacheCluster not found: {form['CacheClusterId'][0]}")
        if form.get("ShowCacheNodeInfo") != ["true"]:
            items = [{k: v for k, v in i.items() if k != "CacheNodes"} for i in items]
        page, marker = self._page(items, form)
        inner = "<CacheClusters>" + "".join(to_xml("CacheCluster", i) for i in page) + \
            "</CacheClusters>"
        self._q_answer("DescribeCacheClusters", service, version, inner, marker)

    def _q_DescribeSubnets(self, form, service, version):
        subnets = self.server.conf.get("ec2", {}).get("subnets", {})
        want = [v[0] for k, v in sorted(form.items()) if k.startswith("SubnetId.")]
        for w in want:
            if w not in subnets:
                return self._xml_error("ec2", 400, "InvalidSubnetID.NotFound",
                                       f"The subnet ID '{w}' does not exist")
        ids = want or sorted(subnets)
        page, token = self._page(ids, form, "NextToken", "MaxResults")
        items = "".join(f"<item><subnetId>{i}</subnetId><availabilityZone>{subnets[i]}"
                        f"</availabilityZone><state>available</state><vpcId>vpc-1</vpcId>"
                        "</item>" for i in page)
        t = f"<nextToken>{token}</nextToken>" if token else ""
        xml = (f"<DescribeSubnetsResponse xmlns=\"{QUERY_NS['ec2']}\"><requestId>"
               f"r-3</requestId><subnetSet>{items}</subnetSet>{t}</DescribeSubnetsResponse>")
        self._send(200, xml, "text/xml;charset=UTF-8")

    def _rest(self):
        parsed = urllib.parse.urlsplit(self.path)
        segs = [urllib.parse.unquote(x) for x in parsed.path.split("/")[1:]]
        q = urllib.parse.parse_qs(parsed.query)
        if parsed.path.startswith("/api/v2/clusters") or segs[:1] in (["v1"],):
            service = "kafka"
        else:
            service = "eks"
        err, akid = self._verify(service, b"")
        action = rest_action(segs)
        self._log(kind=service, action=action, ok=err is None, akid=akid,
                  error=err[0] if err else None, segs=segs)
        if err:
            return self._rest_error(403, "InvalidSignatureException" if err[0] ==
                                    "InvalidSignatureException" else err[0], err[1])
        fault = self._fault(action)
        if fault == "reset":
            return self._reset()
        if fault == "throttle":
            return self._rest_error(429, "TooManyRequestsException" if service == "kafka"
                                    else "ThrottlingException", "Rate exceeded")
        if fault == "deny":
            return self._rest_error(403, "ForbiddenException" if service == "kafka" else
                                    "AccessDeniedException",
                                    f"User: arn:aws:iam::123456789012:user/ci is not "
                                    f"authorized to perform: {service}:{action}")
        if fault == "malformed":
            return self._send(200, '{"clusterInfoList": [', "application/json")
        conf = self.server.conf
        size = int(conf.get("page_size", 100))
        if action == "ListClustersV2":
            items = conf.get("kafka", {}).get("clusters", [])
            start = int(q.get("nextToken", ["0"])[0])
            size = min(size, int(q.get("maxResults", [size])[0]))
            ans = {"clusterInfoList": items[start:start + size]}
            if start + size < len(items):
                ans["nextToken"] = str(start + size)
            return self._send(200, json.dumps(ans), "application/json")
        if action == "GetBootstrapBrokers":
            b = conf.get("kafka", {}).get("brokers", {}).get(segs[2])
            if b is None:
                return self._rest_error(404, "NotFoundException", "cluster not found")
            return self._send(200, json.dumps(b), "application/json")
        if action == "DescribeConfigurationRevision":
            props = conf.get("kafka", {}).get("configurations", {}).get(
                f"{segs[2]}/{segs[4]}")
            if props is None:
                return self._rest_error(404, "NotFoundException", "no such revision")
            return self._send(200, json.dumps({
                "arn": segs[2], "revision": int(segs[4]),
                "creationTime": "2024-01-01T00:00:00.000Z",
                "serverProperties": base64.b64encode(props.encode()).decode()}),
                "application/json")
        eks = conf.get("eks", {})
        name = segs[1] if len(segs) > 1 else ""
        if name not in eks.get("clusters", {}):
            return self._rest_error(404, "ResourceNotFoundException",
                                    f"No cluster found for name: {name}.")
        if action == "DescribeCluster":
            return self._send(200, json.dumps({"cluster": dict(eks["clusters"][name],
                                                               name=name)}),
                              "application/json")
        groups = eks.get("nodegroups", {}).get(name, [])
        if action == "ListNodegroups":
            start = int(q.get("nextToken", ["0"])[0])
            names = [g["nodegroupName"] for g in groups]
            ans = {"nodegroups": names[start:start + size]}
            if start + size < len(names):
                ans["nextToken"] = str(start + size)
            return self._send(200, json.dumps(ans), "application/json")
        if action == "DescribeNodegroup":
            for g in groups:
                if g["nodegroupName"] == segs[3]:
                    return self._send(200, json.dumps({"nodegroup": dict(
                        g, clusterName=name)}), "application/json")
            return self._rest_error(404, "ResourceNotFoundException", "No node group found")
        self._rest_error(404, "NotFoundException", "unknown path")

    def _rest_error(self, status, etype, msg):
        data = json.dumps({"message": msg}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", etype + ":http://internal.amazon.com/coral/")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sts(self, form):
        sts = self.server.conf.get("sts", {})
        ok = (form.get("RoleArn") == [sts.get("role_arn")] and
              form.get("WebIdentityToken") == [sts.get("token")] and
              form.get("Version") == ["2011-06-15"] and "RoleSessionName" in form)
        self._log(kind="sts", ok=ok, signed="Authorization" in self.headers)
        if not ok:
            err = ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                   "<Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                   "<Message>Couldn&apos;t retrieve verification key from your identity "
                   "provider</Message></Error><RequestId>r-1</RequestId></ErrorResponse>")
            return self._send(400, err, "text/xml")
        c = sts["issue"]
        xml = ("<AssumeRoleWithWebIdentityResponse "
               "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
               "<AssumeRoleWithWebIdentityResult><Credentials>"
               f"<AccessKeyId>{c['AccessKeyId']}</AccessKeyId>"
               f"<SecretAccessKey>{c['SecretAccessKey']}</SecretAccessKey>"
               f"<SessionToken>{c['SessionToken']}</SessionToken>"
               "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
               f"<AssumedRoleUser><Arn>{sts['role_arn']}/s</Arn><AssumedRoleId>AROA:s"
               "</AssumedRoleId></AssumedRoleUser></AssumeRoleWithWebIdentityResult>"
               "<ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>"
               "</AssumeRoleWithWebIdentityResponse>")
        self._send(200, xml, "text/xml")

    def _secrets_manager(self, body):
        conf = self.server.conf
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        parsed = urllib.parse.urlsplit(self.path)
        err, akid = verify(hdrs.get("authorization"), "POST", parsed.path, parsed.query,
                           hdrs, body, self.server.keys, conf.get("region", "us-east-1"),
                           "secretsmanager", datetime.datetime.now(datetime.timezone.utc))
        m = AUTH_RE.match(hdrs.get("authorization", ""))
        self._log(kind="secretsmanager", ok=err is None, akid=akid,
                  signed_headers=m.group(5) if m else None,
                  error=err[0] if err else None)
        if err:
            return self._json_error(400 if err[0] != "InvalidSignatureException" else 403,
                                    err[0], err[1])
        if self.headers.get("X-Amz-Target") != "secretsmanager.GetSecretValue":
            return self._json_error(400, "UnknownOperationException", "unknown operation")
        if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
            return self._json_error(400, "SerializationException", "bad content type")
        try:
            req = json.loads(body)
            sid = req["SecretId"]
        except (ValueError, KeyError, TypeError):
            return self._json_error(400, "SerializationException", "bad request body")
        sec = conf.get("secrets", {}).get(sid)
        if sec is None:
            return self._json_error(400, "ResourceNotFoundException",
                                    "Secrets Manager can't find the specified secret.")
        if sec.get("delay"):
            time.sleep(sec["delay"])  # the server side of a timeout test
        with self.server.lock:
            n = self.server.calls.get(sid, 0)
            self.server.calls[sid] = n + 1
        if n < sec.get("fail_first", 0):
            return self._json_error(500, "InternalServiceError", "try again")
        ans = {"ARN": f"arn:aws:secretsmanager:{conf.get('region', 'us-east-1')}:"
                      f"123456789012:secret:{sid}-AbCdEf",
               "Name": sid, "VersionId": "3f4c1e0a-0000-4000-8000-000000000001",
               "VersionStages": ["AWSCURRENT"], "CreatedDate": 1704067200.0}
        for k in ("SecretString", "SecretBinary"):
            if k in sec:
                ans[k] = sec[k]
        self._send(200, json.dumps(ans), "application/x-amz-json-1.1")


def serve(conf_path):
    with open(conf_path) as f:
        conf = json.load(f)
    srv = ThreadingHTTPServer(("127.0.0.1", int(conf.get("port", 0))), Handler)
    srv.daemon_threads = True
    srv.conf = conf
    srv.lock = threading.Lock()
    srv.calls = {}
    srv.keys = dict(conf.get("keys", {}))
    # credentials it hands out through STS / IMDS / container are valid too
    for src, tok in (("sts", "SessionToken"), ("imds", "Token"), ("container", "Token")):
        issue = conf.get(src, {}).get("issue")
        if issue:
            srv.keys[issue["AccessKeyId"]] = {"secret": issue["SecretAccessKey"],
                                              "token": issue.get(tok)}
    # _exit: a clean exit would wait for the thread blocked reading stdin and
    # abort ("could not acquire lock for <stdin>") at interpreter shutdown
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

    def watch_stdin():
        # the test holds our stdin: its end (exit, crash) ends us
        try:
            sys.stdin.buffer.read()
        finally:
            threading.Thread(target=srv.shutdown, daemon=True).start()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--self-test":
        sys.exit(self_test())
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    sys.exit(serve(sys.argv[1]))
