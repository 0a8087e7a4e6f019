"""/about: the formulas, the conventions and the references; the whole theory
(docs/theory.md, cited as THEORY §n) rendered section by section at the end."""

from pathlib import Path

import streamlit as st

from ui import layout

THEORY = Path(__file__).resolve().parent.parent / "docs" / "theory.md"

st.title("About & formulas")
st.caption(
    "A summary with formulas; the full theory, with every regime and assumption, is "
    "docs/theory.md, rendered at the end of this page (the code cites it as THEORY §n)."
)

st.header("Memoryless approximation with a memory correction")
st.markdown("An algorithm with memory updates")
st.latex(r"\theta_{n+1} = \theta_n - h\,F^{(n)}(\theta_n, \theta_{n-1}, \dots, \theta_0).")
st.markdown(
    "Replacing every past iterate by the current one gives "
    r"$\bar F^{(n)}(\theta) = F^{(n)}(\theta, \dots, \theta)$; a first-order Taylor "
    "expansion in the past arguments adds the correction:"
)
st.latex(
    r"\tilde\theta_{n+1} = \tilde\theta_n - h\left[\bar F^{(n)}(\tilde\theta_n)"
    r" + h\,M^{(n)}(\tilde\theta_n)\right],"
)
st.latex(
    r"M^{(n)}(\theta) = \sum_{k=1}^{n} \partial_k F^{(n)}(\theta,\dots,\theta)\,S_k(\theta),"
    r"\qquad S_k(\theta) = \sum_{b=n-k}^{n-1} \bar F^{(b)}(\theta)."
)
st.markdown(
    r"Over a horizon $T$ ($n \le T/h$): $\max_n |\theta_n - \tilde\theta_n| = O(h^2)$ "
    r"with the correction and $O(h)$ without it, once $T/h \gtrsim 20/(1-\beta_{\max})$."
)

st.header("Asymptotic correction (n → ∞)")
st.markdown(
    r"With $c_1 = \beta_1/(1-\beta_1)$, $c_2 = \beta_2/(1-\beta_2)$, $g = \nabla L$, "
    r"$H = \nabla^2 L$:"
)
st.markdown(layout.limit_table())

st.header("The correction as a perturbation of the loss")
st.markdown(
    r"Writing the memoryless step as $\bar F = P g\,(+\lambda\theta)$ with a diagonal "
    r"preconditioner $P$, the corrected step is $P(g + h\nabla R)$: the memoryless "
    r"algorithm descends $\tilde L = L + hR$ with $\nabla R = M/P$."
)
st.markdown(layout.perturbation_table())
st.markdown(
    "Where no closed form holds on the whole plane, the app integrates the field M/P on "
    "the grid (least squares, a Neumann Poisson solve) and reports the relative size of "
    "its non-gradient part next to the surface."
)
st.markdown(
    "For comparison, GD's own discretization drift (not a memory effect): GD with step h "
    "follows the gradient flow of"
)
st.latex(r"L + \tfrac{h}{4}\lVert\nabla L\rVert^2 \quad\text{(Barrett \& Dherin 2021)}.")

st.header("Conventions")
st.markdown(
    "- Update rules are PyTorch's: `SGD(momentum=β, dampening=0)` for heavy ball "
    "(`nesterov=True` for Nesterov), `RMSprop(alpha=β₂)` without momentum, `Adam` and "
    "`AdamW` with bias correction and ε outside the square root, decoupled weight decay; "
    "Lion as in Chen et al. (2023), with the smoothed sign c/√(c²+ε) (ε = 0: exact sign).\n"
    "- Everything runs in float64 on the CPU with torch; the correction M is one "
    "forward-mode JVP with a Hessian-vector product.\n"
    "- Every setting lives in the URL: a copied link reproduces the figures exactly. "
    "Add `teach=1` for teaching mode (no sidebar, larger plots).\n"
    "- The same query strings drive the command line: `python -m core simulate 'QUERY'`."
)

st.header("References")
st.markdown(
    "- M. D. Cattaneo, B. Shigida. *How Memory in Optimization Algorithms Implicitly "
    "Modifies the Loss.* NeurIPS 2025. [arXiv:2502.02132](https://arxiv.org/abs/2502.02132)\n"
    "- D. G. T. Barrett, B. Dherin. *Implicit Gradient Regularization.* ICLR 2021.\n"
    "- A. Ghosh, H. Lyu, X. Zhang, R. Wang. *Implicit regularization in Heavy-ball "
    "momentum accelerated stochastic gradient descent.* ICLR 2023.\n"
    "- M. D. Cattaneo, J. M. Klusowski, B. Shigida. *On the Implicit Bias of Adam.* "
    "ICML 2024.\n"
    "- X. Chen et al. *Symbolic Discovery of Optimization Algorithms* (Lion). NeurIPS 2023."
)

st.header("The theory in full")
sections = THEORY.read_text(encoding="utf-8").split("\n## ")
st.markdown(sections[0].split("\n", 1)[1])  # the introduction, without the title
for section in sections[1:]:
    title, body = section.split("\n", 1)
    with st.expander(f"§ {title}" if title[0].isdigit() else title):
        st.markdown(body)
