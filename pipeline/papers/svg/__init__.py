"""svg: Denton & Fergus 2018, "Stochastic Video Generation with a Learned Prior"."""
