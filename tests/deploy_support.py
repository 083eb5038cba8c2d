"""Reading the deploy files (docker-compose.yml, collector-config/, grafana/) for the static tests and,
later, for an end-to-end test that runs every dashboard query against a real Prometheus."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import yaml

from tests.cli_process import ROOT

COMPOSE = ROOT / "docker-compose.yml"
COLLECTOR_CONFIG = ROOT / "collector-config"
PROMETHEUS_YML = COLLECTOR_CONFIG / "prometheus.yml"
ALERTS_YML = COLLECTOR_CONFIG / "alerts.yml"
ALERTS_TEST_YML = COLLECTOR_CONFIG / "alerts_test.yml"
DASHBOARDS = ROOT / "grafana" / "dashboards"
DATASOURCES_YML = ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS_YML = ROOT / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
DASHBOARD_SCHEMA = Path(__file__).resolve().parent / "schemas" / "grafana-dashboard.jsonschema.json"

#: What Grafana puts in place of its variables when a test runs a dashboard query itself: every job,
#: a 1-minute rate window (4 x the 15 s scrape interval) and a 1-hour dashboard range.
DEFAULT_VARIABLES = {"job": ".+", "service": "aiwhisperer-runner", "__rate_interval": "1m", "__interval": "1m", "__range": "1h"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON in grafana/dashboards, by file name."""
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside rows, rows themselves included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def substitute(expr: str, variables: dict[str, str] | None = None) -> str:
    """Replace Grafana's $name / ${name} / [[name]] variables with values (DEFAULT_VARIABLES by default)."""
    values = {**DEFAULT_VARIABLES, **(variables or {})}

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", repl, expr)


def dashboard_queries(*, substituted: bool = True, variables: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every PromQL expression of every dashboard: its panels' targets and its query variables.

    Each item: dashboard (file name), panel (title, or "$name" for a variable), ref_id, expr (with
    Grafana variables replaced by `variables` over DEFAULT_VARIABLES unless substituted=False), raw
    (as written), instant (whether Grafana runs it as an instant query).
    label_values(selector, label) variables become the selector itself, which is what Grafana asks
    Prometheus for (the series API).
    """
    found = []

    def add(name: str, panel: str, ref_id: str, raw: str, instant: bool) -> None:
        expr = substitute(raw, variables) if substituted else raw
        found.append({"dashboard": name, "panel": panel, "ref_id": ref_id, "expr": expr, "raw": raw, "instant": instant})

    for name, dashboard in dashboards().items():
        for var in dashboard.get("templating", {}).get("list", []):
            query = var.get("query")
            if var.get("type") == "query" and isinstance(query, str):
                m = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\)\s*", query, re.S)
                add(name, "$" + var["name"], "var", m.group(1) if m else query, True)
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if "expr" in target:
                    add(name, panel.get("title", ""), target.get("refId", ""), target["expr"], bool(target.get("instant")))
    return found


def datasource_uids() -> dict[str, str]:
    """The provisioned datasources: uid -> type."""
    return {ds["uid"]: ds["type"] for ds in load_yaml(DATASOURCES_YML)["datasources"]}


def bind_mounts() -> list[tuple[str, str, str]]:
    """(service, host path relative to the repo, container path) of every bind mount in the compose file."""
    mounts = []
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            if isinstance(volume, str):
                source, target = volume.split(":")[:2]
            else:
                source, target = volume.get("source", ""), volume.get("target", "")
            if source.startswith((".", "/")):
                mounts.append((name, source, target))
    return mounts


def contrib_version_in_go_mod(go_mod: Path) -> set[str]:
    """The versions of github.com/open-telemetry/opentelemetry-collector-contrib modules a go.mod requires."""
    text = go_mod.read_text(encoding="utf-8")
    return set(re.findall(r"github\.com/open-telemetry/opentelemetry-collector-contrib/\S+\s+v(\d+\.\d+\.\d+)", text))


def promtool() -> str | None:
    return shutil.which("promtool")
