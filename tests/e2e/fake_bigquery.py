"""A FAKE BigQuery REST API (v2) server for the end-to-end tests — the real BigQuery cannot run
here. It serves what SoMLier's bigquery:// warehouse (src/somlier/offline/bigquery_warehouse.h)
uses, as Google documents it, and nothing else:

    GET    /bigquery/v2/projects/P/datasets/D/tables/T     tables.get
    POST   /bigquery/v2/projects/P/datasets/D/tables       tables.insert
    DELETE /bigquery/v2/projects/P/datasets/D/tables/T     tables.delete
    POST   /bigquery/v2/projects/P/queries                 jobs.query
    GET    /bigquery/v2/projects/P/queries/JOB             jobs.getQueryResults (pageToken paging)
    GET    /bigquery/v2/projects/P/jobs/JOB                jobs.get
    POST   /upload/bigquery/v2/projects/P/jobs?uploadType=multipart   load jobs (NDJSON)
    POST   /token                                          an OAuth token endpoint, for a
                                                           service-account key's token_uri

Tables live in an in-memory sqlite3 database, one sqlite table per `project.dataset.table`
(named "p__d__t"), with BigQuery's schema kept beside it. Queries are standard SQL of exactly
the shapes the warehouse sends — SELECT * / SELECT COUNT(*) ... WHERE `col` = @date (or
DATE(`col`) = @date), and the script CREATE TABLE IF NOT EXISTS ...; BEGIN TRANSACTION;
DELETE ...; INSERT INTO ... SELECT ...; COMMIT TRANSACTION — with backtick-quoted names and
named query parameters, type-checked as BigQuery would (a STRING parameter is not compared
with a DATE column); a script's transaction runs inside one sqlite transaction and is rolled
back whole when a statement fails. Anything else is refused (HTTP 400 invalidQuery), so a
change on the C++ side shows. Errors are BigQuery's JSON ({"error": {"code", "message",
"errors": [{"reason", ...}], "status"}}).

Behaviour tests steer:
  * `token`: the bearer token every request must carry (HTTP 401 otherwise); None: no check.
  * `incomplete_polls` (default 1): jobs.query answers jobComplete false and getQueryResults
    does so that many times more for SELECT * queries and scripts (not COUNT), as a slow
    query would; 0: every query is complete at once.
  * `page_cap`: pages never hold more rows than this, whatever maxResults asks (BigQuery's
    10 MB limit on an answer).
  * `fail_load_job(n)`: the n-th load job (1-based, counting from now) fails.
  * `fail_query(pattern, message)`: the next query whose SQL matches fails as a job error.
  * `fail_requests(method, path_pattern, status)`: the next matching requests get an HTTP error.
Every request is recorded in `requests` (method, path, query, headers, body); helpers read and
write tables: `create_dataset`, `create_table`, `rows`, `table`, `table_ids`.

    fake, url = start(token="ya29.fake")
    env["SOMLIER_BIGQUERY_API_URL"] = url   # or BIGQUERY_EMULATOR_HOST=127.0.0.1:PORT
    fake.create_table("my-project", "features", "daily", [("id", "INTEGER"), ("day", "DATE")],
                      [{"id": 1, "day": "2024-01-31"}])
    ...
    fake.rows("my-project", "predictions", "daily")
    fake.close()
"""
import base64
import datetime
import decimal
import http.server
import json
import math
import pathlib
import re
import secrets
import sqlite3
import subprocess
import threading
import urllib.parse

__all__ = ["FakeBigQuery", "start"]

MAX_BODY = 256 << 20
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                404: "NOT_FOUND", 409: "ALREADY_EXISTS", 500: "INTERNAL", 503: "UNAVAILABLE"}
# Schema types (tables.get's legacy spellings) and the standard-SQL names CREATE TABLE takes.
LEGACY = {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN", "DECIMAL": "NUMERIC",
          "BIGDECIMAL": "BIGNUMERIC", "STRUCT": "RECORD"}
SCHEMA_TYPES = {"INTEGER", "FLOAT", "NUMERIC", "BIGNUMERIC", "BOOLEAN", "STRING", "BYTES", "DATE",
                "TIMESTAMP", "DATETIME", "TIME", "GEOGRAPHY", "JSON", "RECORD"}
DDL_TYPES = {"INT64": "INTEGER", "INTEGER": "INTEGER", "FLOAT64": "FLOAT", "NUMERIC": "NUMERIC",
             "BIGNUMERIC": "BIGNUMERIC", "BOOL": "BOOLEAN", "STRING": "STRING", "BYTES": "BYTES",
             "DATE": "DATE", "TIMESTAMP": "TIMESTAMP", "DATETIME": "DATETIME"}
SQL_NAMES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}

PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
DATASET_ID = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
TABLE_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,1023}$")
JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,1024}$")
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")

# The statements of the warehouse, after its names were read (see _tokens).
IDENT = r"`(?:[^`\\]|\\.)+`"
TABLE_REF = rf"(?P<{{}}>{IDENT}\.{IDENT}\.{IDENT}|`[^`.]+\.[^`.]+\.[^`.]+`)"
CONDITION = rf"(?:(?P<col>{IDENT})|DATE\((?P<dcol>{IDENT})\))\s*=\s*@(?P<param>\w+)"
SELECT_ROWS = re.compile(rf"^SELECT\s+\*\s+FROM\s+{TABLE_REF.format('table')}\s+WHERE\s+"
                         rf"{CONDITION}$", re.I | re.S)
SELECT_COUNT = re.compile(rf"^SELECT\s+COUNT\(\*\)\s+FROM\s+{TABLE_REF.format('table')}\s+WHERE"
                          rf"\s+{CONDITION}$", re.I | re.S)
CREATE = re.compile(rf"^CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+{TABLE_REF.format('table')}\s*"
                    rf"\((?P<defs>[^()]*)\)(?:\s+PARTITION\s+BY\s+(?P<part>{IDENT}))?$",
                    re.I | re.S)
DELETE = re.compile(rf"^DELETE\s+FROM\s+{TABLE_REF.format('table')}\s+WHERE\s+{CONDITION}$",
                    re.I | re.S)
