"""vgan: Vondrick, Pirsiavash, Torralba (NIPS 2016), generating videos with scene dynamics."""
