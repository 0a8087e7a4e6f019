"""Many-seed network studies (core.study): each seed's run equals torch.optim / lion-pytorch
training the same network (the sharpness: tests/test_sharpness.py), h R is the value at
the run's own step n and Lion's is not defined, the warnings are the page's, the
intervals equal textbook values, Ray stays unimported in process, the CLI prints JSON
and bad input is refused."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from lion_pytorch import Lion
from scenarios import refusal

from core import cli
from core.datasets import make_dataset
from core.mlp import MLP
from core.study import StudyScenario, chunk, compute_study, interval, study_warnings, t_quantile

QUERY = "seeds=3&steps=25&n=60&width=6&lrs=0.02,0.005&seed=7"


def reference(s: StudyScenario, opt: str, seed: int, lr: float):
    """Train the same network with torch.optim (AdamW) or lion-pytorch (Lion): the final
    train and test loss."""
    data = make_dataset(s.data, s.n, s.noise, s.split, s.seed)
    mlp = MLP(data.in_dim, s.width, s.depth, s.act)
    net = mlp.module(mlp.init(seed))
    params = list(net.parameters())
    if opt == "adamw":
        step = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    else:
        step = Lion(params, lr=lr, betas=(0.9, 0.99), weight_decay=0.0)
    x, y = (torch.as_tensor(a) for a in (data.x_train, data.y_train))
    xt, yt = (torch.as_tensor(a) for a in (data.x_test, data.y_test))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for _ in range(s.steps):
        step.zero_grad()
        bce(net(x)[:, 0], y).backward()
        step.step()
    with torch.no_grad():
        return float(bce(net(x)[:, 0], y)), float(bce(net(xt)[:, 0], yt))


@pytest.mark.parametrize("opt", ["adamw", "lion"])
def test_each_seed_and_lr_equals_a_torch_optimizer_run(opt):
    s = StudyScenario.parse(QUERY)
    out = chunk(s.to_query(), opt, tuple(s.seed_list))
    assert out["train_loss"].shape == (3, 2) and out["train_curve"].shape == (3, 2, 26)
    for i, seed in enumerate(s.seed_list):
        for k, lr in enumerate(s.lrs):
            train, test = reference(s, opt, seed, lr)
            assert out["train_loss"][i, k] == pytest.approx(train, rel=1e-9)
            assert out["test_loss"][i, k] == pytest.approx(test, rel=1e-9)
            assert out["gap"][i, k] == pytest.approx(test - train, rel=1e-8, abs=1e-12)
            assert out["train_curve"][i, k, -1] == out["train_loss"][i, k]
    if opt == "lion":  # exact sign: R is not defined, outside the theorem (THEORY §11)
        assert np.isnan(out["hR_curve"]).all() and np.isnan(out["hR_limit_curve"]).all()
    else:  # AdamW's defaults: c1 - c2 = 9 - 999 < 0, R anti-regularizes along the run
        assert (out["hR_curve"][..., 1:] < 0).all() and (out["hR_limit_curve"] < 0).all()


@pytest.mark.parametrize(
    "df, table",  # two-sided 95% critical values of Student's t
    [
        (1, 12.706205),
        (4, 2.776445),
        (9, 2.262157),
        (10, 2.228139),
        (15, 2.131450),
        (20, 2.085963),
        (30, 2.042272),
        (60, 2.000298),
        (120, 1.979930),
    ],
)
def test_t_quantile_matches_the_table(df, table):
    assert t_quantile(df) == pytest.approx(table, abs=1e-5)


def test_interval_ignores_diverged_seeds():
    got = interval(np.array([1.0, 2.0, 3.0, np.nan]))
    half = 4.302653 * 1.0 / np.sqrt(3)  # t(2) * sd / sqrt(n), sd = 1
    assert got["n"] == 3 and got["mean"] == 2.0
    assert got["lo"] == pytest.approx(2.0 - half, abs=1e-6)
    assert got["hi"] == pytest.approx(2.0 + half, abs=1e-6)


def test_in_process_study_does_not_import_ray():
    code = (
        "import sys; from core.study import StudyScenario, compute_study; "
        "compute_study(StudyScenario.parse('seeds=2&steps=3&n=40&width=3')); "
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "RAY_ADDRESS"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr


def test_cli_study_prints_per_seed_and_summary(capsys):
    assert cli.main(["study", "seeds=3&steps=10&n=40&width=4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["seeds"] == [0, 1, 2] and out["opts"] == ["adamw", "lion"]
    gaps = out["per_seed"]["adamw"]["gap"]
    assert np.shape(gaps) == (3, 1)
    mean = out["summary"]["0.01"]["adamw"]["gap"]["mean"]
    assert mean == pytest.approx(np.mean(gaps))
    diff = out["summary"]["0.01"]["lion - adamw"]["gap"]["mean"]
    paired = np.array(out["per_seed"]["lion"]["gap"]) - np.array(gaps)
    assert diff == pytest.approx(paired.mean())


@pytest.mark.parametrize(
    "query, key, words",
    [
        ("seeds=300", "seeds", "out of range"),
        ("seeds=1", "seeds", "out of range"),
        ("opts=adamw,adamw", "opts", "two different"),
        ("opts=adamw,sgd", "opts", "not one of"),
        ("lrs=0.1,0.2,0.3,0.4,0.5", "lrs", "1 to 4"),
        ("seeds=64&steps=1000", "steps", "would take about"),
        ("n=20&width=64&depth=4&steps=200&seeds=8", "steps", "runs per chunk"),
        ("n=20&width=1&depth=1&seeds=256&lrs=0.1,0.2,0.3,0.4&steps=1000", "steps", "curves"),
    ],
)
def test_bad_study_queries(query, key, words, capsys):
    assert words in refusal(StudyScenario, query, key)
    assert cli.main(["study", query]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_study_url_round_trip():
    s = StudyScenario.parse("opts=hb,adam&lrs=0.05,0.01&seeds=12&steps=50&data=circles")
    assert StudyScenario.parse(s.to_query()) == s


def test_a_ray_address_without_ray_is_one_clear_error(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert cli.main(["study", "seeds=2&steps=2&n=40&width=3", "--ray", "auto"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "requirements-ray.txt" in err


def test_study_h_R_is_at_the_runs_step_lion_is_not_defined_and_the_json_warns(capsys):
    """Issue 17, findings 2 and 3: heavy ball's h R at the end is C(n)/W(n) of its limit
    (the defining sums of THEORY §5 at n = steps - 1); exact-sign Lion's h R is null, its
    interval empty; the JSON carries the list of warnings the page shows."""
    query = "opts=hb,lion&seeds=3&steps=10&n=40&width=4"
    assert cli.main(["study", query]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 9
    b, n = 0.7, 9  # heavy ball's default beta
    W = [sum(b**k for k in range(m + 1)) for m in range(n + 1)]
    T = [sum(b**k for k in range(j, n + 1)) for j in range(n + 1)]
    share = sum(W[m] * T[n - m] for m in range(n)) / W[n] / (b / (1 - b) ** 2)
    hb = out["per_seed"]["hb"]
    np.testing.assert_allclose(
        np.array(hb["hR_final"]), share * np.array(hb["hR_limit_final"]), rtol=1e-12
    )
    lion = out["per_seed"]["lion"]
    for metric in ("hR_final", "hR_mean", "hR_limit_final", "hR_limit_mean"):
        assert lion[metric] == [[None]] * 3
        for entry in ("lion", "lion - hb"):
            assert out["summary"]["0.01"][entry][metric] == {
                "mean": None,
                "lo": None,
                "hi": None,
                "n": 0,
            }
    warnings = out["warnings"]
    assert warnings == study_warnings(compute_study(StudyScenario.parse(query)))
    assert any(w.startswith("Lion: non-smooth update") for w in warnings)
    finite_n = any(w.startswith("Heavy ball (SGD momentum): finite n") for w in warnings)
    assert finite_n == (abs(share - 1) > 0.1)  # the 2D card's rule, on h R against its limit
