"""The AFAS side of the example flow mappings/examples/projects.yaml: a GetConnector of a user's own,
AfasSf_Projects, with its metainfo and a project for some of the demo customers. `afas-sf demo` and
`afas-sf dev` serve it, and the tests of flows declared in YAML use it."""

from __future__ import annotations

from typing import Any

PROJECTS_CONNECTOR = "AfasSf_Projects"
# As `--afas-data` describes a connector of one's own.
PROJECTS_SPEC: dict[str, Any] = {
    "key": ["ProjectId"],
    "modified": "ModifiedDate",
    "description": "Projects",
    "fields": [
        {"id": "ProjectId", "type": "string", "length": 15, "label": "Project"},
        {"id": "Description", "type": "string", "length": 80, "label": "Description"},
        {"id": "DebtorId", "type": "string", "length": 15, "label": "Debtor"},
        {"id": "Status", "type": "string", "length": 1, "label": "Status"},
        {"id": "StartDate", "type": "date", "label": "Start date"},
        {"id": "Budget", "type": "decimal", "label": "Budget"},
        {"id": "ModifiedDate", "type": "date", "label": "Modified"},
    ],
}


def project(number: int, debtor: str, **values: Any) -> dict[str, Any]:
    return {
        "ProjectId": f"P{number:04d}",
        "Description": f"Project {number}",
        "DebtorId": debtor,
        "Status": "A",
        "StartDate": "2026-03-01T00:00:00Z",
        "Budget": 1000.0 + number,
        "ModifiedDate": "2026-11-01T09:00:00Z",
        **values,
    }


def example_projects(debtors: list[dict[str, Any]], count: int = 6) -> list[dict[str, Any]]:
    """A project for each of the first organisation debtors, in turn."""
    companies = [str(d["DebtorId"]) for d in debtors if d.get("CompanyName")][:4]
    return [project(n, companies[n % len(companies)]) for n in range(1, count + 1)]
