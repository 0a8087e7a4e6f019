"""How memory in an optimizer implicitly modifies the loss (Cattaneo & Shigida 2025).

A pure library (torch + numpy): optimizers declared by their memory (optimizers), one
record per optimizer with its hyperparameters, closed forms and words (registry), the
memory / memoryless / corrected dynamics derived from a declaration (dynamics), losses
(losses, expression), surfaces and perturbed losses (surfaces), verdicts read from R
(regularizer), the order study and its diagnostics (order), scenarios with a URL round
trip (scenario), and the CLI (python -m core).  The theory: docs/theory.md.

No global settings: every tensor is made with an explicit dtype (float64 for 2D work).
"""
