"""The import graph has no cycles: not between the top packages, nor between the children of any package.

import-linter's contracts in pyproject.toml say which way imports go; this says that no import, however
indirect, comes back. grimp is the graph import-linter itself builds.
"""

from __future__ import annotations

import grimp
import pytest

ROOTS = ("app", "ingest", "dashboards", "satupintu")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    # An import under `if TYPE_CHECKING:` is an annotation's, never run: it cannot make an import cycle.
    return grimp.build_graph(*ROOTS, exclude_type_checking_imports=True)


def test_no_cycle_between_the_top_packages(graph: grimp.ImportGraph) -> None:
    both_ways = [
        (a, b)
        for i, a in enumerate(ROOTS)
        for b in ROOTS[i + 1 :]
        if graph.chain_exists(a, b, as_packages=True) and graph.chain_exists(b, a, as_packages=True)
    ]
    assert both_ways == []


def test_no_cycle_between_the_children_of_any_package(graph: grimp.ImportGraph) -> None:
    """For each package, the imports that would have to go for its children (modules and subpackages,
    each with everything under it) to import one another without a cycle: there must be none."""
    packages = sorted(m for m in graph.modules if graph.find_children(m))
    assert "app.api" in packages and "ingest.parser" in packages, packages  # the walk does reach down
    cycles = {p: sorted(breakers) for p in packages if (breakers := graph.nominate_cycle_breakers(p))}
    listed = "".join(f"\n  in {p}: " + ", ".join(f"{a} -> {b}" for a, b in imports) for p, imports in cycles.items())
    assert cycles == {}, "import cycles; removing these imports would leave none:" + listed
