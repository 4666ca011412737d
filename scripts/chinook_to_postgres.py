"""Print SQL that recreates a SQLite database's tables and rows in PostgreSQL.

Used by scripts/postgres.sh to load Chinook for the sql verifier's tests. Table and
column names are folded to lower case, so queries written for SQLite with bare names
(`SELECT Name FROM Artist`) run unchanged on PostgreSQL. Standard library only.
"""

from __future__ import annotations

import re
import sqlite3
import sys

TYPES = [
    (re.compile(r"^(N?VARCHAR|N?CHAR)\s*\((\d+)\)$", re.I), lambda m: f"varchar({m.group(2)})"),
    (re.compile(r"^NUMERIC\s*\((\d+)\s*,\s*(\d+)\)$", re.I), lambda m: f"numeric({m[1]},{m[2]})"),
    (re.compile(r"^INTEGER$", re.I), lambda m: "integer"),
    (re.compile(r"^DATETIME$", re.I), lambda m: "timestamp"),
]


def pg_type(declared: str) -> str:
    for pattern, render in TYPES:
        match = pattern.match(declared.strip())
        if match:
            return render(match)
    return "text"


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def main(path: str) -> None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out = sys.stdout
    for table in tables:
        columns = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        keys = [c[1].lower() for c in sorted(columns, key=lambda c: c[5]) if c[5]]
        defs = [f"{c[1].lower()} {pg_type(c[2])}{' NOT NULL' if c[3] else ''}" for c in columns]
        if keys:
            defs.append(f"PRIMARY KEY ({', '.join(keys)})")
        out.write(f"CREATE TABLE {table.lower()} ({', '.join(defs)});\n")
        names = ", ".join(c[1].lower() for c in columns)
        rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
        for start in range(0, len(rows), 500):
            values = ",\n".join(
                "(" + ", ".join(literal(v) for v in row) + ")" for row in rows[start : start + 500]
            )
            out.write(f"INSERT INTO {table.lower()} ({names}) VALUES\n{values};\n")


if __name__ == "__main__":
    main(sys.argv[1])
