"""What the pages and the CLI *say* about the numbers (issue 7): verdicts read from R with
their regimes, the perturbed loss at the run's own n, honest order diagnostics, exact-sign
Lion, an integrated R that says when it is noise, the theory document, one record per
optimizer.  Every expected value comes from a closed form or an independent computation."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path

import independent
import numpy as np
import pytest
import torch

from core import cli
from core.analyses import compute, network
from core.analyses.order import diagnose
from core.analyses.regularizer import SETTLED_MEMORIES, potential_warnings, verdict
from core.analyses.surfaces import preconditioner
from core.engine.autodiff import grad_and_hvp
from core.engine.dynamics import asymptotic_fields, simulate
from core.engine.registry import RECORDS, _psi1, _psi2, longest_memory, make_optimizer
from core.models.datasets import make_dataset
from core.models.losses import batched
from core.models.mlp import MLP
from core.models.training import data_loss
from core.scenarios import report
from core.scenarios.network_scenario import PRESETS, NetworkScenario, dataset, model
from core.scenarios.report import network_json
from core.scenarios.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
ADAM_EPS10 = "opt=adam&eps=10&loss=custom&f=0.005*(x^2%2By^2)%2B0.002*sin(3*x)"


def cli_json(capsys, *args) -> dict:
    assert cli.main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def grid_gradient(s: Scenario) -> np.ndarray:
    x = torch.linspace(s.win[0], s.win[1], s.grid, dtype=torch.float64)
    y = torch.linspace(s.win[2], s.win[3], s.grid, dtype=torch.float64)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    pts = torch.stack([xx.ravel(), yy.ravel()], -1).requires_grad_(True)
    (g,) = torch.autograd.grad(batched(s.expression)(pts).sum(), pts)
    return g.numpy()


# --- finding 1: verdicts read from R, with eps and the regimes -----------------------


def test_adam_with_a_large_eps_regularizes_as_its_field_says(capsys):
    """Gradients below the crossover eps c1/(c2-c1): Adam's field coefficient
    c1 - c2|g|/(|g|+eps) is positive at every grid point, so R regularizes."""
    s = Scenario.parse(ADAM_EPS10)
    a = np.abs(grid_gradient(s))
    c1, c2 = 0.9 / 0.1, 0.999 / 0.001
    assert (c1 - c2 * a / (a + 10.0) > 0).all()  # independent: the sign of the field
    out = cli_json(capsys, "regularizer", ADAM_EPS10)
    assert out["effect"] == "regularizes" and out["positive_fraction"] > 0.9
    assert out["crossover"] == pytest.approx(10 * c1 / (c2 - c1))
    large = next(f for f in out["forms"] if "≫" in f["regime"])
    assert large["inside_fraction"] == 0.0  # the -990 ||g||_1 form does not hold here


def test_equal_betas_are_not_called_no_effect(capsys):
    """b1 = b2: c1 - c2 = 0 kills the |g| >> eps form, yet M is not zero."""
    q = ADAM_EPS10 + "&b2=0.9"
    out = cli_json(capsys, "regularizer", q)
    assert out["effect"] == "regularizes"
    # the field's coefficient c1 - c2|g|/(|g|+eps) = c1 eps/(|g|+eps) > 0 when c1 = c2
    assert np.abs(compute.surfaces(Scenario.parse(q)).correction).max() > 0
    out = cli_json(capsys, "regularizer", "opt=adam&b2=0.9&grid=40")
    assert out["effect"] != "none"


def test_network_smooth_adamw_preset_regularizes():
    """eps = 1 and gradients ~1e-3: the field M/P is aligned with the gradient of
    c1 (||g||^2/(2 eps) + wd (theta.g - L)), a regularizer (the engine's M against a
    closed form built from Hessian-vector products)."""
    s = NetworkScenario.parse(PRESETS["AdamW, smooth regime (THEORY §6)"] + "&steps=30")
    out = network_json(s)
    assert out["regularizer"]["effect"] == "regularizes"
    assert "≪" in out["regularizer"]["regime"] and out["regularizer"]["in_regime"]
    data, mlp = dataset(s), model(s)
    x, y = (torch.as_tensor(a, dtype=torch.float64) for a in (data.x_train, data.y_train))
    loss = data_loss(mlp, data.task, x, y)
    theta = torch.as_tensor(network.result(s).final["memory"])[None]
    opt = make_optimizer("adamw", **s.hyper)
    g, _, M, _ = asymptotic_fields(loss, opt, theta)
    field = M / preconditioner(opt, g)
    _, hvp = grad_and_hvp(loss, theta)
    target = 1.0 * hvp(g / s.eps + s.wd * theta)  # c1 = 0.5/(1-0.5) = 1
    cos = float((field * target).sum() / (field.norm() * target.norm()))
    assert cos > 0.99


def test_verdict_thresholds():
    assert verdict(np.r_[np.ones(95), -np.ones(5)]).effect == "regularizes"
    assert verdict(np.r_[np.ones(5), -np.ones(95)]).effect == "anti-regularizes"
    assert verdict(np.r_[np.ones(50), -np.ones(50)]).effect == "mixed"
    assert verdict(np.zeros(10)).effect == "none"
    assert verdict(np.full(10, 1e-15), scale=1.0).effect == "none"


# --- finding 2: the perturbed loss at the run's own n ---------------------------------


def _k_moment(b: float, n: int) -> float:
    """sum_{k=1..n} k w(n, k) for a bias-corrected EMA (THEORY §2, §7b)."""
    k = np.arange(n + 1)
    w = (1 - b) * b**k / (1 - b ** (n + 1))
    return float((k * w).sum())


@pytest.mark.parametrize("steps", [100, 1000])
def test_default_adam_R_comes_from_the_runs_own_step(steps):
    """|g| >> eps: M^(n)/P = (m1(n) - m2(n)) H sign(g), the limit has c1 - c2, so the
    field at step n is the fraction (m1 - m2)/(c1 - c2) of the limit everywhere."""
    s = Scenario.parse(f"opt=adam&steps={steps}&grid=30")
    surf = compute.surfaces(s)
    n = steps - 1
    expected = (_k_moment(0.9, n) - _k_moment(0.999, n)) / (9 - 999)
    assert surf.n == n
    assert surf.limit_fraction == pytest.approx(expected, rel=0.02)
    assert abs(expected - (0.04 if steps == 100 else 0.41)) < 0.01  # the numbers
    limit = compute.surfaces(s.updated(rn="inf"))
    assert limit.n is None and limit.limit_fraction == 1.0
    assert np.ptp(surf.R) == pytest.approx(expected * np.ptp(limit.R), rel=0.05)


def test_cli_regularizer_reports_n_and_the_limit_choice(capsys):
    out = cli_json(capsys, "regularizer", "opt=adam&grid=30")
    assert out["n"] == 99 and not out["in_regime"]  # 4% of the limit: not the closed form
    assert any("finite n" in w for w in out["warnings"])
    out = cli_json(capsys, "regularizer", "opt=adam&grid=30&rn=inf")
    assert out["n"] == "inf" and out["in_regime"] and out["effect"] == "anti-regularizes"
    assert set(out) >= {
        "formula",
        "regime",
        "in_regime",
        "n",
        "positive_fraction",
        "effect",
        "residual",
        "warnings",
    }


@pytest.mark.parametrize("query", ["opt=adam&eps=oops", "opt=nope", "grid=5", "bogus=1"])
def test_cli_regularizer_bad_input_is_one_line_and_exit_2(query, capsys):
    assert cli.main(["regularizer", query]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1


# --- finding 3: honest order diagnostics ---------------------------------------------


def test_order_with_a_diverging_corrected_run_is_not_asymptotic(capsys):
    out = cli_json(
        capsys,
        "order",
        "opt=hb&b1=0.4&loss=beale&x0=-1&y0=1.5",
        "--h",
        "0.02,0.01,0.005,0.0025,0.00125",
        "--horizon",
        "1",
    )
    assert out["corrected"][1] is None  # diverged at h = 0.01
    assert out["asymptotic"][:3] == [False, False, False]  # error 3.4 at h = 0.02
    assert any(w.startswith("divergence") for w in out["warnings"])
    assert out["fitted_rows"] < 5


def test_order_with_errors_of_the_runs_size_warns(capsys):
    out = cli_json(
        capsys,
        "order",
        "opt=lion&b1=0.6&b2=0.8&eps=1&loss=rosenbrock&x0=-1&y0=1.5",
        "--h",
        "0.02,0.01,0.005,0.0025,0.00125",
        "--horizon",
        "1",
    )
    big = [e is not None and e > 0.5 for e in out["corrected"]]
    assert not any(a for a, b in zip(out["asymptotic"], big, strict=True) if b)
    assert any("pre-asymptotic" in w for w in out["warnings"])
    assert any("corrected no better" in w for w in out["warnings"])


def test_diagnose_accepts_clean_orders_and_rejects_unsettled_slopes():
    h = np.array([0.04, 0.02, 0.01, 0.005])
    fitted, next_h, warnings = diagnose(h, h**2, h, np.ones(4), {})
    assert fitted.all() and not next_h and not warnings
    climbing = 0.01 * 2.0 ** -np.cumsum([0, 1.2, 1.5, 1.8])  # slopes 1.2, 1.5, 1.8
    fitted, next_h, warnings = diagnose(h, climbing, h * 0.5, np.ones(4), {})
    assert not fitted.any() and any("not asymptotic" in w for w in warnings)
    assert next_h == (0.0025, 0.00125)
    fitted, _, warnings = diagnose(h, h**2, h, np.ones(4), {}, smooth=False)
    assert fitted.all() and any("non-smooth" in w for w in warnings)


def test_simulate_json_warns_when_corrected_is_farther(capsys):
    out = cli_json(capsys, "simulate", "opt=adam&steps=100")
    assert any("corrected run is farther" in w for w in out["warnings"])
    assert "warnings" in cli_json(capsys, "network", "steps=5&n=40&width=4")


# --- finding 4: defaults that demonstrate the theorem ----------------------------------


def test_theory_default_shows_the_orders():
    st = compute.order(Scenario())
    assert st.fit_corrected >= 1.8 and abs(st.fit_memoryless - 1) < 0.1
    assert st.fit_rows >= 3


def test_playground_default_corrected_is_closer():
    summary = compute.summary(Scenario())
    assert summary.gap_corrected < summary.gap_memoryless


# --- finding 5: Lion -----------------------------------------------------------------


def test_exact_sign_lion_memory_changes_the_run_by_order_one():
    """Computed with the engine's memory and memoryless runs only (M plays no part):
    on sharp_flat the two end in different wells, so "no correction" is not "no effect"."""
    s = Scenario.parse("opt=lion&loss=sharp_flat&steps=300")
    run = simulate(batched(s.expression), make_optimizer("lion"), compute.start(s), s.lr, 300)
    memory, memoryless = run.memory[-1, 0], run.memoryless[-1, 0]
    assert (memory - memoryless).norm() > 1.0
    out = json.loads(json.dumps(report.simulate_json(s)))
    assert any("non-smooth" in w for w in out["warnings"])


def test_lion_family_shrinks_with_eps():
    base = Scenario.parse("opt=lion&loss=reference&grid=30&rn=inf")
    sizes = [np.ptp(compute.surfaces(base.updated(eps=e)).R) for e in (1.0, 0.1, 0.01)]
    assert sizes[0] > sizes[1] > sizes[2] > 0


def test_network_compare_text_follows_the_numbers():
    from core.analyses.network import compare, compare_text
    from core.scenarios.network_scenario import CompareScenario

    rows = compare(CompareScenario.parse("steps=10&n=60&width=6"))
    text = compare_text(rows)
    order = sorted(rows, key=lambda r: r.gap)
    gaps = text.split("generalization gaps on this run: ")[1]
    positions = [gaps.index(RECORDS[r.opt].label) for r in order]
    assert positions == sorted(positions)
    assert "sharp minima" not in text and "Lion's does not" not in text


# --- finding 6: an integrated R that says when it is noise -----------------------------


def test_lion_tiny_eps_sign_is_not_resolved(capsys):
    out = cli_json(capsys, "regularizer", "opt=lion&eps=1e-6&loss=rosenbrock")
    assert out["sign_agreement_half_grid"] < 0.9
    assert out["effect"] == "mixed"
    assert any("sign not resolved" in w for w in out["warnings"])


def test_adam_kinks_are_discretization_not_a_non_gradient_part(capsys):
    out = cli_json(capsys, "regularizer", "opt=adam&rn=inf")
    assert 0.01 < out["residual"] < out["residual_half_grid"]
    assert "discretization" in out["residual_note"] and "non-gradient" not in out["residual_note"]
    finer = compute.surfaces(Scenario.parse("opt=adam&rn=inf&grid=120"))
    assert finer.residual < out["residual"]  # it shrinks under refinement indeed


# --- finding 7: the theory in the repository -----------------------------------------


def _sections() -> set[int]:
    text = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    return {int(m) for m in re.findall(r"^## (\d+)\. ", text, flags=re.M)}


def test_every_theory_citation_points_to_a_section():
    sections = _sections()
    assert set(range(1, 14)) <= sections
    cited = set()
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("app_pages/*.py")]:
        for ref in re.findall(r"THEORY(?:\.md)? (§[\d\-§, ]+)", path.read_text(encoding="utf-8")):
            cited |= {int(n) for n in re.findall(r"\d+", ref)}
    assert cited and cited <= sections


def test_theory_document_states_the_heavy_ball_modified_equation_and_assumptions():
    text = (ROOT / "docs" / "theory.md").read_text(encoding="utf-8")
    assert "h (1 + beta)/(4 (1 - beta)^2) ||g||^2" in text
    assert "h/(1 - beta)" in text and "eps c1/(c2 - c1)" in text
    assert "assumptions" in text and "exact sign" in text


# --- one record per optimizer ----------------------------------------------------------


def test_nothing_outside_the_records_switches_on_optimizer_names():
    """No optimizer's name in a comparison or a membership test (opt == "adam",
    x in ("adam", ...)) nor as a dict's key ({"adamw": ...}: a fact kept beside the
    record) outside the records; page defaults (constant("hb")) and data are fine.  The
    paper's experiments (paper.py, what shows them, and its JSON in report.py) run the
    optimizers the paper names and key their arms by them."""
    names = "|".join(RECORDS)
    quoted = rf"""["']({names})["']"""
    pattern = re.compile(
        rf"""(?<!for )\b\w+\s*(==|!=|\bin)\s*[(\[{{]?\s*{quoted}"""  # comparison, membership
        rf"""|{quoted}\s*:\s"""  # a dict's key
        rf"""|\w\[{quoted}\]"""  # a lookup by name
    )
    offenders = []
    for path in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("app_pages/*.py")]:
        if path.name in ("registry.py", "optimizers.py", "paper.py", "paper_plots.py", "report.py"):
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{i}: {line.strip()}")
    assert not offenders, offenders


