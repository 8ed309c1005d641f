#!/usr/bin/env python3
"""Checks that every metric the dashboard's and the alerts' expressions name is in a scrape.

usage: check-metric-names.py SCRAPE DASHBOARD.json ALERTS.yml
Exits 1 and names each missing metric (and where it is used) when one is not in the scrape.
"""
import json
import re
import sys

NAME = re.compile(r"\b((?:concord|hb|http_server)_[a-zA-Z0-9_]+)\b")


def scraped_names(path):
    names = set()
    with open(path) as scrape:
        for line in scrape:
            line = line.strip()
            if line.startswith("# TYPE ") or line.startswith("# HELP "):
                names.add(line.split()[2])
            elif line and not line.startswith("#"):
                names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def dashboard_expressions(path):
    with open(path) as file:
        dashboard = json.load(file)
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield f"dashboard panel \"{panel['title']}\"", target["expr"]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        yield f"dashboard variable ${variable['name']}", query["query"] if isinstance(query, dict) else query


def alert_expressions(path):
    # The expressions only: `expr: …` and the indented lines of an `expr: |` block.
    alert, inside, indent = None, False, 0
    with open(path) as file:
        for line in file:
            stripped = line.strip()
            if stripped.startswith("- alert:"):
                alert = stripped.split(":", 1)[1].strip()
            if inside:
                if stripped and len(line) - len(line.lstrip()) > indent:
                    yield f"alert {alert}", stripped
                    continue
                inside = False
            if stripped.startswith("expr:"):
                value = stripped.split(":", 1)[1].strip()
                if value in ("|", ">", "|-", ">-"):
                    inside, indent = True, len(line) - len(line.lstrip())
                else:
                    yield f"alert {alert}", value


def main():
    scrape, dashboard, alerts = sys.argv[1:4]
    names = scraped_names(scrape)
    used = {}
    for where, expression in list(dashboard_expressions(dashboard)) + list(alert_expressions(alerts)):
        for name in NAME.findall(expression):
            used.setdefault(name, set()).add(where)
    missing = {name: places for name, places in used.items() if name not in names}
    for name in sorted(missing):
        print(f"missing from the scrape: {name} (used by {', '.join(sorted(missing[name]))})")
    print(f"{len(used) - len(missing)} of {len(used)} metric names the dashboard and the alerts use are in the scrape")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
