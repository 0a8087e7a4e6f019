"""Losses, data and models: the 2D losses and their exact derivatives, the data sets, the
small networks and their training loss."""
