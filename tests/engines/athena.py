"""Runs emitted Athena SQL on DuckDB, the stand-in for Athena's Trino, over a table shaped as
the Athena guide's CloudTrail table, loaded from a trail folder; prints each query's rows as
JSON (one object: query file -> rows):

    target/engines-venv/bin/python tests/engines/athena.py TRAIL_DIR TABLE QUERY.sql...

The SQL is transpiled from Trino with sqlglot. The table holds what Athena's JsonSerDe gives:
requestparameters, responseelements and additionaleventdata as JSON text, resources as a list
of rows, the delivered layout's account, Region and day as partition columns.
"""
import gzip
import json
import os
import re
import sys

import duckdb
import sqlglot

COLUMNS = {
    "eventversion": "VARCHAR",
    "useridentity": "STRUCT(type VARCHAR, principalid VARCHAR, arn VARCHAR, accountid VARCHAR, invokedby VARCHAR)",
    "eventtime": "VARCHAR",
    "eventsource": "VARCHAR",
    "eventname": "VARCHAR",
    "awsregion": "VARCHAR",
    "errorcode": "VARCHAR",
    "errormessage": "VARCHAR",
    "requestparameters": "VARCHAR",
    "responseelements": "VARCHAR",
    "additionaleventdata": "VARCHAR",
    "requestid": "VARCHAR",
    "eventid": "VARCHAR",
    "resources": "STRUCT(arn VARCHAR, accountid VARCHAR, type VARCHAR)[]",
    "eventtype": "VARCHAR",
    "recipientaccountid": "VARCHAR",
    "sharedeventid": "VARCHAR",
    "eventcategory": "VARCHAR",
    "account": "VARCHAR",
    "region": "VARCHAR",
    "timestamp": "VARCHAR",
}

LAYOUT = re.compile(r"AWSLogs/(?:o-[^/]+/)?(\d{12})/CloudTrail/([^/]+)/(\d{4}/\d{2}/\d{2})/")


def text(v):
    """A nested value as the SerDe gives a STRING column: its JSON text."""
    return None if v is None else json.dumps(v, separators=(",", ":"))


def rows(trail):
    for folder, _, names in sorted(os.walk(trail)):
        for name in sorted(names):
            path = os.path.join(folder, name)
            where = LAYOUT.search(path.replace(os.sep, "/"))
            if where is None or not name.endswith(".json.gz"):
                continue  # Athena's table reads only the delivered logs
            with gzip.open(path) as f:
                records = json.load(f).get("Records", [])
            for r in records:
                ident = r.get("userIdentity") or {}
                yield {
                    "eventversion": r.get("eventVersion"),
                    "useridentity": {k.lower(): ident.get(k) for k in
                                     ("type", "principalId", "arn", "accountId", "invokedBy")},
                    "eventtime": r.get("eventTime"),
                    "eventsource": r.get("eventSource"),
                    "eventname": r.get("eventName"),
                    "awsregion": r.get("awsRegion"),
                    "errorcode": r.get("errorCode"),
                    "errormessage": r.get("errorMessage"),
                    "requestparameters": text(r.get("requestParameters")),
                    "responseelements": text(r.get("responseElements")),
                    "additionaleventdata": text(r.get("additionalEventData")),
                    "requestid": r.get("requestID"),
                    "eventid": r.get("eventID"),
                    "resources": [{"arn": x.get("ARN"), "accountid": x.get("accountId"),
                                   "type": x.get("type")} for x in r.get("resources") or []],
                    "eventtype": r.get("eventType"),
                    "recipientaccountid": r.get("recipientAccountId"),
                    "sharedeventid": r.get("sharedEventID"),
                    "eventcategory": r.get("eventCategory"),
                    "account": where.group(1),
                    "region": where.group(2),
                    "timestamp": where.group(3),
                }


def main(trail, table, queries):
    db = duckdb.connect()
    db.execute("SET TimeZone='UTC'")
    ndjson = os.path.join(os.environ.get("TMPDIR", "/tmp"), "keytrail-athena-%d.json" % os.getpid())
    with open(ndjson, "w") as f:
        for r in rows(trail):
            f.write(json.dumps(r) + "\n")
    cols = ", ".join("%s: '%s'" % (json.dumps(k).replace('"', "'") if False else "'%s'" % k, v)
                     for k, v in COLUMNS.items())
    cols = "{" + ", ".join("'%s': '%s'" % (k, v) for k, v in COLUMNS.items()) + "}"
    db.execute('CREATE TABLE "%s" AS SELECT * FROM read_json(?, format = \'newline_delimited\', columns = %s)'
               % (table, cols), [ndjson])
    os.remove(ndjson)
    out = {}
    for q in queries:
        trino = open(q).read()
        duck = sqlglot.transpile(trino, read="trino", write="duckdb")
        result = None
        for statement in duck:
            cur = db.execute(statement)
            names = [d[0] for d in cur.description] if cur.description else []
            result = [dict(zip(names, row)) for row in cur.fetchall()]
        out[q] = result
    json.dump(out, sys.stdout, default=str, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
