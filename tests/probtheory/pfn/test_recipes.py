from importlib.metadata import EntryPoint

import pytest

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.pfn import recipes as recipes_module
from probtheory.pfn.recipes import Recipe, get_recipe, recipes


def test_every_shipped_recipe_is_registered_by_its_own_package():
    found = recipes()
    assert list(found) == ["gp-hyper-1d", "gp-rbf-1d", "lcpfn"]
    assert all(isinstance(recipe, Recipe) and recipe.name == name for name, recipe in found.items())
    # the LC-PFN registers its own recipe: pfn only finds it through the entry point
    assert type(found["lcpfn"].prior).__module__ == "probtheory.lcpfn.curves"
    assert get_recipe("lcpfn") is found["lcpfn"]


def test_an_unknown_recipe_names_the_known_ones():
    with pytest.raises(InputDataError, match=r"`recipe`.*gp-rbf-1d.*'nope'"):
        get_recipe("nope")


def test_an_entry_point_that_is_not_a_recipe_of_its_name_is_refused(monkeypatch):
    wrong = EntryPoint("gp-rbf-1d", "probtheory.pfn.recipes:GP_HYPER_1D", recipes_module.RECIPE_GROUP)

    def fake_entry_points(group, name=None):
        return [wrong] if name in (None, wrong.name) else []

    monkeypatch.setattr(recipes_module, "entry_points", fake_entry_points)
    with pytest.raises(ConfigurationError, match="must load a Recipe named 'gp-rbf-1d'"):
        get_recipe("gp-rbf-1d")
