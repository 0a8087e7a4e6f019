"""The analyses a page shows: the perturbed loss and its verdict, surfaces, order studies,
sweeps, studies over seeds, networks and the paper's experiments."""
