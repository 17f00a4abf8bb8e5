"""Every technique is a plain function with its real signature and numpydoc, whose Examples run."""

from __future__ import annotations

import doctest
import inspect

import numpy as np
import pytest

from napari_segsuite import techniques
from napari_segsuite.techniques import CATALOG
from napari_segsuite.techniques._functions import FUNCTIONS


def test_each_technique_is_a_function_of_the_package_and_of_its_module():
    assert len(FUNCTIONS) == len(CATALOG)
    for tech in CATALOG.values():
        fn = getattr(techniques, tech.func.__name__)
        module = __import__(tech.func.__module__, fromlist=["x"])
        assert getattr(module, tech.func.__name__) is fn and fn.technique is tech
        assert tech.func.__name__ in techniques.__all__
        sig = inspect.signature(fn)
        names = list(sig.parameters)
        first = ["image"] if tech.channels == "labels" else ["image", "channel_axis"]
        assert names[:len(first)] == first, tech.name
        assert names[len(first):] == [i.name for i in tech.inputs] + [p.name for p in tech.params], tech.name
        for p in tech.params:
            assert sig.parameters[p.name].default == p.default
        doc = inspect.getdoc(fn)
        for section in ("Parameters", "Returns", "Examples"):
            assert f"\n{section}\n---" in doc, (tech.name, section)
        for name in names:
            assert f"\n{name} : " in doc, (tech.name, name)


def test_the_functions_compute_what_the_catalog_does_and_check_their_arguments():
    from skimage.data import coins

    from napari_segsuite.techniques import felzenszwalb, global_threshold
    from napari_segsuite.techniques.threshold import global_threshold as same

    image = coins()
    assert same is global_threshold
    np.testing.assert_array_equal(felzenszwalb(image, scale=100), CATALOG["graph.felzenszwalb"](image, scale=100))
    np.testing.assert_array_equal(global_threshold(image, method="li"), CATALOG["threshold.global"](image, method="li"))
    with pytest.raises(ValueError, match="scale"):
        felzenszwalb(image, scale=-1)
    with pytest.raises(ValueError, match="no parameter"):
        felzenszwalb(image, scael=100)
    with pytest.raises(TypeError):
        felzenszwalb(image, 100)  # parameters are keywords, as in the signature


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_the_examples_run_as_doctests(name):
    fn = FUNCTIONS[name]
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = doctest.DocTestFinder().find(fn, name, globs={})
    assert tests and tests[0].examples, "an Examples section"
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"{name}: {runner.failures} example(s) failed (run pytest -s to see them)"
