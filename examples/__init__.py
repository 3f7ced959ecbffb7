"""Example material: the tiny model kit that generates test and registry artifacts."""
