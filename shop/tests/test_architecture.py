"""The house rules hold: import contracts (.importlinter) and no import cycle among the project's modules."""

import subprocess
import sys
from pathlib import Path

import grimp
import networkx

from conftest import PROJECT_DIR

PACKAGES = ("shop", "catalog", "visualsearch", "recommendations")


def _project_graph() -> networkx.DiGraph:
    """Module → module imports (lazy ones inside functions included), tests and migrations left out."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    outside = (".tests", ".migrations")
    kept = {m for m in graph.modules if not any(part in f".{m}." for part in (f"{o}." for o in outside))}
    edges = networkx.DiGraph()
    edges.add_nodes_from(kept)
    for module in kept:
        edges.add_edges_from((module, imported) for imported in graph.find_modules_directly_imported_by(module) if imported in kept)
    return edges


def test_no_module_takes_part_in_an_import_cycle():
    cycles = [sorted(group) for group in networkx.strongly_connected_components(_project_graph()) if len(group) > 1]

    assert cycles == []


def test_the_graph_sees_lazy_imports_inside_functions():
    # visualsearch.tasks imports visualsearch.training inside the task body: the cycle check must see such imports.
    graph = _project_graph()

    assert graph.has_edge("visualsearch.tasks", "visualsearch.training")
    assert graph.has_edge("catalog.services", "shop.outbox.services")
    assert not graph.has_edge("visualsearch.services", "shop.partners.webhooks")


def test_import_contracts_are_kept():
    lint = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--config", ".importlinter", "--no-cache"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )

    assert "Contracts: 4 kept, 0 broken." in lint.stdout, lint.stdout[-3000:]
    assert lint.returncode == 0
