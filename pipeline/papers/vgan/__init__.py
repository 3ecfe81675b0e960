"""vgan: Vondrick, Pirsiavash & Torralba 2016, "Generating Videos with Scene Dynamics"."""