INSERT = re.compile(rf"^INSERT\s+INTO\s+{TABLE_REF.format('table')}\s*\((?P<cols>[^()]*)\)\s*"
                    rf"SELECT\s+(?P<scols>.+?)\s+FROM\s+{TABLE_REF.format('source')}$",
                    re.I | re.S)
BEGIN = re.compile(r"^BEGIN\s+TRANSACTION$", re.I)
COMMIT = re.compile(r"^COMMIT\s+TRANSACTION$", re.I)
TIMESTAMP_TEXT = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$", re.I)
DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_TEXT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,6})?$")


class BigQueryError(Exception):
    """An answer of BigQuery's error form; `job` errors end a job instead."""

    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self):
        return {"error": {"code": self.code, "message": self.message,
                          "errors": [{"message": self.message, "domain": "global",
                                      "reason": self.reason}],
                          "status": STATUS_NAMES.get(self.code, "UNKNOWN")}}


def _invalid(message, reason="invalid"):
    return BigQueryError(400, reason, message)


def _unquote(ident):
    """`name` -> name (BigQuery escapes '`' and '\\' with a backslash)."""
    return re.sub(r"\\(.)", r"\1", ident[1:-1])


def _table_parts(ref):
    """`p`.`d`.`t` or `p.d.t` -> (p, d, t)."""
    if ref.count("`") == 2:
        return tuple(ref[1:-1].split("."))
    return tuple(_unquote(part) for part in re.findall(IDENT, ref))


def _split_statements(sql):
    """A script's statements: split on ';' outside quotes and backticks."""
    statements, current, quote = [], [], None
    i = 0
    while i < len(sql):
        c = sql[i]
        if quote:
            current.append(c)
            if c == "\\" and i + 1 < len(sql):
                current.append(sql[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "`'\"":
            quote = c
            current.append(c)
        elif c == ";":
            statements.append("".join(current).strip())
            current = []
        else:
            current.append(c)
        i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def _legacy(type_name):
    upper = str(type_name).upper()
    return LEGACY.get(upper, upper)


def _micros(dt):
    return (dt - EPOCH) // datetime.timedelta(microseconds=1)


def _timestamp_from_micros(micros):
    return EPOCH + datetime.timedelta(microseconds=micros)


def _stored_timestamp(dt):
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _parse_timestamp(value):
    """A TIMESTAMP as a load job or a test gives it -> aware UTC datetime."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return EPOCH + datetime.timedelta(microseconds=round(decimal.Decimal(str(value)) * 10**6))
    if not isinstance(value, str):
        raise ValueError(f"Cannot convert value to timestamp: {value!r}")
    m = TIMESTAMP_TEXT.match(value.strip())
    if not m:
        raise ValueError(f"Could not parse '{value}' as a timestamp. Required format is "
                         "YYYY-MM-DD HH:MM[:SS[.SSSSSS]] or YYYY/MM/DD HH:MM[:SS[.SSSSSS]]")
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    dt = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                           int(second or 0), int((fraction or "").ljust(6, "0")),
                           tzinfo=datetime.timezone.utc)
    if zone and zone.upper() not in ("Z", "UTC"):
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        dt -= sign * offset
    return dt


def _to_stored(value, type_name, field):
    """A value (JSON from a load job, or Python from a test) -> what the sqlite table holds
    for a column of `type_name`. ValueError with BigQuery's kind of message when it cannot."""
    if value is None:
        return None
    t = _legacy(type_name)
    if t == "INTEGER":
        if isinstance(value, bool):
            raise ValueError(f"Could not convert value to integer. Field: {field}; "
                             f"Value: {json.dumps(value)}")
        if isinstance(value, int):
            n = value
        elif isinstance(value, float) and value.is_integer():
            n = int(value)
        elif isinstance(value, str) and re.fullmatch(r"[+-]?\d+", value.strip()):
            n = int(value)
        else:
            raise ValueError(f"Could not convert value to integer. Field: {field}; "
                             f"Value: {value}")
        if not -2**63 <= n < 2**63:
            raise ValueError(f"Value out of range for INT64. Field: {field}; Value: {value}")
        return n
    if t in ("FLOAT", "NUMERIC", "BIGNUMERIC"):
        if isinstance(value, bool):
            raise ValueError(f"Could not convert value to double. Field: {field}")
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            special = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf,
                       "inf": math.inf, "-inf": -math.inf}
            if value.strip().lower() in special:
                number = special[value.strip().lower()]
            else:
                try:
                    number = float(value)
                except ValueError:
                    raise ValueError(f"Could not convert value to double. Field: {field}; "
                                     f"Value: {value}") from None
        else:
            raise ValueError(f"Could not convert value to double. Field: {field}")
        return "NaN" if math.isnan(number) else number  # sqlite keeps no NaN
    if t == "BOOLEAN":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return int(value.strip().lower() == "true")
        raise ValueError(f"Could not convert value to boolean. Field: {field}; Value: {value}")
    if t == "STRING":
        if not isinstance(value, str):
            raise ValueError(f"Could not convert non-string JSON value to STRING type. "
                             f"Field: {field}; Value: {json.dumps(value)}")
        return value
    if t == "BYTES":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        try:
            return base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            raise ValueError(f"Could not decode base64 string to bytes. Field: {field}; "
                             f"Value: {value}") from None
    if t == "DATE":
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, str) and DATE_TEXT.match(value):
            try:
                datetime.date.fromisoformat(value)
                return value
            except ValueError:
                pass
        raise ValueError(f"Could not parse '{value}' as DATE for field {field} "
                         "(position 0) starting at location 0 with message 'Unable to parse'")
    if t == "TIMESTAMP":
        return _stored_timestamp(_parse_timestamp(value))
    if t == "DATETIME":
        if isinstance(value, datetime.datetime):
            return value.replace(tzinfo=None).isoformat()
        m = DATETIME_TEXT.match(str(value))
        if not m:
            raise ValueError(f"Could not parse '{value}' as DATETIME for field {field}")
        return f"{m.group(1)}T{m.group(2)}{m.group(3) or ''}"
    return value if isinstance(value, (str, int, float, bytes)) else json.dumps(value)


