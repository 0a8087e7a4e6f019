"""The zoo: complete entries, and the behaviour its descriptions promise."""

import torch

from core.engine.dynamics import simulate
from core.engine.registry import make_optimizer
from core.models.losses import ZOO, batched


def test_zoo_entries_are_complete_and_parse():
    assert len(ZOO) >= 8
    for z in ZOO.values():
        xmin, xmax, ymin, ymax = z.window
        assert xmin < z.start[0] < xmax and ymin < z.start[1] < ymax, z.name
        assert z.title and z.description
        value = batched(z.expression)(torch.tensor([z.start]))
        assert value.shape == (1,) and torch.isfinite(value).all(), z.name


def test_adamw_and_lion_part_ways_on_sharp_flat():
    z = ZOO["sharp_flat"]
    ends = {}
    for name in ("adamw", "lion"):  # their usual defaults
        run = simulate(
            batched(z.expression), make_optimizer(name), torch.tensor(z.start), 0.02, 200
        )
        ends[name] = run.memory[-1, 0]
    assert torch.allclose(ends["adamw"], torch.tensor([1.0, 0.0]), atol=0.05)  # sharp well
    assert ends["lion"][0] < -1.0  # the wide well on the left


def test_himmelblau_has_four_minima_of_equal_height():
    f = batched(ZOO["himmelblau"].expression)
    minima = torch.tensor(
        [[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]]
    )
    assert torch.allclose(f(minima), torch.zeros(4), atol=1e-9)
