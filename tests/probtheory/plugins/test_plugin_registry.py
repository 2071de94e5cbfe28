import inspect
import json
import re

import pytest

from probtheory.errors import InputDataError, UnsupportedError
from probtheory.plugins import KINDS, STATUSES, Paper, PluginEntry, ReproductionResult, get_method, methods
from probtheory.plugins.entry import resolve

# the first batch of methods (layers and training-time methods)
FIRST_METHODS = {
    "polycom",
    "biper",
    "quadratic-relinear",
    "snnk",
    "mip-hypernetwork",
    "self-tuning-networks",
    "trained-rank-pruning",
    "hard-sample-batches",
    "lanczos-lr-batch",
    "sara",
    "bt2",
    "llp-bp",
    "scaling-laws-part1",
}
IMPLEMENTED = {
    "self-tuning-networks",
    "sara",
    "bt2",
    "snnk",
    "lanczos-lr-batch",
    "polycom",
    "biper",
    "quadratic-relinear",
    "mip-hypernetwork",
    "trained-rank-pruning",
    "hard-sample-batches",
    "scaling-laws-part1",
    "llp-bp",
}
#: Part 2: learning rules without end-to-end backpropagation (and SLTT, which still backpropagates
#: through space); part 3: scientific-ML solvers and analyses.
LEARNING_RULES = {"forward-forward", "tpsgd", "auglocal", "forwardgnn", "phyll"}
SOLVERS = {"dcdm", "pig", "mgno", "aas", "adjoint-dpm", "prose"}
ANALYSES = {"inductive-bias", "pde-beyond-linearity"}


def test_every_first_batch_method_is_registered_once():
    names = [e.name for e in methods()]
    assert len(names) == len(set(names))
    assert FIRST_METHODS <= set(names)
    assert {e.name for e in methods(status="implemented")} == (
        IMPLEMENTED | LEARNING_RULES | SOLVERS | ANALYSES | {"sltt"}
    )


def test_the_kinds_of_the_later_methods():
    assert {e.name for e in methods(kind="learning-rule")} == LEARNING_RULES
    assert {e.name for e in methods(kind="solver")} == SOLVERS
    assert ANALYSES <= {e.name for e in methods(kind="analysis")}
    assert get_method("sltt").kind == "training-method"
    assert "baseline" in get_method("forward-forward").summary


@pytest.mark.parametrize("entry", methods(), ids=lambda e: e.name)
def test_every_entry_is_complete(entry):
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry.name)
    paper = entry.paper
    assert paper.title and paper.venue and paper.authors and all(a.strip() for a in paper.authors)
    assert 2010 <= paper.year <= 2026
    assert paper.url.startswith("https://")
    assert paper.arxiv is None or re.fullmatch(r"\d{4}\.\d{4,5}", paper.arxiv)
    assert paper.arxiv is None or paper.arxiv in paper.url or "openreview" in paper.url
    assert entry.kind in KINDS and entry.status in STATUSES
    assert entry.summary and len(entry.summary) <= 110
    assert get_method(entry.name) is entry


@pytest.mark.parametrize("entry", methods(status="implemented"), ids=lambda e: e.name)
def test_implemented_entries_resolve_to_code_and_a_reproduction(entry):
    objects = entry.load_implementation()
    assert len(objects) == len(entry.implementation) and all(callable(o) for o in objects)
    reproduce = resolve(entry.reproduction.replace(":", "."))
    assert list(inspect.signature(reproduce).parameters) == ["quick", "seed", "out_dir"]
    assert all(o.__doc__ for o in objects)


def test_planned_entries_refuse_to_reproduce():
    # every registered method is implemented now; a planned entry added later looks like this
    for entry in [*methods(status="planned"), PluginEntry("x", PAPER, "solver", "planned", "s")]:
        assert entry.implementation == () and entry.reproduction is None
        with pytest.raises(UnsupportedError, match="planned"):
            entry.reproduce(quick=True)


def test_filters_and_lookups():
    assert all(e.kind == "layer" for e in methods(kind="layer"))
    assert sum(len(methods(kind=kind)) for kind in KINDS) == len(methods())
    with pytest.raises(InputDataError, match="kind"):
        methods(kind="activation")
    with pytest.raises(InputDataError, match="status"):
        methods(status="done")
    with pytest.raises(InputDataError, match="polycom"):  # the message lists the registered names
        get_method("polycomm")


PAPER = Paper(
    "T", ("Ada Lovelace", "Alan Turing", "Grace Hopper"), "ICLR", 2024, "https://x.org", "2401.00001"
)


def test_entries_validate_their_fields():
    with pytest.raises(InputDataError, match="kind"):
        PluginEntry("x", PAPER, "activation", "planned", "s")
    with pytest.raises(InputDataError, match="status"):
        PluginEntry("x", PAPER, "layer", "done", "s")
    with pytest.raises(InputDataError, match="implementation"):
        PluginEntry("x", PAPER, "layer", "implemented", "s", implementation=("probtheory.layers.PolyReLU",))
    entry = get_method("polycom")
    with pytest.raises(InputDataError, match="seed"):
        entry.reproduce(seed=-1)
    with pytest.raises(InputDataError, match="path"):
        resolve("probtheory.layers.NoSuchLayer")
    with pytest.raises(InputDataError, match="path"):
        resolve("no_such_package.thing")


def test_paper_short_citation():
    assert PAPER.short() == "Lovelace et al., ICLR 2024"
    two = Paper("T", ("Ada Lovelace", "Alan Turing"), "JMLR", 2022, "https://x.org")
    assert two.short() == "Lovelace & Turing, JMLR 2022"
    compound = Paper(
        "T", ("Jose Javier Gonzalez Ortiz", "B", "C"), "ICLR", 2024, "u", first_surname="Gonzalez Ortiz"
    )
    assert compound.short() == "Gonzalez Ortiz et al., ICLR 2024"


def test_reproduction_result_improvement_and_json():
    accuracy = ReproductionResult("m", "acc", 0.9, "b", 0.8, 1.0, "v", details={"a": 1.0})
    assert accuracy.improvement == pytest.approx(0.1)
    loss = ReproductionResult("m", "loss", 0.9, "b", 0.8, 1.0, "v", higher_is_better=False)
    assert loss.improvement == pytest.approx(-0.1)
    record = json.loads(json.dumps(accuracy.to_dict()))
    assert record["improvement"] == pytest.approx(0.1) and record["details"] == {"a": 1.0}
    assert set(record) >= {
        "method",
        "metric",
        "value",
        "baseline",
        "baseline_value",
        "seconds",
        "verdict",
        "figure",
    }
