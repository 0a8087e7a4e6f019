"""How memory in an optimizer implicitly modifies the loss (Cattaneo & Shigida 2025).

A pure library (torch + numpy): optimizers declared by their memory (optimizers), the
memory / memoryless / corrected dynamics derived from a declaration (dynamics), losses
(losses, expression), surfaces and perturbed losses (surfaces), the order study (order),
scenarios with a URL round trip (scenario), and the CLI (python -m core).

No global settings: every tensor is made with an explicit dtype (float64 for 2D work).
"""