def test_adam_potential_integrates_its_field_coefficient():
    """Psi(a) = int_0^a (c1 - c2 u/(u+eps)) u/(u+eps) du, by quadrature."""
    for a, eps in ((1e-4, 1.0), (0.5, 1.0), (30.0, 0.1)):
        u = np.linspace(0, a, 200001)
        p1 = np.trapezoid(u / (u + eps), u)
        p2 = np.trapezoid((u / (u + eps)) ** 2, u)
        at = torch.tensor([a], dtype=torch.float64)
        assert float(_psi1(at, eps)) == pytest.approx(p1, rel=1e-6)
        assert float(_psi2(at, eps)) == pytest.approx(p2, rel=1e-6)


def separable(t: torch.Tensor) -> torch.Tensor:
    """A loss with a diagonal Hessian everywhere, three coordinates."""
    return 0.5 * t[..., 0] ** 2 + 0.25 * t[..., 1] ** 4 + torch.log(torch.cosh(2 * t[..., 2]))


def field_of_the_potential(opt: str, hyper: dict, loss, theta: torch.Tensor, n):
    """grad R^(n) at theta (d,) by autograd through the record's potential."""
    t = theta.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(t[None]).sum(), t, create_graph=True)
    R = RECORDS[opt].perturbation(hyper, loss(t[None]), g[None], t[None], n)
    (grad_R,) = torch.autograd.grad(R.sum(), t)
    return grad_R