def _cell(stored, type_name, int64_timestamps):
    """A stored value -> its f/v cell text, as BigQuery's REST API gives it."""
    if stored is None:
        return None
    t = _legacy(type_name)
    if t == "INTEGER":
        return str(int(stored))
    if t in ("FLOAT", "NUMERIC", "BIGNUMERIC"):
        if stored == "NaN":
            return "NaN"
        number = float(stored)
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        if t != "FLOAT":
            return format(decimal.Decimal(repr(number)).normalize(), "f")
        return repr(number)
    if t == "BOOLEAN":
        return "true" if stored else "false"
    if t == "BYTES":
        return base64.b64encode(stored).decode()
    if t == "TIMESTAMP":
        micros = _micros(datetime.datetime.fromisoformat(stored).replace(
            tzinfo=datetime.timezone.utc))
        if int64_timestamps:
            return str(micros)
        # The default: seconds as a float in E notation, e.g. "1.706702400123456E9".
        text = format(decimal.Decimal(micros).scaleb(-6).normalize(), "E")
        return text.replace("E+", "E")
    return str(stored)


def _python(stored, type_name):
    """A stored value as the `rows` helper gives it to tests."""
    if stored is None:
        return None
    t = _legacy(type_name)
    if t in ("FLOAT", "NUMERIC", "BIGNUMERIC"):
        return math.nan if stored == "NaN" else float(stored)
    if t == "BOOLEAN":
        return bool(stored)
    if t == "TIMESTAMP":
        return datetime.datetime.fromisoformat(stored).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stored


def _normalize_fields(fields):
    """Schema fields from a request or a test: dicts, or (name, type[, mode]) tuples."""
    out = []
    for field in fields:
        if isinstance(field, (tuple, list)):
            field = {"name": field[0], "type": field[1],
                     "mode": field[2] if len(field) > 2 else "NULLABLE"}
        if not isinstance(field, dict):
            raise _invalid("A schema field is not an object")
        name, type_name = field.get("name"), field.get("type")
        if not isinstance(name, str) or not FIELD_NAME.match(name):
            raise _invalid(f"Invalid field name \"{name}\". Fields must contain only letters, "
                           "numbers, and underscores, start with a letter or underscore, and be "
                           "at most 300 characters long.")
        if not isinstance(type_name, str) or _legacy(type_name) not in SCHEMA_TYPES:
            raise _invalid(f"Invalid value for type: {type_name} is not a valid value")
        mode = (field.get("mode") or "NULLABLE").upper()
        if mode not in ("NULLABLE", "REQUIRED", "REPEATED"):
            raise _invalid(f"Invalid value for mode: {mode} is not a valid value")
        entry = {"name": name, "type": _legacy(type_name), "mode": mode}
        if entry["type"] == "RECORD":
            entry["fields"] = _normalize_fields(field.get("fields") or [])
        out.append(entry)
    names = [f["name"].lower() for f in out]
    if len(set(names)) != len(names):
        raise _invalid("Duplicate column names in the schema")
    return out


