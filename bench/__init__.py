"""The benchmark suite (`make bench`): the real platform under load, measured against baselines of the same run."""