def defining_field(update, loss, theta: torch.Tensor, n: int, approximate: bool):
    """M^(n)/P^(n) from THEORY §1 (tests/independent.py: brute-force Jacobians of the
    plain recursion), P^(n) = Fbar^(n)/g; approximate: S_k = k Fbar^(n) in place of the
    sum of Fbar^(b) over b = n-k..n-1, the one approximation THEORY §9 states."""
    fbar, M = independent.brute_force_fields(update, theta, n)
    if approximate:
        history = tuple(theta.detach().clone() for _ in range(n + 1))
        jac = torch.autograd.functional.jacobian(lambda *h: update(list(h)), history)
        M = sum(jac[n - k] @ (k * fbar) for k in range(1, n + 1))
    t = theta.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss(t[None]).sum(), t)
    return M / (fbar / g)


NETWORK_DATA = make_dataset("moons", 12, 0.1, 0.0, 4)
TINY = MLP(2, 2, 1, "tanh")  # 9 parameters, a full (not diagonal) Hessian
TINY_LOSS = data_loss(
    TINY,
    "classification",
    torch.as_tensor(NETWORK_DATA.x_train),
    torch.as_tensor(NETWORK_DATA.y_train),
)
SEPARABLE_POINT = torch.tensor([0.7, -0.9, 0.2], dtype=torch.float64)


