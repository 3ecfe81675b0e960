"""walker: Walker et al. 2016, "An Uncertain Future": a conditional VAE over dense trajectories."""