class FakeBigQuery:
    def __init__(self, token=None, incomplete_polls=1, page_cap=None, load_polls=0,
                 location="US"):
        self.token = token
        self.incomplete_polls = incomplete_polls
        self.load_polls = load_polls
        self.page_cap = page_cap
        self.default_location = location
        self.requests = []  # {"method", "path", "query", "headers", "body"} of every request
        self.token_requests = []  # the claims of each JWT the token endpoint got
        self.url = None
        self._server = None
        self._lock = threading.RLock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._datasets = {}  # (project, dataset) -> location
        self._tables = {}  # (project, dataset, table) -> {"sqlite", "schema", "resource"}
        self._jobs = {}  # (project, job id) -> job
        self._request_ids = {}  # requestId -> (project, job id)
        self._load_jobs = 0
        self._fail_load = {}  # n-th load job -> (reason, message)
        self._query_faults = []  # [pattern, reason, message, times]
        self._http_faults = []  # [method, pattern, status, reason, message, times]

    # ---- serving ----
    def start(self):
        """Serves on 127.0.0.1 (a free port); returns (self, base_url)."""
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60

            def log_message(self, *args):
                pass

            def _answer(self, code, body=None):
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(code)
                if code != 204:
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if code != 204:
                    self.wfile.write(data)

            def _handle(self):
                if self.headers.get("Transfer-Encoding"):
                    self.close_connection = True
                    return self._answer(411, BigQueryError(411, "badRequest",
                                                           "Length required").body())
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                except ValueError:
                    length = -1
                if length < 0 or length > MAX_BODY:
                    self.close_connection = True
                    return self._answer(413, BigQueryError(413, "badRequest",
                                                           "Request too large").body())
                raw = self.rfile.read(length) if length else b""
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                with fake._lock:
                    fake.requests.append({"method": self.command, "path": url.path,
                                          "query": query, "headers": dict(self.headers),
                                          "body": raw.decode("utf-8", "replace")})
                try:
                    if url.path == "/token" and self.command == "POST":
                        return self._answer(200, fake._token_endpoint(raw))
                    if fake.token is not None and \
                            self.headers.get("Authorization") != f"Bearer {fake.token}":
                        raise BigQueryError(
                            401, "required" if not self.headers.get("Authorization")
                            else "authError",
                            "Request is missing required authentication credential. Expected "
                            "OAuth 2 access token, login cookie or other valid authentication "
                            "credential." if not self.headers.get("Authorization") else
                            "Request had invalid authentication credentials. Expected OAuth 2 "
                            "access token, login cookie or other valid authentication "
                            "credential.")
                    fake._fault(self.command, url.path)
                    code, body = fake._route(self.command, url.path, query, raw,
                                             self.headers.get("Content-Type", ""))
                except BigQueryError as e:
                    code, body = e.code, e.body()
                return self._answer(code, body)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self, self.url

    @property
    def host(self):
        """HOST:PORT, for BIGQUERY_EMULATOR_HOST."""
        return self.url[len("http://"):]

    def close(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        if not self._server:
            self.start()
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- test controls ----
    def create_dataset(self, project, dataset, location=None):
        with self._lock:
            self._datasets.setdefault((project, dataset), location or self.default_location)

    def create_table(self, project, dataset, table, schema_fields, rows=()):
        """A table (and its dataset) with `schema_fields` — dicts or (name, type[, mode]) — and
        `rows`: dicts by name or sequences in field order, of Python values (int, float, bool,
        str, bytes, datetime.date/datetime, None) or the JSON forms a load job takes."""
        with self._lock:
            self.create_dataset(project, dataset)
            fields = _normalize_fields(schema_fields)
            self._create(project, dataset, table, fields, replace=True)
            self._insert_rows((project, dataset, table), rows)

    def rows(self, project, dataset, table):
        """The table's rows as dicts in insertion order: ints, floats, bools, str, bytes,
        dates as YYYY-MM-DD and timestamps as YYYY-MM-DDTHH:MM:SS.ffffffZ."""
        with self._lock:
            entry = self._table((project, dataset, table))
            names = [f["name"] for f in entry["schema"]]
            cursor = self._db.execute(
                f"SELECT {', '.join(self._q(n) for n in names)} FROM "
                f"{self._q(entry['sqlite'])} ORDER BY rowid")
            return [{f["name"]: _python(v, f["type"]) for f, v in zip(entry["schema"], row)}
                    for row in cursor.fetchall()]

    def table(self, project, dataset, table):
        """The table's resource as tables.get answers it, or None when it does not exist."""
        with self._lock:
            entry = self._tables.get((project, dataset, table))
            return json.loads(json.dumps(self._resource(entry))) if entry else None

    def table_ids(self, project, dataset):
        with self._lock:
            self._expire()
            return sorted(t for (p, d, t) in self._tables if (p, d) == (project, dataset))

    @property
    def load_jobs(self):
        """How many load jobs were started."""
        return self._load_jobs

    def queries(self):
        """The SQL of every jobs.query, in order."""
        with self._lock:
            return [json.loads(r["body"] or "{}").get("query") for r in self.requests
                    if r["method"] == "POST" and r["path"].endswith("/queries")]

    def fail_load_job(self, n, reason="invalid", message=None):
        """The n-th load job from now (1 = the next) fails with `reason` and `message`."""
        with self._lock:
            self._fail_load[self._load_jobs + n] = (
                reason, message or f"the fake BigQuery fails load job {n} as the test asked")

    def fail_query(self, pattern, message, reason="invalidQuery", times=1):
        """The next `times` queries whose SQL matches the regex `pattern` fail as jobs (nothing
        of them is run), e.g. with "Transaction is aborted due to concurrent update"."""
        with self._lock:
            self._query_faults.append([re.compile(pattern, re.S), reason, message, times])

    def fail_requests(self, method, path_pattern, status, reason="backendError", message=None,
                      times=1):
        """The next `times` requests of `method` whose path matches the regex `path_pattern`
        are answered HTTP `status` (BigQuery's error JSON) before anything is done."""
        with self._lock:
            self._http_faults.append([method, re.compile(path_pattern), status, reason,
                                      message or f"the fake BigQuery answers {status} as the "
                                                 "test asked", times])

    def write_service_account_key(self, directory):
        """A service-account key file (a fresh RSA key made by `openssl`) whose token_uri is
        this fake's /token: for GOOGLE_APPLICATION_CREDENTIALS. Returns its path. The token
        endpoint answers `token` and records the assertion's claims (the signature is not
        checked: this is a fake)."""
        key = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                              "rsa_keygen_bits:2048"], check=True, capture_output=True,
                             timeout=60).stdout.decode()
        path = pathlib.Path(directory) / "service-account.json"
        path.write_text(json.dumps({
            "type": "service_account", "project_id": "fake-project",
            "private_key_id": secrets.token_hex(20), "private_key": key,
            "client_email": "somlier@fake-project.iam.gserviceaccount.com",
            "client_id": "1" * 21, "token_uri": self.url + "/token"}))
        return str(path)

    # ---- plumbing ----
    @staticmethod
    def _q(name):
        return '"' + name.replace('"', '""') + '"'

    def _fault(self, method, path):
        with self._lock:
            for fault in self._http_faults:
                if fault[0] == method and fault[1].search(path) and fault[5] > 0:
                    fault[5] -= 1
                    raise BigQueryError(fault[2], fault[3], fault[4])

    def _token_endpoint(self, raw):
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"))
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"] or \
                not form.get("assertion"):
            raise BigQueryError(400, "invalid_grant", "Invalid grant_type or no assertion")
        parts = form["assertion"][0].split(".")
        if len(parts) != 3:
            raise BigQueryError(400, "invalid_grant", "Invalid JWT")
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except ValueError:
            raise BigQueryError(400, "invalid_grant", "Invalid JWT payload") from None
        with self._lock:
            self.token_requests.append(claims)
        return {"access_token": self.token or "fake-access-token", "expires_in": 3599,
                "token_type": "Bearer"}

    def _expire(self):
        now = _micros(datetime.datetime.now(datetime.timezone.utc)) // 1000
        for key, entry in list(self._tables.items()):
            expires = entry["resource"].get("expirationTime")
            if expires is not None and int(expires) <= now:
                self._drop(key)

    def _dataset(self, project, dataset, location=None):
        if (project, dataset) not in self._datasets:
            raise BigQueryError(404, "notFound", f"Not found: Dataset {project}:{dataset}")
        found = self._datasets[(project, dataset)]
        if location and location.upper() != found.upper():
            raise BigQueryError(404, "notFound", f"Not found: Dataset {project}:{dataset} was "
                                                 f"not found in location {location}")
        return found

    def _table(self, key, location=None):
        self._expire()
        project, dataset, table = key
        self._dataset(project, dataset, location)
        entry = self._tables.get(key)
        if entry is None:
            raise BigQueryError(404, "notFound",
                                f"Not found: Table {project}:{dataset}.{table}" +
                                (f" was not found in location {location}" if location else ""))
        return entry

    def _resource(self, entry):
        count = self._db.execute(f"SELECT COUNT(*) FROM {self._q(entry['sqlite'])}").fetchone()[0]
        resource = dict(entry["resource"])
        resource["schema"] = {"fields": entry["schema"]}
        resource["numRows"] = str(count)
        return resource

    def _create(self, project, dataset, table, fields, replace=False, extra=None):
        key = (project, dataset, table)
        if not TABLE_ID.match(table):
            raise _invalid(f"Invalid table ID \"{table}\". Table IDs must be alphanumeric (plus "
                           "underscores and dashes) and must be at most 1024 characters long.")
        if key in self._tables:
            if not replace:
                raise BigQueryError(409, "duplicate",
                                    f"Already Exists: Table {project}:{dataset}.{table}")
            self._drop(key)
        base = f"{project}__{dataset}__{table}"
        name, n = base, 1
        while any(e["sqlite"] == name for e in self._tables.values()):
            n += 1
            name = f"{base}__{n}"
        columns = ", ".join(self._q(f["name"]) for f in fields) or '"_"'
        self._db.execute(f"CREATE TABLE {self._q(name)} ({columns})")
        now = str(_micros(datetime.datetime.now(datetime.timezone.utc)) // 1000)
        resource = {"kind": "bigquery#table", "id": f"{project}:{dataset}.{table}",
                    "tableReference": {"projectId": project, "datasetId": dataset,
                                       "tableId": table},
                    "type": "TABLE", "creationTime": now, "lastModifiedTime": now,
                    "location": self._datasets[(project, dataset)]}
        resource.update(extra or {})
        self._tables[key] = {"sqlite": name, "schema": fields, "resource": resource}
        return self._tables[key]

    def _drop(self, key):
        entry = self._tables.pop(key)
        self._db.execute(f"DROP TABLE {self._q(entry['sqlite'])}")

    def _insert_rows(self, key, rows):
        """Converts every row first (all or nothing); ValueError names the first bad one."""
        entry = self._tables[key]
        fields = entry["schema"]
        names = {f["name"].lower(): f for f in fields}
        converted = []
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                values = {}
                for name, value in row.items():
                    field = names.get(str(name).lower())
                    if field is None:
                        raise ValueError(f"JSON parsing error in row starting at position {i}: "
                                         f"No such field: {name}.")
                    values[field["name"]] = value
            elif isinstance(row, (list, tuple)) and len(row) == len(fields):
                values = {f["name"]: v for f, v in zip(fields, row)}
            else:
                raise ValueError(f"JSON parsing error in row starting at position {i}: the row "
                                 "is not a JSON object")
            out = []
            for f in fields:
                value = values.get(f["name"])
                if value is None and f["mode"] == "REQUIRED":
                    raise ValueError(f"Missing required field: {f['name']}.")
                if f["mode"] == "REPEATED":
                    out.append(json.dumps(value) if value is not None else None)
                else:
                    out.append(_to_stored(value, f["type"], f["name"]))
            converted.append(out)
        if converted:
            placeholders = ", ".join("?" * len(fields))
            self._db.executemany(
                f"INSERT INTO {self._q(entry['sqlite'])} "
                f"({', '.join(self._q(f['name']) for f in fields)}) VALUES ({placeholders})",
                converted)
        return len(converted)

    # ---- the API ----
    def _route(self, method, path, query, raw, content_type):
        parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
        if parts[:3] == ["upload", "bigquery", "v2"]:
            if method == "POST" and len(parts) == 6 and parts[3] == "projects" and \
                    parts[5] == "jobs":
                if query.get("uploadType") != ["multipart"]:
                    raise _invalid("The fake BigQuery takes uploadType=multipart uploads only")
                return self._insert_load_job(parts[4], raw, content_type)
            raise BigQueryError(404, "notFound", f"Not found: {path}")
        if parts[:3] != ["bigquery", "v2", "projects"] or len(parts) < 5:
            raise BigQueryError(404, "notFound", f"Not found: {path}")
        project, rest = parts[3], parts[4:]
        with self._lock:
            if rest[0] == "datasets" and len(rest) >= 3 and rest[2] == "tables":
                dataset = rest[1]
                if len(rest) == 3 and method == "POST":
                    return self._insert_table(project, dataset, raw)
                if len(rest) == 4:
                    key = (project, dataset, rest[3])
                    if method == "GET":
                        return 200, self._resource(self._table(key))
                    if method == "DELETE":
                        self._table(key)
                        self._drop(key)
                        return 204, None
            if rest == ["queries"] and method == "POST":
                return self._query(project, raw)
            if len(rest) == 2 and rest[0] == "queries" and method == "GET":
                return self._get_query_results(project, rest[1], query)
            if len(rest) == 2 and rest[0] == "jobs" and method == "GET":
                job = self._job(project, rest[1], query)
                return 200, self._job_resource(job)
        raise BigQueryError(404, "notFound", f"Not found: {method} {path}")

    def _insert_table(self, project, dataset, raw):
        body = self._json(raw)
        self._dataset(project, dataset)
        reference = body.get("tableReference") or {}
        if reference.get("projectId", project) != project or \
                reference.get("datasetId", dataset) != dataset or not reference.get("tableId"):
            raise _invalid("The table's tableReference does not match the request's project and "
                           "dataset, or has no tableId")
        fields = _normalize_fields((body.get("schema") or {}).get("fields") or [])
        extra = {}
        if "expirationTime" in body:
            expires = body["expirationTime"]
            if not (isinstance(expires, int) or (isinstance(expires, str) and expires.isdigit())):
                raise _invalid(f"Invalid value for expirationTime: {expires!r}")
            extra["expirationTime"] = str(expires)
        for name in ("description", "labels", "friendlyName"):
            if name in body:
                extra[name] = body[name]
        entry = self._create(project, dataset, reference["tableId"], fields, extra=extra)
        return 200, self._resource(entry)

    @staticmethod
    def _json(raw):
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _invalid("Invalid JSON payload received.", "parseError") from None
        if not isinstance(body, dict):
            raise _invalid("Invalid JSON payload received: not an object.", "parseError")
        return body

    # -- jobs --
    def _new_job(self, project, job_id, location, kind, configuration):
        if not JOB_ID.match(job_id):
            raise _invalid(f"Invalid job ID \"{job_id}\"")
        if (project, job_id) in self._jobs:
            raise BigQueryError(409, "duplicate",
                                f"Already Exists: Job {project}:{location}.{job_id}")
        job = {"project": project, "id": job_id, "location": location, "kind": kind,
               "configuration": configuration, "polls_left": 0, "error": None, "errors": [],
               "schema": None, "rows": [], "tokens": {}, "job_gets_left": 0}
        self._jobs[(project, job_id)] = job
        return job

    def _job(self, project, job_id, query):
        job = self._jobs.get((project, job_id))
        location = (query.get("location") or [None])[0]
        if job is not None and location is None and job["location"].upper() not in ("US", "EU"):
            job = None  # not found without its location, as BigQuery outside US and EU
        if job is None or (location and location.upper() != job["location"].upper()):
            raise BigQueryError(404, "notFound", f"Not found: Job {project}:"
                                                 f"{location or self.default_location}.{job_id}")
        return job

    def _job_reference(self, job):
        return {"projectId": job["project"], "jobId": job["id"], "location": job["location"]}

    def _job_resource(self, job):
        if job["kind"] == "load" and job["job_gets_left"] > 0:
            job["job_gets_left"] -= 1
            state = "RUNNING"
        else:
            state = "RUNNING" if job["polls_left"] > 0 else "DONE"
        status = {"state": state}
        if state == "DONE" and job["error"]:
            status["errorResult"] = job["error"]
            status["errors"] = job["errors"] or [job["error"]]
        return {"kind": "bigquery#job", "id": f"{job['project']}:{job['location']}.{job['id']}",
                "jobReference": self._job_reference(job),
                "configuration": job["configuration"], "status": status,
                "statistics": {"creationTime": "0"}}

    def _insert_load_job(self, project, raw, content_type):
        match = re.match(r'multipart/related\s*;\s*boundary="?([^";]+)"?', content_type, re.I)
        if not match:
            raise _invalid("The upload is not multipart/related with a boundary")
        delimiter = b"--" + match.group(1).encode()
        chunks = raw.split(delimiter)
        if len(chunks) != 4 or chunks[0].strip() or not chunks[3].startswith(b"--"):
            raise _invalid("The multipart body is not the job's metadata then its data")
        parts = []
        for chunk in chunks[1:3]:
            if not chunk.startswith(b"\r\n") or b"\r\n\r\n" not in chunk:
                raise _invalid("A part of the multipart body has no headers")
            head, _, content = chunk[2:].partition(b"\r\n\r\n")
            if not content.endswith(b"\r\n"):
                raise _invalid("A part of the multipart body does not end with CRLF")
            headers = {line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
                       for line in head.split(b"\r\n") if b":" in line}
            parts.append((headers, content[:-2]))
        if not parts[0][0].get(b"content-type", b"").startswith(b"application/json"):
            raise _invalid("The first part of the upload is not the job's JSON")
        job_body = self._json(parts[0][1])
        data = parts[1][1]
        load = (job_body.get("configuration") or {}).get("load")
        if not isinstance(load, dict):
            raise _invalid("The upload's job is not a load job (configuration.load)")
        if load.get("sourceFormat") != "NEWLINE_DELIMITED_JSON":
            raise _invalid("The fake BigQuery loads NEWLINE_DELIMITED_JSON only")
        destination = load.get("destinationTable") or {}
        key = (destination.get("projectId"), destination.get("datasetId"),
               destination.get("tableId"))
        if not all(isinstance(k, str) and k for k in key):
            raise _invalid("Required parameter is missing: destinationTable")
        reference = job_body.get("jobReference") or {}
        if reference.get("projectId", project) != project:
            raise _invalid("The job's projectId does not match the request's")
        with self._lock:
            location = reference.get("location") or self._datasets.get(
                key[:2], self.default_location)
            job_id = reference.get("jobId") or "job_" + secrets.token_hex(12)
            job = self._new_job(project, job_id, location, "load", {"load": load})
            job["job_gets_left"] = self.load_polls  # RUNNING at as many jobs.get
            self._load_jobs += 1
            failure = self._fail_load.pop(self._load_jobs, None)
            try:
                if failure:
                    raise BigQueryError(400, failure[0], failure[1])
                self._run_load(job, load, key, data)
            except BigQueryError as e:
                job["error"] = {"reason": e.reason, "message": e.message}
                job["errors"] = job["errors"] or [job["error"]]
            answer = self._job_resource(job)
            answer["status"] = {"state": "RUNNING"}
            return 200, answer

    def _run_load(self, job, load, key, data):
        if load.get("writeDisposition", "WRITE_APPEND") != "WRITE_APPEND":
            raise _invalid("The fake BigQuery supports writeDisposition WRITE_APPEND only")
        fields = _normalize_fields((load.get("schema") or {}).get("fields") or [])
        try:
            self._dataset(key[0], key[1], job["location"])
        except BigQueryError as e:
            raise BigQueryError(404, "notFound", e.message) from None
        self._expire()
        if key not in self._tables:
            if load.get("createDisposition", "CREATE_IF_NEEDED") != "CREATE_IF_NEEDED":
                raise BigQueryError(404, "notFound",
                                    f"Not found: Table {key[0]}:{key[1]}.{key[2]}")
            if not fields:
                raise _invalid("No schema specified on job or table.")
            self._create(*key, fields)
        entry = self._tables[key]
        existing = {f["name"].lower(): f for f in entry["schema"]}
        for f in fields:
            old = existing.get(f["name"].lower())
            if old is None:
                raise _invalid(f"Provided Schema does not match Table {key[0]}:{key[1]}."
                               f"{key[2]}. Cannot add fields (field: {f['name']})")
            if old["type"] != f["type"]:
                raise _invalid(f"Provided Schema does not match Table {key[0]}:{key[1]}."
                               f"{key[2]}. Field {f['name']} has changed type from "
                               f"{old['type']} to {f['type']}")
        rows, errors, position = [], [], 0
        for line in data.split(b"\n"):
            if line.strip():
                try:
                    row = json.loads(line)
                except ValueError:
                    errors.append(f"Error while reading data, error message: JSON parsing error "
                                  f"in row starting at position {position}: Parser terminated "
                                  "before end of string")
                else:
                    rows.append(row)
            position += len(line) + 1
        if not errors:
            self._db.execute("SAVEPOINT load")
            try:
                self._insert_rows(key, rows)
            except ValueError as e:
                self._db.execute("ROLLBACK TO load")
                errors.append(f"Error while reading data, error message: {e}")
            finally:
                self._db.execute("RELEASE load")
        if errors:
            job["errors"] = [{"reason": "invalid", "message": m} for m in errors[:5]]
            raise _invalid("Error while reading data, error message: JSON table encountered too "
                           f"many errors, giving up. Rows: {len(errors)}; errors: {len(errors)}. "
                           "Please look into the errors[] collection for more details.")

    # -- queries --
    def _query(self, project, raw):
        body = self._json(raw)
        with self._lock:
            request_id = body.get("requestId")
            if request_id and request_id in self._request_ids:
                job = self._jobs[self._request_ids[request_id]]
            else:
                if body.get("useLegacySql", True) is not False:
                    raise _invalid("The fake BigQuery runs standard SQL only: set useLegacySql "
                                   "to false", "invalidQuery")
                sql = body.get("query")
                if not isinstance(sql, str) or not sql.strip():
                    raise _invalid("Required parameter is missing: query")
                params = self._parameters(body)
                location = body.get("location")
                # Without a location the job runs where its first table's dataset is.
                job = self._new_job(project, "job_" + secrets.token_hex(12),
                                    location or self.default_location, "query",
                                    {"query": {"query": sql, "useLegacySql": False}})
                if request_id:
                    self._request_ids[request_id] = (project, job["id"])
                try:
                    self._run(job, sql, params, location)
                except BigQueryError as e:
                    job["error"] = {"reason": e.reason, "message": e.message,
                                    "location": "query"}
                    job["http"] = e.code
            int64 = bool((body.get("formatOptions") or {}).get("useInt64Timestamp"))
            return 200, self._results(job, body.get("maxResults"), None, int64,
                                      "bigquery#queryResponse")

    def _get_query_results(self, project, job_id, query):
        job = self._job(project, job_id, query)
        if job["kind"] != "query":
            raise _invalid(f"Job {project}:{job['location']}.{job_id} is not a query")
        if job["polls_left"] > 0:
            job["polls_left"] -= 1
        token = (query.get("pageToken") or [None])[0]
        max_results = (query.get("maxResults") or [None])[0]
        int64 = (query.get("formatOptions.useInt64Timestamp") or ["false"])[0] == "true"
        return 200, self._results(job, max_results, token, int64,
                                  "bigquery#getQueryResultsResponse")

    def _results(self, job, max_results, token, int64, kind):
        answer = {"kind": kind, "jobReference": self._job_reference(job)}
        if job["polls_left"] > 0:
            answer["jobComplete"] = False
            return answer
        if job["error"]:
            raise BigQueryError(job.get("http", 400), job["error"]["reason"],
                                job["error"]["message"])
        offset = 0
        if token is not None:
            if token not in job["tokens"]:
                raise _invalid(f"Invalid page token: {token}")
            offset = job["tokens"][token]
        try:
            limit = int(max_results) if max_results is not None else len(job["rows"])
        except (TypeError, ValueError):
            raise _invalid(f"Invalid value for maxResults: {max_results}") from None
        if limit < 0:
            raise _invalid(f"Invalid value for maxResults: {max_results}")
        if self.page_cap is not None:
            limit = min(limit, self.page_cap)
        page = job["rows"][offset:offset + limit]
        answer.update({"jobComplete": True, "totalRows": str(len(job["rows"])),
                       "cacheHit": False, "totalBytesProcessed": "0"})
        if job["schema"] is not None:
            answer["schema"] = {"fields": job["schema"]}
            answer["rows"] = [{"f": [{"v": _cell(v, f["type"], int64)}
                                     for f, v in zip(job["schema"], row)]} for row in page]
            if not answer["rows"]:
                del answer["rows"]  # BigQuery leaves out an empty page's rows
        if offset + len(page) < len(job["rows"]):
            next_token = secrets.token_urlsafe(12)
            job["tokens"][next_token] = offset + len(page)
            answer["pageToken"] = next_token
        return answer

    @staticmethod
    def _parameters(body):
        params = body.get("queryParameters") or []
        if params and body.get("parameterMode") != "NAMED":
            raise _invalid("Query parameters need parameterMode NAMED (named @parameters)",
                           "invalidQuery")
        out = {}
        for p in params:
            name = p.get("name")
            type_name = ((p.get("parameterType") or {}).get("type") or "").upper()
            value = (p.get("parameterValue") or {}).get("value")
            if not name or type_name not in ("DATE", "STRING", "INT64", "TIMESTAMP"):
                raise _invalid(f"Invalid query parameter {p!r}", "invalidQuery")
            if type_name == "DATE":
                try:
                    datetime.date.fromisoformat(value)
                except (TypeError, ValueError):
                    raise _invalid(f"Invalid date literal: {value!r} for parameter {name}",
                                   "invalidQuery") from None
            out[name] = (type_name, value)
        return out

    def _run(self, job, sql, params, location):
        """Runs a query or script now; the job keeps its results (or raises BigQueryError).
        `location`: the request's, or None (then the job moves to its first table's)."""
        placed = [location is not None]

        def table(ref):
            key = self._parts(ref)
            if not placed[0] and key[:2] in self._datasets:
                job["location"] = self._datasets[key[:2]]
                placed[0] = True
            return key

        for fault in self._query_faults:
            if fault[3] > 0 and fault[0].search(sql):
                fault[3] -= 1
                raise BigQueryError(400, fault[1], fault[2])
        statements = _split_statements(sql)
        select = len(statements) == 1 and SELECT_ROWS.match(statements[0])
        if self.incomplete_polls and (select or len(statements) > 1):
            job["polls_left"] = self.incomplete_polls
        if len(statements) == 1 and (select or SELECT_COUNT.match(statements[0])):
            match = select or SELECT_COUNT.match(statements[0])
            entry = self._table(table(match.group("table")), location)
            where, args = self._condition(match, entry, params)
            if select:
                job["schema"] = entry["schema"]
                names = ", ".join(self._q(f["name"]) for f in entry["schema"])
                job["rows"] = self._db.execute(
                    f"SELECT {names} FROM {self._q(entry['sqlite'])} WHERE {where} ORDER BY rowid",
                    args).fetchall()
            else:
                job["schema"] = [{"name": "f0_", "type": "INTEGER", "mode": "NULLABLE"}]
                job["rows"] = self._db.execute(
                    f"SELECT COUNT(*) FROM {self._q(entry['sqlite'])} WHERE {where}",
                    args).fetchall()
            return
        in_transaction = False
        try:
            for statement in statements:
                if BEGIN.match(statement):
                    if in_transaction:
                        raise _invalid("Nested transactions are not supported", "invalidQuery")
                    self._db.execute("BEGIN")
                    in_transaction = True
                elif COMMIT.match(statement):
                    if not in_transaction:
                        raise _invalid("COMMIT TRANSACTION without BEGIN TRANSACTION",
                                       "invalidQuery")
                    self._db.execute("COMMIT")
                    in_transaction = False
                elif m := CREATE.match(statement):
                    if in_transaction:
                        raise _invalid("CREATE TABLE of a permanent table is not supported "
                                       "inside a transaction", "invalidQuery")
                    self._create_statement(m, table(m.group("table")), location)
                elif m := DELETE.match(statement):
                    entry = self._table(table(m.group("table")), location)
                    where, args = self._condition(m, entry, params)
                    self._db.execute(f"DELETE FROM {self._q(entry['sqlite'])} WHERE {where}", args)
                elif m := INSERT.match(statement):
                    self._insert_select(m, table(m.group("table")), location)
                else:
                    raise _invalid("Syntax error: the fake BigQuery does not run this statement: "
                                   f"{statement[:200]}", "invalidQuery")
            if in_transaction:  # the script ended inside its transaction: BigQuery rolls back
                raise _invalid("Transaction was not committed before the end of the script",
                               "invalidQuery")
        except BaseException:
            if in_transaction:
                self._db.execute("ROLLBACK")
            raise
        job["schema"] = None
        job["rows"] = []

    @staticmethod
    def _parts(ref):
        parts = _table_parts(ref)
        if len(parts) != 3:
            raise _invalid(f"Table name \"{ref}\" missing dataset while no default dataset is set "
                           "in the request.", "invalidQuery")
        return parts

    def _condition(self, match, entry, params):
        """`col` = @p or DATE(`col`) = @p, type-checked -> sqlite WHERE text and arguments."""
        quoted = match.group("col") or match.group("dcol")
        column = _unquote(quoted)
        field = next((f for f in entry["schema"] if f["name"].lower() == column.lower()), None)
        if field is None:
            raise _invalid(f"Unrecognized name: {column}", "invalidQuery")
        name = match.group("param")
        if name not in params:
            raise _invalid(f"Query parameter '{name}' not found", "invalidQuery")
        param_type, value = params[name]
        column_type = field["type"]
        if match.group("dcol"):
            if column_type not in ("DATE", "TIMESTAMP", "DATETIME"):
                raise _invalid(f"No matching signature for function DATE for argument types: "
                               f"{SQL_NAMES.get(column_type, column_type)}", "invalidQuery")
            left, column_type = f"date({self._q(field['name'])})", "DATE"
        else:
            left = self._q(field["name"])
        if column_type != param_type:
            raise _invalid("No matching signature for operator = for argument types: "
                           f"{SQL_NAMES.get(column_type, column_type)}, {param_type}",
                           "invalidQuery")
        return f"{left} = ?", [value]

    def _create_statement(self, match, key, location):
        self._dataset(key[0], key[1], location)
        self._expire()
        fields = []
        for definition in match.group("defs").split(","):
            m = re.fullmatch(rf"\s*({IDENT})\s+(\w+)\s*", definition)
            if not m:
                raise _invalid(f"Syntax error in the column definition \"{definition.strip()}\"",
                               "invalidQuery")
            type_name = m.group(2).upper()
            if type_name not in DDL_TYPES:
                raise _invalid(f"Type not found: {m.group(2)}", "invalidQuery")
            fields.append({"name": _unquote(m.group(1)), "type": DDL_TYPES[type_name]})
        fields = _normalize_fields(fields)
        extra = {}
        if match.group("part"):
            column = _unquote(match.group("part"))
            field = next((f for f in fields if f["name"] == column), None)
            if field is None or field["type"] not in ("DATE", "TIMESTAMP", "DATETIME"):
                raise _invalid(f"PARTITION BY expression must be a DATE, TIMESTAMP or DATETIME "
                               f"column (got {column})", "invalidQuery")
            extra["timePartitioning"] = {"type": "DAY", "field": column}
        if key not in self._tables:
            self._create(*key, fields, extra=extra)

    def _insert_select(self, match, key, location):
        entry = self._table(key, location)
        source = self._table(self._parts(match.group("source")), location)
        names = match.group("cols").split(",") + match.group("scols").split(",")
        if not all(re.fullmatch(IDENT, c.strip()) for c in names):
            raise _invalid("The fake BigQuery takes INSERT INTO t (`a`, ...) SELECT `a`, ... FROM "
                           "s with every column name quoted", "invalidQuery")
        targets = [_unquote(c.strip()) for c in match.group("cols").split(",")]
        picks = [_unquote(c.strip()) for c in match.group("scols").split(",")]
        if len(targets) != len(picks):
            raise _invalid(f"Inserted row has wrong column count; Has {len(picks)}, expected "
                           f"{len(targets)}", "invalidQuery")
        by_name = {f["name"].lower(): f for f in entry["schema"]}
        from_name = {f["name"].lower(): f for f in source["schema"]}
        for i, (target, pick) in enumerate(zip(targets, picks)):
            if target.lower() not in by_name:
                raise _invalid(f"Column {target} is not present in table {'.'.join(key)}",
                               "invalidQuery")
            if pick.lower() not in from_name:
                raise _invalid(f"Unrecognized name: {pick}", "invalidQuery")
            to_type = by_name[target.lower()]["type"]
            from_type = from_name[pick.lower()]["type"]
            coercible = from_type == to_type or (
                from_type == "INTEGER" and to_type in ("FLOAT", "NUMERIC", "BIGNUMERIC"))
            if not coercible:
                raise _invalid(f"Query column {i + 1} has type "
                               f"{SQL_NAMES.get(from_type, from_type)} which cannot be inserted "
                               f"into column {target}, which has type "
                               f"{SQL_NAMES.get(to_type, to_type)}", "invalidQuery")
        self._db.execute(
            f"INSERT INTO {self._q(entry['sqlite'])} "
            f"({', '.join(self._q(by_name[t.lower()]['name']) for t in targets)}) "
            f"SELECT {', '.join(self._q(from_name[p.lower()]['name']) for p in picks)} "
            f"FROM {self._q(source['sqlite'])} ORDER BY rowid")


def start(**options):
    """A started FakeBigQuery: (fake, base_url). See FakeBigQuery for `options`."""
    return FakeBigQuery(**options).start()