@pytest.mark.parametrize(
    "opt, hyper, loss, approximate",
    [  # heavy ball and Nesterov: R^(n) = C(n)/(2 W(n)) ||g||^2 for any Hessian (THEORY §5)
        ("hb", {"b1": 0.8}, TINY_LOSS, False),
        ("nesterov", {"b1": 0.7}, TINY_LOSS, False),
        # W(n) constant: exact where the Hessian is diagonal
        ("adam", {"b1": 0.8, "b2": 0.9, "eps": 0.3}, separable, False),
        # W(n) grows with n: S_k = k Fbar^(n) (THEORY §9)
        ("rmsprop", {"b2": 0.8, "eps": 0.3}, separable, True),
        ("lion", {"b1": 0.8, "b2": 0.7, "eps": 0.4, "wd": 0.0}, separable, True),
    ],
)
@pytest.mark.parametrize("n", [1, 3, 8])
def test_network_perturbation_at_step_n_is_the_potential_of_M_n(opt, hyper, loss, approximate, n):
    """Issue 17, finding 2: h R on networks comes from M^(n) at the run's own n: its
    gradient is M^(n)/P^(n) of the defining formula (THEORY §1-§2, §5)."""
    theta = TINY.init(5) if loss is TINY_LOSS else SEPARABLE_POINT
    update = partial(independent.UPDATES[opt], independent.gradient_of(loss), **hyper)
    expected = defining_field(update, loss, theta, n, approximate)
    got = field_of_the_potential(opt, hyper, loss, theta, n)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "opt, hyper",
    [("rmsprop", {"b2": 0.5, "eps": 0.3}), ("lion", {"b1": 0.8, "b2": 0.5, "eps": 0.4, "wd": 0.0})],
)
def test_approximate_sums_are_said_until_they_settle(opt, hyper):
    """RMSProp's and Lion's W(b) grow with b: S_k = k Fbar^(n) is off early (the warning
    says so) and exact once the memory has settled (no warning)."""
    update = partial(independent.UPDATES[opt], independent.gradient_of(separable), **hyper)
    settled = round(SETTLED_MEMORIES * longest_memory(opt, hyper)[1])

    def error(n: int) -> float:
        exact = defining_field(update, separable, SEPARABLE_POINT, n, False).detach()
        got = field_of_the_potential(opt, hyper, separable, SEPARABLE_POINT, n)
        return float((got - exact).norm() / exact.norm())

    assert error(2) > 0.05 and potential_warnings(opt, hyper, 2)
    assert error(settled) < 1e-4 and not potential_warnings(opt, hyper, settled)


# --- the pages say it --------------------------------------------------------------


def _open(page: str, query: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.query_params.update(dict(p.split("=", 1) for p in query.split("&")))
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _texts(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "info", "warning") for e in at.get(kind)]
    return " ".join(str(p) for p in parts)


@pytest.mark.parametrize("page", ["playground", "compare"])
def test_2d_pages_explain_a_farther_corrected_run(page):
    """Default Adam at h = 0.02: the corrected run ends farther (0.93 against 0.57)."""
    at = _open(page, "v=1&opt=adam&cmp=adam,hb&grid=20")
    assert any("farther" in i.value for i in at.info)


def test_playground_card_states_regimes_crossover_and_n():
    at = _open("playground", "v=1&opt=adam&eps=10&loss=custom&f=0.005*(x^2+y^2)&grid=20")
    text = _texts(at)
    assert ":green-badge[regularizes]" in text
    assert "the view is outside it" in text and "εc₁/(c₂ − c₁)" in text
    assert "step n = 99" in text and "memory 1/(1−β)" in text


def test_playground_card_checks_lions_form_and_says_the_grid_error():
    """The issue's separable Lion with wd = 2 (grid 60): both Lion forms are outside the
    view (0% of the window), the integrated R's grid error is stated beside its residual
    and said to matter (above 5%); without weight decay R is the closed form, inside."""
    query = "v=1&opt=lion&eps=0.01&wd=2&lr=0.01&loss=custom&f=0.5*x^2+2*y^2&rn=inf"
    s = Scenario.parse(query.replace("+", "%2B"))
    surf, rep = compute.surfaces(s), compute.regularizer(s)
    text = _texts(_open("playground", query))
    assert text.count("holds on 0% of the window · ✗ the view is outside it") == 2
    assert f"grid error ≈ {surf.grid_error:.1%} of R's range" in text
    assert f"residual {rep.residual:.2g}" in text and "above 5%, it matters" in text
    assert any(w.startswith("grid error") for w in rep.warnings) and surf.grid_error > 0.05
    assert "No closed form describes this view" in text
    text = _texts(_open("playground", query.replace("wd=2", "wd=0")))
    assert "holds on 100% of the window · ✓ the view is inside it" in text
    assert "R: closed form" in text and "grid error" not in text
    assert ":green-badge[regularizes]" in text


def test_about_renders_the_theory_document():
    at = _open("about", "v=1")
    titles = [e.label for e in at.get("expander")]
    assert any("Heavy ball: the modified equation" in t for t in titles)
    assert any("assumptions" in t for t in titles)


def test_longest_memory_is_the_largest_beta_of_the_record():
    from core.engine.registry import longest_memory

    beta, steps = longest_memory("adam", {"b1": 0.9, "b2": 0.999, "eps": 1e-8})
    assert beta == 0.999 and steps == pytest.approx(1000.0)
    assert longest_memory("gd", {}) == (0.0, 1.0)  # no memory: one step
